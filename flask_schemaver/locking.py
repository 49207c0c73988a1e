"""Migration locks: one process at a time changes a bind's version table.

PostgreSQL uses a session-level advisory lock and MySQL/MariaDB a named lock (GET_LOCK),
both on the connection that runs the migrations and both taken by polling, so a waiting
process never blocks inside the server (where it could deadlock with, e.g., CREATE INDEX
CONCURRENTLY). SQLite uses an exclusive file lock next to the database file. The lock is
keyed on the database, the version table's schema and the version table, so binds that
share a database only wait for each other when they share a version table (which is
refused anyway).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from typing import TYPE_CHECKING

import sqlalchemy as sa

from .exceptions import LockTimeout

if TYPE_CHECKING:
    from .binds import Bind

#: Called once a wait has passed a second, and again every ``_REPORT_EVERY`` seconds.
WaitCallback = Callable[["LockWait"], None]

_FIRST_REPORT = 1.0
_REPORT_EVERY = 10.0
_POLL_MIN = 0.02
_POLL_MAX = 0.5


@dataclass(frozen=True)
class LockWait:
    """A process waiting for a bind's migration lock."""

    bind: str
    waited: float
    #: Who holds the lock, as far as the database can tell (may be empty).
    holder: str
    #: This process: ``host:pid``.
    waiter: str


def lock_name(bind: Bind) -> str:
    """A stable name for the bind's lock: database, version table schema and name.

    The lock lives in the server the bind connects to, so the host and port are left
    out: two processes that spell the same server differently (``localhost`` and
    ``127.0.0.1``, with or without the default port) still share the lock.
    """
    url = bind.engine.url
    backend = url.get_backend_name()
    parts = (
        "mysql" if backend == "mariadb" else backend,
        url.database or "",
        bind.version_table_schema or "",
        bind.version_table,
    )
    digest = hashlib.sha256("\x00".join(parts).encode()).hexdigest()
    return f"schemaver_{digest[:40]}"


@contextmanager
def hold(
    bind: Bind,
    connection: sa.Connection,
    *,
    timeout: float | None,
    on_wait: WaitCallback | None = None,
) -> Iterator[None]:
    """Hold the bind's migration lock, on ``connection``, for the ``with`` block."""
    dialect = bind.dialect
    if dialect == "postgresql":
        lock: _Lock = _PostgresLock(connection, lock_name(bind))
    elif dialect in ("mysql", "mariadb"):
        lock = _MySQLLock(connection, lock_name(bind))
    elif dialect == "sqlite":
        lock = _FileLock(_sqlite_lock_path(bind))
    else:
        lock = _NoLock()
    _acquire(bind, lock, timeout, on_wait)
    try:
        yield
    finally:
        lock.release()


def _acquire(
    bind: Bind, lock: _Lock, timeout: float | None, on_wait: WaitCallback | None
) -> None:
    started = time.monotonic()
    next_report = _FIRST_REPORT
    interval = _POLL_MIN
    while not lock.try_acquire():
        waited = time.monotonic() - started
        if timeout is not None and waited >= timeout:
            raise LockTimeout(bind.name, timeout, lock.holder())
        if on_wait is not None and waited >= next_report:
            on_wait(LockWait(bind.name, waited, lock.holder(), _me()))
            next_report += _REPORT_EVERY
        time.sleep(interval)
        interval = min(interval * 2, _POLL_MAX)


def _me() -> str:
    return f"{os.uname().nodename}:{os.getpid()}"


class _Lock:
    def try_acquire(self) -> bool:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    def holder(self) -> str:
        return ""


class _NoLock(_Lock):
    """Dialects without a known lock, and binds that turned locking off."""

    def try_acquire(self) -> bool:
        return True

    def release(self) -> None:
        pass


class _SessionLock(_Lock):
    """A lock owned by a database session; it also ends when the connection closes."""

    acquire_sql: str
    release_sql: str
    holder_sql: str

    def __init__(self, connection: sa.Connection, name: str) -> None:
        self.connection = connection
        self.params = self._params(name)

    def _params(self, name: str) -> dict[str, Any]:
        return {"name": name}

    def _scalar(self, sql: str) -> Any:
        value = self.connection.execute(sa.text(sql), self.params).scalar()
        # Leave no transaction open: Alembic begins one per migration.
        self.connection.commit()
        return value

    def try_acquire(self) -> bool:
        return bool(self._scalar(self.acquire_sql))

    def release(self) -> None:
        try:
            if self.connection.in_transaction():
                self.connection.rollback()
            self._scalar(self.release_sql)
        except sa.exc.DBAPIError:
            # The server ends the lock with the session; make sure the session ends.
            self.connection.invalidate()

    def holder(self) -> str:
        try:
            value = self._scalar(self.holder_sql)
        except sa.exc.DBAPIError:
            return ""
        return str(value) if value else ""


class _PostgresLock(_SessionLock):
    acquire_sql = "SELECT pg_try_advisory_lock(:key)"
    release_sql = "SELECT pg_advisory_unlock(:key)"
    holder_sql = (
        "SELECT 'pid ' || a.pid || coalesce(' (' || nullif(a.application_name, '') || ')', '')"
        " || coalesce(' from ' || host(a.client_addr), '')"
        " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.granted"
        " AND ((l.classid::bigint << 32) | l.objid::bigint) = :key LIMIT 1"
    )

    def _params(self, name: str) -> dict[str, Any]:
        key = int.from_bytes(
            hashlib.sha256(name.encode()).digest()[:8], "big", signed=True
        )
        return {"key": key}


class _MySQLLock(_SessionLock):
    acquire_sql = "SELECT GET_LOCK(:name, 0)"
    release_sql = "SELECT RELEASE_LOCK(:name)"
    holder_sql = "SELECT CONCAT('connection ', IS_USED_LOCK(:name))"


def _sqlite_lock_path(bind: Bind) -> str | None:
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


class _FileLock(_Lock):
    """An exclusive ``flock`` on a file beside the SQLite database."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.fd: int | None = None

    def try_acquire(self) -> bool:
        if self.path is None:
            return True
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
