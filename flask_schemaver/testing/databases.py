"""Throwaway databases for tests: an empty database per bind, of the bind's kind.

How a database is made, emptied and dropped is each dialect's business (see
:mod:`flask_schemaver.dialects`). Only tests import this module.
"""

from __future__ import annotations

import itertools
import uuid
from pathlib import Path

import sqlalchemy as sa

from .. import dialects
from ..exceptions import ConfigError


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
        """The URL of an empty database of the kind ``url`` names.

        :param url: a URL on the server (or of the kind) to make the database on.
        :param sqlite_file: where to put the database when ``url`` is SQLite's.
        :param bind: the bind it is for, named in errors.
        """
        backend = url.get_backend_name()
        if backend == "sqlite":
            sqlite_file.unlink(missing_ok=True)
            return url.set(database=str(sqlite_file), query={})
        kind = dialects.named(backend)
        if not kind.throwaway:
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
        name = f"schemaver_{self.token}_{next(self._numbers)}"
        try:
            with admin.connect() as connection:
                kind.create_database(connection, name)
        except sa.exc.DBAPIError as exc:
            raise _cannot_make(url, bind, exc) from None
        self._made.setdefault(key, []).append(name)
        return url.set(database=name)

    def release(self, url: sa.URL) -> None:
        """Empty a database from :meth:`acquire` so that another test can have it."""
        if url.get_backend_name() == "sqlite" or url.database is None:
            return
        key = _server_key(url)
        admin = self._admins[key]
        try:
            dialects.named(admin.dialect.name).empty_database(admin, url)
        except sa.exc.DBAPIError:
            # Still in use, e.g. by a connection the test leaked: not to be handed on;
            # close() drops it.
            return
        self._free[key].append(url.database)

    def server(self, url: sa.URL, bind: str) -> sa.Engine:
        """An engine on the server of ``url`` that may create and drop databases."""
        return self._admin(url, _server_key(url), bind)

    def close(self) -> None:
        """Drop every database made; dispose of the server connections."""
        for key, admin in self._admins.items():
            kind = dialects.named(admin.dialect.name)
            for name in self._made.get(key, []):
                with admin.connect() as connection:
                    kind.drop_database(connection, name)
            admin.dispose()
        self._admins.clear()
        self._made.clear()
        self._free.clear()

    def _admin(self, url: sa.URL, key: str, bind: str) -> sa.Engine:
        admin = self._admins.get(key)
        if admin is not None:
            return admin
        error: sa.exc.DBAPIError | None = None
        for database in dialects.named(url.get_backend_name()).admin_databases:
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
        raise _cannot_make(url, bind, error) from None


def _cannot_make(url: sa.URL, bind: str, error: sa.exc.DBAPIError) -> ConfigError:
    """One line saying why no database could be made; no password in it, and no
    traceback (whose locals would show the URL) chained to it."""
    from ..masking import hide_password
    from ..masking import hide_url_secrets
    from ..masking import url_secrets

    detail = " ".join(str(error.orig).split())
    for secret in url_secrets(url):
        detail = hide_password(detail, secret)
    return ConfigError(
        f"cannot make a throwaway database on the server of bind {bind!r} at "
        f"{hide_url_secrets(url.set(database=''))}: {detail}; the test user needs "
        "the right to create databases (PostgreSQL: CREATEDB; MySQL: CREATE)",
        bind,
    )


def _server_key(url: sa.URL) -> str:
    return url.set(database="").render_as_string(hide_password=False)
