"""Deploy insight: plans, the applied history with checksums, readiness, protected binds."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from flask_schemaver import ProtectedBind
from flask_schemaver import SchemaVer
from helpers import add_revision
from helpers import AppMaker
from helpers import write_revision_file


@pytest.fixture
def chain(app: Flask, schemaver: SchemaVer) -> Flask:
    add_revision(
        schemaver,
        rev_id="r1",
        upgrade="    op.create_table('account', sa.Column('id', sa.Integer, primary_key=True))\n",
        downgrade="    op.drop_table('account')\n",
    )
    add_revision(
        schemaver,
        rev_id="r2",
        upgrade="    op.add_column('account', sa.Column('email', sa.String(120), nullable=True))\n"
        "    op.drop_column('account', 'legacy')\n",
    )
    return app


def test_plan_lists_what_would_run(chain: Flask, schemaver: SchemaVer) -> None:
    [plan] = schemaver.plan()
    assert plan.current == ()
    assert [r.id for r in plan.revisions] == ["r1", "r2"]
    r1, r2 = plan.revisions
    assert [o.text for o in r1.operations] == [
        "create table account (id INTEGER NOT NULL)"
    ]
    assert not r1.irreversible
    assert [(o.text, o.destructive) for o in r2.operations] == [
        ("add column account.email VARCHAR(120) NULL", False),
        ("drop column account.legacy", True),
    ]
    assert r2.irreversible  # its downgrade does nothing
    assert schemaver.current() == {"default": ()}  # nothing ran

    runner = chain.test_cli_runner()
    out = runner.invoke(args=["db", "upgrade", "--plan"]).output
    assert "default: at <base>, 2 to run" in out
    assert "upgrade r2  r2  [irreversible]" in out
    assert "! drop column account.legacy" in out
    data = json.loads(runner.invoke(args=["db", "upgrade", "--plan", "--json"]).output)
    assert data[0]["revisions"][1]["operations"][1] == {
        "text": "drop column account.legacy",
        "destructive": True,
    }
    schemaver.upgrade("r1")
    out = runner.invoke(args=["db", "downgrade", "--plan", "base"]).output
    assert "downgrade r1  r1" in out and "! drop table account" in out
    assert schemaver.current() == {"default": ("r1",)}


def test_plan_notes_code_that_needs_the_database(
    app: Flask, schemaver: SchemaVer
) -> None:
    add_revision(
        schemaver,
        rev_id="d1",
        upgrade="    rows = op.get_bind().execute(sa.text('SELECT 1')).fetchall()\n",
    )
    [plan] = schemaver.plan()
    assert plan.revisions[0].note and "AttributeError" in plan.revisions[0].note
    assert (
        "? not all listed"
        in app.test_cli_runner().invoke(args=["db", "upgrade", "--plan"]).output
    )


def history_rows(schemaver: SchemaVer) -> list[tuple[str, str]]:
    engine = schemaver.binds["default"].engine
    with engine.connect() as conn:
        return [
            (row.revision, row.direction)
            for row in conn.execute(
                sa.text("SELECT * FROM alembic_version_history ORDER BY id")
            )
        ]


def test_history_edit_acknowledge_and_missing(
    chain: Flask, schemaver: SchemaVer
) -> None:
    schemaver.upgrade("r1")
    assert history_rows(schemaver) == [("r1", "upgrade")]
    [state] = schemaver.status()
    assert state.revisions[0].applied_at and not state.edited
    runner = chain.test_cli_runner()
    assert runner.invoke(args=["db", "check", "--only", "edited"]).exit_code == 0

    # Edit the applied revision: status flags it, check fails until acknowledged.
    path = Path(schemaver.show("r1")["default"][0].path)
    path.write_text(path.read_text() + "\n# changed after deploy\n")
    [state] = schemaver.status()
    assert state.edited == ("r1",) and state.revisions[0].edited
    assert "edited since applied" in runner.invoke(args=["db", "status"]).output
    result = runner.invoke(args=["db", "check", "--only", "edited"])
    assert result.exit_code == 1
    assert "edited after they were applied: r1" in result.output
    assert "flask db acknowledge --bind default REVISION" in result.output
    out = runner.invoke(args=["db", "acknowledge", "r1"]).output
    assert "default: acknowledged the current file of r1" in out
    assert runner.invoke(args=["db", "check", "--only", "edited"]).exit_code == 0
    assert history_rows(schemaver)[-1] == ("r1", "acknowledge")

    # Not applied: nothing to acknowledge.
    result = runner.invoke(args=["db", "acknowledge", "r2"])
    assert result.exit_code == 2 and "not an applied revision" in result.output

    # Downgrades are recorded too.
    schemaver.downgrade("base")
    assert history_rows(schemaver)[-1] == ("r1", "downgrade")


def test_adopted_database_raises_no_alarm(chain: Flask, schemaver: SchemaVer) -> None:
    schemaver.upgrade("r1")
    engine = schemaver.binds["default"].engine
    with engine.begin() as conn:  # as if applied before history was kept
        conn.execute(sa.text("DELETE FROM alembic_version_history"))
    path = Path(schemaver.show("r1")["default"][0].path)
    path.write_text(path.read_text() + "\n# edited\n")
    [state] = schemaver.status()
    assert state.edited == () and state.revisions[0].applied_at is None
    [result] = schemaver.check(only=["edited"])
    assert result.ok


def test_history_can_be_switched_off(make_app: AppMaker) -> None:
    app = make_app(SCHEMAVER_BINDS={"default": {"history": False}})
    with app.app_context():
        ext = make_app.schemaver
        ext.revision("one", rev_id="h1")
        ext.upgrade()
        engine = ext.binds["default"].engine
        assert "alembic_version_history" not in sa.inspect(engine).get_table_names()
        assert ext.status()[0].revisions[0].applied_at is None


def test_check_gates(chain: Flask, schemaver: SchemaVer) -> None:
    runner = chain.test_cli_runner()
    result = runner.invoke(args=["db", "check", "--only", "heads"])
    assert result.exit_code == 0 and "default: ok" in result.output
    result = runner.invoke(args=["db", "check", "--only", "pending", "--json"])
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data[0]["failures"] == ["pending"] and data[0]["gates"] == ["pending"]
    assert data[0]["compared"] is False  # drift was not asked for, so not computed
    result = runner.invoke(args=["db", "check", "--only", "nope"])
    assert result.exit_code == 2


def test_check_heads_needs_no_database(make_app: AppMaker, tmp_path: Path) -> None:
    """The heads gate reads only the files: a CI step without a database can run it."""
    app = make_app(f"sqlite:///{tmp_path / 'no-such-folder' / 'app.db'}")
    runner = app.test_cli_runner()
    with app.app_context():
        make_app.schemaver.revision("one", rev_id="a1")
        make_app.schemaver.revision("two", rev_id="b1", head="base", splice=True)
        [result] = make_app.schemaver.check(only=["heads"])
    assert sorted(result.heads) == ["a1", "b1"] and result.failures == ["heads"]
    result = runner.invoke(args=["db", "check", "--only", "heads"])
    assert result.exit_code == 1
    assert "a1" in result.output and "b1" in result.output
    # Every other gate needs the database, and says so in one line.
    result = runner.invoke(args=["db", "check", "--only", "pending"])
    assert result.exit_code == 1 and "Error:" in result.output
    assert not (tmp_path / "no-such-folder").exists()


def test_is_current(app: Flask, schemaver: SchemaVer) -> None:
    add_revision(schemaver, rev_id="c1")
    add_revision(schemaver, rev_id="c2")
    assert schemaver.is_current() is False
    schemaver.upgrade()
    assert schemaver.is_current() is True
    schemaver.downgrade("-1")
    assert schemaver.is_current() is False
    # A file Alembic must run to read: the full path answers, the same way.
    path = Path(schemaver.show("c2")["default"][0].path)
    text = path.read_text()
    assert "revision: str = 'c2'" in text
    path.write_text(text.replace("revision: str = 'c2'", "revision: str = 'c' + '2'"))
    from flask_schemaver.verbs import quick

    assert quick.is_current(schemaver.binds["default"]) is None
    assert schemaver.is_current() is False
    schemaver.upgrade()
    assert schemaver.is_current() is True


def test_is_current_without_alembic(tmp_path: Path) -> None:
    write_revision_file(tmp_path / "migrations" / "versions", "r1", None)
    script = textwrap.dedent(
        f"""
        import sys
        from flask import Flask
        from flask_sqlalchemy import SQLAlchemy
        from flask_schemaver import SchemaVer
        app = Flask("ready")
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///{tmp_path / "db.sqlite"}"
        app.config["SCHEMAVER_DIRECTORY"] = {str(tmp_path / "migrations")!r}
        schemaver = SchemaVer(app, SQLAlchemy(app))
        with app.app_context():
            print(schemaver.is_current())
        print(any(m == "alembic" or m.startswith("alembic.") for m in sys.modules))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "False"]


