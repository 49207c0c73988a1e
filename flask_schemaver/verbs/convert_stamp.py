"""``split-multidb --stamp``: each bind database placed in its new chain.

Where Flask-Migrate's ``alembic_version`` puts a database, the plan of
:mod:`.convert` says where that is in the bind's new chain: the nearest kept
revision at or below it. Every database is read and every place worked out before
anything is written; then each bind is stamped under its migration lock, with a
history row, and Flask-Migrate's record is removed once no bind keeps its version in
it. Running it again changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic import command

from ..binds import database_identity
from ..binds import FLASK_MIGRATE_TABLE
from ..exceptions import MigrationError
from ..exceptions import UsageError
from ..options import RunOptions
from ..results import SplitStamp
from ..runtime import connections
from ..runtime import environment
from ..runtime import history
from ..runtime import versions
from ..runtime.errors import translate_errors
from ..script import files as revision_files
from ..script import split
from .runs import locked
from .tracking import Tracker

if TYPE_CHECKING:
    from ..binds import Bind
    from ..options import WaitCallback
    from ..settings import Settings
    from .convert import Conversion

_COMMAND = "flask db split-multidb"


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
    # Only now: binds that share a database may have read the same record.
    for bind in binds.values():
        stamps[bind.name].removed = _drop_old_table(
            bind, binds.values(), settings, on_wait
        )
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
    with locked(bind, settings, on_wait) as connection:
        if bind.history:
            history.ensure(bind, connection)
        old_now = versions.flask_migrate_rows(connection)
        # Ends the reads, so that the stamp starts on a clean session.
        before = environment.current_heads(bind, connection)
        if same_table:
            # Its own record is Flask-Migrate's: the place is worked out from what it
            # holds now, under the lock (an upgrade may have moved it since).
            target = conversion.plan.position(bind.name, before)
        elif old_now not in ((), position.old):
            raise MigrationError(
                "Flask-Migrate's alembic_version changed while the databases were "
                f"read (it was at {', '.join(position.old) or 'nothing'}); run "
                f"'{_COMMAND} --stamp' again",
                bind.name,
            )
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
            if entry is not None and entry.checksum == revision_files.checksum(
                path or ""
            ):
                continue
            history.write(
                bind,
                connection,
                revision=revision,
                direction="stamp",
                path=path,
                seconds=None,
            )


def _drop_old_table(
    bind: Bind,
    everyone: Iterable[Bind],
    settings: Settings,
    on_wait: WaitCallback | None,
) -> bool:
    """Drop Flask-Migrate's alembic_version from the bind's database, under the bind's
    lock, unless a bind of the app keeps its version there; True when this call
    dropped it. Another process dropping it first is not an error."""
    here = database_identity(bind.engine)
    if any(
        (b.version_table_schema, b.version_table) == (None, FLASK_MIGRATE_TABLE)
        and database_identity(b.engine) == here
        for b in everyone
    ):
        return False
    with locked(bind, settings, on_wait) as connection:
        if not sa.inspect(connection).has_table(FLASK_MIGRATE_TABLE):
            return False
        try:
            sa.Table(FLASK_MIGRATE_TABLE, sa.MetaData()).drop(connection)
            connection.commit()
        except sa.exc.SQLAlchemyError:
            connection.rollback()
            if sa.inspect(connection).has_table(FLASK_MIGRATE_TABLE):
                raise
            return False
    return True
