"""``flask db split-multidb``: a Flask-Migrate ``--multidb`` folder and its databases
turned into one chain per bind.

:func:`split_multidb` finds the chain and plans the split (the dry run);
:func:`write` rewrites the folders, keeping the original as a backup; :func:`stamp`
records each bind database's place in its new chain, under the bind's lock. Once
the folder is converted, the plan is made again from the backup, with the same ids
and the ``--engine`` names recorded there, so that ``--stamp`` can run on every
deployment the converted folder is shipped to.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from contextlib import contextmanager
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic import command

from ..binds import database_identity
from ..binds import DEFAULT
from ..binds import FLASK_MIGRATE_TABLE
from ..exceptions import MigrationError
from ..exceptions import UsageError
from ..options import RunOptions
from ..results import SplitBind
from ..results import SplitResult
from ..results import SplitRevision
from ..results import SplitStamp
from ..runtime import connections
from ..runtime import environment
from ..runtime import history
from ..runtime import locking
from ..runtime import versions
from ..runtime.errors import translate_errors
from ..script import split
from ..script.files import _revision_files
from ..script.multidb import describe_files
from ..script.multidb import per_engine_files
from ..script.multidb import read_shared_chain
from .tracking import Tracker

if TYPE_CHECKING:
    from ..binds import Bind
    from ..options import WaitCallback
    from ..settings import Settings

#: What the backup of the default bind's folder is called, beside it.
BACKUP_SUFFIX = ".multidb-backup"
#: The file in the backup that records the ``--engine`` names the split used.
ENGINES_FILE = "split-multidb.json"
_COMMAND = "flask db split-multidb"


@dataclass
class Conversion:
    """A multidb project: its plan, and whether its folder is converted already."""

    plan: split.SplitPlan
    #: Where the multidb revisions are: the default bind's folder, or once
    #: converted, the backup.
    folder: Path
    backup: Path
    converted: bool
    #: The engine names mapped to binds (``--engine``), as the split used them.
    engines: dict[str, str | None]


def backup_of(binds: Mapping[str, Bind]) -> Path | None:
    """Where the default bind's folder is kept once converted; None for an app
    without a default bind."""
    if DEFAULT not in binds:
        return None
    folder = binds[DEFAULT].directory
    return folder.with_name(folder.name + BACKUP_SUFFIX)


def split_multidb(
    binds: Mapping[str, Bind], engines: Mapping[str, str | None]
) -> Conversion:
    """Find the project's multidb chain and plan its split; nothing is changed."""
    backup = backup_of(binds)
    if backup is None:
        raise MigrationError(
            "the app has no default bind, where Flask-Migrate keeps a --multidb "
            "chain: nothing to convert"
        )
    default = binds[DEFAULT].directory
    others = [b for b in binds.values() if b.name != DEFAULT]
    for bind in others:
        found = per_engine_files(bind.directory)
        if found:
            raise MigrationError(
                f"{bind.directory} holds Flask-Migrate --multidb revisions "
                f"({describe_files(found)}); the converter reads them from the "
                f"default bind's folder {default}, where Flask-Migrate keeps them",
                bind.name,
            )
    current = per_engine_files(default)
    if current and backup.exists():
        raise MigrationError(
            f"both {default} (multidb revisions) and {backup} exist: a conversion "
            f"was interrupted; move {backup} away and convert again"
        )
    converted = not current
    if converted and not per_engine_files(backup):
        raise MigrationError(
            f"{default} holds no Flask-Migrate --multidb revisions (upgrade() taking "
            "engine_name), and there is no backup of a converted one at "
            f"{backup}: nothing to convert"
        )
    if converted:
        engines = _recorded_engines(backup, engines)
    else:
        _refuse_written_folders(others)
    folder = backup if converted else default
    chain = read_shared_chain(folder)
    plan = split.plan(chain, {b.name: b.directory for b in binds.values()}, engines)
    if converted:
        _check_written(plan, backup)
    return Conversion(plan, folder, backup, converted, dict(engines))


