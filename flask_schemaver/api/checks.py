"""The Python API that judges: check, lint, acknowledge, is_current."""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..exceptions import UsageError
from .looks import LooksAPI

if TYPE_CHECKING:
    from ..binds import Bind
    from ..binds import BindNames
    from ..lint import Finding
    from ..options import ShardSpec
    from ..options import TenantNames
    from ..results import CheckResult
    from ..results import Gate
    from ..settings import Settings


class ChecksAPI(LooksAPI):
    """The Python API that judges binds, for CI and health checks."""

    def check(
        self,
        bind: BindNames = None,
        tenant: TenantNames = None,
        *,
        only: Iterable[str] = (),
        shard: ShardSpec = None,
    ) -> list[CheckResult]:
        """Per bind: several heads, unapplied or edited revisions, revision files gone,
        and models the revisions miss.

        A tenanted bind's models are compared with a throwaway tenant built from its
        chain, never with a customer's: the bind gets one result for its heads and its
        models, and each tenant one for what its database holds.

        :param bind: a bind name, several, or None for every bind.
        :param tenant: the tenants of tenanted binds to look at, as for
            :meth:`targets`; every tenant by default.
        :param shard: of those tenants, the K-th of N shares (``"K/N"`` or
            ``(K, N)``), as for :meth:`targets`.
        :param only: the gates to run (see :data:`~flask_schemaver.results.GATES`);
            every gate by default.
        :return: one result per bind (and tenant); ``ok`` tells whether it passed.
        """
        from ..results import GATES
        from ..verbs import checks

        gates = tuple(dict.fromkeys(only)) or GATES
        unknown = set(gates) - set(GATES)
        if unknown:
            raise UsageError(
                f"unknown check {', '.join(sorted(unknown))}; choose from {', '.join(GATES)}"
            )
        settings = self._state().settings
        chosen = self._expand(bind, tenant, shard=shard)
        if "drift" in gates:
            self._refuse_unconfigured_models()
        results: list[CheckResult] = []
        for b, tenants in chosen:
            if tenants is None:
                results.append(checks.check(b, settings, gates))  # type: ignore[arg-type]  # checked above
            else:
                results += self._check_tenanted(b, tenants, settings, gates)  # type: ignore[arg-type]
        return results

    def _check_tenanted(
        self,
        bind: Bind,
        tenants: list[Bind],
        settings: Settings,
        gates: tuple[Gate, ...],
    ) -> list[CheckResult]:
        """The chain's gates on the bind (the models against a throwaway tenant), the
        database's on each tenant."""
        from ..tenants import naming
        from ..verbs import checks

        found: list[CheckResult] = []
        own = tuple(g for g in gates if g in ("heads", "drift"))
        if "drift" in own:
            with self._throwaway(bind) as compared:
                found.append(checks.check(compared, settings, own))
        elif own:
            found.append(checks.check(bind, settings, own))
        per_tenant = tuple(g for g in gates if g not in own)
        with self._once(tenants):
            for t in tenants if per_tenant else ():
                with naming(t):
                    result = checks.check(t, settings, per_tenant)
                result.tenant = t.tenant
                found.append(result)
        return found

    def lint(
        self,
        bind: BindNames = None,
        since: str | Sequence[str] | None = None,
        revisions: str | Sequence[str] | None = None,
    ) -> list[Finding]:
        """Operations in the revisions that lock tables or break running code.

        Nothing runs against a database. See :doc:`/lint`.

        :param bind: a bind name, several, or None for every bind.
        :param since: one revision per bind (or ``head``): only the revisions after
            it in its bind's chain are linted.
        :param revisions: lint only the revisions named.
        :return: the findings, each bind's oldest revision first.
        """
        from ..lint import engine

        settings = self._state().settings
        return engine.lint(
            self.select(bind), settings, since=since, revisions=revisions
        )

    def acknowledge(
        self,
        revision: str,
        bind: BindNames = None,
        tenant: TenantNames = None,
        *,
        shard: ShardSpec = None,
    ) -> dict[str, str]:
        """Accept the current file of an applied, edited revision: record its checksum.

        :param revision: the revision id (or its start, or a branch label).
        :param bind: a bind name, several, or None for the binds that have it.
        :param tenant: on a tenanted bind, the tenants to record it for, as for
            :meth:`targets`; needed there (``"*"`` for every tenant).
        :param shard: of those tenants, the K-th of N shares (``"K/N"`` or
            ``(K, N)``), as for :meth:`targets`.
        :return: the revision id acknowledged per bind (``bind/tenant`` for a tenant).
        """
        from ..tenants import naming
        from ..verbs import checks
        from .looks import status_of

        settings = self._state().settings
        targets = self._targets(bind, tenant, needed="acknowledge", shard=shard)
        found = {}
        for b in self._having(bind, targets, [revision]):
            with naming(b):
                found[b.label] = checks.acknowledge(b, status_of(b, settings), revision)
        return found

    def is_current(
        self,
        bind: BindNames = None,
        tenant: TenantNames = None,
        *,
        shard: ShardSpec = None,
    ) -> bool:
        """Whether every bind's database (every tenant's) is at its heads: cheap enough
        for a health check.

        Answered without Alembic when the revision files allow it, the version tables
        of tenants that share a database read in one query; a database that cannot be
        reached is not current.

        :param bind: a bind name, several, or None for every bind.
        :param tenant: the tenants of tenanted binds, as for :meth:`targets`; every
            tenant by default.
        :param shard: of those tenants, the K-th of N shares (``"K/N"`` or
            ``(K, N)``), as for :meth:`targets`.
        """
        from ..exceptions import SchemaVerError
        from ..verbs import quick
        from .looks import status_of

        targets = self.targets(bind, tenant, shard=shard)
        with self._once(targets):
            found = quick.all_at_heads(targets)
            for b, current in zip(targets, found, strict=True):
                if current is not None:
                    continue
                answer = quick.is_current(b) if b.tenant is None else None
                if answer is None:
                    try:
                        answer = status_of(b, self._state().settings).up_to_date
                    except SchemaVerError:
                        return False
                if not answer:
                    return False
        return True
