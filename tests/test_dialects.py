"""Several binds on real database servers: PostgreSQL and MariaDB.

Each behaviour is exercised through the Python API (inside an app context) and through
the ``flask db`` commands.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from flask_schemaver import DatabaseError
from flask_schemaver import RunFailed
from flask_schemaver import UsageError
from helpers import add_revision
from helpers import AppMaker
from helpers import cli
from helpers import invoke
from helpers import MakeDatabase
from helpers import tables
from helpers import versions

#: Tables per bind for an app with the default database and one bind named "audit".
TWO_SERVERS = {None: {"user": ["name"]}, "audit": {"event": ["kind"]}}
#: Tables per bind for an app with two binds in one database.
ONE_DATABASE = {None: {"user": ["name"]}, "other": {"account": ["kind"]}}


# -- helpers ---------------------------------------------------------------------------


def upgrade_body(path: str | Path) -> str:
    """The text of a revision file's ``upgrade()`` function."""
    text = Path(path).read_text()
    return text.split("def upgrade()", 1)[1].split("def downgrade()", 1)[0]


def single_revision(folder: Path) -> Path:
    [path] = [p for p in folder.glob("*.py")]
    return path


# -- one app, PostgreSQL default database and a MariaDB bind ---------------------------


@pytest.fixture
def two_servers(
    make_app: AppMaker, postgresql_db: MakeDatabase, mysql_db: MakeDatabase
) -> tuple[Flask, str, str]:
    """An app with the default database on PostgreSQL and bind "audit" on MariaDB."""
    pg_url, my_url = postgresql_db(), mysql_db()
    app = make_app(pg_url, binds={"audit": my_url}, tables=TWO_SERVERS)
    return app, pg_url, my_url


@pytest.mark.postgresql
@pytest.mark.mysql
def test_two_servers_cli(
    make_app: AppMaker, two_servers: tuple[Flask, str, str]
) -> None:
    app, pg_url, my_url = two_servers
    versions_dir = make_app.migrations / "versions"
    audit_dir = make_app.migrations / "audit"

    out = cli(app, "binds")
    assert "default: postgresql+psycopg://" in out
    assert "audit: mysql+pymysql://" in out
    assert "alembic_version_audit" in out

    out = cli(app, "migrate", "-m", "init")
    default_file, audit_file = single_revision(versions_dir), single_revision(audit_dir)
    default_id, audit_id = default_file.name[:12], audit_file.name[:12]
    assert f"default: wrote {default_id} init at {default_file}" in out
    assert f"audit: wrote {audit_id} init at {audit_file}" in out
    # Each bind's revision holds its own tables and nothing of the other's.
    assert "op.create_table('user'" in upgrade_body(default_file)
    assert "event" not in default_file.read_text()
    assert "op.create_table('event'" in upgrade_body(audit_file)
    assert "user" not in audit_file.read_text()

    out = cli(app, "upgrade")
    assert f"[default] upgrade <base> → {default_id}  init" in out
    assert f"[audit] upgrade <base> → {audit_id}  init" in out
    assert f"default: 1 revision upgraded, now at {default_id}" in out
    assert f"audit: 1 revision upgraded, now at {audit_id}" in out

    out = cli(app, "status")
    assert f"  [X] {default_id} (head)  init" in out
    assert f"  [X] {audit_id} (head)  init" in out
    assert "[ ]" not in out
    assert cli(app, "current") == (
        f"default: {default_id} (head)\naudit: {audit_id} (head)\n"
    )

    # Each database holds its own version table and tables only.
    assert tables(pg_url) == {"alembic_version", "user"}
    assert tables(my_url) == {"alembic_version_audit", "event"}
    assert versions(pg_url, "alembic_version") == [default_id]
    assert versions(my_url, "alembic_version_audit") == [audit_id]

    assert cli(app, "check") == "default: ok\naudit: ok\n"

    # With several binds, downgrade must be told which.
    out = cli(app, "downgrade", code=2)
    assert (
        "Error: downgrade changes a database's version: name the binds with --bind "
        "(default, audit) or pass --all-binds"
    ) in out
    assert versions(pg_url, "alembic_version") == [default_id]
    assert versions(my_url, "alembic_version_audit") == [audit_id]

    out = cli(app, "downgrade", "--bind", "audit")
    assert f"[audit] downgrade {audit_id} → <base>" in out
    assert "[default]" not in out
    assert "audit: 1 revision downgraded, now at <base>" in out
    assert tables(my_url) == {"alembic_version_audit"}
    assert versions(my_url, "alembic_version_audit") == []
    assert tables(pg_url) == {"alembic_version", "user"}
    assert versions(pg_url, "alembic_version") == [default_id]

    out = cli(app, "status")
    assert f"  [X] {default_id} (head)  init" in out
    assert f"  [ ] {audit_id} (head)  init" in out
    out = cli(app, "check", code=1)
    assert "default: ok" in out
    assert f"audit: 1 unapplied revision(s): {audit_id}" in out

    out = cli(app, "upgrade", "--bind", "audit")
    assert "[default]" not in out
    out = cli(app, "downgrade", "--all-binds", "base")
    assert f"[default] downgrade {default_id} → <base>" in out
    assert f"[audit] downgrade {audit_id} → <base>" in out
    assert tables(pg_url) == {"alembic_version"}
    assert tables(my_url) == {"alembic_version_audit"}


