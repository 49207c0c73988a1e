"""SQLite: an exclusive file lock beside the database file, and DDL that is part of
the migration's transaction.

Python's sqlite3 module, in its legacy transaction handling, begins a transaction only
before INSERT, UPDATE and DELETE: a revision's CREATE, ALTER and DROP statements, and
batch mode's ``_alembic_tmp_`` tables, would be committed as they run, and survive the
failure of a later statement. SQLite itself rolls DDL back like anything else, so on
the migration's own connection, and only while it migrates, the driver is told to
leave transactions alone (as SQLAlchemy documents for pysqlite) and ``BEGIN`` is sent
before the first statement that writes, DDL included. Reads before it take no lock
that lasts, so a revision may still write through another connection (the app's
session, say) until its own first change.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ..exceptions import MigrationError
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

    def __init__(self, path: str, bind: str) -> None:
        self.path = path
        self.bind = bind
        self.fd: int | None = None

    def try_acquire(self) -> bool:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise MigrationError(
                f"cannot open the lock file {self.path}: {exc.strerror}; make it (or "
                "its folder) writable, or set 'lock': False for this bind in "
                "SCHEMAVER_BINDS",
                self.bind,
            ) from None
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


#: Statements that only read: no transaction begins for them.
_READ = re.compile(r"\s*(SELECT|PRAGMA|EXPLAIN)\b", re.IGNORECASE)


def _begin_before_writes(
    connection: sa.Connection,
    cursor: Any,
    statement: str,
    parameters: Any,
    context: Any,
    executemany: bool,
) -> None:
    driver = connection.connection.dbapi_connection
    if (
        driver is not None
        and not driver.in_transaction
        and connection.in_transaction()
        and not _READ.match(statement)
    ):
        cursor.execute("BEGIN")


class SQLite(Dialect):
    def migration_lock(self, bind: Bind, connection: sa.Connection, name: str) -> Lock:
        path = lock_path(bind)
        return NoLock() if path is None else FileLock(path, bind.name)

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
        sa.event.listen(connection, "before_cursor_execute", _begin_before_writes)
        try:
            yield
        finally:
            sa.event.remove(connection, "before_cursor_execute", _begin_before_writes)
            if connection.in_transaction():
                connection.rollback()
            driver.isolation_level = previous


dialect = SQLite("sqlite")
