"""Reading the version tables of many tenants at once.

A no-op ``upgrade`` over a fleet must not cost a connection and an Alembic environment
per tenant. Tenants that live in schemas of one database are read together: one query
finds which schemas hold the version table, and one more (per few hundred tenants)
reads every row of them. Tenants with databases of their own, and plain binds, are read
one by one, as :func:`~flask_schemaver.runtime.versions.read_or_none` does.

This module must not import Alembic.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any
from typing import TYPE_CHECKING

import sqlalchemy as sa

from .. import dialects
from ..binds import database_identity
from . import connections
from . import versions

if TYPE_CHECKING:
    from ..binds import Bind

#: Tenants read by one statement: a few hundred SELECTs joined by UNION ALL.
_CHUNK = 250


def read_versions(binds: Sequence[Bind]) -> list[tuple[str, ...] | None]:
    """What each bind's version table holds, in ``binds`` order: () without a table,
    None when it could not be read (the full path then reports why)."""
    found: list[tuple[str, ...] | None] = [None] * len(binds)
    shared: dict[tuple[Any, ...], list[int]] = {}
    for index, bind in enumerate(binds):
        if bind.tenant_schema is None:
            found[index] = versions.read_or_none(bind)
        else:
            key = (*database_identity(bind.engine), bind.version_table)
            shared.setdefault(key, []).append(index)
    for indexes in shared.values():
        together = [binds[i] for i in indexes]
        for index, rows in zip(indexes, _read_schemas(together), strict=True):
            found[index] = rows
    return found


def _read_schemas(binds: Sequence[Bind]) -> list[tuple[str, ...] | None]:
    """The version tables of tenants in schemas of one database, one connection."""
    first = binds[0]
    table = first.version_table
    schemas = [b.tenant_schema for b in binds if b.tenant_schema is not None]
    server = dataclasses.replace(first, tenant=None, tenant_schema=None)
    try:
        with connections.connect(server) as connection:
            holding = dialects.of(first).schemas_holding(connection, table, schemas)
            rows = _rows(connection, table, [s for s in schemas if s in holding])
            connection.rollback()
    except sa.exc.SQLAlchemyError:
        return [None] * len(binds)
    return [tuple(rows.get(s, ())) for s in schemas]


def _rows(
    connection: sa.Connection, table: str, schemas: list[str]
) -> dict[str, list[str]]:
    """Every row of ``table`` in each of ``schemas``, a few hundred schemas a query."""
    quote = connection.dialect.identifier_preparer.quote_identifier
    found: dict[str, list[str]] = {}
    for start in range(0, len(schemas), _CHUNK):
        part = schemas[start : start + _CHUNK]
        # Numbers, not names, tell the schemas apart: nothing but identifiers is
        # written into the statement, and each of them quoted.
        query = " UNION ALL ".join(
            f"SELECT {number} AS n, version_num FROM {quote(schema)}.{quote(table)}"
            for number, schema in enumerate(part)
        )
        for number, version in connection.exec_driver_sql(query):
            found.setdefault(part[number], []).append(version)
    return found