@pytest.mark.postgresql
@pytest.mark.mysql
def test_two_servers_api(
    make_app: AppMaker, two_servers: tuple[Flask, str, str]
) -> None:
    app, pg_url, my_url = two_servers
    schemaver = make_app.schemaver
    with app.app_context():
        assert list(schemaver.binds) == ["default", "audit"]
        assert schemaver.binds["default"].dialect == "postgresql"
        assert schemaver.binds["audit"].dialect == "mysql"

        written = schemaver.migrate("init")
        assert [w.bind for w in written] == ["default", "audit"]
        [default_rev], [audit_rev] = (w.revisions for w in written)
        assert Path(default_rev.path).parent == make_app.migrations / "versions"
        assert Path(audit_rev.path).parent == make_app.migrations / "audit"
        assert "op.create_table('user'" in upgrade_body(default_rev.path)
        assert "event" not in Path(default_rev.path).read_text()
        assert "op.create_table('event'" in upgrade_body(audit_rev.path)
        assert "user" not in Path(audit_rev.path).read_text()

        runs = schemaver.upgrade()
        assert [(r.bind, r.before, r.after) for r in runs] == [
            ("default", (), (default_rev.id,)),
            ("audit", (), (audit_rev.id,)),
        ]
        assert [[s.revision for s in r.steps] for r in runs] == [
            [default_rev.id],
            [audit_rev.id],
        ]

        states = schemaver.status()
        assert [s.bind for s in states] == ["default", "audit"]
        assert all(s.up_to_date for s in states)
        assert [[(i.revision.id, i.applied) for i in s.revisions] for s in states] == [
            [(default_rev.id, True)],
            [(audit_rev.id, True)],
        ]
        assert states[0].url.startswith("postgresql+psycopg://")
        assert states[1].url.startswith("mysql+pymysql://")

        assert tables(pg_url) == {"alembic_version", "user"}
        assert tables(my_url) == {"alembic_version_audit", "event"}

        checks = schemaver.check()
        assert [(c.bind, c.ok, c.drift) for c in checks] == [
            ("default", True, []),
            ("audit", True, []),
        ]

        with pytest.raises(
            UsageError, match="--bind .default, audit. or pass --all-binds"
        ):
            schemaver.downgrade()
        assert schemaver.current() == {
            "default": (default_rev.id,),
            "audit": (audit_rev.id,),
        }

        [run] = schemaver.downgrade(bind="audit")
        assert (run.bind, run.before, run.after) == ("audit", (audit_rev.id,), ())
        assert schemaver.current() == {"default": (default_rev.id,), "audit": ()}
        assert tables(my_url) == {"alembic_version_audit"}
        assert tables(pg_url) == {"alembic_version", "user"}

        checks = schemaver.check()
        assert [(c.bind, c.ok, c.pending) for c in checks] == [
            ("default", True, []),
            ("audit", False, [audit_rev.id]),
        ]

        runs = schemaver.downgrade("base", all_binds=True)
        assert [(r.bind, r.after) for r in runs] == [("default", ()), ("audit", ())]
        assert schemaver.current() == {"default": (), "audit": ()}


