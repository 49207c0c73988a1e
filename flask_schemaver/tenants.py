"""Tenanted binds: one revision chain, applied to every tenant of a bind.

The app says which bind is per tenant and how to list its tenants, with
``@schemaver.tenants("shop")`` or :data:`SCHEMAVER_TENANTS`. The function returns
either a list of names, each tenant then living in a schema of the bind's database
(PostgreSQL schemas; on MySQL and MariaDB, databases of the bind's server), or a
mapping of name to database URL, each tenant then having a database of its own.

Each tenant becomes a :class:`~flask_schemaver.binds.Bind` of its own (:meth:`Fleet.tenant`),
so that everything done to a bind (its lock, its version and history tables, a
transaction per revision) is done to the tenant, in the tenant's schema or database,
and the verbs need not know about tenants. A tenant in a schema is reached on the
bind's own pool of connections: SQLAlchemy's ``schema_translate_map`` puts the models'
tables (written without a schema) in the tenant's schema, and the connection's default
schema (``search_path`` on PostgreSQL, ``USE`` on MySQL) does the same for the text a
revision runs.

This module must not import Alembic.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import re
import tempfile
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from typing import Literal

import sqlalchemy as sa

from . import dialects
from .binds import Bind
from .exceptions import ConfigError
from .exceptions import MigrationError
from .exceptions import SchemaVerError
from .exceptions import UsageError
from .options import EVERY_TENANT
from .options import Shard

#: How the tenants of a bind are kept: in schemas of its database, or in databases
#: of their own.
Kind = Literal["schema", "database"]

#: What a tenant may be called: letters, digits and ``_ . $ -``; so none of the
#: characters of a ``--tenant`` pattern, nor ``/``, which joins bind and tenant in
#: messages, nor any that SQL would need more than quoting for.
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.$-]*")

#: The start of a throwaway tenant's name.
THROWAWAY_PREFIX = "schemaver_tmp_"


@dataclasses.dataclass
class Fleet:
    """A tenanted bind and its tenants, as its function listed them."""

    bind: Bind
    kind: Kind
    #: Each tenant's name and where it lives, in the order listed: its schema (for
    #: ``schema``), or its database's URL (for ``database``).
    places: dict[str, Any]

    def matching(self, pattern: str) -> list[str]:
        """The tenants ``pattern`` (a name, or a shell-style pattern) selects."""
        if pattern == EVERY_TENANT:
            return list(self.places)
        return [n for n in self.places if fnmatch.fnmatchcase(n, pattern)]

    def tenant(self, name: str) -> Bind:
        """The bind that stands for tenant ``name``."""
        where = self.places[name]
        if self.kind == "schema":
            return in_schema(self.bind, name, where)
        return in_database(self.bind, name, where)


def in_schema(bind: Bind, name: str, schema: str) -> Bind:
    """Tenant ``name`` of ``bind``, in ``schema`` of the bind's database: reached on
    the bind's pool, its version and history tables in that schema."""
    engine = bind.engine
    translate = dict(engine.get_execution_options().get("schema_translate_map") or {})
    translate[None] = schema
    return dataclasses.replace(
        bind,
        engine=engine.execution_options(schema_translate_map=translate),
        version_table_schema=schema,
        foreign_tables=frozenset(),
        tenant=name,
        tenant_schema=schema,
    )


def in_database(bind: Bind, name: str, url: sa.URL) -> Bind:
    """Tenant ``name`` of ``bind``, in the database at ``url``."""
    return dataclasses.replace(
        bind,
        engine=sa.create_engine(url, poolclass=sa.pool.NullPool),
        foreign_tables=frozenset(),
        tenant=name,
        tenant_schema=None,
    )


