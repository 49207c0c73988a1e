"""The pytest plugin on a tenanted bind: its checks and fixtures run on a throwaway
tenant (a database of its own on SQLite, a schema of a throwaway database on
PostgreSQL), never calling the app's tenant function; a revision that writes outside
the tenant's schema fails the upgrade check."""

from __future__ import annotations

import contextlib
import importlib
from pathlib import Path

import pytest
import sqlalchemy as sa

from flask_schemaver import ConfigError
from flask_schemaver.testing import MigrationRunner
from flask_schemaver.testing import ThrowawayDatabases
from helpers import add_revision
from helpers import AppMaker
from helpers import MYSQL_URL
from helpers import POSTGRESQL_URL
from helpers import revision_header
from tenant_helpers import tenanted_app
from test_pytest_plugin import app_conftest
from test_pytest_plugin import failure_text
from test_pytest_plugin import outcomes
from test_pytest_plugin import run

pytest_plugins = ["pytester"]

for _driver in ("psycopg", "pymysql"):  # see test_pytest_plugin
    with contextlib.suppress(ImportError):
        importlib.import_module(_driver)

CHECKS = ["single-head", "upgrade", "models-match", "stairway", "clean-downgrade"]

APP = """
import os

import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_schemaver import SchemaVer

db = SQLAlchemy()
schemaver = SchemaVer()


class Item(db.Model):
    __bind_key__ = "shop"
    __tablename__ = "item"
    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(50))
    price = sa.Column(sa.String(50))


@schemaver.tenants("shop")
def shop_tenants():
    raise AssertionError("the customers' tenants were listed")


def create_app(test_config=None):
    app = Flask(__name__)
    here = os.path.dirname(os.path.abspath(__file__))
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(here, "main.db")
    app.config["SQLALCHEMY_BINDS"] = {
        "shop": "sqlite:///" + os.path.join(here, "shop.db")
    }
    app.config["SCHEMAVER_DIRECTORY"] = os.path.join(here, "migrations")
    app.config.update(test_config or {})
    db.init_app(app)
    schemaver.init_app(app, db)
    return app
"""

REVISIONS = {
    "s100": (
        None,
        "create item",
        "    op.create_table('item', sa.Column('id', sa.Integer, primary_key=True),\n"
        "                    sa.Column('name', sa.String(50)))\n",
        "    op.drop_table('item')\n",
    ),
    # Text run by op.execute lands in the tenant's schema too.
    "s200": (
        "s100",
        "add price",
        "    op.add_column('item', sa.Column('price', sa.String(50)))\n"
        "    op.execute(\"INSERT INTO item (name, price) VALUES ('seed', '1')\")\n",
        "    op.execute('DELETE FROM item')\n"
        "    with op.batch_alter_table('item') as batch:\n"
        "        batch.drop_column('price')\n",
    ),
}

#: A revision that writes in ``public``: fine for one database, wrong for tenants.
HARD_CODED = (
    "s200",
    "audit",
    "    op.execute('CREATE TABLE public.audit (id integer)')\n",
    "    op.execute('DROP TABLE public.audit')\n",
)

MIGRATED_TEST = """
import sqlalchemy as sa

from sample import db
from sample import Item


def test_tenant_at_head(app, schemaver_migrated, monkeypatch):
    tenant = schemaver_migrated.bind("shop")
    # A schema of the throwaway database, or a database of its own on MySQL.
    assert tenant.tenant.startswith("schemaver_tmp_")
    assert schemaver_migrated.current("shop") == ("s200",)
    assert schemaver_migrated.rows("item", bind="shop") == [
        {"id": 1, "name": "seed", "price": "1"}
    ]
    with app.app_context():
        # The app's own session, on the tenant: its engine for the bind replaced.
        monkeypatch.setitem(db.engines, "shop", schemaver_migrated.engine("shop"))
        db.session.add(Item(name="ada", price="2"))
        db.session.commit()
        assert db.session.scalars(sa.select(Item.name).order_by(Item.id)).all() == [
            "seed",
            "ada",
        ]
    assert len(schemaver_migrated.rows("item", bind="shop")) == 2


def test_each_test_has_its_copy(schemaver_migrated):
    assert len(schemaver_migrated.rows("item", bind="shop")) == 1
"""


