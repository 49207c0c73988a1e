"""Renames in autogenerate: a drop + add that the user says is a rename is written as
one, with its reverse in the downgrade.

Alembic sees a renamed column as one column dropped and another added, and a renamed
table as one table dropped and another created: ``upgrade`` then loses the data. Here
each such pair of compatible types is a :class:`~flask_schemaver.results.Rename`
candidate, decided by a ``--rename`` answer, else by asking, else left as it is and
reported. A rename carries the indexes and constraints that name the column or table:
the drop + create pairs that only differ by the renamed names are taken out, or become
renames of the index or constraint where the database has one.
"""

from __future__ import annotations

from typing import Any
from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic.autogenerate import renderers
from alembic.operations import ops

from ..results import Rename
from .carry import carry
from .carry import Columns
from .carry import hoist_foreign_key_drops
from .carry import renamed_constraints
from .carry import split_blocks
from .carry import Tables

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext

    from .autogen import Request


class RenameColumnOp(ops.AlterColumnOp):
    """``alter_column(..., new_column_name=...)`` whose reverse renames it back."""

    def reverse(self) -> ops.AlterColumnOp:
        flipped = super().reverse()
        return RenameColumnOp(
            self.table_name,
            self.modify_name or self.column_name,
            schema=self.schema,
            modify_name=self.column_name,
            existing_type=flipped.existing_type,
            existing_nullable=flipped.existing_nullable,
            existing_server_default=flipped.existing_server_default,
            modify_type=flipped.modify_type,
            modify_nullable=flipped.modify_nullable,
        )


class RenameTableOp(ops.RenameTableOp):
    """``rename_table`` whose reverse renames it back."""

    def reverse(self) -> RenameTableOp:
        return RenameTableOp(self.new_table_name, self.table_name, schema=self.schema)


@renderers.dispatch_for(RenameTableOp)
def _render_rename_table(autogen_context: Any, op: RenameTableOp) -> str:
    schema = f", schema={op.schema!r}" if op.schema else ""
    return f"op.rename_table({op.table_name!r}, {op.new_table_name!r}{schema})"


def apply(
    context: MigrationContext, upgrade_ops: ops.UpgradeOps, request: Request
) -> bool:
    """Write the renames decided on into ``upgrade_ops``; True if any was."""
    tables = _rename_tables(context, upgrade_ops, request)
    columns = _rename_columns(context, upgrade_ops, request)
    if not tables and not columns:
        return False
    carry(context, upgrade_ops, tables, columns)
    hoist_foreign_key_drops(upgrade_ops, tables)
    split_blocks(upgrade_ops)
    return True


def decide(request: Request, candidate: Rename) -> bool:
    """Whether ``candidate`` is a rename: an answer given, else the user's."""
    # An ENUM value is given as TYPE.OLD:NEW, the shape of a column.
    kinds = (
        {candidate.kind, "column"}
        if candidate.kind == "enum value"
        else {candidate.kind}
    )
    for given in request.renames:
        if given.kind in kinds and (given.table, given.old, given.new) == (
            candidate.table,
            candidate.old,
            candidate.new,
        ):
            request.applied.append(candidate)
            return True
    if request.ask is not None:
        if request.ask(candidate):
            request.applied.append(candidate)
            return True
        return False
    request.unanswered.append(candidate)
    return False


def _type_text(type_: Any, dialect: sa.Dialect) -> str:
    try:
        return str(type_.compile(dialect=dialect))
    except Exception:  # a type the dialect cannot render
        return repr(type_)


def compatible(context: MigrationContext, reflected: Any, model: Any) -> bool:
    """Whether a reflected column could have become the model's by a rename."""
    old, new = sa.types.to_instance(reflected.type), sa.types.to_instance(model.type)
    if old._type_affinity is new._type_affinity:
        return True
    try:
        return not context.impl.compare_type(reflected, model)
    except Exception:  # a type Alembic can't compare: no rename offered
        return False


def _qualified(name: str, schema: str | None) -> str:
    return f"{schema}.{name}" if schema else name


def _rename_columns(
    context: MigrationContext, upgrade_ops: ops.UpgradeOps, request: Request
) -> Columns:
    renamed: Columns = {}
    for table_ops in upgrade_ops.ops:
        if not isinstance(table_ops, ops.ModifyTableOps):
            continue
        table = _qualified(table_ops.table_name, table_ops.schema)
        drops = [o for o in table_ops.ops if isinstance(o, ops.DropColumnOp)]
        for add in [o for o in table_ops.ops if isinstance(o, ops.AddColumnOp)]:
            drop = _column_partner(context, request, table, add, drops)
            if drop is None:
                continue
            drops.remove(drop)
            table_ops.ops.remove(drop)
            index = table_ops.ops.index(add)
            table_ops.ops[index] = _rename_column(context, table_ops, drop, add)
            renamed[(table_ops.table_name, drop.column_name)] = add.column.name
    return renamed