def list_fleet(bind: Bind, function: Callable[[], Any]) -> Fleet:
    """Call the function that lists ``bind``'s tenants, and check what it returns.

    :raises MigrationError: when the function fails (the database it reads may be
        down); :raises ConfigError: when it returns something that lists no tenants.
    """
    where = f"the function listing the tenants of bind {bind.name!r}"
    try:
        listed = function()
        if isinstance(listed, Mapping):
            items = list(listed.items())
        elif isinstance(listed, (str, bytes)) or not hasattr(listed, "__iter__"):
            raise ConfigError(
                f"{where} returned {type(listed).__name__}; return a list of tenant "
                "names (a schema each) or a mapping of name to database URL"
            )
        else:
            items = [(name, name) for name in listed]
    except SchemaVerError:
        raise
    except Exception as exc:
        message = bind.hide_secrets(f"{type(exc).__name__}: {exc}".splitlines()[0])
        raise MigrationError(f"{where} failed: {message}", bind.name) from None
    kind: Kind = "database" if isinstance(listed, Mapping) else "schema"
    places: dict[str, Any] = {}
    for name, place in items:
        _check_name(where, name)
        if name in places:
            raise ConfigError(f"{where} lists the tenant {name!r} twice")
        places[name] = _url(where, name, place) if kind == "database" else name
    if kind == "schema":
        _check_schemas(bind)
    return Fleet(bind, kind, places)


def _check_name(where: str, name: Any) -> None:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(
            f"{where} lists {name!r}, which cannot name a tenant: use letters, "
            "digits, '_', '.', '$' and '-' (not first)"
        )
    if name.startswith(THROWAWAY_PREFIX):
        raise ConfigError(
            f"{where} lists {name!r}; names starting with {THROWAWAY_PREFIX!r} are "
            "kept for the throwaway tenants that migrate and check build"
        )


def _url(where: str, name: str, value: Any) -> sa.URL:
    try:
        return value if isinstance(value, sa.URL) else sa.make_url(str(value))
    except sa.exc.ArgumentError:
        raise ConfigError(
            f"{where} maps the tenant {name!r} to something that is not a database URL"
        ) from None


def _check_schemas(bind: Bind) -> None:
    """Refuse a bind whose tenants can't be schemas of its database."""
    kind = dialects.of(bind)
    if not kind.tenant_schemas:
        raise ConfigError(
            f"bind {bind.name!r} is on {bind.dialect}, which keeps no tenants in "
            "schemas of one database: list its tenants as a mapping of tenant name "
            "to database URL"
        )
    if bind.version_table_schema is not None:
        raise ConfigError(
            f"bind {bind.name!r} keeps a version table in each tenant's schema: "
            "remove its 'version_table_schema' from SCHEMAVER_BINDS"
        )
    named = sorted(
        f"{t.schema}.{t.name}" for t in bind.metadata.tables.values() if t.schema
    )
    if named:
        raise ConfigError(
            f"the models of bind {bind.name!r} name a schema ({', '.join(named)}); "
            "a tenanted bind's models are written without one, each tenant's "
            "schema taking its place"
        )


def choose(
    fleets: Sequence[Fleet], patterns: Sequence[str], shard: Shard | None = None
) -> list[list[str]]:
    """The tenants of each fleet that ``patterns`` select (every tenant when there is
    none), in the order listed, then those of them in ``shard``; a pattern that
    selects no tenant is a :class:`~flask_schemaver.UsageError`, an empty shard is
    not."""
    chosen = _matching(fleets, patterns)
    if shard is None:
        return chosen
    return [[n for n in names if shard.holds(n)] for names in chosen]


def _matching(fleets: Sequence[Fleet], patterns: Sequence[str]) -> list[list[str]]:
    if not patterns:
        return [list(f.places) for f in fleets]
    chosen: list[set[str]] = [set() for _ in fleets]
    for pattern in patterns:
        found = False
        for picked, fleet in zip(chosen, fleets, strict=True):
            matched = fleet.matching(pattern)
            picked.update(matched)
            found = found or bool(matched) or pattern == EVERY_TENANT
        if not found:
            raise UsageError(_no_tenant(fleets, pattern))
    return [
        [n for n in fleet.places if n in picked]
        for fleet, picked in zip(fleets, chosen, strict=True)
    ]


def _no_tenant(fleets: Sequence[Fleet], pattern: str) -> str:
    """The line refusing ``pattern``, naming the tenants it may be a typo of."""
    binds = ", ".join(repr(f.bind.name) for f in fleets)
    if any(c in pattern for c in "*?["):
        return f"--tenant {pattern!r} matches no tenant of bind(s) {binds}"
    names = [n for f in fleets for n in f.places]
    close = difflib.get_close_matches(pattern, names, n=3)
    hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
    return f"no tenant {pattern!r} in bind(s) {binds}{hint}"


