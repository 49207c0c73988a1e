"""MySQL and MariaDB: a named lock, DDL that commits itself, throwaway databases."""

from __future__ import annotations

import contextlib
import math
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
    from ..binds import Bind


class NamedLock(SessionLock):
    """A named lock, taken with ``GET_LOCK`` without waiting."""

    acquire_sql = "SELECT GET_LOCK(:name, 0)"
    release_sql = "SELECT RELEASE_LOCK(:name)"
    holder_sql = "SELECT CONCAT('connection ', IS_USED_LOCK(:name))"


class MySQL(Dialect):
    default_port = 3306
    # Each DDL statement commits: a failed revision may leave part of its changes.
    transactional_ddl = False
    throwaway = True

    @property
    def family(self) -> str:
        return "mysql"

    def migration_lock(self, bind: Bind, connection: sa.Connection, name: str) -> Lock:
        return NamedLock(connection, {"name": name})

    #: A read timeout bounds every later statement of the connection too.
    sticky_args = frozenset({"read_timeout"})

    def connect_args(
        self,
        driver: str,
        connect_timeout: float | None,
        statement_timeout: float | None,
        *,
        migrating: bool,
    ) -> dict[str, Any]:
        if driver not in ("pymysql", "mysqldb") or connect_timeout is None:
            return {}
        seconds = max(1, math.ceil(connect_timeout))
        args: dict[str, Any] = {"connect_timeout": seconds}
        # The drivers' connect timeout covers the TCP connection only; the server's
        # greeting, and every answer after it, wait as long as the read timeout.
        if statement_timeout is not None:
            args["read_timeout"] = math.ceil(statement_timeout) + seconds
        elif not migrating:
            args["read_timeout"] = seconds
        return args

    def statement_timeout(
        self, connection: sa.Connection, seconds: float
    ) -> tuple[str, str] | None:
        if getattr(connection.dialect, "is_mariadb", False):
            return (
                f"SET SESSION max_statement_time = {seconds:g}",
                "SET SESSION max_statement_time = DEFAULT",
            )
        # MySQL limits only SELECT statements.
        milliseconds = max(1, round(seconds * 1000))
        return (
            f"SET SESSION max_execution_time = {milliseconds}",
            "SET SESSION max_execution_time = DEFAULT",
        )

    # Tenants in databases of the bind's server.
    tenant_schemas = True

    def enter_schema(
        self, connection: sa.Connection, schema: str
    ) -> Callable[[], None] | None:
        previous = connection.exec_driver_sql("SELECT DATABASE()").scalar()
        connection.exec_driver_sql(f"USE {_quote_on(connection, schema)}")
        connection.commit()
        if previous is None:
            return None  # no database to go back to: the connection is discarded

        def restore() -> None:
            if connection.in_transaction():
                connection.rollback()
            connection.exec_driver_sql(f"USE {_quote_on(connection, previous)}")
            connection.commit()

        return restore

    def schemas_holding(
        self, connection: sa.Connection, table: str, schemas: Sequence[str]
    ) -> set[str]:
        query = sa.text(
            "SELECT TABLE_SCHEMA FROM information_schema.TABLES "
            "WHERE TABLE_NAME = :table AND TABLE_SCHEMA IN :schemas"
        ).bindparams(sa.bindparam("schemas", expanding=True))
        found = connection.scalars(query, {"table": table, "schemas": list(schemas)})
        return set(found)

    def create_schema(self, connection: sa.Connection, name: str) -> None:
        self.create_database(connection, name)

    def drop_schema(self, connection: sa.Connection, name: str) -> None:
        connection.execute(
            sa.text(f"DROP DATABASE IF EXISTS {_quote_on(connection, name)}")
        )

    def engine_in_schema(self, engine: sa.Engine, schema: str) -> sa.Engine:
        return sa.create_engine(
            engine.url.set(database=schema), poolclass=sa.pool.NullPool
        )

    def empty_database(self, admin: sa.Engine, url: sa.URL) -> None:
        assert url.database is not None
        quoted = admin.dialect.identifier_preparer.quote_identifier(url.database)
        with admin.connect() as connection:
            connection.execute(sa.text("SET SESSION lock_wait_timeout = 5"))
            connection.execute(sa.text(f"DROP DATABASE {quoted}"))
            connection.execute(sa.text(f"CREATE DATABASE {quoted}"))

    def drop_database(self, admin: sa.Connection, name: str) -> None:
        sessions = admin.scalars(
            sa.text(
                "SELECT id FROM information_schema.processlist "
                "WHERE db = :name AND id <> CONNECTION_ID()"
            ),
            {"name": name},
        ).all()
        for session in sessions:
            with contextlib.suppress(sa.exc.DBAPIError):  # it ended meanwhile
                admin.execute(sa.text(f"KILL {int(session)}"))
        quoted = admin.dialect.identifier_preparer.quote_identifier(name)
        admin.execute(sa.text(f"DROP DATABASE IF EXISTS {quoted}"))

    # -- template databases ----------------------------------------------------------

    def copier(self, admin: sa.Engine, template: str) -> Callable[[str], None] | None:
        """MySQL and MariaDB cannot copy a database: each copy replays the
        template's own definitions (``SHOW CREATE TABLE``, ``VIEW``, ``TRIGGER``,
        which carry keys, indexes, foreign keys and ``AUTO_INCREMENT`` counters) and
        copies its rows with ``INSERT ... SELECT``. A template with anything else
        (stored routines, events, sequences, system-versioned tables) is not copied."""
        plan = _copy_plan(admin, template)
        if plan is None:
            return None
        charset, collation, statements = plan
        quote = admin.dialect.identifier_preparer.quote_identifier

        def copy(name: str) -> None:
            with admin.connect() as connection:
                connection.execute(
                    sa.text(
                        f"CREATE DATABASE {quote(name)} CHARACTER SET {charset} "
                        f"COLLATE {collation}"
                    )
                )
            engine = sa.create_engine(
                admin.url.set(database=name), poolclass=sa.pool.NullPool
            )
            try:
                with engine.begin() as connection:
                    connection.execute(sa.text("SET FOREIGN_KEY_CHECKS = 0"))
                    for statement in statements:
                        connection.exec_driver_sql(
                            statement.replace(_HERE, quote(name))
                        )
            finally:
                engine.dispose()

        return copy

    def mark(self, admin: sa.Engine, name: str, mark: str) -> None:
        where = f"{_quote(admin, name)}.{_MARKER}"
        with admin.connect() as connection:
            connection.execute(sa.text(f"CREATE TABLE {where} (mark VARCHAR(255))"))
            connection.execute(
                sa.text(f"INSERT INTO {where} VALUES (:mark)"), {"mark": mark}
            )

    def marked(self, admin: sa.Engine, name: str) -> str | None:
        with admin.connect() as connection:
            exists = connection.execute(
                sa.text(
                    "SELECT COUNT(*) FROM information_schema.TABLES WHERE "
                    "TABLE_SCHEMA = :name AND TABLE_NAME = :marker"
                ),
                {"name": name, "marker": _MARKER},
            ).scalar()
            if not exists:
                return None
            where = f"{_quote(admin, name)}.{_MARKER}"
            found = connection.execute(sa.text(f"SELECT mark FROM {where}")).scalar()
        return str(found) if found is not None else None

    def database_names(self, admin: sa.Engine, prefix: str) -> list[str]:
        with admin.connect() as connection:
            names = connection.scalars(
                sa.text("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA")
            )
            return sorted(n for n in names if n.startswith(prefix))

    @contextmanager
    def server_lock(self, admin: sa.Engine, name: str) -> Iterator[None]:
        with admin.connect() as connection:
            # One year: as long as it takes.
            connection.execute(
                sa.text("SELECT GET_LOCK(:name, 31536000)"), {"name": name[:64]}
            )
            try:
                yield
            finally:
                connection.execute(
                    sa.text("SELECT RELEASE_LOCK(:name)"), {"name": name[:64]}
                )


