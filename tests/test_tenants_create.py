"""Provisioning tenants: ``create_tenant`` and ``flask db tenants create`` make a
tenant's SQLite file, PostgreSQL schema or database, or MariaDB database, bring it
to the heads, are harmless to repeat, work inside a request, and leave nothing half
made when the upgrade fails; ``flask db tenants list`` says where each tenant is."""

from __future__ import annotations

import dataclasses
import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from flask_schemaver import DatabaseError
from flask_schemaver import LockTimeout
from flask_schemaver import SchemaVerError
from flask_schemaver import TenantResult
from flask_schemaver import UsageError
from helpers import add_revision
from helpers import AppMaker
from helpers import cli
from helpers import MakeDatabase
from helpers import versions
from tenant_helpers import rows
from tenant_helpers import tenanted_app

#: A revision that fails in every tenant, after r1 and r2 were applied.
FAILING = "    op.execute('SELECT * FROM no_such_table')\n"


@dataclasses.dataclass
class Files:
    """Tenants in SQLite files, recorded by the app before they are created."""

    folder: Path
    names: list[str] = dataclasses.field(default_factory=lambda: ["acme", "beta"])

    def path(self, name: str) -> Path:
        return self.folder / f"tenant_{name}.db"

    def __call__(self) -> dict[str, str]:
        return {n: f"sqlite:///{self.path(n)}" for n in self.names}


@pytest.fixture
def files(tmp_path: Path) -> Files:
    return Files(tmp_path)


@pytest.fixture
def shop(make_app: AppMaker, files: Files) -> Flask:
    return tenanted_app(make_app, make_app.sqlite("shop"), files)


def failing_revision(app: Flask, make_app: AppMaker) -> Path:
    with app.app_context():
        return Path(
            add_revision(make_app.schemaver, "shop", "r3", upgrade=FAILING).path
        )


def test_create_then_list_on_sqlite(
    shop: Flask, make_app: AppMaker, files: Files
) -> None:
    out = cli(shop, "tenants", "list")
    assert out.splitlines()[0] == "shop: 2 tenants"
    assert "missing (create it: 'flask db tenants create acme --bind shop')" in out
    assert not files.path("acme").exists()  # listing makes nothing
    with shop.app_context():
        result = make_app.schemaver.create_tenant("shop", "acme")
    assert (result.bind, result.tenant, result.kind) == ("shop", "acme", "database")
    assert result.created and result.revisions == ["r1", "r2"]
    assert result.where == f"sqlite:///{files.path('acme')}"
    assert versions(files.path("acme"), "alembic_version_shop") == ["r2"]
    # The bind is named when the app has one tenanted bind only; again is a no-op.
    out = cli(shop, "tenants", "create", "beta")
    assert out.splitlines() == [
        *[line for line in out.splitlines() if line.startswith("[shop/beta] upgrade")],
        f"shop/beta: database sqlite:///{files.path('beta')} created, 2 revisions "
        "upgraded, now at r2",
    ]
    assert len(out.splitlines()) == 3
    assert cli(shop, "tenants", "create", "beta").splitlines() == [
        f"shop/beta: database sqlite:///{files.path('beta')} already there, nothing "
        "to do, at r2"
    ]
    # One behind is upgraded.
    with shop.app_context():
        make_app.schemaver.downgrade("r1", tenant="acme")
        again = make_app.schemaver.create_tenant("shop", "acme")
    assert (again.created, again.revisions, again.run.before) == (
        False,
        ["r2"],
        ("r1",),
    )
    files.names.append("gamma")
    listed = json.loads(cli(shop, "tenants", "list", "--json"))
    assert [
        (t["tenant"], t["exists"], t["current"], t["up_to_date"]) for t in listed
    ] == [
        ("acme", True, ["r2"], True),
        ("beta", True, ["r2"], True),
        ("gamma", False, None, None),
    ]
    with shop.app_context():
        make_app.schemaver.downgrade("r1", tenant="beta")
    lines = cli(shop, "tenants", "list", "--bind", "shop").splitlines()
    assert lines[0] == "shop: 3 tenants"
    assert lines[1].startswith("  acme   database sqlite:///")
    assert lines[1].endswith("  up to date, at r2")
    assert lines[2].endswith("  behind, at r1")


