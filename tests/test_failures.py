"""A failing revision: what stays applied, what the error says, what happens to other binds."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from flask_schemaver import MigrationError
from flask_schemaver import RunFailed
from helpers import add_revision
from helpers import AppMaker
from helpers import MakeDatabase
from helpers import tables


@pytest.mark.mysql
def test_mysql_failure_tells_the_truth(
    make_app: AppMaker, mysql_db: MakeDatabase
) -> None:
    app = make_app(mysql_db(), tables={None: {}})
    ext = make_app.schemaver
    with app.app_context():
        add_revision(
            ext,
            rev_id="good",
            upgrade="    op.create_table('a', sa.Column('id', sa.Integer))\n",
        )
        bad = add_revision(
            ext,
            rev_id="bad",
            upgrade="    op.create_table('b', sa.Column('id', sa.Integer))\n"
            "    op.execute('NOT VALID SQL')\n",
        )
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 1
    [line] = [x for x in result.output.splitlines() if x.startswith("Error:")]
    assert "[default] upgrade of revision bad ('bad') failed" in line
    assert line.endswith(
        "mysql commits DDL statement by statement: the revision may have left part "
        "of its changes behind; check the schema, then record what is there with "
        "'flask db resolve --bind default bad --applied' (all of it) or "
        "'--rolled-back' (none)"
    )
    with app.app_context():
        assert ext.current() == {"default": ("good",)}  # the version table is truthful
        engine = ext.binds["default"].engine
        assert "b" in sa.inspect(engine).get_table_names()  # MariaDB kept the DDL
        # The next run refuses until the user says what the revision left.
        with pytest.raises(RunFailed) as info:
            ext.upgrade()
        [error] = info.value.errors
        assert isinstance(error, MigrationError)
        assert "the upgrade of bad, started " in str(error)
        # After the fix (and cleaning up the half-done table) the run continues.
        fixed = Path(bad.path)
        fixed.write_text(
            fixed.read_text().replace("    op.execute('NOT VALID SQL')\n", "")
        )
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE b"))
        ext.resolve("bad", applied=False)
        [done] = ext.upgrade()
        assert [s.revision for s in done.steps] == ["bad"]


@pytest.mark.postgresql
def test_postgresql_rerun_continues_after_fix(
    make_app: AppMaker, postgresql_db: MakeDatabase
) -> None:
    app = make_app(postgresql_db(), tables={None: {}})
    ext = make_app.schemaver
    with app.app_context():
        add_revision(
            ext,
            rev_id="one",
            upgrade="    op.create_table('a', sa.Column('id', sa.Integer))\n",
        )
        bad = add_revision(
            ext,
            rev_id="two",
            upgrade="    op.create_table('b', sa.Column('id', sa.Integer))\n"
            "    op.execute('NOT VALID SQL')\n",
        )
        add_revision(
            ext,
            rev_id="three",
            upgrade="    op.create_table('c', sa.Column('id', sa.Integer))\n",
        )
        with pytest.raises(RunFailed) as info:
            ext.upgrade()
        assert "transactional" not in str(info.value)
        assert "left part of its changes" not in str(info.value)
        engine = ext.binds["default"].engine
        assert tables(engine) == {"a", "alembic_version"}
        assert ext.current() == {"default": ("one",)}
        fixed = Path(bad.path)
        fixed.write_text(
            fixed.read_text().replace("    op.execute('NOT VALID SQL')\n", "")
        )
        [done] = ext.upgrade()
        assert [s.revision for s in done.steps] == ["two", "three"]


def three_binds(make_app: AppMaker) -> Flask:
    app = make_app(
        binds={"b": make_app.sqlite("b"), "c": make_app.sqlite("c")},
        tables={None: {}, "b": {}, "c": {}},
    )
    with app.app_context():
        for name in ("default", "b", "c"):
            add_revision(
                make_app.schemaver,
                name,
                f"{name}1",
                upgrade="    op.execute('SELECT 1')\n",
            )
        add_revision(
            make_app.schemaver, "b", "b2", upgrade="    op.execute('NOT VALID SQL')\n"
        )
    return app


def test_one_failing_bind_does_not_stop_the_others(make_app: AppMaker) -> None:
    app = three_binds(make_app)
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 1
    assert (
        "Error: [b] upgrade of revision b2 ('b2') failed: sqlite:///" in result.output
    )
    lines = result.output.splitlines()
    assert "default: 1 revision upgraded, now at default1" in lines
    assert "b: failed" in lines
    assert "c: 1 revision upgraded, now at c1" in lines
    with app.app_context():
        assert make_app.schemaver.current() == {
            "default": ("default1",),
            "b": ("b1",),
            "c": ("c1",),
        }


def test_fail_fast_skips_the_rest(make_app: AppMaker) -> None:
    app = three_binds(make_app)
    result = app.test_cli_runner().invoke(args=["db", "upgrade", "--fail-fast"])
    assert result.exit_code == 1
    assert "c: skipped (--fail-fast)" in result.output.splitlines()
    with app.app_context():
        assert make_app.schemaver.current()["c"] == ()
        with pytest.raises(RunFailed) as info:
            make_app.schemaver.upgrade(fail_fast=True)
    outcomes = [(r.bind, r.outcome) for r in info.value.results]
    assert outcomes == [("default", "done"), ("b", "failed"), ("c", "skipped")]
