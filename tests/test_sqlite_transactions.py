"""On SQLite a failed revision rolls back completely, batch-mode tables included, as on
PostgreSQL; what cannot be rolled back is named in the error line."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from flask import Flask

from helpers import AppMaker
from helpers import invoke
from helpers import tables
from helpers import versions
from helpers import write_revision_file

GOOD = "op.create_table('item', sa.Column('id', sa.Integer, primary_key=True))"
#: Adds a column in batch mode (a copy of the table under _alembic_tmp_item), then fails.
BATCH_THEN_FAIL = """
with op.batch_alter_table('item') as batch:
    batch.add_column(sa.Column('price', sa.Integer))
op.execute('INSERT INTO missing_table VALUES (1)')
"""
#: Plain DDL, then a failure in Python.
DDL_THEN_FAIL = """
op.create_table('audit', sa.Column('id', sa.Integer, primary_key=True))
op.add_column('item', sa.Column('name', sa.String(20)))
raise RuntimeError('half way')
"""


def app_with(make_app: AppMaker, upgrade: str) -> tuple[Flask, Path]:
    app = make_app(tables={})
    folder = make_app.migrations / "versions"
    write_revision_file(folder, "r1", None, message="item", upgrade=GOOD)
    write_revision_file(folder, "r2", "r1", message="change", upgrade=upgrade)
    return app, make_app.tmp_path / "main.db"


def columns(database: Path, table: str) -> list[str]:
    engine = sa.create_engine(f"sqlite:///{database}", poolclass=sa.pool.NullPool)
    try:
        return [c["name"] for c in sa.inspect(engine).get_columns(table)]
    finally:
        engine.dispose()


def test_a_failed_batch_revision_leaves_nothing(make_app: AppMaker) -> None:
    app, database = app_with(make_app, BATCH_THEN_FAIL)
    result = invoke(app, "upgrade")
    assert result.exit_code == 1, result.output
    assert "no such table: missing_table" in result.output
    assert "left behind" not in result.output
    # r1 is kept; r2's batch copy and new column are gone with its transaction.
    assert versions(database) == ["r1"]
    assert tables(database) == {"alembic_version", "item"}
    assert columns(database, "item") == ["id"]
    # So, once the revision is fixed, it simply runs.
    path = make_app.migrations / "versions" / "r2.py"
    path.write_text(path.read_text().replace("op.execute(", "pass  # op.execute("))
    assert invoke(app, "upgrade").exit_code == 0
    assert columns(database, "item") == ["id", "price"]


def test_a_failed_revision_is_rolled_back_api(make_app: AppMaker) -> None:
    app, database = app_with(make_app, DDL_THEN_FAIL)
    with app.app_context():
        try:
            make_app.schemaver.upgrade()
        except Exception as exc:  # RunFailed, checked below
            assert "half way" in str(exc)
        else:
            raise AssertionError("the failing revision did not fail")
        assert make_app.schemaver.current() == {"default": ("r1",)}
    assert tables(database) == {"alembic_version", "item"}
    assert columns(database, "item") == ["id"]


def test_the_apps_own_connections_are_left_as_they_were(make_app: AppMaker) -> None:
    app, _ = app_with(make_app, "pass")
    with app.app_context():
        engine = make_app.db.engine
        with engine.connect() as connection:
            before = connection.connection.dbapi_connection.isolation_level  # type: ignore[union-attr]
        make_app.schemaver.upgrade()
        # The pool hands the same connection back: as the app configured it.
        with engine.connect() as connection:
            after = connection.connection.dbapi_connection.isolation_level  # type: ignore[union-attr]
            connection.execute(sa.text("INSERT INTO item (id) VALUES (1)"))
            connection.rollback()
            assert connection.scalar(sa.text("SELECT count(*) FROM item")) == 0
    assert after == before == ""


def test_what_escapes_the_transaction_is_named(make_app: AppMaker) -> None:
    # DDL in an autocommit block is committed as it runs, whatever the dialect.
    escaping = """
with op.get_context().autocommit_block():
    op.execute('CREATE TABLE _alembic_tmp_item (id INTEGER)')
raise RuntimeError('after the copy')
"""
    app, database = app_with(make_app, escaping)
    result = invoke(app, "upgrade")
    assert result.exit_code == 1, result.output
    [error] = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert "after the copy" in error
    assert error.endswith(
        "; the revision left behind the table(s) _alembic_tmp_item from batch mode: "
        "drop them before running it again"
    )
    assert versions(database) == ["r1"]
