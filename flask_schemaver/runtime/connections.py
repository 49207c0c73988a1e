"""Connections to a bind's database: bounded in how long they wait, set up by the
dialect for migrations, and given back so that the app's pool is as it was."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from typing import TYPE_CHECKING

import sqlalchemy as sa

from .. import dialects

if TYPE_CHECKING:
    from ..binds import Bind
    from ..settings import Settings


@contextmanager
def connect(
    bind: Bind, statement_timeout: float | None = None, *, migrating: bool = False
) -> Iterator[sa.Connection]:
    """A connection to the bind's database for the ``with`` block.

    ``SCHEMAVER_CONNECT_TIMEOUT`` bounds connecting and waiting on a silent link, and
    ``statement_timeout`` each statement, where the dialect and driver can. A
    connection given a statement limit is discarded afterwards, not pooled. A
    ``migrating`` connection to a tenant in a schema has that schema as its default
    for the block (the text a revision runs goes there), then the one it had.
    """
    kind = dialects.of(bind)
    extra = kind.connect_args(
        bind.engine.dialect.driver,
        bind.connect_timeout,
        statement_timeout,
        migrating=migrating,
    )
    with _connected(bind, extra) as connection:
        limit = None
        if statement_timeout is not None:
            limit = kind.statement_timeout(connection, statement_timeout)
        if limit is not None:
            connection.exec_driver_sql(limit[0])
            connection.commit()
        # Only migrations need the tenant's schema as the default: everything else
        # names the schema (the version and history tables are in it).
        restore = _enter_tenant(bind, connection) if migrating else None
        try:
            yield connection
        finally:
            if limit is not None or kind.sticky_args & set(extra):
                # Its limits would follow it into the app's pool.
                connection.invalidate()
            elif restore is not None:
                _leave_tenant(connection, restore)


#: Stands for "the connection cannot be put back as it was": it is discarded.
_DISCARD = object()


def _enter_tenant(bind: Bind, connection: sa.Connection) -> Any:
    """Point the connection at the tenant's schema, for a tenant that has one; what
    puts it back (or :data:`_DISCARD`), else None."""
    if bind.tenant_schema is None:
        return None
    try:
        restore = dialects.of(bind).enter_schema(connection, bind.tenant_schema)
    except BaseException:
        connection.invalidate()
        raise
    return _DISCARD if restore is None else restore


def _leave_tenant(connection: sa.Connection, restore: Any) -> None:
    """Put a connection the tenant's schema was set on back as the app's pool had it;
    one that cannot be goes no further."""
    if connection.invalidated or connection.closed:
        return
    if restore is _DISCARD:
        connection.invalidate()
        return
    try:
        restore()
    except sa.exc.SQLAlchemyError:
        connection.invalidate()
    except BaseException:
        connection.invalidate()
        raise


@contextmanager
def migrating(bind: Bind, settings: Settings) -> Iterator[sa.Connection]:
    """A connection set up to run migrations: :func:`connect`, with
    ``SCHEMAVER_STATEMENT_TIMEOUT`` and the dialect's own set-up."""
    with (
        connect(bind, settings.statement_timeout, migrating=True) as connection,
        dialects.of(bind).migrating(connection),
    ):
        yield connection


#: Where a pooled connection remembers the arguments flask_schemaver gave it.
_GIVEN = "schemaver.connect_args"


@contextmanager
def _connected(bind: Bind, extra: dict[str, Any]) -> Iterator[sa.Connection]:
    """``bind.engine.connect()`` on a DBAPI connection that was given ``extra``: one
    the pool holds from before, made without them, is replaced."""
    if not extra:
        with bind.engine.connect() as connection:
            yield connection
        return

    def add_arguments(dialect: Any, record: Any, cargs: Any, cparams: Any) -> None:
        cparams.update(extra)
        record.info[_GIVEN] = dict(extra)

    sa.event.listen(bind.engine, "do_connect", add_arguments)
    try:
        connection = bind.engine.connect()
        if connection.connection.info.get(_GIVEN) != extra:
            connection.invalidate()
            connection.connection  # noqa: B018  # connects again, with the arguments
    finally:
        sa.event.remove(bind.engine, "do_connect", add_arguments)
    with connection:
        yield connection


def table_name(connection: sa.Connection, schema: str | None, table: str) -> str:
    """``table`` in ``schema`` quoted for plain SQL on ``connection``; without a schema,
    where the connection's ``schema_translate_map`` sends tables without one."""
    quote = connection.dialect.identifier_preparer.quote
    if schema is None:
        translate = connection.get_execution_options().get("schema_translate_map")
        schema = (translate or {}).get(None)
    return quote(table) if schema is None else f"{quote(schema)}.{quote(table)}"