# -- throwaway tenants: what migrate and check compare the models with ---------------


@dataclasses.dataclass
class Throwaway:
    """A new, empty tenant that only flask_schemaver uses, dropped afterwards."""

    #: The tenant, as migrations reach it.
    tenant: Bind
    #: The same tenant seen as a plain database whose default schema is the
    #: tenant's: what models are compared with, on a connection of its own.
    compared: Bind


@contextmanager
def throwaway(fleet: Fleet) -> Iterator[Throwaway]:
    """A throwaway tenant of ``fleet``'s bind for the ``with`` block: a new schema in
    the bind's database, or a new database on the bind's server (a file for SQLite)."""
    bind = fleet.bind
    name = THROWAWAY_PREFIX + uuid.uuid4().hex[:12]
    if fleet.kind == "schema":
        with _throwaway_schema(bind, name) as made:
            yield made
        return
    with _throwaway_database(bind, name) as url:
        tenant = in_database(bind, name, url)
        yield Throwaway(tenant, tenant)


def schema_throwaway(bind: Bind, name: str) -> Throwaway:
    """Tenant ``name`` of ``bind``, in the schema of that name (which must exist),
    as migrations reach it and as the models are compared with it: on an engine of
    its own, to dispose of."""
    return Throwaway(
        in_schema(bind, name, name),
        dataclasses.replace(
            bind,
            engine=dialects.of(bind).engine_in_schema(bind.engine, name),
            version_table_schema=None,
            foreign_tables=frozenset(),
            tenant=name,
        ),
    )


def _admin(bind: Bind) -> sa.Engine:
    return sa.create_engine(
        bind.engine.url, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT"
    )


def _on(admin: sa.Engine, bind: Bind, work: Callable[[sa.Connection], None]) -> None:
    """Run ``work`` on a connection of ``admin``; a database error is one line."""
    try:
        with admin.connect() as connection:
            work(connection)
    except sa.exc.DBAPIError as exc:
        raise _cannot_make(bind, exc) from None


@contextmanager
def _throwaway_schema(bind: Bind, name: str) -> Iterator[Throwaway]:
    kind = dialects.of(bind)
    admin = _admin(bind)
    try:
        _on(admin, bind, lambda connection: kind.create_schema(connection, name))
        made = schema_throwaway(bind, name)
        try:
            yield made
        finally:
            made.compared.engine.dispose()
            _on(admin, bind, lambda connection: kind.drop_schema(connection, name))
    finally:
        admin.dispose()


@contextmanager
def _throwaway_database(bind: Bind, name: str) -> Iterator[sa.URL]:
    url = bind.engine.url
    if url.get_backend_name() == "sqlite":
        with tempfile.TemporaryDirectory(prefix="schemaver-") as folder:
            yield url.set(database=str(Path(folder) / f"{name}.db"), query={})
        return
    kind = dialects.of(bind)
    if not kind.throwaway:
        raise ConfigError(
            f"bind {bind.name!r} uses {bind.dialect}; flask_schemaver makes throwaway "
            "tenants (to compare the models with) on SQLite, PostgreSQL and "
            "MySQL/MariaDB only",
            bind.name,
        )
    admin = _admin(bind)
    try:
        _on(admin, bind, lambda connection: kind.create_database(connection, name))
        try:
            yield url.set(database=name)
        finally:
            _on(admin, bind, lambda connection: kind.drop_database(connection, name))
    finally:
        admin.dispose()


def _cannot_make(bind: Bind, exc: sa.exc.DBAPIError) -> MigrationError:
    said = bind.hide_secrets(str(exc.orig).strip().splitlines()[0])
    return MigrationError(
        "cannot make or drop the throwaway tenant that the models are compared with "
        f"({said}); the database user needs the right to create and drop schemas or "
        "databases",
        bind.name,
    )


@contextmanager
def naming(bind: Bind) -> Iterator[None]:
    """Errors about ``bind`` raised in the block name its tenant too."""
    try:
        yield
    except SchemaVerError as exc:
        ours = exc.bind in (None, bind.name)
        if bind.tenant is not None and exc.tenant is None and ours:
            exc.bind, exc.tenant = bind.name, bind.tenant
        raise
