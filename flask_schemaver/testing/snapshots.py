"""Schema snapshots: what a bind's database holds, to tell whether a downgrade left
something behind (the clean-downgrade check) and for
:meth:`~flask_schemaver.testing.MigrationRunner.schema`.

A snapshot describes every table (columns, keys, indexes, constraints), view, sequence
and enum type, leaving out the bind's version and history tables and the tables of
other binds. :class:`Snapshots` takes one snapshot after another of the same database,
as a walk over a chain does: where the dialect can tell in one query which tables'
definitions changed (SQLite, PostgreSQL), only those are read again, so that a walk's
snapshots cost in proportion to what its revisions change rather than to the size of
the schema at each step.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from typing import TYPE_CHECKING

import sqlalchemy as sa

from .. import dialects

if TYPE_CHECKING:
    from ..binds import Bind

#: An object in a database: the table it belongs to ("" for views, sequences and
#: types) and what it is, e.g. ``("users", "column email")``.
Key = tuple[str, str]
#: A database's schema: each object and its description.
Snapshot = dict[Key, str]


def snapshot(bind: Bind) -> Snapshot:
    """The objects in the bind's database, leaving out its version table and the tables
    of other binds."""
    return Snapshots(bind).take()


class Snapshots:
    """Snapshots of one bind's database, one after another.

    A table whose definition is unchanged since it was last read, as its dialect's
    signature tells (see :meth:`~flask_schemaver.dialects.base.Dialect.table_signatures`),
    is described from that reading.
    """

    def __init__(self, bind: Bind) -> None:
        self.bind = bind
        self._read: dict[tuple[str | None, str], tuple[str, Snapshot]] = {}
        #: How many times a table was read in full: the work the tests count.
        self.tables_read = 0

    def take(self) -> Snapshot:
        """The objects in the database now."""
        bind = self.bind
        found: Snapshot = {}
        with bind.engine.connect() as connection:
            ordered = self._schemas(connection)
            signatures = dialects.of(bind).table_signatures(connection, ordered)
            inspector = sa.inspect(connection)
            for schema in ordered:
                for name in inspector.get_table_names(schema=schema):
                    if _counts(bind, schema, name):
                        found.update(self._table(inspector, schema, name, signatures))
                _others(bind, inspector, schema, found)
        return found

    def _schemas(self, connection: sa.Connection) -> list[str | None]:
        """The schemas to look at (None: the default one)."""
        bind = self.bind
        schemas = {None, bind.version_table_schema}
        schemas.update(t.schema for t in bind.metadata.tables.values())
        return sorted(schemas, key=lambda s: (s is not None, s or ""))

    def _table(
        self,
        inspector: sa.Inspector,
        schema: str | None,
        name: str,
        signatures: dict[tuple[str | None, str], str | None] | None,
    ) -> Snapshot:
        signature = (signatures or {}).get((schema, name))
        known = self._read.get((schema, name))
        if signature is not None and known is not None and known[0] == signature:
            return known[1]
        self.tables_read += 1
        described = _table(self.bind, inspector, schema, name)
        if signature is not None:
            self._read[(schema, name)] = (signature, described)
        return described


class Outside(Snapshots):
    """Snapshots of the database that tenants' schemas are in, but for those of the
    throwaway tenants: what a tenanted bind's revisions must leave alone.

    On PostgreSQL that is every other schema of the database, named (``public``
    too); on MySQL and MariaDB, whose schemas are databases of the server, the
    bind's own database.
    """

    _listed: list[str | None] = []

    def _schemas(self, connection: sa.Connection) -> list[str | None]:
        if not dialects.of(self.bind).schemas_in_database:
            return [None]
        names = sa.inspect(connection).get_schema_names()
        self._listed = [s for s in sorted(names) if not _system_or_throwaway(s)]
        return self._listed

    def take(self) -> Snapshot:
        found = super().take()
        found.update({("", f"schema {s}"): "present" for s in self._listed if s})
        return found


def _system_or_throwaway(schema: str) -> bool:
    from ..tenants import THROWAWAY_PREFIX

    return schema == "information_schema" or schema.startswith(
        ("pg_", THROWAWAY_PREFIX)
    )


def compare(
    before: Snapshot,
    after: Snapshot,
    *,
    added: str = "is left behind",
    removed: str = "is gone (it was there before the upgrade)",
) -> list[str]:
    """What changed from ``before`` to ``after``, one line per object; ``added`` and
    ``removed`` say what became of an object, after its description."""
    new = after.keys() - before.keys()
    gone = before.keys() - after.keys()
    new_tables = {table for table, what in new if not what}
    gone_tables = {table for table, what in gone if not what}
    lines = [
        f"{_describe(key)} {added}"
        for key in sorted(new)
        if not (key[1] and key[0] in new_tables)
    ]
    lines += [
        f"{_describe(key)} {removed}"
        for key in sorted(gone)
        if not (key[1] and key[0] in gone_tables)
    ]
    lines += [
        f"{_describe(key)} was {before[key]}, is now {after[key]}"
        for key in sorted(before.keys() & after.keys())
        if before[key] != after[key]
    ]
    return lines


def _describe(key: Key) -> str:
    table, what = key
    if not what:
        return f"table {table}"
    return f"{what} of table {table}" if table else what


def _counts(bind: Bind, schema: str | None, name: str) -> bool:
    """Whether the table is the bind's concern: not its version or history table, not
    another bind's."""
    if schema == bind.version_table_schema and name in (
        bind.version_table,
        bind.history_table,
    ):
        return False
    stub = sa.Table(name, sa.MetaData(), schema=schema)
    return bool(bind.include_object(stub, name, "table", True, None))


