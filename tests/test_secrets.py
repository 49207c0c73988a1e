"""A database password never shows: not in output, offline SQL, errors or log records."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from flask_schemaver import SchemaVerError
from helpers import AppMaker
from helpers import MakeDatabase
from helpers import set_bodies


def _with_password(server: sa.Engine, user: str, password: str, database: str) -> str:
    return (
        sa.make_url(server.url)
        .set(username=user, password=password, database=database, host="127.0.0.1")
        .render_as_string(hide_password=False)
    )


@pytest.fixture(params=["postgresql", "mysql"])
def secret_url(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """A fresh database reached as a new user with a unique password (URL, password)."""
    dialect = request.param
    request.applymarker(getattr(pytest.mark, dialect))
    server: sa.Engine = request.getfixturevalue(f"{dialect}_server")
    create: MakeDatabase = request.getfixturevalue(f"{dialect}_db")
    database = sa.make_url(create()).database
    assert database
    user = f"sv_user_{uuid.uuid4().hex[:8]}"
    password = f"Pw{uuid.uuid4().hex[:16]}"
    with server.connect() as conn:
        if dialect == "postgresql":
            conn.execute(sa.text(f"CREATE ROLE {user} LOGIN PASSWORD '{password}'"))
            conn.execute(sa.text(f'ALTER DATABASE "{database}" OWNER TO {user}'))
        else:
            conn.execute(
                sa.text(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
            )
            conn.execute(sa.text(f"GRANT ALL ON `{database}`.* TO '{user}'@'%'"))
    yield _with_password(server, user, password, database), password
    with server.connect() as conn:
        if dialect == "postgresql":
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            conn.execute(sa.text(f"DROP ROLE IF EXISTS {user}"))
        else:
            conn.execute(sa.text(f"DROP USER IF EXISTS '{user}'@'%'"))


def test_every_command_and_error_hides_the_password(
    make_app: AppMaker,
    secret_url: tuple[str, str],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    url, password = secret_url
    app = make_app(
        url, binds={"other": url}, tables={None: {"user": []}, "other": {"t": []}}
    )
    runner = app.test_cli_runner()
    outputs: list[str] = []

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(args=["db", *args])
        assert result.exit_code == code, result.output
        outputs.append(result.output)
        return result.output

    run("binds")
    run("init")
    run("migrate", "-m", "init")
    run("status")
    run("status", "--json")
    run("upgrade", "--sql")
    run("upgrade")
    for command in ("current", "heads", "branches", "history", "check", "show"):
        run(command)
    run("check", "--json")
    run("downgrade", "--bind", "other", "--sql", "head:base")
    run("downgrade", "--bind", "other")
    run("stamp", "--bind", "other", "head")
    run("stamp", "--bind", "other", "--sql", "head")
    run("merge")
    run("revision", "--bind", "default", "-m", "manual")

    # Errors: bad target, a failing revision, a server that is not there, a wrong database.
    run("upgrade", "nosuchrev", code=2)
    with app.app_context():
        [written] = make_app.schemaver.revision("broken", "other")
    set_bodies(written.revisions[0].path, upgrade="    op.execute('NOT SQL')\n")
    assert "***" in run("upgrade", code=1)
    unreachable = sa.make_url(url).set(port=1).render_as_string(hide_password=False)
    app = make_app(unreachable)
    runner = app.test_cli_runner()
    assert "***" in run("status", code=1)
    missing = (
        sa.make_url(url)
        .set(database="no_such_db_here")
        .render_as_string(hide_password=False)
    )
    app = make_app(missing)
    runner = app.test_cli_runner()
    run("upgrade", code=1)
    with app.app_context(), pytest.raises(SchemaVerError) as info:
        make_app.schemaver.current()

    assert password not in str(info.value)
    for output in outputs:
        assert password not in output, output
    assert password not in caplog.text