# -- two binds in one database ---------------------------------------------------------


@pytest.fixture(
    params=[
        pytest.param("postgresql_db", id="postgresql", marks=pytest.mark.postgresql),
        pytest.param("mysql_db", id="mariadb", marks=pytest.mark.mysql),
    ]
)
def one_database(request: pytest.FixtureRequest) -> str:
    """The URL of a fresh database on PostgreSQL, then on MariaDB."""
    make_database: MakeDatabase = request.getfixturevalue(request.param)
    return make_database()


def test_two_binds_in_one_database(make_app: AppMaker, one_database: str) -> None:
    url = one_database
    versions_dir = make_app.migrations / "versions"
    other_dir = make_app.migrations / "other"
    app = make_app(url, binds={"other": url}, tables=ONE_DATABASE)
    schemaver = make_app.schemaver

    out = cli(app, "binds")
    assert "  alembic_version\n" in out
    assert "  alembic_version_other\n" in out

    # The default bind first, on its own: its revision knows nothing of "other".
    with app.app_context():
        [written] = schemaver.migrate("users", "default")
        [users] = written.revisions
        assert "op.create_table('user'" in upgrade_body(users.path)
        assert "account" not in Path(users.path).read_text()
        schemaver.upgrade(bind="default")
    assert tables(url) == {"alembic_version", "user"}

    # Now "other": the default bind's table and version table are not its business.
    out = cli(app, "migrate", "-m", "accounts")
    assert "default: no changes" in out
    accounts = single_revision(other_dir)
    assert f"other: wrote {accounts.name[:12]} accounts at {accounts}" in out
    text = accounts.read_text()
    assert "op.create_table('account'" in upgrade_body(accounts)
    assert "drop_table" not in upgrade_body(accounts)
    assert "'user'" not in text
    assert "alembic_version" not in text

    out = cli(app, "upgrade")
    assert "default: nothing to do" in out
    assert f"other: 1 revision upgraded, now at {accounts.name[:12]}" in out
    assert tables(url) == {
        "alembic_version",
        "alembic_version_other",
        "user",
        "account",
    }
    assert versions(url, "alembic_version") == [users.id]
    assert versions(url, "alembic_version_other") == [accounts.name[:12]]

    assert cli(app, "check") == "default: ok\nother: ok\n"
    with app.app_context():
        assert [(c.bind, c.ok, c.drift) for c in schemaver.check()] == [
            ("default", True, []),
            ("other", True, []),
        ]
    out = cli(app, "migrate")
    assert out == "default: no changes\nother: no changes\n"

    # The models grow in both binds: each revision adds its own table, drops nothing.
    models = {
        None: {**ONE_DATABASE[None], "post": ["title"]},
        "other": {**ONE_DATABASE["other"], "ledger": ["amount"]},
    }
    app = make_app(url, binds={"other": url}, tables=models)
    with app.app_context():
        grown = make_app.schemaver.migrate("more")
    [posts], [ledgers] = (w.revisions for w in grown)
    assert Path(posts.path).parent == versions_dir
    assert Path(ledgers.path).parent == other_dir
    for rev, own in ((posts, "post"), (ledgers, "ledger")):
        body = upgrade_body(rev.path)
        assert f"op.create_table('{own}'" in body
        assert body.count("op.create_table(") == 1, body
        assert "drop_table" not in body, body
    cli(app, "upgrade")
    assert versions(url, "alembic_version") == [posts.id]
    assert versions(url, "alembic_version_other") == [ledgers.id]
    assert cli(app, "check") == "default: ok\nother: ok\n"

    # Downgrading one bind drops its table only.
    cli(app, "downgrade", "--bind", "other", "base")
    assert tables(url) == {
        "alembic_version",
        "alembic_version_other",
        "user",
        "post",
    }
    assert versions(url, "alembic_version") == [posts.id]


