"""Where a tenant lives, made when it is missing: a schema of its bind's database, a
database on a server, or a SQLite file.

:func:`flask_schemaver.SchemaVer.create_tenant` makes a tenant's place before
bringing it to the heads, and drops it again when it made it and the upgrade failed.
How each kind of database makes and drops a schema or a database is its dialect's
business (:mod:`flask_schemaver.dialects`); this module decides which one, on which
server, and says what went wrong in one line.

This module must not import Alembic.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from typing import TYPE_CHECKING
from typing import TypeVar

import sqlalchemy as sa

from . import dialects
from .exceptions import MigrationError

if TYPE_CHECKING:
    from .tenants import Fleet

T = TypeVar("T")


class Place:
    """Tenant ``name``'s schema or database, as its fleet says where it lives."""

    def __init__(self, fleet: Fleet, name: str) -> None:
        #: The tenant, as migrations reach it.
        self.tenant = fleet.tenant(name)
        #: ``"schema"`` or ``"database"``.
        self.kind = fleet.kind
        self.name = name
        self._bind = fleet.bind
        self._url: sa.URL = (
            fleet.bind.engine.url if fleet.kind == "schema" else fleet.places[name]
        )

    def fields(self) -> dict[str, Any]:
        """What results say of the place: ``bind``, ``tenant``, ``kind``, ``where``."""
        return {
            "bind": self.tenant.name,
            "tenant": self.name,
            "kind": self.kind,
            "where": self.where,
        }

    @property
    def noun(self) -> str:
        """What the place is called: ``schema``, or ``database`` (MySQL and MariaDB
        call their schemas databases)."""
        if self.kind == "schema" and dialects.of(self._bind).family != "mysql":
            return "schema"
        return "database"

    @property
    def where(self) -> str:
        """Where the tenant lives, for people: ``schema acme`` (``database acme`` on
        MySQL), or its database's URL with the password hidden."""
        if self.kind == "schema":
            return f"{self.noun} {self.tenant.tenant_schema}"
        return self.tenant.safe_url

    @property
    def file(self) -> str | None:
        """The SQLite file of a tenant with a database of its own; None otherwise."""
        if self.kind == "schema" or self._url.get_backend_name() != "sqlite":
            return None
        database = self._url.database or ""
        if not database or database == ":memory:" or database.startswith("file:"):
            return None
        return os.path.abspath(database)

    @property
    def makeable(self) -> bool:
        """Whether flask_schemaver can make (and drop) this kind of place: schemas,
        SQLite files, and databases on PostgreSQL and MySQL/MariaDB servers."""
        if self.kind == "schema" or self.file is not None:
            return True
        return dialects.named(self._url.get_backend_name()).throwaway

    def exists(self) -> bool:
        """Whether the schema, database or file is there (a place that can't be
        made is taken to exist: its upgrade says otherwise)."""
        if not self.makeable:
            return True
        if self.file is not None:
            return os.path.exists(self.file)
        return self._on("look for", self._exists)

    def make(self) -> bool:
        """Make the place unless it exists; True when this call made it (another
        process making it at the same moment is no error: False then)."""
        if self.exists():
            return False
        if self.file is not None:
            return self._make_file(self.file)
        try:
            self._on("make", self._create)
        except MigrationError:
            if self.exists():  # made by another process meanwhile
                return False
            raise
        return True

    def drop(self) -> None:
        """Drop the place and everything in it."""
        if self.file is not None:
            for suffix in ("", "-journal", "-wal", "-shm"):
                if os.path.exists(self.file + suffix):
                    os.remove(self.file + suffix)
            return
        self._on("drop", self._drop)

    def _exists(self, admin: sa.Engine) -> bool:
        kind = dialects.named(self._url.get_backend_name())
        if self.kind == "schema":
            with admin.connect() as connection:
                schema = self.tenant.tenant_schema or ""
                return bool(sa.inspect(connection).has_schema(schema))
        database = self._url.database or ""
        return database in kind.database_names(admin, database)

    def _create(self, admin: sa.Engine) -> None:
        self._change(admin, making=True)

    def _drop(self, admin: sa.Engine) -> None:
        self._change(admin, making=False)

    def _change(self, admin: sa.Engine, *, making: bool) -> None:
        """Create (``making``) or drop the schema or database."""
        kind = dialects.named(self._url.get_backend_name())
        change: Callable[[sa.Connection, str], None]
        if self.kind == "schema":
            name = self.tenant.tenant_schema or ""
            change = kind.create_schema if making else kind.drop_schema
        else:
            name = self._url.database or ""
            change = kind.create_database if making else kind.drop_database
        with admin.connect() as connection:
            change(connection, name)
            connection.commit()

    def _make_file(self, path: str) -> bool:
        folder = os.path.dirname(path)
        if not os.path.isdir(folder):
            raise MigrationError(
                f"cannot make the SQLite file of tenant {self.name!r}: its folder "
                f"{folder} does not exist",
                self._bind.name,
            )
        try:
            # An empty file is an empty SQLite database.
            with open(path, "x"):
                pass
        except FileExistsError:
            return False
        except OSError as exc:
            raise MigrationError(
                f"cannot make the SQLite file {path} of tenant {self.name!r}: "
                f"{exc.strerror}",
                self._bind.name,
            ) from None
        return True

    def _on(self, doing: str, work: Callable[[sa.Engine], T]) -> T:
        """``work`` done with an engine on the place's server that may make and drop
        schemas or databases; a database error is one line."""
        try:
            with self._admin() as admin:
                return work(admin)
        except sa.exc.DBAPIError as exc:
            said = self.tenant.hide_secrets(str(exc.orig).strip().splitlines()[0])
            hint = (
                ""
                if doing == "look for"
                else f"; the database user needs the right to {doing} {self.noun}s"
            )
            raise MigrationError(
                f"cannot {doing} the {self.noun} of tenant {self.name!r} ({said})"
                + hint,
                self._bind.name,
            ) from None

    @contextmanager
    def _admin(self) -> Iterator[sa.Engine]:
        """An engine on the place's server: for a schema, the bind's own (its pool is
        warm); for a database, one outside any transaction on the first of the
        server's administration databases that lets it connect."""
        if self.kind == "schema":
            yield self._bind.engine
            return
        error: sa.exc.DBAPIError | None = None
        for database in dialects.named(self._url.get_backend_name()).admin_databases:
            engine = sa.create_engine(
                self._url.set(database=database or ""),
                poolclass=sa.pool.NullPool,
                isolation_level="AUTOCOMMIT",
            )
            try:
                with engine.connect():
                    pass
            except sa.exc.DBAPIError as exc:
                engine.dispose()
                error = error or exc
                continue
            try:
                yield engine
            finally:
                engine.dispose()
            return
        assert error is not None
        raise error
