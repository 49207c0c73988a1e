"""The verbs that change a bind: its database (upgrade, downgrade, stamp) or its
revision files (revision, merge, init). Each works on one bind and returns data.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Sequence
from contextlib import nullcontext
from contextlib import redirect_stdout
from typing import Any
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from alembic.util import rev_id as random_rev_id

from . import checks
from . import environment
from . import history
from . import locking
from .alembic_errors import translate_errors
from .locking import WaitCallback
from .results import Revision
from .results import RevisionResult
from .results import RunResult
from .results import Step

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext
    from alembic.runtime.migration import MigrationInfo

    from .binds import Bind
    from .settings import Settings

StepCallback = Callable[[Step], None]


def upgrade(
    bind: Bind,
    settings: Settings,
    revision: str = "heads",
    *,
    sql: bool = False,
    tag: str | None = None,
    x_args: Sequence[str] = (),
    on_step: StepCallback | None = None,
    on_wait: WaitCallback | None = None,
) -> RunResult:
    """Upgrade the bind's database to ``revision``."""
    return _run(
        command.upgrade,
        bind,
        settings,
        revision,
        sql,
        x_args,
        on_step,
        on_wait,
        tag=tag,
    )


def downgrade(
    bind: Bind,
    settings: Settings,
    revision: str,
    *,
    sql: bool = False,
    tag: str | None = None,
    x_args: Sequence[str] = (),
    on_step: StepCallback | None = None,
    on_wait: WaitCallback | None = None,
) -> RunResult:
    """Downgrade the bind's database to ``revision``."""
    return _run(
        command.downgrade,
        bind,
        settings,
        revision,
        sql,
        x_args,
        on_step,
        on_wait,
        tag=tag,
    )


def stamp(
    bind: Bind,
    settings: Settings,
    revision: str,
    *,
    sql: bool = False,
    tag: str | None = None,
    purge: bool = False,
    x_args: Sequence[str] = (),
    on_step: StepCallback | None = None,
    on_wait: WaitCallback | None = None,
) -> RunResult:
    """Set the bind's version table to ``revision`` without running any migration."""
    return _run(
        command.stamp,
        bind,
        settings,
        revision,
        sql,
        x_args,
        on_step,
        on_wait,
        tag=tag,
        purge=purge,
    )


class _Tracker:
    """Follows the steps of one run: which is running, how long each took."""

    def __init__(self, bind: Bind, on_step: StepCallback | None) -> None:
        self.bind = bind
        self.on_step = on_step
        self.steps: list[Step] = []
        self.running: MigrationInfo | None = None
        self.started = time.perf_counter()

    def start(self, info: MigrationInfo) -> None:
        self.running = info
        self.started = time.perf_counter()

    def applied(self, *, ctx: MigrationContext, step: MigrationInfo, **_: Any) -> None:
        script: Any = step.up_revision
        done = Step(
            bind=self.bind.name,
            source=tuple(step.source_revision_ids),
            destination=tuple(step.destination_revision_ids),
            revision=script.revision if script is not None else "",
            message=(script.doc or "") if script is not None else "",
            is_upgrade=step.is_upgrade,
            is_stamp=step.is_stamp,
            seconds=time.perf_counter() - self.started,
        )
        self.running = None
        if self.bind.history and not ctx.as_sql and script is not None:
            # In the migration's own transaction: the row exists when the step does.
            if done.is_stamp:
                # Stamping down vouches for nothing: only stamps up count as applied.
                direction = "stamp" if done.is_upgrade else "stamp-down"
            else:
                direction = "upgrade" if done.is_upgrade else "downgrade"
            history.write(
                self.bind,
                ctx.connection,  # type: ignore[arg-type]
                revision=done.revision,
                direction=direction,
                path=script.path,
                seconds=done.seconds,
            )
        self.steps.append(done)
        if self.on_step is not None:
            self.on_step(done)

    def describe_running(self) -> tuple[str, str] | None:
        """The revision that was running: its id, and e.g. ``upgrade of revision 1a2b
        ('add email')``."""
        info = self.running
        if info is None:
            return None
        script: Any = info.up_revision
        if script is None:
            return None
        verb = "upgrade" if info.is_upgrade else "downgrade"
        return script.revision, f"{verb} of revision {script.revision} ({script.doc!r})"