@pytest.mark.postgresql
def test_one_database_with_and_without_default_port(
    make_app: AppMaker, postgresql_db: MakeDatabase
) -> None:
    url = postgresql_db()
    assert ":5432/" in url
    app = make_app(
        url, binds={"other": url.replace(":5432/", "/")}, tables=ONE_DATABASE
    )
    with app.app_context():
        make_app.schemaver.migrate("users", "default")
        make_app.schemaver.upgrade(bind="default")
        [written] = make_app.schemaver.migrate("accounts", "other")
    [rev] = written.revisions
    body = upgrade_body(rev.path)
    assert "drop_table" not in body, body


# -- offline SQL -----------------------------------------------------------------------


def sql_sections(output: str) -> dict[str, str]:
    """Split ``upgrade --sql`` output into the text under each bind's header."""
    sections: dict[str, str] = {}
    current = None
    for line in output.splitlines():
        if line.startswith("-- flask_schemaver: bind "):
            current = line.split()[3]
            assert current not in sections
            sections[current] = line + "\n"
        else:
            assert current is not None, f"SQL before any bind header: {line!r}"
            sections[current] += line + "\n"
    return sections


@pytest.mark.postgresql
@pytest.mark.mysql
def test_offline_sql_two_servers(
    make_app: AppMaker, two_servers: tuple[Flask, str, str]
) -> None:
    app, pg_url, my_url = two_servers
    with app.app_context():
        [default_w, audit_w] = make_app.schemaver.migrate("init")
    default_id, audit_id = default_w.revisions[0].id, audit_w.revisions[0].id
    # Autogenerate may leave an empty version table on MariaDB (see
    # test_autogenerate_leaves_the_database_alone); --sql must add nothing to that.
    before = tables(pg_url), tables(my_url)
    assert before[1] <= {"alembic_version_audit"}

    out = cli(app, "upgrade", "--sql")
    sections = sql_sections(out)
    assert list(sections) == ["default", "audit"]
    pg_sql, my_sql = sections["default"], sections["audit"]

    assert pg_sql.startswith("-- flask_schemaver: bind default (postgresql+psycopg://")
    assert "BEGIN;" in pg_sql and "COMMIT;" in pg_sql
    assert "CREATE TABLE alembic_version (" in pg_sql
    assert 'CREATE TABLE "user" (' in pg_sql
    assert "id SERIAL NOT NULL" in pg_sql
    assert (
        f"INSERT INTO alembic_version (version_num) VALUES ('{default_id}')" in pg_sql
    )
    assert "event" not in pg_sql

    assert my_sql.startswith("-- flask_schemaver: bind audit (mysql+pymysql://")
    assert "CREATE TABLE alembic_version_audit (" in my_sql
    assert "CREATE TABLE event (" in my_sql
    assert "AUTO_INCREMENT" in my_sql
    assert (
        f"INSERT INTO alembic_version_audit (version_num) VALUES ('{audit_id}')"
        in my_sql
    )
    assert "user" not in my_sql
    assert "alembic_version (" not in my_sql

    out = cli(app, "upgrade", "--sql", "--bind", "audit")
    assert list(sql_sections(out)) == ["audit"]

    # Python API: the SQL comes back as data, and nothing ran.
    with app.app_context():
        runs = make_app.schemaver.upgrade(sql=True)
        assert [(r.bind, r.before, r.after) for r in runs] == [
            ("default", (), ()),
            ("audit", (), ()),
        ]
        assert runs[0].sql is not None and 'CREATE TABLE "user"' in runs[0].sql
        assert runs[1].sql is not None and "CREATE TABLE event" in runs[1].sql
        assert make_app.schemaver.current() == {"default": (), "audit": ()}

    assert tables(pg_url) == set()
    assert (tables(pg_url), tables(my_url)) == before
    if before[1]:
        assert versions(my_url, "alembic_version_audit") == []


