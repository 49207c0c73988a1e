"""Tenanted binds in tests: each one checked, and given to the fixtures, as a
throwaway tenant of a throwaway database.

A bind whose tenants live in schemas gets a schema of the throwaway database,
reached the way ``flask db upgrade`` reaches a customer's (``schema_translate_map``
and the connection's default schema, its own version and history tables); a bind
with a database per tenant gets the throwaway database itself as its tenant.

The app's function that lists its tenants is never called here: it would list,
and the tests might touch, real tenants. Which binds are tenanted is read from
the declarations alone, and how they keep their tenants from the dialect of the
test database or from ``schemaver_tenants``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from collections.abc import Mapping
from contextlib import ExitStack
from typing import Any
from typing import TYPE_CHECKING

import sqlalchemy as sa

from .. import dialects
from ..exceptions import ConfigError
from ..tenants import _check_schemas
from ..tenants import Fleet
from ..tenants import in_schema
from ..tenants import schema_throwaway
from ..tenants import throwaway
from ..tenants import THROWAWAY_PREFIX

if TYPE_CHECKING:
    from ..binds import Bind
    from ..tenants import Kind

#: The name of the throwaway tenant each tenanted bind gets: also its schema, which
#: lives in a database of the test's own, so one name serves every test.
TENANT = f"{THROWAWAY_PREFIX}tenant"

_KINDS: tuple[Kind, ...] = ("schema", "database")


def tenanted(state: Any, binds: Iterable[str]) -> list[str]:
    """Which of ``binds`` the app declares tenanted (with ``@schemaver.tenants`` or
    ``SCHEMAVER_TENANTS``), without calling, or importing, their functions."""
    declared = {*state.extension.tenant_functions, *state.settings.tenants}
    return [name for name in binds if name in declared]


def declared_kinds(words: Iterable[str], tenanted: Iterable[str]) -> dict[str, Kind]:
    """The ``BIND=schema`` and ``BIND=database`` entries of ``schemaver_tenants``.

    :raises ConfigError: for an entry that is not one, or names no tenanted bind.
    """
    names = list(tenanted)
    found: dict[str, Kind] = {}
    for word in words:
        bind, _, kind = word.partition("=")
        if kind not in _KINDS:
            raise ConfigError(
                f"schemaver_tenants: {word!r} is not BIND=schema or BIND=database"
            )
        if bind not in names:
            raise ConfigError(
                f"schemaver_tenants: {bind!r} is not a tenanted bind of the app; its "
                f"tenanted binds are: {', '.join(names) or 'none'}"
            )
        found[bind] = kind
    return found


def kinds(
    state: Any, binds: Mapping[str, Bind], declared: Mapping[str, str] | None
) -> dict[str, Kind]:
    """How each tenanted bind of ``binds`` keeps its tenants in the tests: as
    ``declared``, else in schemas where the bind's database has them (PostgreSQL,
    MySQL/MariaDB), else in databases of their own.

    :raises ConfigError: as ``flask db upgrade`` would for a bind whose tenants
        cannot be schemas (its dialect, a schema in its models).
    """
    names = tenanted(state, binds)
    chosen = declared_kinds(
        (f"{bind}={kind}" for bind, kind in (declared or {}).items()), names
    )
    for name in names:
        bind = binds[name]
        default: Kind = "schema" if dialects.of(bind).tenant_schemas else "database"
        chosen.setdefault(name, default)
        if chosen[name] == "schema":
            _check_schemas(bind)
    return {name: chosen[name] for name in names}


def as_tenant(bind: Bind, kind: Kind) -> Bind:
    """``bind`` as its throwaway tenant, :data:`TENANT`: what a template is built
    for, and what the runner migrates."""
    if kind == "schema":
        return in_schema(bind, TENANT, TENANT)
    return dataclasses.replace(
        bind, foreign_tables=frozenset(), tenant=TENANT, tenant_schema=None
    )


def copied(bind: Bind, kind: Kind | None) -> bool:
    """Whether a copy of the bind's database carries its throwaway tenant: not when
    the tenant's schema is a database of the server (MySQL, MariaDB)."""
    return kind != "schema" or dialects.of(bind).schemas_in_database


def on_engine(bind: Bind, engine: sa.Engine) -> Bind:
    """``bind`` on ``engine``, a tenant in a schema still in its schema (made here
    if the database lacks it)."""
    if bind.tenant_schema is None:
        return dataclasses.replace(bind, engine=engine)
    with engine.begin() as connection:
        if bind.tenant_schema not in sa.inspect(connection).get_schema_names():
            dialects.of(bind).create_schema(connection, bind.tenant_schema)
    plain = dataclasses.replace(bind, engine=engine, tenant=None, tenant_schema=None)
    return in_schema(plain, bind.tenant or TENANT, bind.tenant_schema)


def place(
    bind: Bind, kind: Kind | None, engine: sa.Engine, stack: ExitStack
) -> tuple[Bind, Bind]:
    """``bind`` on the throwaway database ``engine`` reaches: as migrations reach it
    (a tenant, for a tenanted bind) and as tests and the models see it (a tenant
    in a schema as a database whose default schema is the tenant's). What must be
    dropped or closed afterwards is left on ``stack``."""
    plain = dataclasses.replace(bind, engine=engine)
    if kind is None:
        return plain, plain
    if kind == "database":
        tenant = as_tenant(plain, kind)
        return tenant, tenant
    if dialects.of(bind).schemas_in_database:
        on_engine(as_tenant(plain, kind), engine)  # makes the schema if need be
        made = schema_throwaway(plain, TENANT)
        stack.callback(made.compared.engine.dispose)
    else:  # a database of the server: its own name, dropped afterwards
        made = stack.enter_context(throwaway(Fleet(plain, "schema", {})))
    return made.tenant, made.compared
