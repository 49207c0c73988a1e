"""What every kind of database offers flask_schemaver, with the plain defaults.

This module must not import Alembic.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from typing import Any
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext

    from ..binds import Bind


class Lock:
    """A migration lock: taken without waiting, or not at all."""

    def try_acquire(self) -> bool:
        """Take the lock if it is free; True when taken."""
        raise NotImplementedError

    def release(self) -> None:
        """Give the lock back."""
        raise NotImplementedError

    def holder(self) -> str:
        """Who holds the lock, as far as the database can tell; may be empty."""
        return ""


class NoLock(Lock):
    """Dialects without a known lock, and binds that turned locking off."""

    def try_acquire(self) -> bool:
        return True

    def release(self) -> None:
        pass


class SessionLock(Lock):
    """A lock owned by a database session; it also ends when the connection closes."""

    acquire_sql: str
    release_sql: str
    holder_sql: str

    def __init__(self, connection: sa.Connection, params: dict[str, Any]) -> None:
        self.connection = connection
        self.params = params

    def _scalar(self, sql: str) -> Any:
        value = self.connection.execute(sa.text(sql), self.params).scalar()
        # Leave no transaction open: Alembic begins one per migration.
        self.connection.commit()
        return value

    def try_acquire(self) -> bool:
        return bool(self._scalar(self.acquire_sql))

    def release(self) -> None:
        if self.connection.invalidated or self.connection.closed:
            return  # the lock ended with its session; a new one would not hold it
        try:
            if self.connection.in_transaction():
                self.connection.rollback()
            self._scalar(self.release_sql)
        except sa.exc.SQLAlchemyError:
            # The server ends the lock with the session; make sure the session ends.
            # (An interrupted statement can leave the connection unusable.)
            self.connection.invalidate()

    def holder(self) -> str:
        try:
            value = self._scalar(self.holder_sql)
        except sa.exc.DBAPIError:
            return ""
        return str(value) if value else ""


class Dialect:
    """One kind of database. Subclasses override what differs from these defaults."""

    #: The port a URL means when it names none.
    default_port: int | None = None
    #: Whether a failed migration's DDL is rolled back with its transaction.
    transactional_ddl = True
    #: Whether throwaway databases for tests can be made on this kind's server.
    throwaway = False
    #: Databases to connect to when creating and dropping others, in order of choice.
    admin_databases: tuple[str | None, ...] = (None,)

    def __init__(self, name: str) -> None:
        #: SQLAlchemy's name for the kind, e.g. ``"postgresql"``.
        self.name = name

    @property
    def family(self) -> str:
        """The name two spellings of one kind share (``mariadb`` is ``mysql``)."""
        return self.name

    def migration_lock(self, bind: Bind, connection: sa.Connection, name: str) -> Lock:
        """The lock that keeps two processes from migrating ``bind`` at once."""
        return NoLock()

    @contextmanager
    def migrating(self, connection: sa.Connection) -> Iterator[None]:
        """Set ``connection`` up to run migrations, each in its own transaction, for
        the ``with`` block; as it was afterwards."""
        yield

    #: Driver arguments from :meth:`connect_args` that must not follow a connection
    #: into the app's pool (the connection is discarded after use).
    sticky_args: frozenset[str] = frozenset()

    def connect_args(
        self,
        driver: str,
        connect_timeout: float | None,
        statement_timeout: float | None,
        *,
        migrating: bool,
    ) -> dict[str, Any]:
        """Driver arguments that bound how long a connection waits: to connect, and
        for an answer (a link that drops packets must not hang a run). ``migrating``
        connections run statements that may rightly take long."""
        return {}

    def statement_timeout(
        self, connection: sa.Connection, seconds: float
    ) -> tuple[str, str] | None:
        """SQL that limits how long one statement may run, and SQL that lifts it."""
        return None

    # -- tenants: one schema per tenant in a bind's database ---------------------------

    #: Whether tenants can live in schemas of one database (on MySQL and MariaDB,
    #: in databases of one server), reached with one pool of connections.
    tenant_schemas = False
    #: Whether those schemas are inside the bind's database (PostgreSQL), so that a
    #: copy of the database carries them; MySQL's are databases of the server.
    schemas_in_database = False

    def enter_schema(
        self, connection: sa.Connection, schema: str
    ) -> Callable[[], None] | None:
        """Make ``schema`` where the connection's unqualified names go (text a
        revision runs with ``op.execute`` included); returns a function that puts the
        connection back as it was, or None when it cannot (it is then discarded)."""
        raise NotImplementedError

    def schemas_holding(
        self, connection: sa.Connection, table: str, schemas: Sequence[str]
    ) -> set[str]:
        """Which of ``schemas`` hold a table named ``table``; in one query where the
        dialect can."""
        inspector = sa.inspect(connection)
        return {s for s in schemas if inspector.has_table(table, schema=s)}

    def create_schema(self, connection: sa.Connection, name: str) -> None:
        """Create the schema ``name`` (for a tenant)."""
        quoted = connection.dialect.identifier_preparer.quote_identifier(name)
        connection.execute(sa.text(f"CREATE SCHEMA {quoted}"))

    def drop_schema(self, connection: sa.Connection, name: str) -> None:
        """Drop the schema ``name`` and everything in it."""
        raise NotImplementedError

    def engine_in_schema(self, engine: sa.Engine, schema: str) -> sa.Engine:
        """A new engine on ``engine``'s database whose default schema is ``schema``:
        what reflection without a schema reads (to compare models with a tenant)."""
        raise NotImplementedError

    def prepare_autogenerate(self, context: MigrationContext) -> None:
        """Tune ``context`` before autogenerate compares models with the database."""

    def table_signatures(
        self, connection: sa.Connection, schemas: Sequence[str | None]
    ) -> dict[tuple[str | None, str], str | None] | None:
        """For each table of ``schemas`` (None: the default schema), a text that
        changes whenever anything SQLAlchemy reflects of the table changes, read in one
        go; None for a table (or every table) the dialect cannot vouch for.

        Lets a series of schema snapshots read again only the tables that changed.
        """
        return None

    def create_database(self, admin: sa.Connection, name: str) -> None:
        """Create the database ``name`` on ``admin``'s server."""
        quoted = admin.dialect.identifier_preparer.quote_identifier(name)
        admin.execute(sa.text(f"CREATE DATABASE {quoted}"))

    def empty_database(self, admin: sa.Engine, url: sa.URL) -> None:
        """Leave the database at ``url`` as empty as a new one."""
        raise NotImplementedError

    def drop_database(self, admin: sa.Connection, name: str) -> None:
        """Drop the database ``name``, ending the sessions still connected to it."""
        raise NotImplementedError

    # -- template databases for tests: built once, copied for each test -------------

    def copier(self, admin: sa.Engine, template: str) -> Callable[[str], None] | None:
        """A function that makes the database it is given the name of a copy of
        ``template``: its tables, rows, sequences and the rest; None when this kind
        of database cannot copy ``template`` faithfully (each copy is then built
        from empty, by upgrading)."""
        return None

    def seal(self, admin: sa.Engine, name: str) -> None:
        """The template ``name`` is built: keep sessions from connecting to it."""

    def mark(self, admin: sa.Engine, name: str, mark: str) -> None:
        """Record ``mark`` on the database ``name``, once it is completely built."""
        raise NotImplementedError

    def marked(self, admin: sa.Engine, name: str) -> str | None:
        """The mark recorded on the database ``name``; None if it has none, or does
        not exist."""
        raise NotImplementedError

    def database_names(self, admin: sa.Engine, prefix: str) -> list[str]:
        """The databases of ``admin``'s server whose names start with ``prefix``."""
        raise NotImplementedError

    @contextmanager
    def server_lock(self, admin: sa.Engine, name: str) -> Iterator[None]:
        """Hold a lock named ``name`` on ``admin``'s server for the ``with`` block,
        waiting for it as long as it takes."""
        yield
