"""Tenanted binds on servers: a schema per tenant on PostgreSQL, a database per tenant
on the bind's MariaDB server. The chain reaches each tenant through the bind's own
pool, the connections go back to the app as they were, each tenant has its own lock,
and a no-op run reads every tenant's version in a couple of statements."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from flask_schemaver import LockTimeout
from flask_schemaver import RunFailed
from flask_schemaver.runtime import locking
from helpers import AppMaker
from helpers import cli
from helpers import MakeDatabase
from tenant_helpers import AllStatements
from tenant_helpers import Counter
from tenant_helpers import make_schemas
from tenant_helpers import rows
from tenant_helpers import server_databases
from tenant_helpers import tenanted_app

# -- PostgreSQL: a schema per tenant ---------------------------------------------------


@pytest.mark.postgresql
@pytest.mark.slow
def test_two_hundred_schemas(make_app: AppMaker, postgresql_db: MakeDatabase) -> None:
    url = postgresql_db()
    names = [f"t{i:03d}" for i in range(200)]
    outside = make_schemas(url, names)
    app = tenanted_app(make_app, url, lambda: names)
    out = cli(app, "upgrade", "--jobs", "2")
    assert (
        out.splitlines()[-1] == "shop: 200 tenants: 200 upgraded, 0 with nothing to do"
    )
    # Each schema has its own table, version and history, and the row that op.execute
    # text wrote; the default schema has none of them.
    found = rows(
        outside,
        "SELECT table_schema, count(*) FROM information_schema.tables "
        "WHERE table_schema LIKE 't%%' GROUP BY table_schema",
    )
    assert found and {count for _, count in found} == {3} and len(found) == 200
    assert rows(outside, 'SELECT name, price FROM "t123".item') == [("seed", "1")]
    assert rows(
        outside, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
    ) == [(0,)]
    with app.app_context():
        engine = make_app.db.engines["shop"]
        # The app's pooled connections are as they were: no tenant's search_path.
        assert rows(engine, "SHOW search_path") == [('"$user", public',)]
        # A no-op run over 200 tenants: a couple of statements, no Alembic run.
        with Counter(engine) as counted:
            results = make_app.schemaver.upgrade()
        assert len(results) == 201 and {r.note for r in results} == {"nothing to do"}
        assert len(counted.statements) <= 3, counted.statements
        assert make_app.schemaver.is_current()
        states = make_app.schemaver.status(tenant="t19*")
        assert [s.tenant for s in states] == [f"t{i}" for i in range(190, 200)]
        assert all(s.up_to_date and s.current == ("r2",) for s in states)
    assert "shop: 200 tenants\n  [X] 200 up to date, at r2" in cli(app, "status")
    outside.dispose()


@pytest.mark.postgresql
def test_schemas_fail_lock_and_compare_one_by_one(
    make_app: AppMaker, postgresql_db: MakeDatabase
) -> None:
    url = postgresql_db()
    names = ["acme", "beta", "gamma"]
    outside = make_schemas(url, names)
    with outside.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE gamma.item (id integer)")
    app = tenanted_app(make_app, url, lambda: names, SCHEMAVER_LOCK_TIMEOUT=1)
    with app.app_context():
        beta = make_app.schemaver.targets("shop", "beta")[0]
        acme = make_app.schemaver.targets("shop", "acme")[0]
    assert locking.lock_name(beta) != locking.lock_name(acme)
    key = int.from_bytes(
        hashlib.sha256(locking.lock_name(beta).encode()).digest()[:8],
        "big",
        signed=True,
    )
    holder = outside.connect()
    holder.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": key})
    try:
        with app.app_context(), pytest.raises(RunFailed) as info:
            make_app.schemaver.upgrade(tenant="*")
    finally:
        holder.close()
    outcomes = {r.tenant: (r.outcome, r.after) for r in info.value.results}
    assert outcomes == {
        "acme": ("done", ("r2",)),
        "beta": ("failed", ()),  # its lock held elsewhere: only beta waits
        "gamma": ("failed", ()),  # rolled back: nothing of r1 is left
    }
    errors = {e.tenant: e for e in info.value.errors}
    assert isinstance(errors["beta"], LockTimeout)
    assert str(errors["gamma"]).startswith("[shop/gamma] ")
    assert rows(
        outside,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = "
        "'gamma' ORDER BY 1",
    ) == [("alembic_version_shop_history",), ("item",)]
    with outside.begin() as connection:
        connection.exec_driver_sql("DROP TABLE gamma.item")
    out = cli(app, "upgrade")
    assert "[shop/beta] upgrade r1 → r2" in out and "[shop/acme]" not in out
    assert out.splitlines()[-1] == "shop: 3 tenants: 2 upgraded, 1 with nothing to do"
    # migrate and check build a tenant of their own, never look at a customer's,
    # and drop it.
    with outside.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE acme.junk (id integer)")
    assert "shop: ok\nshop/acme: ok" in cli(app, "check")
    with app.app_context():
        [written] = make_app.schemaver.migrate("nothing", "shop")
        assert written.revisions == []
    assert rows(
        outside,
        "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'schemaver_tmp_%%'",
    ) == [(0,)]
    outside.dispose()


# -- MariaDB: a database per tenant on the bind's server -------------------------------


@pytest.fixture
def mysql_tenants(mysql_server: sa.Engine) -> Iterator[list[str]]:
    """Thirty empty databases on the MariaDB server, dropped afterwards."""
    with server_databases(mysql_server, [f"{i:02d}" for i in range(30)]) as names:
        yield names


@pytest.mark.mysql
def test_mariadb_databases(
    make_app: AppMaker, mysql_db: MakeDatabase, mysql_tenants: list[str]
) -> None:
    url = mysql_db()
    app = tenanted_app(make_app, url, lambda: mysql_tenants)
    with app.app_context():
        results = make_app.schemaver.upgrade(jobs=2)
        assert [r.after for r in results[1:]] == [("r2",)] * 30
        engine = make_app.db.engines["shop"]
        own = sa.make_url(url).database
        # The app's connections still use the bind's own database.
        assert rows(engine, "SELECT DATABASE()") == [(own,)]
        with Counter(engine) as counted:
            again = make_app.schemaver.upgrade()
        assert {r.note for r in again} == {"nothing to do"}
        assert len(counted.statements) <= 3, counted.statements
    last = mysql_tenants[-1]
    assert rows(engine, f"SELECT name, price FROM `{last}`.item") == [("seed", "1")]
    assert rows(
        engine,
        f"SELECT count(*) FROM information_schema.tables WHERE table_schema = '{own}'",
    ) == [(0,)]
    assert "shop: 30 tenants\n  [X] 30 up to date, at r2" in cli(app, "status")
    out = cli(app, "downgrade", "--tenant", f"{mysql_tenants[0][:-2]}0*", "r1")
    assert (
        out.splitlines()[-1] == "shop: 10 tenants: 10 downgraded, 0 with nothing to do"
    )
    out = cli(app, "check", code=1)
    assert f"shop/{mysql_tenants[3]}: 1 unapplied revision(s): r2" in out
    assert "shop: ok" in out.splitlines()
    with app.app_context():
        assert not make_app.schemaver.is_current()
    cli(app, "upgrade")
    with app.app_context():
        assert make_app.schemaver.is_current()
    assert rows(
        engine,
        "SELECT count(*) FROM information_schema.schemata "
        "WHERE schema_name LIKE 'schemaver\\_tmp\\_%%'",
    ) == [(0,)]


@pytest.mark.mysql
def test_mariadb_databases_by_url_are_read_together(
    make_app: AppMaker,
    mysql_db: MakeDatabase,
    mysql_server: sa.Engine,
    mysql_tenants: list[str],
) -> None:
    """A database per tenant, named by URLs on one MariaDB server: a no-op run and
    ``status`` read every tenant's tables on one connection, in a few statements;
    a tenant whose database is missing (the first, even) is named, the rest read."""
    url = sa.make_url(mysql_db())
    urls = {
        name: url.set(database=name).render_as_string(hide_password=False)
        for name in mysql_tenants
    }
    app = tenanted_app(make_app, url.render_as_string(False), lambda: urls)
    with app.app_context():
        results = make_app.schemaver.upgrade(jobs=2)
        assert [r.after for r in results[1:]] == [("r2",)] * 30
        with AllStatements("mysql") as counted:
            again = make_app.schemaver.upgrade()
            states = make_app.schemaver.status(bind="shop")
        assert {r.note for r in again} == {"nothing to do"}
        assert len(states) == 30 and all(s.up_to_date for s in states)
        assert len(counted.statements) <= 8, counted.statements
        # A connection per read (the run's versions; status's versions and
        # histories) for the thirty tenants, not one each.
        assert len(counted.connections) <= 3, counted.connections
    with mysql_server.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE `{mysql_tenants[0]}`")
    with app.app_context():
        with AllStatements("mysql") as counted:
            states = make_app.schemaver.status(bind="shop")
        assert len(counted.connections) <= 3, counted.connections
    assert [s.tenant for s in states if not s.up_to_date] == [mysql_tenants[0]]
    assert all(s.up_to_date for s in states[1:])
