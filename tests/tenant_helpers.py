"""Tenanted apps for the tenant tests: a ``shop`` bind whose tenants live in SQLite
files, PostgreSQL schemas or MariaDB databases, and the revisions they share."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from flask import Flask

from helpers import add_revision
from helpers import AppMaker

#: The shop bind's models: one table, written without a schema.
SHOP_TABLES: Any = {None: {}, "shop": {"item": ["name", "price"]}}

#: The first revision: the item table. The second: a column and a row written by
#: ``op.execute`` text, which must land in the tenant's own schema or database.
CREATE_ITEM = (
    "    op.create_table('item', sa.Column('id', sa.Integer, primary_key=True),\n"
    "                    sa.Column('name', sa.String(50)))\n"
)
ADD_PRICE = (
    "    op.add_column('item', sa.Column('price', sa.String(50)))\n"
    "    op.execute(\"INSERT INTO item (name, price) VALUES ('seed', '1')\")\n"
)
DROP_PRICE = "    op.drop_column('item', 'price')\n"


def tenanted_app(
    make_app: AppMaker,
    shop_url: str,
    tenants: Callable[[], Any],
    *,
    default_url: str | None = None,
    **config: Any,
) -> Flask:
    """An app with a plain default database and a ``shop`` bind whose tenants
    ``tenants`` lists; the chain of ``shop`` has r1 (the item table) and r2."""
    app = make_app(
        default_url or make_app.sqlite("main"),
        binds={"shop": shop_url},
        tables=SHOP_TABLES,
        **config,
    )
    if "SCHEMAVER_TENANTS" not in config:
        make_app.schemaver.tenants("shop")(tenants)
    with app.app_context():
        add_revision(make_app.schemaver, "shop", "r1", upgrade=CREATE_ITEM)
        add_revision(
            make_app.schemaver, "shop", "r2", upgrade=ADD_PRICE, downgrade=DROP_PRICE
        )
    return app


def rows(engine: sa.Engine, query: str) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return [tuple(r) for r in connection.exec_driver_sql(query)]


class Counter:
    """Counts the statements an engine's connections run, while attached."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.statements: list[str] = []

    def __enter__(self) -> Counter:
        sa.event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc: object) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.statements.append(statement)


class AllStatements:
    """Counts the statements, and the connections they ran on, of every engine of one
    kind of database."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.statements: list[str] = []
        self.connections: set[int] = set()

    def __enter__(self) -> AllStatements:
        sa.event.listen(sa.engine.Engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc: object) -> None:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", self._count)

    def _count(
        self, conn: sa.Connection, cursor: object, statement: str, *_: object
    ) -> None:
        if conn.dialect.name == self.dialect:
            self.statements.append(statement)
            self.connections.add(id(conn.connection.dbapi_connection))


def make_schemas(url: str, names: list[str]) -> sa.Engine:
    """Empty schemas ``names`` in the PostgreSQL database at ``url``; an engine on
    it that pools nothing."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as connection:
        for name in names:
            connection.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    return engine


@contextmanager
def server_databases(server: sa.Engine, suffixes: list[str]) -> Iterator[list[str]]:
    """Empty databases on a MariaDB server, one per suffix, uniquely named; dropped
    after the ``with`` block."""
    prefix = f"schemaver_t{uuid.uuid4().hex[:6]}_"
    names = [f"{prefix}{suffix}" for suffix in suffixes]
    with server.connect() as connection:
        for name in names:
            connection.exec_driver_sql(f"CREATE DATABASE `{name}`")
    try:
        yield names
    finally:
        with server.connect() as connection:
            for name in names:
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
