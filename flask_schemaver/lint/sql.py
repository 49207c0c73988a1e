"""Raw SQL of ``op.execute()``, read with a real parser and turned into the operations
it stands for, so that lint and the plan judge it like the ``op`` form.

PostgreSQL's SQL is read with pglast (PostgreSQL's own parser); the others' with
sqlglot. Both come with the ``sql`` extra (``pip install flask-schemaver[sql]``). SQL
that can't be read (no parser installed, a syntax the parser does not know) is
*not judged*, and lint says so (rule ``sql-not-judged``) rather than pass it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import sqlalchemy as sa
from alembic.operations import ops


class SqlDataOp(ops.MigrateOperation):
    """Rows written in bulk by raw SQL: ``UPDATE``, ``DELETE``, ``INSERT ... SELECT``,
    ``TRUNCATE``."""

    def __init__(self, table: str, verb: str) -> None:
        self.table_name = table
        self.verb = verb

    @property
    def destructive(self) -> bool:
        """Whether rows are lost: ``DELETE`` and ``TRUNCATE``."""
        return self.verb in ("DELETE", "TRUNCATE")


@dataclass
class Reading:
    """What the SQL of one ``op.execute()`` stands for."""

    operations: list[ops.MigrateOperation] = field(default_factory=list)
    #: Why the SQL could not be judged; None when it was read.
    not_judged: str | None = None


def read(sql: str, dialect: str) -> Reading:
    """The operations ``sql`` stands for on ``dialect``."""
    try:
        if dialect == "postgresql":
            return _read_postgresql(sql)
        return _read_other(sql, dialect)
    except _Missing as exc:
        return Reading(not_judged=str(exc))
    except Exception as exc:  # the parser refused it: say so, never guess
        first = (
            str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        )
        return Reading(not_judged=f"the parser could not read it ({first[:80]})")


class _Missing(Exception):
    pass


@functools.cache
def _module(name: str) -> Any:
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        raise _Missing(
            f"{name} is not installed; install flask-schemaver[sql] to have raw SQL "
            "read"
        ) from None


def _column(name: str, **kw: Any) -> sa.Column[Any]:
    return sa.Column(name, sa.types.NullType(), **kw)


class RawType(sa.types.UserDefinedType[Any]):
    """A type known only by its name in the SQL."""

    cache_ok = True

    def __init__(self, name: str) -> None:
        self.name = name

    def get_col_spec(self, **kw: Any) -> str:
        return self.name


# -- PostgreSQL, with pglast ------------------------------------------------------------


def _read_postgresql(sql: str) -> Reading:
    pglast = _module("pglast")
    ast = pglast.ast
    reading = Reading()
    for raw in pglast.parse_sql(sql):
        node = raw.stmt
        reading.operations += list(_pg_statement(pglast, ast, node))
    return reading


def _rel(relation: Any) -> tuple[str, str | None]:
    return relation.relname, relation.schemaname


def _pg_statement(pglast: Any, ast: Any, node: Any) -> Any:
    enums = pglast.enums
    if isinstance(node, ast.AlterTableStmt) and node.relation is not None:
        table, schema = _rel(node.relation)
        for cmd in node.cmds or ():
            yield from _pg_alter(pglast, ast, table, schema, cmd)
    elif isinstance(node, ast.RenameStmt) and node.relation is not None:
        table, schema = _rel(node.relation)
        if node.renameType == enums.ObjectType.OBJECT_TABLE:
            yield ops.RenameTableOp(table, node.newname, schema=schema)
        elif node.renameType == enums.ObjectType.OBJECT_COLUMN:
            yield ops.AlterColumnOp(
                table, node.subname, schema=schema, modify_name=node.newname
            )
    elif isinstance(node, ast.DropStmt):
        for name in node.objects or ():
            parts = [p.sval for p in name] if isinstance(name, tuple) else [str(name)]
            schema = parts[-2] if len(parts) > 1 else None
            if node.removeType == enums.ObjectType.OBJECT_TABLE:
                yield ops.DropTableOp(parts[-1], schema=schema)
            elif node.removeType == enums.ObjectType.OBJECT_INDEX:
                yield ops.DropIndexOp(
                    parts[-1], schema=schema, postgresql_concurrently=node.concurrent
                )
    elif isinstance(node, ast.IndexStmt) and node.relation is not None:
        table, schema = _rel(node.relation)
        columns = [p.name or "(expression)" for p in node.indexParams or ()]
        yield ops.CreateIndexOp(
            node.idxname or "(unnamed)",
            table,
            columns,
            schema=schema,
            unique=bool(node.unique),
            postgresql_concurrently=bool(node.concurrent),
        )
    elif isinstance(node, ast.CreateStmt) and node.relation is not None:
        table, schema = _rel(node.relation)
        yield ops.CreateTableOp(table, [], schema=schema)
    else:
        yield from _pg_data(ast, node)


def _pg_data(ast: Any, node: Any) -> Any:
    verbs = (
        (ast.UpdateStmt, "UPDATE"),
        (ast.DeleteStmt, "DELETE"),
    )
    for kind, verb in verbs:
        if isinstance(node, kind) and node.relation is not None:
            yield SqlDataOp(node.relation.relname, verb)
    if isinstance(node, ast.InsertStmt) and node.selectStmt is not None:
        select = node.selectStmt
        if not (isinstance(select, ast.SelectStmt) and select.valuesLists):
            yield SqlDataOp(node.relation.relname, "INSERT")
    if isinstance(node, ast.TruncateStmt):
        for relation in node.relations or ():
            yield SqlDataOp(relation.relname, "TRUNCATE")


def _pg_alter(pglast: Any, ast: Any, table: str, schema: str | None, cmd: Any) -> Any:
    kinds = pglast.enums.AlterTableType
    if cmd.subtype == kinds.AT_DropColumn:
        yield ops.DropColumnOp(table, cmd.name, schema=schema)
    elif cmd.subtype == kinds.AT_SetNotNull:
        yield ops.AlterColumnOp(table, cmd.name, schema=schema, modify_nullable=False)
    elif cmd.subtype == kinds.AT_AlterColumnType and isinstance(
        cmd.def_, ast.ColumnDef
    ):
        new = _pg_type(cmd.def_.typeName)
        # A raw change gives no old type: TEXT and VARCHAR without a length are read
        # as the widening they usually are.
        widening = isinstance(new, sa.String) and new.length is None
        yield ops.AlterColumnOp(
            table,
            cmd.name,
            schema=schema,
            modify_type=new,
            existing_type=sa.String() if widening else None,
        )
    elif cmd.subtype == kinds.AT_AddColumn and isinstance(cmd.def_, ast.ColumnDef):
        yield ops.AddColumnOp(table, _pg_column(pglast, cmd.def_), schema=schema)
    elif cmd.subtype == kinds.AT_AddConstraint and isinstance(cmd.def_, ast.Constraint):
        yield from _pg_constraint(pglast, table, schema, cmd.def_)


def _pg_type(type_name: Any) -> Any:
    names = [n.sval for n in type_name.names or ()]
    name = names[-1].lower() if names else ""
    if name == "text":
        return sa.Text()
    if name in ("varchar", "bpchar"):
        mods = type_name.typmods or ()
        length = getattr(getattr(mods[0], "val", None), "ival", None) if mods else None
        return sa.String(length)
    return RawType(".".join(n for n in names if n != "pg_catalog") or "?")


def _pg_column(pglast: Any, definition: Any) -> sa.Column[Any]:
    kinds = pglast.enums.ConstrType
    nullable = True
    default = None
    references = None
    for constraint in definition.constraints or ():
        if constraint.contype in (kinds.CONSTR_NOTNULL, kinds.CONSTR_PRIMARY):
            nullable = False
        elif constraint.contype == kinds.CONSTR_DEFAULT and constraint.raw_expr:
            stream = _module("pglast.stream")
            default = sa.text(stream.RawStream()(constraint.raw_expr))
        elif constraint.contype == kinds.CONSTR_FOREIGN and constraint.pktable:
            columns = [a.sval for a in constraint.pk_attrs or ()] or ["id"]
            references = sa.ForeignKey(f"{constraint.pktable.relname}.{columns[0]}")
    extra = [references] if references is not None else []
    return sa.Column(
        definition.colname,
        _pg_type(definition.typeName),
        *extra,
        nullable=nullable,
        server_default=default,
    )


def _pg_constraint(pglast: Any, table: str, schema: str | None, c: Any) -> Any:
    kinds = pglast.enums.ConstrType
    if c.contype == kinds.CONSTR_FOREIGN and c.pktable is not None:
        yield ops.CreateForeignKeyOp(
            c.conname,
            table,
            c.pktable.relname,
            [a.sval for a in c.fk_attrs or ()],
            [a.sval for a in c.pk_attrs or ()],
            source_schema=schema,
            postgresql_not_valid=bool(c.skip_validation),
        )
    elif c.contype == kinds.CONSTR_CHECK:
        yield ops.CreateCheckConstraintOp(
            c.conname,
            table,
            sa.text("(check)"),
            schema=schema,
            postgresql_not_valid=bool(c.skip_validation),
        )
    elif c.contype in (kinds.CONSTR_UNIQUE, kinds.CONSTR_PRIMARY) and not c.indexname:
        columns = [k.sval for k in c.keys or ()]
        yield ops.CreateUniqueConstraintOp(c.conname, table, columns, schema=schema)


# -- the others, with sqlglot -----------------------------------------------------------

_SQLGLOT = {"mysql": "mysql", "mariadb": "mysql", "sqlite": "sqlite"}


def _read_other(sql: str, dialect: str) -> Reading:
    sqlglot = _module("sqlglot")
    exp = sqlglot.exp
    reading = Reading()
    for node in sqlglot.parse(sql, read=_SQLGLOT.get(dialect)):
        if node is None:
            continue
        if isinstance(node, exp.Command):
            return Reading(not_judged=f"the parser does not know {node.name.upper()!r}")
        if not isinstance(node, _statements(exp)):
            # sqlglot reads a statement it does not know as an expression.
            return Reading(not_judged="the parser does not know the statement")
        reading.operations += list(_other_statement(exp, node))
    return reading


def _statements(exp: Any) -> tuple[type[Any], ...]:
    """The statements sqlglot reads whole: those it maps, and those that change no
    schema and no rows in bulk."""
    names = (
        "Alter Create Drop Update Delete Insert TruncateTable Select Union Intersect "
        "Except Set Pragma Grant Transaction Commit Rollback Use Describe Show "
        "Analyze Merge"
    )
    return tuple(getattr(exp, n) for n in names.split() if hasattr(exp, n))


def _name(node: Any) -> str:
    return str(node.name) if node is not None else ""


def _other_statement(exp: Any, node: Any) -> Any:
    kind = str(node.args.get("kind") or "").upper()
    if isinstance(node, exp.Alter) and kind == "TABLE":
        table = _name(node.this)
        for action in node.args.get("actions") or ():
            yield from _other_alter(exp, table, action)
    elif isinstance(node, exp.Drop) and kind == "TABLE":
        for item in node.args.get("tables") or [node.this]:
            yield ops.DropTableOp(_name(item))
    elif isinstance(node, exp.Drop) and kind == "INDEX":
        yield ops.DropIndexOp(_name(node.this))
    elif isinstance(node, exp.Create) and kind == "INDEX":
        index = node.this
        table = index.args.get("table")
        unique = bool(node.args.get("unique"))
        yield ops.CreateIndexOp(_name(index), _name(table), [], unique=unique)
    elif isinstance(node, exp.Create) and kind == "TABLE":
        target = node.this.this if isinstance(node.this, exp.Schema) else node.this
        yield ops.CreateTableOp(_name(target), [])
    elif isinstance(node, (exp.Update, exp.Delete)):
        verb = "UPDATE" if isinstance(node, exp.Update) else "DELETE"
        yield SqlDataOp(_name(node.this), verb)
    elif isinstance(node, exp.Insert) and node.find(exp.Select) is not None:
        target = node.this.this if isinstance(node.this, exp.Schema) else node.this
        yield SqlDataOp(_name(target), "INSERT")
    elif isinstance(node, exp.TruncateTable):
        for item in node.expressions or ():
            yield SqlDataOp(_name(item), "TRUNCATE")


def _other_alter(exp: Any, table: str, action: Any) -> Any:
    if (
        isinstance(action, exp.Drop)
        and str(action.args.get("kind")).upper() == "COLUMN"
    ):
        for column in action.args.get("tables") or [action.this]:
            yield ops.DropColumnOp(table, _name(column))
    elif isinstance(action, exp.ColumnDef):
        constraints = action.args.get("constraints") or ()
        nullable = not any(
            isinstance(c.args.get("kind"), exp.NotNullColumnConstraint)
            and not c.args["kind"].args.get("allow_null")
            for c in constraints
        )
        default = next(
            (
                c.args["kind"].this
                for c in constraints
                if isinstance(c.args.get("kind"), exp.DefaultColumnConstraint)
            ),
            None,
        )
        server_default = sa.text(default.sql()) if default is not None else None
        column = _column(
            _name(action), nullable=nullable, server_default=server_default
        )
        yield ops.AddColumnOp(table, column)
    elif isinstance(action, exp.AlterRename):
        yield ops.RenameTableOp(table, _name(action.this))
    elif isinstance(action, exp.RenameColumn):
        yield ops.AlterColumnOp(
            table, _name(action.this), modify_name=_name(action.args.get("to"))
        )
    elif isinstance(action, (exp.ModifyColumn, exp.AlterColumn)):
        yield from _other_change(exp, table, action)


def _other_change(exp: Any, table: str, action: Any) -> Any:
    definition = action.this
    if isinstance(action, exp.AlterColumn):
        if action.args.get("dtype") is not None:
            yield ops.AlterColumnOp(
                table,
                _name(definition),
                modify_type=RawType(action.args["dtype"].sql()),
            )
        return
    if isinstance(definition, exp.ColumnDef) and definition.args.get("kind"):
        # MODIFY restates the whole column: its type may change, and the table is
        # copied whatever changes.
        kind = definition.args["kind"]
        yield ops.AlterColumnOp(
            table, _name(definition), modify_type=RawType(kind.sql())
        )
