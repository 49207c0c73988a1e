"""The command group as a whole: module-level commands, versions, bind completion, and
keyword checks of the Python API."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import click
import pytest
from flask import Flask
from flask.cli import ScriptInfo

import flask_schemaver
from conftest import AppMaker
from flask_schemaver.cli.options import complete_binds
from flask_schemaver.cli.runs import upgrade

TOOLS = ("Alembic", "SQLAlchemy", "Flask", "Flask-SQLAlchemy")


def test_version_api_and_cli(app: Flask) -> None:
    installed = importlib.metadata.version("flask-schemaver")
    assert flask_schemaver.__version__ == installed
    result = app.test_cli_runner().invoke(args=["db", "--version"])
    assert result.exit_code == 0, result.output
    expected = ", ".join(f"{t} {importlib.metadata.version(t)}" for t in TOOLS)
    assert result.output == f"flask_schemaver {installed} ({expected})\n"


def test_commands_are_module_level_objects(make_app: AppMaker) -> None:
    app = make_app()
    with app.app_context():
        make_app.schemaver.migrate("users")
    # The command object itself, outside the group, finds the app it runs for.
    result = app.test_cli_runner().invoke(upgrade, [])
    assert result.exit_code == 0, result.output
    assert "1 revision upgraded" in result.output
    assert isinstance(upgrade, click.Command) and upgrade.name == "upgrade"


def test_one_group_serves_several_apps(make_app: AppMaker, tmp_path: Path) -> None:
    first = make_app(binds={"analytics": make_app.sqlite("an")})
    second = make_app(binds={"audit": make_app.sqlite("au")})
    assert first.cli.get_command(
        click.Context(first.cli), "db"
    ) is second.cli.get_command(click.Context(second.cli), "db")
    out_first = first.test_cli_runner().invoke(args=["db", "binds"]).output
    out_second = second.test_cli_runner().invoke(args=["db", "binds"]).output
    assert "analytics" in out_first and "audit" not in out_first
    assert "audit" in out_second and "analytics" not in out_second


def completions(app: Flask, incomplete: str) -> list[str]:
    ctx = click.Context(upgrade, obj=ScriptInfo(create_app=lambda: app))
    option = next(p for p in upgrade.params if p.name == "bind")
    return [item.value for item in complete_binds(ctx, option, incomplete)]


def test_bind_names_complete(make_app: AppMaker) -> None:
    app = make_app(
        binds={"analytics": make_app.sqlite("an"), "audit": make_app.sqlite("au")}
    )
    assert completions(app, "") == ["default", "analytics", "audit"]
    assert completions(app, "a") == ["analytics", "audit"]
    assert completions(app, "an") == ["analytics"]
    assert completions(app, "x") == []


def test_completion_without_an_app_offers_nothing() -> None:
    ctx = click.Context(upgrade, obj=ScriptInfo(app_import_path="no_such_module_xyz"))
    option = next(p for p in upgrade.params if p.name == "bind")
    assert complete_binds(ctx, option, "") == []


def test_bind_names_complete_in_the_shell(tmp_path: Path) -> None:
    """As bash asks for completions: flask's own completion entry point."""
    (tmp_path / "shop.py").write_text(
        textwrap.dedent(
            f"""
            from flask import Flask
            from flask_sqlalchemy import SQLAlchemy
            from flask_schemaver import SchemaVer

            app = Flask("shop", root_path={str(tmp_path)!r})
            app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///{tmp_path / "main.db"}"
            app.config["SQLALCHEMY_BINDS"] = {{
                "orders": "sqlite:///{tmp_path / "orders.db"}",
                "stock": "sqlite:///{tmp_path / "stock.db"}",
            }}
            SchemaVer(app, SQLAlchemy(app))
            """
        )
    )
    env = {
        **os.environ,
        "FLASK_APP": "shop",
        "_FLASK_COMPLETE": "bash_complete",
        "COMP_WORDS": "flask db upgrade --bind o",
        "COMP_CWORD": "4",
    }
    # The flask script, as the shell runs it: the completion variable is named after it.
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "flask")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["plain,orders"]


