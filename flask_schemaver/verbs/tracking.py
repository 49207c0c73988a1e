"""Following the steps of one run: which revision is running, how long each took,
and which are committed but not yet reported."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from typing import TYPE_CHECKING

from ..results import Step
from ..runtime import history
from ..runtime.riding import Rider
from ..script import files as revision_files

if TYPE_CHECKING:
    import sqlalchemy as sa
    from alembic.runtime.migration import MigrationContext
    from alembic.runtime.migration import MigrationInfo

    from ..binds import Bind
    from ..options import RunOptions
    from ..results import BackfillProgress
    from ..results import Direction


class Tracker:
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
        #: The connection migrations run on; set when they run against a database.
        self.connection: sa.Connection | None = None
        self.rider: Rider | None = None
        #: The running revision's backfill, as far as its committed batches go.
        self.backfilled: BackfillProgress | None = None

    @contextmanager
    def attached(self, connection: sa.Connection) -> Iterator[None]:
        """Follow the steps that run on ``connection`` for the ``with`` block, each
        history row riding with its version-table write where it can."""
        self.connection = connection
        if not Rider.possible(self.bind, connection):
            yield
            return
        self.rider = Rider(self.bind, connection)
        try:
            with self.rider.listening():
                yield
        finally:
            self.rider = None

    def start(self, info: MigrationInfo) -> None:
        if self.per_migration:
            self.report()
            self.running = None  # committed
        if self.options.on_start is not None:
            # May stop the run (a worker told to stop): before the step, not in it.
            self.options.on_start(_step(self.bind, info, 0.0))
        self._record_start(info)
        self.running = info
        self.backfilled = None
        self.started = time.perf_counter()
        script: Any = info.up_revision
        if self.rider is not None and script is not None:
            done = _step(self.bind, info, 0.0)
            digest = _digest(script.path) or revision_files.checksum(script.path)
            self.rider.expect(
                history.row(done.revision, _direction(done), digest), self.started
            )

    def _record_start(self, info: MigrationInfo) -> None:
        """Where DDL commits as it runs, say in the history that the step started,
        before it does: an interruption is then found at the next run."""
        script: Any = info.up_revision
        if (
            self.connection is None
            or not self.bind.history
            or self.bind.transactional_ddl
            or info.is_stamp
            or script is None
        ):
            return
        history.write(
            self.bind,
            self.connection,
            revision=script.revision,
            direction=history.STARTED[info.is_upgrade],
            path=script.path,
            seconds=None,
        )
        self.connection.commit()

    def applied(self, *, ctx: MigrationContext, step: MigrationInfo, **_: Any) -> None:
        """Alembic's ``on_version_apply``: inside the step's transaction."""
        done = _step(self.bind, step, time.perf_counter() - self.started)
        script: Any = step.up_revision
        rode = self.rider is not None and self.rider.rode()
        if self.bind.history and not ctx.as_sql and script is not None and not rode:
            # In the migration's own transaction: the row exists when the step does.
            history.write(
                self.bind,
                ctx.connection,  # type: ignore[arg-type]
                revision=done.revision,
                direction=_direction(done),
                path=script.path,
                seconds=done.seconds,
                digest=_digest(script.path),
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

    def progress(self, report: BackfillProgress) -> None:
        """A backfill of the running revision committed a batch: remember how far it
        is, and pass the report on."""
        self.backfilled = report
        if self.options.on_progress is not None:
            self.options.on_progress(report)

    def commits_part_way(self) -> bool:
        """Whether the running revision commits part of its work itself, in an
        ``autocommit_block`` (as a backfill must): then stopping it does not roll
        all of it back."""
        if self.backfilled is not None:
            return True
        script: Any = self.running.up_revision if self.running else None
        path = getattr(script, "path", None)
        if not path:
            return False
        try:
            with open(path, "rb") as handle:
                return b"autocommit_block" in handle.read()
        except OSError:
            return False

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
        tenant=bind.tenant,
    )


def _digest(path: str | None) -> str | None:
    """The checksum of a revision file read when the run imported it: what runs."""
    if not path:
        return None
    from ..runtime.environment import known_digest

    return known_digest(path)


def _direction(step: Step) -> Direction:
    if step.is_stamp:
        # Stamping down vouches for nothing: only stamps up count as applied.
        return "stamp" if step.is_upgrade else "stamp-down"
    return "upgrade" if step.is_upgrade else "downgrade"
