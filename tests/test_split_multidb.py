"""``flask db split-multidb``: the plan (dry run), the rewritten folders, stamping
each database under its lock, and the refusals. The full round trip on the three
kinds of database is in test_split_multidb_databases.py."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from flask_schemaver import MigrationError
from flask_schemaver import ProtectedBind
from flask_schemaver import SchemaVer
from flask_schemaver import UsageError
from flask_schemaver.runtime import locking
from flask_schemaver.script.files import load_facts
from flask_schemaver.testing import MigrationRunner
from flask_schemaver.testing.checks import CheckFailed
from flask_schemaver.testing.checks import CONVERTED_CHECKS
from helpers import AppMaker
from helpers import cli
from helpers import invoke
from helpers import revision_files
from helpers import snapshot
from helpers import versions
from multidb_project import AFTER_MERGE
from multidb_project import BEFORE_AUDIT
from multidb_project import CHAIN
from multidb_project import ENGINES
from multidb_project import old_upgrade
from multidb_project import ON_BRANCH
from multidb_project import Rev
from multidb_project import write_project

pytest_plugins = ["pytester"]

BINDS = ("analytics", "audit")
#: The analytics chain the plan gives, as (original id, parents' original ids).
ANALYTICS = [
    ("b2d0cafe0004", ()),
    ("b2d0cafe0005", ("b2d0cafe0004",)),
    ("d4f0d00d010a", ("b2d0cafe0005",)),
    ("d4f0d00d010b", ("b2d0cafe0005",)),
    ("d4f0d00d011a", ("d4f0d00d010a",)),
    ("e5a0f00d0012", ("d4f0d00d011a", "d4f0d00d010b")),
    ("e5a0f00d0013", ("e5a0f00d0012",)),
    ("e5a0f00d0015", ("e5a0f00d0013",)),
    ("f6b0aced0018", ("e5a0f00d0015",)),
]
#: audit has work in three revisions; the branch and the merge vanish.
AUDIT = [
    ("c3e0beef0007", ()),
    ("d4f0d00d010b", ("c3e0beef0007",)),
    ("f6b0aced0017", ("d4f0d00d010b",)),
]


@pytest.fixture
def project(make_app: AppMaker) -> Flask:
    """The multidb project (its env.py too) and an app on three SQLite databases."""
    write_project(make_app.migrations)
    return make_app(binds={name: make_app.sqlite(name) for name in BINDS}, tables={})


def urls(make_app: AppMaker) -> dict[str, str]:
    """Flask-Migrate's engine names and the app's databases."""
    return {e: make_app.sqlite(e or "main") for e in ENGINES}


def chain_of(schemaver: SchemaVer, bind: str) -> list[tuple[str, tuple[str, ...]]]:
    """A bind's new chain as (original id, parents' original ids), oldest first."""
    [split] = [b for b in schemaver.split_multidb().binds if b.bind == bind]
    original = {r.id: r.original for r in split.revisions}
    return [
        (r.original, tuple(original[p] for p in r.down_revisions))
        for r in split.revisions
    ]


def test_dry_run_plans_and_changes_nothing(project: Flask, make_app: AppMaker) -> None:
    before = snapshot(make_app.migrations)
    schemaver = make_app.schemaver
    with project.app_context():
        found = schemaver.split_multidb()
        assert not found.written and not found.converted
        default, analytics, audit = found.binds
        assert sorted(r.id for r in default.revisions) == sorted(r.id for r in CHAIN)
        assert all(r.id == r.original for r in default.revisions)
        assert chain_of(schemaver, "analytics") == ANALYTICS
        assert chain_of(schemaver, "audit") == AUDIT
        # The merge joins two analytics branches: kept, empty.
        merge = analytics.revisions[5]
        assert merge.original == "e5a0f00d0012" and not merge.works
        assert (default.engine, analytics.engine, audit.engine) == ("", *BINDS)
        assert "kept as empty merges" in " ".join(analytics.decisions)
        assert any("no upgrade_audit()" in d for d in audit.decisions)
        again = schemaver.split_multidb()
    # The same folder gives the same ids; none is used twice in the app.
    assert again == found
    ids = [r.id for b in found.binds for r in b.revisions]
    assert len(ids) == len(set(ids))
    output = cli(project, "split-multidb")
    assert output.splitlines()[-1] == (
        "dry run: nothing changed; run 'flask db split-multidb --write' to convert "
        "the folder"
    )
    assert "  <base> -> " in output
    assert "(from b2d0cafe0004)" in output
    assert "[nothing for this bind]" in output
    assert snapshot(make_app.migrations) == before
    data = json.loads(invoke(project, "split-multidb", "--json").stdout)
    assert [b["bind"] for b in data["binds"]] == ["default", *BINDS]
    assert data["binds"][1]["revisions"][0]["original"] == "b2d0cafe0004"


def test_write_rewrites_and_keeps_a_backup(project: Flask, make_app: AppMaker) -> None:
    versions_folder = make_app.migrations / "versions"
    original = snapshot(versions_folder)
    output = cli(project, "split-multidb", "--write")
    assert "default: wrote 21 revision(s)" in output
    assert "analytics: wrote 9 revision(s)" in output
    assert "audit: wrote 3 revision(s)" in output
    backup = make_app.migrations / "versions.multidb-backup"
    assert f"kept the multidb revisions in {backup}" in output
    kept = snapshot(backup)
    assert kept.pop("split-multidb.json")
    assert kept == original
    assert json.loads((backup / "split-multidb.json").read_text()) == {"engines": {}}
    # Every new file is plain: read as text, with literal identifiers.
    for folder, count in (("versions", 21), ("analytics", 9), ("audit", 3)):
        facts = load_facts(make_app.migrations / folder)
        assert len(facts) == count
        for path, _ in facts:
            text = Path(path).read_text()
            assert "engine_name" not in text and "globals()" not in text, path
            tree = ast.parse(text)
            names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
            assert {"upgrade", "downgrade"} <= names
            assert not any(n.startswith(("upgrade_", "downgrade_")) for n in names)
    # Plain revisions stay as they were, byte for byte.
    plain = "a1c0ffee0001_create_users.py"
    assert (versions_folder / plain).read_bytes() == (backup / plain).read_bytes()
    # Labels and ids stay on the default chain; each other file names its origin.
    with project.app_context():
        [label] = make_app.schemaver.show("sessions@head", "default")["default"]
    assert label.id == "f6b0aced0020"
    referrer = next((make_app.migrations / "analytics").glob("*_pageview_referrer.py"))
    text = referrer.read_text()
    assert "Split from: b2d0cafe0005 (Flask-Migrate --multidb revision" in text
    assert "for bind analytics" in text
    # Module-level helpers and constants stay with the code that uses them.
    assert 'PAGEVIEWS = "pageviews"' in text
    first = next((make_app.migrations / "analytics").glob("*_posts_and_pageviews.py"))
    assert "def _stamps():" in first.read_text()
    assert 'op.create_table(\n        "posts"' not in first.read_text()
    # Once written, --write refuses; the dry run says where to go on.
    assert "the folder is converted already" in cli(
        project, "split-multidb", "--write", code=2
    )
    assert "'flask db split-multidb --stamp' where the databases are" in cli(
        project, "split-multidb"
    )
    assert "Flask-Migrate --multidb" not in cli(project, "history")


def test_stamp_maps_each_database_and_upgrades(
    project: Flask, make_app: AppMaker
) -> None:
    old_upgrade(make_app.migrations, urls(make_app), ON_BRANCH)
    cli(project, "split-multidb", "--write")
    with project.app_context():
        [status] = make_app.schemaver.status("analytics")
        assert status.flask_migrate == (ON_BRANCH,) and status.current == ()
        plan = {b.bind: b for b in make_app.schemaver.split_multidb().binds}
    output = cli(project, "status")
    assert (
        f"Flask-Migrate: its alembic_version in this database is at {ON_BRANCH}, "
        "from a --multidb chain; record where that is in this bind's chain with "
        "'flask db split-multidb --stamp'"
    ) in output
    assert "run 'flask db split-multidb --stamp' first" in cli(
        project, "check", "--only", "pending", code=1
    )
    new_id = {b: {r.original: r.id for r in plan[b].revisions} for b in BINDS}
    output = cli(project, "split-multidb", "--stamp")
    sessions = new_id["analytics"]["d4f0d00d010a"]
    audit_log = new_id["audit"]["c3e0beef0007"]
    assert f"default: kept at {ON_BRANCH} (its version table is Flask-Migrate's)" in (
        output
    )
    assert (
        f"analytics: stamped, at {sessions} (Flask-Migrate's alembic_version: "
        f"{ON_BRANCH}, removed)"
    ) in output
    assert f"audit: stamped, at {audit_log}" in output
    files = {name: make_app.tmp_path / f"{name}.db" for name in ("main", *BINDS)}
    assert versions(files["analytics"], "alembic_version_analytics") == [sessions]
    assert versions(files["audit"], "alembic_version_audit") == [audit_log]
    assert versions(files["main"]) == [ON_BRANCH]
    for name in BINDS:
        engine = sa.create_engine(f"sqlite:///{files[name]}")
        assert "alembic_version" not in sa.inspect(engine).get_table_names()
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    f"SELECT revision, direction, checksum FROM alembic_version_{name}_history"
                )
            ).all()
        engine.dispose()
        [(revision, direction, checksum)] = rows
        assert direction == "stamp" and checksum is not None
    # Again: nothing moves.
    output = cli(project, "split-multidb", "--stamp")
    assert f"analytics: already stamped, at {sessions}" in output
    assert f"default: kept at {ON_BRANCH}" in output
    assert "upgraded" in cli(project, "upgrade")
    assert (
        cli(project, "check", "--only", "heads", "--only", "pending").count("ok") == 3
    )


def test_the_api_writes_stamps_and_verifies(project: Flask, make_app: AppMaker) -> None:
    old_upgrade(make_app.migrations, urls(make_app), AFTER_MERGE)
    schemaver = make_app.schemaver
    with project.app_context():
        found = schemaver.split_multidb(write=True, stamp=True, verify=True)
        assert found.written and found.stamped and found.verified and found.converted
        assert found.folder == str(make_app.migrations / "versions.multidb-backup")
        default, analytics, audit = found.binds
        assert [b.tables for b in found.binds] == [5, 4, 2]
        assert default.stamp is not None and default.stamp.note == "kept"
        assert default.stamp.after == (AFTER_MERGE,) and not default.stamp.removed
        new = {r.original: r.id for r in analytics.revisions}
        assert analytics.stamp is not None
        assert analytics.stamp.flask_migrate == (AFTER_MERGE,)
        assert analytics.stamp.after == (new[AFTER_MERGE],)
        assert analytics.stamp.removed and analytics.stamp.note == "stamped"
        # audit's nearest kept revision at or below e5a0f00d0013 is d4f0d00d010b's.
        new_audit = {r.original: r.id for r in audit.revisions}
        assert audit.stamp is not None
        assert audit.stamp.after == (new_audit["d4f0d00d010b"],)
        assert schemaver.current() == {
            "default": (AFTER_MERGE,),
            "analytics": (new[AFTER_MERGE],),
            "audit": (new_audit["d4f0d00d010b"],),
        }
        with pytest.raises(UsageError, match="converted already"):
            schemaver.split_multidb(write=True)
        again = schemaver.split_multidb(stamp=True)
        assert [b.stamp.note for b in again.binds if b.stamp] == [
            "kept",
            "already stamped",
            "already stamped",
        ]
        schemaver.upgrade()
        assert schemaver.is_current()


def test_upgrade_before_stamp_is_refused_per_bind(
    project: Flask, make_app: AppMaker
) -> None:
    """The deploy order matters: a bind whose database still holds only
    Flask-Migrate's record is refused, not run from its start."""
    old_upgrade(make_app.migrations, urls(make_app), AFTER_MERGE)
    cli(project, "split-multidb", "--write")
    output = cli(project, "upgrade", code=1)
    assert (
        f"Error: [analytics] the database holds Flask-Migrate's alembic_version at "
        f"{AFTER_MERGE}, from a --multidb chain, and nothing in the bind's own version "
        "table: upgrade from the start would run revisions it already has; record its "
        "place in the bind's chain first with 'flask db split-multidb --stamp'"
    ) in output
    assert "analytics: failed" in output and "audit: failed" in output
    assert "Traceback" not in output
    # The default bind, whose version table is Flask-Migrate's, went on; --stamp
    # still places the others (an ancestor of where default is now).
    cli(project, "split-multidb", "--stamp")
    cli(project, "upgrade")


