"""Upgrade, downgrade and stamp on one bind: under its lock, one transaction per
revision, each step recorded in the bind's history and reported as it is committed."""

from __future__ import annotations

import io
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from contextlib import nullcontext
from typing import Any
from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from ..exceptions import Interrupted
from ..exceptions import MigrationError
from ..exceptions import SchemaVerError
from ..exceptions import UsageError
from ..options import RunOptions
from ..results import RunResult
from ..runtime import connections
from ..runtime import environment
from ..runtime import history
from ..runtime import locking
from ..runtime.collecting import fewer_collections
from ..runtime.errors import partly_applied
from ..runtime.errors import translate_errors
from . import preflight
from .tracking import Tracker

if TYPE_CHECKING:
    from ..binds import Bind
    from ..options import WaitCallback
    from ..results import Step
    from ..results import Verb
    from ..script.graph import RevisionGraph
    from ..settings import Settings

_COMMANDS: dict[str, Callable[..., None]] = {
    "upgrade": command.upgrade,
    "downgrade": command.downgrade,
    "stamp": command.stamp,
}


def run(bind: Bind, settings: Settings, options: RunOptions) -> RunResult:
    """Run ``options.verb`` to ``options.revision`` on the bind's database.

    Ctrl-C (or a signal turned into :class:`KeyboardInterrupt`) becomes
    :class:`~flask_schemaver.exceptions.Interrupted`, naming the revision it stopped.
    """
    preflight.check_arguments(bind, settings, options)
    tracker = Tracker(bind, options)
    try:
        with fewer_collections():
            return _run(bind, settings, options, tracker)
    except KeyboardInterrupt:
        error = _interrupted(bind, tracker)
        _name_leftovers(bind, error)
        raise error from None


def _interrupted(bind: Bind, tracker: Tracker) -> Interrupted:
    running = tracker.describe_running()
    if running is None:
        message = "interrupted before its next revision started"
    elif bind.transactional_ddl:
        message = f"interrupted during the {running[1]}; {_what_stays(tracker)}"
    else:
        message = (
            f"interrupted during the {running[1]}; {partly_applied(bind, running[0])}"
        )
    applied = [s.revision for s in tracker.committed]
    if applied:
        message += f" (applied before: {', '.join(applied)})"
    return Interrupted(message, bind.name, running[0] if running else None)


def _what_stays(tracker: Tracker) -> str:
    """What an interrupt left of the running revision, where DDL is transactional:
    nothing, unless the revision commits part of its work itself."""
    if not tracker.commits_part_way():
        return "it was rolled back"
    stays = "what it committed in its autocommit block, and before it, stays"
    report = tracker.backfilled
    if report is None:
        return f"{stays}; check the database before running it again"
    return (
        f"{stays}: its backfill of {report.table} is at {report.done:,} of "
        f"{report.total:,} rows, and running the upgrade again continues it"
    )


def _run(
    bind: Bind, settings: Settings, options: RunOptions, tracker: Tracker
) -> RunResult:
    """The run itself, its arguments checked."""

    def configure(**extra: Any) -> Config:
        return environment.make_config(
            bind,
            settings,
            x_args=options.x_args,
            on_version_apply=tracker.applied,
            on_step_start=tracker.start,
            on_progress=tracker.progress,
            **extra,
        )

    if options.sql:
        return _offline(bind, options, tracker, configure)
    # Read once: the files do not change until Alembic runs them.
    scripts = environment.revision_graph(bind, settings)
    if bind.tenant is None:
        # Before the lock too, so that a bind with nothing to do is never locked. A
        # fleet's tenants are read together beforehand, then once under the lock.
        before = environment.current_heads(bind, strict=not options.purge)
        preflight.check_start(bind, scripts, options, before)
        if preflight.at_target(bind, scripts, options, before):
            return RunResult(bind.name, before, before, note="nothing to do")
    try:
        with locked(
            bind, settings, options.on_wait, tracker.describe_running
        ) as connection:
            return _online(bind, options, tracker, configure, connection, scripts)
    except SchemaVerError as exc:
        _name_leftovers(bind, exc)
        raise


