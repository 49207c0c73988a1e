"""The pytest plugin: sample projects run with pytester, sound and broken in the ways
migrations break, on SQLite and PostgreSQL; the plugin's load cost; the runner's
throwaway databases."""

from __future__ import annotations

import contextlib
import importlib
import re
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from flask_schemaver import ConfigError
from flask_schemaver.testing import MigrationRunner
from flask_schemaver.testing import ThrowawayDatabases
from helpers import AppMaker
from helpers import MYSQL_URL
from helpers import POSTGRESQL_URL
from helpers import revision_header
from helpers import write_revision_file

pytest_plugins = ["pytester"]

# Imported here, before pytester's in-process runs: a driver first imported inside a
# run would be dropped from sys.modules after it and imported again later, and its
# errors would no longer be the classes SQLAlchemy catches.
for _driver in ("psycopg", "pymysql"):
    with contextlib.suppress(ImportError):
        importlib.import_module(_driver)

CHECKS = ["single-head", "upgrade", "models-match", "stairway", "clean-downgrade"]
BINDS = ["default", "analytics", "audit"]
ALL_ITEMS = [f"schemaver[{bind}-{check}]" for bind in BINDS for check in CHECKS]

APP = '''
import os

import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_schemaver import SchemaVer

db = SQLAlchemy()
schemaver = SchemaVer()


class User(db.Model):
    __tablename__ = "users"
    id = sa.Column(sa.Integer, primary_key=True)
    first_name = sa.Column(sa.String(50))
    last_name = sa.Column(sa.String(50))
    {drift}


class PageView(db.Model):
    __bind_key__ = "analytics"
    __tablename__ = "page_views"
    id = sa.Column(sa.Integer, primary_key=True)
    path = sa.Column(sa.String(200), nullable=False, index=True)
    referrer = sa.Column(sa.String(200))


class AuditEntry(db.Model):
    """Kept in the default database, with a chain of its own."""

    __bind_key__ = "audit"
    __tablename__ = "audit_entries"
    id = sa.Column(sa.Integer, primary_key=True)
    action = sa.Column(sa.String(50), nullable=False)


def create_app(test_config=None):
    app = Flask(__name__)
    here = os.path.dirname(os.path.abspath(__file__))
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(here, "main.db")
    app.config["SQLALCHEMY_BINDS"] = {{
        "analytics": "sqlite:///" + os.path.join(here, "analytics.db")
    }}
    app.config["SCHEMAVER_DIRECTORY"] = os.path.join(here, "migrations")
    app.config.update(test_config or {{}})
    binds = dict(app.config["SQLALCHEMY_BINDS"])
    binds.setdefault("audit", app.config["SQLALCHEMY_DATABASE_URI"])
    app.config["SQLALCHEMY_BINDS"] = binds
    db.init_app(app)
    schemaver.init_app(app, db)
    return app
'''

