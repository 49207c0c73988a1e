"""The example app: three binds, two of them in one SQLite file, migrated from its
committed revisions through the Python API and the CLI."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

import example_app
from example_app import schemaver
from helpers import example_app_at
from helpers import tables
from helpers import versions

BINDS = ["default", "analytics", "audit"]

# pytest-flask pushes the context of the ``app`` fixture only for tests that use it;
# the API tests call the module-level ``schemaver`` and need that context too.
pytestmark = pytest.mark.usefixtures("app")


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    """The example app with its databases under tmp_path; pytest-flask pushes its context."""
    yield from example_app_at(tmp_path)


def head_ids() -> dict[str, tuple[str, ...]]:
    return {name: tuple(r.id for r in revs) for name, revs in schemaver.heads().items()}


def assert_all_applied() -> None:
    heads = head_ids()
    assert all(len(ids) == 1 for ids in heads.values()), heads
    assert schemaver.current() == heads
    for state in schemaver.status():
        assert state.up_to_date, state
        assert state.revisions and all(item.applied for item in state.revisions)
        assert state.current == heads[state.bind]
    results = schemaver.check()
    assert [r.bind for r in results] == BINDS
    assert all(r.ok and r.compared for r in results), results


def assert_file_layout(tmp_path: Path) -> None:
    """default and audit share example.db, each with its own version table."""
    heads = head_ids()
    main = tables(tmp_path / "example.db")
    assert main == {
        "users",
        "posts",
        "audit_entries",
        "alembic_version",
        "alembic_version_audit",
    }
    assert versions(tmp_path / "example.db", "alembic_version") == list(
        heads["default"]
    )
    assert versions(tmp_path / "example.db", "alembic_version_audit") == list(
        heads["audit"]
    )
    analytics = tables(tmp_path / "analytics.db")
    assert analytics == {"page_views", "alembic_version_analytics"}
    assert versions(tmp_path / "analytics.db", "alembic_version_analytics") == list(
        heads["analytics"]
    )


def test_binds(tmp_path: Path) -> None:
    binds = schemaver.binds
    assert list(binds) == BINDS
    # audit follows the default database's URL: the same file, its own version table.
    assert binds["audit"].engine.url == binds["default"].engine.url
    assert binds["default"].engine.url.database == str(tmp_path / "example.db")
    assert binds["analytics"].engine.url.database == str(tmp_path / "analytics.db")
    assert {n: b.version_table for n, b in binds.items()} == {
        "default": "alembic_version",
        "analytics": "alembic_version_analytics",
        "audit": "alembic_version_audit",
    }
    migrations = Path(example_app.__file__).parent / "migrations"
    assert {n: b.directory for n, b in binds.items()} == {
        "default": migrations / "versions",
        "analytics": migrations / "analytics",
        "audit": migrations / "audit",
    }
    # Each bind has its own chain; analytics has two revisions.
    history = schemaver.history()
    assert [len(history[name]) for name in BINDS] == [1, 2, 1]
    assert [r.message for r in history["analytics"]] == [
        "add page view referrer",
        "create tables",
    ]


def test_fresh_databases_are_pending(tmp_path: Path) -> None:
    for state in schemaver.status():
        assert state.current == ()
        assert not any(item.applied for item in state.revisions)
    results = schemaver.check()
    assert not any(r.ok for r in results)
    assert [len(r.pending) for r in results] == [1, 2, 1]


def test_upgrade_api(tmp_path: Path) -> None:
    results = schemaver.upgrade()
    heads = head_ids()
    assert [r.bind for r in results] == BINDS
    for result in results:
        assert result.before == ()
        assert result.after == heads[result.bind]
        assert all(
            step.is_upgrade and step.bind == result.bind for step in result.steps
        )
    assert [len(r.steps) for r in results] == [1, 2, 1]
    assert_all_applied()
    assert_file_layout(tmp_path)

    # A second upgrade has nothing to do.
    again = schemaver.upgrade()
    assert all(not r.changed and not r.steps for r in again)


def test_upgrade_cli(app: Flask, tmp_path: Path) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    heads = head_ids()
    for name in BINDS:
        assert f"{name}: " in result.output
        assert f"now at {heads[name][0]}" in result.output
    assert "analytics: 2 revisions upgraded" in result.output
    assert "[audit] upgrade <base> → " in result.output

    result = runner.invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["default: ok", "analytics: ok", "audit: ok"]

    result = runner.invoke(args=["db", "status"])
    assert result.exit_code == 0, result.output
    assert "[ ]" not in result.output
    assert result.output.count("[X]") == 4

    result = runner.invoke(args=["db", "status", "--json"])
    assert result.exit_code == 0, result.output
    states = json.loads(result.output)
    assert [s["bind"] for s in states] == BINDS
    for state in states:
        assert state["up_to_date"] is True
        assert state["current"] == list(heads[state["bind"]])
        assert state["heads"] == list(heads[state["bind"]])

    result = runner.invoke(args=["db", "current"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [f"{n}: {heads[n][0]} (head)" for n in BINDS]

    assert_all_applied()
    assert_file_layout(tmp_path)


def test_downgrade_analytics_to_base_and_back_api(tmp_path: Path) -> None:
    schemaver.upgrade()
    heads = head_ids()

    [result] = schemaver.downgrade("base", "analytics")
    assert result.bind == "analytics"
    assert result.before == heads["analytics"]
    assert result.after == ()
    assert len(result.steps) == 2
    assert not any(step.is_upgrade for step in result.steps)

    assert schemaver.current() == {**heads, "analytics": ()}
    assert tables(tmp_path / "analytics.db") == {"alembic_version_analytics"}
    # The other binds did not move.
    assert versions(tmp_path / "example.db", "alembic_version") == list(
        heads["default"]
    )
    assert versions(tmp_path / "example.db", "alembic_version_audit") == list(
        heads["audit"]
    )
    checks = {r.bind: r for r in schemaver.check()}
    assert checks["default"].ok and checks["audit"].ok
    assert not checks["analytics"].ok
    assert len(checks["analytics"].pending) == 2

    [result] = schemaver.upgrade(bind="analytics")
    assert result.after == heads["analytics"]
    assert_all_applied()
    assert_file_layout(tmp_path)


def test_downgrade_analytics_to_base_and_back_cli(app: Flask, tmp_path: Path) -> None:
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    heads = head_ids()

    result = runner.invoke(args=["db", "downgrade", "--bind", "analytics", "base"])
    assert result.exit_code == 0, result.output
    assert "analytics: 2 revisions downgraded, now at <base>" in result.output
    assert "default" not in result.output and "audit" not in result.output
    assert tables(tmp_path / "analytics.db") == {"alembic_version_analytics"}

    result = runner.invoke(args=["db", "check"])
    assert result.exit_code == 1, result.output
    assert "default: ok" in result.output
    assert "audit: ok" in result.output
    assert "analytics: 2 unapplied revision(s)" in result.output

    result = runner.invoke(args=["db", "upgrade", "--bind", "analytics"])
    assert result.exit_code == 0, result.output
    assert (
        f"analytics: 2 revisions upgraded, now at {heads['analytics'][0]}"
        in result.output
    )

    assert runner.invoke(args=["db", "check"]).exit_code == 0
    assert_file_layout(tmp_path)


def test_downgrade_needs_a_bind(app: Flask) -> None:
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    result = runner.invoke(args=["db", "downgrade", "base"])
    assert result.exit_code == 2
    assert "name the binds with --bind (default, analytics, audit)" in result.output


def test_binds_sharing_a_file_leave_each_other_alone(tmp_path: Path) -> None:
    schemaver.upgrade()
    heads = head_ids()
    example_db = tmp_path / "example.db"

    # audit's chain only knows audit_entries ...
    schemaver.downgrade("base", "audit")
    assert tables(example_db) == {
        "users",
        "posts",
        "alembic_version",
        "alembic_version_audit",
    }
    assert versions(example_db, "alembic_version") == list(heads["default"])
    # ... and the default bind does not see audit's tables as dropped models.
    assert {r.bind: r.ok for r in schemaver.check()} == {
        "default": True,
        "analytics": True,
        "audit": False,
    }
    schemaver.upgrade(bind="audit")

    # The default chain only knows users and posts.
    schemaver.downgrade("base", "default")
    assert tables(example_db) == {
        "audit_entries",
        "alembic_version",
        "alembic_version_audit",
    }
    assert versions(example_db, "alembic_version_audit") == list(heads["audit"])
    schemaver.upgrade(bind="default")

    assert_all_applied()
    assert_file_layout(tmp_path)


def test_offline_sql_stays_in_its_bind() -> None:
    [result] = schemaver.upgrade(bind="audit", sql=True)
    assert result.sql is not None
    assert "CREATE TABLE audit_entries" in result.sql
    assert "alembic_version_audit" in result.sql
    assert "users" not in result.sql and "posts" not in result.sql


def test_index_uses_the_migrated_databases(app: Flask, tmp_path: Path) -> None:
    schemaver.upgrade()
    response = app.test_client().get("/")
    assert response.status_code == 200
    assert response.get_json() == {"posts": []}
    with sqlite3.connect(tmp_path / "analytics.db") as conn:
        assert conn.execute("SELECT path, referrer FROM page_views").fetchall() == [
            ("/", None)
        ]
