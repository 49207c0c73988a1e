"""A step's history row written by the same statement as its version-table write.

Each migration step ends with Alembic writing the version table and flask_schemaver
adding the step's row to the history table, both in the step's transaction. On
PostgreSQL the row can ride along with Alembic's statement, as a data-modifying
``WITH``: one round trip less per revision, and still exactly when the step's version
is written. Where it cannot (another database, a statement that is not the plain one
Alembic writes), nothing rides and the row is written on its own, as before.

This module must not import Alembic.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from typing import TYPE_CHECKING

import sqlalchemy as sa

from . import history

if TYPE_CHECKING:
    from ..binds import Bind


class Rider:
    """Puts the next step's history row into its first version-table write."""

    def __init__(self, bind: Bind, connection: sa.Connection) -> None:
        self.connection = connection
        dialect = connection.dialect
        version = sa.Table(
            bind.version_table, sa.MetaData(), schema=bind.version_table_schema
        )
        name = dialect.identifier_preparer.format_table(version)
        self._writes = tuple(
            f"{verb} {name} " for verb in ("UPDATE", "INSERT INTO", "DELETE FROM")
        )
        self._prefix = f"WITH schemaver_history AS ({_insert(bind, dialect)}) "
        self._pending: dict[str, Any] | None = None
        self._started = 0.0
        self._rode = False

    @staticmethod
    def possible(bind: Bind, connection: sa.Connection) -> bool:
        """Whether rows can ride on this connection."""
        dialect = connection.dialect
        return (
            bind.history
            and dialect.name == "postgresql"
            and dialect.paramstyle == "pyformat"
        )

    @contextmanager
    def listening(self) -> Iterator[None]:
        sa.event.listen(
            self.connection, "before_cursor_execute", self._ride, retval=True
        )
        try:
            yield
        finally:
            sa.event.remove(self.connection, "before_cursor_execute", self._ride)

    def expect(self, values: dict[str, Any], started: float) -> None:
        """The next step's row: all but when it was applied and how long it took."""
        self._pending = values
        self._started = started
        self._rode = False

    def rode(self) -> bool:
        """Whether the expected row was written, with the version; forgets it."""
        rode, self._rode, self._pending = self._rode, False, None
        return rode

    def _ride(
        self,
        connection: sa.Connection,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> tuple[str, Any]:
        if (
            self._pending is None
            or executemany
            or parameters
            or "%" in statement
            or not statement.lstrip().startswith(self._writes)
        ):
            return statement, parameters
        values = dict(
            self._pending,
            applied_at=datetime.datetime.now(datetime.timezone.utc),
            seconds=time.perf_counter() - self._started,
        )
        self._pending = None
        self._rode = True
        bound = {f"schemaver_{key}": value for key, value in values.items()}
        return self._prefix + statement.lstrip(), bound


#: Per kind of dialect and history table name: the row's INSERT compiled for the
#: table without a schema, less its start (``INSERT INTO name ``); None where it
#: does not start so.
_compiled: dict[tuple[str, ...], str | None] = {}


def _insert(bind: Bind, dialect: sa.Dialect) -> str:
    """The ``INSERT`` of a history row for ``bind``, compiled once per kind of
    dialect and table name: the tenants of a fleet, each with the table in its own
    schema, differ only in the name the statement starts with."""
    # By kind, not by object: engines come and go (a test session makes many).
    key = (dialect.name, dialect.driver, dialect.paramstyle, bind.history_table)
    if key not in _compiled:
        # The columns a row gives (the server numbers it): nothing to return, so
        # the one place the table is named is the start.
        given = [c for c in history.columns() if c.name != "id"]
        table = sa.Table(bind.history_table, sa.MetaData(), *given)
        compiled = _compile(table, dialect)
        start = f"INSERT INTO {dialect.identifier_preparer.format_table(table)} "
        _compiled[key] = compiled[len(start) :] if compiled.startswith(start) else None
    rest, table = _compiled[key], history.table(bind)
    if rest is None:
        return _compile(table, dialect)
    return f"INSERT INTO {dialect.identifier_preparer.format_table(table)} {rest}"


def _compile(table: sa.Table, dialect: sa.Dialect) -> str:
    values: dict[str, Any] = {
        c.name: sa.bindparam(f"schemaver_{c.name}")
        for c in table.columns
        if c.name != "id"
    }
    return str(sa.insert(table).values(values).compile(dialect=dialect))
