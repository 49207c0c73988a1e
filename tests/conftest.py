from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_schemaver import SchemaVer

POSTGRESQL_URL = os.environ.get(
    "SCHEMAVER_TEST_POSTGRESQL_URL",
    "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
)
MYSQL_URL = os.environ.get(
    "SCHEMAVER_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test"
)

#: Tables per bind key, as (name, extra column names). Every table gets an id column.
Tables = dict[str | None, dict[str, list[str]]]


def define_tables(db: SQLAlchemy, tables: Tables) -> None:
    """Add tables to the metadata of each bind, the way models would."""
    for key, named in tables.items():
        for name, columns in named.items():
            db.Table(
                name,
                sa.Column("id", sa.Integer, primary_key=True),
                *(sa.Column(c, sa.String(50)) for c in columns),
                bind_key=key,
            )


class AppMaker:
    """Builds a fresh Flask app per call, rooted at a test's tmp_path."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.migrations = tmp_path / "migrations"
        self.built: list[tuple[Flask, SQLAlchemy]] = []

    def dispose(self) -> None:
        """Close every pooled connection of the apps built, so no database stays in use."""
        for app, db in self.built:
            with app.app_context():
                for engine in db.engines.values():
                    engine.dispose()

    def sqlite(self, name: str) -> str:
        return f"sqlite:///{self.tmp_path / name}.db"

    def __call__(
        self,
        uri: str | None = "default",
        binds: dict[str, str] | None = None,
        tables: Tables | None = None,
        **config: Any,
    ) -> Flask:
        app = Flask("test_" + uuid.uuid4().hex[:6], root_path=str(self.tmp_path))
        if uri == "default":
            uri = self.sqlite("main")
        if uri is not None:
            app.config["SQLALCHEMY_DATABASE_URI"] = uri
        app.config["SQLALCHEMY_BINDS"] = binds or {}
        app.config["SCHEMAVER_DIRECTORY"] = str(self.migrations)
        app.config.update(config)
        db = SQLAlchemy()
        define_tables(db, tables if tables is not None else {None: {"user": ["name"]}})
        db.init_app(app)
        self.schemaver = SchemaVer(app, db)
        self.db = db
        self.built.append((app, db))
        return app


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[AppMaker]:
    maker = AppMaker(tmp_path)
    yield maker
    maker.dispose()


@pytest.fixture
def app(make_app: AppMaker) -> Flask:
    """A one-bind SQLite app; pytest-flask pushes its context for each test."""
    return make_app()


@pytest.fixture
def schemaver(app: Flask, make_app: AppMaker) -> SchemaVer:
    """The extension of the ``app`` fixture."""
    return make_app.schemaver


def _server_or_skip(url: str, label: str) -> sa.Engine:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as exc:
        engine.dispose()
        message = f"{label} server unreachable at {engine.url!r}: {exc.orig}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return engine


@pytest.fixture(scope="session")
def postgresql_server() -> Iterator[sa.Engine]:
    engine = _server_or_skip(POSTGRESQL_URL, "PostgreSQL")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def mysql_server() -> Iterator[sa.Engine]:
    engine = _server_or_skip(MYSQL_URL, "MariaDB/MySQL")
    yield engine
    engine.dispose()


def _database_factory(
    server: sa.Engine, base_url: str, quote: str
) -> Iterator[Callable[[], str]]:
    created: list[str] = []

    def create() -> str:
        name = f"schemaver_test_{uuid.uuid4().hex[:12]}"
        with server.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {quote}{name}{quote}"))
        created.append(name)
        return (
            sa.make_url(base_url)
            .set(database=name)
            .render_as_string(hide_password=False)
        )

    yield create
    for name in created:
        with server.connect() as conn:
            if server.dialect.name == "postgresql":
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            else:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))


@pytest.fixture
def postgresql_db(postgresql_server: sa.Engine) -> Iterator[Callable[[], str]]:
    """Call to create a uniquely named PostgreSQL database; returns its URL."""
    yield from _database_factory(postgresql_server, POSTGRESQL_URL, '"')


@pytest.fixture
def mysql_db(mysql_server: sa.Engine) -> Iterator[Callable[[], str]]:
    """Call to create a uniquely named MariaDB database; returns its URL."""
    yield from _database_factory(mysql_server, MYSQL_URL, "`")
