"""PostgreSQL ENUM values in autogenerate, which Alembic does not compare.

Each ENUM type of the models that the database has too is compared value by value.
Values added, renamed (when the user says a removed value became an added one) and
removed become one :class:`~.sqlops.AlterEnumOp`, written as ``ALTER TYPE`` statements
in the revision and reversed in its downgrade.
"""

from __future__ import annotations

from typing import Any
from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic.operations import ops

from ..results import Rename
from .renames import decide
from .sqlops import AlterEnumOp
from .sqlops import EnumColumn

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext

    from .autogen import Request

_COLUMNS = sa.text(
    "SELECT c.relname, n.nspname, a.attname, pg_get_expr(d.adbin, d.adrelid) "
    "FROM pg_attribute AS a "
    "JOIN pg_class AS c ON c.oid = a.attrelid "
    "JOIN pg_namespace AS n ON n.oid = c.relnamespace "
    "JOIN pg_type AS t ON t.oid = a.atttypid "
    "JOIN pg_namespace AS tn ON tn.oid = t.typnamespace "
    "LEFT JOIN pg_attrdef AS d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
    "WHERE t.typname = :name AND tn.nspname = :schema "
    "AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped "
    "ORDER BY n.nspname, c.relname, a.attnum"
)


def model_enums(metadata: sa.MetaData) -> dict[tuple[str | None, str], list[str]]:
    """The native ENUM types the models use: (schema, name) to their values."""
    found: dict[tuple[str | None, str], list[str]] = {}
    for table in metadata.tables.values():
        for column in table.columns:
            type_: Any = column.type
            if isinstance(type_, sa.Enum) and type_.native_enum and type_.name:
                schema = type_.schema or table.schema
                found[(schema, type_.name)] = list(type_.enums)
    return found


def compare(
    context: MigrationContext, upgrade_ops: ops.UpgradeOps, request: Request
) -> bool:
    """Add the ``ALTER TYPE`` work for changed ENUM values; True if there was any."""
    connection = context.connection
    if connection is None:
        return False
    wanted = model_enums(request.bind.metadata)
    if not wanted:
        return False
    inspector: Any = sa.inspect(connection)
    default_schema = inspector.default_schema_name
    existing = {
        (None if e["schema"] == default_schema else e["schema"], e["name"]): list(
            e["labels"]
        )
        for e in inspector.get_enums(schema="*")
    }
    added = []
    for (schema, name), values in wanted.items():
        old = existing.get((schema, name))
        if old is None or old == values:
            continue
        renamed = _renamed(request, name, old, values)
        columns = _columns(connection, name, schema or default_schema, default_schema)
        added.append(AlterEnumOp(name, schema, old, values, renamed, columns))
    upgrade_ops.ops[:0] = added
    return bool(added)


def _renamed(
    request: Request, name: str, old: list[str], new: list[str]
) -> list[tuple[str, str]]:
    """Removed values that the answers say became added ones in the same place."""
    gone = [v for v in old if v not in new]
    came = [v for v in new if v not in old]
    pairs = []
    for value in gone:
        given = [
            c
            for c in came
            if any((r.table, r.old, r.new) == (name, value, c) for r in request.renames)
        ]
        # Asked about (or reported) only the added value in the removed one's place.
        positional = [c for c in came if new.index(c) == old.index(value)]
        for candidate in given or positional:
            rename = Rename("enum value", name, value, candidate, f"ENUM {name}")
            if decide(request, rename):
                pairs.append((value, candidate))
                came.remove(candidate)
            break
    return pairs


def _columns(
    connection: sa.Connection, name: str, schema: str, default_schema: str
) -> list[EnumColumn]:
    rows = connection.execute(_COLUMNS, {"name": name, "schema": schema})
    return [
        EnumColumn(table, column, None if where == default_schema else where, default)
        for table, where, column, default in rows
    ]
