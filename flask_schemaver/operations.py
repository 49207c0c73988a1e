"""The verbs that change a bind: its database (upgrade, downgrade, stamp) or its
revision files (revision, merge, init). Each works on one bind and returns data.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Sequence
from typing import Any
from typing import TYPE_CHECKING

from alembic import command
from alembic.util import rev_id as random_rev_id

from . import environment
from .exceptions import UsageError
from .results import Revision
from .results import RevisionResult
from .results import RunResult
from .results import Step

if TYPE_CHECKING:
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
) -> RunResult:
    """Upgrade the bind's database to ``revision``."""
    return _run(
        command.upgrade, bind, settings, revision, sql, x_args, on_step, tag=tag
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
) -> RunResult:
    """Downgrade the bind's database to ``revision``."""
    return _run(
        command.downgrade, bind, settings, revision, sql, x_args, on_step, tag=tag
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
        tag=tag,
        purge=purge,
    )


def _run(
    alembic_command: Callable[..., None],
    bind: Bind,
    settings: Settings,
    revision: str,
    sql: bool,
    x_args: Sequence[str],
    on_step: StepCallback | None,
    **kwargs: Any,
) -> RunResult:
    steps: list[Step] = []
    clock = [time.perf_counter()]

    def record(*, step: MigrationInfo, **_: Any) -> None:
        now = time.perf_counter()
        script: Any = step.up_revision
        done = Step(
            bind=bind.name,
            source=tuple(step.source_revision_ids),
            destination=tuple(step.destination_revision_ids),
            revision=script.revision if script is not None else "",
            message=(script.doc or "") if script is not None else "",
            is_upgrade=step.is_upgrade,
            is_stamp=step.is_stamp,
            seconds=now - clock[0],
        )
        steps.append(done)
        if on_step is not None:
            on_step(done)
        clock[0] = time.perf_counter()

    buffer = io.StringIO() if sql else None
    config = environment.make_config(
        bind, settings, x_args=x_args, output_buffer=buffer, on_version_apply=record
    )
    before = () if sql else environment.current_heads(bind)
    clock[0] = time.perf_counter()
    with environment.translate_errors(bind):
        alembic_command(config, revision, sql=sql, **kwargs)
    if buffer is not None:
        return RunResult(bind.name, before, before, steps, sql=buffer.getvalue())
    return RunResult(bind.name, before, environment.current_heads(bind), steps)


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
        if list(revisions) == ["heads"]:
            heads = environment.script_directory(config).get_heads()
            if len(heads) < 2:
                return RevisionResult(bind.name, [])
        written = command.merge(
            config,
            list(revisions),
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
