"""Tenanted binds with a database per tenant, on SQLite files: declaring them, choosing
tenants, running the chain on each, failures, resuming, and the throwaway tenant that
migrate and check compare the models with."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from flask_schemaver import ConfigError
from flask_schemaver import MigrationError
from flask_schemaver import RunFailed
from flask_schemaver import UsageError
from helpers import AppMaker
from helpers import cli
from helpers import tables
from helpers import versions
from tenant_helpers import tenanted_app

NAMES = ("acme", "beta", "gamma")


class Files:
    """Tenants in SQLite files under tmp_path; the list can change between calls."""

    def __init__(self, tmp_path: Path, names: tuple[str, ...] = NAMES) -> None:
        self.tmp_path = tmp_path
        self.names = list(names)
        self.calls = 0

    def path(self, name: str) -> Path:
        return self.tmp_path / f"tenant_{name}.db"

    def __call__(self) -> dict[str, str]:
        self.calls += 1
        return {n: f"sqlite:///{self.path(n)}" for n in self.names}


@pytest.fixture
def files(tmp_path: Path) -> Files:
    return Files(tmp_path)


@pytest.fixture
def shop(make_app: AppMaker, files: Files) -> Flask:
    return tenanted_app(make_app, make_app.sqlite("shop"), files)


def test_upgrade_reaches_every_tenant_in_its_own_database(
    shop: Flask, make_app: AppMaker, files: Files
) -> None:
    with shop.app_context():
        results = make_app.schemaver.upgrade()
    assert [(r.bind, r.tenant, r.after) for r in results] == [
        ("default", None, ()),
        *[("shop", n, ("r2",)) for n in NAMES],
    ]
    assert [s.tenant for s in results[1].steps] == ["acme", "acme"]
    for name in NAMES:
        # Its own version and history tables, and the row op.execute wrote.
        assert versions(files.path(name), "alembic_version_shop") == ["r2"]
        assert tables(files.path(name)) == {"item", "alembic_version_shop"}
        engine = sa.create_engine(f"sqlite:///{files.path(name)}")
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT name FROM item").all() == [
                ("seed",)
            ]
            history = connection.exec_driver_sql(
                "SELECT revision FROM alembic_version_shop_history"
            )
            assert history.scalars().all() == ["r1", "r2"]
        engine.dispose()
    # The bind's own database is nobody's tenant: untouched.
    assert tables(Path(make_app.sqlite("shop").removeprefix("sqlite:///"))) == set()
    with shop.app_context():
        assert make_app.schemaver.current() == {
            "default": (),
            **{f"shop/{n}": ("r2",) for n in NAMES},
        }
        states = make_app.schemaver.status("shop", tenant="b*")
        assert [(s.bind, s.tenant, s.up_to_date) for s in states] == [
            ("shop", "beta", True)
        ]
        assert states[0].to_dict()["tenant"] == "beta"
        assert make_app.schemaver.is_current()


def test_upgrade_through_the_cli(shop: Flask, files: Files) -> None:
    out = cli(shop, "upgrade")
    lines = out.splitlines()
    assert "[shop/acme] upgrade <base> → r1  r1" in out
    assert "[shop/gamma] upgrade r1 → r2  r2" in out
    assert lines[-2:] == [
        "default: nothing to do, at <base>",
        "shop: 3 tenants: 3 upgraded, 0 with nothing to do",
    ]
    # Nothing to do: found from the version tables, no tenant named one by one.
    assert cli(shop, "upgrade").splitlines() == [
        "default: nothing to do, at <base>",
        "shop: 3 tenants: 0 upgraded, 3 with nothing to do",
    ]
    status = cli(shop, "status")
    assert "shop: 3 tenants\n  [X] 3 up to date, at r2\n" in status
    assert cli(shop, "current", "--tenant", "acme").splitlines() == [
        "shop/acme: r2 (head)"
    ]
    assert cli(shop, "status", "--tenant", "acme").splitlines()[:2] == [
        f"shop/acme (sqlite:///{files.path('acme')})",
        "  current: r2",
    ]


def test_patterns_choose_tenants(shop: Flask, make_app: AppMaker) -> None:
    with shop.app_context():
        results = make_app.schemaver.upgrade(tenant=["a*", "gam?a"])
        assert [r.tenant for r in results] == ["acme", "gamma"]  # no default either
        assert make_app.schemaver.current(tenant="*") == {
            "shop/acme": ("r2",),
            "shop/beta": (),
            "shop/gamma": ("r2",),
        }
    out = cli(shop, "upgrade", "--tenant", "beta", "r1")
    [step, summary] = out.splitlines()
    assert step.startswith("[shop/beta] upgrade <base> → r1  r1 (")
    assert summary == "shop: 1 tenant: 1 upgraded, 0 with nothing to do"


def test_bad_selections_are_one_line_and_exit_2(
    shop: Flask, make_app: AppMaker
) -> None:
    cases = {
        (
            "upgrade",
            "--tenant",
            "nobody",
        ): "Error: no tenant 'nobody' in bind(s) 'shop'",
        ("upgrade", "--tenant", "z*"): "Error: --tenant 'z*' matches no tenant of "
        "bind(s) 'shop'",
        ("upgrade", "--tenant", f"{NAMES[0]}x"): f"Error: no tenant '{NAMES[0]}x' in "
        f"bind(s) 'shop'; did you mean '{NAMES[0]}'?",
        ("upgrade", "--bind", "default", "--tenant", "acme"): "Error: bind 'default' "
        "has no tenants; --tenant, --all-tenants and --shard select the tenants of "
        "tenanted binds (shop)",
        ("status", "--tenant", ""): "Error: --tenant '' is empty; give a tenant's "
        "name or a pattern such as 'eu-*', or --all-tenants",
        ("downgrade", "--bind", "shop", "base"): "Error: downgrade changes each "
        "tenant's version: name the tenants of shop with --tenant NAME (patterns such "
        "as 'eu-*' allowed), or pass --all-tenants",
        ("stamp", "r1"): "Error: stamp changes each tenant's version: name the "
        "tenants of shop with --tenant NAME (patterns such as 'eu-*' allowed), or "
        "pass --all-tenants",
        ("upgrade", "--sql"): "Error: --sql writes one script per database, and "
        "tenants are not supported by it yet; name the binds without tenants with "
        "--bind",
    }
    for args, message in cases.items():
        out = cli(shop, *args, code=2)
        assert out.splitlines()[-1] == message, args
    with shop.app_context():
        with pytest.raises(UsageError, match="downgrade changes each tenant's"):
            make_app.schemaver.downgrade("base", "shop")
        with pytest.raises(UsageError, match="no tenant 'nobody'"):
            make_app.schemaver.status(tenant="nobody")
        with pytest.raises(UsageError, match=f"did you mean '{NAMES[1]}'"):
            make_app.schemaver.upgrade(tenant=f"{NAMES[1]}a")
        # Nothing ran.
        assert make_app.schemaver.current("shop") == {f"shop/{n}": () for n in NAMES}


def test_downgrade_and_stamp_with_a_selection(shop: Flask, make_app: AppMaker) -> None:
    cli(shop, "upgrade")
    out = cli(shop, "downgrade", "--tenant", "beta")
    assert "[shop/beta] downgrade r2 → r1  r2" in out
    assert out.splitlines()[-1] == "shop: 1 tenant: 1 downgraded, 0 with nothing to do"
    with shop.app_context():
        [result] = make_app.schemaver.stamp("base", tenant="gamma")
        assert (result.tenant, result.before, result.after) == ("gamma", ("r2",), ())
        results = make_app.schemaver.downgrade("r1", tenant="[ab]*")
        assert [(r.tenant, r.before, r.after) for r in results] == [
            ("acme", ("r2",), ("r1",)),
            ("beta", ("r1",), ("r1",)),
        ]
    cli(shop, "downgrade", "--all-tenants", "base")
    with shop.app_context():
        assert make_app.schemaver.current("shop") == {f"shop/{n}": () for n in NAMES}


def test_a_failing_tenant_fails_the_run_and_the_rerun_takes_it_up(
    shop: Flask, make_app: AppMaker, files: Files
) -> None:
    # beta already has a table named item: its first revision fails.
    engine = sa.create_engine(f"sqlite:///{files.path('beta')}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE item (id INTEGER)")
    with shop.app_context(), pytest.raises(RunFailed) as info:
        make_app.schemaver.upgrade("heads", "shop")
    outcomes = [(r.tenant, r.outcome, r.after) for r in info.value.results]
    assert outcomes == [
        ("acme", "done", ("r2",)),
        ("beta", "failed", ()),
        ("gamma", "done", ("r2",)),
    ]
    [error] = info.value.errors
    assert str(error).startswith("[shop/beta] ") and "item" in str(error)
    assert error.tenant == "beta"
    out = cli(shop, "upgrade", code=1)
    assert "Error: [shop/beta] " in out
    assert "shop/beta: failed" in out
    assert out.splitlines()[-1] == (
        "shop: 3 tenants: 0 upgraded, 2 with nothing to do, 1 failed (beta)"
    )
    # Fixed, the next run takes up beta alone.
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE item")
    engine.dispose()
    out = cli(shop, "upgrade")
    assert "[shop/beta] upgrade r1 → r2" in out and "[shop/acme]" not in out
    assert out.splitlines()[-1] == "shop: 3 tenants: 1 upgraded, 2 with nothing to do"


def test_fail_fast_skips_the_tenants_left_and_a_rerun_does_them(
    shop: Flask, make_app: AppMaker, files: Files
) -> None:
    engine = sa.create_engine(f"sqlite:///{files.path('acme')}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE item (id INTEGER)")
    with shop.app_context(), pytest.raises(RunFailed) as info:
        make_app.schemaver.upgrade(fail_fast=True)
    assert [(r.tenant, r.outcome) for r in info.value.results[1:]] == [
        ("acme", "failed"),
        ("beta", "skipped"),
        ("gamma", "skipped"),
    ]
    out = cli(shop, "upgrade", "--tenant", "beta", "--tenant", "gamma")
    assert out.splitlines()[-1] == "shop: 2 tenants: 2 upgraded, 0 with nothing to do"
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE item")
    engine.dispose()
    with shop.app_context():
        results = make_app.schemaver.upgrade()
        assert [(r.tenant, r.note) for r in results] == [
            (None, "nothing to do"),
            ("acme", ""),
            ("beta", "nothing to do"),
            ("gamma", "nothing to do"),
        ]


def test_a_new_tenant_is_brought_to_head_alone(
    shop: Flask, make_app: AppMaker, files: Files
) -> None:
    cli(shop, "upgrade")
    files.names.append("delta")
    out = cli(shop, "upgrade", "--tenant", "delta")
    assert "[shop/delta] upgrade r1 → r2" in out and "acme" not in out
    assert versions(files.path("delta"), "alembic_version_shop") == ["r2"]


def test_jobs_run_tenants_in_workers(shop: Flask, make_app: AppMaker) -> None:
    with shop.app_context():
        results = make_app.schemaver.upgrade(jobs=2)
    assert [(r.tenant, r.after) for r in results] == [
        (None, ()),
        *[(n, ("r2",)) for n in NAMES],
    ]
    out = cli(shop, "downgrade", "--all-tenants", "base", "-j", "3")
    assert out.splitlines()[-1] == "shop: 3 tenants: 3 downgraded, 0 with nothing to do"


def test_migrate_and_check_compare_with_a_throwaway_tenant(
    shop: Flask, make_app: AppMaker, files: Files, tmp_path: Path
) -> None:
    cli(shop, "upgrade")
    # A customer's database that drifted: check and migrate must not see it.
    engine = sa.create_engine(f"sqlite:///{files.path('acme')}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE junk (id INTEGER)")
        connection.exec_driver_sql("ALTER TABLE item DROP COLUMN price")
    engine.dispose()
    assert cli(shop, "check").splitlines() == [
        "default: ok",
        "shop: ok",
        *[f"shop/{n}: ok" for n in NAMES],
    ]
    with shop.app_context():
        assert make_app.schemaver.migrate("nothing", "shop")[0].revisions == []
        # A model added: against a tenant built from the chain, that is the drift.
        sa.Table(
            "extra",
            make_app.db.metadatas["shop"],
            sa.Column("id", sa.Integer, primary_key=True),
        )
        [result] = make_app.schemaver.check("shop", only=["drift"])
        assert (result.bind, result.tenant, result.ok) == ("shop", None, False)
        assert result.drift[0] == "    op.create_table('extra',"
    out = cli(shop, "check", code=1)
    assert "shop: models differ from the database; run 'flask db migrate':" in out
    assert "junk" not in out and "price" not in out
    with shop.app_context():
        [result] = make_app.schemaver.migrate("extra", "shop")
        assert result.bind == "shop"
        assert result.detected == ["create table extra (id INTEGER NOT NULL)"]
        [own, *tenants] = make_app.schemaver.check("shop", only=["drift", "pending"])
        assert (own.bind, own.tenant, own.ok, own.compared) == (
            "shop",
            None,
            True,
            True,
        )
        assert own.gates == ("drift",)
        assert [(r.tenant, r.pending) for r in tenants] == [
            (n, [result.revisions[0].id]) for n in NAMES
        ]
    # No throwaway database is left behind, and no tenant was touched.
    assert versions(files.path("acme"), "alembic_version_shop") == ["r2"]
    assert not list(tmp_path.glob("schemaver_tmp_*"))


def test_tenants_in_config_and_bad_declarations(
    make_app: AppMaker, files: Files, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = types.ModuleType("shop_tenants_module")
    module.list_them = files  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "shop_tenants_module", module)
    app = tenanted_app(
        make_app,
        make_app.sqlite("shop"),
        files,
        SCHEMAVER_TENANTS={"shop": "shop_tenants_module:list_them"},
    )
    with app.app_context():
        assert [r.tenant for r in make_app.schemaver.upgrade()] == [None, *NAMES]

    def broken(**config: Any) -> Flask:
        return make_app(
            make_app.sqlite("main"),
            binds={"shop": make_app.sqlite("shop")},
            tables={None: {}, "shop": {"item": ["name"]}},
            **config,
        )

    refused = {
        "SCHEMAVER_TENANTS['shop'] must be a function": {"shop": 42},
        "names 'nowhere:x', which cannot be imported": {"shop": "nowhere:x"},
        "tenants are declared for unknown bind(s) nope": {"nope": files},
    }
    for message, value in refused.items():
        try:
            app = broken(SCHEMAVER_TENANTS=value)
        except ConfigError as exc:
            assert message in str(exc)
            continue
        with app.app_context(), pytest.raises(ConfigError, match=re.escape(message)):
            make_app.schemaver.status()
        assert message in cli(app, "status", code=1)

    def listing(value: Any) -> Any:
        return lambda: value

    for value, message in [
        ("acme", "returned str; return a list of tenant names"),
        (["a b"], "lists 'a b', which cannot name a tenant"),
        (["a%b"], "lists 'a%b', which cannot name a tenant"),
        (["a", "a"], "lists the tenant 'a' twice"),
        ({"a": 3}, "maps the tenant 'a' to something that is not a database URL"),
        (["a"], "bind 'shop' is on sqlite, which keeps no tenants in schemas"),
        (["schemaver_tmp_1"], "names starting with 'schemaver_tmp_' are kept"),
    ]:
        app = broken(SCHEMAVER_TENANTS={"shop": listing(value)})
        with app.app_context(), pytest.raises(ConfigError, match=re.escape(message)):
            make_app.schemaver.upgrade()
        out = cli(app, "upgrade", code=1)
        assert message in out.splitlines()[-1]

    def failing() -> list[str]:
        raise RuntimeError("the tenants table is gone")

    app = broken(SCHEMAVER_TENANTS={"shop": failing})
    with app.app_context(), pytest.raises(MigrationError) as info:
        make_app.schemaver.status()
    assert str(info.value) == (
        "[shop] the function listing the tenants of bind 'shop' failed: "
        "RuntimeError: the tenants table is gone"
    )
    out = cli(app, "upgrade", code=1)
    assert out.splitlines()[-1] == f"Error: {info.value}"

    app = broken(SCHEMAVER_TENANTS={"shop": files})
    make_app.schemaver.tenants("shop")(lambda: ["x"])
    with app.app_context(), pytest.raises(ConfigError, match="both with"):
        make_app.schemaver.status()
