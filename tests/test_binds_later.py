"""Adding a bind to a project that already has migrations: it gets a chain of its own.

Also: a bind whose name is not a Python identifier, and an app without a default database.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from flask import Flask

from helpers import AppMaker
from helpers import revision_files
from helpers import snapshot
from helpers import tables
from helpers import versions


def default_only(make_app: AppMaker) -> str:
    """Build the project's first app with one database, migrate it to head; return the id."""
    app = make_app(tables={None: {"user": ["name"]}})
    with app.app_context():
        [written] = make_app.schemaver.migrate("create user")
        make_app.schemaver.upgrade()
    [rev] = written.revisions
    return rev.id


def with_reports(make_app: AppMaker) -> Flask:
    """The same project a month later: a ``reports`` database with its own model."""
    return make_app(
        binds={"reports": make_app.sqlite("reports")},
        tables={None: {"user": ["name"]}, "reports": {"report": ["title"]}},
    )


# -- adding a bind later ----------------------------------------------------------------


def test_new_bind_api_gets_its_own_first_revision(make_app: AppMaker) -> None:
    first = default_only(make_app)
    before = snapshot(make_app.migrations)
    assert list(before) == [f"versions/{first}_create_user.py"]
    app = with_reports(make_app)
    ext = make_app.schemaver
    with app.app_context():
        assert ext.current() == {"default": (first,), "reports": ()}
        results = ext.migrate("reports tables")
        assert [(r.bind, len(r.revisions)) for r in results] == [
            ("default", 0),
            ("reports", 1),
        ]
        [rev] = results[1].revisions
        assert rev.down_revisions == ()
        assert Path(rev.path).parent == make_app.migrations / "reports"
        assert revision_files(make_app.migrations / "reports") == [
            f"{rev.id}_reports_tables.py"
        ]
        # The old chain is as it was; the new chain starts from nothing.
        after = snapshot(make_app.migrations)
        assert {k: v for k, v in after.items() if k in before} == before
        assert set(after) - set(before) == {f"reports/{rev.id}_reports_tables.py"}
        text = Path(rev.path).read_text()
        assert "op.create_table('report'" in text
        assert "'user'" not in text

        heads = ext.heads()
        assert {name: [r.id for r in revs] for name, revs in heads.items()} == {
            "default": [first],
            "reports": [rev.id],
        }
        assert [r.id for r in ext.history()["reports"]] == [rev.id]
        assert [r.id for r in ext.history()["default"]] == [first]

        runs = ext.upgrade()
        assert [(r.bind, r.before, r.after) for r in runs] == [
            ("default", (first,), (first,)),
            ("reports", (), (rev.id,)),
        ]
        assert runs[0].steps == []
        assert [s.revision for s in runs[1].steps] == [rev.id]
        assert ext.current() == {"default": (first,), "reports": (rev.id,)}
        assert all(c.ok for c in ext.check())
    assert snapshot(make_app.migrations) == after

    main, reports = make_app.sqlite("main"), make_app.sqlite("reports")
    assert tables(main) == {"user", "alembic_version"}
    assert tables(reports) == {"report", "alembic_version_reports"}
    assert versions(main, "alembic_version") == [first]
    assert versions(reports, "alembic_version_reports") == [rev.id]