@pytest.mark.parametrize(
    "rows, message",
    [
        (
            ["d4f0d00d011a", "d4f0d00d010b"],
            "[analytics] Flask-Migrate's alembic_version holds several revisions "
            "(d4f0d00d011a, d4f0d00d010b); a database at several heads can't be placed",
        ),
        (
            ["0123456789ab"],
            "[analytics] Flask-Migrate's alembic_version holds 0123456789ab, which no "
            "revision file in",
        ),
    ],
    ids=["several heads", "not in the chain"],
)
def test_stamp_refuses_what_it_cannot_place(
    project: Flask, make_app: AppMaker, rows: list[str], message: str
) -> None:
    old_upgrade(make_app.migrations, urls(make_app), ON_BRANCH)
    cli(project, "split-multidb", "--write")
    engine = sa.create_engine(make_app.sqlite("analytics"))
    with engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM alembic_version"))
        for row in rows:
            connection.execute(
                sa.text("INSERT INTO alembic_version VALUES (:v)"), {"v": row}
            )
    engine.dispose()
    output = cli(project, "split-multidb", "--stamp", code=1)
    assert f"Error: {message}" in output
    # Nothing was stamped, anywhere.
    for name in BINDS:
        engine = sa.create_engine(make_app.sqlite(name))
        assert f"alembic_version_{name}" not in sa.inspect(engine).get_table_names()
        engine.dispose()