REVISIONS: dict[str, tuple[str, str, str | None, str]] = {
    # file: (message, revision, down_revision, body)
    "versions/d100_create_users.py": (
        "create users",
        "d100",
        None,
        """
def upgrade():
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("full_name", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade():
    op.drop_table("users")
""",
    ),
    "versions/d200_split_full_name.py": (
        "split full name",
        "d200",
        "d100",
        """
users = sa.table(
    "users",
    sa.column("id", sa.Integer),
    sa.column("full_name", sa.String),
    sa.column("first_name", sa.String),
    sa.column("last_name", sa.String),
)


def upgrade():
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("first_name", sa.String(length=50), nullable=True))
        batch.add_column(sa.Column("last_name", sa.String(length=50), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(sa.select(users.c.id, users.c.full_name)).all()
    for id_, full_name in rows:
        {split}
        connection.execute(
            users.update().where(users.c.id == id_).values(first_name=first, last_name=last)
        )
    {fail}
    with op.batch_alter_table("users") as batch:
        batch.drop_column("full_name")


def downgrade():
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("full_name", sa.String(length=100), nullable=True))
    connection = op.get_bind()
    query = sa.select(users.c.id, users.c.first_name, users.c.last_name)
    for id_, first, last in connection.execute(query).all():
        full_name = " ".join(part for part in (first, last) if part)
        connection.execute(
            users.update().where(users.c.id == id_).values(full_name=full_name)
        )
    with op.batch_alter_table("users") as batch:
        batch.drop_column("last_name")
        batch.drop_column("first_name")
""",
    ),
    "analytics/a100_create_page_views.py": (
        "create page views",
        "a100",
        None,
        """
def upgrade():
    op.create_table(
        "page_views",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_page_views_path", "page_views", ["path"])


def downgrade():
    op.drop_index("ix_page_views_path", table_name="page_views")
    op.drop_table("page_views")
""",
    ),
    "analytics/a200_add_referrer.py": (
        "add referrer",
        "a200",
        "a100",
        """
def upgrade():
    with op.batch_alter_table("page_views") as batch:
        batch.add_column(sa.Column("referrer", sa.String(length=200), nullable=True))


def downgrade():
    with op.batch_alter_table("page_views") as batch:
        batch.drop_column("referrer")
""",
    ),
    "audit/b100_create_audit_entries.py": (
        "create audit entries",
        "b100",
        None,
        """
def upgrade():
    op.create_table(
        "audit_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=50), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade():
    {drop_audit}
""",
    ),
}

#: A second head for analytics: like a200, it only builds on a100.
SECOND_HEAD = (
    "analytics/a300_tune_page_views.py",
    (
        "tune page views",
        "a300",
        "a100",
        "\ndef upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n",
    ),
)

DATA_TEST = """
def test_split_full_name(schemaver_runner):
    schemaver_runner.insert(
        "users",
        [
            {"id": 1, "full_name": "Ada Lovelace"},
            {"id": 2, "full_name": "Plato"},
            {"id": 3, "full_name": "Anne Marie Smith"},
        ],
        revision="d100",
    )
    assert schemaver_runner.rows("users", revision="d200") == [
        {"id": 1, "first_name": "Ada", "last_name": "Lovelace"},
        {"id": 2, "first_name": "Plato", "last_name": ""},
        {"id": 3, "first_name": "Anne", "last_name": "Marie Smith"},
    ]
    assert schemaver_runner.rows("users", revision="d100")[2] == {
        "id": 3,
        "full_name": "Anne Marie Smith",
    }
    assert schemaver_runner.current("default") == ("d100",)
    assert schemaver_runner.current("audit") == ()
"""

SOUND_SPLIT = 'first, _, last = (full_name or "").partition(" ")'
BROKEN_SPLIT = "first, last = full_name.split(' ')"


def sample(
    pytester: pytest.Pytester,
    urls: dict[str, str],
    *,
    drift: bool = False,
    two_heads: bool = False,
    leaves_table: bool = False,
    failing_upgrade: bool = False,
    broken_data: bool = False,
    ini: str = "schemaver_checks = true",
) -> None:
    """Write the sample project: package ``sample`` with three binds, its revisions,
    a conftest whose ``app`` fixture points at ``urls``, and a data-migration test."""
    package = pytester.mkpydir("sample")
    (package / "__init__.py").write_text(
        APP.format(drift="email = sa.Column(sa.String(120))" if drift else "")
    )
    revisions = dict(REVISIONS)
    if two_heads:
        revisions[SECOND_HEAD[0]] = SECOND_HEAD[1]
    for path, (message, revision, down, body) in revisions.items():
        body = body.format(
            split=BROKEN_SPLIT if broken_data else SOUND_SPLIT,
            fail='op.execute("UPDATE no_such_table SET x = 1")'
            if failing_upgrade
            else "",
            drop_audit="pass" if leaves_table else 'op.drop_table("audit_entries")',
        )
        target = package / "migrations" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(revision_header(revision, down, message=message) + body)
    app_conftest(pytester, urls)
    pytester.makepyfile(test_data=DATA_TEST)
    pytester.makeini(
        f"[pytest]\nschemaver_app = sample\nfilterwarnings = error\n{ini}\n"
    )


