"""MySQL and MariaDB: a named lock, DDL that commits itself, throwaway databases."""

from __future__ import annotations

import contextlib
import math
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


dialect = MySQL("mysql")