def _recorded_engines(
    backup: Path, given: Mapping[str, str | None]
) -> dict[str, str | None]:
    """The ``--engine`` names the folder was converted with; given ones must match."""
    try:
        recorded = json.loads((backup / ENGINES_FILE).read_text())["engines"]
    except (OSError, ValueError, KeyError, TypeError):
        recorded = {}
    if not isinstance(recorded, dict):
        recorded = {}
    if given and dict(given) != recorded:
        shown = " ".join(f"--engine {e}={b or ''}" for e, b in recorded.items())
        raise UsageError(
            f"the folder was converted with {shown or 'no --engine'}; give the same "
            "(or none) to plan, stamp or verify it"
        )
    return recorded


def _refuse_written_folders(binds: list[Bind]) -> None:
    """Refuse to convert into a bind folder that holds revisions already."""
    for bind in binds:
        try:
            files = _revision_files(bind.directory)
        except OSError:
            files = []
        if files:
            raise MigrationError(
                f"{bind.directory} holds revision files already "
                f"({describe_files([p for _, p in files])}); the converter writes "
                "the bind's new chain there: move them away first",
                bind.name,
            )


def _check_written(plan: split.SplitPlan, backup: Path) -> None:
    """A converted project must hold the files the plan names (the converter of this
    version, from this backup)."""
    missing = [f.path for b in plan.binds for f in b.files if not f.path.is_file()]
    if missing:
        raise MigrationError(
            f"the converted folders lack {len(missing)} file(s) that converting "
            f"{backup} gives ({describe_files([str(p) for p in missing])}); restore "
            f"them, or move {backup} back in place of the folder and convert again"
        )


def result(
    conversion: Conversion,
    *,
    written: bool = False,
    stamps: Mapping[str, SplitStamp] | None = None,
    verified: Mapping[str, int] | None = None,
) -> SplitResult:
    """The conversion as the API returns it."""
    plan = conversion.plan
    stamps = stamps or {}
    return SplitResult(
        folder=str(conversion.backup if written else conversion.folder),
        backup=str(conversion.backup),
        converted=conversion.converted or written,
        written=written,
        stamped=bool(stamps),
        verified=verified is not None,
        decisions=list(plan.decisions),
        binds=[
            SplitBind(
                bind=b.bind,
                engine=b.engine,
                directory=str(b.directory),
                revisions=[
                    SplitRevision(
                        id=f.revision,
                        original=f.original,
                        down_revisions=f.down_revisions,
                        depends_on=f.depends_on,
                        message=f.message,
                        path=str(f.path),
                        works=f.works,
                    )
                    for f in b.files
                ],
                decisions=list(b.decisions),
                stamp=stamps.get(b.bind),
                tables=verified.get(b.bind) if verified is not None else None,
            )
            for b in plan.binds
        ],
    )


# -- writing ----------------------------------------------------------------------------


def write(conversion: Conversion, root: Path) -> None:
    """Write every bind's new chain; the default bind's old folder becomes the backup,
    with the ``--engine`` names recorded in it.

    Everything is written to a folder of its own under ``root`` first, then moved
    into place, so that a failure leaves the project as it was.
    """
    plan = conversion.plan
    if conversion.converted:
        raise UsageError(
            f"the folder is converted already; the multidb revisions are kept in "
            f"{conversion.backup}"
        )
    staging = Path(tempfile.mkdtemp(prefix=".split-multidb-", dir=root))
    try:
        for number, bind in enumerate(plan.binds):
            place = staging / str(number)
            place.mkdir()
            for planned in bind.files:
                (place / planned.path.name).write_text(planned.text, encoding="utf-8")
        (staging / ENGINES_FILE).write_text(
            json.dumps({"engines": conversion.engines}, indent=2) + "\n"
        )
        _copy_other_files(plan.binds[0].directory, staging / "0")
        _move_into_place(plan, staging, conversion.backup)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _copy_other_files(source: Path, target: Path) -> None:
    """What the default folder holds beside revision files (an ``__init__.py``, a
    README), copied to its new version."""
    revisions = {name for name, _ in _revision_files(source)}
    for entry in os.scandir(source):
        if entry.is_file() and entry.name not in revisions:
            shutil.copy2(entry.path, target / entry.name)