def app_conftest(pytester: pytest.Pytester, urls: dict[str, str]) -> None:
    """A conftest whose ``app`` fixture is the sample's, on ``urls``: the default
    database's, and each other bind's ({tmp} is the test's tmp_path)."""
    pytester.makeconftest(
        f"""
        import pytest

        from sample import create_app
        from sample import db


        @pytest.fixture
        def app(tmp_path):
            urls = {{
                name: url.format(tmp=tmp_path) for name, url in {urls!r}.items()
            }}
            app = create_app(
                {{
                    "TESTING": True,
                    "SQLALCHEMY_DATABASE_URI": urls.pop("default"),
                    "SQLALCHEMY_BINDS": urls,
                }}
            )
            yield app
            with app.app_context():
                for engine in db.engines.values():
                    engine.dispose()
        """
    )


def sqlite_urls() -> dict[str, str]:
    return {
        "default": "sqlite:///{tmp}/main.db",
        "analytics": "sqlite:///{tmp}/analytics.db",
    }


def server_urls(base: str) -> dict[str, str]:
    """URLs on a server; the databases named need not exist: the runner makes its own."""
    url = sa.make_url(base)
    return {
        name: url.set(database=f"sample_{name}").render_as_string(hide_password=False)
        for name in ("default", "analytics")
    }


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]
)
def urls(request: pytest.FixtureRequest) -> dict[str, str]:
    """The sample's databases: SQLite files, or databases on the PostgreSQL server."""
    if request.param == "sqlite":
        return sqlite_urls()
    request.getfixturevalue("postgresql_server")
    return server_urls(POSTGRESQL_URL)


def outcomes(result: pytest.RunResult) -> dict[str, str]:
    """Each check item's outcome, from a verbose run."""
    found = {}
    for line in result.outlines:
        match = re.match(
            r"conftest\.py::(schemaver\[\S+\]) (PASSED|FAILED|SKIPPED|ERROR)", line
        )
        if match:
            found[match[1]] = match[2]
    return found


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_inprocess("-v", "-p", "no:cacheprovider", *args)


def failure_text(result: pytest.RunResult, item: str) -> str:
    """The failure section of ``item`` in the report."""
    text = result.stdout.str()
    start = text.index(f"_ {item} _")
    end = text.find("\n___", start + 1)
    short = text.find("= short test summary", start)
    ends = [e for e in (end, short) if e != -1]
    return text[start : min(ends)]


# -- sample projects ----------------------------------------------------------------------


@pytest.mark.slow
def test_sound_project_passes_every_check(
    pytester: pytest.Pytester, urls: dict[str, str]
) -> None:
    sample(pytester, urls)
    result = run(pytester)
    assert outcomes(result) == dict.fromkeys(ALL_ITEMS, "PASSED")
    result.assert_outcomes(passed=len(ALL_ITEMS) + 1)


@pytest.mark.slow
def test_model_drift(pytester: pytest.Pytester, urls: dict[str, str]) -> None:
    sample(pytester, urls, drift=True)
    result = run(pytester, "-k", "models-match")
    assert outcomes(result) == {
        "schemaver[default-models-match]": "FAILED",
        "schemaver[analytics-models-match]": "PASSED",
        "schemaver[audit-models-match]": "PASSED",
    }
    text = failure_text(result, "schemaver[default-models-match]")
    assert (
        "[default] the models differ from what the migrations build (at d200)" in text
    )
    assert (
        "add_column('users', sa.Column('email', sa.String(length=120), nullable=True))"
        in text
        or (
            "add_column(sa.Column('email', sa.String(length=120), nullable=True))"
            in text
        )
    )
    assert "flask db migrate --bind default" in text
    assert "Traceback" not in text and "testing_checks.py" not in text


