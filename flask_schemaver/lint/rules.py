"""The checks behind the lint rules, one small function per rule id of :mod:`.catalog`.

Each check reads a revision's recorded operations (:class:`RevisionFacts`) and yields
``(line, what, reason)``: ``reason`` is None for the rule's own reason, or a
dialect-specific one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from alembic.operations import ops

from ..runtime.backfill import BackfillOp
from .catalog import RULES
from .facts import bare
from .facts import CONCURRENTLY
from .facts import created_before
from .facts import data_targets
from .facts import DDL
from .facts import Operation
from .facts import PLAIN_INDEX
from .facts import qualified
from .facts import RevisionFacts
from .facts import server_default
from .facts import sql_text
from .facts import table_of
from .facts import type_name
from .facts import widens_text

#: A finding before levels and ignores: line, what was found, reason (None: the rule's).
Hit = tuple[int, str, str | None]
Check = Callable[[RevisionFacts], Iterator[Hit]]

CHECKS: dict[str, Check] = {}

_MYSQL = ("mysql", "mariadb")


def check(rule_id: str) -> Callable[[Check], Check]:
    """Register a check under a rule id of the catalogue."""
    assert rule_id in RULES, rule_id

    def register(func: Check) -> Check:
        CHECKS[rule_id] = func
        return func

    return register


# -- rules about running code -----------------------------------------------------------


@check("drop-table")
def drop_table(facts: RevisionFacts) -> Iterator[Hit]:
    for item in facts.each(ops.DropTableOp, existing=True):
        yield (
            item.line,
            f"drop table {qualified(item.op.schema, item.op.table_name)}",
            None,
        )


@check("drop-column")
def drop_column(facts: RevisionFacts) -> Iterator[Hit]:
    for item in facts.each(ops.DropColumnOp, existing=True):
        o = item.op
        yield (
            item.line,
            f"drop column {qualified(o.schema, o.table_name)}.{o.column_name}",
            None,
        )


@check("rename-table")
def rename_table(facts: RevisionFacts) -> Iterator[Hit]:
    for item in facts.each(ops.RenameTableOp, existing=True):
        o = item.op
        yield (
            item.line,
            f"rename table {qualified(o.schema, o.table_name)} to {o.new_table_name}",
            None,
        )


@check("rename-column")
def rename_column(facts: RevisionFacts) -> Iterator[Hit]:
    for item in facts.each(ops.AlterColumnOp, existing=True):
        o = item.op
        if o.modify_name is not None and o.modify_name != o.column_name:
            target = f"{qualified(o.schema, o.table_name)}.{o.column_name}"
            yield item.line, f"rename column {target} to {o.modify_name}", None


@check("change-column-type")
def change_column_type(facts: RevisionFacts) -> Iterator[Hit]:
    for item in facts.each(ops.AlterColumnOp, existing=True):
        o = item.op
        if o.modify_type is None:
            continue
        if facts.dialect == "postgresql" and widens_text(
            o.existing_type, o.modify_type
        ):
            continue
        reason = None
        if facts.dialect in _MYSQL:
            reason = (
                "MySQL/MariaDB copies the whole table to change a column's type, "
                "blocking writes until it is done, and running code may write values "
                "the new type rejects"
            )
        new = type_name(o.modify_type, facts.sa_dialect)
        target = f"{qualified(o.schema, o.table_name)}.{o.column_name}"
        yield item.line, f"change type of {target} to {new}", reason


# -- rules about existing rows ----------------------------------------------------------


@check("add-not-null-column")
def add_not_null_column(facts: RevisionFacts) -> Iterator[Hit]:
    for item in facts.each(ops.AddColumnOp, existing=True):
        column = item.op.column
        if (
            column.nullable
            or column.server_default is not None
            or column.computed is not None
            or column.identity is not None
        ):
            continue
        reason = None
        if facts.dialect in _MYSQL:
            reason = (
                "MySQL/MariaDB fills existing rows with the type's implicit default (0 "
                "or ''), and old code that inserts rows without the column fails"
            )
        target = f"{qualified(item.op.schema, item.op.table_name)}.{column.name}"
        yield (
            item.line,
            f"add NOT NULL column {target} without a server default",
            reason,
        )


@check("set-not-null")
def set_not_null(facts: RevisionFacts) -> Iterator[Hit]:
    for item in facts.each(ops.AlterColumnOp, existing=True):
        o = item.op
        if o.modify_nullable is not False:
            continue
        reason = None
        if facts.dialect in _MYSQL:
            reason = (
                "MySQL/MariaDB rebuilds the table to make a column NOT NULL, and fails "
                "if any row is NULL"
            )
        elif facts.dialect != "postgresql":
            reason = (
                "it fails if any row is NULL, and running code that writes NULL breaks"
            )
        target = f"{qualified(o.schema, o.table_name)}.{o.column_name}"
        yield item.line, f"set {target} NOT NULL", reason


_VOLATILE = re.compile(
    r"\b(?:random|rand|gen_random_uuid|uuid_generate_v\w+|uuid|uuid_short|newid"
    r"|clock_timestamp|timeofday|nextval)\s*\(",
    re.I,
)
_CLOCK = re.compile(
    r"\b(?:now\s*\(|current_timestamp|localtimestamp|current_date|current_time"
    r"|statement_timestamp\s*\(|transaction_timestamp\s*\(|sysdate\s*\(|getdate\s*\("
    r"|datetime\s*\(\s*'now')",
    re.I,
)


@check("volatile-default")
def volatile_default(facts: RevisionFacts) -> Iterator[Hit]:
    for item in facts.each(ops.AddColumnOp, existing=True):
        column = item.op.column
        default = server_default(column, facts.sa_dialect)
        if default is None:
            continue
        target = f"{qualified(item.op.schema, item.op.table_name)}.{column.name}"
        if _VOLATILE.search(default):
            yield (
                item.line,
                f"add column {target} with server default {default}",
                "the default is volatile, so adding the column computes it for every "
                "existing row, rewriting the table under a lock",
            )
        elif _CLOCK.search(default):
            yield (
                item.line,
                f"add column {target} with server default {default}",
                "every existing row gets the time of the migration, not the time it "
                "was made",
            )


# -- PostgreSQL locks -------------------------------------------------------------------


def _concurrently(op: Any) -> bool:
    return bool(op.kw.get("postgresql_concurrently"))


@check("create-index-not-concurrently")
def create_index_not_concurrently(facts: RevisionFacts) -> Iterator[Hit]:
    for item in facts.each(ops.CreateIndexOp, existing=True):
        if not _concurrently(item.op):
            table = qualified(item.op.schema, item.op.table_name)
            yield item.line, f"create index {item.op.index_name} on {table}", None
    for item in facts.each(ops.ExecuteSQLOp):
        if item.judged:
            continue  # its CREATE INDEX, if any, follows it as an operation
        for match in PLAIN_INDEX.finditer(sql_text(item.op, facts.sa_dialect)):
            if bare(match.group(2)) not in created_before(facts, item):
                yield item.line, f"CREATE INDEX on {match.group(2)}", None


@check("drop-index-not-concurrently")
def drop_index_not_concurrently(facts: RevisionFacts) -> Iterator[Hit]:
    for item in facts.each(ops.DropIndexOp, existing=True):
        if not _concurrently(item.op):
            yield item.line, f"drop index {item.op.index_name}", None


@check("concurrently-outside-autocommit")
def concurrently_outside_autocommit(facts: RevisionFacts) -> Iterator[Hit]:
    for item in facts.operations:
        if facts.source.in_autocommit(item.raw_line):
            continue
        if isinstance(item.op, (ops.CreateIndexOp, ops.DropIndexOp)):
            if _concurrently(item.op):
                verb = "create" if isinstance(item.op, ops.CreateIndexOp) else "drop"
                yield item.line, f"{verb} index {item.op.index_name} concurrently", None
        elif (
            isinstance(item.op, ops.ExecuteSQLOp)
            and not _read_concurrently(item)
            and CONCURRENTLY.search(sql_text(item.op, facts.sa_dialect))
        ):
            yield item.line, "SQL with CONCURRENTLY", None


def _read_concurrently(item: Operation) -> bool:
    """Whether the SQL was read as an index operation, reported as such."""
    return item.judged and any(
        isinstance(o, (ops.CreateIndexOp, ops.DropIndexOp)) and _concurrently(o)
        for o in item.reading.operations  # type: ignore[union-attr]
    )


@check("constraint-not-valid")
def constraint_not_valid(facts: RevisionFacts) -> Iterator[Hit]:
    kinds = (ops.CreateForeignKeyOp, ops.CreateCheckConstraintOp)
    for item in facts.each(*kinds, existing=True):
        o = item.op
        if o.kw.get("postgresql_not_valid"):
            continue
        kind = "foreign key" if isinstance(o, ops.CreateForeignKeyOp) else "check"
        name = o.constraint_name or "(unnamed)"
        yield item.line, f"add {kind} constraint {name} on {table_of(o)}", None
    for item in facts.each(ops.AddColumnOp, existing=True):
        column = item.op.column
        if column.foreign_keys:
            target = f"{qualified(item.op.schema, item.op.table_name)}.{column.name}"
            yield (
                item.line,
                f"add column {target} with a foreign key",
                "adding a column with a foreign key locks the referenced table "
                "against writes as well as the table itself",
            )


@check("add-unique-constraint")
def add_unique_constraint(facts: RevisionFacts) -> Iterator[Hit]:
    for item in facts.each(ops.CreateUniqueConstraintOp, existing=True):
        o = item.op
        name = o.constraint_name or "(unnamed)"
        yield item.line, f"add unique constraint {name} on {table_of(o)}", None


# -- names, reversibility, transactions -------------------------------------------------

_KINDS: dict[type[Any], tuple[str, str]] = {
    sa.ForeignKeyConstraint: ("fk", "foreign key"),
    sa.UniqueConstraint: ("uq", "unique constraint"),
    sa.CheckConstraint: ("ck", "check constraint"),
}


def _named_by_convention(facts: RevisionFacts, kind: type[Any]) -> bool:
    key = _KINDS[kind][0]
    template = facts.naming_convention.get(key) or facts.naming_convention.get(kind)
    return bool(template) and "%(constraint_name)s" not in str(template)


def _unnamed(facts: RevisionFacts, kind: type[Any], name: Any) -> bool:
    return not name and not _named_by_convention(facts, kind)


def _column_constraints(column: sa.Column[Any]) -> Iterator[tuple[type[Any], Any]]:
    for fk in column.foreign_keys:
        yield sa.ForeignKeyConstraint, fk.name
    if column.unique:
        yield sa.UniqueConstraint, None
    for constraint in column.constraints:
        if isinstance(constraint, sa.CheckConstraint):
            yield sa.CheckConstraint, constraint.name


_OP_KINDS: tuple[tuple[type[Any], type[Any]], ...] = (
    (ops.CreateForeignKeyOp, sa.ForeignKeyConstraint),
    (ops.CreateUniqueConstraintOp, sa.UniqueConstraint),
    (ops.CreateCheckConstraintOp, sa.CheckConstraint),
)


def _constraints(o: Any) -> Iterator[tuple[type[Any], Any, str]]:
    """The constraints an operation adds: kind, name (may be None), which column."""
    for op_type, kind in _OP_KINDS:
        if isinstance(o, op_type):
            yield kind, o.constraint_name, ""
    if isinstance(o, ops.AddColumnOp):
        for kind, name in _column_constraints(o.column):
            yield kind, name, f" ({o.column.name})"
    if isinstance(o, ops.CreateTableOp):
        # The built table holds each constraint once, whether it was written on a
        # column (ForeignKey, unique=True) or for the table.
        table = _built_table(o)
        for kind in _KINDS:
            found = [c for c in table.constraints if isinstance(c, kind)]
            for constraint in sorted(
                found, key=lambda c: [col.name for col in c.columns]
            ):
                columns = ", ".join(c.name for c in constraint.columns)
                yield kind, constraint.name, f" ({columns})" if columns else ""


def _built_table(o: ops.CreateTableOp) -> sa.Table:
    # Recording already built the table (its columns belong to it now); build one only
    # for an operation that was never run.
    for part in o.columns:
        table = getattr(part, "table", None) if isinstance(part, sa.Column) else None
        if isinstance(table, sa.Table):
            return table
    return o.to_table()


@check("unnamed-constraint")
def unnamed_constraint(facts: RevisionFacts) -> Iterator[Hit]:
    for item in facts.operations:
        for kind, name, where in _constraints(item.op):
            if _unnamed(facts, kind, name):
                what = f"unnamed {_KINDS[kind][1]} on {table_of(item.op)}{where}"
                yield item.line, what, None


@check("raw-sql-without-downgrade")
def raw_sql_without_downgrade(facts: RevisionFacts) -> Iterator[Hit]:
    if facts.downgrade or facts.downgrade_error is not None:
        return
    for item in facts.each(ops.ExecuteSQLOp):
        yield item.line, "op.execute() with an empty downgrade()", None
        return


@check("backfill-with-ddl")
def backfill_with_ddl(facts: RevisionFacts) -> Iterator[Hit]:
    backfill: tuple[Operation, str] | None = None
    ddl = False
    for item in facts.operations:
        if item.judged:
            continue  # what its SQL was read as follows it
        targets = data_targets(item.op, facts.sa_dialect)
        old = [t for t in targets if t not in created_before(facts, item)]
        if old:
            backfill = backfill or (item, old[0])
        elif isinstance(item.op, ops.ExecuteSQLOp):
            ddl = ddl or bool(DDL.search(sql_text(item.op, facts.sa_dialect)))
        elif not isinstance(item.op, (ops.CreateTableOp, ops.BulkInsertOp)):
            ddl = ddl or item.existing
    if backfill is not None and ddl:
        item, table = backfill
        reason = None
        if isinstance(item.op, BackfillOp):
            reason = (
                "the schema change and the backfill belong to different deploys, and "
                "a backfill that stops part way runs the revision again, schema "
                "changes and all"
            )
        yield (
            item.line,
            f"backfill of {table} in a revision that changes the schema",
            reason,
        )


@check("backfill-outside-autocommit")
def backfill_outside_autocommit(facts: RevisionFacts) -> Iterator[Hit]:
    for item in facts.each(BackfillOp):
        if not facts.source.in_autocommit(item.raw_line):
            yield item.line, f"backfill of {item.op.table_name}", None


@check("sql-not-judged")
def sql_not_judged(facts: RevisionFacts) -> Iterator[Hit]:
    for item in facts.each(ops.ExecuteSQLOp):
        if item.reading is not None and item.reading.not_judged is not None:
            yield item.line, "op.execute() SQL not judged", item.reading.not_judged


@check("opaque-code")
def opaque_code(facts: RevisionFacts) -> Iterator[Hit]:
    if facts.error is not None:
        yield (
            facts.source.upgrade_line,
            f"upgrade() stopped early ({facts.error})",
            None,
        )
