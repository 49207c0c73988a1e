"""The example app's migrations, tested the way a project would with the pytest plugin:
the built-in checks on every bind, and a data migration followed across revisions on
the runner's throwaway databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from flask import Flask

from flask_schemaver import UnknownBind
from flask_schemaver import UnknownRevision
from flask_schemaver import UsageError
from flask_schemaver.testing import MigrationRunner
from flask_schemaver.testing.checks import CHECKS
from helpers import example_app_at
from helpers import tables

pytest_plugins = ["pytester"]

BINDS = ["default", "analytics", "audit"]
CREATE_PAGE_VIEWS = "a9dda442b8af"
ADD_REFERRER = "cf5b61b3aef0"

CONFTEST = """
import pytest

from helpers import example_app_at


@pytest.fixture
def app(tmp_path):
    yield from example_app_at(tmp_path)
"""


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    """The example app configured for tests, as its own conftest.py would have it."""
    yield from example_app_at(tmp_path)


@pytest.mark.slow
def test_checks_pass_on_every_bind(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makeini(
        "[pytest]\nschemaver_checks = true\nschemaver_app = example_app\n"
        "filterwarnings = error\n"
    )
    result = pytester.runpytest_inprocess("-v", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(
        [
            f"conftest.py::schemaver[[]{bind}-{check}[]] PASSED*"
            for bind in BINDS
            for check in CHECKS
        ]
    )
    result.assert_outcomes(passed=15)


def test_binds_get_throwaway_databases(
    schemaver_runner: MigrationRunner, tmp_path: Path
) -> None:
    binds = schemaver_runner.binds
    assert list(binds) == BINDS
    # audit shares the default database in the app's config, so here too.
    assert binds["audit"].engine is binds["default"].engine
    assert binds["analytics"].engine is not binds["default"].engine
    default_file = Path(binds["default"].engine.url.database or "")
    assert default_file.parent != tmp_path

    results = schemaver_runner.upgrade()
    assert [r.bind for r in results] == BINDS
    assert tables(default_file) == {
        "users",
        "posts",
        "audit_entries",
        "alembic_version",
        "alembic_version_audit",
    }
    assert schemaver_runner.current("analytics") == (ADD_REFERRER,)
    # The app's own databases are left alone.
    assert not (tmp_path / "example.db").exists()
    assert not (tmp_path / "analytics.db").exists()


def test_rows_across_the_referrer_revision(schemaver_runner: MigrationRunner) -> None:
    viewed = datetime(2024, 5, 1, 12, 0)
    schemaver_runner.insert(
        "page_views",
        [
            {"id": 1, "path": "/", "viewed_at": viewed},
            {"id": 2, "path": "/about", "viewed_at": viewed},
        ],
        revision=CREATE_PAGE_VIEWS,
    )
    assert schemaver_runner.current("analytics") == (CREATE_PAGE_VIEWS,)
    # The other binds stay where they were.
    assert schemaver_runner.current("default") == ()

    rows = schemaver_runner.rows("page_views", revision=ADD_REFERRER)
    assert [(r["id"], r["path"], r["referrer"]) for r in rows] == [
        (1, "/", None),
        (2, "/about", None),
    ]
    schemaver_runner.insert(
        "page_views", {"id": 3, "path": "/", "viewed_at": viewed, "referrer": "x"}
    )
    # Down again: the column goes, the rows stay.
    rows = schemaver_runner.rows("page_views", revision=CREATE_PAGE_VIEWS)
    assert [sorted(r) for r in rows] == [["id", "path", "user_id", "viewed_at"]] * 3


def test_bind_is_picked_from_the_revision_or_the_table(
    schemaver_runner: MigrationRunner,
) -> None:
    runner = schemaver_runner
    runner.upgrade()
    # audit_entries is in the default database's file, but the audit bind owns it.
    entry = {
        "id": 1,
        "action": "login",
        "target": "user 1",
        "created_at": datetime.now(),
    }
    runner.insert("audit_entries", entry)
    assert runner.rows("audit_entries", bind="audit")[0]["action"] == "login"
    assert runner.table("users").name == "users"
    runner.migrate_to(CREATE_PAGE_VIEWS)
    assert runner.current("analytics") == (CREATE_PAGE_VIEWS,)
    runner.migrate_to("heads", bind="analytics")
    assert runner.current("analytics") == (ADD_REFERRER,)
    assert runner.migrate_to(ADD_REFERRER) is None

    with pytest.raises(
        UsageError, match=r"several binds \(default, analytics, audit\)"
    ):
        runner.current()
    with pytest.raises(UnknownRevision, match="no bind has revision 'f00'"):
        runner.upgrade("f00")
    with pytest.raises(UnknownBind, match="unknown bind 'search'"):
        runner.current("search")
    with pytest.raises(
        UsageError, match=rf"\[analytics\] there is no table 'users' .* {ADD_REFERRER}"
    ):
        runner.rows("users", bind="analytics")


def test_checks_from_a_test(schemaver_runner: MigrationRunner) -> None:
    """The checks are plain functions too; the walks downgrade a bind that is not
    empty to base first."""
    schemaver_runner.upgrade()
    for bind in BINDS:
        for check in CHECKS.values():
            check(schemaver_runner, bind, ())
    assert schemaver_runner.current("analytics") == (ADD_REFERRER,)
