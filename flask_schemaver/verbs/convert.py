"""``flask db split-multidb``: a Flask-Migrate ``--multidb`` folder and its databases
turned into one chain per bind.

:func:`split_multidb` finds the chain and plans the split (the dry run);
:func:`write` rewrites the folders, keeping the original as a backup;
:mod:`.convert_stamp` records each bind database's place in its new chain. Once the
folder is converted, the plan is made again from the backup, with the same ids and
the ``--engine`` names recorded there, so that ``--stamp`` can run on every
deployment the converted folder is shipped to.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..binds import DEFAULT
from ..exceptions import MigrationError
from ..exceptions import UsageError
from ..results import SplitBind
from ..results import SplitResult
from ..results import SplitRevision
from ..results import SplitStamp
from ..script import split
from ..script.files import _revision_files
from ..script.multidb import describe_files
from ..script.multidb import per_engine_files
from ..script.multidb import read_shared_chain

if TYPE_CHECKING:
    from ..binds import Bind

#: What the backup of the default bind's folder is called, beside it.
BACKUP_SUFFIX = ".multidb-backup"
#: The file in the backup that records the ``--engine`` names the split used.
ENGINES_FILE = "split-multidb.json"


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
        recorded = None
    if not isinstance(recorded, dict):
        return dict(given)  # no record (removed by hand?): the names given count
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
    if conversion.converted:
        raise UsageError(
            f"the folder is converted already; the multidb revisions are kept in "
            f"{conversion.backup}"
        )
    try:
        _write(conversion, root)
    except OSError as exc:
        where = exc.filename or root
        raise MigrationError(
            f"{where}: {exc.strerror or exc}; nothing was converted: check that the "
            "migrations folder can be written to"
        ) from exc


def _write(conversion: Conversion, root: Path) -> None:
    plan = conversion.plan
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
