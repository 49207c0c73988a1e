"""Every command through the Python API and the CLI, on SQLite."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from flask_schemaver import SchemaVer
from flask_schemaver import UnknownRevision
from flask_schemaver import UsageError
from helpers import add_revision
from helpers import AppMaker
from helpers import cli
from helpers import tables
from helpers import TWO_BINDS


@pytest.fixture
def two_binds(make_app: AppMaker) -> Iterator[Flask]:
    app = make_app(binds={"analytics": make_app.sqlite("an")}, tables=TWO_BINDS)
    with app.app_context():
        yield app


def bind_tables(app: Flask, bind: str) -> set[str]:
    return tables(app.extensions["schemaver"].binds[bind].engine)


def test_init(app: Flask, schemaver: SchemaVer) -> None:
    assert schemaver.init() == {"default": True}
    assert (Path(app.config["SCHEMAVER_DIRECTORY"]) / "versions").is_dir()
    assert "default: exists" in cli(app, "init")


def test_migrate_upgrade_status_check_cycle(
    two_binds: Flask, make_app: AppMaker
) -> None:
    ext = make_app.schemaver
    out = cli(two_binds, "migrate", "-m", "first")
    assert re.search(r"default: wrote \w{12} first at .*migrations/versions/", out)
    assert re.search(r"analytics: wrote \w{12} first at .*migrations/analytics/", out)

    states = ext.status()
    assert [s.bind for s in states] == ["default", "analytics"]
    assert all(len(s.pending) == 1 and not s.up_to_date for s in states)
    out = cli(two_binds, "check", code=1)
    assert "default: 1 unapplied revision(s)" in out

    out = cli(two_binds, "upgrade")
    assert re.search(r"\[default\] upgrade <base> → \w{12}  first \(\d+ ms\)", out)
    assert "analytics: 1 revision upgraded, now at" in out
    assert bind_tables(two_binds, "default") == {"user", "alembic_version"}
    assert bind_tables(two_binds, "analytics") == {
        "pageview",
        "alembic_version_analytics",
    }
    assert "nothing to do" in cli(two_binds, "upgrade")

    assert all(s.up_to_date for s in ext.status())
    out = cli(two_binds, "status")
    assert "[X]" in out and "[ ]" not in out
    data = json.loads(cli(two_binds, "status", "--json"))
    assert [d["bind"] for d in data] == ["default", "analytics"]
    assert data[0]["revisions"][0]["applied"] is True
    assert data[0]["up_to_date"] is True
    assert "default: ok" in cli(two_binds, "check")
    assert all(r.ok for r in ext.check())

    # No model change: migrate writes nothing.
    assert [r.revisions for r in ext.migrate("nothing")] == [[], []]
    assert cli(two_binds, "migrate", "-m", "again").count("no changes") == 2


def test_check_reports_drift(app: Flask, schemaver: SchemaVer) -> None:
    schemaver.revision("empty", rev_id="a1")
    schemaver.upgrade()
    [result] = schemaver.check()
    assert not result.ok and result.compared
    assert any("create_table('user'" in line for line in result.drift)
    out = cli(app, "check", code=1)
    assert "models differ from the database" in out and "op.create_table('user'" in out
    data = json.loads(cli(app, "check", "--json", code=1))
    assert data[0]["ok"] is False and data[0]["drift"]


def test_revision_on_several_binds_needs_bind(
    two_binds: Flask, make_app: AppMaker
) -> None:
    with pytest.raises(UsageError, match="one bind at a time"):
        make_app.schemaver.revision("x")
    out = cli(two_binds, "revision", "-m", "x", code=2)
    assert "Error: an empty revision is written for one bind at a time" in out
    out = cli(
        two_binds, "revision", "-m", "x", "--bind", "analytics", "--rev-id", "abc"
    )
    assert "analytics: wrote abc x" in out
    assert (make_app.migrations / "analytics" / "abc_x.py").is_file()


def test_unknown_bind_is_a_usage_error(app: Flask) -> None:
    out = cli(app, "upgrade", "--bind", "nope", code=2)
    assert "Error: unknown bind 'nope'; the app's binds are: default" in out


def test_downgrade_and_stamp_need_bind_with_several(
    two_binds: Flask, make_app: AppMaker
) -> None:
    ext = make_app.schemaver
    ext.migrate("first")
    ext.upgrade()
    for args in (["downgrade"], ["stamp", "base"]):
        out = cli(two_binds, *args, code=2)
        assert (
            "name the binds with --bind (default, analytics) or pass --all-binds" in out
        )
    assert bind_tables(two_binds, "analytics") == {
        "pageview",
        "alembic_version_analytics",
    }

    out = cli(two_binds, "downgrade", "base", "--bind", "analytics")
    assert (
        "[analytics] downgrade" in out
        and "analytics: 1 revision downgraded, now at <base>" in out
    )
    assert bind_tables(two_binds, "analytics") == {"alembic_version_analytics"}
    assert ext.current() == {"default": ext.current()["default"], "analytics": ()}
    assert ext.current("default")["default"]

    results = ext.downgrade("base", all_binds=True)
    assert [r.after for r in results] == [(), ()]
    assert bind_tables(two_binds, "default") == {"alembic_version"}


def test_stamp_and_purge(app: Flask, schemaver: SchemaVer) -> None:
    [r] = schemaver.migrate("first")
    rev = r.revisions[0].id
    [result] = schemaver.stamp("head")
    assert (
        result.after == (rev,)
        and not result.steps[0].is_upgrade
        or result.steps[0].is_stamp
    )
    assert "user" not in bind_tables(app, "default")
    out = cli(app, "stamp", "base")
    assert f"default: stamped {rev} → <base>" in out
    assert schemaver.current() == {"default": ()}
    cli(app, "stamp", "head")
    out = cli(app, "stamp", "--purge", rev)
    assert schemaver.current() == {"default": (rev,)}


def test_offline_sql_for_several_binds(two_binds: Flask, make_app: AppMaker) -> None:
    make_app.schemaver.migrate("first")
    out = cli(two_binds, "upgrade", "--sql")
    default_at = out.index("-- flask_schemaver: bind default (sqlite:///")
    analytics_at = out.index("-- flask_schemaver: bind analytics (sqlite:///")
    assert default_at < analytics_at
    assert "CREATE TABLE user" in out[default_at:analytics_at]
    assert "CREATE TABLE alembic_version " in out[default_at:analytics_at]
    assert "CREATE TABLE pageview" in out[analytics_at:]
    assert "CREATE TABLE alembic_version_analytics" in out[analytics_at:]
    assert "pageview" not in bind_tables(two_binds, "analytics")  # nothing ran
    assert make_app.schemaver.current("analytics") == {"analytics": ()}
    [result] = make_app.schemaver.upgrade(bind="analytics", sql=True)
    assert result.sql and "CREATE TABLE pageview" in result.sql
    assert [s.message for s in result.steps] == ["first"]  # what the SQL covers

    out = cli(two_binds, "downgrade", "--sql", "--bind", "default", "head:base")
    assert "DROP TABLE user" in out
    out = cli(
        two_binds, "stamp", "--sql", "--bind", "default", "--purge", "head", code=2
    )
    assert "--purge needs the live database" in out


def test_x_arguments_and_tag_reach_the_revision(
    app: Flask, schemaver: SchemaVer
) -> None:
    add_revision(
        schemaver,
        rev_id="d1",
        message="data",
        upgrade="    from alembic import context\n"
        "    op.execute('CREATE TABLE seen (x VARCHAR(20), tag VARCHAR(20))')\n"
        "    x = context.get_x_argument(as_dictionary=True)['who']\n"
        "    op.execute(f\"INSERT INTO seen VALUES ('{x}', '{context.get_tag_argument()}')\")\n",
    )
    cli(app, "upgrade", "-x", "who=cli", "--tag", "t1")
    engine = schemaver.binds["default"].engine
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT x, tag FROM seen")).all() == [("cli", "t1")]


def test_revision_targets_and_errors(app: Flask, schemaver: SchemaVer) -> None:
    for i in range(3):
        schemaver.revision(f"step {i}", rev_id=f"ab{i}0")
    [one] = schemaver.upgrade("+1")
    assert one.after == ("ab00",)
    [two] = schemaver.upgrade("ab2")  # partial id
    assert two.after == ("ab20",)
    [down] = schemaver.downgrade("-2")
    assert down.after == ("ab00",)
    with pytest.raises(UnknownRevision):
        schemaver.upgrade("zzzz")
    out = cli(app, "upgrade", "zzzz", code=2)
    assert "Error: [default]" in out and "zzzz" in out
    out = cli(app, "upgrade", "ab", code=2)  # ambiguous
    assert "Error: [default]" in out
    out = cli(app, "downgrade", "-5", code=2)
    assert "Error: [default] 'downgrade -5' goes below base: only 1 revision(s)" in out
    assert schemaver.current() == {"default": ("ab00",)}


def test_history_heads_show_current(app: Flask, schemaver: SchemaVer) -> None:
    schemaver.revision("one", rev_id="r1")
    schemaver.revision("two", rev_id="r2")
    schemaver.upgrade("r1")
    assert [r.id for r in schemaver.history()["default"]] == ["r2", "r1"]
    assert [r.id for r in schemaver.history("r2:")["default"]] == ["r2"]
    out = cli(app, "history", "-i")
    assert "r1 -> r2 (head), two" in out and "<base> -> r1 (current), one" in out
    out = cli(app, "history", "-v")
    assert "Rev: r2 (head)" in out and "Parent: r1" in out and "Revision ID: r2" in out
    assert [r.id for r in schemaver.heads()["default"]] == ["r2"]
    assert "default: r1 -> r2 (head), two" in cli(app, "heads")
    assert schemaver.show("r1")["default"][0].message == "one"
    assert "Rev: r1" in cli(app, "show", "current")
    assert "default: r1" in cli(app, "current")
    assert "no branch points" in cli(app, "branches")


def test_edit_opens_the_editor(
    app: Flask, schemaver: SchemaVer, tmp_path: Path
) -> None:
    [r] = schemaver.revision("edit me", rev_id="e1")
    editor = tmp_path / "editor.py"
    editor.write_text("import sys\nopen(sys.argv[1], 'a').write('# edited\\n')\n")
    out = cli(app, "edit", EDITOR=f"{sys.executable} {editor}")
    assert "edited " in out
    assert Path(r.revisions[0].path).read_text().endswith("# edited\n")


def test_no_color_and_binds_listing(two_binds: Flask) -> None:
    out = cli(two_binds, "binds", NO_COLOR="1")
    assert "\x1b[" not in out
    assert "default: sqlite:///" in out and "alembic_version_analytics" in out
    data = json.loads(cli(two_binds, "binds", "--json"))
    assert [d["bind"] for d in data] == ["default", "analytics"]


def test_every_command_has_help(app: Flask) -> None:
    import click

    group = app.cli.commands["db"]
    assert isinstance(group, click.Group)
    names = group.list_commands(click.Context(group))
    assert {"init", "migrate", "upgrade", "downgrade", "status", "check"} <= set(names)
    for name in names:
        command = group.get_command(click.Context(group), name)
        assert command is not None and command.help, name
        for param in command.params:
            if param.param_type_name == "option":
                assert param.help, f"{name} {param.name}"
        assert f" db {name} " in cli(app, name, "--help")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def broken(:\n", "bad.py, line 1: invalid syntax"),
        ("import no_such_module_here\n", "bad.py, line 1: ModuleNotFoundError"),
    ],
)
def test_broken_revision_file_is_named(
    app: Flask, schemaver: SchemaVer, source: str, expected: str
) -> None:
    schemaver.init()
    (Path(app.config["SCHEMAVER_DIRECTORY"]) / "versions" / "bad.py").write_text(source)
    for args in (["status"], ["upgrade"], ["heads"]):
        out = cli(app, *args, code=1)
        assert out.startswith("Error: [default] ") and expected in out
        assert len(out.strip().splitlines()) == 1


def test_error_inside_upgrade_names_file_and_line(
    app: Flask, schemaver: SchemaVer
) -> None:
    add_revision(
        schemaver,
        rev_id="b1",
        message="boom",
        upgrade="    raise RuntimeError('no way')\n",
    )
    out = cli(app, "upgrade", code=1)
    assert "b1_boom.py, line 22: RuntimeError: no way" in out
    assert schemaver.current() == {"default": ()}


def test_mistyped_option_is_not_taken_for_a_revision(app: Flask) -> None:
    for command in ("upgrade", "downgrade", "stamp"):
        out = cli(app, command, "--sq", code=2)
        assert "No such option '--sq'" in out


def test_migrate_reports_what_it_wrote_when_one_bind_fails(
    two_binds: Flask, make_app: AppMaker
) -> None:
    ext = make_app.schemaver
    ext.migrate("first")
    ext.upgrade(bind="default")  # analytics stays behind: autogenerate refuses it
    make_app.db.metadatas[None].tables["user"].append_column(
        sa.Column("extra", sa.Integer)
    )
    result = two_binds.test_cli_runner().invoke(args=["db", "migrate", "-m", "second"])
    assert result.exit_code == 1
    assert re.search(r"default: wrote \w{12} second at ", result.output)
    assert "Error: [analytics] Target database is not up to date." in result.output
    from flask_schemaver import RunFailed

    ext.upgrade(bind="default")
    with pytest.raises(RunFailed) as info:
        ext.migrate("third")
    assert [(r.bind, r.outcome) for r in info.value.results] == [
        ("default", "done"),
        ("analytics", "failed"),
    ]
