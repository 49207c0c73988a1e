"""SQLite: an exclusive file lock beside the database file, and DDL that is part of
the migration's transaction.

Python's sqlite3 module, in its legacy transaction handling, begins a transaction only
before INSERT, UPDATE and DELETE: a revision's CREATE, ALTER and DROP statements, and
batch mode's ``_alembic_tmp_`` tables, would be committed as they run, and survive the
failure of a later statement. SQLite itself rolls DDL back like anything else, so, as
SQLAlchemy documents for pysqlite, the driver is told to leave transactions alone and
``BEGIN`` is emitted when SQLAlchemy begins one; only on the migration's own
connection, and only while it migrates.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from typing import TYPE_CHECKING

import sqlalchemy as sa

from .base import Dialect
from .base import Lock
from .base import NoLock

if TYPE_CHECKING:
    from ..binds import Bind

#: sqlite3's legacy transaction handling (Python 3.12 and newer name it).
_LEGACY = getattr(sqlite3, "LEGACY_TRANSACTION_CONTROL", -1)


def lock_path(bind: Bind) -> str | None:
    """The lock file of ``bind``; None for a database that is not a file."""
    database = bind.engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return f"{os.path.realpath(database)}.{bind.version_table}.lock"


def _lock_file(fd: int) -> None:
    """Take an exclusive lock on an open file without waiting; OSError if it is held."""
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined,unused-ignore]
    else:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


class FileLock(Lock):
    """An exclusive ``flock`` on a file beside the SQLite database."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd: int | None = None

    def try_acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _lock_file(fd)
        except OSError:  # held by another process
            os.close(fd)
            return False
        self.fd = fd
        return True

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor drops the flock
            self.fd = None


def _begin(connection: sa.Connection) -> None:
    if connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
        connection.exec_driver_sql("BEGIN")


class SQLite(Dialect):
    def migration_lock(self, bind: Bind, connection: sa.Connection, name: str) -> Lock:
        path = lock_path(bind)
        return NoLock() if path is None else FileLock(path)

    @contextmanager
    def migrating(self, connection: sa.Connection) -> Iterator[None]:
        driver: Any = connection.connection.dbapi_connection
        legacy = getattr(driver, "autocommit", _LEGACY) == _LEGACY
        if not isinstance(driver, sqlite3.Connection) or not legacy:
            yield  # another driver, or one that already begins every transaction
            return
        if connection.in_transaction():
            connection.commit()
        previous = driver.isolation_level
        driver.isolation_level = None
        sa.event.listen(connection, "begin", _begin)
        try:
            yield
        finally:
            sa.event.remove(connection, "begin", _begin)
            if connection.in_transaction():
                connection.rollback()
            driver.isolation_level = previous


dialect = SQLite("sqlite")
