"""Upgrade, downgrade and stamp on one bind: under its lock, one transaction per
revision, each step recorded in the bind's history and reported as it is committed."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any
from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from .. import dialects
from ..exceptions import Interrupted
from ..exceptions import SchemaVerError
from ..results import RunResult
from ..results import Step
from ..runtime import environment
from ..runtime import history
from ..runtime import locking
from ..runtime.errors import translate_errors
from . import preflight

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext
    from alembic.runtime.migration import MigrationInfo

    from ..binds import Bind
    from ..options import RunOptions
    from ..results import Direction
    from ..script.graph import RevisionGraph
    from ..settings import Settings

_COMMANDS: dict[str, Callable[..., None]] = {
    "upgrade": command.upgrade,
    "downgrade": command.downgrade,
    "stamp": command.stamp,
}


class _Tracker:
    """Follows the steps of one run: which is running, how long each took, and which
    are committed but not yet reported.

    A step is handed to ``on_step`` only once its transaction is committed, so that
    nothing a caller does with it (printing, say) can change its outcome.
    """

    def __init__(self, bind: Bind, options: RunOptions) -> None:
        self.bind = bind
        self.options = options
        # With a transaction per migration, a step is committed when the next starts.
        self.per_migration = bool(bind.context_options.get("transaction_per_migration"))
        self.steps: list[Step] = []
        self.unreported: list[Step] = []
        self.running: MigrationInfo | None = None
        self.started = time.perf_counter()

    def start(self, info: MigrationInfo) -> None:
        if self.per_migration:
            self.report()
            self.running = None  # committed
        if self.options.on_start is not None:
            # May stop the run (a worker told to stop): before the step, not in it.
            self.options.on_start(_step(self.bind, info, 0.0))
        self.running = info
        self.started = time.perf_counter()

    def applied(self, *, ctx: MigrationContext, step: MigrationInfo, **_: Any) -> None:
        """Alembic's ``on_version_apply``: inside the step's transaction."""
        done = _step(self.bind, step, time.perf_counter() - self.started)
        script: Any = step.up_revision
        if self.bind.history and not ctx.as_sql and script is not None:
            # In the migration's own transaction: the row exists when the step does.
            history.write(
                self.bind,
                ctx.connection,  # type: ignore[arg-type]
                revision=done.revision,
                direction=_direction(done),
                path=script.path,
                seconds=done.seconds,
            )
        self.steps.append(done)
        self.unreported.append(done)

    @property
    def committed(self) -> list[Step]:
        """The steps known to be committed: all but those not yet reported."""
        return self.steps[: len(self.steps) - len(self.unreported)]

    def finished(self) -> None:
        """The run is over and committed: nothing is running."""
        self.running = None
        self.report()

    def report(self) -> None:
        """Hand the committed steps not yet reported to ``on_step``."""
        committed, self.unreported = self.unreported, []
        if self.options.on_step is not None:
            for step in committed:
                self.options.on_step(step)

    def describe_running(self) -> tuple[str, str] | None:
        """The revision that was running: its id, and e.g. ``upgrade of revision 1a2b
        ('add email')``."""
        info = self.running
        if info is None:
            return None
        script: Any = info.up_revision
        if script is None:
            return None
        if info.is_stamp:
            verb = "stamp"
        else:
            verb = "upgrade" if info.is_upgrade else "downgrade"
        return script.revision, f"{verb} of revision {script.revision} ({script.doc!r})"


def _step(bind: Bind, info: MigrationInfo, seconds: float) -> Step:
    script: Any = info.up_revision
    return Step(
        bind=bind.name,
        source=tuple(info.source_revision_ids),
        destination=tuple(info.destination_revision_ids),
        revision=script.revision if script is not None else "",
        message=(script.doc or "") if script is not None else "",
        is_upgrade=info.is_upgrade,
        is_stamp=info.is_stamp,
        seconds=seconds,
    )


def _direction(step: Step) -> Direction:
    if step.is_stamp:
        # Stamping down vouches for nothing: only stamps up count as applied.
        return "stamp" if step.is_upgrade else "stamp-down"
    return "upgrade" if step.is_upgrade else "downgrade"


def run(bind: Bind, settings: Settings, options: RunOptions) -> RunResult:
    """Run ``options.verb`` to ``options.revision`` on the bind's database.

    Ctrl-C (or a signal turned into :class:`KeyboardInterrupt`) becomes
    :class:`~flask_schemaver.exceptions.Interrupted`, naming the revision it stopped.
    """
    preflight.check_arguments(bind, settings, options)
    tracker = _Tracker(bind, options)
    try:
        return _run(bind, settings, options, tracker)
    except KeyboardInterrupt:
        error = _interrupted(bind, tracker)
        _name_leftovers(bind, error)
        raise error from None


def _interrupted(bind: Bind, tracker: _Tracker) -> Interrupted:
    running = tracker.describe_running()
    if running is None:
        message = "interrupted before its next revision started"
    elif bind.transactional_ddl:
        message = f"interrupted during the {running[1]}; it was rolled back"
    else:
        message = (
            f"interrupted during the {running[1]}; {bind.dialect} commits DDL "
            "statement by statement: it may have left part of its changes behind; "
            "check the schema before running it again"
        )
    applied = [s.revision for s in tracker.committed]
    if applied:
        message += f" (applied before: {', '.join(applied)})"
    return Interrupted(message, bind.name, running[0] if running else None)


def _run(
    bind: Bind, settings: Settings, options: RunOptions, tracker: _Tracker
) -> RunResult:
    """The run itself, its arguments checked."""

    def configure(**extra: Any) -> Config:
        return environment.make_config(
            bind,
            settings,
            x_args=options.x_args,
            on_version_apply=tracker.applied,
            on_step_start=tracker.start,
            **extra,
        )

    if options.sql:
        return _offline(bind, options, tracker, configure)
    before = environment.current_heads(bind)
    # Read once: the files do not change until Alembic runs them.
    scripts = environment.revision_graph(bind, settings)
    preflight.check_start(bind, scripts, options, before)
    if preflight.at_target(bind, scripts, options, before):
        return RunResult(bind.name, before, before, note="nothing to do")
    try:
        with (
            translate_errors(bind, tracker.describe_running),
            bind.engine.connect() as connection,
            dialects.of(bind).migrating(connection),
        ):
            guard = (
                locking.hold(
                    bind,
                    connection,
                    timeout=settings.lock_timeout,
                    on_wait=options.on_wait,
                )
                if bind.lock
                else nullcontext()
            )
            with guard:
                return _online(bind, options, tracker, configure, connection, scripts)
    except SchemaVerError as exc:
        _name_leftovers(bind, exc)
        raise


def _name_leftovers(bind: Bind, error: SchemaVerError) -> None:
    """Add to ``error`` the batch-mode tables a failed revision left behind, which
    would make the next run fail: only DDL that escaped its transaction leaves any."""
    try:
        with bind.engine.connect() as connection:
            names = sa.inspect(connection).get_table_names(
                schema=bind.version_table_schema
            )
    except sa.exc.SQLAlchemyError:
        return
    left = sorted(n for n in names if n.startswith("_alembic_tmp_"))
    if left:
        error.message += (
            f"; the revision left behind the table(s) {', '.join(left)} from batch "
            "mode: drop them before running it again"
        )
        error.args = (error.message,)


def _offline(
    bind: Bind,
    options: RunOptions,
    tracker: _Tracker,
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
    tracker: _Tracker,
    configure: Callable[..., Config],
    connection: sa.Connection,
    scripts: RevisionGraph,
) -> RunResult:
    """The run itself, on ``connection``, once the bind's lock is held."""
    if bind.history:
        history.ensure(bind, connection)
    # Another process may have migrated the bind while this one waited.
    before = environment.current_heads(bind, connection)
    if preflight.at_target(bind, scripts, options, before):
        return RunResult(
            bind.name,
            before,
            before,
            note="nothing to do: another process migrated it meanwhile",
        )
    keywords = _keywords(options)
    del keywords["sql"]
    environment.run_online(
        _COMMANDS[options.verb],
        configure(connection=connection),
        options.revision,
        **keywords,
    )
    tracker.finished()
    after = environment.current_heads(bind, connection)
    return RunResult(bind.name, before, after, tracker.steps)


def _keywords(options: RunOptions) -> dict[str, Any]:
    """The keyword arguments of Alembic's command for ``options``."""
    keywords: dict[str, Any] = {"sql": options.sql, "tag": options.tag}
    if options.verb == "stamp":
        keywords["purge"] = options.purge
    return keywords
