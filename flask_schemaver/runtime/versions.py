"""Reading a bind's version table: the revisions its database is at.

This module must not import Alembic: the fast answers of a no-op ``upgrade`` and a
health check read the version table through here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from ..binds import FLASK_MIGRATE_TABLE
from ..exceptions import MigrationError
from . import connections

if TYPE_CHECKING:
    from ..binds import Bind


def read(
    bind: Bind, connection: sa.Connection, *, strict: bool = True
) -> tuple[str, ...]:
    """What the bind's version table holds, read on ``connection``; () without a table.

    The same rows Alembic's ``MigrationContext.get_current_heads`` reads, without
    setting up a migration context.
    """
    if not sa.inspect(connection).has_table(
        bind.version_table, schema=bind.version_table_schema
    ):
        return ()
    name = connections.table_name(
        connection, bind.version_table_schema, bind.version_table
    )
    # Plain text: nothing to compile for each tenant of a fleet.
    rows = tuple(
        connection.exec_driver_sql(f"SELECT version_num FROM {name}").scalars()
    )
    if strict:
        _check_rows(bind, rows)
    return rows


def _check_rows(bind: Bind, rows: tuple[str, ...]) -> None:
    """Refuse a version table that no run could have written: an empty or NULL row,
    or one revision twice."""
    empty = [row for row in rows if row is None or not str(row).strip()]
    twice = sorted({row for row in rows if rows.count(row) > 1 and row not in empty})
    if not empty and not twice:
        return
    found = "an empty row" if empty else f"{twice[0]!r} twice"
    raise MigrationError(
        f"the version table {bind.version_table!r} holds {found}; delete the bad "
        "rows, or record where the database really is with 'flask db stamp --bind "
        f"{bind.name} --purge REVISION'",
        bind.name,
    )


def flask_migrate(bind: Bind, connection: sa.Connection) -> tuple[str, ...]:
    """What Flask-Migrate's ``alembic_version`` in the bind's database holds, when the
    bind keeps its own version elsewhere and no other bind keeps its version there:
    the record a Flask-Migrate ``--multidb`` project left. () when there is none."""
    own = (bind.version_table_schema, bind.version_table)
    if bind.tenant is not None:
        return ()  # tenants are flask_schemaver's own: never a --multidb project's
    if own == (None, FLASK_MIGRATE_TABLE) or (None, FLASK_MIGRATE_TABLE) in (
        bind.foreign_tables
    ):
        return ()
    return flask_migrate_rows(connection)


def flask_migrate_rows(connection: sa.Connection) -> tuple[str, ...]:
    """The rows of ``alembic_version`` (in the default schema); () without the table."""
    if not sa.inspect(connection).has_table(FLASK_MIGRATE_TABLE):
        return ()
    table = sa.table(FLASK_MIGRATE_TABLE, sa.column("version_num"))
    return tuple(connection.execute(sa.select(table.c.version_num)).scalars())


def flask_migrate_or_none(bind: Bind) -> tuple[str, ...] | None:
    """:func:`flask_migrate` on a connection of its own; None on an error."""
    if bind.tenant is not None:
        return ()  # as flask_migrate says, without a connection for it
    try:
        with connections.connect(bind) as connection:
            return flask_migrate(bind, connection)
    except sa.exc.SQLAlchemyError:
        return None


def read_or_none(bind: Bind) -> tuple[str, ...] | None:
    """What the bind's version table holds: () when it has no table, None on an error
    (which the slow path then reports)."""
    try:
        with connections.connect(bind) as connection:
            return read(bind, connection)
    except (sa.exc.SQLAlchemyError, MigrationError):
        return None