def _run(
    alembic_command: Callable[..., None],
    bind: Bind,
    settings: Settings,
    revision: str,
    sql: bool,
    x_args: Sequence[str],
    on_step: StepCallback | None,
    on_wait: WaitCallback | None = None,
    **kwargs: Any,
) -> RunResult:
    verb = alembic_command.__name__
    purge = bool(kwargs.get("purge"))
    checks.check_arguments(verb, bind, settings, revision, sql=sql, purge=purge)
    tracker = _Tracker(bind, on_step)
    errors = translate_errors(bind, tracker.describe_running)

    def configure(**options: Any) -> Config:
        return environment.make_config(
            bind,
            settings,
            x_args=x_args,
            on_version_apply=tracker.applied,
            on_step_start=tracker.start,
            **options,
        )

    if sql:
        buffer = io.StringIO()
        with errors:
            alembic_command(
                configure(output_buffer=buffer), revision, sql=True, **kwargs
            )
        return RunResult(bind.name, (), (), tracker.steps, sql=buffer.getvalue())

    before = environment.current_heads(bind)
    # Read once: the files do not change until Alembic runs them.
    scripts = environment.revision_graph(bind, settings)
    checks.check_start(verb, bind, scripts, revision, before, purge)
    if checks.at_target(verb, bind, scripts, revision, before, purge):
        return RunResult(bind.name, before, before, note="nothing to do")
    with errors, bind.engine.connect() as connection:
        guard = (
            locking.hold(
                bind, connection, timeout=settings.lock_timeout, on_wait=on_wait
            )
            if bind.lock
            else nullcontext()
        )
        with guard:
            if bind.history:
                history.ensure(bind, connection)
            # Another process may have migrated the bind while this one waited.
            again = environment.current_heads(bind, connection)
            if again != before and checks.at_target(
                verb, bind, scripts, revision, again, purge
            ):
                return RunResult(
                    bind.name,
                    again,
                    again,
                    note="nothing to do: another process migrated it meanwhile",
                )
            environment.run_online(
                alembic_command, configure(connection=connection), revision, **kwargs
            )
            after = environment.current_heads(bind, connection)
    return RunResult(bind.name, again, after, tracker.steps)


def revision(
    bind: Bind,
    settings: Settings,
    *,
    message: str | None = None,
    autogenerate: bool = False,
    head: str = "head",
    splice: bool = False,
    branch_label: str | None = None,
    depends_on: Sequence[str] = (),
    rev_id: str | None = None,
    taken_ids: Collection[str] = (),
    x_args: Sequence[str] = (),
) -> RevisionResult:
    """Write a new revision file for the bind, from the models when ``autogenerate``."""
    checks.check_script_template(settings)
    config = environment.make_config(
        bind, settings, x_args=x_args, autogenerate=autogenerate
    )
    with translate_errors(bind):
        if branch_label:
            checks.check_branch_label(
                bind, environment.revision_graph(bind, settings), branch_label
            )
        # Alembic announces post-write hooks on stdout whatever its quiet setting says.
        with redirect_stdout(io.StringIO()):
            written = command.revision(
                config,
                message=message,
                autogenerate=autogenerate,
                head=head,
                splice=splice,
                branch_label=branch_label,
                depends_on=list(depends_on) or None,  # type: ignore[arg-type]  # takes a list too
                rev_id=rev_id or new_rev_id(taken_ids),
            )
    return RevisionResult(bind.name, _revisions(written))


def merge(
    bind: Bind,
    settings: Settings,
    revisions: Sequence[str] = ("heads",),
    *,
    message: str | None = None,
    branch_label: str | None = None,
    rev_id: str | None = None,
    taken_ids: Collection[str] = (),
) -> RevisionResult:
    """Write a revision that joins ``revisions`` (by default all heads) into one."""
    checks.check_script_template(settings)
    config = environment.make_config(bind, settings)
    with translate_errors(bind):
        targets = list(revisions)
        if targets == ["heads"]:
            # Every head, including revisions that others only depend on.
            targets = list(environment.script_directory(config).get_heads())
            if len(targets) < 2:
                return RevisionResult(bind.name, [])
        written = command.merge(
            config,
            targets,
            message=message,
            branch_label=branch_label,
            rev_id=rev_id or new_rev_id(taken_ids),
        )
    return RevisionResult(bind.name, _revisions(written))


def init(bind: Bind) -> bool:
    """Create the bind's revision folder; return False when it existed already."""
    if bind.directory.is_dir():
        return False
    bind.directory.mkdir(parents=True)
    return True


def new_rev_id(taken: Collection[str]) -> str:
    """A fresh revision id that none of ``taken`` uses."""
    while True:
        candidate = random_rev_id()
        if candidate not in taken:
            return candidate


def _revisions(written: Any) -> list[Revision]:
    if written is None:
        return []
    scripts = written if isinstance(written, list) else [written]
    return [Revision.from_script(s) for s in scripts if s is not None]
