"""Migration locks: one process at a time changes a bind's version table.

Each kind of database brings its own lock (see :mod:`flask_schemaver.dialects`):
PostgreSQL a session-level advisory lock and MySQL/MariaDB a named lock, both on the
connection that runs the migrations; SQLite an exclusive file lock next to the
database file. Every lock is taken by polling, so a waiting process never blocks
inside the server (where it could deadlock with, e.g., CREATE INDEX CONCURRENTLY). The
lock is keyed on the database, the version table's schema and the version table, so
binds that share a database only wait for each other when they share a version table
(which is refused anyway).
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from .. import dialects
from ..exceptions import LockTimeout

if TYPE_CHECKING:
    import sqlalchemy as sa

    from ..binds import Bind
    from ..dialects.base import Lock
    from ..results import LockWait

#: Called once a wait has passed a second, and again every ``_REPORT_EVERY`` seconds.
WaitCallback = Callable[["LockWait"], None]

_FIRST_REPORT = 1.0
_REPORT_EVERY = 10.0
_POLL_MIN = 0.02
_POLL_MAX = 0.5


def lock_name(bind: Bind) -> str:
    """A stable name for the bind's lock: database, version table schema and name.

    The lock lives in the server the bind connects to, so the host and port are left
    out: two processes that spell the same server differently (``localhost`` and
    ``127.0.0.1``, with or without the default port) still share the lock.
    """
    parts = (
        dialects.of(bind).family,
        bind.engine.url.database or "",
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
    lock = dialects.of(bind).migration_lock(bind, connection, lock_name(bind))
    _acquire(bind, lock, timeout, on_wait)
    try:
        yield
    finally:
        lock.release()


def _acquire(
    bind: Bind, lock: Lock, timeout: float | None, on_wait: WaitCallback | None
) -> None:
    from ..results import LockWait

    started = time.monotonic()
    next_report = _FIRST_REPORT
    interval = _POLL_MIN
    while not lock.try_acquire():
        waited = time.monotonic() - started
        if timeout is not None and waited >= timeout:
            raise LockTimeout(bind.name, timeout, lock.holder())
        if on_wait is not None and waited >= next_report:
            on_wait(
                LockWait(bind.name, waited, lock.holder(), _me(), tenant=bind.tenant)
            )
            next_report += _REPORT_EVERY
        time.sleep(interval)
        interval = min(interval * 2, _POLL_MAX)


def _me() -> str:
    # socket, not os.uname, which Windows lacks.
    return f"{socket.gethostname()}:{os.getpid()}"
