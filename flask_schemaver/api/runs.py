"""The Python API that changes databases: upgrade, downgrade, stamp, and their plans."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..exceptions import ProtectedBind
from ..exceptions import RunFailed
from ..exceptions import UsageError
from .base import BindAPI

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ..binds import Bind
    from ..binds import BindNames
    from ..options import RunKeywords
    from ..options import RunOptions
    from ..options import WaitCallback
    from ..results import BindPlan
    from ..results import RunResult


class RunsAPI(BindAPI):
    """The Python API that changes databases."""

    def upgrade(
        self,
        revision: str = "heads",
        bind: BindNames = None,
        **options: Unpack[RunKeywords],
    ) -> list[RunResult]:
        """Upgrade each bind named (all by default) to ``revision``.

        A bind that fails does not stop the others unless ``fail_fast``; when any bind
        failed, :class:`~flask_schemaver.RunFailed` carries every result.

        :param revision: the target: a revision id (or its start), ``heads``,
            ``label@head``, ``+2``...
        :param bind: a bind name, several, or None for every bind.
        :param options: ``sql``, ``tag``, ``x_args``, ``fail_fast``, ``jobs``,
            ``on_start``, ``on_step``, ``on_wait``; see
            :class:`~flask_schemaver.RunOptions`.
        :return: one result per bind, in the app's order.
        """
        from ..options import RunOptions

        return self.run(RunOptions.build("upgrade", revision, bind, options))

    def downgrade(
        self,
        revision: str = "-1",
        bind: BindNames = None,
        **options: Unpack[RunKeywords],
    ) -> list[RunResult]:
        """Downgrade the binds named to ``revision``.

        An app with several binds needs them named, or ``all_binds=True``; protected
        binds need ``confirm=True``.

        :param revision: the target: a revision id, ``base``, ``-1``, ``label@-1``...
        :param bind: a bind name, several, or None for every bind.
        :param options: ``all_binds``, ``confirm``, ``sql``, ``tag``, ``x_args``,
            ``fail_fast``, ``jobs``, ``on_start``, ``on_step``, ``on_wait``; see
            :class:`~flask_schemaver.RunOptions`.
        :return: one result per bind.
        """
        from ..options import RunOptions

        return self.run(RunOptions.build("downgrade", revision, bind, options))

    def stamp(
        self,
        revision: str,
        bind: BindNames = None,
        **options: Unpack[RunKeywords],
    ) -> list[RunResult]:
        """Set the version table of the binds named to ``revision``, running no
        migration.

        :param revision: the revision to record, or ``base`` to empty the table.
        :param bind: a bind name, several, or None for every bind.
        :param options: ``purge``, ``all_binds``, ``confirm``, ``sql``, ``tag``,
            ``x_args``, ``fail_fast``, ``jobs``, ``on_wait``; see
            :class:`~flask_schemaver.RunOptions`.
        :return: one result per bind.
        """
        from ..options import RunOptions

        return self.run(RunOptions.build("stamp", revision, bind, options))

    def run(self, options: RunOptions) -> list[RunResult]:
        """Run what ``options`` ask for: the one path of upgrade, downgrade and stamp.

        :param options: the verb, its target, the binds and the switches.
        :raises RunFailed: when a bind failed; it carries every bind's result.
        """
        settings = self._state().settings
        binds = self._chosen(options)
        if options.verb == "upgrade" and not options.sql:
            done = self._already_at_heads(options, binds)
            if done is not None:
                return done
        # Only now Alembic: a no-op upgrade on every deploy stays cheap.
        from ..verbs import runs
        from ..verbs.parallel import run_binds
        from ..verbs.preflight import check_run_target
        from ..verbs.preflight import preflight

        check_run_target(options.revision)
        binds = self._having(options.binds, binds, [options.revision])
        # Bad input is refused before any bind changes.
        for b in binds:
            preflight(b, settings, options)
        jobs = settings.jobs if options.jobs is None else options.jobs
        if jobs < 1:
            raise UsageError(f"--jobs must be 1 or more, not {jobs}")
        results = run_binds(
            binds, options, lambda b, o: runs.run(b, settings, o), jobs=jobs
        )
        if any(r.outcome != "done" for r in results):
            raise RunFailed(options.verb, results)
        return results

    def resolve(
        self,
        revision: str,
        bind: BindNames = None,
        *,
        applied: bool,
        on_wait: WaitCallback | None = None,
    ) -> list[RunResult]:
        """Record what an interrupted run of ``revision`` left, on a database whose DDL
        commits as it runs (MySQL, MariaDB): all of its changes, or none.

        :param revision: the revision whose run did not finish (or the start of its id).
        :param bind: the bind; needed when the app has several.
        :param applied: True when all of the revision's changes are in the database
            (its version is recorded), False when none are.
        :param on_wait: called while waiting for a bind's migration lock.
        :return: one result per bind, with the revisions it is at now.
        """
        from ..verbs import runs

        if len(self.binds) > 1 and not bind:
            raise UsageError(
                "resolve records a bind's version: name the bind with --bind "
                f"({', '.join(self.binds)})"
            )
        settings = self._state().settings
        return [
            runs.resolve(b, settings, revision, applied=applied, on_wait=on_wait)
            for b in self.select(bind)
        ]

    def plan(
        self,
        revision: str = "heads",
        bind: BindNames = None,
        *,
        downgrade: bool = False,
        all_binds: bool = False,
    ) -> list[BindPlan]:
        """What ``upgrade`` (or ``downgrade``) to ``revision`` would run; runs nothing.

        :param revision: the target, as for :meth:`upgrade` or :meth:`downgrade`.
        :param bind: a bind name, several, or None for every bind.
        :param downgrade: plan a downgrade rather than an upgrade.
        :param all_binds: as for :meth:`downgrade`: plan it on every bind.
        :return: one plan per bind.
        """
        from ..options import RunOptions
        from ..verbs import plan
        from ..verbs.preflight import check_run_target
        from ..verbs.preflight import preflight

        # A plan changes nothing: protected binds need no confirmation.
        keywords = {"all_binds": all_binds, "confirm": True} if downgrade else {}
        options = RunOptions.build(
            "downgrade" if downgrade else "upgrade", revision, bind, keywords
        )
        settings = self._state().settings
        check_run_target(revision)
        chosen = self._having(options.binds, self._chosen(options), [revision])
        for b in chosen:
            preflight(b, settings, options)
        return [
            plan.plan(b, settings, revision, is_upgrade=not downgrade) for b in chosen
        ]

    def _chosen(self, options: RunOptions) -> list[Bind]:
        """The binds ``options`` name; a run that can take a database back must name
        them when the app has several, and confirm protected ones."""
        binds = self.select(options.binds)
        if not options.destructive:
            return binds
        if len(self.binds) > 1 and not options.binds and not options.all_binds:
            raise UsageError(
                f"{options.verb} changes a database's version: name the binds with "
                f"--bind ({', '.join(self.binds)}) or pass --all-binds"
            )
        protected = [b.name for b in binds if b.protected]
        if protected and not (options.confirm or options.sql):
            raise ProtectedBind(options.label, protected)
        return binds

    def _already_at_heads(
        self, options: RunOptions, binds: list[Bind]
    ) -> list[RunResult] | None:
        """Results for a no-op upgrade, when every bind is plainly at its heads already.

        Takes no lock and imports no Alembic: the common case on every deploy stays
        cheap.
        """
        if options.revision not in ("head", "heads"):
            return None
        if not os.path.isdir(self._state().settings.directory):
            return None
        from ..results import RunResult
        from ..verbs.quick import at_heads

        results = []
        for b in binds:
            current = at_heads(b, options.revision)
            if current is None:
                return None
            results.append(RunResult(b.name, current, current, note="nothing to do"))
        return results
