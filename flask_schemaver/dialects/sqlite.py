"""SQLite: an exclusive file lock beside the database file."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .base import Dialect
from .base import Lock
from .base import NoLock

if TYPE_CHECKING:
    import sqlalchemy as sa

    from ..binds import Bind


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


class SQLite(Dialect):
    def migration_lock(self, bind: Bind, connection: sa.Connection, name: str) -> Lock:
        path = lock_path(bind)
        return NoLock() if path is None else FileLock(path)


dialect = SQLite("sqlite")
