"""Revision code that reaches for the database while planned or linted, or ends the
process: nothing changes, and the command says which revision did it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask

from flask_schemaver import RunFailed
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