@pytest.mark.slow
def test_two_heads(pytester: pytest.Pytester, urls: dict[str, str]) -> None:
    sample(pytester, urls, two_heads=True)
    result = run(pytester, "-k", "analytics")
    found = outcomes(result)
    assert found.pop("schemaver[analytics-single-head]") == "FAILED"
    # Both branches still go up, down and up again.
    assert set(found.values()) == {"PASSED"} and len(found) == 4
    text = failure_text(result, "schemaver[analytics-single-head]")
    assert "[analytics] 2 heads:" in text
    assert "a200 ('add referrer')" in text and "a300 ('tune page views')" in text
    assert "flask db merge --bind analytics" in text


@pytest.mark.slow
def test_downgrade_leaves_a_table(
    pytester: pytest.Pytester, urls: dict[str, str]
) -> None:
    sample(pytester, urls, leaves_table=True)
    result = run(pytester, "-k", "audit or default-clean")
    found = outcomes(result)
    assert found == {
        "schemaver[default-clean-downgrade]": "PASSED",
        "schemaver[audit-single-head]": "PASSED",
        "schemaver[audit-upgrade]": "PASSED",
        "schemaver[audit-models-match]": "PASSED",
        "schemaver[audit-stairway]": "FAILED",
        "schemaver[audit-clean-downgrade]": "FAILED",
    }
    text = failure_text(result, "schemaver[audit-clean-downgrade]")
    assert (
        "[audit] the downgrade of revision b100 ('create audit entries') does not undo "
        "its upgrade:\n"
    ) in text
    assert "    table audit_entries is left behind\n" in text
    text = failure_text(result, "schemaver[audit-stairway]")
    assert (
        "[audit] at revision b100 ('create audit entries'), upgrading again: upgrade "
        "of revision b100 ('create audit entries') failed:"
    ) in text
    assert "audit_entries" in text and "already exists" in text


@pytest.mark.slow
def test_skip_a_revision_and_checks(pytester: pytest.Pytester) -> None:
    """An irreversible revision is left out by id; checks by name or pattern."""
    sample(
        pytester,
        sqlite_urls(),
        leaves_table=True,
        ini="schemaver_checks = true\nschemaver_skip_revisions = b100\n"
        "schemaver_skip = default-stairway, *-models-match",
    )
    result = run(pytester, "-k", "schemaver")
    found = outcomes(result)
    assert found["schemaver[audit-stairway]"] == "PASSED"
    assert found["schemaver[audit-clean-downgrade]"] == "PASSED"
    skipped = {k for k, v in found.items() if v == "SKIPPED"}
    assert skipped == {
        "schemaver[default-stairway]",
        "schemaver[default-models-match]",
        "schemaver[analytics-models-match]",
        "schemaver[audit-models-match]",
    }
    result.assert_outcomes(passed=11, skipped=4, deselected=1)


@pytest.mark.slow
def test_unknown_skips_are_reported(pytester: pytest.Pytester) -> None:
    sample(
        pytester,
        sqlite_urls(),
        ini="schemaver_checks = true\nschemaver_skip = analytcs-stairway\n"
        "schemaver_skip_revisions = zz99",
    )
    result = pytester.runpytest_inprocess("--co", "-q", "-W", "default")
    result.stdout.fnmatch_lines(
        [
            "*PytestConfigWarning: schemaver_skip: analytcs-stairway match no check*",
            "*PytestConfigWarning: schemaver_skip_revisions: no bind has revision zz99*",
        ]
    )


@pytest.mark.slow
def test_failing_upgrade(pytester: pytest.Pytester, urls: dict[str, str]) -> None:
    sample(pytester, urls, failing_upgrade=True)
    result = run(pytester, "-k", "default or analytics-upgrade")
    found = outcomes(result)
    assert found == {
        "schemaver[default-single-head]": "PASSED",
        "schemaver[default-upgrade]": "FAILED",
        "schemaver[default-models-match]": "FAILED",
        "schemaver[default-stairway]": "FAILED",
        "schemaver[default-clean-downgrade]": "FAILED",
        "schemaver[analytics-upgrade]": "PASSED",
    }
    text = failure_text(result, "schemaver[default-upgrade]")
    assert (
        "[default] upgrade from an empty database failed: upgrade of revision d200 "
        "('split full name') failed:"
    ) in text
    assert "no_such_table" in text
    text = failure_text(result, "schemaver[default-stairway]")
    assert (
        "[default] at revision d200 ('split full name'), upgrading: upgrade of "
        "revision d200 ('split full name') failed:"
    ) in text


