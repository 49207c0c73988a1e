"""The pytest plugin when its throwaway databases can't be made: one line per test, and
no password, even with ``pytest -l`` (which shows a traceback's local variables)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

pytest_plugins = ["pytester"]
pytestmark = [pytest.mark.postgresql, pytest.mark.slow]

PASSWORD = "Secr3t_" + uuid.uuid4().hex[:8]


@pytest.fixture
def no_createdb_url(postgresql_server: sa.Engine) -> Iterator[str]:
    """A PostgreSQL role that may log in but not create databases."""
    role = f"sv_nocreate_{uuid.uuid4().hex[:8]}"
    with postgresql_server.connect() as connection:
        connection.execute(
            sa.text(f"CREATE ROLE {role} LOGIN NOCREATEDB PASSWORD '{PASSWORD}'")
        )
    url = postgresql_server.url.set(
        username=role, password=PASSWORD, database="postgres"
    )
    yield url.render_as_string(hide_password=False)
    with postgresql_server.connect() as connection:
        connection.execute(sa.text(f"DROP ROLE IF EXISTS {role}"))


def test_no_right_to_create_databases(
    pytester: pytest.Pytester, no_createdb_url: str
) -> None:
    pytester.makeconftest(
        f"""
        import pytest
        from flask import Flask
        from flask_sqlalchemy import SQLAlchemy
        from flask_schemaver import SchemaVer

        @pytest.fixture
        def app(tmp_path):
            app = Flask("shop", root_path=str(tmp_path))
            app.config["SQLALCHEMY_DATABASE_URI"] = {no_createdb_url!r}
            app.config["SCHEMAVER_DIRECTORY"] = str(tmp_path / "migrations")
            SchemaVer(app, SQLAlchemy(app))
            return app
        """
    )
    pytester.makepyfile(
        """
        def test_data_migration(schemaver_runner):
            schemaver_runner.upgrade()
        """
    )
    result = pytester.runpytest_subprocess("-l", "-p", "no:cacheprovider")
    out = result.stdout.str() + result.stderr.str()
    assert result.ret == 1, out
    assert PASSWORD not in out
    assert "Traceback" not in out
    failures = [
        line for line in result.stdout.lines if "cannot make a throwaway" in line
    ]
    assert failures, out
    assert "permission denied to create database" in failures[0]
    assert "the test user needs the right to create databases" in failures[0]
