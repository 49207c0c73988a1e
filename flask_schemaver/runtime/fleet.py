"""Reading the version tables of many tenants at once.

A no-op ``upgrade`` over a fleet must not cost a connection and an Alembic environment
per tenant. Tenants that live in schemas of one database are read together: one query
finds which schemas hold the version table, and one more (per few hundred tenants)
reads every row of them. So are tenants with databases of their own on one MySQL or
MariaDB server, whose databases one connection reaches. ``status`` reads their
history tables the same way. Other tenants with databases of their own (PostgreSQL,
SQLite), and plain binds, are read one by one, as
:func:`~flask_schemaver.runtime.versions.read_or_none` does.

This module must not import Alembic.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any
from typing import TYPE_CHECKING
from typing import TypeVar

import sqlalchemy as sa

from .. import dialects
from ..binds import database_identity
from . import connections
from . import history
from . import versions

if TYPE_CHECKING:
    from ..binds import Bind

#: Tenants read by one statement: a few hundred SELECTs joined by UNION ALL.
_CHUNK = 250

_T = TypeVar("_T")


def read_versions(binds: Sequence[Bind]) -> list[tuple[str, ...] | None]:
    """What each bind's version table holds, in ``binds`` order: () without a table,
    None when it could not be read (the full path then reports why)."""
    return _read(binds, versions.read_or_none, _read_versions)


def read_histories(binds: Sequence[Bind]) -> list[history.History | None]:
    """What each bind's history table says, in ``binds`` order; None when it could
    not be read."""

    def alone(bind: Bind) -> history.History | None:
        try:
            return history.read_all(bind)
        except sa.exc.SQLAlchemyError:
            return None

    return _read(binds, alone, _read_histories)


def _read(
    binds: Sequence[Bind],
    alone: Callable[[Bind], _T | None],
    together: Callable[[sa.Connection, Sequence[Bind]], list[_T]],
) -> list[_T | None]:
    """``alone`` for each bind, but ``together`` on one connection for the tenants in
    schemas of one database."""
    found: list[_T | None] = [None] * len(binds)
    shared: dict[tuple[Any, ...], list[int]] = {}
    for index, bind in enumerate(binds):
        key = shared_by(bind)
        if key is None:
            found[index] = alone(bind)
        else:
            shared.setdefault(key, []).append(index)
    for indexes in shared.values():
        group = [binds[i] for i in indexes]
        read = _together(group, together)
        if read is None:
            continue
        for index, value in zip(indexes, read, strict=True):
            found[index] = value
    return found


#: Tenants of one server tried as the way in before giving up on reading together.
_TRIES = 3


def _together(
    group: list[Bind], together: Callable[[sa.Connection, Sequence[Bind]], list[_T]]
) -> list[_T] | None:
    """``together`` for ``group`` on one connection: to the database the schemas are
    in, or to the first tenant's database on the server that can be reached (one
    not made yet can't); None when none can."""
    if group[0].tenant_schema is not None:
        ways_in = [dataclasses.replace(group[0], tenant=None, tenant_schema=None)]
    else:
        ways_in = group[:_TRIES]
    for way_in in ways_in:
        try:
            with connections.connect(way_in) as connection:
                read = together(connection, group)
                connection.rollback()
                return read
        except sa.exc.SQLAlchemyError:
            continue
    return None


def shared_by(bind: Bind) -> tuple[Any, ...] | None:
    """What tenants read together on one connection share: the database their
    schemas are in, or (MySQL, MariaDB) the server their databases are on; None for
    a bind read alone."""
    if bind.tenant_schema is not None:
        return ("database", *database_identity(bind.engine), bind.version_table)
    kind = dialects.of(bind)
    if bind.tenant is None or not kind.tenant_schemas or kind.schemas_in_database:
        return None
    if bind.version_table_schema is not None:  # kept elsewhere than its database
        return None
    # A database of its own on a server whose databases one connection reaches:
    # the same server, reached the same way.
    url = bind.engine.url._replace(database=None)  # set() takes None as "unchanged"
    return ("server", url.render_as_string(hide_password=False), bind.version_table)


def _schemas(binds: Sequence[Bind]) -> list[str]:
    """Where each tenant's tables are: its schema, or its database on the server."""
    return [b.tenant_schema or str(b.engine.url.database) for b in binds]


def _read_versions(
    connection: sa.Connection, binds: Sequence[Bind]
) -> list[tuple[str, ...]]:
    """The version tables of tenants in schemas of one database."""
    table, schemas = binds[0].version_table, _schemas(binds)
    holding = dialects.of(binds[0]).schemas_holding(connection, table, schemas)
    rows = _rows(connection, table, "version_num", [s for s in schemas if s in holding])
    return [tuple(row[0] for row in rows.get(s, ())) for s in schemas]


def _read_histories(
    connection: sa.Connection, binds: Sequence[Bind]
) -> list[history.History]:
    """The history tables of tenants in schemas of one database (empty where a tenant
    has none yet, or keeps none)."""
    if not binds[0].history:
        return [history.History({}, []) for _ in binds]
    table, schemas = binds[0].history_table, _schemas(binds)
    holding = dialects.of(binds[0]).schemas_holding(connection, table, schemas)
    quote = connection.dialect.identifier_preparer.quote_identifier
    columns = ", ".join(quote(c) for c in ("id", *history.COLUMNS))
    rows = _rows(connection, table, columns, [s for s in schemas if s in holding])
    return [history.from_rows(_in_order(rows.get(s, []))) for s in schemas]


def _in_order(rows: list[Sequence[Any]]) -> list[Sequence[Any]]:
    """History rows in the order written (by id), without the id."""
    return [row[1:] for row in sorted(rows, key=lambda row: row[0])]


def _rows(
    connection: sa.Connection, table: str, columns: str, schemas: list[str]
) -> dict[str, list[Sequence[Any]]]:
    """``columns`` of every row of ``table`` in each of ``schemas``, a few hundred
    schemas a query."""
    quote = connection.dialect.identifier_preparer.quote_identifier
    found: dict[str, list[Sequence[Any]]] = {}
    for start in range(0, len(schemas), _CHUNK):
        part = schemas[start : start + _CHUNK]
        # Numbers, not names, tell the schemas apart: nothing but identifiers is
        # written into the statement, and each of them quoted.
        query = " UNION ALL ".join(
            f"SELECT {number} AS n, {columns} FROM {quote(schema)}.{quote(table)}"
            for number, schema in enumerate(part)
        )
        for number, *row in connection.exec_driver_sql(query):
            found.setdefault(part[number], []).append(row)
    return found
