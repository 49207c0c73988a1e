"""The Python API that provisions and lists the tenants of tenanted binds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..exceptions import UsageError
from .base import BindAPI

if TYPE_CHECKING:
    from ..binds import Bind
    from ..binds import BindNames
    from ..options import WaitCallback
    from ..results import TenantInfo
    from ..results import TenantResult


class TenantsAPI(BindAPI):
    """The Python API of the tenants of tenanted binds."""

    def create_tenant(
        self,
        bind: str | None,
        name: str | None = None,
        *,
        on_wait: WaitCallback | None = None,
    ) -> TenantResult:
        """Make tenant ``name``'s schema or database, unless it exists, and bring it
        to the heads of its bind's chain, under the tenant's lock:
        ``create_tenant("shop", "acme")``, or ``create_tenant("acme")`` when the app
        has one tenanted bind.

        The tenant must be one that the bind's tenant function lists already: the
        app records the new tenant first (a row in its tenants table, flushed in
        the same session, say), then calls this, so that every later ``upgrade``
        reaches the tenant too. Where it lives is what that function says: a schema
        named like the tenant, or the database its URL names (a SQLite file, or a
        database made on the URL's server).

        Calling it again is harmless: a tenant at the heads is left alone, quickly,
        without a lock; one behind is upgraded. When the upgrade fails, a schema or
        database made by this call is dropped again, and the error says so.

        :param bind: the tenanted bind (None: the app's only one).
        :param name: the tenant's name, as the tenant function lists it.
        :param on_wait: called while waiting for the tenant's migration lock.
        :return: what was made and which revisions ran.
        :raises UsageError: for a bind without tenants, or a name the tenant
            function does not list.
        :raises MigrationError: when the schema or database cannot be made, or a
            revision fails.
        """
        from ..tenants import _NAME
        from ..verbs import tenants

        if name is None:
            bind, name = None, bind  # create_tenant(name): the one tenanted bind
        chosen = self._tenanted(bind)
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise UsageError(
                f"{name!r} cannot name a tenant: use letters, digits, '_', '.', '$' "
                "and '-' (not first)"
            )
        fleet = self._fleet(chosen)
        if name not in fleet.places:
            raise UsageError(
                f"bind {chosen.name!r} has no tenant {name!r}: its tenant function "
                "does not list it; record the tenant where that function finds it "
                "(a row of the app's tenants table, say), then create it"
            )
        limit = chosen.engine.dialect.max_identifier_length
        if fleet.kind == "schema" and len(name) > limit:
            raise UsageError(
                f"the tenant name {name!r} is {len(name)} characters long; "
                f"{chosen.dialect} names a schema with at most {limit}"
            )
        # Not in script.files.held(), which is process-wide: requests may run in
        # threads. Alembic's import of the revision files is kept per process anyway.
        return tenants.create(fleet, name, self._state().settings, on_wait=on_wait)

    def list_tenants(self, bind: BindNames = None) -> list[TenantInfo]:
        """The tenants of the tenanted binds, as their functions list them now: where
        each lives and the revisions it is at.

        Reads the version tables of tenants in schemas of one database together, in
        a couple of statements; a tenant whose schema, database or file is missing is
        listed as such (and nothing is made).

        :param bind: a tenanted bind's name, several, or None for every tenanted bind.
        :return: one item per tenant, bind by bind, in the order listed.
        """
        from ..verbs import tenants

        functions = self._tenant_functions()
        chosen = self.select(bind)
        if bind:
            for b in chosen:
                if b.name not in functions:
                    self._tenanted(b.name)  # refused, naming the choices
        fleets = [self._fleet(b) for b in chosen if b.name in functions]
        if not fleets:
            self._tenanted(None)
        return tenants.listing(fleets)

    def _tenanted(self, bind: str | None) -> Bind:
        """The tenanted bind named ``bind``; the only one when None."""
        functions = self._tenant_functions()
        if not functions:
            raise UsageError(
                "the app has no tenanted binds (declare one with @schemaver.tenants "
                "or SCHEMAVER_TENANTS)"
            )
        choices = ", ".join(b for b in self.binds if b in functions)
        if bind is None:
            if len(functions) > 1:
                raise UsageError(
                    f"the app has several tenanted binds: name one with --bind "
                    f"({choices})"
                )
            bind = next(iter(functions))
        [chosen] = self.select(bind)
        if chosen.name not in functions:
            raise UsageError(
                f"bind {chosen.name!r} has no tenants; the tenanted binds are: "
                f"{choices}"
            )
        return chosen
