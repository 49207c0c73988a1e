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

from collections.abc import Iterator
from typing import Any
from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic.autogenerate import renderers
from alembic.operations import ops

from ..results import Rename
from .sqlops import RenameConstraintOp
from .sqlops import RenameIndexOp

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext

    from .autogen import Request

#: Renames applied in one revision: tables old -> new, columns (table, old) -> new.
Tables = dict[str, str]
Columns = dict[tuple[str, str], str]


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
    _carry(context, upgrade_ops, tables, columns)
    _hoist_foreign_key_drops(upgrade_ops, tables)
    _split(upgrade_ops)
    return True


def _hoist_foreign_key_drops(upgrade_ops: ops.UpgradeOps, tables: Tables) -> None:
    """Drop the foreign keys that point at a renamed table before renaming it, so
    that the downgrade makes them again only once the table has its old name back."""
    for old, new in tables.items():
        hoisted: list[ops.ModifyTableOps] = []
        for table_ops in upgrade_ops.ops:
            if not isinstance(table_ops, ops.ModifyTableOps):
                continue
            drops = [
                o
                for o in table_ops.ops
                if isinstance(o, ops.DropConstraintOp)
                and getattr(getattr(o, "_reverse", None), "referent_table", None) == old
            ]
            for drop in drops:
                table_ops.ops.remove(drop)
            if drops:
                hoisted.append(
                    ops.ModifyTableOps(
                        table_ops.table_name, drops, schema=table_ops.schema
                    )
                )
        rename = next(
            i
            for i, o in enumerate(upgrade_ops.ops)
            if isinstance(o, ops.RenameTableOp) and o.table_name == old
        )
        upgrade_ops.ops[rename:rename] = hoisted
    upgrade_ops.ops[:] = [
        o
        for o in upgrade_ops.ops
        if not (isinstance(o, ops.ModifyTableOps) and not o.ops)
    ]


def _split(upgrade_ops: ops.UpgradeOps) -> None:
    """Give a table's column renames a block of their own, between the drops and the
    creates of indexes and constraints: batch mode (SQLite) can't create an index on
    a column renamed in the same block, nor drop one on a column's old name after it."""
    out: list[ops.MigrateOperation] = []
    for item in upgrade_ops.ops:
        if not isinstance(item, ops.ModifyTableOps) or not any(
            isinstance(o, RenameColumnOp) for o in item.ops
        ):
            out.append(item)
            continue
        drops = [
            o
            for o in item.ops
            if isinstance(o, (ops.DropIndexOp, ops.DropConstraintOp))
        ]
        creates = [
            o
            for o in item.ops
            if isinstance(o, (ops.CreateIndexOp, ops.AddConstraintOp))
        ]
        middle = [o for o in item.ops if o not in drops and o not in creates]
        for part in (drops, middle, creates):
            if part:
                out.append(
                    ops.ModifyTableOps(item.table_name, part, schema=item.schema)
                )
    upgrade_ops.ops[:] = out


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
            request.applied.append(given)
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
    target.ops[:0] = _renamed_constraints(drop, create, target.ops)


def _renamed_constraints(
    drop: ops.DropTableOp,
    create: ops.CreateTableOp,
    table_ops: list[ops.MigrateOperation],
) -> list[ops.MigrateOperation]:
    """Drop + create of each unique or foreign key constraint that the renamed table
    keeps under its old name while the models name it anew (a naming convention with
    the table's name); :func:`_carry` makes renames of them where it can."""
    reverse = getattr(drop, "_reverse", None)
    if reverse is None:
        return []
    old, new = drop.table_name, create.table_name
    kinds = (sa.UniqueConstraint, sa.ForeignKeyConstraint)
    before = [
        c for c in reverse.to_table().constraints if isinstance(c, kinds) and c.name
    ]
    found: list[ops.MigrateOperation] = []
    for constraint in create.to_table().constraints:
        if not isinstance(constraint, kinds) or not constraint.name:
            continue
        created = ops.AddConstraintOp.from_constraint(constraint)
        wanted = _signature(created, new, {}, {})
        same = [
            c
            for c in before
            if wanted
            == _signature(ops.AddConstraintOp.from_constraint(c), new, {old: new}, {})
        ]
        if same and same[0].name != constraint.name:
            dropped = ops.DropConstraintOp.from_constraint(same[0])
            dropped.table_name = new
            found += [dropped, created]
        elif not same and any(
            isinstance(o, ops.DropIndexOp)
            and wanted == _signature(getattr(o, "_reverse", None), new, {}, {})
            for o in table_ops
        ):
            # MySQL/MariaDB reflect a unique constraint as a unique index, which
            # autogenerate drops with the old table: pair that drop with this.
            found.append(created)
    return found


