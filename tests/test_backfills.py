"""Resumable backfills in revisions: batches committed one by one, progress through the
run's output, a rerun after an interruption continuing where it stopped, plans, lint,
offline SQL refused, and the pytest plugin's runner moving rows through such a revision."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from flask_schemaver import BackfillProgress
from flask_schemaver import Interrupted
from flask_schemaver import RunFailed
from flask_schemaver import SchemaVer
from flask_schemaver.testing import MigrationRunner
from helpers import add_revision
from helpers import AppMaker
from helpers import cli
from helpers import MakeDatabase

ROWS = 2500


def _body(call: str, *, autocommit: bool = True) -> str:
    lines = ["    from flask_schemaver.backfills import backfill\n"]
    if autocommit:
        lines.append("    with op.get_context().autocommit_block():\n")
        lines.append(f"        {call}\n")
    else:
        lines.append(f"    {call}\n")
    return "".join(lines)


COUNT_UP = 'backfill("user", {"n": sa.text("n + 1")}, batch_size=1000)'


@pytest.fixture
def app(make_app: AppMaker, database_url: str) -> Flask:
    """A ``user`` table with a counter, ROWS rows in it, and a revision that
    backfills the counter (n = n + 1) in batches of 1000."""
    app = make_app(database_url, tables={None: {"user": []}})
    schemaver = make_app.schemaver
    with app.app_context():
        add_revision(
            schemaver,
            rev_id="a1",
            upgrade=(
                "    op.create_table('user', sa.Column('id', sa.Integer, "
                "primary_key=True), sa.Column('n', sa.Integer, nullable=False, "
                "server_default='0'))\n"
            ),
            downgrade="    op.drop_table('user')\n",
        )
        add_revision(schemaver, rev_id="b2", upgrade=_body(COUNT_UP))
    return app


def _fill(app: Flask) -> None:
    with app.app_context():
        schemaver: SchemaVer = app.extensions["schemaver"].extension
        schemaver.upgrade("a1")
        engine = app.extensions["sqlalchemy"].engine
        with engine.begin() as connection:
            user = sa.table("user", sa.column("id"), sa.column("n"))
            connection.execute(
                sa.insert(user), [{"id": i, "n": 0} for i in range(1, ROWS + 1)]
            )


def _counts(app: Flask) -> dict[int, int]:
    engine = app.extensions["sqlalchemy"].engine
    with engine.connect() as connection:
        user = sa.table("user", sa.column("n"))
        query = sa.select(user.c.n, sa.func.count()).group_by(user.c.n)
        return dict(connection.execute(query).all())  # type: ignore[arg-type]


def _positions(app: Flask) -> list[tuple[object, ...]]:
    engine = app.extensions["sqlalchemy"].engine
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table("alembic_version_backfill"):
            return []
        rows = connection.execute(sa.text("SELECT name FROM alembic_version_backfill"))
        return [tuple(r) for r in rows]


def test_backfill_updates_every_row_once_reporting_progress(
    app: Flask, schemaver: SchemaVer
) -> None:
    _fill(app)
    seen: list[BackfillProgress] = []
    [result] = schemaver.upgrade(on_progress=seen.append)
    assert result.after == ("b2",)
    assert _counts(app) == {1: ROWS}
    assert [p.done for p in seen] == [1000, 2000, ROWS, ROWS]
    assert all(p.total == ROWS and p.table == "user" for p in seen)
    assert {(p.bind, p.revision) for p in seen} == {("default", "b2")}
    assert seen[-1].finished and seen[-1].updated == ROWS
    assert not any(p.finished for p in seen[:-1])
    # Forgotten in the transaction that records the revision as applied.
    assert _positions(app) == []
    # Downgrade and upgrade again: it runs again, from the start.
    schemaver.downgrade("a1")
    schemaver.upgrade()
    assert _counts(app) == {2: ROWS}


def test_a_rerun_continues_where_an_interrupted_backfill_stopped(
    app: Flask, schemaver: SchemaVer
) -> None:
    _fill(app)

    def stop_after_two_batches(progress: BackfillProgress) -> None:
        if progress.done >= 2000:
            raise KeyboardInterrupt

    with pytest.raises(RunFailed) as caught:
        schemaver.upgrade(on_progress=stop_after_two_batches)
    [error] = caught.value.errors
    assert isinstance(error, Interrupted)
    assert _counts(app) == {1: 2000, 0: ROWS - 2000}
    if schemaver.binds["default"].transactional_ddl:
        # Not "rolled back": the committed batches stay, and the message says so.
        assert "rolled back" not in error.message
        assert "its backfill of user is at 2,000 of 2,500 rows" in error.message
        assert "running the upgrade again continues it" in error.message
    if schemaver.binds["default"].dialect in ("mysql", "mariadb"):
        # DDL commits as it runs there: the stopped run is resolved first, as for
        # any revision (the backfill's position is kept).
        schemaver.resolve("b2", applied=False)
    seen: list[BackfillProgress] = []
    schemaver.upgrade(on_progress=seen.append)
    assert _counts(app) == {1: ROWS}  # every row once
    assert seen[0].done == ROWS and seen[-1].finished
    assert seen[-1].updated == ROWS - 2000


def test_the_cli_prints_progress_lines(app: Flask) -> None:
    _fill(app)
    out = cli(app, "upgrade")
    assert "[default] backfill user: 2,500/2,500 rows (100%), 2,500 updated" in out
    assert "default: 1 revision upgraded, now at b2" in out


def test_a_backfill_is_planned_and_refused_as_sql(app: Flask) -> None:
    out = cli(app, "upgrade", "--plan")
    assert "- backfill user: set n (batches of 1000, each committed)" in out
    out = cli(app, "upgrade", "--sql", code=1)
    assert out.count("\n") == 1, out
    assert "backfill of user needs the database" in out
    assert "fix the revision file" not in out


def test_a_backfill_inside_the_revisions_transaction_is_refused(
    make_app: AppMaker, database_url: str
) -> None:
    app = make_app(database_url, tables={None: {"user": []}})
    with app.app_context():
        add_revision(
            make_app.schemaver,
            rev_id="a1",
            upgrade="    op.create_table('user', sa.Column('id', sa.Integer, primary_key=True), sa.Column('n', sa.Integer))\n",
        )
        add_revision(
            make_app.schemaver, rev_id="b2", upgrade=_body(COUNT_UP, autocommit=False)
        )
        out = cli(app, "lint", code=1)
        assert "error [backfill-outside-autocommit] backfill of user" in out
        out = cli(app, "upgrade", code=1)
    assert "inside 'with op.get_context().autocommit_block():'" in out
    assert "Traceback" not in out


def test_lint_flags_a_backfill_beside_schema_changes(make_app: AppMaker) -> None:
    app = make_app(tables={None: {"user": []}})
    with app.app_context():
        add_revision(
            make_app.schemaver,
            rev_id="a1",
            upgrade="    op.create_table('user', sa.Column('id', sa.Integer, primary_key=True))\n",
        )
        add_revision(
            make_app.schemaver,
            rev_id="b2",
            upgrade="    op.add_column('user', sa.Column('n', sa.Integer))\n"
            + _body(COUNT_UP),
        )
        out = cli(app, "lint")
    assert (
        "warning [backfill-with-ddl] backfill of user in a revision that changes" in out
    )
    # Raised to an error, CI stops on it.
    app = make_app(
        tables={None: {"user": []}},
        SCHEMAVER_LINT={"backfill-with-ddl": "error", "opaque-code": "error"},
    )
    with app.app_context():
        out = cli(app, "lint", code=1)
        [finding] = make_app.schemaver.lint()
    assert "error [backfill-with-ddl]" in out
    assert finding.level == "error"


def test_the_runner_moves_rows_through_a_backfill_revision(
    schemaver_runner: MigrationRunner,
) -> None:
    schemaver_runner.insert(
        "user", [{"id": i, "n": 0} for i in range(1, 1501)], revision="a1"
    )
    rows = schemaver_runner.rows("user", revision="b2")
    assert {row["n"] for row in rows} == {1}
    assert len(rows) == 1500
    schemaver_runner.downgrade("a1")
    schemaver_runner.upgrade()
    assert {row["n"] for row in schemaver_runner.rows("user")} == {2}


def test_an_interrupt_in_an_autocommit_block_is_not_called_rolled_back(
    make_app: AppMaker, database_url: str
) -> None:
    """What a revision committed itself stays after Ctrl-C: the message says so,
    through the CLI and the API."""
    app = make_app(database_url)
    with app.app_context():
        add_revision(
            make_app.schemaver,
            rev_id="c1",
            upgrade=(
                "    op.create_table('kept', sa.Column('id', sa.Integer))\n"
                "    with op.get_context().autocommit_block():\n"
                "        raise KeyboardInterrupt\n"
            ),
        )
        transactional = make_app.schemaver.binds["default"].transactional_ddl
        engine = app.extensions["sqlalchemy"].engine
    stays = "what it committed in its autocommit block, and before it, stays"
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 130, result.output
    assert "kept" in sa.inspect(engine).get_table_names()
    if transactional:
        assert "rolled back" not in result.output
        assert stays in result.output
    with engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE kept"))
    with app.app_context():
        if not transactional:  # MySQL/MariaDB: the stopped run is resolved first
            make_app.schemaver.resolve("c1", applied=False)
        with pytest.raises(RunFailed) as caught:
            make_app.schemaver.upgrade()
    [error] = caught.value.errors
    assert isinstance(error, Interrupted)
    if transactional:
        assert "rolled back" not in error.message
        assert stays in error.message
        assert "check the database before running it again" in error.message


@pytest.mark.postgresql
def test_the_backfills_connection_is_bounded_like_the_revisions(
    make_app: AppMaker, postgresql_db: MakeDatabase
) -> None:
    """SCHEMAVER_CONNECT_TIMEOUT reaches the backfill's own connection too."""
    app = make_app(postgresql_db(), SCHEMAVER_CONNECT_TIMEOUT=7)
    with app.app_context():
        schemaver = make_app.schemaver
        add_revision(
            schemaver,
            rev_id="a1",
            upgrade="    op.create_table('user', sa.Column('id', sa.Integer, "
            "primary_key=True), sa.Column('n', sa.Integer))\n",
        )
        add_revision(schemaver, rev_id="b2", upgrade=_body(COUNT_UP))
        schemaver.upgrade("a1")
        engine = schemaver.binds["default"].engine
        with engine.begin() as connection:
            connection.execute(sa.text('INSERT INTO "user" VALUES (1, 0), (2, 0)'))
        seen: list[str | None] = []

        def checked_out(dbapi_connection: Any, *_: Any) -> None:
            seen.append(dbapi_connection.info.get_parameters().get("connect_timeout"))

        sa.event.listen(engine, "checkout", checked_out)
        try:
            with engine.connect():
                pass  # one made without the timeout, pooled, as the app's would be
            seen.clear()
            schemaver.upgrade()
        finally:
            sa.event.remove(engine, "checkout", checked_out)
    assert len(seen) >= 2  # the revision's connection and the backfill's
    assert set(seen) == {"7"}, seen