def test_create_in_a_request(make_app: AppMaker, files: Files) -> None:
    """A sign-up: the app inserts the tenant's row, creates the tenant in the same
    request (its function reads the row, not yet committed, in the same session),
    then commits; or rolls back when creating failed, which leaves nothing."""
    app = tenanted_app(make_app, make_app.sqlite("shop"), lambda: tenants())
    db = make_app.db
    with app.app_context(), db.engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE tenant (name VARCHAR(50))")

    def tenants() -> dict[str, str]:
        names = db.session.scalars(sa.text("SELECT name FROM tenant")).all()
        return {n: f"sqlite:///{files.path(n)}" for n in names}

    @app.post("/signup/<name>")
    def signup(name: str) -> Any:
        insert = sa.text("INSERT INTO tenant (name) VALUES (:name)")
        db.session.execute(insert, {"name": name})
        try:
            result = make_app.schemaver.create_tenant("shop", name)
        except SchemaVerError as exc:
            db.session.rollback()
            return {"error": str(exc)}, 400
        db.session.commit()
        return result.to_dict()

    client = app.test_client()
    response = client.post("/signup/delta")
    assert response.status_code == 200, response.json
    assert response.json is not None
    assert response.json["created"] and response.json["revisions"] == ["r1", "r2"]
    assert versions(files.path("delta"), "alembic_version_shop") == ["r2"]
    with app.app_context():
        assert not make_app.schemaver.create_tenant("delta").revisions
    bad = client.post("/signup/a;drop")
    assert bad.status_code == 400 and bad.json is not None
    assert "'a;drop' cannot name a tenant" in bad.json["error"]
    failing_revision(app, make_app)
    failed = client.post("/signup/omega")
    assert failed.status_code == 400 and failed.json is not None
    assert "dropped again" in failed.json["error"]
    assert not files.path("omega").exists()
    with app.app_context():
        assert rows(db.engine, "SELECT name FROM tenant") == [("delta",)]