@pytest.mark.slow
def test_broken_data_migration(pytester: pytest.Pytester, urls: dict[str, str]) -> None:
    """The checks run on empty tables and pass; the project's data test catches it."""
    sample(pytester, urls, broken_data=True)
    result = run(pytester, "-k", "default or split")
    assert outcomes(result) == {
        f"schemaver[default-{check}]": "PASSED" for check in CHECKS
    }
    result.assert_outcomes(passed=5, failed=1, deselected=10)
    result.stdout.fnmatch_lines(
        [
            "*MigrationError: [[]default[]] upgrade of revision d200 ('split full name') "
            "failed at *d200_split_full_name.py, line *: ValueError: not enough values "
            "to unpack*",
        ]
    )


@pytest.mark.slow
@pytest.mark.mysql
def test_sound_project_on_mysql(
    pytester: pytest.Pytester, mysql_server: sa.Engine
) -> None:
    sample(pytester, server_urls(MYSQL_URL))
    result = run(pytester)
    assert outcomes(result) == dict.fromkeys(ALL_ITEMS, "PASSED")
    result.assert_outcomes(passed=len(ALL_ITEMS) + 1)


# -- switching the checks on, and finding the app -------------------------------------------


@pytest.mark.slow
def test_checks_are_off_by_default(pytester: pytest.Pytester) -> None:
    sample(pytester, sqlite_urls(), ini="")
    result = run(pytester)
    assert outcomes(result) == {}
    result.assert_outcomes(passed=1)


@pytest.mark.slow
def test_flag_turns_the_checks_on(pytester: pytest.Pytester) -> None:
    sample(pytester, sqlite_urls(), ini="")
    result = run(pytester, "--schemaver", "-m", "schemaver", "-k", "audit")
    assert outcomes(result) == {
        f"schemaver[audit-{check}]": "PASSED" for check in CHECKS
    }
    result.assert_outcomes(passed=5, deselected=11)


@pytest.mark.slow
def test_app_found_through_flask_app(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample(pytester, sqlite_urls())
    pytester.makeini("[pytest]\nschemaver_checks = true\n")
    monkeypatch.setenv("FLASK_APP", "sample:create_app()")
    result = pytester.runpytest_inprocess("--co", "-q")
    result.stdout.fnmatch_lines(["conftest.py::schemaver[[]default-single-head[]]"])


@pytest.mark.slow
def test_no_app_to_collect_from(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample(pytester, sqlite_urls())
    pytester.makeini("[pytest]\nschemaver_checks = true\n")
    monkeypatch.delenv("FLASK_APP", raising=False)
    result = run(pytester)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            "*ERROR collecting conftest.py*",
            "*schemaver checks need the app to know its binds: set schemaver_app in the "
            "pytest configuration*FLASK_APP*",
        ]
    )
    assert "Traceback" not in result.stdout.str()


@pytest.mark.slow
def test_app_fixture_with_other_binds(pytester: pytest.Pytester) -> None:
    """Items are collected from schemaver_app; a fixture app with other binds fails
    them rather than leaving a bind unchecked."""
    sample(pytester, sqlite_urls())
    pytester.makeconftest(
        """
        import pytest

        from sample import create_app


        @pytest.fixture
        def app(tmp_path):
            return create_app({
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/main.db",
                "SQLALCHEMY_BINDS": {
                    "analytics": f"sqlite:///{tmp_path}/analytics.db",
                    "search": f"sqlite:///{tmp_path}/search.db",
                },
            })
        """
    )
    result = run(pytester, "-k", "default-single-head")
    result.assert_outcomes(failed=1, deselected=15)
    result.stdout.fnmatch_lines(
        [
            "[[]default[]] the app fixture's binds (default, analytics, search, audit) "
            "are not the ones the checks were collected for (default, analytics, "
            "audit); point schemaver_app at the app the fixture builds",
        ]
    )