def test_protected_bind(make_app: AppMaker) -> None:
    app = make_app(SCHEMAVER_BINDS={"default": {"protected": True}})
    with app.app_context():
        ext = make_app.schemaver
        ext.revision("one", rev_id="p1")
        ext.upgrade()
        with pytest.raises(
            ProtectedBind, match="default is protected: downgrade needs"
        ):
            ext.downgrade("base")
        with pytest.raises(ProtectedBind, match="stamp --purge"):
            ext.stamp("p1", purge=True)
        assert ext.current() == {"default": ("p1",)}
    runner = app.test_cli_runner()
    result = runner.invoke(args=["db", "downgrade", "base"])
    assert result.exit_code == 2 and "pass --yes" in result.output
    result = runner.invoke(args=["db", "downgrade", "base", "--yes"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["db", "stamp", "p1"])
    assert result.exit_code == 2
    assert runner.invoke(args=["db", "stamp", "p1", "--yes"]).exit_code == 0
    assert runner.invoke(args=["db", "downgrade", "--plan", "base"]).exit_code == 0


def test_drift_gate_alone_fails_on_a_database_behind(chain: Flask) -> None:
    result = chain.test_cli_runner().invoke(args=["db", "check", "--only", "drift"])
    assert result.exit_code == 1
    assert "models not compared: the database is not at its heads" in result.output


def test_plan_refuses_bad_input_like_the_run(
    chain: Flask, schemaver: SchemaVer
) -> None:
    result = chain.test_cli_runner().invoke(args=["db", "upgrade", "--plan", "+5"])
    assert result.exit_code == 2 and "goes past the head" in result.output
    result = chain.test_cli_runner().invoke(args=["db", "upgrade", "--json"])
    assert result.exit_code == 2 and "--json goes with --plan" in result.output