def test_stamp_refuses_databases_out_of_step(
    project: Flask, make_app: AppMaker
) -> None:
    where = urls(make_app)
    old_upgrade(make_app.migrations, {"": where[""]}, "d4f0d00d010a")
    old_upgrade(make_app.migrations, {"analytics": where["analytics"]}, "d4f0d00d010b")
    cli(project, "split-multidb", "--write")
    output = cli(project, "split-multidb", "--stamp", code=1)
    assert (
        "Error: the databases are out of step: bind 'default' is at d4f0d00d010a and "
        "bind 'analytics' at d4f0d00d010b, on different branches of"
    ) in output


def test_stamp_accepts_a_database_behind_the_others(
    project: Flask, make_app: AppMaker
) -> None:
    where = urls(make_app)
    old_upgrade(make_app.migrations, {"": where[""]}, AFTER_MERGE)
    old_upgrade(make_app.migrations, {"analytics": where["analytics"]}, BEFORE_AUDIT)
    cli(project, "split-multidb", "--write")
    output = cli(project, "split-multidb", "--stamp")
    assert "audit: none of its revisions applied, at <base>" in output
    assert "upgraded" in cli(project, "upgrade")


def test_stamp_needs_the_converted_folder(project: Flask, make_app: AppMaker) -> None:
    old_upgrade(make_app.migrations, urls(make_app), ON_BRANCH)
    output = cli(project, "split-multidb", "--stamp", code=2)
    assert "--stamp records places in the converted chains" in output
    # Both at once: written, then stamped.
    output = cli(project, "split-multidb", "--write", "--stamp")
    assert "analytics: wrote 9 revision(s)" in output
    assert "analytics: stamped" in output