def test_new_bind_cli_gets_its_own_first_revision(make_app: AppMaker) -> None:
    first = default_only(make_app)
    before = snapshot(make_app.migrations)
    app = with_reports(make_app)
    runner = app.test_cli_runner()

    result = runner.invoke(args=["db", "status"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert re.fullmatch(
        rf"  \[X\] {first} \(head\)  create user  applied [\d\-T:]+", lines[2]
    )
    assert lines[:2] + lines[3:] == [
        f"default ({make_app.sqlite('main')})",
        f"  current: {first}",
        f"reports ({make_app.sqlite('reports')})",
        "  current: <base>",
        "  no revisions",
    ]

    result = runner.invoke(args=["db", "migrate", "-m", "reports tables"])
    assert result.exit_code == 0, result.output
    [new] = revision_files(make_app.migrations / "reports")
    rev_id = new.removesuffix("_reports_tables.py")
    assert result.stdout.splitlines() == [
        "default: no changes",
        f"reports: wrote {rev_id} reports tables at {make_app.migrations / 'reports' / new}",
        "    detected: create table report (id INTEGER NOT NULL, title VARCHAR(50) NULL)",
    ]
    after = snapshot(make_app.migrations)
    assert {k: v for k, v in after.items() if k in before} == before
    assert set(after) - set(before) == {f"reports/{new}"}

    result = runner.invoke(args=["db", "heads"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"default: <base> -> {first} (head), create user",
        f"reports: <base> -> {rev_id} (head), reports tables",
    ]

    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 4, lines
    assert lines[0] == f"[reports] upgrade <base> → {rev_id}  reports tables ..."
    lines.pop(0)
    assert lines[0].startswith(f"[reports] upgrade <base> → {rev_id}  reports tables (")
    assert lines[1:] == [
        f"default: nothing to do, at {first}",
        f"reports: 1 revision upgraded, now at {rev_id}",
    ]
    assert "[default]" not in result.stdout

    result = runner.invoke(args=["db", "current"])
    assert result.stdout.splitlines() == [
        f"default: {first} (head)",
        f"reports: {rev_id} (head)",
    ]
    result = runner.invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["default: ok", "reports: ok"]
    assert snapshot(make_app.migrations) == after
    assert tables(make_app.sqlite("reports")) == {"report", "alembic_version_reports"}
    assert versions(make_app.sqlite("reports"), "alembic_version_reports") == [rev_id]
    assert versions(make_app.sqlite("main"), "alembic_version") == [first]


def test_chains_grow_independently(make_app: AppMaker) -> None:
    first = default_only(make_app)
    app = with_reports(make_app)
    ext = make_app.schemaver
    with app.app_context():
        [_, reports] = ext.migrate("reports tables")
        ext.upgrade()
    report_rev = reports.revisions[0].id

    # A later model change on the default database only touches the default chain.
    app = make_app(
        binds={"reports": make_app.sqlite("reports")},
        tables={None: {"user": ["name", "email"]}, "reports": {"report": ["title"]}},
    )
    ext = make_app.schemaver
    before = snapshot(make_app.migrations)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["db", "migrate", "-m", "user email"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1:] == [
        "    detected: add column user.email VARCHAR(50) NULL",
        "reports: no changes",
    ]
    with app.app_context():
        [default_head] = ext.heads("default")["default"]
        assert default_head.down_revisions == (first,)
        assert [r.id for r in ext.heads("reports")["reports"]] == [report_rev]
        status = {
            s.bind: [(i.revision.id, i.applied) for i in s.revisions]
            for s in ext.status()
        }
    assert status == {
        "default": [(first, True), (default_head.id, False)],
        "reports": [(report_rev, True)],
    }
    assert set(snapshot(make_app.migrations)) - set(before) == {
        f"versions/{default_head.id}_user_email.py"
    }

    # Upgrading just one bind leaves the other alone, and the other way round.
    result = runner.invoke(args=["db", "upgrade", "--bind", "reports"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"reports: nothing to do, at {report_rev}"]
    with app.app_context():
        assert ext.current() == {"default": (first,), "reports": (report_rev,)}
        [run] = ext.upgrade(bind="default")
    assert run.bind == "default"
    assert [s.revision for s in run.steps] == [default_head.id]

    # Taking the reports chain back to base never touches the default database.
    result = runner.invoke(args=["db", "downgrade", "--bind", "reports", "base"])
    assert result.exit_code == 0, result.output
    assert (
        result.stdout.splitlines()[-1]
        == "reports: 1 revision downgraded, now at <base>"
    )
    assert tables(make_app.sqlite("reports")) == {"alembic_version_reports"}
    assert versions(make_app.sqlite("reports"), "alembic_version_reports") == []
    assert versions(make_app.sqlite("main"), "alembic_version") == [default_head.id]
    assert tables(make_app.sqlite("main")) == {"user", "alembic_version"}


def test_new_bind_needs_no_init(make_app: AppMaker) -> None:
    default_only(make_app)
    app = with_reports(make_app)
    assert not (make_app.migrations / "reports").exists()
    result = app.test_cli_runner().invoke(args=["db", "init"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"default: exists {make_app.migrations / 'versions'}",
        f"reports: created {make_app.migrations / 'reports'}",
    ]
    assert (make_app.migrations / "reports").is_dir()
    with app.app_context():
        assert make_app.schemaver.init() == {"default": False, "reports": False}


def test_empty_revision_for_new_bind(make_app: AppMaker) -> None:
    first = default_only(make_app)
    app = with_reports(make_app)
    with app.app_context():
        [written] = make_app.schemaver.revision("start", "reports")
    [rev] = written.revisions
    assert written.bind == "reports"
    assert rev.down_revisions == ()
    assert Path(rev.path).parent == make_app.migrations / "reports"
    result = app.test_cli_runner().invoke(
        args=["db", "revision", "--bind", "reports", "-m", "second"]
    )
    assert result.exit_code == 0, result.output
    [line] = result.stdout.splitlines()
    assert line.startswith("reports: wrote ") and " second at " in line
    assert str(make_app.migrations / "reports") in line
    assert revision_files(make_app.migrations / "versions") == [
        f"{first}_create_user.py"
    ]


# -- a bind whose name is not a Python identifier ---------------------------------------


def log_db_app(make_app: AppMaker) -> Flask:
    return make_app(
        binds={"log-db": make_app.sqlite("log")},
        tables={None: {"user": ["name"]}, "log-db": {"entry": ["text"]}},
    )


def test_dashed_bind_api_end_to_end(make_app: AppMaker) -> None:
    app = log_db_app(make_app)
    ext = make_app.schemaver
    log = make_app.sqlite("log")
    with app.app_context():
        bind = ext.binds["log-db"]
        assert bind.directory == make_app.migrations / "log-db"
        assert bind.version_table == "alembic_version_log_db"
        results = ext.migrate("initial")
        assert [r.bind for r in results] == ["default", "log-db"]
        [log_rev] = results[1].revisions
        assert Path(log_rev.path).parent == make_app.migrations / "log-db"
        assert "op.create_table('entry'" in Path(log_rev.path).read_text()

        [run] = ext.upgrade(bind="log-db")
        assert (run.before, run.after) == ((), (log_rev.id,))
        assert ext.current() == {"default": (), "log-db": (log_rev.id,)}
        assert tables(log) == {"entry", "alembic_version_log_db"}
        assert versions(log, "alembic_version_log_db") == [log_rev.id]
        # Autogenerate left the default database as it found it.
        assert tables(make_app.sqlite("main")) == set()

        [state] = ext.status("log-db")
        assert state.bind == "log-db" and state.up_to_date
        [found] = ext.check("log-db")
        assert found.ok, found
        assert [r.id for r in ext.show("head", "log-db")["log-db"]] == [log_rev.id]

        [run] = ext.downgrade("base", "log-db")
        assert (run.before, run.after) == ((log_rev.id,), ())
        assert tables(log) == {"alembic_version_log_db"}
        [run] = ext.stamp("head", bind="log-db")
        assert versions(log, "alembic_version_log_db") == [log_rev.id]
        assert tables(log) == {"alembic_version_log_db"}


def test_dashed_bind_cli_end_to_end(make_app: AppMaker) -> None:
    app = log_db_app(make_app)
    runner = app.test_cli_runner()
    log = make_app.sqlite("log")

    result = runner.invoke(args=["db", "binds", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["bind"]: row for row in json.loads(result.stdout)}
    assert rows["log-db"] == {
        "bind": "log-db",
        "url": log,
        "directory": str(make_app.migrations / "log-db"),
        "version_table": "alembic_version_log_db",
        "version_table_schema": None,
    }
    assert rows["default"]["version_table"] == "alembic_version"

    result = runner.invoke(args=["db", "init", "--bind", "log-db"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"log-db: created {make_app.migrations / 'log-db'}"
    ]

    result = runner.invoke(
        args=["db", "migrate", "--bind", "log-db", "-m", "log entries"]
    )
    assert result.exit_code == 0, result.output
    [name] = revision_files(make_app.migrations / "log-db")
    rev_id = name.removesuffix("_log_entries.py")
    assert result.stdout.splitlines()[0] == (
        f"log-db: wrote {rev_id} log entries at {make_app.migrations / 'log-db' / name}"
    )
    assert result.stdout.splitlines()[1].startswith("    detected: create table ")
    assert not (make_app.migrations / "versions").exists() or not revision_files(
        make_app.migrations / "versions"
    )

    result = runner.invoke(args=["db", "upgrade", "--bind", "log-db"])
    assert result.exit_code == 0, result.output
    assert f"[log-db] upgrade <base> → {rev_id}  log entries (" in result.stdout
    assert (
        result.stdout.splitlines()[-1]
        == f"log-db: 1 revision upgraded, now at {rev_id}"
    )
    assert versions(log, "alembic_version_log_db") == [rev_id]
    assert tables(log) == {"entry", "alembic_version_log_db"}

    result = runner.invoke(args=["db", "current", "--bind", "log-db"])
    assert result.stdout.splitlines() == [f"log-db: {rev_id} (head)"]
    result = runner.invoke(args=["db", "status", "--bind", "log-db"])
    lines = result.stdout.splitlines()
    assert lines[:2] == [f"log-db ({log})", f"  current: {rev_id}"]
    assert re.fullmatch(
        rf"  \[X\] {rev_id} \(head\)  log entries  applied [\d\-T:]+", lines[2]
    )
    result = runner.invoke(args=["db", "check", "--bind", "log-db"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["log-db: ok"]
    result = runner.invoke(args=["db", "history", "--bind", "log-db"])
    assert result.stdout.splitlines() == [
        "log-db:",
        f"  <base> -> {rev_id} (head), log entries",
    ]

    result = runner.invoke(args=["db", "downgrade", "--bind", "log-db", "base"])
    assert result.exit_code == 0, result.output
    assert f"[log-db] downgrade {rev_id} → <base>" in result.stdout
    assert tables(log) == {"alembic_version_log_db"}
    assert versions(log, "alembic_version_log_db") == []

    result = runner.invoke(args=["db", "upgrade", "--bind", "log-db", "--sql"])
    assert result.exit_code == 0, result.output
    assert f"-- flask_schemaver: bind log-db ({log})" in result.stdout
    assert "CREATE TABLE alembic_version_log_db" in result.stdout
    assert "CREATE TABLE entry" in result.stdout
    assert "user" not in result.stdout

    # The snake-case spelling is not the bind's name.
    result = runner.invoke(args=["db", "current", "--bind", "log_db"])
    assert result.exit_code == 2
    assert (
        "unknown bind 'log_db'; the app's binds are: default, log-db" in result.stderr
    )


def test_dashed_bind_and_underscore_bind_in_one_database(make_app: AppMaker) -> None:
    # 'log-db' and 'log_db' map to the same version table; sharing one database is refused.
    shared = make_app.sqlite("shared")
    app = make_app(
        binds={"log-db": shared, "log_db": shared},
        tables={None: {"user": []}, "log-db": {"a": []}, "log_db": {"b": []}},
    )
    result = app.test_cli_runner().invoke(args=["db", "current"])
    assert result.exit_code == 1
    assert (
        "Error: binds 'log-db' and 'log_db' would share the version table "
        "'alembic_version_log_db' in one database" in result.stderr
    )


# -- binds only, no default database ----------------------------------------------------


def binds_only_app(make_app: AppMaker) -> Flask:
    return make_app(
        uri=None,
        binds={"users": make_app.sqlite("users"), "orders": make_app.sqlite("orders")},
        tables={"users": {"account": ["email"]}, "orders": {"purchase": ["item"]}},
    )


def test_binds_only_api(make_app: AppMaker) -> None:
    app = binds_only_app(make_app)
    ext = make_app.schemaver
    with app.app_context():
        assert list(ext.binds) == ["users", "orders"]
        assert {b.name: (b.directory, b.version_table) for b in ext.binds.values()} == {
            "users": (make_app.migrations / "users", "alembic_version_users"),
            "orders": (make_app.migrations / "orders", "alembic_version_orders"),
        }
        results = ext.migrate("initial")
        assert [r.bind for r in results] == ["users", "orders"]
        ids = {r.bind: r.revisions[0].id for r in results}
        assert ids["users"] != ids["orders"]
        runs = ext.upgrade()
        assert {r.bind: r.after for r in runs} == {
            "users": (ids["users"],),
            "orders": (ids["orders"],),
        }
        assert all(c.ok for c in ext.check())
        # Two binds: a downgrade must say which.
        [run] = ext.downgrade("base", "orders")
        assert run.after == ()
    assert not (make_app.migrations / "versions").exists()
    assert tables(make_app.sqlite("users")) == {"account", "alembic_version_users"}
    assert tables(make_app.sqlite("orders")) == {"alembic_version_orders"}
    assert versions(make_app.sqlite("users"), "alembic_version_users") == [ids["users"]]
    assert not (make_app.tmp_path / "main.db").exists()


def test_binds_only_cli(make_app: AppMaker) -> None:
    app = binds_only_app(make_app)
    runner = app.test_cli_runner()

    result = runner.invoke(args=["db", "binds"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"users: {make_app.sqlite('users')}  {make_app.migrations / 'users'}  "
        "alembic_version_users",
        f"orders: {make_app.sqlite('orders')}  {make_app.migrations / 'orders'}  "
        "alembic_version_orders",
    ]
    result = runner.invoke(args=["db", "init"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"users: created {make_app.migrations / 'users'}",
        f"orders: created {make_app.migrations / 'orders'}",
    ]
    result = runner.invoke(args=["db", "migrate", "-m", "initial"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if " wrote " in line]
    assert [line.split(" wrote ")[0] for line in lines] == ["users:", "orders:"]
    users_id = lines[0].split()[2]
    orders_id = lines[1].split()[2]

    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-2:] == [
        f"users: 1 revision upgraded, now at {users_id}",
        f"orders: 1 revision upgraded, now at {orders_id}",
    ]
    result = runner.invoke(args=["db", "current"])
    assert result.stdout.splitlines() == [
        f"users: {users_id} (head)",
        f"orders: {orders_id} (head)",
    ]

    result = runner.invoke(args=["db", "downgrade", "base"])
    assert result.exit_code == 2
    assert (
        "downgrade changes a database's version: name the binds with --bind "
        "(users, orders) or pass --all-binds" in result.stderr
    )
    assert "default" not in result.stderr

    result = runner.invoke(args=["db", "downgrade", "--all-binds", "base"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-2:] == [
        "users: 1 revision downgraded, now at <base>",
        "orders: 1 revision downgraded, now at <base>",
    ]
    assert tables(make_app.sqlite("users")) == {"alembic_version_users"}
    assert tables(make_app.sqlite("orders")) == {"alembic_version_orders"}
    result = runner.invoke(args=["db", "current", "--bind", "default"])
    assert result.exit_code == 2
    assert "unknown bind 'default'; the app's binds are: users, orders" in result.stderr
