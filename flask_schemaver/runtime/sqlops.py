"""Operations that autogenerate adds and Alembic has no ``op`` call for.

Each renders into the revision file as ``op.execute()`` of plain SQL for the bind's
dialect, and knows its reverse, so the downgrade is written too. Once written, they are
ordinary ``op.execute()`` calls: nothing here is needed to run a revision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import renderers
from alembic.operations import ops


def _quote(dialect: sa.Dialect, name: str, schema: str | None = None) -> str:
    quote = dialect.identifier_preparer.quote
    return f"{quote(schema)}.{quote(name)}" if schema else quote(name)


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class SQLOp(ops.MigrateOperation):
    """An operation written as SQL statements for one dialect."""

    def statements(self, dialect: sa.Dialect) -> list[str]:
        raise NotImplementedError


@renderers.dispatch_for(SQLOp)
def _render(autogen_context: Any, op: SQLOp) -> list[str]:
    dialect = autogen_context.dialect
    return [f"op.execute({sql!r})" for sql in op.statements(dialect)]


@dataclass
class RenameIndexOp(SQLOp):
    """Rename an index: it stays built, on PostgreSQL and MySQL/MariaDB."""

    table_name: str
    old: str
    new: str
    schema: str | None = None

    def reverse(self) -> RenameIndexOp:
        return RenameIndexOp(self.table_name, self.new, self.old, self.schema)

    def statements(self, dialect: sa.Dialect) -> list[str]:
        if dialect.name == "postgresql":
            return [
                f"ALTER INDEX {_quote(dialect, self.old, self.schema)} RENAME TO "
                f"{_quote(dialect, self.new)}"
            ]
        return [
            f"ALTER TABLE {_quote(dialect, self.table_name, self.schema)} RENAME INDEX "
            f"{_quote(dialect, self.old)} TO {_quote(dialect, self.new)}"
        ]


@dataclass
class RenameConstraintOp(SQLOp):
    """Rename a constraint on PostgreSQL (a unique one's index is renamed with it)."""

    table_name: str
    old: str
    new: str
    schema: str | None = None

    def reverse(self) -> RenameConstraintOp:
        return RenameConstraintOp(self.table_name, self.new, self.old, self.schema)

    def statements(self, dialect: sa.Dialect) -> list[str]:
        return [
            f"ALTER TABLE {_quote(dialect, self.table_name, self.schema)} RENAME "
            f"CONSTRAINT {_quote(dialect, self.old)} TO {_quote(dialect, self.new)}"
        ]


@dataclass
class EnumColumn:
    """A column whose type is an ENUM, with its server default if it has one."""

    table: str
    column: str
    schema: str | None
    default: str | None


@dataclass
class AlterEnumOp(SQLOp):
    """Bring a PostgreSQL ENUM type from ``old`` values to ``new`` ones.

    Renamed values are renamed in place (``RENAME VALUE``), and values added with
    ``ADD VALUE ... BEFORE/AFTER`` so that their order is kept, which takes no table
    lock. A value that goes away can only go with the type: the type is renamed, a new
    one made with the new values, each column converted (``USING col::text::type``,
    which fails, rolling the revision back, if a row still holds a removed value), and
    the old type dropped.
    """

    name: str
    schema: str | None
    old: Sequence[str]
    new: Sequence[str]
    #: (old, new) value pairs renamed in place.
    renamed: Sequence[tuple[str, str]] = ()
    columns: Sequence[EnumColumn] = ()

    def reverse(self) -> AlterEnumOp:
        return AlterEnumOp(
            self.name,
            self.schema,
            self.new,
            self.old,
            [(b, a) for a, b in self.renamed],
            self.columns,
        )

    def statements(self, dialect: sa.Dialect) -> list[str]:
        target = _quote(dialect, self.name, self.schema)
        out = [
            f"ALTER TYPE {target} RENAME VALUE {_literal(a)} TO {_literal(b)}"
            for a, b in self.renamed
        ]
        current = [dict(self.renamed).get(v, v) for v in self.old]
        if set(current) - set(self.new):
            return out + self._recreate(dialect)
        return out + self._additions(target, current)

    def _additions(self, target: str, current: list[str]) -> list[str]:
        out = []
        for index, value in enumerate(self.new):
            if value in current:
                continue
            later = [v for v in self.new[index + 1 :] if v in current]
            if later:
                where = f" BEFORE {_literal(later[0])}"
            else:
                where = f" AFTER {_literal(current[-1])}" if current else ""
            out.append(f"ALTER TYPE {target} ADD VALUE {_literal(value)}{where}")
            current.insert(current.index(later[0]) if later else len(current), value)
        return out

    def _recreate(self, dialect: sa.Dialect) -> list[str]:
        old_name = f"{self.name}_old"
        target = _quote(dialect, self.name, self.schema)
        values = ", ".join(_literal(v) for v in self.new)
        out = [
            f"ALTER TYPE {target} RENAME TO {_quote(dialect, old_name)}",
            f"CREATE TYPE {target} AS ENUM ({values})",
        ]
        for column in self.columns:
            table = _quote(dialect, column.table, column.schema)
            name = _quote(dialect, column.column)
            if column.default is not None:
                out.append(f"ALTER TABLE {table} ALTER COLUMN {name} DROP DEFAULT")
            out.append(
                f"ALTER TABLE {table} ALTER COLUMN {name} TYPE {target} USING "
                f"{name}::text::{target}"
            )
            if column.default is not None:
                default = column.default.replace(f"::{self.name}", f"::{target}")
                out.append(
                    f"ALTER TABLE {table} ALTER COLUMN {name} SET DEFAULT {default}"
                )
        out.append(f"DROP TYPE {_quote(dialect, old_name, self.schema)}")
        return out