def test_stamp_of_protected_binds_needs_confirmation(make_app: AppMaker) -> None:
    write_project(make_app.migrations)
    app = make_app(
        binds={name: make_app.sqlite(name) for name in BINDS},
        tables={},
        SCHEMAVER_BINDS={"audit": {"protected": True}},
    )
    old_upgrade(make_app.migrations, urls(make_app), ON_BRANCH)
    cli(app, "split-multidb", "--write")
    assert "audit is protected: split-multidb --stamp needs confirmation" in cli(
        app, "split-multidb", "--stamp", code=2
    )
    with app.app_context(), pytest.raises(ProtectedBind):
        make_app.schemaver.split_multidb(stamp=True)
    assert "audit: stamped" in cli(app, "split-multidb", "--stamp", "--yes")


@pytest.mark.slow
def test_stamp_waits_for_the_bind_lock(make_app: AppMaker) -> None:
    write_project(make_app.migrations)
    app = make_app(
        binds={name: make_app.sqlite(name) for name in BINDS},
        tables={},
        SCHEMAVER_LOCK_TIMEOUT=0.5,
    )
    old_upgrade(make_app.migrations, urls(make_app), ON_BRANCH)
    cli(app, "split-multidb", "--write")
    with app.app_context():
        bind = make_app.schemaver.binds["analytics"]
    engine = sa.create_engine(bind.engine.url)
    try:
        with engine.connect() as connection, locking.hold(bind, connection, timeout=5):
            output = cli(app, "split-multidb", "--stamp", code=1)
    finally:
        engine.dispose()
    assert (
        "Error: [analytics] gave up after waiting 0.5s for the migration lock" in output
    )
    assert "audit" not in output.split("Error:")[0]  # stopped at the first failure
    # Run again once the lock is free: it goes on where it stopped.
    output = cli(app, "split-multidb", "--stamp")
    assert "default: kept at" in output and "analytics: stamped" in output