@pytest.mark.postgresql
@pytest.mark.mysql
def test_autogenerate_leaves_the_database_alone(
    make_app: AppMaker, two_servers: tuple[Flask, str, str]
) -> None:
    app, pg_url, my_url = two_servers
    out = cli(app, "migrate", "-m", "init")
    assert out.count(": wrote ") == 2
    assert tables(pg_url) == set()
    assert tables(my_url) == set()


# -- passwords -------------------------------------------------------------------------


@pytest.fixture
def password_url(
    postgresql_server: sa.Engine, postgresql_db: MakeDatabase
) -> Iterator[tuple[str, str]]:
    """URL of a fresh database owned by a new role that logs in with a password.

    The password holds characters that URLs escape, so both spellings are checked.
    """
    database = sa.make_url(postgresql_db()).database
    role = f"schemaver_role_{uuid.uuid4().hex[:8]}"
    password = f"S3cr@t/{uuid.uuid4().hex[:10]}%:"
    with postgresql_server.connect() as conn:
        conn.execute(sa.text(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'"))
        conn.execute(sa.text(f'ALTER DATABASE "{database}" OWNER TO {role}'))
    url = (
        sa.make_url(postgresql_server.url)
        .set(username=role, password=password, database=database, host="127.0.0.1")
        .render_as_string(hide_password=False)
    )
    yield url, password
    with postgresql_server.connect() as conn:
        # The role owns the database and what is in it: drop the database first.
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        conn.execute(sa.text(f"DROP ROLE IF EXISTS {role}"))


@pytest.mark.postgresql
def test_password_never_printed(
    make_app: AppMaker, password_url: tuple[str, str]
) -> None:
    url, password = password_url
    # As typed, and as escaped in the URL.
    escaped = url.split("://", 1)[1].rsplit("@", 1)[0].split(":", 1)[1]
    assert escaped != password
    secrets = {password, escaped}
    app = make_app(url, binds={"other": url}, tables=ONE_DATABASE)

    outputs: list[str] = []

    def run(*args: str, exit_code: int = 0) -> str:
        result = invoke(app, *args)
        assert result.exit_code == exit_code, result.output
        outputs.append(result.output)
        return result.output

    assert "***@127.0.0.1" in run("binds")
    run("binds", "--json")
    run("migrate", "-m", "init")
    assert "***@127.0.0.1" in run("status")
    run("status", "--json")
    assert "***@127.0.0.1" in run("upgrade", "--sql")
    run("upgrade")
    run("current")
    run("history")
    run("check")
    run("check", "--json")
    assert "no bind has 'nosuchrev'" in run("upgrade", "nosuchrev", exit_code=2)
    run("downgrade", exit_code=2)
    # A database error, which names the database.
    with app.app_context():
        add_revision(
            make_app.schemaver, message="broken", upgrade="    op.execute('NOT SQL')\n"
        )
    error = run("upgrade", exit_code=1)
    assert "Error: [default] " in error
    assert "postgresql+psycopg://" in error and "***@127.0.0.1" in error

    # A database that does not exist: the connection error names the URL.
    database = sa.make_url(url).database
    missing = url.replace(f"/{database}", f"/nope_{database}")
    assert missing != url
    app = make_app(missing, tables=ONE_DATABASE)
    error = run("status", exit_code=1)
    assert "***@127.0.0.1" in error and "does not exist" in error

    for output in outputs:
        for secret in secrets:
            assert secret not in output, output

    # The Python API's errors and data hide it too.
    with app.app_context(), pytest.raises(DatabaseError) as info:
        make_app.schemaver.status()
    assert "***" in str(info.value)
    assert all(s not in str(info.value) for s in secrets)


# -- a failing migration on PostgreSQL ------------------------------------------------


def failing_chain(make_app: AppMaker, url: str) -> tuple[Flask, str, str, str]:
    """An app with binds default and "audit" in one PostgreSQL database.

    "audit" has a good revision, then one whose upgrade creates a table and then fails.
    Returns the app and the ids of the default revision, the good and the bad one.
    """
    app = make_app(
        url, binds={"audit": url}, tables={None: {"user": ["name"]}, "audit": {}}
    )
    schemaver = make_app.schemaver
    with app.app_context():
        [written] = schemaver.migrate("users", "default")
        good = add_revision(
            schemaver,
            "audit",
            message="good",
            upgrade="    op.create_table('entry', sa.Column('id', sa.Integer, primary_key=True))\n",
        )
        bad = add_revision(
            schemaver,
            "audit",
            message="bad",
            upgrade="    op.create_table('half_done', sa.Column('id', sa.Integer))\n"
            "    op.execute('THIS IS NOT SQL')\n",
        )
    return app, written.revisions[0].id, good.id, bad.id


def assert_stopped_after_good(url: str, users: str, good: str) -> None:
    """The good revisions stay applied; the failing one left nothing behind."""
    assert versions(url, "alembic_version") == [users]
    assert versions(url, "alembic_version_audit") == [good]
    assert tables(url) == {
        "alembic_version",
        "alembic_version_audit",
        "user",
        "entry",
    }


@pytest.mark.postgresql
def test_failed_migration_keeps_earlier_ones_cli(
    make_app: AppMaker, postgresql_db: MakeDatabase
) -> None:
    url = postgresql_db()
    app, users, good, bad = failing_chain(make_app, url)

    result = invoke(app, "upgrade")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.output.splitlines()
    assert f"[default] upgrade <base> → {users}  users" in result.output
    assert f"[audit] upgrade <base> → {good}  good" in result.output
    # One error line, naming the bind, the revision and what the database said;
    # every other line is a step or a per-bind summary, so nothing spills over.
    [error] = [line for line in lines if line.startswith("Error:")]
    assert error.startswith("Error: [audit] "), error
    assert bad in error
    assert "postgresql+psycopg://" in error
    assert 'syntax error at or near "THIS"' in error
    for line in lines:
        assert line == error or line.startswith(
            ("[default] ", "[audit] ", "default: ", "audit: ")
        ), result.output
    # The bad revision was announced as it started, never reported as done.
    assert f"[audit] upgrade {good} → {bad}  bad ..." in lines
    assert not any(
        line.startswith("[audit] upgrade") and bad in line and not line.endswith("...")
        for line in lines
    )

    assert_stopped_after_good(url, users, good)
    out = cli(app, "status", "--bind", "audit")
    assert f"  current: {good}" in out
    assert f"  [X] {good}  good" in out
    assert f"  [ ] {bad} (head)  bad" in out


@pytest.mark.postgresql
def test_failed_migration_keeps_earlier_ones_api(
    make_app: AppMaker, postgresql_db: MakeDatabase
) -> None:
    url = postgresql_db()
    app, users, good, bad = failing_chain(make_app, url)
    with app.app_context():
        with pytest.raises(RunFailed) as info:
            make_app.schemaver.upgrade()
        failure = info.value
        assert failure.exit_code == 1
        assert str(failure).startswith("[audit] ")
        assert "\n" not in str(failure)
        done, failed = failure.results
        assert (done.bind, done.outcome, done.after) == ("default", "done", (users,))
        assert (failed.bind, failed.outcome) == ("audit", "failed")
        assert isinstance(failed.error, DatabaseError)
        assert failed.error.bind == "audit"
        assert bad in str(failed.error)
        assert 'syntax error at or near "THIS"' in str(failed.error)

        assert make_app.schemaver.current() == {"default": (users,), "audit": (good,)}
        [state] = make_app.schemaver.status("audit")
        assert [(i.revision.id, i.applied) for i in state.revisions] == [
            (good, True),
            (bad, False),
        ]
    assert_stopped_after_good(url, users, good)


@pytest.mark.postgresql
def test_failed_migration_error_data_names_the_revision(
    make_app: AppMaker, postgresql_db: MakeDatabase
) -> None:
    app, _, _, bad = failing_chain(make_app, postgresql_db())
    with app.app_context(), pytest.raises(RunFailed) as info:
        make_app.schemaver.upgrade()
    error = info.value.results[-1].error
    assert isinstance(error, DatabaseError)
    assert error.revision == bad
