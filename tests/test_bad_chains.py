"""Hand-written revision files and arguments that used to act on the wrong binds or end
in a traceback: each is one line, the right exit code, and nothing changed."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from flask_schemaver import MigrationError
from flask_schemaver import RunFailed
from flask_schemaver import UsageError
from helpers import AppMaker
from helpers import invoke
from helpers import tables
from helpers import write_revision_file


def two_chains(make_app: AppMaker, default_id: str, other_id: str) -> Flask:
    app = make_app(binds={"other": make_app.sqlite("other")}, tables={})
    create = "op.create_table('t_{0}', sa.Column('id', sa.Integer, primary_key=True))"
    write_revision_file(
        make_app.migrations / "versions", default_id, None, upgrade=create.format("a")
    )
    write_revision_file(
        make_app.migrations / "other", other_id, None, upgrade=create.format("b")
    )
    return app


def databases(make_app: AppMaker) -> tuple[set[str], set[str]]:
    return tables(make_app.tmp_path / "main.db"), tables(make_app.tmp_path / "other.db")


@pytest.mark.parametrize(
    ("ids", "command", "message"),
    [
        (
            ("aa11", "aa22"),
            ["upgrade", "aa"],
            "'aa' names revisions in several binds (default, other); name the bind "
            "with --bind, or give more of the revision id",
        ),
        (
            ("aa11", "aa11"),
            ["upgrade", "aa11"],
            "'aa11' names revisions in several binds (default, other); name the bind "
            "with --bind, or give more of the revision id",
        ),
        (
            ("aa11", "aa11"),
            ["stamp", "--all-binds", "aa11"],
            "'aa11' names revisions in several binds (default, other); name the bind "
            "with --bind, or give more of the revision id",
        ),
    ],
)
def test_a_target_in_two_binds_moves_neither(
    make_app: AppMaker, ids: tuple[str, str], command: list[str], message: str
) -> None:
    app = two_chains(make_app, *ids)
    result = invoke(app, *command)
    assert result.exit_code == 2, result.output
    assert result.output.splitlines()[-1] == f"Error: {message}"
    with app.app_context():
        with pytest.raises(UsageError) as refused:
            make_app.schemaver.upgrade(command[-1])
        assert refused.value.message == message
        assert make_app.schemaver.current() == {"default": (), "other": ()}
    # Named, it is one bind's revision.
    assert invoke(app, "upgrade", "--bind", "other", command[-1]).exit_code == 0
    assert databases(make_app) == (set(), {"alembic_version_other", "t_b"})


def test_a_revision_id_longer_than_the_version_column(make_app: AppMaker) -> None:
    app = make_app()
    long_id = "a" * 33
    result = invoke(app, "revision", "-m", "x", "--rev-id", long_id)
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == (
        f"Error: --rev-id {long_id!r} is longer than the 32 characters a version table "
        "holds; choose a shorter id"
    )
    with app.app_context(), pytest.raises(UsageError, match="longer than the 32"):
        make_app.schemaver.revision("x", rev_id=long_id)
    assert not make_app.migrations.exists()


@pytest.mark.parametrize("target", ["+1.5", "head-1x", "r1+1.0"])
def test_a_target_alembic_would_read_in_part(make_app: AppMaker, target: str) -> None:
    app = make_app(tables={})
    for rev, down in (("r1", None), ("r2", "r1")):
        write_revision_file(make_app.migrations / "versions", rev, down)
    result = invoke(app, "upgrade", target)
    assert result.exit_code == 2, result.output
    assert result.output.splitlines()[-1].startswith(
        f"Error: {target!r} is not a revision target: Alembic would read it as "
    )
    with app.app_context():
        with pytest.raises(UsageError, match="is not a revision target"):
            make_app.schemaver.upgrade(target)
        with pytest.raises(UsageError, match="is not a revision target"):
            make_app.schemaver.plan(target)
        assert make_app.schemaver.current() == {"default": ()}


def broken_chain(make_app: AppMaker, write: object) -> Flask:
    app = make_app(tables={})
    folder = make_app.migrations / "versions"
    write_revision_file(folder, "r1", None)
    assert callable(write)
    write(folder)
    return app


def missing_parent(folder: Path) -> None:
    write_revision_file(folder, "r2", "zz99")


def id_not_a_string(folder: Path) -> None:
    (folder / "r2.py").write_text(
        "revision = 123\ndown_revision = 'r1'\ndef upgrade():\n    pass\n"
    )


def broken_link(folder: Path) -> None:
    (folder / "r2.py").symlink_to(folder.parent / "nowhere" / "r2.py")


@pytest.mark.parametrize(
    ("write", "says"),
    [
        (
            missing_parent,
            "revision r2 names zz99 as its down_revision (or depends_on), but no "
            "revision file in {folder} has it; fix that name in r2's file, or restore "
            "the file of zz99",
        ),
        (
            id_not_a_string,
            "{folder}/r2.py can't be read as a revision file (TypeError: ",
        ),
        (
            broken_link,
            "in {folder}: a revision file that can't be read (a broken link?); remove "
            "it or restore what it points to",
        ),
    ],
)
def test_a_chain_alembic_cannot_read(
    make_app: AppMaker, write: object, says: str
) -> None:
    app = broken_chain(make_app, write)
    folder = make_app.migrations / "versions"
    for command in (["upgrade"], ["history", "-r", "r1:"], ["heads"]):
        result = invoke(app, *command)
        assert result.exit_code == 1, (command, result.output)
        [line] = [x for x in result.output.splitlines() if x.startswith("Error")]
        assert line.startswith("Error: [default] "), line
        assert says.format(folder=folder) in line, line
    with app.app_context(), pytest.raises((RunFailed, MigrationError)):
        make_app.schemaver.upgrade()
    assert tables(make_app.tmp_path / "main.db") == set()


@pytest.mark.parametrize(
    ("rows", "found"),
    [([None], "an empty row"), ([""], "an empty row"), (["r1", "r1"], "'r1' twice")],
)
def test_a_version_table_no_run_could_have_written(
    make_app: AppMaker, rows: list[str | None], found: str
) -> None:
    import sqlalchemy as sa

    app = make_app(tables={})
    write_revision_file(make_app.migrations / "versions", "r1", None)
    engine = sa.create_engine(make_app.sqlite("main"))
    with engine.begin() as connection:
        connection.execute(
            sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32))")
        )
        for row in rows:
            connection.execute(
                sa.text("INSERT INTO alembic_version VALUES (:v)"), {"v": row}
            )
    engine.dispose()
    message = (
        f"[default] the version table 'alembic_version' holds {found}; delete the bad "
        "rows, or record where the database really is with 'flask db stamp --bind "
        "default --purge REVISION'"
    )
    for command in (["upgrade"], ["status"], ["current"], ["check"]):
        result = invoke(app, *command)
        assert result.exit_code == 1, (command, result.output)
        assert f"Error: {message}" in result.output.splitlines(), result.output
    with app.app_context():
        assert make_app.schemaver.is_current() is False
        with pytest.raises(MigrationError) as refused:
            make_app.schemaver.current()
        assert str(refused.value) == message
    # The advised repair works.
    result = invoke(app, "stamp", "--purge", "r1")
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert make_app.schemaver.current() == {"default": ("r1",)}