def sample(pytester: pytest.Pytester, urls: dict[str, str]) -> None:
    """A project with a plain default bind and a tenanted ``shop`` bind whose tenant
    function fails if called; its ``app`` fixture points at ``urls``."""
    package = pytester.mkpydir("sample")
    (package / "__init__.py").write_text(APP)
    for rev, spec in REVISIONS.items():
        write_revision(pytester, rev, spec)
    app_conftest(pytester, urls)
    pytester.makepyfile(test_migrated=MIGRATED_TEST)
    pytester.makeini(
        "[pytest]\nschemaver_app = sample\nfilterwarnings = error\n"
        "schemaver_checks = true\n"
    )


def write_revision(
    pytester: pytest.Pytester, rev: str, spec: tuple[str | None, str, str, str]
) -> None:
    down, message, up, back = spec
    folder = pytester.path / "sample" / "migrations" / "shop"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{rev}.py").write_text(
        revision_header(rev, down, message=message)
        + f"\n\ndef upgrade():\n{up}\n\ndef downgrade():\n{back}"
    )


def expected(outcome: str = "PASSED") -> dict[str, str]:
    found = {f"schemaver[default-{c}]": "PASSED" for c in CHECKS}
    found.update({f"schemaver[shop/throwaway-tenant-{c}]": outcome for c in CHECKS})
    return found


@pytest.mark.slow
def test_database_per_tenant_on_sqlite(pytester: pytest.Pytester) -> None:
    sample(
        pytester,
        {"default": "sqlite:///{tmp}/main.db", "shop": "sqlite:///{tmp}/shop.db"},
    )
    result = run(pytester)
    assert outcomes(result) == expected()
    result.assert_outcomes(passed=len(expected()) + 2)
    # Skips name the check by BIND-CHECK as for any bind, or by its id.
    pytester.makeini(
        "[pytest]\nschemaver_app = sample\nschemaver_checks = true\n"
        "schemaver_skip = shop-stairway shop/throwaway-tenant-upgrade\n"
        "schemaver_tenants = shop=schema\n"
    )
    result = run(pytester, "-k", "shop and not migrated")
    found = outcomes(result)
    assert found.pop("schemaver[shop/throwaway-tenant-stairway]") == "SKIPPED"
    assert found.pop("schemaver[shop/throwaway-tenant-upgrade]") == "SKIPPED"
    assert set(found.values()) == {"ERROR"}
    assert (
        "bind 'shop' is on sqlite, which keeps no tenants in schemas of one database"
        in result.stdout.str()
    )
    pytester.makeini(
        "[pytest]\nschemaver_app = sample\nschemaver_checks = true\n"
        "schemaver_tenants = default=schema\n"
    )
    run(pytester).stdout.fnmatch_lines(
        [
            "*schemaver checks: schemaver_tenants: 'default' is not a tenanted bind "
            "of the app; its tenanted binds are: shop*"
        ]
    )


def postgresql_urls() -> dict[str, str]:
    """One database for both binds, as is usual: the default bind's tables in
    public, the tenants' in their schemas. It need not exist: the runner makes its
    own."""
    url = sa.make_url(POSTGRESQL_URL).set(database="sample")
    return dict.fromkeys(("default", "shop"), url.render_as_string(hide_password=False))


@pytest.mark.slow
@pytest.mark.postgresql
def test_schema_per_tenant_on_postgresql(
    pytester: pytest.Pytester, postgresql_server: sa.Engine
) -> None:
    sample(pytester, postgresql_urls())
    # One test of schemaver_migrated: a second would have copies made ahead.
    result = run(pytester, "-k", "shop or at_head")
    found = outcomes(result)
    assert found == {k: v for k, v in expected().items() if "shop" in k}
    result.assert_outcomes(passed=len(found) + 1, deselected=len(CHECKS) + 1)
    # A revision that writes in public, as it could for one database.
    write_revision(pytester, "s300", HARD_CODED)
    result = run(pytester, "-k", "shop and not migrated")
    found = outcomes(result)
    assert found.pop("schemaver[shop/throwaway-tenant-upgrade]") == "FAILED"
    assert set(found.values()) == {"PASSED"}  # it undoes what it does
    text = failure_text(result, "schemaver[shop/throwaway-tenant-upgrade]")
    assert (
        "[shop/schemaver_tmp_tenant] revision s300 ('audit') changes the database "
        "outside the tenant's schema:\n    table public.audit appeared\n"
        "a tenanted bind's revisions name no schema"
    ) in text
    assert "Traceback" not in text


# -- the runner and the checks, in this process ------------------------------------------


