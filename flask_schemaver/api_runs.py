"""The Python API that changes databases: upgrade, downgrade, stamp, plan."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .apibase import BindAPI
from .apibase import BindNames
from .exceptions import ProtectedBind
from .exceptions import RunFailed
from .exceptions import UsageError

if TYPE_CHECKING:
    from .binds import Bind
    from .locking import WaitCallback
    from .operations import StepCallback
    from .parallel import BindRun
    from .plan import BindPlan
    from .results import RunResult


class RunsAPI(BindAPI):
    """The Python API that changes databases."""

    def upgrade(
        self,
        revision: str = "heads",
        bind: BindNames = None,
        *,
        sql: bool = False,
        tag: str | None = None,
        x_args: Sequence[str] = (),
        fail_fast: bool = False,
        jobs: int | None = None,
        on_step: StepCallback | None = None,
        on_wait: WaitCallback | None = None,
    ) -> list[RunResult]:
        """Upgrade each bind named (all by default) to ``revision``.

        A bind that fails does not stop the others unless ``fail_fast``; when any bind
        failed, :class:`~flask_schemaver.exceptions.RunFailed` carries every result.
        """
        settings = self._state().settings
        binds = self.select(bind)
        if (
            not sql
            and revision in ("head", "heads")
            and Path(settings.directory).is_dir()
        ):
            done = _already_at_heads(binds)
            if done is not None:
                return done
        from . import operations

        return self._run_each(
            "upgrade",
            self._having(bind, binds, [revision]),
            revision,
            fail_fast,
            lambda b, step, wait: operations.upgrade(
                b,
                settings,
                revision,
                sql=sql,
                tag=tag,
                x_args=x_args,
                on_step=step,
                on_wait=wait,
            ),
            sql=sql,
            jobs=jobs,
            on_step=on_step,
            on_wait=on_wait,
        )

    def downgrade(
        self,
        revision: str = "-1",
        bind: BindNames = None,
        *,
        all_binds: bool = False,
        confirm: bool = False,
        sql: bool = False,
        tag: str | None = None,
        x_args: Sequence[str] = (),
        fail_fast: bool = False,
        jobs: int | None = None,
        on_step: StepCallback | None = None,
        on_wait: WaitCallback | None = None,
    ) -> list[RunResult]:
        """Downgrade the binds named to ``revision``; several binds need ``all_binds``,
        protected binds need ``confirm``."""
        from . import operations

        settings = self._state().settings
        return self._run_each(
            "downgrade",
            self._having(
                bind,
                self._destructive("downgrade", bind, all_binds, confirm or sql),
                [revision],
            ),
            revision,
            fail_fast,
            lambda b, step, wait: operations.downgrade(
                b,
                settings,
                revision,
                sql=sql,
                tag=tag,
                x_args=x_args,
                on_step=step,
                on_wait=wait,
            ),
            sql=sql,
            jobs=jobs,
            on_step=on_step,
            on_wait=on_wait,
        )

    def stamp(
        self,
        revision: str,
        bind: BindNames = None,
        *,
        all_binds: bool = False,
        confirm: bool = False,
        purge: bool = False,
        sql: bool = False,
        tag: str | None = None,
        x_args: Sequence[str] = (),
        fail_fast: bool = False,
        jobs: int | None = None,
        on_wait: WaitCallback | None = None,
    ) -> list[RunResult]:
        """Set the version table of the binds named, running no migration."""
        from . import operations

        settings = self._state().settings
        return self._run_each(
            "stamp",
            self._having(
                bind,
                self._destructive(
                    "stamp --purge" if purge else "stamp",
                    bind,
                    all_binds,
                    confirm or sql,
                ),
                [revision],
            ),
            revision,
            fail_fast,
            lambda b, step, wait: operations.stamp(
                b,
                settings,
                revision,
                sql=sql,
                tag=tag,
                purge=purge,
                x_args=x_args,
                on_wait=wait,
            ),
            sql=sql,
            purge=purge,
            jobs=jobs,
            on_wait=on_wait,
        )

    def plan(
        self,
        revision: str = "heads",
        bind: BindNames = None,
        *,
        downgrade: bool = False,
        all_binds: bool = False,
    ) -> list[BindPlan]:
        """What ``upgrade`` (or ``downgrade``) to ``revision`` would run; runs nothing."""
        from . import plan

        settings = self._state().settings
        binds = (
            self._destructive("downgrade", bind, all_binds)
            if downgrade
            else self.select(bind)
        )
        from .checks import preflight

        chosen = self._having(bind, binds, [revision])
        verb = "downgrade" if downgrade else "upgrade"
        for b in chosen:
            preflight(verb, b, settings, revision, sql=False)
        return [
            plan.plan(b, settings, revision, is_upgrade=not downgrade) for b in chosen
        ]

    def _run_each(
        self,
        verb: str,
        binds: list[Bind],
        revision: str,
        fail_fast: bool,
        run: BindRun,
        *,
        sql: bool,
        purge: bool = False,
        jobs: int | None,
        on_step: StepCallback | None = None,
        on_wait: WaitCallback | None = None,
    ) -> list[RunResult]:
        from .checks import preflight
        from .parallel import run_binds

        settings = self._state().settings
        # Bad input is refused before any bind changes.
        for b in binds:
            preflight(verb, b, settings, revision, sql=sql, purge=purge)
        if jobs is None:
            jobs = self._state().settings.jobs
        if jobs < 1:
            raise UsageError(f"--jobs must be 1 or more, not {jobs}")
        results = run_binds(
            binds,
            run,
            jobs=jobs,
            fail_fast=fail_fast,
            on_step=on_step,
            on_wait=on_wait,
        )
        if any(r.outcome != "done" for r in results):
            raise RunFailed(verb, results)
        return results

    def _destructive(
        self, verb: str, bind: BindNames, all_binds: bool, confirm: bool = True
    ) -> list[Bind]:
        binds = self.select(bind)
        if len(self.binds) > 1 and not bind and not all_binds:
            raise UsageError(
                f"{verb} changes a database's version: name the binds with --bind "
                f"({', '.join(self.binds)}) or pass --all-binds"
            )
        protected = [b.name for b in binds if b.protected]
        if protected and not confirm:
            raise ProtectedBind(verb, protected)
        return binds


def _already_at_heads(binds: list[Bind]) -> list[RunResult] | None:
    """Results for a no-op upgrade, when every bind is plainly at its heads already.

    Takes no lock and imports no Alembic: the common case on every deploy stays cheap.
    """
    from .quick import at_heads
    from .results import RunResult

    results = []
    for b in binds:
        current = at_heads(b)
        if current is None:
            return None
        results.append(RunResult(b.name, current, current, note="nothing to do"))
    return results