def _column_partner(
    context: MigrationContext,
    request: Request,
    table: str,
    add: ops.AddColumnOp,
    drops: list[ops.DropColumnOp],
) -> ops.DropColumnOp | None:
    """The dropped column that ``add`` renames, if the answer says one does."""
    for drop in drops:
        reflected = _reflected_column(drop)
        if reflected is None or not compatible(context, reflected, add.column):
            continue
        detail = _type_text(add.column.type, context.dialect)
        candidate = Rename("column", table, drop.column_name, add.column.name, detail)
        if decide(request, candidate):
            return drop
        if request.ask is None:
            return None  # one warning per added column is enough
    return None


def _reflected_column(drop: ops.DropColumnOp) -> sa.Column[Any] | None:
    reverse = getattr(drop, "_reverse", None)
    return getattr(reverse, "column", None)


def _rename_column(
    context: MigrationContext,
    table_ops: ops.ModifyTableOps,
    drop: ops.DropColumnOp,
    add: ops.AddColumnOp,
) -> RenameColumnOp:
    reflected = _reflected_column(drop)
    assert reflected is not None
    model = add.column
    changes: dict[str, Any] = {}
    try:
        if context.impl.compare_type(reflected, model):
            changes["modify_type"] = model.type
    except Exception:  # noqa: S110 - keep the reflected type when Alembic can't tell
        pass
    if bool(reflected.nullable) != bool(model.nullable):
        changes["modify_nullable"] = model.nullable
    return RenameColumnOp(
        table_ops.table_name,
        drop.column_name,
        schema=table_ops.schema,
        modify_name=model.name,
        existing_type=reflected.type,
        existing_nullable=reflected.nullable,
        existing_server_default=reflected.server_default,
        **changes,
    )


def _rename_tables(
    context: MigrationContext, upgrade_ops: ops.UpgradeOps, request: Request
) -> Tables:
    renamed: Tables = {}
    drops = [o for o in upgrade_ops.ops if isinstance(o, ops.DropTableOp)]
    for create in [o for o in upgrade_ops.ops if isinstance(o, ops.CreateTableOp)]:
        for drop in drops:
            if not _same_columns(context, drop, create):
                continue
            candidate = Rename("table", None, drop.table_name, create.table_name)
            if decide(request, candidate):
                drops.remove(drop)
                _rename_table(upgrade_ops, drop, create)
                renamed[drop.table_name] = create.table_name
                break
            if request.ask is None:
                break
    return renamed


def _columns_of(op: Any) -> dict[str, sa.Column[Any]]:
    return {c.name: c for c in op.columns if isinstance(c, sa.Column)}


def _same_columns(
    context: MigrationContext, drop: ops.DropTableOp, create: ops.CreateTableOp
) -> bool:
    reverse = getattr(drop, "_reverse", None)
    if reverse is None or drop.schema != create.schema:
        return False
    old, new = _columns_of(reverse), _columns_of(create)
    return (
        bool(old)
        and set(old) == set(new)
        and all(compatible(context, old[name], new[name]) for name in old)
    )


def _rename_table(
    upgrade_ops: ops.UpgradeOps, drop: ops.DropTableOp, create: ops.CreateTableOp
) -> None:
    """The create becomes a rename; what the old table's ops did moves after it."""
    old, new = drop.table_name, create.table_name
    upgrade_ops.ops.remove(drop)
    index = upgrade_ops.ops.index(create)
    upgrade_ops.ops[index] = RenameTableOp(old, new, schema=create.schema)
    moved = [
        o
        for o in upgrade_ops.ops
        if isinstance(o, ops.ModifyTableOps) and o.table_name == old
    ]
    target = next(
        (
            o
            for o in upgrade_ops.ops
            if isinstance(o, ops.ModifyTableOps) and o.table_name == new
        ),
        None,
    )
    if target is None:
        target = ops.ModifyTableOps(new, [], schema=create.schema)
        upgrade_ops.ops.insert(index + 1, target)
    for table_ops in moved:
        upgrade_ops.ops.remove(table_ops)
        for inner in table_ops.ops:
            inner.table_name = new  # type: ignore[attr-defined]
        target.ops[:0] = table_ops.ops
    target.ops[:0] = renamed_constraints(drop, create, target.ops)
