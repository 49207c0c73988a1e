"""What a rename carries: the indexes and constraints that name the renamed column or
table.

After a rename, autogenerate still sees each index or constraint on the old name
dropped and one on the new name created. Where the two are equal once seen through the
renames, the pair is taken out (the database kept the index through the rename), or
becomes a rename of the index or constraint where the names differ and the database has
such a rename (PostgreSQL; MySQL/MariaDB for indexes). Elsewhere (SQLite) the drop and
create stay: batch mode rebuilds the table anyway.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic.operations import ops

from .sqlops import RenameConstraintOp
from .sqlops import RenameIndexOp

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext

#: Renames applied in one revision: tables old -> new, columns (table, old) -> new.
Tables = dict[str, str]
Columns = dict[tuple[str, str], str]


def hoist_foreign_key_drops(upgrade_ops: ops.UpgradeOps, tables: Tables) -> None:
    """Drop the foreign keys that point at a renamed table before renaming it, so
    that the downgrade makes them again only once the table has its old name back."""
    for old in tables:
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


def split_blocks(upgrade_ops: ops.UpgradeOps) -> None:
    """Give a table's column renames a block of their own, between the drops and the
    creates of indexes and constraints: batch mode (SQLite) can't create an index on
    a column renamed in the same block, nor drop one on a column's old name after it."""
    out: list[ops.MigrateOperation] = []
    for item in upgrade_ops.ops:
        if not isinstance(item, ops.ModifyTableOps) or not any(
            isinstance(o, ops.AlterColumnOp) and o.modify_name for o in item.ops
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


def renamed_constraints(
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
        wanted = signature(created, new, {}, {})
        same = [
            c
            for c in before
            if wanted
            == signature(ops.AddConstraintOp.from_constraint(c), new, {old: new}, {})
        ]
        if same and same[0].name != constraint.name:
            dropped = ops.DropConstraintOp.from_constraint(same[0])
            dropped.table_name = new
            found += [dropped, created]
        elif not same and any(
            isinstance(o, ops.DropIndexOp)
            and wanted == signature(getattr(o, "_reverse", None), new, {}, {})
            for o in table_ops
        ):
            # MySQL/MariaDB reflect a unique constraint as a unique index, which
            # autogenerate drops with the old table: pair that drop with this.
            found.append(created)
    return found


def carry(
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
        wanted = signature(before, table_ops.table_name, tables, columns)
        match = next(
            (
                c
                for c in creates
                if wanted is not None
                and signature(c, table_ops.table_name, {}, {}) == wanted
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


def signature(
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
