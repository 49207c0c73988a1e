"""What the lint checks know about a revision: its operations, and how to read them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import sqlalchemy as sa
from alembic.operations import ops

from ..runtime.backfill import BackfillOp
from .source import SourceFacts
from .sql import Reading
from .sql import SqlDataOp


@dataclass
class Operation:
    """One recorded operation of a revision's upgrade, as the checks see it."""

    op: Any
    #: First line of the statement that asked for it; 0 when unknown.
    line: int
    #: The line the operation was recorded at (inside a block, for one).
    raw_line: int
    #: Whether its table existed before the revision, i.e. was not created in it.
    existing: bool
    #: For ``op.execute()``: what its SQL was read as (see :mod:`.sql`).
    reading: Reading | None = None
    #: Read from the SQL of the ``op.execute()`` just before it, not called itself.
    from_sql: bool = False

    @property
    def judged(self) -> bool:
        """Whether this ``op.execute()``'s SQL was read (its operations follow it)."""
        return self.reading is not None and self.reading.not_judged is None


@dataclass
class RevisionFacts:
    """What the checks know about one revision."""

    dialect: str
    sa_dialect: sa.Dialect
    operations: list[Operation]
    source: SourceFacts
    #: Operations of the revision's downgrade.
    downgrade: list[Any] = field(default_factory=list)
    #: Why recording the downgrade stopped, if it did.
    downgrade_error: str | None = None
    #: Why recording the upgrade stopped, if it did.
    error: str | None = None
    naming_convention: Mapping[Any, Any] = field(default_factory=dict)

    def each(self, *types: type[Any], existing: bool = False) -> Iterator[Operation]:
        """The operations of ``types``; with ``existing``, only on tables made earlier."""
        for item in self.operations:
            if isinstance(item.op, types) and (item.existing or not existing):
                yield item


def qualified(schema: str | None, name: str) -> str:
    return f"{schema}.{name}" if schema else name


def sql_text(op: ops.ExecuteSQLOp, dialect: sa.Dialect) -> str:
    """The SQL of ``op.execute()``, whether given as text or as a construct."""
    sql: Any = op.sqltext
    if isinstance(sql, str):
        return sql
    if isinstance(getattr(sql, "text", None), str):
        return str(sql.text)
    try:
        return str(sql.compile(dialect=dialect))
    except Exception:  # a construct the dialect cannot render: nothing to read
        return ""


_IDENT = r"((?:[\w$]+|\"[^\"]+\"|`[^`]+`)(?:\.(?:[\w$]+|\"[^\"]+\"|`[^`]+`))?)"
_DATA = re.compile(
    rf"\b(?:UPDATE\s+(?:ONLY\s+)?{_IDENT}\s+SET\b|DELETE\s+FROM\s+(?:ONLY\s+)?{_IDENT}"
    rf"|INSERT\s+INTO\s+{_IDENT}[^;]*?\bSELECT\b)",
    re.I | re.S,
)
DDL = re.compile(r"(?:^|;)\s*(?:ALTER|CREATE|DROP|RENAME|TRUNCATE)\b", re.I)
CONCURRENTLY = re.compile(
    r"\b(?:INDEX|REINDEX|DETACH\s+PARTITION)\b[^;]*?\bCONCURRENTLY\b", re.I | re.S
)
PLAIN_INDEX = re.compile(
    rf"\bCREATE\s+(?:UNIQUE\s+)?INDEX\b(?!\s+CONCURRENTLY)(?:\s+IF\s+NOT\s+EXISTS)?"
    rf"(?:\s+{_IDENT})?\s+ON\s+(?:ONLY\s+)?{_IDENT}",
    re.I,
)


def bare(identifier: str) -> str:
    """A table name from SQL without quotes or schema, lower-cased."""
    return identifier.split(".")[-1].strip('"`').lower()


def data_targets(op: Any, dialect: sa.Dialect) -> list[str]:
    """Tables that ``op`` writes rows to in bulk: UPDATE, DELETE, INSERT ... SELECT."""
    if isinstance(op, ops.BulkInsertOp):
        return [str(op.table.name).lower()]
    if isinstance(op, (BackfillOp, SqlDataOp)):
        return [str(op.table_name).lower()]
    if isinstance(op, ops.ExecuteSQLOp):
        return [
            bare(next(g for g in match.groups() if g))
            for match in _DATA.finditer(sql_text(op, dialect))
        ]
    return []


def table_of(op: Any) -> str | None:
    """The (lower-cased) table an operation works on, if it names one."""
    if isinstance(op, ops.BulkInsertOp):
        return str(op.table.name).lower()
    if isinstance(op, ops.CreateForeignKeyOp):
        return str(op.source_table).lower()
    name = getattr(op, "table_name", None)
    return str(name).lower() if name else None


def server_default(column: sa.Column[Any], dialect: sa.Dialect) -> str | None:
    default: Any = column.server_default
    if default is None:
        return None
    arg = getattr(default, "arg", default)
    if isinstance(arg, str):
        return f"'{arg}'"
    if isinstance(getattr(arg, "text", None), str):
        return str(arg.text)
    try:
        return str(arg.compile(dialect=dialect))
    except Exception:  # an expression the dialect cannot render
        return None


def instance(type_: Any) -> Any:
    """A column type as an instance, also when given as a class (``sa.Integer``)."""
    return type_() if isinstance(type_, type) else type_


def type_name(type_: Any, dialect: sa.Dialect) -> str:
    type_ = instance(type_)
    try:
        return str(type_.compile(dialect=dialect))
    except Exception:  # a type the dialect cannot render
        return repr(type_)


def created_before(facts: RevisionFacts, until: Operation) -> set[str]:
    created: set[str] = set()
    for item in facts.operations:
        if item is until:
            break
        if isinstance(item.op, ops.CreateTableOp):
            created.add(str(item.op.table_name).lower())
    return created


def widens_text(old: Any, new: Any) -> bool:
    """A change PostgreSQL makes without a rewrite: a longer VARCHAR, or TEXT."""
    old, new = instance(old), instance(new)
    strings = all(
        isinstance(t, sa.String) and not isinstance(t, sa.Enum) for t in (old, new)
    )
    if not strings:
        return False
    return new.length is None or (old.length is not None and new.length >= old.length)


def destructive(op: Any, dialect: str) -> bool:
    """Whether ``op`` loses data or breaks code that uses the old name: what the
    plan marks ``!`` and the rules drop-table, drop-column, rename-table,
    rename-column and change-column-type report (and rows deleted by raw SQL)."""
    if isinstance(op, (ops.DropTableOp, ops.DropColumnOp, ops.RenameTableOp)):
        return True
    if isinstance(op, ops.AlterColumnOp):
        if op.modify_name is not None and op.modify_name != op.column_name:
            return True
        if op.modify_type is None:
            return False
        return not (
            dialect == "postgresql" and widens_text(op.existing_type, op.modify_type)
        )
    if isinstance(op, SqlDataOp):
        return op.destructive
    return False
