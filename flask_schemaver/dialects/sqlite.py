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
from collections.abc import Sequence
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

    def table_signatures(
        self, connection: sa.Connection, schemas: Sequence[str | None]
    ) -> dict[tuple[str | None, str], str | None] | None:
        """Each table's CREATE statements as SQLite keeps them: the table's own, its
        indexes' and triggers', and those of the tables its foreign keys name (whose
        primary key a foreign key without columns refers to)."""
        found: dict[tuple[str | None, str], str | None] = {}
        quote = connection.dialect.identifier_preparer.quote
        for schema in schemas:
            master = f"{quote(schema)}.sqlite_master" if schema else "sqlite_master"
            rows = connection.exec_driver_sql(
                f"SELECT type, name, tbl_name, sql FROM {master}"
            ).all()
            tables = {
                name.lower(): sql or ""
                for kind, name, _, sql in rows
                if kind == "table"
            }
            parts: dict[str, list[str]] = {}
            for kind, name, table, sql in rows:
                parts.setdefault(table, []).append(f"{kind}\x00{name}\x00{sql}")
            for table, items in parts.items():
                referred = _referred(tables.get(table.lower(), ""))
                if referred is None:
                    found[(schema, table)] = None
                    continue
                items += [f"refers\x00{r}\x00{tables.get(r, '')}" for r in referred]
                found[(schema, table)] = "\x01".join(sorted(items))
        return found

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


#: A table named after REFERENCES, quoted in any of SQLite's ways or not.
_REFERENCES = re.compile(
    r'\bREFERENCES\s+("(?:[^"]|"")+"|`(?:[^`]|``)+`|\[[^\]]+\]|\'(?:[^\']|\'\')+\'|[\w$]+)',
    re.IGNORECASE,
)


def _referred(sql: str) -> list[str] | None:
    """The tables the foreign keys of a CREATE TABLE statement name, lower-cased;
    None when some cannot be told."""
    names = [_unquote(m) for m in _REFERENCES.findall(sql)]
    if len(names) != len(re.findall(r"\bREFERENCES\b", sql, re.IGNORECASE)):
        return None
    return sorted({n.lower() for n in names})


def _unquote(name: str) -> str:
    if name[:1] in "\"`'" and len(name) > 1:
        return name[1:-1].replace(name[0] * 2, name[0])
    if name[:1] == "[":
        return name[1:-1]
    return name


dialect = SQLite("sqlite")
