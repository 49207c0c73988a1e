"""Revision code that reaches for the database while planned or linted, or ends the
process: nothing changes, and the command says which revision did it."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from flask_schemaver import RunFailed
from flask_schemaver import UsageError
from helpers import AppMaker
from helpers import invoke
from helpers import versions
from helpers import write_revision_file

FIRST = "op.create_table('item', sa.Column('id', sa.Integer, primary_key=True), sa.Column('n', sa.Integer))"
#: Changes rows through the app's own session, as data migrations often do.
THROUGH_THE_SESSION = """
from flask import current_app
db = current_app.extensions['sqlalchemy']
db.session.execute(sa.text('UPDATE item SET n = 2'))
db.session.commit()
op.add_column('item', sa.Column('m', sa.Integer))
"""


def chain(make_app: AppMaker, url: str, second: str, header: str = "") -> Flask:
    app = make_app(url, tables={})
    folder = make_app.migrations / "versions"
    write_revision_file(folder, "r1", None, message="items", upgrade=FIRST)
    write_revision_file(
        folder, "r2", "r1", message="second", upgrade=second, header=header
    )
    return app


def rows(url: str) -> list[int]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            return list(connection.scalars(sa.text("SELECT n FROM item ORDER BY id")))
    finally:
        engine.dispose()


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]
)
def url(request: pytest.FixtureRequest, make_app: AppMaker) -> str:
    if request.param == "sqlite":
        return make_app.sqlite("shop")
    make: Callable[[], str] = request.getfixturevalue("postgresql_db")
    return make()


def test_plan_and_lint_never_touch_the_database(make_app: AppMaker, url: str) -> None:
    app = chain(make_app, url, THROUGH_THE_SESSION)
    with app.app_context():
        make_app.schemaver.upgrade("r1")
        with make_app.db.engine.begin() as connection:
            connection.execute(sa.text("INSERT INTO item (id, n) VALUES (1, 1)"))
        [plan] = make_app.schemaver.plan()
        [planned] = plan.revisions
        assert planned.note is not None
        assert planned.note.startswith(
            "it reaches for a database (UPDATE item SET n = 2), which recording never runs"
        )
        findings = make_app.schemaver.lint()
        assert [f.rule for f in findings if f.revision == "r2"] == ["opaque-code"]
    out = invoke(app, "upgrade", "--plan").output
    assert "? not all listed: it reaches for a database (UPDATE item SET n = 2)" in out
    out = invoke(app, "lint").output
    assert "upgrade() stopped early (it reaches for a database" in out
    assert rows(url) == [1]
    # Run for real, the revision does change the rows.
    assert invoke(app, "upgrade").exit_code == 0
    assert rows(url) == [2]


EXITS = "import sys\nsys.exit(0)"


def test_a_revision_that_exits_is_a_failed_revision(make_app: AppMaker) -> None:
    url = make_app.sqlite("shop")
    app = chain(make_app, url, EXITS)
    path = make_app.migrations / "versions" / "r2.py"
    result = invoke(app, "upgrade")
    assert result.exit_code == 1, result.output
    [error] = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert error == (
        f"Error: [default] upgrade of revision r2 ('second') failed at {path}, line 17: "
        "the revision file ends the process (sys.exit(0)); raise an exception to fail "
        "a revision instead"
    )
    assert versions(make_app.tmp_path / "shop.db") == ["r1"]
    with app.app_context(), pytest.raises(RunFailed, match="ends the process"):
        make_app.schemaver.upgrade()
    # Planning and linting say so too, instead of ending with nothing printed.
    out = invoke(app, "upgrade", "--plan").output
    assert "? not all listed: ends the process with sys.exit(0)" in out
    result = invoke(app, "lint")
    assert (
        "upgrade() stopped early (ends the process with sys.exit(0))" in result.output
    )


def test_a_file_that_exits_when_imported(make_app: AppMaker) -> None:
    url = make_app.sqlite("shop")
    app = chain(make_app, url, "pass", header="import sys\nsys.exit(3)")
    path = make_app.migrations / "versions" / "r2.py"
    # (Reading the chain needs no import: history and status are not affected.)
    for command in (["upgrade"], ["upgrade", "--plan"], ["lint"]):
        result = invoke(app, *command)
        assert result.exit_code == 1, (command, result.output)
        assert result.output.splitlines()[-1] == (
            f"Error: [default] {path}, line 6: the revision file ends the process "
            "(sys.exit(3)); raise an exception to fail a revision instead"
        ), command


def test_messages_with_control_characters_print_on_one_line(make_app: AppMaker) -> None:
    app = make_app(tables={})
    write_revision_file(
        make_app.migrations / "versions",
        "r1",
        None,
        message="add\\x1b[31m red\\rover\\nwritten",
    )
    out = invoke(app, "upgrade").output + invoke(app, "history").output
    out += invoke(app, "status").output
    assert "\x1b" not in out and "\r" not in out
    assert "add\\x1b[31m red over" in out
    for line in out.splitlines():
        assert not line.startswith("written"), out


def test_a_failing_stamp_is_called_a_stamp(make_app: AppMaker) -> None:
    app = make_app(tables={})
    folder = make_app.migrations / "versions"
    write_revision_file(folder, "r1", None, message="one")
    database = make_app.tmp_path / "main.db"
    engine = sa.create_engine(f"sqlite:///{database}")
    with engine.begin() as connection:
        # A version table that refuses the row the stamp writes.
        connection.execute(
            sa.text(
                "CREATE TABLE alembic_version (version_num INTEGER CHECK (version_num > 0) PRIMARY KEY)"
            )
        )
    engine.dispose()
    result = invoke(app, "stamp", "r1")
    assert result.exit_code == 1, result.output
    [error] = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert error.startswith("Error: [default] stamp of revision r1 ('one') failed: "), (
        error
    )


def test_autogenerate_on_a_database_at_a_missing_revision(make_app: AppMaker) -> None:
    app = make_app()
    with app.app_context():
        make_app.schemaver.migrate("users", rev_id="u1")
        make_app.schemaver.upgrade()
    (make_app.migrations / "versions" / "u1_users.py").unlink()
    result = invoke(app, "migrate", "-m", "more")
    assert result.exit_code == 1, result.output
    assert result.output.splitlines() == [
        f"Error: [default] the database is at u1, which no revision file in "
        f"{make_app.migrations / 'versions'} has, so there is nothing to build the new "
        "revision on; if that is not the project's migrations folder, run from the "
        "project's root or pass -d; else restore the file, or record where the "
        "database really is with 'flask db stamp --bind default --purge REVISION'"
    ]


@pytest.mark.parametrize(
    "command",
    [
        ["upgrade", ""],
        ["downgrade", "--bind", "default", " "],
        ["stamp", ""],
        ["show", ""],
        ["edit", ""],
        ["acknowledge", ""],
        ["merge", "a", ""],
    ],
)
def test_an_empty_revision_argument(make_app: AppMaker, command: list[str]) -> None:
    app = make_app()
    result = invoke(app, *command)
    assert result.exit_code == 2, result.output
    assert result.output.splitlines()[-1].endswith(
        "is empty; give a revision id, or a name such as 'heads' or 'base'"
    )
    with app.app_context(), pytest.raises(UsageError, match="upgrade needs a revision"):
        make_app.schemaver.upgrade("")


def refuse(monkeypatch: pytest.MonkeyPatch, where: Path, mode: str) -> None:
    """Make opening files under ``where`` for ``mode`` ('r' or 'w') fail as a missing
    permission does (the tests run as root, who may open anything)."""
    real_open = open

    def guarded(file: Any, flags: str = "r", *args: Any, **kwargs: Any) -> Any:
        wanted = "w" if any(c in flags for c in "wax+") else "r"
        if wanted == mode and Path(str(file)).is_relative_to(where):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, flags, *args, **kwargs)

    monkeypatch.setattr("builtins.open", guarded)


def test_an_unreadable_revision_file(
    make_app: AppMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()
    with app.app_context():
        [result] = make_app.schemaver.migrate("users")
    # A hand edit the fast path can't vouch for, so that Alembic reads the file.
    path = Path(result.revisions[0].path)
    path.write_text(path.read_text().replace("revision: str =", "revision: str  ="))
    refuse(monkeypatch, path.parent, "r")
    result = invoke(app, "upgrade")
    assert result.exit_code == 1, result.output
    [error] = result.output.splitlines()
    assert error == (
        f"Error: [default] {path}: Permission denied; check that the file and its "
        "folder can be read (and written, to add revisions)"
    )


def test_an_unwritable_revision_folder(
    make_app: AppMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()
    (make_app.migrations / "versions").mkdir(parents=True)
    refuse(monkeypatch, make_app.migrations, "w")
    result = invoke(app, "migrate", "-m", "users")
    assert result.exit_code == 1, result.output
    [error] = result.output.splitlines()
    assert error.startswith(f"Error: [default] {make_app.migrations / 'versions'}")
    assert error.endswith(
        "_users.py: Permission denied; check that the file and its folder can be "
        "read (and written, to add revisions)"
    )


def test_a_file_name_too_long(make_app: AppMaker) -> None:
    app = make_app(SCHEMAVER_TRUNCATE_SLUG_LENGTH=400)
    result = invoke(app, "migrate", "-m", "x" * 300)
    assert result.exit_code == 1, result.output
    [error] = result.output.splitlines()
    assert error.startswith("Error: [default] ")
    assert error.endswith(
        "File name too long; lower SCHEMAVER_TRUNCATE_SLUG_LENGTH or give a shorter "
        "message"
    )


def test_a_lock_file_that_cannot_be_made_fails_only_its_bind(
    make_app: AppMaker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    app = make_app(
        binds={"audit": f"sqlite:///{locked / 'audit.db'}"},
        tables={None: {"user": []}, "audit": {"log": []}},
    )
    with app.app_context():
        make_app.schemaver.migrate("first")
    real_open = os.open

    def no_lock_files(path: Any, *args: Any, **kwargs: Any) -> int:
        if str(path).startswith(str(locked)) and str(path).endswith(".lock"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("flask_schemaver.dialects.sqlite.os.open", no_lock_files)
    result = invoke(app, "upgrade")
    assert result.exit_code == 1, result.output
    assert "default: 1 revision upgraded" in result.output
    assert (
        f"Error: [audit] cannot open the lock file {locked / 'audit.db'}."
        "alembic_version_audit.lock: Permission denied; make it (or its folder) "
        "writable, or set 'lock': False for this bind in SCHEMAVER_BINDS"
    ) in result.output.splitlines()