@pytest.mark.postgresql
def test_second_tenant_and_the_tenant_function(
    make_app: AppMaker, postgresql_server: sa.Engine, tmp_path: Path
) -> None:
    """The tenant function is never called; the throwaway tenant is a schema of the
    runner's database, or with tenants= a database of its own; a revision that makes
    what a database holds once passes for the first tenant and fails for a second."""
    from flask_schemaver.testing.checks import CheckFailed
    from flask_schemaver.testing.checks import upgrade

    calls: list[str] = []
    app = tenanted_app(make_app, POSTGRESQL_URL, lambda: calls.append("called"))
    with app.app_context():
        add_revision(
            make_app.schemaver,
            "shop",
            "r3",
            upgrade="    op.execute('CREATE EXTENSION IF NOT EXISTS citext')\n"
            "    op.execute('ALTER TABLE item ADD COLUMN email citext')\n",
        )
    databases = ThrowawayDatabases()
    try:
        runner = MigrationRunner(app, databases, tmp_path)
        assert runner.tenant_kinds == {"shop": "schema"}
        tenant = runner.bind("shop")
        assert (tenant.tenant, tenant.tenant_schema) == ("schemaver_tmp_tenant",) * 2
        with pytest.raises(CheckFailed) as caught:
            upgrade(runner, "shop")
        assert str(caught.value).startswith(
            "[shop/schemaver_tmp_tenant] a second tenant in the same database does "
            "not upgrade, though the first did: upgrade of revision r3 ('r3') failed"
        )
        assert 'type "citext" does not exist' in str(caught.value)
        assert runner.current("shop") == ("r3",)  # the first tenant did
        with runner.connect("shop") as connection:
            path = connection.exec_driver_sql("SHOW search_path").scalar()
            assert path == '"schemaver_tmp_tenant"'
        runner.close()
        runner = MigrationRunner(app, databases, tmp_path, tenants={"shop": "database"})
        assert runner.bind("shop").tenant_schema is None
        upgrade(runner, "shop")  # the tenant's database is its own
        runner.close()
    finally:
        databases.close()
    assert calls == []


def test_tenants_from_the_settings_on_sqlite(
    make_app: AppMaker, tmp_path: Path
) -> None:
    """SCHEMAVER_TENANTS names a function that is never imported; on SQLite the
    throwaway tenant is a database of its own, checked as one."""
    from flask_schemaver.testing.checks import CHECKS

    app = tenanted_app(
        make_app,
        make_app.sqlite("shop"),
        list,
        SCHEMAVER_TENANTS={"shop": "no_such_module:shop_tenants"},
    )
    databases = ThrowawayDatabases()
    runner = MigrationRunner(app, databases, tmp_path)
    try:
        assert runner.tenant_kinds == {"shop": "database"}
        assert runner.bind("shop").label == "shop/schemaver_tmp_tenant"
        for check in ("single-head", "upgrade", "models-match"):
            CHECKS[check](runner, "shop", ())
        assert runner.rows("item", bind="shop") == [
            {"id": 1, "name": "seed", "price": "1"}
        ]
    finally:
        runner.close()
    with pytest.raises(ConfigError) as caught:
        MigrationRunner(app, databases, tmp_path, tenants={"shop": "schemas"})
    assert str(caught.value) == (
        "schemaver_tenants: 'shop=schemas' is not BIND=schema or BIND=database"
    )


@pytest.mark.slow
@pytest.mark.mysql
def test_database_per_tenant_on_a_mysql_server(
    pytester: pytest.Pytester, mysql_server: sa.Engine
) -> None:
    """On MySQL/MariaDB a tenant "schema" is a database of the bind's server: the
    checks and the fixture run on a throwaway one, and leave none behind."""
    url = sa.make_url(MYSQL_URL).set(database="sample")
    urls = dict.fromkeys(("default", "shop"), url.render_as_string(False))
    before = _databases(mysql_server)
    sample(pytester, urls)
    result = run(pytester, "-k", "shop or at_head")
    found = outcomes(result)
    assert found == {k: v for k, v in expected().items() if "shop" in k}
    result.assert_outcomes(passed=len(found) + 1, deselected=len(CHECKS) + 1)
    assert _databases(mysql_server) == before


def _databases(server: sa.Engine) -> set[str]:
    with server.connect() as connection:
        return set(connection.exec_driver_sql("SHOW DATABASES").scalars())