def test_engine_names_of_alembics_template(make_app: AppMaker) -> None:
    """Alembic's own multidb template names engines in alembic.ini; --engine says
    which bind each is, and is recorded for --stamp on other deployments."""
    chain = [
        Rev(
            rev.id,
            rev.down,
            rev.message,
            rev.parts
            if rev.shape == "plain"
            else {
                {"": "engine1", "analytics": "engine2"}.get(e, e): p
                for e, p in rev.parts.items()
                if e != "audit"
            },
            shape="eval" if rev.shape != "plain" else "plain",
        )
        for rev in CHAIN[:9]
    ]
    write_project(make_app.migrations, chain, env=False)
    app = make_app(binds={"analytics": make_app.sqlite("analytics")}, tables={})
    output = cli(app, "split-multidb", code=2)
    assert (
        "Error: the revisions have functions for the engine(s) 'engine1', 'engine2', "
        "which name no bind of the app (default, analytics): upgrade_engine1() is in "
        "b2d0cafe0004_posts_and_pageviews.py"
    ) in output
    assert "--engine engine1=BIND, or leave them out with --engine engine1=" in output
    assert "--engine x=nowhere: the app has no bind 'nowhere'" in cli(
        app, "split-multidb", "--engine", "x=nowhere", code=2
    )
    mapping = ("--engine", "engine1=default", "--engine", "engine2=analytics")
    output = cli(app, "split-multidb", *mapping)
    assert "analytics: 2 revisions in" in output
    cli(app, "split-multidb", "--write", *mapping)
    assert json.loads(
        (
            make_app.migrations / "versions.multidb-backup" / "split-multidb.json"
        ).read_text()
    ) == {"engines": {"engine1": "default", "engine2": "analytics"}}
    # Later commands need no --engine; a different one is refused.
    assert "--stamp" in cli(app, "split-multidb")
    assert "the folder was converted with --engine engine1=default --engine " in cli(
        app, "split-multidb", "--engine", "engine1=", code=2
    )


