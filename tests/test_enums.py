"""PostgreSQL ENUM values changed in the models: added, renamed and removed values
written as ALTER TYPE statements (the type recreated for a removal), reversed in the
downgrade, and keeping every row."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_schemaver import SchemaVer
from helpers import cli
from helpers import MakeDatabase


def _app(
    tmp_path: object, url: str, values: tuple[str, ...]
) -> tuple[Flask, SQLAlchemy]:
    app = Flask(f"enums_{len(values)}_{values[-1]}", root_path=str(tmp_path))
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    app.config["SCHEMAVER_DIRECTORY"] = f"{tmp_path}/migrations"
    db = SQLAlchemy()
    db.Table(
        "ticket",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("state", sa.Enum(*values, name="state"), server_default=values[0]),
    )
    db.init_app(app)
    SchemaVer(app, db)
    return app, db


def _states(db: SQLAlchemy) -> list[str]:
    with db.engine.connect() as connection:
        return list(
            connection.scalars(sa.text("SELECT state::text FROM ticket ORDER BY id"))
        )


def _labels(db: SQLAlchemy) -> list[str]:
    with db.engine.connect() as connection:
        return [
            e["labels"]
            for e in sa.inspect(connection).get_enums()
            if e["name"] == "state"
        ][0]


def test_enum_values_added_renamed_and_removed(
    tmp_path: object, postgresql_db: MakeDatabase
) -> None:
    url = postgresql_db()
    app, db = _app(tmp_path, url, ("open", "done", "stale"))
    with app.app_context():
        cli(app, "migrate", "-m", "first")
        cli(app, "upgrade")
        with db.engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO ticket (id, state) VALUES (1, 'open'), (2, 'done')"
                )
            )
        db.engine.dispose()
    # 'done' renamed to 'closed', 'waiting' added between, 'stale' removed.
    app, db = _app(tmp_path, url, ("open", "waiting", "closed"))
    with app.app_context():
        out = cli(app, "migrate", "-m", "states", "--rename", "state.done:closed")
        assert "renamed: value 'done' of enum state to 'closed'" in out
        [path] = [line.split(" at ")[1] for line in out.splitlines() if "wrote" in line]
        text = Path(path).read_text()
        assert "ALTER TYPE state RENAME VALUE 'done' TO 'closed'" in text
        assert "ALTER TYPE state RENAME TO state_old" in text
        assert "USING state::text::state" in text
        cli(app, "upgrade")
        assert _labels(db) == ["open", "waiting", "closed"]
        assert _states(db) == ["open", "closed"]
        assert "default: ok" in cli(app, "check")
        cli(app, "downgrade")
        assert _labels(db) == ["open", "done", "stale"]
        assert _states(db) == ["open", "done"]
        db.engine.dispose()


def test_an_added_value_only_adds_it(
    tmp_path: object, postgresql_db: MakeDatabase
) -> None:
    url = postgresql_db()
    app, db = _app(tmp_path, url, ("a", "c"))
    with app.app_context():
        cli(app, "migrate", "-m", "first")
        cli(app, "upgrade")
        db.engine.dispose()
    app, db = _app(tmp_path, url, ("a", "b", "c"))
    with app.app_context():
        out = cli(app, "migrate", "-m", "b")
        [path] = [line.split(" at ")[1] for line in out.splitlines() if "wrote" in line]
        text = Path(path).read_text()
        assert "ALTER TYPE state ADD VALUE 'b' BEFORE 'c'" in text
        assert "RENAME TO" not in text.split("def downgrade")[0]
        cli(app, "upgrade")
        assert _labels(db) == ["a", "b", "c"]
        assert "default: ok" in cli(app, "check")
        db.engine.dispose()