@pytest.mark.slow
def test_module_scoped_app_fixture(pytester: pytest.Pytester) -> None:
    sample(pytester, sqlite_urls())
    pytester.makeconftest(
        """
        import pytest

        from sample import create_app


        @pytest.fixture(scope="module")
        def app(tmp_path_factory):
            tmp = tmp_path_factory.mktemp("app")
            return create_app({
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/main.db",
                "SQLALCHEMY_BINDS": {"analytics": f"sqlite:///{tmp}/analytics.db"},
            })
        """
    )
    result = run(pytester, "-k", "audit")
    result.assert_outcomes(passed=5, deselected=11)


@pytest.mark.slow
def test_checks_hang_under_the_conftest_with_the_app(pytester: pytest.Pytester) -> None:
    """A root conftest.py without the app fixture is passed over for tests/conftest.py;
    without any, the run says why there are no checks."""
    sample(pytester, sqlite_urls())
    tests = pytester.mkdir("tests")
    (pytester.path / "conftest.py").rename(tests / "conftest.py")
    (pytester.path / "test_data.py").rename(tests / "test_data.py")
    pytester.makeconftest("")
    result = pytester.runpytest_inprocess("--co", "-q")
    result.stdout.fnmatch_lines(
        ["tests/conftest.py::schemaver[[]default-single-head[]]"]
    )
    (tests / "conftest.py").unlink()
    result = pytester.runpytest_inprocess("--co")
    result.stdout.fnmatch_lines(
        [
            "schemaver: no migration checks collected: no conftest.py collected in this "
            "run provides the app fixture"
        ]
    )


@pytest.mark.slow
def test_loading_the_plugin_imports_no_alembic(pytester: pytest.Pytester) -> None:
    """A project that does not use the plugin pays for neither Alembic nor the
    testing helpers, even with the plugin's fixtures on offer."""
    pytester.makepyfile(
        """
        import sys

        def test_nothing_heavy():
            assert "flask_schemaver.testing.plugin" in sys.modules
            assert "alembic" not in sys.modules
            assert "flask_schemaver.testing.runner" not in sys.modules
        """
    )
    result = pytester.run(
        sys.executable, "-X", "importtime", "-m", "pytest", "-p", "no:cacheprovider"
    )
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    imported = {
        line.rsplit("|", 1)[-1].strip()
        for line in result.errlines
        if line.startswith("import time:")
    }
    assert "1 passed" in result.stdout.str()  # with the plugin loaded, see above
    assert imported  # -X importtime did report
    assert not {name for name in imported if name.split(".")[0] == "alembic"}
    assert "flask_schemaver.testing.runner" not in imported


# -- throwaway databases ----------------------------------------------------------------


def database_names(server: sa.Engine, token: str) -> set[str]:
    query = (
        "SELECT datname FROM pg_database"
        if server.dialect.name == "postgresql"
        else "SELECT schema_name FROM information_schema.schemata"
    )
    with server.connect() as connection:
        names = connection.scalars(sa.text(query)).all()
    return {name for name in names if name.startswith(f"schemaver_{token}_")}


