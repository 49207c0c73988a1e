"""The verbs that change a bind: its database (upgrade, downgrade, stamp) or its
revision files (revision, merge, init). Each works on one bind and returns data.
"""

from __future__ import annotations

import io
import os
import re
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

from . import environment
from . import locking
from .exceptions import MigrationError
from .exceptions import SchemaVerError
from .exceptions import UnknownRevision
from .exceptions import UsageError
from .locking import WaitCallback
from .results import Revision
from .results import RevisionResult
from .results import RunResult
from .results import Step

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationInfo
    from alembic.script import ScriptDirectory

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
    if sql and purge:
        raise UsageError(
            "--purge needs the live database; it cannot be used with --sql"
        )
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

    def applied(self, *, step: MigrationInfo, **_: Any) -> None:
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
    if not os.path.isdir(settings.directory):
        raise MigrationError(
            f"there is no migrations folder at {settings.directory}; write revisions "
            "with 'flask db migrate' (it makes the folder), or point "
            "SCHEMAVER_DIRECTORY at the existing folder",
            bind.name,
        )
    if sql and alembic_command is command.downgrade and ":" not in revision:
        raise UsageError(
            "offline downgrade needs the revision to start from: give FROM:TO, "
            "e.g. 'head:base'",
            bind.name,
        )
    if sql and revision.lstrip("+-").isdigit():
        raise UsageError(
            f"offline SQL cannot count {revision} from the database's revision: "
            "give FROM:TO revision ids instead",
            bind.name,
        )
    tracker = _Tracker(bind, on_step)
    errors = environment.translate_errors(bind, tracker.describe_running)

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
    _check_start(alembic_command, bind, settings, revision, before, **kwargs)
    if _at_target(alembic_command, bind, settings, revision, before, **kwargs):
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
            # Another process may have migrated the bind while this one waited.
            again = environment.current_heads(bind, connection)
            if again != before and _at_target(
                alembic_command, bind, settings, revision, again, **kwargs
            ):
                return RunResult(
                    bind.name,
                    again,
                    again,
                    note="nothing to do: another process migrated it meanwhile",
                )
            alembic_command(
                configure(connection=connection), revision, sql=False, **kwargs
            )
            after = environment.current_heads(bind, connection)
    return RunResult(bind.name, again, after, tracker.steps)


def _check_start(
    alembic_command: Callable[..., None],
    bind: Bind,
    settings: Settings,
    revision: str,
    current: tuple[str, ...],
    purge: bool = False,
    **_: Any,
) -> None:
    """Refuse, before anything changes, a run that cannot go well."""
    scripts = environment.revision_graph(bind, settings)
    with environment.translate_errors(bind):
        known = {s.revision for s in scripts.walk_revisions()}
        missing = [rev for rev in current if rev not in known]
        if missing and not purge:
            fix = (
                f"run 'flask db stamp --bind {bind.name} --purge REVISION'"
                if alembic_command is command.stamp
                else "restore the file, or record where the database really is with "
                f"'flask db stamp --bind {bind.name} --purge REVISION'"
            )
            raise MigrationError(
                f"the database is at {', '.join(missing)}, which no revision file in "
                f"{bind.directory} has; {fix}",
                bind.name,
            )
        if alembic_command is not command.downgrade or not revision.startswith("-"):
            return
        if len(current) > 1:
            raise MigrationError(
                f"the database is at several heads ({', '.join(current)}), so "
                f"'downgrade {revision}' is ambiguous; name the revision to go to, "
                f"e.g. '{current[0]}@{revision}'",
                bind.name,
            )
        steps = revision[1:]
        if current and steps.isdigit():
            applied = len(list(scripts.iterate_revisions(current[0], "base")))
            if int(steps) > applied:
                raise UsageError(
                    f"'downgrade {revision}' goes below base: only {applied} "
                    "revision(s) are applied; downgrade to 'base' to undo them all",
                    bind.name,
                )


def _at_target(
    alembic_command: Callable[..., None],
    bind: Bind,
    settings: Settings,
    revision: str,
    current: tuple[str, ...],
    purge: bool = False,
    **_: Any,
) -> bool:
    """Whether the bind is already where ``revision`` would take it."""
    if alembic_command is command.downgrade:
        return not current and (revision == "base" or revision.startswith("-"))
    if purge or revision[:1] in ("+", "-") or ":" in revision:
        return False
    scripts = environment.revision_graph(bind, settings)
    with environment.translate_errors(bind):
        if revision in ("head", "heads"):
            target = set(scripts.get_heads())
        else:
            target = {s.revision for s in scripts.get_revisions(revision) if s}
    return set(current) == target


def validate_target(bind: Bind, settings: Settings, revision: str) -> None:
    """Raise :class:`UnknownRevision` when ``revision`` names nothing in the bind."""
    if revision[:1] in ("+", "-") or ":" in revision:
        return
    if revision in ("head", "heads", "base"):
        return
    if "@" in revision and revision.split("@", 1)[1][:1] in ("+", "-"):
        # label@-1 and friends: the label must exist
        revision = revision.split("@", 1)[0] + "@head"
    scripts = environment.revision_graph(bind, settings)
    try:
        with environment.translate_errors(bind):
            scripts.get_revisions(revision)
    except UnknownRevision:
        raise
    except SchemaVerError:
        return  # not a problem with the argument; the run itself will report it


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
    config = environment.make_config(
        bind, settings, x_args=x_args, autogenerate=autogenerate
    )
    with environment.translate_errors(bind):
        if branch_label:
            _refuse_used_label(bind, environment.script_directory(config), branch_label)
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
    config = environment.make_config(bind, settings)
    with environment.translate_errors(bind):
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


def _refuse_used_label(bind: Bind, scripts: ScriptDirectory, label: str) -> None:
    for script in scripts.walk_revisions():
        if label in script.branch_labels:
            raise UsageError(
                f"branch label {label!r} is already used by revision {script.revision}; "
                "choose another --branch-label",
                bind.name,
            )


def init(bind: Bind) -> bool:
    """Create the bind's revision folder; return False when it existed already."""
    if bind.directory.is_dir():
        return False
    bind.directory.mkdir(parents=True)
    return True


_REV_ID = re.compile(r"[A-Za-z0-9_]+")


def check_rev_id(rev_id: str) -> None:
    """Refuse a revision id that cannot be part of a file name or a revision target."""
    if not _REV_ID.fullmatch(rev_id):
        raise UsageError(
            f"--rev-id {rev_id!r} may only hold letters, digits and underscores"
        )


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
