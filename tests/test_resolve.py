"""Recovery from DDL that commits as it runs (MySQL, MariaDB): a revision that did not
finish is recorded as started, named at the next run, and resolved with one command.
Where the database rolls DDL back, nothing is left and nothing needs resolving."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from flask_schemaver import RunFailed
from flask_schemaver import UsageError
from helpers import AppMaker
from helpers import flask_db
from helpers import invoke
from helpers import MakeDatabase
from helpers import write_revision_file

FIRST = "op.create_table('t1', sa.Column('id', sa.Integer, primary_key=True))"
#: Creates a table, then fails: on MariaDB the table stays.
HALF = """
op.create_table('t2', sa.Column('id', sa.Integer, primary_key=True))
op.execute('THIS IS NOT SQL')
"""


def project(make_app: AppMaker, url: str, second: str = HALF) -> Flask:
    app = make_app(url, tables={})
    folder = make_app.migrations / "versions"
    write_revision_file(folder, "r1", None, message="one", upgrade=FIRST)
    write_revision_file(folder, "r2", "r1", message="two", upgrade=second)
    return app


def table_names(url: str) -> set[str]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        return {n for n in sa.inspect(engine).get_table_names() if n.startswith("t")}
    finally:
        engine.dispose()


@pytest.mark.mysql
def test_a_half_applied_revision_is_named_then_resolved(
    make_app: AppMaker, mysql_db: MakeDatabase
) -> None:
    url = mysql_db()
    app = project(make_app, url)
    assert invoke(app, "upgrade").exit_code == 1
    assert table_names(url) == {"t1", "t2"}  # r2's first statement stayed

    # The next run refuses, naming the revision and the way out.
    result = invoke(app, "upgrade")
    assert result.exit_code == 1
    [error] = result.stderr.splitlines()
    assert error.startswith("Error: [default] the upgrade of r2, started ")
    assert error.endswith(
        ", never finished, and mysql commits DDL statement by statement: part of it "
        "may be in the database; check the schema, then record what is there with "
        "'flask db resolve --bind default r2 --applied' (all of it) or "
        "'--rolled-back' (none of it)"
    )
    with app.app_context():
        with pytest.raises(RunFailed, match="never finished"):
            make_app.schemaver.upgrade()
        [state] = make_app.schemaver.status()
        assert state.unfinished == ("r2",) and not state.up_to_date
        [checked] = make_app.schemaver.check(only=["unfinished"])
        assert checked.failures == ["unfinished"]
    status = invoke(app, "status").output
    assert "  [!] r2  its run stopped part way: check the schema, then" in status
    assert invoke(app, "check").exit_code == 1

    # Resolving needs the user's word on what is there.
    result = invoke(app, "resolve", "r2")
    assert result.exit_code == 2
    assert "--applied (all of its changes are there) or --rolled-back" in result.output
    assert invoke(app, "resolve", "r1", "--applied").exit_code == 2

    # The user dropped t2 by hand: nothing of r2 is left.
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE t2"))
    engine.dispose()
    result = invoke(app, "resolve", "r2", "--rolled-back")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("default: upgrade of r2, started ")
    assert result.output.endswith(": rolled back, at r1\n")
    # Fixed, it runs.
    path = make_app.migrations / "versions" / "r2.py"
    path.write_text(path.read_text().replace("op.execute('THIS IS NOT SQL')", "pass"))
    assert invoke(app, "upgrade").exit_code == 0
    with app.app_context():
        assert make_app.schemaver.current() == {"default": ("r2",)}
        assert make_app.schemaver.status()[0].up_to_date


@pytest.mark.mysql
@pytest.mark.slow
def test_an_interrupted_revision_resolved_as_applied(
    make_app: AppMaker, mysql_db: MakeDatabase, tmp_path: Path
) -> None:
    url = mysql_db()
    slow = """
op.create_table('t2', sa.Column('id', sa.Integer, primary_key=True))
pathlib.Path(os.environ['MARKER']).write_text('created')
time.sleep(60)
"""
    app = make_app(url, tables={})
    folder = make_app.migrations / "versions"
    write_revision_file(folder, "r1", None, message="one", upgrade=FIRST)
    write_revision_file(
        folder,
        "r2",
        "r1",
        message="two",
        upgrade=slow,
        header="import os, pathlib, time",
    )
    marker = tmp_path / "marker"
    proc = flask_db(tmp_path, url, make_app.migrations, "upgrade", MARKER=str(marker))
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert (
        "interrupted during the upgrade of revision r2 ('two'); mysql commits DDL"
        in err
    )
    # Named at the next run; the user finds all of r2 there, and says so.
    result = invoke(app, "upgrade")
    assert result.exit_code == 1 and "the upgrade of r2, started " in result.output
    with app.app_context():
        [done] = make_app.schemaver.resolve("r2", applied=True)
        assert (done.before, done.after) == (("r1",), ("r2",))
        with pytest.raises(UsageError, match="names no unfinished run"):
            make_app.schemaver.resolve("r2", applied=True)
        assert make_app.schemaver.status()[0].up_to_date
    assert invoke(app, "upgrade").output == "default: nothing to do, at r2\n"


@pytest.mark.parametrize(
    "kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]
)
def test_transactional_databases_leave_nothing_to_resolve(
    make_app: AppMaker, kind: str, request: pytest.FixtureRequest
) -> None:
    url = (
        make_app.sqlite("shop")
        if kind == "sqlite"
        else request.getfixturevalue("postgresql_db")()
    )
    app = project(make_app, url)
    assert invoke(app, "upgrade").exit_code == 1
    assert table_names(url) == {"t1"}  # r2 rolled back whole
    with app.app_context():
        assert make_app.schemaver.status()[0].unfinished == ()
        with pytest.raises(UsageError, match="'r2' names no unfinished run"):
            make_app.schemaver.resolve("r2", applied=False)
    # The next run simply tries again.
    result = invoke(app, "upgrade")
    assert "never finished" not in result.output
    assert "THIS IS NOT SQL" in result.output or "syntax error" in result.output


def test_resolve_needs_a_bind_when_there_are_several(make_app: AppMaker) -> None:
    app = make_app(binds={"audit": make_app.sqlite("audit")})
    result = invoke(app, "resolve", "r2", "--applied")
    assert result.exit_code == 2
    assert (
        "resolve records a bind's version: name the bind with --bind" in result.output
    )
    with app.app_context(), pytest.raises(UsageError, match="name the bind with"):
        make_app.schemaver.resolve("r2", applied=True)
