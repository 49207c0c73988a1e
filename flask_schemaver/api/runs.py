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
    from ..options import ShardSpec
    from ..options import TenantNames
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
        :param options: ``tenant`` (the tenants of tenanted binds: names or
            shell-style patterns, ``"*"`` for all; every tenant by default),
            ``shard`` (of those, the K-th of N shares: ``"K/N"``), ``sql``,
            ``tag``, ``x_args``, ``fail_fast``, ``jobs``, ``on_start``, ``on_step``,
            ``on_wait``, ``on_targets``, ``on_result``; see
            :class:`~flask_schemaver.RunOptions`.
        :return: one result per bind (and tenant), in the app's order.
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
        binds need ``confirm=True``; a tenanted bind needs its tenants named with
        ``tenant`` (``"*"`` for all).

        :param revision: the target: a revision id, ``base``, ``-1``, ``label@-1``...
        :param bind: a bind name, several, or None for every bind.
        :param options: ``tenant``, ``shard``, ``all_binds``, ``confirm``, ``sql``,
            ``tag``,
            ``x_args``, ``fail_fast``, ``jobs``, ``on_start``, ``on_step``,
            ``on_wait``; see
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
        :param options: ``tenant`` (needed on a tenanted bind), ``shard``, ``purge``,
            ``all_binds``, ``confirm``, ``sql``, ``tag``, ``x_args``, ``fail_fast``,
            ``jobs``, ``on_wait``; see
            :class:`~flask_schemaver.RunOptions`.
        :return: one result per bind.
        """
        from ..options import RunOptions

        return self.run(RunOptions.build("stamp", revision, bind, options))

    def run(self, options: RunOptions) -> list[RunResult]:
        """Run what ``options`` ask for: the one path of upgrade, downgrade and stamp.

        :param options: the verb, its target, the binds, the tenants and the switches.
        :raises RunFailed: when a bind (or tenant) failed; it carries every result.
        """
        from ..script.files import held

        # The revision files do not change while a run reads them again and again
        # (the fast path, the checks, the graph, Alembic's import): read once.
        with held():
            return self._run(options)

    def _run(self, options: RunOptions) -> list[RunResult]:
        settings = self._state().settings
        binds = self._chosen(options)
        done: list[RunResult | None] = [None] * len(binds)
        if options.verb == "upgrade" and not options.sql:
            done = self._already_at_heads(options, binds)
            if all(r is not None for r in done):
                known = [r for r in done if r is not None]
                if options.on_targets is not None:
                    options.on_targets(binds, known)
                return known
        # Only now Alembic: a no-op upgrade on every deploy stays cheap.
        from ..verbs import runs
        from ..verbs.parallel import run_binds
        from ..verbs.preflight import check_arguments
        from ..verbs.preflight import check_run_target
        from ..verbs.preflight import preflight

        check_run_target(options.revision)
        left = [b for b, r in zip(binds, done, strict=True) if r is None]
        left = self._having(options.binds, left, [options.revision])
        # Bad input is refused before any bind changes; a tenant's own starting
        # point is judged in its own run, so that one tenant can't stop the rest.
        for b in left:
            if b.tenant is None:
                preflight(b, settings, options)
        for b in {b.name: b for b in left if b.tenant is not None}.values():
            check_arguments(b, settings, options)
        jobs = settings.jobs if options.jobs is None else options.jobs
        if jobs < 1:
            raise UsageError(f"--jobs must be 1 or more, not {jobs}")
        kept = {id(b) for b in left}
        if options.on_targets is not None:
            options.on_targets(
                [
                    b
                    for b, r in zip(binds, done, strict=True)
                    if r is not None or id(b) in kept
                ],
                [r for r in done if r is not None],
            )
        ran = iter(
            run_binds(
                left,
                options,
                lambda b, o: runs.run(b, settings, o),
                jobs=jobs,
                per_server=settings.jobs_per_server,
            )
        )
        results = [
            r if r is not None else next(ran)
            for b, r in zip(binds, done, strict=True)
            if r is not None or id(b) in kept
        ]
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
        tenant: TenantNames = None,
        shard: ShardSpec = None,
    ) -> list[RunResult]:
        """Record what an interrupted run of ``revision`` left, on a database whose DDL
        commits as it runs (MySQL, MariaDB): all of its changes, or none.

        :param revision: the revision whose run did not finish (or the start of its id).
        :param bind: the bind; needed when the app has several.
        :param applied: True when all of the revision's changes are in the database
            (its version is recorded), False when none are.
        :param on_wait: called while waiting for a bind's migration lock.
        :param tenant: on a tenanted bind, the tenant (or tenants) to record it for.
        :param shard: of those tenants, the K-th of N shares (``"K/N"`` or
            ``(K, N)``), as for :meth:`targets`.
        :return: one result per bind, with the revisions it is at now.
        """
        from ..tenants import naming
        from ..verbs import runs

        if len(self.binds) > 1 and not bind and tenant is None:
            raise UsageError(
                "resolve records a bind's version: name the bind with --bind "
                f"({', '.join(self.binds)})"
            )
        settings = self._state().settings
        results = []
        for b in self._targets(bind, tenant, needed="resolve", shard=shard):
            with naming(b):
                result = runs.resolve(
                    b, settings, revision, applied=applied, on_wait=on_wait
                )
            result.tenant = b.tenant
            results.append(result)
        return results

    def plan(
        self,
        revision: str = "heads",
        bind: BindNames = None,
        *,
        downgrade: bool = False,
        all_binds: bool = False,
        tenant: TenantNames = None,
        shard: ShardSpec = None,
    ) -> list[BindPlan]:
        """What ``upgrade`` (or ``downgrade``) to ``revision`` would run; runs nothing.

        :param revision: the target, as for :meth:`upgrade` or :meth:`downgrade`.
        :param bind: a bind name, several, or None for every bind.
        :param downgrade: plan a downgrade rather than an upgrade.
        :param all_binds: as for :meth:`downgrade`: plan it on every bind.
        :param tenant: the tenants of tenanted binds, as for :meth:`upgrade` and
            :meth:`downgrade`; one plan each.
        :param shard: of those tenants, the K-th of N shares (``"K/N"`` or
            ``(K, N)``), as for :meth:`targets`.
        :return: one plan per bind (and tenant).
        """
        from ..options import RunOptions
        from ..verbs import plan
        from ..verbs.preflight import check_run_target
        from ..verbs.preflight import preflight

        # A plan changes nothing: protected binds need no confirmation.
        keywords: dict[str, object] = {"tenant": tenant, "shard": shard}
        if downgrade:
            keywords.update(all_binds=all_binds, confirm=True)
        options = RunOptions.build(
            "downgrade" if downgrade else "upgrade", revision, bind, keywords
        )
        settings = self._state().settings
        check_run_target(revision)
        chosen = self._having(options.binds, self._chosen(options), [revision])
        for b in chosen:
            preflight(b, settings, options)
        plans = []
        for b in chosen:
            found = plan.plan(b, settings, revision, is_upgrade=not downgrade)
            found.tenant = b.tenant
            plans.append(found)
        return plans

    def _chosen(self, options: RunOptions) -> list[Bind]:
        """The binds ``options`` name; a run that can take a database back must name
        them when the app has several, and confirm protected ones."""
        binds = self._targets(
            options.binds,
            options.tenants,
            needed=options.label if options.destructive else None,
            shard=options.shard,
        )
        if options.sql and any(b.tenant is not None for b in binds):
            raise UsageError(
                "--sql writes one script per database, and tenants are not supported "
                "by it yet; name the binds without tenants with --bind"
            )
        if not options.destructive:
            return binds
        named = options.binds or options.all_binds or options.tenants
        if len(self.binds) > 1 and not named:
            raise UsageError(
                f"{options.verb} changes a database's version: name the binds with "
                f"--bind ({', '.join(self.binds)}) or pass --all-binds"
            )
        protected = list(dict.fromkeys(b.name for b in binds if b.protected))
        if protected and not (options.confirm or options.sql):
            raise ProtectedBind(options.label, protected)
        return binds

    def _already_at_heads(
        self, options: RunOptions, binds: list[Bind]
    ) -> list[RunResult | None]:
        """For each bind (or tenant) plainly at its heads already, a no-op upgrade's
        result; None for the others, which the full path runs.

        Takes no lock and imports no Alembic, and reads the version tables of tenants
        that share a database in one go: the common case on every deploy stays cheap,
        and a run stopped part way is taken up where it stopped.
        """
        if not os.path.isdir(self._state().settings.directory):
            return [None] * len(binds)
        from ..results import RunResult
        from ..verbs.quick import all_at_heads

        return [
            None
            if current is None
            else RunResult(
                b.name, current, current, note="nothing to do", tenant=b.tenant
            )
            for b, current in zip(
                binds, all_at_heads(binds, options.revision), strict=True
            )
        ]