#: The table that marks a template database completely built.
_MARKER = "schemaver_template"
#: Stands for the copy's quoted name in a copy's statements.
_HERE = "\x00here\x00"


def _quote(engine: sa.Engine, name: str) -> str:
    return engine.dialect.identifier_preparer.quote_identifier(name)


def _quote_on(connection: sa.Connection, name: str) -> str:
    return connection.dialect.identifier_preparer.quote_identifier(name)


def _copy_plan(admin: sa.Engine, template: str) -> tuple[str, str, list[str]] | None:
    """The character set, collation and statements that rebuild ``template`` in a
    database whose quoted name replaces :data:`_HERE`; None if it holds objects the
    statements cannot rebuild."""
    quoted = _quote(admin, template)
    params = {"name": template}
    with admin.connect() as connection:
        charset, collation = connection.execute(
            sa.text(
                "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM "
                "information_schema.SCHEMATA WHERE SCHEMA_NAME = :name"
            ),
            params,
        ).one()
        others = connection.execute(
            sa.text(
                "SELECT (SELECT COUNT(*) FROM information_schema.ROUTINES WHERE "
                "ROUTINE_SCHEMA = :name) + (SELECT COUNT(*) FROM "
                "information_schema.EVENTS WHERE EVENT_SCHEMA = :name)"
            ),
            params,
        ).scalar()
        kinds = connection.execute(
            sa.text(
                "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = :name ORDER BY TABLE_NAME"
            ),
            params,
        ).all()
        if others or any(k not in ("BASE TABLE", "VIEW") for _, k in kinds):
            return None
        tables = [n for n, k in kinds if k == "BASE TABLE" and n != _MARKER]
        views = [n for n, k in kinds if k == "VIEW"]
        statements = [_show(connection, "TABLE", quoted, t, 1) for t in tables]
        statements += _rows(connection, quoted, template, tables)
        for view in _view_order(connection, template, views):
            text = _show(connection, "VIEW", quoted, view, 1)
            statements.append(text.replace(f"{quoted}.", f"{_HERE}."))
        triggers = connection.scalars(
            sa.text(
                "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE "
                "TRIGGER_SCHEMA = :name ORDER BY ACTION_ORDER"
            ),
            params,
        ).all()
        statements += [_show(connection, "TRIGGER", quoted, t, 2) for t in triggers]
    return str(charset), str(collation), statements