def test_existing_revisions_in_a_bind_folder_are_refused(
    project: Flask, make_app: AppMaker
) -> None:
    folder = make_app.migrations / "analytics"
    folder.mkdir()
    (folder / "x1_mine.py").write_text('revision = "x1"\ndown_revision = None\n')
    output = cli(project, "split-multidb", "--write", code=1)
    assert "analytics holds revision files already (x1_mine.py)" in output
    assert revision_files(make_app.migrations / "versions") == sorted(
        p.name for p in (make_app.migrations / "versions").glob("*.py")
    )
    assert not (make_app.migrations / "versions.multidb-backup").exists()


def test_verify_compares_each_bind(project: Flask, make_app: AppMaker) -> None:
    before = snapshot(make_app.migrations)
    output = cli(project, "split-multidb", "--verify")
    assert "default: same schema under both layouts (5 tables)" in output
    assert "analytics: same schema under both layouts (4 tables)" in output
    assert "audit: same schema under both layouts (2 tables)" in output
    assert snapshot(make_app.migrations) == before  # verified from a scratch folder
    cli(project, "split-multidb", "--write", "--verify")
    referrer = next((make_app.migrations / "analytics").glob("*_pageview_referrer.py"))
    referrer.write_text(referrer.read_text().replace("String(200)", "String(250)"))
    output = cli(project, "split-multidb", "--verify", code=1)
    assert (
        "Error: [analytics] the new chain in "
        f"{make_app.migrations / 'analytics'} builds another schema than "
        "Flask-Migrate's multidb chain in "
        f"{make_app.migrations / 'versions.multidb-backup'}: column referrer of table "
        "pageviews is VARCHAR(250) NULL in the new chain's schema, VARCHAR(200) NULL "
        "in Flask-Migrate's"
    ) in output
    with project.app_context(), pytest.raises(MigrationError, match="referrer"):
        make_app.schemaver.split_multidb(verify=True)