@pytest.mark.parametrize(
    ("server_fixture", "base_url"),
    [
        pytest.param("postgresql_server", POSTGRESQL_URL, marks=pytest.mark.postgresql),
        pytest.param("mysql_server", MYSQL_URL, marks=pytest.mark.mysql),
    ],
)
def test_server_databases_are_emptied_reused_and_dropped(
    request: pytest.FixtureRequest, server_fixture: str, base_url: str, tmp_path: Path
) -> None:
    server: sa.Engine = request.getfixturevalue(server_fixture)
    databases = ThrowawayDatabases()
    try:
        configured = sa.make_url(base_url).set(database="myapp_test")
        first = databases.acquire(configured, tmp_path / "x.db", "default")
        second = databases.acquire(configured, tmp_path / "y.db", "analytics")
        assert first.database != second.database
        assert database_names(server, databases.token) == {
            first.database,
            second.database,
        }
        engine = sa.create_engine(first)
        with engine.begin() as connection:
            connection.execute(sa.text("CREATE TABLE leftover (id INTEGER)"))
        engine.dispose()
        databases.release(first)
        again = databases.acquire(configured, tmp_path / "x.db", "default")
        assert again.database == first.database
        engine = sa.create_engine(again)
        assert sa.inspect(engine).get_table_names() == []
        # A connection left open in a transaction does not keep its database alive.
        leaked = engine.connect()
        leaked.execute(sa.text("CREATE TABLE held (id INTEGER)"))
        leaked.execute(sa.text("SELECT * FROM held")).all()
    finally:
        databases.close()
    assert database_names(server, databases.token) == set()
    with contextlib.suppress(sa.exc.DBAPIError):
        leaked.close()
    engine.dispose()


def test_unreachable_server(tmp_path: Path) -> None:
    databases = ThrowawayDatabases()
    url = sa.make_url("postgresql+psycopg://app:secret@127.0.0.1:1/myapp_test")
    with pytest.raises(ConfigError) as caught:
        databases.acquire(url, tmp_path / "x.db", "analytics")
    message = str(caught.value)
    assert message.startswith(
        "[analytics] cannot make a throwaway database on the server of bind "
        "'analytics' at postgresql+psycopg://app:***@127.0.0.1:1/: "
    )
    assert "secret" not in message
    databases.close()


def test_unsupported_dialect(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="bind 'default' uses mssql; throwaway test"):
        ThrowawayDatabases().acquire(
            sa.make_url("mssql+pyodbc://host/db"), tmp_path / "x.db", "default"
        )


# -- branches -------------------------------------------------------------------------------


def write_revision(
    folder: Path,
    revision: str,
    down: str | tuple[str, ...] | None,
    *,
    table: str | None = None,
    drop: bool = True,
    labels: str | None = None,
) -> None:
    """A revision that creates ``table`` (if named) and drops it on the way down (if
    ``drop``)."""
    write_revision_file(
        folder,
        revision,
        down,
        labels=labels,
        upgrade=f"op.create_table({table!r}, sa.Column('id', sa.Integer, primary_key=True))"
        if table
        else "pass",
        downgrade=f"op.drop_table({table!r})" if table and drop else "pass",
    )


def branchy_history(folder: Path, *, leave_b2: bool = False) -> None:
    """aa01 branches into bb01 and bb02, merged by cc01, then dd01; xx01 is a second
    root."""
    write_revision(folder, "aa01", None, table="t_a")
    write_revision(folder, "bb01", "aa01", table="t_b1")
    write_revision(folder, "bb02", "aa01", table="t_b2", drop=not leave_b2)
    write_revision(folder, "cc01", ("bb01", "bb02"))
    write_revision(folder, "dd01", "cc01", table="t_d")
    write_revision(folder, "xx01", None, table="t_x", labels="other")


def test_walks_branches_merges_and_roots(
    schemaver_runner: MigrationRunner, make_app: AppMaker
) -> None:
    from flask_schemaver.testing.checks import clean_downgrade
    from flask_schemaver.testing.checks import stairway

    branchy_history(make_app.migrations / "versions")
    stairway(schemaver_runner, "default")
    clean_downgrade(schemaver_runner, "default")
    assert set(schemaver_runner.current()) == {"dd01", "xx01"}


def test_trace_is_pinned_on_its_revision(
    schemaver_runner: MigrationRunner, make_app: AppMaker
) -> None:
    """Each revision goes down alone, even with a sibling branch applied before it, so
    a trace is pinned on the revision that leaves it."""
    from flask_schemaver.testing.checks import CheckFailed
    from flask_schemaver.testing.checks import clean_downgrade

    branchy_history(make_app.migrations / "versions", leave_b2=True)
    with pytest.raises(CheckFailed) as caught:
        clean_downgrade(schemaver_runner, "default")
    assert str(caught.value) == (
        "[default] the downgrade of revision bb02 ('revision bb02') does not undo its "
        "upgrade:\n    table t_b2 is left behind"
    )