def _show(connection: sa.Connection, kind: str, schema: str, name: str, at: int) -> str:
    quoted = connection.dialect.identifier_preparer.quote_identifier(name)
    row = connection.exec_driver_sql(f"SHOW CREATE {kind} {schema}.{quoted}").one()
    return str(row[at])


def _rows(
    connection: sa.Connection, quoted: str, template: str, tables: list[str]
) -> list[str]:
    """``INSERT ... SELECT`` for each table that holds rows, generated columns left
    out."""
    quote = connection.dialect.identifier_preparer.quote_identifier
    columns: dict[str, list[str]] = {}
    for table, column in connection.execute(
        sa.text(
            "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS WHERE "
            "TABLE_SCHEMA = :name AND COALESCE(GENERATION_EXPRESSION, '') = '' "
            "ORDER BY TABLE_NAME, ORDINAL_POSITION"
        ),
        {"name": template},
    ):
        columns.setdefault(table, []).append(quote(column))
    statements = []
    for table in tables:
        source = f"{quoted}.{quote(table)}"
        if connection.exec_driver_sql(f"SELECT 1 FROM {source} LIMIT 1").first():
            names = ", ".join(columns[table])
            statements.append(
                f"INSERT INTO {quote(table)} ({names}) SELECT {names} FROM {source}"
            )
    return statements


def _view_order(
    connection: sa.Connection, template: str, views: list[str]
) -> list[str]:
    """Views ordered so that each comes after the views it reads."""
    uses: dict[str, set[str]] = {v: set() for v in views}
    for view, definition in connection.execute(
        sa.text(
            "SELECT TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS "
            "WHERE TABLE_SCHEMA = :name"
        ),
        {"name": template},
    ):
        uses[view] = {v for v in views if v != view and f"`{v}`" in definition}
    ordered: list[str] = []
    while len(ordered) < len(views):
        ready = [v for v in views if v not in ordered and uses[v] <= set(ordered)]
        ordered += ready or [v for v in views if v not in ordered]
    return ordered


dialect = MySQL("mysql")
