from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_schemaver import ConfigError
from flask_schemaver import SchemaVer
from helpers import AppMaker
from helpers import flask_db
from helpers import write_revision_file


def test_app_factory_pattern(tmp_path: Path) -> None:
    db = SQLAlchemy()
    schemaver = SchemaVer(directory=str(tmp_path / "mig"))

    def create_app(name: str) -> Flask:
        app = Flask(name, root_path=str(tmp_path))
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / name}.db"
        db.init_app(app)
        schemaver.init_app(app)
        return app

    one, two = create_app("one"), create_app("two")
    assert one.config["SCHEMAVER_DIRECTORY"] == str(tmp_path / "mig")
    assert one.config["SCHEMAVER_COMMAND"] == "db"
    with one.app_context():
        assert schemaver.binds["default"].engine.url.database.endswith("one.db")
    with two.app_context():
        assert schemaver.binds["default"].engine.url.database.endswith("two.db")
    assert "db" in one.cli.commands and "db" in two.cli.commands


def test_config_beats_constructor_option(tmp_path: Path) -> None:
    app = Flask("x", root_path=str(tmp_path))
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite://"
    app.config["SCHEMAVER_COMMAND"] = "schema"
    SchemaVer(app, SQLAlchemy(app), command="other")
    assert "schema" in app.cli.commands
    assert "db" not in app.cli.commands


def test_unknown_option() -> None:
    with pytest.raises(TypeError, match="unknown option 'folder'"):
        SchemaVer(folder="x")


def test_init_app_twice_refused(make_app: AppMaker) -> None:
    app = make_app()
    with pytest.raises(ConfigError, match="already set up on app"):
        make_app.schemaver.init_app(app)


def test_needs_flask_sqlalchemy(tmp_path: Path) -> None:
    app = Flask("bare", root_path=str(tmp_path))
    with pytest.raises(ConfigError, match=r"call db.init_app\(app\)"):
        SchemaVer(app)


def test_db_registered_after_schemaver(tmp_path: Path) -> None:
    app = Flask("late", root_path=str(tmp_path))
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite://"
    app.config["SCHEMAVER_DIRECTORY"] = str(tmp_path / "m")
    db = SQLAlchemy()
    schemaver = SchemaVer(app, db)
    with (
        app.app_context(),
        pytest.raises(ConfigError, match="Flask-SQLAlchemy is not set up"),
    ):
        schemaver.binds  # noqa: B018
    db.init_app(app)
    with app.app_context():
        assert list(schemaver.binds) == ["default"]


def test_bad_config_values(make_app: AppMaker) -> None:
    with pytest.raises(ConfigError, match="SCHEMAVER_BINDS must be a dict"):
        make_app(SCHEMAVER_BINDS=["x"])
    with pytest.raises(ConfigError, match=r"unknown option\(s\) folder"):
        make_app(SCHEMAVER_BINDS={"default": {"folder": "x"}})
    with pytest.raises(ConfigError, match="SCHEMAVER_POST_WRITE_HOOKS must be a list"):
        make_app(SCHEMAVER_POST_WRITE_HOOKS={"hooks": "ruff"})
    with pytest.raises(ConfigError, match="TRUNCATE_SLUG_LENGTH must be a positive"):
        make_app(SCHEMAVER_TRUNCATE_SLUG_LENGTH=0)


#: Every module that importing flask_schemaver and ``init_app`` may add to what Flask
#: and Flask-SQLAlchemy import already: a few of its own, and nothing else.
INIT_MODULES = {
    "flask_schemaver",
    "flask_schemaver.api",
    "flask_schemaver.api.base",
    "flask_schemaver.api.checks",
    "flask_schemaver.api.convert",
    "flask_schemaver.api.files",
    "flask_schemaver.api.looks",
    "flask_schemaver.api.runs",
    "flask_schemaver.api.tenants",
    "flask_schemaver.cli",
    "flask_schemaver.exceptions",
    "flask_schemaver.extension",
    "flask_schemaver.settings",
}


def test_importing_and_init_app_import_little(tmp_path: Path) -> None:
    """Every web worker pays for importing flask_schemaver and setting it up.

    No Alembic, no other package, none of flask_schemaver's modules for commands or
    results; and no dataclass in the modules it does import, as making one takes
    about a millisecond.
    """
    script = textwrap.dedent(
        f"""
        import dataclasses
        import json
        import sys

        from flask import Flask
        from flask_sqlalchemy import SQLAlchemy

        app = Flask("x", root_path={str(tmp_path)!r})
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite://"
        app.config["SQLALCHEMY_BINDS"] = {{"other": "sqlite://"}}
        db = SQLAlchemy(app)
        before = set(sys.modules)

        from flask_schemaver import SchemaVer

        SchemaVer(app, db)
        added = sorted(set(sys.modules) - before)
        made = sorted(
            f"{{name}}.{{attr}}"
            for name in added
            for attr, value in vars(sys.modules[name]).items()
            if isinstance(value, type) and dataclasses.is_dataclass(value)
        )
        print(json.dumps({{"added": added, "dataclasses": made}}))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    found = json.loads(proc.stdout)
    added = set(found["added"])
    assert "flask_schemaver.extension" in added  # the measurement works
    assert not {m for m in added if m == "alembic" or m.startswith("alembic.")}
    assert added - INIT_MODULES == set()
    assert found["dataclasses"] == []


@pytest.mark.slow
def test_noop_upgrade_does_not_import_alembic(tmp_path: Path) -> None:
    migrations = tmp_path / "migrations"
    write_revision_file(migrations / "versions", "r1", None)

    def upgrade() -> tuple[str, set[str]]:
        proc = flask_db(
            tmp_path,
            f"sqlite:///{tmp_path / 'db.sqlite'}",
            migrations,
            "upgrade",
            python=("-X", "importtime"),
        )
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, out + err
        imported = {
            line.rsplit("|", 1)[-1].strip()
            for line in err.splitlines()
            if line.startswith("import time:")
        }
        return out, imported

    out, imported = upgrade()  # from empty: Alembic does the work
    assert "[default] upgrade <base> → r1" in out and "alembic" in imported
    out, imported = upgrade()  # at head: nothing to do, and no Alembic
    assert "default: nothing to do, at r1" in out
    assert "flask_schemaver.verbs.quick" in imported
    assert not {m for m in imported if m == "alembic" or m.startswith("alembic.")}
