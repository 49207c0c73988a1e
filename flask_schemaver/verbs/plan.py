"""``upgrade --plan`` and ``downgrade --plan``: what would run, described, run nowhere."""

from __future__ import annotations

from typing import Any
from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic.operations import ops

from ..lint import sql
from ..lint.facts import destructive
from ..lint.facts import sql_text
from ..results import BindPlan
from ..results import PlannedOperation
from ..results import PlannedRevision
from ..runtime import environment
from ..runtime.backfill import BackfillOp
from ..runtime.errors import translate_errors
from ..runtime.recording import no_database
from ..runtime.recording import record
from ..runtime.recording import RecordedRevision
from ..runtime.sqlops import SQLOp

if TYPE_CHECKING:
    from ..binds import Bind
    from ..settings import Settings


def plan(
    bind: Bind, settings: Settings, revision: str, *, is_upgrade: bool
) -> BindPlan:
    """The revisions that ``upgrade``/``downgrade`` to ``revision`` would run on ``bind``."""
    current = environment.current_heads(bind)
    with translate_errors(bind), no_database():
        scripts = environment.script_directory(environment.make_config(bind, settings))
        steps = environment.migration_path(
            scripts, revision, current, is_upgrade=is_upgrade
        )
        planned = []
        for script in steps:
            done = record(bind, script, is_upgrade=is_upgrade)
            undo = record(bind, script, is_upgrade=not is_upgrade)
            planned.append(_planned(bind, done, undo))
    return BindPlan(bind.name, current, planned)


def _planned(
    bind: Bind, done: RecordedRevision, undo: RecordedRevision
) -> PlannedRevision:
    dialect = bind.engine.dialect
    item = PlannedRevision(
        id=done.revision.id,
        message=done.revision.message,
        is_upgrade=done.is_upgrade,
        operations=[describe(r.operation, dialect) for r in done.operations],
        note=done.error,
    )
    if done.is_upgrade:
        item.irreversible = bool(done.operations) and (
            not undo.operations or undo.error is not None
        )
    return item


def _type(type_: Any, dialect: sa.Dialect) -> str:
    if type_ is None:
        return "?"
    try:
        return str(type_.compile(dialect=dialect))
    except Exception:  # a type the dialect cannot render
        return repr(type_)


def _column(column: sa.Column[Any], dialect: sa.Dialect) -> str:
    nullable = "NULL" if column.nullable else "NOT NULL"
    text = f"{column.name} {_type(column.type, dialect)} {nullable}"
    if column.server_default is not None:
        default = getattr(column.server_default, "arg", column.server_default)
        text += f" DEFAULT {getattr(default, 'text', default)}"
    return text


def _table(name: str, schema: str | None) -> str:
    return f"{schema}.{name}" if schema else name


def describe(operation: ops.MigrateOperation, dialect: sa.Dialect) -> PlannedOperation:
    """A short readable line for one Alembic operation."""
    o: Any = operation
    if isinstance(o, ops.CreateTableOp):
        columns = ", ".join(
            _column(c, dialect) for c in o.columns if isinstance(c, sa.Column)
        )
        return PlannedOperation(
            f"create table {_table(o.table_name, o.schema)} ({columns})"
        )
    if isinstance(o, ops.DropTableOp):
        return PlannedOperation(f"drop table {_table(o.table_name, o.schema)}", True)
    if isinstance(o, ops.RenameTableOp):
        return PlannedOperation(
            f"rename table {_table(o.table_name, o.schema)} to {o.new_table_name}", True
        )
    if isinstance(o, ops.AddColumnOp):
        return PlannedOperation(
            f"add column {_table(o.table_name, o.schema)}.{_column(o.column, dialect)}"
        )
    if isinstance(o, ops.DropColumnOp):
        return PlannedOperation(
            f"drop column {_table(o.table_name, o.schema)}.{o.column_name}", True
        )
    if isinstance(o, ops.AlterColumnOp):
        return _alter(o, dialect)
    if isinstance(o, ops.CreateIndexOp):
        columns = ", ".join(str(getattr(c, "name", c)) for c in o.columns)
        unique = "unique " if o.unique else ""
        return PlannedOperation(
            f"create {unique}index {o.index_name} on {_table(o.table_name, o.schema)} ({columns})"
        )
    if isinstance(o, ops.DropIndexOp):
        return PlannedOperation(f"drop index {o.index_name}")
    if isinstance(o, ops.AddConstraintOp):
        kind = type(o).__name__.removeprefix("Create").removesuffix("Op")
        name = getattr(o, "constraint_name", None) or "(unnamed)"
        where = getattr(o, "table_name", None) or getattr(o, "source_table", None)
        table = _table(where or "?", getattr(o, "schema", None))
        return PlannedOperation(f"add {_words(kind)} {name} on {table}")
    if isinstance(o, ops.DropConstraintOp):
        return PlannedOperation(
            f"drop {o.constraint_type or 'constraint'} {o.constraint_name} on "
            f"{_table(o.table_name, o.schema)}"
        )
    if isinstance(o, ops.ExecuteSQLOp):
        sql = " ".join(str(getattr(o.sqltext, "text", o.sqltext)).split())
        return PlannedOperation(
            f"execute {sql[:120]}{'…' if len(sql) > 120 else ''}",
            _risky_sql(o, dialect),
        )
    if isinstance(o, SQLOp):
        return PlannedOperation(f"execute {'; '.join(o.statements(dialect))}")
    if isinstance(o, BackfillOp):
        return PlannedOperation(o.describe())
    if isinstance(o, ops.BulkInsertOp):
        return PlannedOperation(f"insert {len(o.rows)} row(s) into {o.table.name}")
    return PlannedOperation(_words(type(o).__name__.removesuffix("Op")))


def _risky_sql(o: ops.ExecuteSQLOp, dialect: sa.Dialect) -> bool:
    """Destructive as lint judges it once the SQL is read; when it can't be read, any
    statement that starts with DROP, DELETE, TRUNCATE or ALTER."""
    text = sql_text(o, dialect)
    reading = sql.read(text, dialect.name) if text else None
    if reading is None or reading.not_judged is not None:
        first = " ".join(text.split()).split(" ", 1)[0].upper()
        return first in {"DROP", "DELETE", "TRUNCATE", "ALTER"}
    return any(destructive(d, dialect.name) for d in reading.operations)


def _alter(o: ops.AlterColumnOp, dialect: sa.Dialect) -> PlannedOperation:
    target = f"{_table(o.table_name, o.schema)}.{o.column_name}"
    changes = []
    if o.modify_type is not None:
        changes.append(
            f"type {_type(o.existing_type, dialect)} -> {_type(o.modify_type, dialect)}"
        )
    if o.modify_nullable is not None:
        changes.append("NULL" if o.modify_nullable else "NOT NULL")
    if o.modify_server_default is not False:
        changes.append(f"server default {o.modify_server_default!r}")
    if o.modify_name is not None:
        changes.append(f"rename to {o.modify_name}")
    return PlannedOperation(
        f"alter column {target}: {', '.join(changes) or 'no change'}",
        destructive(o, dialect.name),
    )


def _words(name: str) -> str:
    out = ""
    for char in name:
        out += f" {char.lower()}" if char.isupper() and out else char.lower()
    return out