def _table(
    bind: Bind, inspector: sa.Inspector, schema: str | None, name: str
) -> Snapshot:
    """What the snapshot says about one table."""
    found: Snapshot = {}
    table = f"{schema}.{name}" if schema else name
    found[(table, "")] = "present"
    for column in inspector.get_columns(name, schema=schema):
        found[(table, f"column {column['name']}")] = _column(column, inspector)
    primary = inspector.get_pk_constraint(name, schema=schema)
    if primary.get("constrained_columns"):
        found[(table, "primary key")] = _list(primary["constrained_columns"])
    for fk in inspector.get_foreign_keys(name, schema=schema):
        columns = _list(fk["constrained_columns"])
        target = f"{fk['referred_schema']}." if fk.get("referred_schema") else ""
        options = "".join(
            f" {k} {v}" for k, v in sorted((fk.get("options") or {}).items())
        )
        found[(table, f"foreign key {fk.get('name') or columns}")] = (
            f"{columns} -> {target}{fk['referred_table']}"
            f"{_list(fk['referred_columns'])}{options}"
        )
    for index in inspector.get_indexes(name, schema=schema):
        expressions = index.get("expressions") or index["column_names"]
        parts = [
            c if c is not None else e
            for c, e in zip(index["column_names"], expressions, strict=False)
        ]
        unique = "unique " if index.get("unique") else ""
        found[(table, f"index {index['name']}")] = unique + _list(parts)
    for constraint in inspector.get_unique_constraints(name, schema=schema):
        columns = _list(constraint["column_names"])
        label = constraint.get("name") or columns
        found[(table, f"unique constraint {label}")] = columns
    try:
        checks = inspector.get_check_constraints(name, schema=schema)
    except NotImplementedError:
        checks = []
    for check in checks:
        text = " ".join(str(check["sqltext"]).split())
        found[(table, f"check constraint {check.get('name') or text}")] = text
    return found


def _others(
    bind: Bind, inspector: sa.Inspector, schema: str | None, found: Snapshot
) -> None:
    prefix = f"{schema}." if schema else ""
    for name in inspector.get_view_names(schema=schema):
        found[("", f"view {prefix}{name}")] = "present"
    if inspector.dialect.supports_sequences:
        for name in inspector.get_sequence_names(schema=schema):
            if name.startswith(f"{bind.history_table}_"):
                continue  # the history table's own id sequence
            found[("", f"sequence {prefix}{name}")] = "present"
    get_enums = getattr(inspector, "get_enums", None)
    if get_enums is not None:
        for enum in get_enums(schema=schema):
            where = f"{enum['schema']}." if enum.get("schema") else prefix
            found[("", f"enum type {where}{enum['name']}")] = _list(enum["labels"])


def _column(column: Any, inspector: sa.Inspector) -> str:
    try:
        kind = str(column["type"].compile(dialect=inspector.dialect))
    except sa.exc.SQLAlchemyError:
        kind = repr(column["type"])
    text = f"{kind} {'NULL' if column.get('nullable', True) else 'NOT NULL'}"
    if column.get("default") is not None:
        text += f" DEFAULT {column['default']}"
    if column.get("comment"):
        text += f" COMMENT {column['comment']!r}"
    return text


def _list(items: Iterable[Any]) -> str:
    return "(" + ", ".join(str(item) for item in items) + ")"