# -- indexes and constraints carried by a rename ----------------------------------------


def _carry(
    context: MigrationContext,
    upgrade_ops: ops.UpgradeOps,
    tables: Tables,
    columns: Columns,
) -> None:
    """Take out the drop + create pairs that the renames made equal."""
    dialect = context.dialect.name
    position = 0
    while position < len(upgrade_ops.ops):
        table_ops = upgrade_ops.ops[position]
        position += 1
        if not isinstance(table_ops, ops.ModifyTableOps):
            continue
        renames = list(_pairs(table_ops, tables, columns, dialect))
        for index, extra in enumerate(renames):
            upgrade_ops.ops.insert(position + index, extra)
        position += len(renames)
    upgrade_ops.ops[:] = [
        o
        for o in upgrade_ops.ops
        if not (isinstance(o, ops.ModifyTableOps) and not o.ops)
    ]


def _pairs(
    table_ops: ops.ModifyTableOps, tables: Tables, columns: Columns, dialect: str
) -> Iterator[ops.MigrateOperation]:
    """Pair drops with equal creates in ``table_ops``: both go, and a rename of the
    index or constraint comes instead where the names differ and the database can."""
    creates = [
        o
        for o in table_ops.ops
        if isinstance(o, (ops.CreateIndexOp, ops.AddConstraintOp))
    ]
    for drop in [
        o
        for o in table_ops.ops
        if isinstance(o, (ops.DropIndexOp, ops.DropConstraintOp))
    ]:
        before = getattr(drop, "_reverse", None)
        if before is None:
            continue
        wanted = _signature(before, table_ops.table_name, tables, columns)
        match = next(
            (
                c
                for c in creates
                if wanted is not None
                and _signature(c, table_ops.table_name, {}, {}) == wanted
            ),
            None,
        )
        if match is None:
            continue
        old, new = _name(before), _name(match)
        rename = _rename_op(table_ops, old, new, match, dialect, before)
        if old != new and rename is None:
            continue  # no rename in this database: drop + create it is
        creates.remove(match)
        table_ops.ops.remove(drop)
        table_ops.ops.remove(match)
        if rename is not None and old != new:
            yield rename


def _name(op: Any) -> str | None:
    return getattr(op, "index_name", None) or getattr(op, "constraint_name", None)


def _rename_op(
    table_ops: ops.ModifyTableOps,
    old: Any,
    new: Any,
    op: Any,
    dialect: str,
    drop_before: Any = None,
) -> ops.MigrateOperation | None:
    if not old or not new:
        return None
    table, schema = table_ops.table_name, table_ops.schema
    if dialect in ("mysql", "mariadb") and isinstance(
        op, (ops.CreateIndexOp, ops.CreateUniqueConstraintOp)
    ):
        return RenameIndexOp(table, old, new, schema)
    if isinstance(drop_before, ops.CreateIndexOp) != isinstance(op, ops.CreateIndexOp):
        return None  # an index that is not a constraint, or the other way round
    if isinstance(op, ops.CreateIndexOp) and dialect == "postgresql":
        return RenameIndexOp(table, old, new, schema)
    if dialect == "postgresql":
        return RenameConstraintOp(table, old, new, schema)
    return None


def _names(items: Any) -> list[str]:
    return [str(getattr(c, "name", c)) for c in items or ()]


def _signature(
    op: Any, table: str, tables: Tables, columns: Columns
) -> tuple[Any, ...] | None:
    """What an index or constraint is, with names seen through the renames."""

    def local(names: list[str]) -> tuple[str, ...]:
        return tuple(columns.get((table, n), n) for n in names)

    if isinstance(op, ops.CreateIndexOp):
        return ("unique" if op.unique else "index", local(_names(op.columns)))
    if isinstance(op, ops.CreateUniqueConstraintOp):
        return ("unique", local(_names(op.columns)))
    if isinstance(op, ops.CreateForeignKeyOp):
        referent = tables.get(op.referent_table, op.referent_table)
        remote = tuple(columns.get((referent, n), n) for n in op.remote_cols)
        options = tuple(sorted((k, str(v)) for k, v in op.kw.items() if v is not None))
        return ("fk", local(list(op.local_cols)), referent, remote, options)
    return None