@pytest.mark.parametrize("check", ["stairway", "clean-downgrade"])
def test_irreversible_revision_left_out(
    schemaver_runner: MigrationRunner, make_app: AppMaker, check: str
) -> None:
    """A revision left out stays applied: neither its downgrade nor a downgrade to
    base runs; the other revisions, on both branches, are still walked."""
    from flask_schemaver.testing.checks import CHECKS

    branchy_history(make_app.migrations / "versions", leave_b2=True)
    CHECKS[check](schemaver_runner, "default", ["bb02"])
    assert set(schemaver_runner.current()) == {"dd01", "xx01"}


# -- databases at head, copied for each test --------------------------------------------

MIGRATED_TEST = """
def test_first(schemaver_migrated):
    assert schemaver_migrated.current("default") == ("d200",)
    assert schemaver_migrated.current("analytics") == ("a200",)
    assert schemaver_migrated.current("audit") == ("b100",)
    schemaver_migrated.insert(
        "users", {"id": 1, "first_name": "Ada", "last_name": "L"}, bind="default"
    )


def test_second(schemaver_migrated):
    assert schemaver_migrated.rows("users", bind="default") == []
"""


def kept_templates(pytester: pytest.Pytester, urls: dict[str, str]) -> set[int]:
    """The identities of the templates kept: inode of each file, oid of each database."""
    if urls["default"].startswith("sqlite"):
        folder = pytester.path / ".pytest_cache" / "d" / "schemaver"
        return {p.stat().st_ino for p in folder.glob("*.db")}
    engine = sa.create_engine(POSTGRESQL_URL)
    with engine.connect() as connection:
        found = connection.execute(
            sa.text(
                "SELECT oid, datname FROM pg_database WHERE datname LIKE "
                "'schemaver\\_keep\\_%'"
            )
        ).all()
    engine.dispose()
    return {oid for oid, name in found}


@pytest.mark.slow
def test_migrated_copies_and_kept_templates(
    pytester: pytest.Pytester, urls: dict[str, str]
) -> None:
    """schemaver_migrated gives each test its own copy at head; --schemaver-keepdb
    keeps the templates, and the next run uses them; a run without it keeps none."""
    sample(pytester, urls, ini="")
    pytester.makepyfile(test_migrated=MIGRATED_TEST)
    before = kept_templates(pytester, urls)
    result = pytester.runpytest_inprocess("-k", "migrated")
    result.assert_outcomes(passed=2, deselected=1)
    assert kept_templates(pytester, urls) == before
    result = pytester.runpytest_inprocess("-k", "migrated", "--schemaver-keepdb")
    result.assert_outcomes(passed=2, deselected=1)
    kept = kept_templates(pytester, urls) - before
    assert len(kept) == 2  # the default database (with audit), and analytics
    result = pytester.runpytest_inprocess("-k", "migrated", "--schemaver-keepdb")
    result.assert_outcomes(passed=2, deselected=1)
    assert kept_templates(pytester, urls) - before == kept  # used, not built again
    (
        pytester.path / "sample" / "migrations" / "analytics" / "a200_add_referrer.py"
    ).write_text(
        revision_header("a200", "a100", message="add referrer")
        + "\n\ndef upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n"
    )
    result = pytester.runpytest_inprocess("-k", "migrated", "--schemaver-keepdb")
    result.assert_outcomes(passed=2, deselected=1)
    now = kept_templates(pytester, urls) - before
    assert len(now) == 2 and len(now & kept) == 1  # analytics built again
    if not urls["default"].startswith("sqlite"):
        engine = sa.create_engine(POSTGRESQL_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            for (name,) in connection.execute(
                sa.text("SELECT datname FROM pg_database WHERE oid = ANY(:oids)"),
                {"oids": list(now)},
            ):
                connection.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        engine.dispose()
