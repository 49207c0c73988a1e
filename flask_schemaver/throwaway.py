"""Throwaway databases for tests: an empty database per bind, of the bind's kind.

Only tests import this module, through :mod:`.testing`.
"""

from __future__ import annotations

import contextlib
import itertools
import uuid
from pathlib import Path

import sqlalchemy as sa

from .exceptions import ConfigError

_SERVERS = ("postgresql", "mysql", "mariadb")


class ThrowawayDatabases:
    """Empty databases for tests, one kind per bind: SQLite files for SQLite binds, and
    uniquely named databases on the server of PostgreSQL and MySQL/MariaDB binds.

    Server databases are named ``schemaver_<token>_<n>``; a database a test is done
    with is emptied and handed to the next test, and :meth:`close` drops them all.
    """

    def __init__(self) -> None:
        self.token = uuid.uuid4().hex[:8]
        self._admins: dict[str, sa.Engine] = {}
        self._made: dict[str, list[str]] = {}
        self._free: dict[str, list[str]] = {}
        self._numbers = itertools.count(1)

    def acquire(self, url: sa.URL, sqlite_file: Path, bind: str) -> sa.URL:
        """The URL of an empty database of the kind ``url`` names."""
        backend = url.get_backend_name()
        if backend == "sqlite":
            sqlite_file.unlink(missing_ok=True)
            return url.set(database=str(sqlite_file), query={})
        if backend not in _SERVERS:
            raise ConfigError(
                f"bind {bind!r} uses {backend}; throwaway test databases can be made "
                "on SQLite, PostgreSQL and MySQL/MariaDB only",
                bind,
            )
        key = _server_key(url)
        free = self._free.setdefault(key, [])
        if free:
            return url.set(database=free.pop())
        admin = self._admin(url, key, bind)
        made = self._made.setdefault(key, [])
        name = f"schemaver_{self.token}_{next(self._numbers)}"
        with admin.connect() as connection:
            connection.execute(sa.text(f"CREATE DATABASE {_quote(admin, name)}"))
        made.append(name)
        return url.set(database=name)

    def release(self, url: sa.URL) -> None:
        """Empty a database from :meth:`acquire` so that another test can have it."""
        if url.get_backend_name() == "sqlite" or url.database is None:
            return
        key = _server_key(url)
        admin = self._admins[key]
        try:
            if admin.dialect.name == "postgresql":
                _empty_postgresql(url)
            else:
                with admin.connect() as connection:
                    quoted = _quote(admin, url.database)
                    connection.execute(sa.text("SET SESSION lock_wait_timeout = 5"))
                    connection.execute(sa.text(f"DROP DATABASE {quoted}"))
                    connection.execute(sa.text(f"CREATE DATABASE {quoted}"))
        except sa.exc.DBAPIError:
            # Still in use, e.g. by a connection the test leaked: not to be handed on;
            # close() drops it.
            return
        self._free[key].append(url.database)

    def close(self) -> None:
        """Drop every database made; dispose of the server connections."""
        for key, admin in self._admins.items():
            for name in self._made.get(key, []):
                self._drop(admin, name)
            admin.dispose()
        self._admins.clear()
        self._made.clear()
        self._free.clear()

    def _admin(self, url: sa.URL, key: str, bind: str) -> sa.Engine:
        admin = self._admins.get(key)
        if admin is not None:
            return admin
        candidates = (
            ("postgres", "template1")
            if url.get_backend_name() == "postgresql"
            else (None,)
        )
        error: sa.exc.DBAPIError | None = None
        for database in candidates:
            admin = sa.create_engine(
                url.set(database=database or ""), isolation_level="AUTOCOMMIT"
            )
            try:
                with admin.connect():
                    pass
            except sa.exc.DBAPIError as exc:
                admin.dispose()
                error = error or exc
                continue
            self._admins[key] = admin
            return admin
        assert error is not None
        safe = url.set(database="").render_as_string(hide_password=True)
        raise ConfigError(
            f"cannot make a throwaway database on the server of bind {bind!r} at "
            f"{safe}: {' '.join(str(error.orig).split())}",
            bind,
        ) from error

    @staticmethod
    def _drop(admin: sa.Engine, name: str) -> None:
        """Drop the database, ending the sessions still connected to it."""
        quoted = _quote(admin, name)
        with admin.connect() as connection:
            if admin.dialect.name == "postgresql":
                connection.execute(
                    sa.text(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
                )
                return
            sessions = connection.scalars(
                sa.text(
                    "SELECT id FROM information_schema.processlist "
                    "WHERE db = :name AND id <> CONNECTION_ID()"
                ),
                {"name": name},
            ).all()
            for session in sessions:
                with contextlib.suppress(sa.exc.DBAPIError):  # it ended meanwhile
                    connection.execute(sa.text(f"KILL {int(session)}"))
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS {quoted}"))


def _server_key(url: sa.URL) -> str:
    return url.set(database="").render_as_string(hide_password=False)


def _quote(engine: sa.Engine, name: str) -> str:
    return engine.dialect.identifier_preparer.quote_identifier(name)


def _empty_postgresql(url: sa.URL) -> None:
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
            for schema in schemas:
                quoted = _quote(engine, schema)
                connection.execute(sa.text(f"DROP SCHEMA {quoted} CASCADE"))
            connection.execute(sa.text("CREATE SCHEMA public"))
    finally:
        engine.dispose()
