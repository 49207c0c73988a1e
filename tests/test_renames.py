"""Renames in autogenerate: asked, given with --rename, or reported; written as renames
that keep every row, with indexes and constraints carried, and reversed in downgrade.
Also the guard against a bind whose models were never imported."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_schemaver import MigrationError
from flask_schemaver import Rename
from flask_schemaver import SchemaVer
from flask_schemaver import UsageError
from helpers import cli
from helpers import invoke

CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Builds the app with the models of one version: 1 before the renames, 2 after.
Versions = Callable[[int], Flask]


@pytest.fixture
def versions(tmp_path: Path, database_url: str) -> Iterator[Versions]:
    made: list[tuple[Flask, SQLAlchemy]] = []

    def make(version: int) -> Flask:
        app = Flask("renames_" + uuid.uuid4().hex[:6], root_path=str(tmp_path))
        app.config["SQLALCHEMY_DATABASE_URI"] = database_url
        app.config["SCHEMAVER_DIRECTORY"] = str(tmp_path / "migrations")
        db = SQLAlchemy(metadata=sa.MetaData(naming_convention=CONVENTION))
        person = "person" if version == 1 else "people"
        headline = "headline" if version == 1 else "title"
        db.Table(
            person,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("name", sa.String(20), index=True),
            sa.Column("code", sa.String(10), unique=True),
        )
        db.Table(
            "post",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column(headline, sa.String(50), index=True, server_default="x"),
            sa.Column("person_id", sa.Integer, sa.ForeignKey(f"{person}.id")),
        )
        db.init_app(app)
        SchemaVer(app, db)
        made.append((app, db))
        return app

    yield make
    for app, db in made:
        with app.app_context():
            db.engine.dispose()


def _first_version(versions: Versions) -> None:
    app = versions(1)
    with app.app_context():
        cli(app, "migrate", "-m", "first")
        cli(app, "upgrade")
        engine = app.extensions["sqlalchemy"].engine
        with engine.begin() as connection:
            connection.execute(
                sa.text("INSERT INTO person (id, name, code) VALUES (1, 'ann', 'a')")
            )
            connection.execute(
                sa.text(
                    "INSERT INTO post (id, headline, person_id) VALUES (1, 'hello', 1)"
                )
            )


def _rows(app: Flask, person: str, headline: str) -> list[tuple[object, ...]]:
    engine = app.extensions["sqlalchemy"].engine
    with engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(
                sa.text(
                    f"SELECT post.id, post.{headline}, {person}.name, {person}.code "
                    f"FROM post JOIN {person} ON {person}.id = post.person_id"
                )
            )
        ]


def test_renames_given_on_the_command_line_keep_every_row(versions: Versions) -> None:
    _first_version(versions)
    app = versions(2)
    with app.app_context():
        out = cli(
            app,
            "migrate",
            "-m",
            "renames",
            "--rename",
            "post.headline:title",
            "--rename",
            "person:people",
        )
        assert "renamed: table person to people" in out
        assert "renamed: post.headline to post.title" in out
        assert "drop column" not in out and "drop table" not in out
        cli(app, "upgrade")
        assert _rows(app, "people", "title") == [(1, "hello", "ann", "a")]
        # The indexes and constraints came along, under the names the models give.
        assert "default: ok" in cli(app, "check")
        cli(app, "downgrade")
        assert _rows(app, "person", "headline") == [(1, "hello", "ann", "a")]
        cli(app, "upgrade")
        assert _rows(app, "people", "title") == [(1, "hello", "ann", "a")]


def test_without_an_answer_the_likely_rename_is_one_warning_line(
    versions: Versions,
) -> None:
    _first_version(versions)
    app = versions(2)
    with app.app_context():
        result = invoke(app, "migrate", "-m", "renames")
        assert result.exit_code == 0, result.output
        warnings = [line for line in result.output.splitlines() if "warning:" in line]
        assert len(warnings) == 2, result.output
        assert any(
            "post.headline to post.title looks like a rename" in w
            and "--rename post.headline:title" in w
            for w in warnings
        )
        assert any("--rename person:people" in w for w in warnings)
        assert "detected: drop column post.headline" in result.output


def test_the_python_api_asks_and_reports(versions: Versions) -> None:
    _first_version(versions)
    app = versions(2)
    asked: list[Rename] = []

    def ask(rename: Rename) -> bool:
        asked.append(rename)
        return rename.kind == "column"

    with app.app_context():
        schemaver: SchemaVer = app.extensions["schemaver"].extension
        [result] = schemaver.migrate("renames", on_rename=ask)
    assert [r.describe() for r in asked] == [
        "table person to people",
        "post.headline to post.title",
    ]
    assert asked[1].detail == "VARCHAR(50)"
    assert [r.option for r in result.renames] == ["post.headline:title"]
    # Answered no: no warning, the table is dropped and created as asked.
    assert result.likely_renames == []
    text = Path(result.revisions[0].path).read_text()
    assert "new_column_name='title'" in text
    assert "op.drop_table('person')" in text


def test_the_prompt_at_a_terminal(
    versions: Versions, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flask_schemaver.cli import files

    _first_version(versions)
    app = versions(2)
    monkeypatch.setattr(files, "interactive", lambda: True)
    with app.app_context():
        result = app.test_cli_runner().invoke(
            args=["db", "migrate", "-m", "renames"], input="y\ny\n"
        )
        assert result.exit_code == 0, result.output
        assert "Did you rename table person to people? [y/N]: y" in result.output
        assert (
            "Did you rename post.headline to post.title (a VARCHAR(50))? [y/N]: y"
            in result.output
        )
        cli(app, "upgrade")
        assert _rows(app, "people", "title") == [(1, "hello", "ann", "a")]


def test_no_input_never_asks(
    versions: Versions, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flask_schemaver.cli import files

    _first_version(versions)
    app = versions(2)
    monkeypatch.setattr(files, "interactive", lambda: True)
    with app.app_context():
        out = cli(app, "migrate", "-m", "renames", "--no-input")
    assert "Did you rename" not in out
    assert out.count("looks like a rename") == 2


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("post.headline", "give TABLE.OLD:NEW for a column"),
        ("post.headline:", "give TABLE.OLD:NEW for a column"),
        ("post.headline:nope", "no bind's models have a table post with a column nope"),
        ("nowhere:people", None),
        ("person:nowhere", "no bind's models have a table nowhere"),
        ("post.person_id:title", "autogenerate found no column person_id dropped"),
    ],
)
def test_bad_renames_are_usage_errors_and_write_nothing(
    versions: Versions, value: str, message: str | None
) -> None:
    _first_version(versions)
    app = versions(2)
    folder = Path(app.config["SCHEMAVER_DIRECTORY"]) / "versions"
    before = sorted(folder.iterdir())
    with app.app_context():
        out = cli(app, "migrate", "--rename", value, code=2)
        schemaver: SchemaVer = app.extensions["schemaver"].extension
        with pytest.raises(UsageError) as caught:
            schemaver.migrate(rename=[value])
    assert out.startswith("Error: ") and out.count("\n") == 1, out
    assert f"--rename {value}" in out or f"--rename {value!r}" in out
    assert message is None or message in out
    assert message is None or message in str(caught.value)
    assert sorted(folder.iterdir()) == before


def test_rename_without_autogenerate_is_refused(versions: Versions) -> None:
    app = versions(1)
    with app.app_context():
        out = cli(app, "revision", "-m", "x", "--rename", "a:b", code=2)
    assert "--rename and --allow-drop-all go with --autogenerate" in out


# -- models that were never imported ----------------------------------------------------


def test_a_bind_without_models_does_not_drop_every_table(
    versions: Versions, tmp_path: Path, database_url: str
) -> None:
    _first_version(versions)
    app = Flask("forgot_models", root_path=str(tmp_path))
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url
    app.config["SCHEMAVER_DIRECTORY"] = str(tmp_path / "migrations")
    db = SQLAlchemy(app)
    schemaver = SchemaVer(app, db)
    folder = tmp_path / "migrations" / "versions"
    before = sorted(folder.iterdir())
    try:
        with app.app_context():
            out = cli(app, "migrate", "-m", "oops", code=1)
            assert out.count("\n") == 1, out
            assert "the bind has no models" in out
            assert "person" in out and "post" in out
            assert "models were not imported" in out
            assert "forgot_models" in out  # where to import them
            assert "--allow-drop-all" in out
            with pytest.raises(MigrationError, match="no models"):
                schemaver.migrate("oops")
            assert sorted(folder.iterdir()) == before
            [result] = schemaver.migrate("drop all", allow_drop_all=True)
            text = Path(result.revisions[0].path).read_text()
            assert "op.drop_table('post')" in text
    finally:
        with app.app_context():
            db.engine.dispose()


# -- naming conventions -----------------------------------------------------------------


def test_init_shows_how_to_name_constraints(
    versions: Versions, tmp_path: Path, database_url: str
) -> None:
    app = Flask("plain_models", root_path=str(tmp_path))
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url
    app.config["SCHEMAVER_DIRECTORY"] = str(tmp_path / "plain")
    db = SQLAlchemy(app)
    SchemaVer(app, db)
    with app.app_context():
        out = cli(app, "init")
        db.engine.dispose()
    assert "tip (default): name constraints with a naming convention" in out
    # With one, no tip, and lint says nothing about the foreign key's name.
    app = versions(1)
    with app.app_context():
        out = cli(app, "init")
        assert "tip" not in out
        out = cli(app, "migrate", "-m", "first")
        assert "unnamed-constraint" not in out
        assert (
            "fk_post_person_id_person"
            in Path(
                next((tmp_path / "migrations" / "versions").glob("*.py"))
            ).read_text()
        )
