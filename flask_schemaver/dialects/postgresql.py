"""PostgreSQL: an advisory lock, serial columns found in bulk, throwaway databases.

Serial columns: when autogenerate reflects a PostgreSQL table, Alembic asks the server,
for every integer column whose default is ``nextval('...'::regclass)``, which column
owns that sequence. A sequence owned by the column itself makes the column a
``SERIAL``, and its default is dropped from the comparison. That is one round trip per
such column: on a schema of a thousand tables, most of the time ``flask db check``
spends. Here the same question is asked once for every sequence in the database, and
each column is answered from that.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from typing import Any
from typing import TYPE_CHECKING

import sqlalchemy as sa

from .base import Dialect
from .base import Lock
from .base import SessionLock

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext

    from ..binds import Bind

_NEXTVAL = re.compile(r"nextval\('(.+?)'::regclass\)")

# Alembic's own query for one sequence, for all of them: each sequence, as the server
# spells it in a column default, and the column that owns it.
_OWNERS = sa.text(
    "SELECT c.oid::regclass::text AS sequence, a.attname AS owner "
    "FROM pg_class AS c "
    "JOIN pg_depend AS d ON d.objid = c.oid "
    "AND d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass "
    "JOIN pg_class AS t ON t.oid = d.refobjid "
    "JOIN pg_attribute AS a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid "
    "WHERE c.relkind = 'S'"
)


# Everything SQLAlchemy reflects of each table, as text: its columns (attributes,
# defaults, comments, type names, domains' base type, null and default), constraints
# and indexes as the server renders them (so a renamed table or column that a foreign
# key names shows too), options and comment. Joined and grouped, not a subquery per
# table: one snapshot of a large schema stays a matter of milliseconds.
_SIGNATURES = sa.text(
    "WITH rel AS (SELECT c.oid, n.nspname, c.relname, c.relkind, c.relispartition, "
    "c.reloptions FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p', 'f') AND n.nspname = ANY(:schemas)), "
    "cols AS (SELECT a.attrelid AS oid, string_agg(concat_ws(':', a.attnum, "
    "a.attname, a.attnotnull, a.attidentity, a.attisdropped, a.attcollation, "
    "a.attndims, format_type(a.atttypid, a.atttypmod), t.typtype, t.typnotnull, "
    "t.typdefault, format_type(t.typbasetype, t.typtypmod), "
    "pg_get_expr(d.adbin, d.adrelid), col_description(a.attrelid, a.attnum)), ',' "
    "ORDER BY a.attnum) AS text FROM rel "
    "JOIN pg_attribute a ON a.attrelid = rel.oid AND a.attnum > 0 "
    "JOIN pg_type t ON t.oid = a.atttypid "
    "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
    "GROUP BY a.attrelid), "
    "cons AS (SELECT con.conrelid AS oid, string_agg(concat_ws(':', con.conname, "
    "con.contype, pg_get_constraintdef(con.oid), con.condeferrable, con.condeferred, "
    "obj_description(con.oid, 'pg_constraint')), ',' ORDER BY con.conname) AS text "
    "FROM rel JOIN pg_constraint con ON con.conrelid = rel.oid GROUP BY con.conrelid), "
    "idx AS (SELECT i.indrelid AS oid, string_agg(concat_ws(':', ic.relname, "
    "pg_get_indexdef(i.indexrelid), obj_description(i.indexrelid, 'pg_class')), ',' "
    "ORDER BY ic.relname) AS text FROM rel JOIN pg_index i ON i.indrelid = rel.oid "
    "JOIN pg_class ic ON ic.oid = i.indexrelid GROUP BY i.indrelid) "
    "SELECT rel.nspname, rel.relname, md5(concat_ws('|', rel.relkind, "
    "rel.relispartition, array_to_string(rel.reloptions, ','), "
    "obj_description(rel.oid, 'pg_class'), cols.text, cons.text, idx.text)) "
    "FROM rel LEFT JOIN cols ON cols.oid = rel.oid "
    "LEFT JOIN cons ON cons.oid = rel.oid LEFT JOIN idx ON idx.oid = rel.oid"
)


#: Sets the search_path, returning the one it replaces.
_SWAP_PATH = sa.text(
    "WITH old AS MATERIALIZED (SELECT current_setting('search_path') AS path) "
    "SELECT path, set_config('search_path', :path, false) FROM old"
)


class AdvisoryLock(SessionLock):
    """A session-level advisory lock, taken with ``pg_try_advisory_lock``."""

    acquire_sql = "SELECT pg_try_advisory_lock(:key)"
    release_sql = "SELECT pg_advisory_unlock(:key)"
    holder_sql = (
        "SELECT 'pid ' || a.pid || coalesce(' (' || nullif(a.application_name, '') || ')', '')"
        " || coalesce(' from ' || host(a.client_addr), '')"
        " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.granted"
        " AND ((l.classid::bigint << 32) | l.objid::bigint) = :key LIMIT 1"
    )


class PostgreSQL(Dialect):
    default_port = 5432
    throwaway = True
    admin_databases = ("postgres", "template1")

    def migration_lock(self, bind: Bind, connection: sa.Connection, name: str) -> Lock:
        key = int.from_bytes(
            hashlib.sha256(name.encode()).digest()[:8], "big", signed=True
        )
        return AdvisoryLock(connection, {"key": key})

    def connect_args(
        self,
        driver: str,
        connect_timeout: float | None,
        statement_timeout: float | None,
        *,
        migrating: bool,
    ) -> dict[str, Any]:
        if driver not in ("psycopg", "psycopg2") or connect_timeout is None:
            return {}
        seconds = max(1, math.ceil(connect_timeout))
        # libpq: a connection attempt, unacknowledged data and a silent peer each
        # give up after about that long.
        return {
            "connect_timeout": seconds,
            "tcp_user_timeout": seconds * 1000,
            "keepalives": 1,
            "keepalives_idle": seconds,
            "keepalives_interval": max(1, seconds // 3),
            "keepalives_count": 3,
        }

    def statement_timeout(
        self, connection: sa.Connection, seconds: float
    ) -> tuple[str, str] | None:
        milliseconds = max(1, round(seconds * 1000))
        return f"SET statement_timeout = {milliseconds}", "RESET statement_timeout"

    tenant_schemas = True
    schemas_in_database = True

    def enter_schema(
        self, connection: sa.Connection, schema: str
    ) -> Callable[[], None] | None:
        quoted = connection.dialect.identifier_preparer.quote_identifier(schema)
        # The tenant's schema alone: a name the tenant lacks is an error, never a
        # table of the same name in another schema (the app's shared tables, say).
        # The old path is read before the new one is set (the CTE comes first), in
        # one round trip; committed at once, so that no rollback undoes it.
        previous = connection.execute(_SWAP_PATH, {"path": quoted}).scalar()
        connection.commit()

        def restore() -> None:
            if connection.in_transaction():
                connection.rollback()
            connection.execute(
                sa.text("SELECT set_config('search_path', :path, false)"),
                {"path": previous},
            )
            connection.commit()

        return restore

    def schemas_holding(
        self, connection: sa.Connection, table: str, schemas: Sequence[str]
    ) -> set[str]:
        found = connection.scalars(
            sa.text(
                "SELECT n.nspname FROM pg_class c JOIN pg_namespace n "
                "ON n.oid = c.relnamespace WHERE c.relname = :table "
                "AND c.relkind IN ('r', 'p') AND n.nspname = ANY(:schemas)"
            ),
            {"table": table, "schemas": list(schemas)},
        )
        return set(found)

    def drop_schema(self, connection: sa.Connection, name: str) -> None:
        quoted = connection.dialect.identifier_preparer.quote_identifier(name)
        connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {quoted} CASCADE"))

    def engine_in_schema(self, engine: sa.Engine, schema: str) -> sa.Engine:
        quoted = engine.dialect.identifier_preparer.quote_identifier(schema)
        return sa.create_engine(
            engine.url,
            poolclass=sa.pool.NullPool,
            connect_args={"options": f"-c search_path={quoted}"},
        )

    def prepare_autogenerate(self, context: MigrationContext) -> None:
        """Make ``context``'s autogenerate find serial columns with a single query.

        Only this context changes.
        """
        if context.connection is None:
            return
        connection = context.connection
        owners: dict[str, str] | None = None

        def autogen_column_reflect(
            inspector: Any, table: sa.Table, column_info: dict[str, Any]
        ) -> None:
            nonlocal owners
            default = column_info.get("default")
            if not default or not isinstance(
                column_info["type"], (sa.INTEGER, sa.BIGINT)
            ):
                return
            match = _NEXTVAL.match(default)
            if match is None:
                return
            if owners is None:
                owners = {seq: owner for seq, owner in connection.execute(_OWNERS)}
            if owners.get(match.group(1)) == column_info["name"]:
                del column_info["default"]

        context.impl.autogen_column_reflect = autogen_column_reflect  # type: ignore[method-assign]

    def table_signatures(
        self, connection: sa.Connection, schemas: Sequence[str | None]
    ) -> dict[tuple[str | None, str], str | None] | None:
        default = connection.dialect.default_schema_name
        names = [default if s is None else s for s in schemas]
        found: dict[tuple[str | None, str], str | None] = {}
        for schema, table, signature in connection.execute(
            _SIGNATURES, {"schemas": names}
        ):
            if None in schemas and schema == default:
                found[(None, table)] = signature
            if schema in schemas:
                found[(schema, table)] = signature
        return found

    def empty_database(self, admin: sa.Engine, url: sa.URL) -> None:
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        try:
            with engine.begin() as connection:
                connection.execute(sa.text("SET LOCAL lock_timeout = '5s'"))
                schemas = connection.scalars(
                    sa.text(
                        "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
                        "AND nspname <> 'information_schema'"
                    )
                ).all()
                quote = engine.dialect.identifier_preparer.quote_identifier
                for schema in schemas:
                    connection.execute(sa.text(f"DROP SCHEMA {quote(schema)} CASCADE"))
                connection.execute(sa.text("CREATE SCHEMA public"))
        finally:
            engine.dispose()

    def drop_database(self, admin: sa.Connection, name: str) -> None:
        quoted = admin.dialect.identifier_preparer.quote_identifier(name)
        admin.execute(sa.text(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))

    def copier(self, admin: sa.Engine, template: str) -> Callable[[str], None] | None:
        """``CREATE DATABASE ... TEMPLATE``: the server copies the files, sequences,
        rows and all. No session may be connected to the template meanwhile."""
        quote = admin.dialect.identifier_preparer.quote_identifier

        def copy(name: str) -> None:
            with admin.connect() as connection:
                connection.execute(
                    sa.text(f"CREATE DATABASE {quote(name)} TEMPLATE {quote(template)}")
                )

        return copy

    def seal(self, admin: sa.Engine, name: str) -> None:
        quoted = admin.dialect.identifier_preparer.quote_identifier(name)
        with admin.connect() as connection:
            connection.execute(
                sa.text(f"ALTER DATABASE {quoted} WITH ALLOW_CONNECTIONS false")
            )

    def mark(self, admin: sa.Engine, name: str, mark: str) -> None:
        quoted = admin.dialect.identifier_preparer.quote_identifier(name)
        literal = "'" + mark.replace("'", "''") + "'"
        with admin.connect() as connection:
            connection.exec_driver_sql(f"COMMENT ON DATABASE {quoted} IS {literal}")

    def marked(self, admin: sa.Engine, name: str) -> str | None:
        with admin.connect() as connection:
            found = connection.execute(
                sa.text(
                    "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                    "WHERE datname = :name"
                ),
                {"name": name},
            ).scalar()
        return str(found) if found is not None else None

    def database_names(self, admin: sa.Engine, prefix: str) -> list[str]:
        with admin.connect() as connection:
            names = connection.scalars(sa.text("SELECT datname FROM pg_database"))
            return sorted(n for n in names if n.startswith(prefix))

    @contextmanager
    def server_lock(self, admin: sa.Engine, name: str) -> Iterator[None]:
        key = int.from_bytes(
            hashlib.sha256(name.encode()).digest()[:8], "big", signed=True
        )
        with admin.connect() as connection:
            connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": key})
            try:
                yield
            finally:
                connection.execute(
                    sa.text("SELECT pg_advisory_unlock(:key)"), {"key": key}
                )


dialect = PostgreSQL("postgresql")
