"""The Python API that reads: show, history, heads, branches, current, status."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..exceptions import SchemaVerError
from .base import BindAPI

if TYPE_CHECKING:
    from ..binds import Bind
    from ..binds import BindNames
    from ..options import ShardSpec
    from ..options import TenantNames
    from ..results import BindStatus
    from ..results import Revision
    from ..runtime.history import History
    from ..settings import Settings


class LooksAPI(BindAPI):
    """The Python API that reads."""

    def current(
        self,
        bind: BindNames = None,
        tenant: TenantNames = None,
        *,
        shard: ShardSpec = None,
    ) -> dict[str, tuple[str, ...]]:
        """The revisions each bind's database (each tenant's) is at.

        :param bind: a bind name, several, or None for every bind.
        :param tenant: the tenants of tenanted binds, as for :meth:`targets`; every
            tenant by default.
        :param shard: of those tenants, the K-th of N shares (``"K/N"`` or
            ``(K, N)``), as for :meth:`targets`.
        :return: each bind's name (``bind/tenant`` for a tenant) and its current
            revision ids (empty at base).
        """
        from ..tenants import naming
        from ..verbs import looks

        found = {}
        for b in self.targets(bind, tenant, shard=shard):
            with naming(b):
                found[b.label] = looks.current(b)
        return found

    def current_revisions(
        self,
        bind: BindNames = None,
        tenant: TenantNames = None,
        *,
        shard: ShardSpec = None,
    ) -> dict[str, tuple[list[Revision], tuple[str, ...]]]:
        """Each bind's current revisions in full, as Alembic's ``current`` finds them:
        those its version table names and the revisions they depend on that no other
        of them builds on (heads among them are marked effective heads); and the names
        in the version table that no revision file has.

        :param bind: a bind name, several, or None for every bind.
        :param tenant: the tenants of tenanted binds, as for :meth:`targets`; every
            tenant by default. A tenant's key is ``bind/tenant``.
        :param shard: of those tenants, the K-th of N shares (``"K/N"`` or
            ``(K, N)``), as for :meth:`targets`.
        """
        from ..tenants import naming
        from ..verbs import looks

        settings = self._state().settings
        found = {}
        for b in self.targets(bind, tenant, shard=shard):
            with naming(b):
                found[b.label] = looks.current_revisions(b, settings)
        return found

    def heads(self, bind: BindNames = None) -> dict[str, list[Revision]]:
        """Each bind's head revisions.

        :param bind: a bind name, several, or None for every bind.
        """
        from ..script import chain

        binds = self.select(bind)
        lines = [chain.linear(b.directory) for b in binds]
        if all(line is not None for line in lines):
            return {
                b.name: line[-1:]
                for b, line in zip(binds, lines, strict=True)
                if line is not None
            }
        from ..verbs import looks

        settings = self._state().settings
        return {b.name: looks.heads(b, settings) for b in binds}

    def branches(self, bind: BindNames = None) -> dict[str, list[Revision]]:
        """Each bind's branch points: revisions that more than one revision builds on.

        :param bind: a bind name, several, or None for every bind.
        """
        from ..verbs import looks

        settings = self._state().settings
        return {b.name: looks.branches(b, settings) for b in self.select(bind)}

    def history(
        self,
        rev_range: str | None = None,
        bind: BindNames = None,
        tenant: TenantNames = None,
        *,
        shard: ShardSpec = None,
    ) -> dict[str, list[Revision]]:
        """Each bind's revisions, newest first.

        :param rev_range: ``START:END`` to list only part of the chain; either end may
            be left out, or be ``current``.
        :param bind: a bind name, several, or None for every bind.
        :param tenant: with ``current`` in ``rev_range``, the tenants whose current
            revision counts, as for :meth:`targets` (keys ``bind/tenant``).
        :param shard: of those tenants, the K-th of N shares (``"K/N"`` or
            ``(K, N)``), as for :meth:`targets`.
        """
        if not rev_range:
            from ..script import chain

            binds = self.select(bind)
            lines = [chain.linear(b.directory) for b in binds]
            if all(line is not None for line in lines):
                return {
                    b.name: list(reversed(line))
                    for b, line in zip(binds, lines, strict=True)
                    if line is not None
                }
        from ..verbs import looks

        settings = self._state().settings
        ends = (rev_range or "").split(":")
        targets = [e for e in ends if e and e != "current"]
        return {
            b.label: looks.history(b, settings, rev_range)
            for b in self._having(
                bind, self._current_of(bind, tenant, shard, "current" in ends), targets
            )
        }

    def _current_of(
        self, bind: BindNames, tenant: TenantNames, shard: ShardSpec, current: bool
    ) -> list[Bind]:
        """The binds named; when ``current`` counts, tenanted ones in the place of
        their tenants (each tenant has its own current revision)."""
        if current:
            return self.targets(bind, tenant, shard=shard)
        if tenant is not None or shard is not None:
            # A tenant that does not exist, or a bad shard, is bad input.
            self.targets(bind, tenant, shard=shard)
        return self.select(bind)

    def show(
        self,
        revision: str = "head",
        bind: BindNames = None,
        tenant: TenantNames = None,
        *,
        shard: ShardSpec = None,
    ) -> dict[str, list[Revision]]:
        """The revisions ``revision`` names in each bind.

        :param revision: a revision id (or its start), ``head``, ``label@head``,
            ``current``...
        :param bind: a bind name, several, or None for the binds that have it.
        :param tenant: for ``current``, the tenants whose current revisions to show,
            as for :meth:`targets` (keys ``bind/tenant``).
        :param shard: of those tenants, the K-th of N shares (``"K/N"`` or
            ``(K, N)``), as for :meth:`targets`.
        """
        from ..verbs import looks

        settings = self._state().settings
        current = revision == "current"
        targets = [] if current else [revision]
        return {
            b.label: looks.show(b, settings, revision)
            for b in self._having(
                bind, self._current_of(bind, tenant, shard, current), targets
            )
        }

    def status(
        self,
        bind: BindNames = None,
        tenant: TenantNames = None,
        *,
        shard: ShardSpec = None,
    ) -> list[BindStatus]:
        """Each bind's revisions marked applied or pending, and what its database is at.

        :param bind: a bind name, several, or None for every bind.
        :param tenant: the tenants of tenanted binds, as for :meth:`targets`; every
            tenant by default, one status each.
        :param shard: of those tenants, the K-th of N shares (``"K/N"`` or
            ``(K, N)``), as for :meth:`targets`.
        """
        found = statuses(
            self.targets(bind, tenant, shard=shard), self._state().settings
        )
        for state in found:
            if isinstance(state, SchemaVerError):
                raise state
        return found  # type: ignore[return-value]


def statuses(
    binds: Sequence[Bind], settings: Settings
) -> list[BindStatus | SchemaVerError]:
    """The status of each of ``binds``, or the error that kept it from being read.

    Tenants in schemas of one database (or databases of one MySQL server) have
    their version and history tables read together, a few statements for them all,
    rather than a connection each; each folder's files are read once.
    """
    from ..runtime import fleet
    from ..script.files import held

    many = [b for b in binds if fleet.shared_by(b) is not None]
    pairs = zip(fleet.read_versions(many), fleet.read_histories(many), strict=True)
    read = {id(b): pair for b, pair in zip(many, pairs, strict=True)}
    found: list[BindStatus | SchemaVerError] = []
    with held():
        for b in binds:
            try:
                found.append(status_of(b, settings, read.get(id(b))))
            except SchemaVerError as exc:
                found.append(exc)
    return found


def status_of(
    bind: Bind,
    settings: Settings,
    read: tuple[tuple[str, ...] | None, History | None] | None = None,
) -> BindStatus:
    """The status of one bind (or tenant), from the text of its files when they form a
    plain line, else through Alembic; from its version and history tables as ``read``
    already, if they were."""
    from ..tenants import naming
    from ..verbs import quick

    with naming(bind):
        if read is None or read[0] is None:
            state = quick.status(bind)
        else:
            state = quick.status_from(bind, *read)
        if state is None:
            from ..verbs import looks

            state = looks.status(bind, settings)
    state.tenant = bind.tenant
    return state
