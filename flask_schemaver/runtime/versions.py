"""Reading a bind's version table: the revisions its database is at.

This module must not import Alembic: the fast answers of a no-op ``upgrade`` and a
health check read the version table through here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from . import connections

if TYPE_CHECKING:
    from ..binds import Bind


def read(bind: Bind, connection: sa.Connection) -> tuple[str, ...]:
    """What the bind's version table holds, read on ``connection``; () without a table.

    The same rows Alembic's ``MigrationContext.get_current_heads`` reads, without
    setting up a migration context.
    """
    if not sa.inspect(connection).has_table(
        bind.version_table, schema=bind.version_table_schema
    ):
        return ()
    table = sa.Table(
        bind.version_table,
        sa.MetaData(),
        sa.Column("version_num", sa.String(32)),
        schema=bind.version_table_schema,
    )
    return tuple(connection.execute(sa.select(table.c.version_num)).scalars())


def read_or_none(bind: Bind) -> tuple[str, ...] | None:
    """What the bind's version table holds: () when it has no table, None on an error."""
    try:
        with connections.connect(bind) as connection:
            return read(bind, connection)
    except sa.exc.SQLAlchemyError:
        return None