def _move_into_place(plan: split.SplitPlan, staging: Path, backup: Path) -> None:
    default = plan.binds[0].directory
    os.rename(default, backup)
    moved: list[Path] = []
    try:
        os.rename(staging / ENGINES_FILE, backup / ENGINES_FILE)
        os.rename(staging / "0", default)
        for number, bind in enumerate(plan.binds[1:], start=1):
            place = staging / str(number)
            if bind.directory.is_dir():
                for path in sorted(place.iterdir()):
                    os.rename(path, bind.directory / path.name)
                    moved.append(bind.directory / path.name)
            else:
                bind.directory.parent.mkdir(parents=True, exist_ok=True)
                os.rename(place, bind.directory)
                moved.append(bind.directory)
    except OSError:
        for path in reversed(moved):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
        if default.exists():
            shutil.rmtree(default)
        (backup / ENGINES_FILE).unlink(missing_ok=True)
        os.rename(backup, default)
        raise


# -- stamping ---------------------------------------------------------------------------


@dataclass
class _Position:
    bind: Bind
    #: What Flask-Migrate's alembic_version holds.
    old: tuple[str, ...]
    #: Where that is in the bind's new chain.
    new: tuple[str, ...]
    #: Whether the database has Flask-Migrate's alembic_version at all.
    recorded: bool


def stamp(
    conversion: Conversion,
    binds: Mapping[str, Bind],
    settings: Settings,
    on_wait: WaitCallback | None = None,
) -> dict[str, SplitStamp]:
    """Record each bind database's place in its new chain, from Flask-Migrate's
    ``alembic_version``, and remove that record; every database is read and every
    place worked out before anything is written."""
    if not conversion.converted:
        raise UsageError(
            "--stamp records places in the converted chains: convert the folder "
            f"first ('{_COMMAND} --write', then ship it), or pass --write too"
        )
    positions = [_position(conversion.plan, b) for b in binds.values()]
    _refuse_out_of_step(conversion.plan, positions)
    stamps = {p.bind.name: _stamp(p, conversion, settings, on_wait) for p in positions}
    for bind in binds.values():
        stamps[bind.name].removed = _drop_old_table(bind, binds.values())
    return stamps


def _position(plan: split.SplitPlan, bind: Bind) -> _Position:
    with translate_errors(bind), connections.connect(bind) as connection:
        recorded = sa.inspect(connection).has_table(FLASK_MIGRATE_TABLE)
        old = versions.flask_migrate_rows(connection) if recorded else ()
    return _Position(bind, old, plan.position(bind.name, old), recorded)


def _refuse_out_of_step(plan: split.SplitPlan, positions: list[_Position]) -> None:
    """Flask-Migrate moves every database together: one database on another branch
    than another means something else moved them, and the mapping would be a guess."""
    placed = [p for p in positions if p.old]
    for i, one in enumerate(placed):
        for other in placed[i + 1 :]:
            a, b = one.old[0], other.old[0]
            if a == b or a in plan.ancestors[b] or b in plan.ancestors[a]:
                continue
            raise MigrationError(
                f"the databases are out of step: bind {one.bind.name!r} is at {a} and "
                f"bind {other.bind.name!r} at {b}, on different branches of "
                f"{plan.chain.directory}, which Flask-Migrate's multidb upgrade never "
                "leaves; bring them to one revision (or one line) under Flask-Migrate "
                "first, or stamp the binds by hand"
            )