def test_api_refuses_keywords_a_verb_does_not_take(make_app: AppMaker) -> None:
    app = make_app()
    with app.app_context():
        schemaver = make_app.schemaver
        with pytest.raises(
            TypeError, match=r"upgrade\(\) got an unexpected keyword argument 'purge'"
        ):
            schemaver.upgrade(purge=True)  # type: ignore[call-arg]
        with pytest.raises(
            TypeError, match=r"stamp\(\) got an unexpected keyword argument 'on_step'"
        ):
            schemaver.stamp("head", on_step=print)  # type: ignore[call-arg]
        with pytest.raises(
            TypeError, match=r"downgrade\(\) got an unexpected keyword argument 'bogus'"
        ):
            schemaver.downgrade("base", bogus=1)  # type: ignore[call-arg]
        with pytest.raises(
            TypeError, match=r"revision\(\) got an unexpected keyword argument 'sql'"
        ):
            schemaver.revision("x", sql=True)  # type: ignore[call-arg]
        # Nothing was written or run.
        assert not make_app.migrations.exists()


def test_status_shows_every_bind_when_one_cannot_be_reached(
    make_app: AppMaker,
) -> None:
    # Nothing listens on port 1.
    app = make_app(binds={"remote": "postgresql+psycopg://u:pw@127.0.0.1:1/x"})
    with app.app_context():
        make_app.schemaver.migrate("users", "default")
    result = app.test_cli_runner().invoke(args=["db", "status"])
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines()[:3] == [
        f"default ({make_app.sqlite('main')})",
        "  current: <base>",
        result.stdout.splitlines()[2],
    ]
    assert "[ ]" in result.stdout.splitlines()[2]
    [error] = result.stderr.splitlines()
    assert error.startswith("Error: [remote] postgresql+psycopg://u:***@127.0.0.1:1/x")
    result = app.test_cli_runner().invoke(args=["db", "status", "--json"])
    assert result.exit_code == 1
    import json

    [healthy, unreachable] = json.loads(result.stdout)
    assert healthy["bind"] == "default" and healthy["up_to_date"] is False
    assert unreachable["bind"] == "remote"
    assert unreachable["error"] == error.removeprefix("Error: ")
    assert "pw" not in result.stdout


def test_migrate_says_what_it_detected(make_app: AppMaker) -> None:
    app = make_app(tables={None: {"user": ["name"]}})
    with app.app_context():
        [result] = make_app.schemaver.migrate("users")
    assert result.detected == [
        "create table user (id INTEGER NOT NULL, name VARCHAR(50) NULL)"
    ]
    later = make_app(tables={None: {"user": ["name", "email"]}})
    with later.app_context():
        make_app.schemaver.upgrade()
    out = later.test_cli_runner().invoke(args=["db", "migrate", "-m", "email"]).output
    assert out.splitlines()[1:] == [
        "    detected: add column user.email VARCHAR(50) NULL"
    ]


def test_directory_option_as_flask_migrate_takes_it(
    make_app: AppMaker, tmp_path: Path
) -> None:
    app = make_app()
    elsewhere = tmp_path / "db" / "migrations"
    runner = app.test_cli_runner()
    result = runner.invoke(args=["db", "migrate", "-d", str(elsewhere), "-m", "users"])
    assert result.exit_code == 0, result.output
    assert f"at {elsewhere / 'versions'}" in result.output
    assert not make_app.migrations.exists()
    result = runner.invoke(args=["db", "upgrade", "--directory", str(elsewhere)])
    assert result.exit_code == 0, result.output
    assert "1 revision upgraded" in result.output
    [rev_id] = [p.name.split("_")[0] for p in (elsewhere / "versions").glob("*.py")]
    # Only for that run: the configured folder, empty, is used again afterwards.
    result = runner.invoke(args=["db", "status"])
    # It names the folder it looked in, and the likelier mistake before stamp --purge.
    assert (
        f"  [?] {rev_id}  applied, but its file is missing: no revision file in "
        f"{make_app.migrations / 'versions'} has it; if that is not the project's "
        "migrations folder, run from the project's root or pass -d; else restore the "
        "file, or record where the database really is with 'flask db stamp --bind "
        "default --purge REVISION'"
    ) in result.output
    result = runner.invoke(args=["db", "check", "--only", "missing"])
    assert result.exit_code == 1
    assert (
        f"no revision file in {make_app.migrations / 'versions'} has it"
        in result.output
    )
    with app.app_context():
        assert make_app.schemaver.binds["default"].directory == (
            make_app.migrations / "versions"
        )
