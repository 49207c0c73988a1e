from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from flask_schemaver import SchemaVer
from flask_schemaver.testing.databases import ThrowawayDatabases
from helpers import AppMaker
from helpers import MakeDatabase
from helpers import MYSQL_URL
from helpers import POSTGRESQL_URL

# Still importable from here, as test modules did before helpers.py.
__all__ = ["MYSQL_URL", "POSTGRESQL_URL", "AppMaker"]


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


@pytest.fixture(scope="session")
def throwaway_databases(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ThrowawayDatabases, Path]]:
    """The package's own throwaway databases: every one made in this run is dropped
    at its end. With the folder for SQLite files ``acquire`` asks for (not used:
    the suite asks for server databases only)."""
    databases = ThrowawayDatabases()
    yield databases, tmp_path_factory.mktemp("throwaway") / "unused.db"
    databases.close()


def _new_database(
    throwaway: tuple[ThrowawayDatabases, Path], base_url: str
) -> MakeDatabase:
    databases, sqlite_file = throwaway

    def create() -> str:
        url = databases.acquire(sa.make_url(base_url), sqlite_file, "default")
        return url.render_as_string(hide_password=False)

    return create


@pytest.fixture
def postgresql_db(
    postgresql_server: sa.Engine,
    throwaway_databases: tuple[ThrowawayDatabases, Path],
) -> MakeDatabase:
    """Call to create a uniquely named, empty PostgreSQL database; returns its URL."""
    return _new_database(throwaway_databases, POSTGRESQL_URL)


@pytest.fixture
def mysql_db(
    mysql_server: sa.Engine,
    throwaway_databases: tuple[ThrowawayDatabases, Path],
) -> MakeDatabase:
    """Call to create a uniquely named, empty MariaDB database; returns its URL."""
    return _new_database(throwaway_databases, MYSQL_URL)


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database of each kind in turn: a SQLite file (``main.db`` in
    tmp_path), one on PostgreSQL, one on MariaDB; the server ones carry its marker."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'main.db'}"
    request.applymarker(getattr(pytest.mark, request.param))
    make_database: MakeDatabase = request.getfixturevalue(f"{request.param}_db")
    return make_database()
