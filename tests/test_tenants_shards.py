"""Shards of a fleet (``--shard K/N``, ``shard=``): a deterministic share of the
tenants selected, for a CI matrix or a Kubernetes indexed Job; and the cap on the
``--jobs`` workers on one database server (``SCHEMAVER_JOBS_PER_SERVER``)."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask
from flask.cli import FlaskGroup
from hypothesis import given
from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st

from flask_schemaver import ConfigError
from flask_schemaver import RunResult
from flask_schemaver import Shard
from flask_schemaver import UsageError
from flask_schemaver.options import parse_shard
from flask_schemaver.options import RunOptions
from flask_schemaver.verbs.parallel import run_binds
from helpers import AppMaker
from helpers import cli
from helpers import MakeDatabase
from helpers import versions
from tenant_helpers import rows
from tenant_helpers import tenanted_app

NAMES = [f"t{i:02d}" for i in range(12)]


@settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    st.sets(
        st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.$-]{0,20}", fullmatch=True),
        max_size=30,
    ),
    st.integers(min_value=1, max_value=9),
)
def test_shards_hold_every_tenant_exactly_once(names: set[str], count: int) -> None:
    for name in names:
        holding = [k for k in range(1, count + 1) if Shard(k, count).holds(name)]
        assert len(holding) == 1, (name, count, holding)


def test_a_tenants_shard_is_the_same_in_every_process() -> None:
    # Pinned: a change of the hash (or Python's own, salted per process) would move
    # tenants between the jobs of a running CI matrix.
    found = {n: [k for k in (1, 2, 3, 4) if Shard(k, 4).holds(n)] for n in NAMES[:6]}
    assert found == {
        "t00": [1],
        "t01": [1],
        "t02": [2],
        "t03": [4],
        "t04": [2],
        "t05": [3],
    }
    code = "from flask_schemaver import Shard; print(Shard(2, 4).holds('t02'))"
    ran = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "123"},
    )
    assert ran.stdout == "True\n"


def test_bad_shards_are_refused() -> None:
    assert parse_shard("2/4") == parse_shard((2, 4)) == Shard(2, 4)
    assert str(Shard(2, 4)) == "2/4" and parse_shard(None) is None
    for bad, shown in [
        ("0/4", "0/4"),
        ("5/4", "5/4"),
        ("a/b", "a/b"),
        ("1/0", "1/0"),
        ("1/2/3", "1/2/3"),
        ("-1/4", "-1/4"),
        ("", ""),
        ((1,), "1"),
        ((True, 2), "True/2"),
    ]:
        with pytest.raises(UsageError) as info:
            parse_shard(bad)  # type: ignore[arg-type]
        assert str(info.value) == (
            f"--shard {shown!r} is not a share of the tenants: give K/N, the K-th of "
            "N shares, with N 1 or more and K from 1 to N (e.g. 2/4)"
        )


@pytest.fixture
def shop(make_app: AppMaker, tmp_path: Path) -> Flask:
    """Twelve tenants, each in a SQLite file of its own."""
    urls = {n: f"sqlite:///{tmp_path / n}.db" for n in NAMES}
    return tenanted_app(make_app, make_app.sqlite("shop"), lambda: urls)


def test_api_shards_cover_every_tenant_once(
    shop: Flask, make_app: AppMaker, tmp_path: Path
) -> None:
    schemaver = make_app.schemaver
    done: list[str] = []
    with shop.app_context():
        for k in (1, 2, 3):
            shard = (k, 3) if k == 2 else f"{k}/3"
            names = schemaver.tenant_names(shard=shard)["shop"]
            assert names == [n for n in NAMES if Shard(k, 3).holds(n)]
            # The bind without tenants is left out, as with tenant=.
            results = schemaver.upgrade(shard=shard)
            assert [(r.bind, r.tenant, r.after) for r in results] == [
                ("shop", n, ("r2",)) for n in names
            ]
            assert [s.tenant for s in schemaver.status(shard=shard)] == names
            assert schemaver.is_current(shard=shard)
            done += names
        assert sorted(done) == NAMES
        assert all(
            versions(tmp_path / f"{n}.db", "alembic_version_shop") == ["r2"]
            for n in NAMES
        )
        # After the patterns: the share of the tenants they select.
        assert list(schemaver.current(tenant="t0*", shard="1/3")) == [
            f"shop/{n}" for n in NAMES if n < "t10" and Shard(1, 3).holds(n)
        ]
        # Taking a database back still needs the tenants named.
        with pytest.raises(UsageError, match="downgrade changes each tenant's"):
            schemaver.downgrade("r1", "shop", shard="2/3")
        results = schemaver.downgrade("r1", tenant="*", shard="2/3")
        assert [r.tenant for r in results] == [n for n in NAMES if Shard(2, 3).holds(n)]


def test_an_empty_shard_is_no_error(shop: Flask, make_app: AppMaker) -> None:
    empty = next(
        k for k in range(1, 41) if not any(Shard(k, 40).holds(n) for n in NAMES)
    )
    with shop.app_context():
        assert make_app.schemaver.tenant_names(shard=(empty, 40)) == {"shop": []}
        assert make_app.schemaver.upgrade(shard=(empty, 40)) == []
        assert make_app.schemaver.status(shard=(empty, 40)) == []
    for command in ("upgrade", "status", "current"):
        out = cli(shop, command, "--shard", f"{empty}/40")
        assert out == f"shard {empty}/40 of bind shop: no tenants\n", command


def test_shards_through_the_cli(shop: Flask, make_app: AppMaker) -> None:
    counts = []
    for k in (1, 2, 3):
        out = cli(shop, "upgrade", "--shard", f"{k}/3", "--jobs", "2")
        size = sum(Shard(k, 3).holds(n) for n in NAMES)
        noun = "tenant" if size == 1 else "tenants"
        assert out.splitlines()[-1] == (
            f"shop: {size} {noun}: {size} upgraded, 0 with nothing to do"
        )
        assert "default" not in out
        counts.append(size)
    assert sum(counts) == len(NAMES)
    second = [n for n in NAMES if Shard(2, 3).holds(n)]
    assert cli(shop, "check", "--shard", "2/3").splitlines() == [
        "shop: ok",
        *[f"shop/{n}: ok" for n in second],
    ]
    out = cli(shop, "history", "-i", "--shard", "2/3")
    assert [line for line in out.splitlines() if line.endswith(":")] == [
        f"shop/{n}:" for n in second
    ]
    out = cli(shop, "status", "--all-tenants", "--shard", "1/3")
    assert out.startswith(f"shop: {counts[0]} tenants\n  [X] {counts[0]} up to date")
    out = cli(shop, "downgrade", "--tenant", "t0*", "--shard", "3/3", "r1")
    size = sum(Shard(3, 3).holds(n) for n in NAMES[:10])
    assert out.splitlines()[-1].startswith(f"shop: {size} tenant")
    with shop.app_context():
        behind = [
            label for label, at in make_app.schemaver.current().items() if at == ("r1",)
        ]
    assert behind == [f"shop/{n}" for n in NAMES[:10] if Shard(3, 3).holds(n)]


def test_bad_shards_through_the_cli(shop: Flask, make_app: AppMaker) -> None:
    for value in ("0/4", "5/4", "a/b", "1/0", "3"):
        out = cli(shop, "upgrade", "--shard", value, code=2)
        [error] = [line for line in out.splitlines() if line.startswith("Error")]
        assert error == (
            f"Error: Invalid value for '--shard': {value!r}: give K/N, the K-th of N "
            "shares, with N 1 or more and K from 1 to N (e.g. 2/4)"
        )
    out = cli(shop, "status", "--bind", "default", "--shard", "1/2", code=2)
    assert out.splitlines()[-1] == (
        "Error: bind 'default' has no tenants; --tenant, --all-tenants and --shard "
        "select the tenants of tenanted binds (shop)"
    )
    plain = make_app()
    out = cli(plain, "upgrade", "--shard", "1/2", code=2)
    assert out.splitlines() == [
        "Error: --tenant, --all-tenants and --shard select the tenants of tenanted "
        "binds, and the app declares none (see @schemaver.tenants)"
    ]
    with plain.app_context(), pytest.raises(UsageError, match="declares none"):
        make_app.schemaver.status(shard="1/2")


# -- PostgreSQL: a schema per tenant, and two shard runs at once ------------------------

#: An app whose ``shop`` bind keeps its tenants in the schemas TEST_TENANTS names,
#: for ``flask db`` in processes of their own.
SHARD_APP = """\
import os
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from flask_schemaver import SchemaVer

