"""MySQL and MariaDB: a named lock, DDL that commits itself, throwaway databases."""

from __future__ import annotations

import contextlib
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