@contextmanager
def locked(
    bind: Bind,
    settings: Settings,
    on_wait: WaitCallback | None,
    running: Callable[[], tuple[str, str] | None] | None = None,
) -> Iterator[sa.Connection]:
    """A connection to the bind's database, set up to migrate, holding its lock;
    errors name the bind (and the revision ``running`` tells of)."""
    with (
        translate_errors(bind, running),
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


def _refuse_unfinished(bind: Bind, connection: sa.Connection) -> None:
    """Refuse to run after an interrupted revision whose DDL may be half there."""
    unfinished = history.read_all(bind, connection).unfinished
    connection.commit()
    if not unfinished:
        return
    first = unfinished[0]
    raise MigrationError(
        f"the {first.describe()}, never finished, and {bind.dialect} commits DDL "
        "statement by statement: part of it may be in the database; check the "
        "schema, then record what is there with 'flask db resolve --bind "
        f"{bind.selector} {first.revision} --applied' (all of it) or '--rolled-back' "
        "(none of it)",
        bind.name,
    )


def resolve(
    bind: Bind,
    settings: Settings,
    revision: str,
    *,
    applied: bool,
    on_wait: WaitCallback | None = None,
) -> RunResult:
    """Record what an interrupted run of ``revision`` left in the database: all of its
    changes (``applied``), or none; under the bind's lock, as Flyway's repair does."""
    if not bind.history:
        raise UsageError(
            f"bind {bind.name!r} keeps no history (its 'history' option is off), so it "
            "has no unfinished runs to resolve",
            bind.name,
        )
    tracker = Tracker(bind, RunOptions("stamp", revision))
    with locked(bind, settings, on_wait, tracker.describe_running) as connection:
        history.ensure(bind, connection)
        run = _unfinished_run(bind, connection, revision)
        before = environment.current_heads(bind, connection)
        if applied:
            config = environment.make_config(
                bind, settings, connection=connection, on_version_apply=tracker.applied
            )
            target = run.revision if run.is_upgrade else _parents(bind, settings, run)
            environment.run_online(command.stamp, config, target)
        else:
            history.write(
                bind,
                connection,
                revision=run.revision,
                direction="rolled-back",
                path=None,
                seconds=None,
            )
            connection.commit()
        after = environment.current_heads(bind, connection)
    outcome = "applied" if applied else "rolled back"
    return RunResult(
        bind.name, before, after, tracker.steps, note=f"{run.describe()}: {outcome}"
    )


def _unfinished_run(
    bind: Bind, connection: sa.Connection, revision: str
) -> history.Unfinished:
    unfinished = history.read_all(bind, connection).unfinished
    connection.commit()
    found = [u for u in unfinished if u.revision.startswith(revision)]
    if len(found) == 1:
        return found[0]
    known = ", ".join(u.revision for u in unfinished) or "none"
    raise UsageError(
        f"{revision!r} names {'several' if found else 'no'} unfinished run(s) of bind "
        f"{bind.name!r}; its unfinished runs: {known}",
        bind.name,
    )


def _parents(bind: Bind, settings: Settings, run: history.Unfinished) -> Any:
    """Where a finished downgrade of ``run.revision`` leaves the version table."""
    [script] = environment.revision_graph(bind, settings).get_revisions(run.revision)
    down = script.down_revision
    return down if down else "base"


def _name_leftovers(bind: Bind, error: SchemaVerError) -> None:
    """Add to ``error`` the batch-mode tables a failed revision left behind, which
    would make the next run fail: only DDL that escaped its transaction leaves any."""
    try:
        with connections.connect(bind) as connection:
            names = sa.inspect(connection).get_table_names(
                schema=bind.version_table_schema
            )
    except sa.exc.SQLAlchemyError:
        return
    left = sorted(n for n in names if n.startswith("_alembic_tmp_"))
    if not left:
        return
    # Batch mode copies a table, drops it, renames the copy: where the original is
    # gone, the copy holds the only rows.
    orphans = [n for n in left if n.removeprefix("_alembic_tmp_") not in names]
    if orphans:
        advice = (
            f"{', '.join(orphans)} hold(s) the only copy of the rows: rename each back "
            "to its table's name (without _alembic_tmp_) before running it again"
        )
    else:
        advice = "drop them before running it again"
    error.message += (
        f"; the revision left behind the table(s) {', '.join(left)} from batch mode: "
        + advice
    )
    error.args = (error.message,)


def _offline(
    bind: Bind,
    options: RunOptions,
    tracker: Tracker,
    configure: Callable[..., Config],
) -> RunResult:
    buffer = io.StringIO()
    with translate_errors(bind, tracker.describe_running):
        _COMMANDS[options.verb](
            configure(output_buffer=buffer), options.revision, **_keywords(options)
        )
    tracker.finished()
    return RunResult(bind.name, (), (), tracker.steps, sql=buffer.getvalue())


def _online(
    bind: Bind,
    options: RunOptions,
    tracker: Tracker,
    configure: Callable[..., Config],
    connection: sa.Connection,
    scripts: RevisionGraph,
) -> RunResult:
    """The run itself, on ``connection``, once the bind's lock is held."""
    prepare(bind, connection, options.verb)
    # Another process may have migrated the bind while this one waited.
    before = environment.current_heads(bind, connection, strict=not options.purge)
    if bind.tenant is not None:
        preflight.check_start(bind, scripts, options, before)
    if preflight.at_target(bind, scripts, options, before):
        meanwhile = "" if bind.tenant else ": another process migrated it meanwhile"
        return RunResult(bind.name, before, before, note=f"nothing to do{meanwhile}")
    keywords = _keywords(options)
    del keywords["sql"]
    # From empty, Alembic's own read makes its version table in the first
    # revision's transaction, which a failure then rolls back with the rest.
    known = before or None
    with tracker.attached(connection):
        environment.run_online(
            _COMMANDS[options.verb],
            configure(connection=connection, known_heads=known),
            options.revision,
            **keywords,
        )
    tracker.finished()
    after = _walked(before, tracker.steps)
    if after is None:
        after = environment.current_heads(bind, connection)
    return RunResult(bind.name, before, after, tracker.steps)


def _walked(before: tuple[str, ...], steps: list[Step]) -> tuple[str, ...] | None:
    """Where ``steps``, each starting where the one before it ended, left a database
    that was at ``before`` with at most one head; None when that is not so plain (the
    version table then says)."""
    place = before
    for step in steps:
        if step.source != place or len(step.destination) > 1:
            return None
        place = step.destination
    return place if len(before) <= 1 else None


def prepare(bind: Bind, connection: sa.Connection, verb: Verb) -> None:
    """Make the bind's history table, and refuse to run after an interrupted revision
    where DDL commits as it runs; once the lock is held."""
    if bind.history:
        history.ensure(bind, connection)
        # Only where DDL commits as it runs are starts recorded; stamp stays the way
        # to repair by hand.
        if not bind.transactional_ddl and verb != "stamp":
            _refuse_unfinished(bind, connection)


def _keywords(options: RunOptions) -> dict[str, Any]:
    """The keyword arguments of Alembic's command for ``options``."""
    keywords: dict[str, Any] = {"sql": options.sql, "tag": options.tag}
    if options.verb == "stamp":
        keywords["purge"] = options.purge
    return keywords