def tenants():
    return os.environ["TEST_TENANTS"].split(",")

def create_app():
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["TEST_MAIN_URL"]
    app.config["SQLALCHEMY_BINDS"] = {"shop": os.environ["TEST_SHOP_URL"]}
    app.config["SCHEMAVER_DIRECTORY"] = os.environ["TEST_MIGRATIONS"]
    app.config["SCHEMAVER_TENANTS"] = {"shop": "shard_app:tenants"}
    SchemaVer(app, SQLAlchemy(app))
    return app
"""


@pytest.mark.postgresql
def test_shards_of_schemas_and_overlapping_runs(
    make_app: AppMaker, postgresql_db: MakeDatabase, tmp_path: Path
) -> None:
    url = postgresql_db()
    names = [f"shop_{i:02d}" for i in range(16)]
    outside = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with outside.begin() as connection:
        for name in names:
            connection.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    app = tenanted_app(make_app, url, lambda: names)
    picked: list[str] = []
    with app.app_context():
        for k in (1, 2, 3):
            results = make_app.schemaver.upgrade("r1", shard=f"{k}/3")
            picked += [r.tenant or "" for r in results if r.after == ("r1",)]
    assert sorted(picked) == names  # each schema in one shard, and only one
    # Two runs at once over overlapping tenants: half of them in both. The lock of
    # each tenant lets one of them migrate it; the other finds it done.
    (tmp_path / "shard_app.py").write_text(SHARD_APP)
    env = dict(
        os.environ,
        TEST_TENANTS=",".join(names),
        TEST_MAIN_URL=make_app.sqlite("main"),
        TEST_SHOP_URL=url,
        TEST_MIGRATIONS=str(make_app.migrations),
        FLASK_APP="shard_app:create_app",
        NO_COLOR="1",
    )
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "flask", "db", "upgrade", *args],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for args in (["--shard", "1/2"], ["--all-tenants"])
    ]
    for run in runs:
        out, _ = run.communicate(timeout=120)
        assert run.returncode == 0, out
    # Each revision ran once in each schema: one history row each, no failure.
    found = rows(
        outside,
        " UNION ALL ".join(
            f"SELECT '{n}', revision FROM \"{n}\".alembic_version_shop_history"
            for n in names
        ),
    )
    assert sorted(found) == sorted((n, r) for n in names for r in ("r1", "r2"))
    out = cli(app, "status", "--shard", "2/2")
    size = sum(Shard(2, 2).holds(n) for n in names)
    assert out.startswith(f"shop: {size} tenants\n  [X] {size} up to date, at r2")
    outside.dispose()


# -- the cap on workers per database server --------------------------------------------


def test_workers_per_server_are_capped(make_app: AppMaker) -> None:
    """Twelve databases on three servers, four workers: never more than the cap at
    once on one server, while the servers are worked on side by side."""
    app = make_app()
    with app.app_context():
        [base] = make_app.schemaver.targets()
    urls = [f"mysql+pymysql://u@server-{s}:3306/d{i}" for s in "ab" for i in range(4)]
    urls += [f"sqlite:///{make_app.tmp_path}/d{i}.db" for i in range(4)]
    binds = [
        dataclasses.replace(base, engine=sa.create_engine(u), tenant=str(i))
        for i, u in enumerate(urls)
    ]
    servers = {b.engine.url.host or "files": n for n, b in enumerate(binds[::4])}
    context = multiprocessing.get_context("fork")
    running, peak, lock = context.Array("i", 4), context.Array("i", 4), context.Lock()

    def run(bind: Any, options: RunOptions) -> RunResult:
        server = servers[bind.engine.url.host or "files"]
        with lock:
            for slot in (server, 3):  # this server, and all of them together
                running[slot] += 1
                peak[slot] = max(peak[slot], running[slot])
        time.sleep(0.1)
        with lock:
            running[server] -= 1
            running[3] -= 1
        return RunResult(bind.name, (), ("r1",))

    for cap in (1, 2):
        peak[:] = [0, 0, 0, 0]
        results = run_binds(
            binds, RunOptions("upgrade", "heads"), run, jobs=4, per_server=cap
        )
        assert [r.after for r in results] == [("r1",)] * 12
        assert [r.tenant for r in results] == [str(i) for i in range(12)]
        assert max(peak[:3]) == cap, list(peak)
        assert peak[3] > cap, list(peak)  # the servers, side by side


def test_a_bad_cap_is_refused(make_app: AppMaker) -> None:
    for value in (0, "2", 1.5, True):
        with pytest.raises(ConfigError) as info:
            make_app(SCHEMAVER_JOBS_PER_SERVER=value)
        assert str(info.value) == (
            "SCHEMAVER_JOBS_PER_SERVER must be a whole number, 1 or more, or None for "
            "no limit but --jobs"
        )
    result = CliRunner().invoke(
        FlaskGroup(create_app=lambda: make_app(SCHEMAVER_JOBS_PER_SERVER=-1)),
        ["db", "upgrade"],
    )
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"Error: {info.value}"]


def test_the_cap_in_a_run(make_app: AppMaker, tmp_path: Path) -> None:
    """The setting reaches the workers: SQLite files, on no server, count as one, so
    with a cap of 1 the tenants run one after another, whatever --jobs says."""
    app = tenanted_app(
        make_app,
        make_app.sqlite("shop"),
        lambda: {n: f"sqlite:///{tmp_path / n}.db" for n in NAMES[:4]},
        SCHEMAVER_JOBS_PER_SERVER=1,
    )
    seen: list[str | None] = []
    with app.app_context():
        results = make_app.schemaver.upgrade(
            jobs=3,
            on_start=lambda step: seen.append(step.tenant),
            on_step=lambda step: seen.append(step.tenant),
        )
    assert [(r.tenant, r.after) for r in results[1:]] == [
        (n, ("r2",)) for n in NAMES[:4]
    ]
    # Each tenant's two revisions started and done before the next tenant's.
    assert seen == [n for n in NAMES[:4] for _ in range(4)]