def test_write_is_not_done_when_verify_fails(
    project: Flask, make_app: AppMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flask_schemaver.testing import multidb

    def differs(*args: object, **kwargs: object) -> int:
        raise MigrationError("column x of table y differs", "audit")

    monkeypatch.setattr(multidb, "compare_bind", differs)
    before = snapshot(make_app.migrations)
    assert "Error: [audit] column x of table y differs" in cli(
        project, "split-multidb", "--write", "--verify", code=1
    )
    assert snapshot(make_app.migrations) == before


@pytest.fixture
def app(project: Flask) -> Flask:
    """The project, converted: the app the plugin's runner is made for."""
    cli(project, "split-multidb", "--write")
    return project


def test_plugin_check(
    app: Flask, make_app: AppMaker, schemaver_runner: MigrationRunner
) -> None:
    check = CONVERTED_CHECKS["split-multidb"]
    for bind in ("default", *BINDS):
        check(schemaver_runner, bind, ())
    referrer = next((make_app.migrations / "analytics").glob("*_pageview_referrer.py"))
    referrer.write_text(referrer.read_text().replace('"referrer"', '"referer"'))
    with pytest.raises(CheckFailed) as info:
        check(schemaver_runner, "analytics", ())
    message = str(info.value)
    assert message.startswith("[analytics] the new chain in ")
    assert (
        "column referrer of table pageviews is missing from the new chain's schema"
        in message
    )
    assert (
        "column referer of table pageviews is only in the new chain's schema" in message
    )


PLUGIN_APP = """
import os
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from flask_schemaver import SchemaVer

def create_app():
    here = os.path.dirname(os.path.abspath(__file__))
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(here, "main.db")
    app.config["SQLALCHEMY_BINDS"] = {
        name: "sqlite:///" + os.path.join(here, name + ".db")
        for name in ("analytics", "audit")
    }
    app.config["SCHEMAVER_DIRECTORY"] = os.path.join(here, "migrations")
    SchemaVer(app, SQLAlchemy(app))
    return app
"""

PLUGIN_CONFTEST = """
import pytest
from project_app import create_app

@pytest.fixture
def app():
    return create_app()
"""


@pytest.mark.slow
def test_plugin_collects_the_check_for_a_converted_project(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(project_app=PLUGIN_APP)
    pytester.makeconftest(PLUGIN_CONFTEST)
    pytester.makeini(
        "[pytest]\nschemaver_checks = true\nschemaver_app = project_app:create_app\n"
        "pythonpath = .\n"
    )
    write_project(pytester.path / "migrations", env=False)
    sys.path.insert(0, str(pytester.path))
    try:
        import project_app

        app = project_app.create_app()
        cli(app, "split-multidb", "--write")
    finally:
        sys.path.remove(str(pytester.path))
        sys.modules.pop("project_app", None)
    result = pytester.runpytest_inprocess(
        "-v", "-p", "no:cacheprovider", "-k", "split-multidb"
    )
    result.stdout.fnmatch_lines(
        [
            f"*schemaver[[]{bind}-split-multidb[]] PASSED*"
            for bind in ("default", *BINDS)
        ]
    )
    result.assert_outcomes(passed=3)


def test_autogenerate_never_drops_flask_migrates_table(make_app: AppMaker) -> None:
    """A bind whose database holds Flask-Migrate's alembic_version beside its own
    version table: check and migrate leave it alone."""
    from helpers import TWO_BINDS

    app = make_app(binds={"analytics": make_app.sqlite("analytics")}, tables=TWO_BINDS)
    with app.app_context():
        make_app.schemaver.migrate("tables")
        make_app.schemaver.upgrade()
    engine = sa.create_engine(make_app.sqlite("analytics"))
    with engine.begin() as connection:
        connection.execute(
            sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        )
        connection.execute(
            sa.text("INSERT INTO alembic_version VALUES ('b2d0cafe0004')")
        )
    engine.dispose()
    assert cli(app, "check").count("ok") == 2
    assert "analytics: no changes" in cli(app, "migrate")
    assert "Flask-Migrate: its alembic_version in this database is at b2d0cafe0004" in (
        cli(app, "status")
    )


def test_stamp_works_from_what_the_databases_hold_under_the_lock(
    project: Flask, make_app: AppMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process moving a database between the reads and the stamps: the
    default bind is never stamped back, and a moved Flask-Migrate record is refused."""
    from flask_schemaver.verbs import convert_stamp

    old_upgrade(make_app.migrations, urls(make_app), ON_BRANCH)
    cli(project, "split-multidb", "--write")
    refuse = convert_stamp._refuse_out_of_step

    def meanwhile(plan: object, positions: list[object]) -> None:
        refuse(plan, positions)  # type: ignore[arg-type]
        for name, revision in (("main", AFTER_MERGE), ("analytics", "d4f0d00d011a")):
            engine = sa.create_engine(make_app.sqlite(name))
            with engine.begin() as connection:
                connection.execute(
                    sa.text("UPDATE alembic_version SET version_num = :v"),
                    {"v": revision},
                )
            engine.dispose()

    monkeypatch.setattr(convert_stamp, "_refuse_out_of_step", meanwhile)
    output = cli(project, "split-multidb", "--stamp", code=1)
    assert (
        "Error: [analytics] Flask-Migrate's alembic_version changed while the "
        f"databases were read (it was at {ON_BRANCH}); run 'flask db split-multidb "
        "--stamp' again"
    ) in output
    assert versions(make_app.tmp_path / "main.db") == [AFTER_MERGE]
    monkeypatch.undo()
    output = cli(project, "split-multidb", "--stamp")
    assert f"default: kept at {AFTER_MERGE}" in output