def test_threads_create_tenants_at_once(
    shop: Flask, make_app: AppMaker, files: Files
) -> None:
    """Threads of one web worker creating tenants at once: Alembic's ``op`` is one
    per process, so their revisions take turns, each in its own tenant."""
    files.names += [f"t{i}" for i in range(4)]
    failed: list[BaseException] = []

    def sign_up(name: str) -> None:
        try:
            with shop.app_context():
                make_app.schemaver.create_tenant(name)
        except BaseException as exc:  # noqa: B036  # reported below
            failed.append(exc)

    threads = [threading.Thread(target=sign_up, args=(f"t{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failed == []
    for i in range(4):
        path = files.path(f"t{i}")
        assert versions(path, "alembic_version_shop") == ["r2"]
        assert rows(sa.create_engine(f"sqlite:///{path}"), "SELECT name FROM item") == [
            ("seed",)
        ]


def test_bad_input_is_one_line(
    shop: Flask, make_app: AppMaker, files: Files, tmp_path: Path
) -> None:
    cases = {
        ("create", "zeta"): "Error: bind 'shop' has no tenant 'zeta': its tenant "
        "function does not list it; record the tenant where that function finds it "
        "(a row of the app's tenants table, say), then create it",
        ("create", "x'; DROP TABLE t; --"): 'Error: "x\'; DROP TABLE t; --" cannot '
        "name a tenant: use letters, digits, '_', '.', '$' and '-' (not first)",
        ("create", "acme", "--bind", "default"): "Error: bind 'default' has no "
        "tenants; the tenanted binds are: shop",
        ("create", "acme", "--bind", "nope"): "Error: unknown bind 'nope'; the app's "
        "binds are: default, shop",
        ("list", "--bind", "default"): "Error: bind 'default' has no tenants; the "
        "tenanted binds are: shop",
    }
    for args, message in cases.items():
        out = cli(shop, "tenants", *args, code=2)
        assert out.splitlines()[-1] == message, args
    # A second tenanted bind: the bind must be named.
    make_app.schemaver.tenants("default")(lambda: {})
    out = cli(shop, "tenants", "create", "acme", code=2)
    assert out.splitlines()[-1] == (
        "Error: the app has several tenanted binds: name one with --bind "
        "(default, shop)"
    )
    files.names.append("lost")
    files.path = lambda name: tmp_path / "nowhere" / f"{name}.db"  # type: ignore[method-assign]
    out = cli(shop, "tenants", "create", "lost", "--bind", "shop", code=1)
    assert out.splitlines()[-1] == (
        "Error: [shop/lost] cannot make the SQLite file of tenant 'lost': its folder "
        f"{tmp_path / 'nowhere'} does not exist"
    )
    with shop.app_context(), pytest.raises(UsageError, match="no tenant 'zeta'"):
        make_app.schemaver.create_tenant("shop", "zeta")
    plain = make_app()  # no tenanted bind at all
    out = cli(plain, "tenants", "list", code=2)
    assert out.splitlines()[-1] == (
        "Error: the app has no tenanted binds (declare one with @schemaver.tenants or "
        "SCHEMAVER_TENANTS)"
    )


def test_a_failed_upgrade_drops_what_it_made(
    shop: Flask, make_app: AppMaker, files: Files
) -> None:
    failing = failing_revision(shop, make_app)
    with shop.app_context(), pytest.raises(DatabaseError) as info:
        make_app.schemaver.create_tenant("shop", "acme")
    message = str(info.value)
    assert message.startswith("[shop/acme] ") and "no_such_table" in message
    assert message.endswith(
        "(the database made for it was dropped again; create the tenant again once "
        "fixed)"
    )
    assert not files.path("acme").exists()
    # A tenant whose database was there before keeps it, at its last good revision.
    files.path("beta").touch()
    out = cli(shop, "tenants", "create", "beta", code=1)
    assert "Error: [shop/beta] " in out and "dropped" not in out
    assert versions(files.path("beta"), "alembic_version_shop") == ["r2"]
    failing.unlink()
    out = cli(shop, "tenants", "create", "acme")
    assert out.splitlines()[-1].endswith("created, 2 revisions upgraded, now at r2")


# -- PostgreSQL: a schema per tenant; a database per tenant -------------------------


@pytest.mark.postgresql
def test_postgresql_schemas(make_app: AppMaker, postgresql_db: MakeDatabase) -> None:
    url = postgresql_db()
    names = ["acme", "beta", "gamma", "x" * 64]
    app = tenanted_app(make_app, url, lambda: names, SCHEMAVER_LOCK_TIMEOUT=1)
    outside = sa.create_engine(url, poolclass=sa.pool.NullPool)
    schemas = "SELECT nspname FROM pg_namespace WHERE nspname IN ('acme', 'beta')"
    listed = cli(app, "tenants", "list").splitlines()
    assert listed[1].split()[:4] == ["acme", "schema", "acme", "missing"]
    with app.app_context():
        made = make_app.schemaver.create_tenant("shop", "acme")
        assert (made.created, made.where, made.revisions) == (
            True,
            "schema acme",
            ["r1", "r2"],
        )
        assert not make_app.schemaver.create_tenant("acme").revisions
    assert rows(outside, "SELECT name FROM acme.item") == [("seed",)]
    # Two sign-ups of one tenant at once: one makes and migrates it, the other waits
    # for its lock and finds it done.
    done: list[TenantResult] = []

    def sign_up() -> None:
        with app.app_context():
            done.append(make_app.schemaver.create_tenant("gamma"))

    threads = [threading.Thread(target=sign_up) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted((r.created, r.revisions) for r in done) == [
        (False, []),
        (True, ["r1", "r2"]),
    ]
    out = cli(app, "tenants", "create", "x" * 64, code=2)
    assert out.splitlines()[-1] == (
        f"Error: the tenant name '{'x' * 64}' is 64 characters long; postgresql "
        "names a schema with at most 63"
    )
    # The tenant's lock is held before its schema is made: nothing is made while
    # another process holds it.
    with app.app_context():
        [beta] = make_app.schemaver.targets("shop", "beta")
    from flask_schemaver.runtime import locking

    holder = outside.connect()
    holder.execute(
        sa.text("SELECT pg_advisory_lock(:k)"),
        {"k": _advisory_key(locking.lock_name(beta))},
    )
    try:
        with app.app_context(), pytest.raises(LockTimeout):
            make_app.schemaver.create_tenant("beta")
    finally:
        holder.close()
    assert rows(outside, schemas) == [("acme",)]
    failing = failing_revision(app, make_app)
    out = cli(app, "tenants", "create", "beta", code=1)
    assert "the schema made for it was dropped again" in out
    assert rows(outside, schemas) == [("acme",)]
    failing.unlink()
    assert "schema beta created" in cli(app, "tenants", "create", "beta")
    listed = json.loads(cli(app, "tenants", "list", "--json"))
    assert [(t["where"], t["current"]) for t in listed[:2]] == [
        ("schema acme", ["r2"]),
        ("schema beta", ["r2"]),
    ]
    outside.dispose()


def _advisory_key(name: str) -> int:
    import hashlib

    return int.from_bytes(
        hashlib.sha256(name.encode()).digest()[:8], "big", signed=True
    )


def made_on(server: sa.Engine, drop: str) -> Iterator[list[str]]:
    """Names for two databases a test makes on ``server``; dropped after it."""
    names = [f"schemaver_c{uuid.uuid4().hex[:8]}_{i}" for i in range(2)]
    yield names
    with server.connect() as connection:
        for name in names:
            connection.exec_driver_sql(drop.format(name))


@pytest.fixture
def server_names(postgresql_server: sa.Engine) -> Iterator[list[str]]:
    yield from made_on(postgresql_server, 'DROP DATABASE IF EXISTS "{}" WITH (FORCE)')


@pytest.mark.postgresql
def test_postgresql_databases(
    make_app: AppMaker, postgresql_db: MakeDatabase, server_names: list[str]
) -> None:
    url = sa.make_url(postgresql_db())
    # The server trusts local connections: the password is only there to be hidden.
    places = {n: url.set(database=n, password="s3cret") for n in server_names}
    app = tenanted_app(
        make_app, url.render_as_string(hide_password=False), lambda: places
    )
    first, second = server_names
    out = cli(app, "tenants", "create", first)
    assert "created, 2 revisions upgraded, now at r2" in out
    assert ":***@" in out and "s3cret" not in out
    failing = failing_revision(app, make_app)
    with app.app_context(), pytest.raises(DatabaseError, match="dropped again"):
        make_app.schemaver.create_tenant(second)
    found = rows(
        sa.create_engine(url, poolclass=sa.pool.NullPool),
        f"SELECT datname FROM pg_database WHERE datname LIKE '{first[:-2]}%%' ORDER BY 1",
    )
    assert found == [(first,)]
    failing.unlink()
    listed = cli(app, "tenants", "list")
    assert "up to date, at r2" in listed and "unreadable" in listed


# -- MariaDB: a database per tenant on the bind's server ------------------------------


@pytest.fixture
def mysql_names(mysql_server: sa.Engine) -> Iterator[list[str]]:
    yield from made_on(mysql_server, "DROP DATABASE IF EXISTS `{}`")


@pytest.mark.mysql
def test_mariadb_databases(
    make_app: AppMaker, mysql_db: MakeDatabase, mysql_names: list[str]
) -> None:
    url = mysql_db()
    app = tenanted_app(make_app, url, lambda: mysql_names)
    first, second = mysql_names
    with app.app_context():
        made = make_app.schemaver.create_tenant(first)
        assert (made.kind, made.created, made.revisions) == (
            "schema",
            True,
            ["r1", "r2"],
        )
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    assert rows(engine, f"SELECT name FROM `{first}`.item") == [("seed",)]
    assert cli(app, "tenants", "create", first).endswith(
        "already there, nothing to do, at r2\n"
    )
    failing = failing_revision(app, make_app)
    out = cli(app, "tenants", "create", second, code=1)
    assert "the database made for it was dropped again" in out
    assert "resolve" not in out  # no advice about a database that is gone
    existing = "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY 1"
    assert second not in {n for (n,) in rows(engine, existing)}
    failing.unlink()
    cli(app, "tenants", "create", second)
    lines = cli(app, "tenants", "list").splitlines()
    assert lines[0] == "shop: 2 tenants"
    assert lines[1].startswith(f"  {first}  database {first}  ")
    assert all(line.endswith("up to date, at r2") for line in lines[1:])
    engine.dispose()