def _stamp(
    position: _Position,
    conversion: Conversion,
    settings: Settings,
    on_wait: WaitCallback | None,
) -> SplitStamp:
    """Stamp one bind at its place, under its lock, with a history row."""
    bind, target = position.bind, position.new
    same_table = (bind.version_table_schema, bind.version_table) == (
        None,
        FLASK_MIGRATE_TABLE,
    )
    with _locked(bind, settings, on_wait) as connection:
        if bind.history:
            history.ensure(bind, connection)
        before = environment.current_heads(bind, connection)
        if before and not position.recorded:
            # Flask-Migrate's record is gone: stamped before (or never migrated by it).
            return SplitStamp((), before, before, note="already stamped")
        if before == target:
            _vouch(bind, conversion, connection, target)
            if not target:
                note = "none of its revisions applied"
            else:
                note = "kept" if same_table else "already in place"
            return SplitStamp(position.old, before, before, note=note)
        if before and not same_table:
            raise MigrationError(
                f"its version table {bind.version_table!r} holds "
                f"{', '.join(before)}, but Flask-Migrate's alembic_version "
                f"({', '.join(position.old) or 'empty'}) places it at "
                f"{', '.join(target) or 'base'}; stamp the bind by hand",
                bind.name,
            )
        _run_stamp(bind, settings, connection, target[0] if target else "base")
        after = environment.current_heads(bind, connection)
    return SplitStamp(position.old, before, after, note="stamped")


def _run_stamp(
    bind: Bind, settings: Settings, connection: sa.Connection, target: str
) -> None:
    """Alembic's stamp to ``target``, replacing what the version table holds; each
    step recorded in the history."""
    tracker = Tracker(bind, RunOptions("stamp", target))
    tracker.connection = connection
    config = environment.make_config(
        bind, settings, connection=connection, on_version_apply=tracker.applied
    )
    with translate_errors(bind):
        environment.run_online(command.stamp, config, target, purge=True)
    tracker.finished()


def _vouch(
    bind: Bind, conversion: Conversion, connection: sa.Connection, at: tuple[str, ...]
) -> None:
    """A history row for the revisions the database stays at, with the converted
    file's checksum, unless the history has that already."""
    if not bind.history or not at:
        return
    paths = {
        f.revision: str(f.path)
        for b in conversion.plan.binds
        if b.bind == bind.name
        for f in b.files
    }
    known = history.read(bind, connection)
    connection.commit()
    with connection.begin():
        for revision in at:
            entry, path = known.get(revision), paths.get(revision)
            if entry is not None and entry.checksum == history.checksum(path or ""):
                continue
            history.write(
                bind,
                connection,
                revision=revision,
                direction="stamp",
                path=path,
                seconds=None,
            )


@contextmanager
def _locked(
    bind: Bind, settings: Settings, on_wait: WaitCallback | None
) -> Iterator[sa.Connection]:
    """A connection to the bind's database, set up to migrate, holding its lock."""
    with (
        translate_errors(bind),
        connections.migrating(bind, settings) as connection,
    ):
        guard = (
            locking.hold(
                bind, connection, timeout=settings.lock_timeout, on_wait=on_wait
            )
            if bind.lock
            else nullcontext()
        )
        with guard:
            yield connection


def _drop_old_table(bind: Bind, everyone: Iterable[Bind]) -> bool:
    """Drop Flask-Migrate's alembic_version from the bind's database once no bind of
    the app keeps its version there; True when it was dropped."""
    here = database_identity(bind.engine)
    if any(
        (b.version_table_schema, b.version_table) == (None, FLASK_MIGRATE_TABLE)
        and database_identity(b.engine) == here
        for b in everyone
    ):
        return False
    with translate_errors(bind), connections.connect(bind) as connection:
        if not sa.inspect(connection).has_table(FLASK_MIGRATE_TABLE):
            return False
        sa.Table(FLASK_MIGRATE_TABLE, sa.MetaData()).drop(connection)
        connection.commit()
    return True
