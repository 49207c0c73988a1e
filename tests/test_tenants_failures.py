"""Tenant fleets when things go wrong, on SQLite files, PostgreSQL schemas and MariaDB
databases: a run killed with SIGKILL in the middle, two fleet runs at once, a tenant
added while a run is going, one tenant failing among many. Whatever happens, every
tenant is at a revision, whole, and the next run brings it to head (on MariaDB, whose
DDL commits as it runs, after ``flask db resolve`` for the tenant left mid-revision).

The runs that are killed or overlap are ``flask db upgrade`` (and the Python API) in
processes of their own; each revision can be held at a barrier in a chosen tenant
(``PAUSE=REV:TENANT``), which says it got there with a file and waits for ``go``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from flask_schemaver import RunFailed
from helpers import AppMaker
from helpers import cli
from helpers import write_revision_file
from tenant_helpers import SHOP_TABLES

pytestmark = pytest.mark.slow

KINDS = [
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.postgresql),
    pytest.param("mysql", marks=pytest.mark.mysql),
]

#: The app in the processes of their own: a ``shop`` bind whose tenants are listed in
#: the file ``tenants`` (SQLite files beside it, or schemas / databases of the bind's
#: server).
APP = """\
import os
import pathlib

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from flask_schemaver import SchemaVer

root = pathlib.Path(os.environ["TEST_ROOT"])
shop = os.environ["TEST_SHOP_URL"]
schemaver = SchemaVer()


def tenants():
    names = (root / "tenants").read_text().split()
    if shop.startswith("sqlite"):
        return {n: f"sqlite:///{root / n}.db" for n in names}
    return names


def create_app():
    app = Flask("fleet")
    app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{root / 'main.db'}"
    app.config["SQLALCHEMY_BINDS"] = {"shop": shop}
    app.config["SCHEMAVER_DIRECTORY"] = str(root / "migrations")
    schemaver.init_app(app, SQLAlchemy(app))
    schemaver.tenants("shop")(tenants)
    return app
"""

#: An upgrade through the Python API, in a process of its own: one line of JSON per
#: tenant, what its run did; in the file ``waiting``, each tenant whose lock it
#: waited for.
API_RUN = """\
import json
import sys

from fleet_app import create_app, root, schemaver
from flask_schemaver import RunFailed


def waiting(wait):
    with (root / "waiting").open("a") as log:
        log.write(f"{wait.tenant}\\n")


with create_app().app_context():
    try:
        results = schemaver.upgrade(jobs=2, on_wait=waiting)
        code = 0
    except RunFailed as exc:
        results, code = exc.results, 1
for r in results:
    print(json.dumps([r.tenant, r.outcome, [s.revision for s in r.steps], r.note]))
sys.exit(code)
"""

#: In each revision: which tenant it runs in, and the barrier.
HEADER = """\
import os
import pathlib
import time


def tenant():
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        return pathlib.Path(bind.engine.url.database).stem
    query = "SELECT current_schema()" if bind.dialect.name == "postgresql" else "SELECT DATABASE()"
    return bind.exec_driver_sql(query).scalar()


def barrier(rev):
    where, _, who = os.environ.get("PAUSE", "").partition(":")
    name = tenant()
    if where != rev or who not in (name, "*"):
        return
    root = pathlib.Path(os.environ["TEST_ROOT"])
    (root / f"{rev}.{name}.paused").write_text(str(os.getpid()))
    deadline = time.monotonic() + 60
    while not (root / "go").exists():
        if time.monotonic() > deadline:
            raise RuntimeError("never released")
        time.sleep(0.02)
"""

R1 = """\
op.create_table('item', sa.Column('id', sa.Integer, primary_key=True),
                sa.Column('name', sa.String(50)))
barrier('r1')
"""
#: DDL, the barrier, then a row: held at the barrier, r2 is part done.
R2 = """\
op.add_column('item', sa.Column('price', sa.String(50)))
barrier('r2')
op.execute("INSERT INTO item (name, price) VALUES ('seed', '1')")
"""


@dataclasses.dataclass(frozen=True)
class Seen:
    """One tenant, as read straight from its schema or database."""

    version: tuple[str, ...]
    #: The history rows: (revision, direction), in order.
    history: tuple[tuple[str, str], ...]
    #: The item table's columns (() without the table), and its rows.
    columns: tuple[str, ...]
    rows: int

    def applied(self) -> list[str]:
        return [rev for rev, direction in self.history if direction == "upgrade"]

    def at_head(self, applied: tuple[str, ...] = ("r1", "r2")) -> bool:
        """At r2, each revision (of those ``applied`` here) applied once, whole: its
        table, column and row."""
        return (
            self.version == ("r2",)
            and self.applied() == list(applied)
            and self.columns == ("id", "name", "price")
            and self.rows == 1
        )


#: A tenant no run has touched.
UNTOUCHED = Seen((), (), (), 0)


class Fleet:
    """A ``shop`` bind's tenants of one kind, the files the processes share, and the
    app that looks at them from the test."""

    def __init__(self, kind: str, root: Path, url: str, prefix: str) -> None:
        self.kind = kind
        self.root = root
        self.url = url
        self.prefix = prefix
        self.names: list[str] = []
        self.procs: list[subprocess.Popen[str]] = []
        (root / "fleet_app.py").write_text(APP)
        (root / "api_run.py").write_text(API_RUN)
        folder = root / "migrations" / "shop"
        write_revision_file(folder, "r1", None, header=HEADER, upgrade=R1)
        write_revision_file(folder, "r2", "r1", header=HEADER, upgrade=R2)
        self.server = (
            None
            if kind == "sqlite"
            else sa.create_engine(url, poolclass=sa.pool.NullPool)
        )

    def name(self, number: int) -> str:
        return f"{self.prefix}{number:03d}"

    def add(self, count: int) -> list[str]:
        """``count`` new tenants: their schemas or databases made (in one batch of
        statements where the server takes one), then listed."""
        names = [self.name(len(self.names) + i) for i in range(count)]
        self.names += names  # dropped afterwards, even if making them fails
        if self.server is not None:
            with self.server.begin() as connection:
                if self.kind == "postgresql":
                    connection.exec_driver_sql(
                        "; ".join(f'CREATE SCHEMA "{n}"' for n in names)
                    )
                else:
                    for n in names:
                        connection.exec_driver_sql(f"CREATE DATABASE `{n}`")
        (self.root / "tenants").write_text("\n".join(self.names) + "\n")
        return names

    def behind(self) -> None:
        """Every tenant at r1, as an earlier deploy left it, but made with plain SQL
        in one batch (not revision by revision, tenant by tenant)."""
        if self.server is None:
            for name in self.names:
                with sqlite3.connect(self.root / f"{name}.db") as connection:
                    dialect = sa.create_engine("sqlite://").dialect
                    connection.executescript(";".join(_at_r1(dialect, None)))
            return
        with self.server.begin() as connection:
            statements = [s for n in self.names for s in _at_r1(connection.dialect, n)]
            if self.kind == "postgresql":
                connection.exec_driver_sql("; ".join(statements))
            else:
                for statement in statements:
                    connection.exec_driver_sql(statement)

    def listing(self) -> dict[str, str] | list[str]:
        """What the tenant function of the test's own app returns."""
        names = (self.root / "tenants").read_text().split()
        if self.kind == "sqlite":
            return {n: f"sqlite:///{self.root / n}.db" for n in names}
        return names

    def app(self, make_app: AppMaker, **config: Any) -> Flask:
        app = make_app(
            binds={"shop": self.url},
            tables=SHOP_TABLES,
            SCHEMAVER_DIRECTORY=str(self.root / "migrations"),
            **config,
        )
        make_app.schemaver.tenants("shop")(self.listing)
        return app

    def start(self, *args: str, **env: str) -> subprocess.Popen[str]:
        """``flask db ARGS`` (or, with ``api_run.py`` first, that script) in a process
        group of its own."""
        command = ["-m", "flask", "db", *args] if args[:1] != ("api_run.py",) else args
        proc = subprocess.Popen(
            [sys.executable, *command],
            cwd=self.root,
            env=dict(
                os.environ,
                TEST_ROOT=str(self.root),
                TEST_SHOP_URL=self.url,
                FLASK_APP="fleet_app:create_app",
                NO_COLOR="1",
                **env,
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def wait_for(self, name: str, proc: subprocess.Popen[str]) -> None:
        """Until the file ``name`` is there (the process must not end first)."""
        deadline = time.monotonic() + 60
        while not (self.root / name).exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"{name} never appeared: {proc.communicate()}")
            time.sleep(0.02)

    def release(self) -> None:
        (self.root / "go").touch()

    def read(self) -> dict[str, Seen]:
        """Every tenant listed, read with plain SQL, not through flask_schemaver."""
        if self.server is None:
            return {n: _read_sqlite(self.root / f"{n}.db") for n in self.names}
        with self.server.connect() as connection:
            return _read_schemas(connection, self.names)

    def stop(self) -> None:
        """Kill what is left of the processes started (a failed test's)."""
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()

    def drop(self) -> None:
        self.stop()  # else they would hold the databases
        if self.server is None:
            return
        if self.kind == "mysql":
            with self.server.connect() as connection:
                for name in self.names:
                    connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        self.server.dispose()


def _at_r1(dialect: sa.Dialect, schema: str | None) -> list[str]:
    """The statements that leave a tenant (in ``schema``) as r1 did."""
    metadata = sa.MetaData(schema=schema)
    item = sa.Table(
        "item",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(50)),
    )
    version = sa.Table(
        "alembic_version_shop",
        metadata,
        sa.Column("version_num", sa.String(32), primary_key=True),
    )
    made = [
        str(sa.schema.CreateTable(t).compile(dialect=dialect)) for t in (item, version)
    ]
    record = version.insert().values(version_num="r1")
    return [
        *made,
        str(record.compile(dialect=dialect, compile_kwargs={"literal_binds": True})),
    ]


def _read_sqlite(path: Path) -> Seen:
    engine = sa.create_engine(f"sqlite:///{path}", poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            tables = set(sa.inspect(connection).get_table_names())

            def query(sql: str, table: str) -> list[Any]:
                if table not in tables:
                    return []
                return [tuple(r) for r in connection.exec_driver_sql(sql)]

            version = query(
                "SELECT version_num FROM alembic_version_shop", "alembic_version_shop"
            )
            history = query(
                "SELECT revision, direction FROM alembic_version_shop_history ORDER BY id",
                "alembic_version_shop_history",
            )
            columns = (
                [c["name"] for c in sa.inspect(connection).get_columns("item")]
                if "item" in tables
                else []
            )
            rows = query("SELECT count(*) FROM item", "item")
    finally:
        engine.dispose()
    return Seen(
        tuple(v for (v,) in version),
        tuple(history),
        tuple(sorted(columns)),
        rows[0][0] if rows else 0,
    )


def _read_schemas(connection: sa.Connection, names: list[str]) -> dict[str, Seen]:
    """Tenants in schemas (PostgreSQL) or databases (MariaDB) of one server: a few
    statements for all of them."""
    quote = connection.dialect.identifier_preparer.quote_identifier
    found = connection.execute(
        sa.text(
            "SELECT table_schema, table_name, column_name FROM "
            "information_schema.columns WHERE table_schema IN :names"
        ).bindparams(sa.bindparam("names", expanding=True)),
        {"names": names},
    )
    tables: dict[str, set[str]] = {n: set() for n in names}
    columns: dict[str, list[str]] = {n: [] for n in names}
    for schema, table, column in found:
        tables[schema].add(table)
        if table == "item":
            columns[schema].append(column)

    def union(table: str, select: str, order: str = "") -> dict[str, list[Any]]:
        having = [n for n in names if table in tables[n]]
        got: dict[str, list[Any]] = {n: [] for n in names}
        if having:
            sql = " UNION ALL ".join(
                f"SELECT {i} AS n, {select} FROM {quote(n)}.{quote(table)}"
                for i, n in enumerate(having)
            )
            for number, *values in connection.exec_driver_sql(sql + order):
                got[having[number]].append(tuple(values))
        return got

    versions = union("alembic_version_shop", "version_num")
    history = union(
        "alembic_version_shop_history", "id, revision, direction", " ORDER BY n, id"
    )
    rows = union("item", "count(*)")
    return {
        n: Seen(
            tuple(v for (v,) in versions[n]),
            tuple((rev, way) for _, rev, way in history[n]),
            tuple(sorted(columns[n])),
            rows[n][0][0] if rows[n] else 0,
        )
        for n in names
    }


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def fleet(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Fleet]:
    """An empty fleet of ``kind``: on PostgreSQL its schemas in a new database, on
    MariaDB new databases of the server, uniquely named and dropped afterwards."""
    prefix = "t"
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'shop.db'}"
    elif kind == "postgresql":
        url = request.getfixturevalue("postgresql_db")()
    else:
        url = request.getfixturevalue("mysql_db")()
        prefix = f"sv{uuid.uuid4().hex[:8]}_"
    made = Fleet(kind, tmp_path, url, prefix)
    try:
        yield made
    finally:
        made.drop()


def finished(proc: subprocess.Popen[str], code: int = 0) -> tuple[str, str]:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == code, out + err
    assert "Traceback" not in err
    return out, err


def test_killed_in_the_middle_then_run_again(fleet: Fleet, make_app: AppMaker) -> None:
    names = fleet.add(6)
    killed = names[2]
    proc = fleet.start("upgrade", PAUSE=f"r2:{killed}")
    fleet.wait_for(f"r2.{killed}.paused", proc)
    os.killpg(proc.pid, signal.SIGKILL)  # as when the machine or the pod goes
    proc.communicate(timeout=60)
    seen = fleet.read()
    assert all(seen[n].at_head() for n in names[:2]), seen
    assert all(seen[n] == UNTOUCHED for n in names[3:]), seen
    mid = seen[killed]
    assert (mid.version, mid.applied(), mid.rows) == (("r1",), ["r1"], 0)
    if fleet.kind != "mysql":
        # r2 rolled back whole with its transaction: not even its column is left.
        assert mid == Seen(("r1",), (("r1", "upgrade"),), ("id", "name"), 0)
    else:
        # Its column stayed (MariaDB commits DDL as it runs), and its start is
        # recorded.
        assert mid.columns == ("id", "name", "price")
        assert mid.history[-1] == ("r2", "started-up")

    # The rerun takes up every tenant not at head, and waits for no lock: the dead
    # run's went with its connections (or, on SQLite, its open file).
    app = fleet.app(make_app, SCHEMAVER_LOCK_TIMEOUT=5)
    waits: list[Any] = []
    with app.app_context():
        if fleet.kind != "mysql":
            results = make_app.schemaver.upgrade(on_wait=waits.append)
        else:
            with pytest.raises(RunFailed) as info:
                make_app.schemaver.upgrade(on_wait=waits.append)
            results = info.value.results
    assert waits == []
    steps = {r.tenant: [s.revision for s in r.steps] for r in results[1:]}
    assert steps == {
        **{n: [] for n in names[:2]},
        killed: ["r2"] if fleet.kind != "mysql" else [],
        **{n: ["r1", "r2"] for n in names[3:]},
    }
    if fleet.kind == "mysql":
        # The tenant left mid-revision is refused, with the way out named.
        out = cli(app, "upgrade", code=1)
        [error] = [line for line in out.splitlines() if line.startswith("Error")]
        assert error.startswith(f"Error: [shop/{killed}] the upgrade of r2, started ")
        assert error.endswith(
            "never finished, and mysql commits DDL statement by statement: part of "
            "it may be in the database; check the schema, then record what is there "
            f"with 'flask db resolve --bind shop --tenant {killed} r2 --applied' (all "
            "of it) or '--rolled-back' (none of it)"
        )
        assert out.splitlines()[-1] == (
            f"shop: 6 tenants: 0 upgraded, 5 with nothing to do, 1 failed ({killed})"
        )
        assert fleet.server is not None
        with fleet.server.begin() as connection:
            connection.exec_driver_sql(f"ALTER TABLE `{killed}`.item DROP COLUMN price")
        out = cli(
            app, "resolve", "--bind", "shop", "--tenant", killed, "r2", "--rolled-back"
        )
        assert out.startswith(f"shop/{killed}: upgrade of r2, started ")
        assert out.endswith(": rolled back, at r1\n")
        out = cli(app, "upgrade")
        assert f"[shop/{killed}] upgrade r1 → r2" in out
    seen = fleet.read()
    assert all(s.at_head() for s in seen.values()), seen
    with app.app_context():
        assert make_app.schemaver.is_current()


#: Tenants in the fleets that two runs migrate at once.
SIZES = {"sqlite": 12, "postgresql": 200, "mysql": 30}


def test_two_fleet_runs_at_once_while_a_tenant_is_added(
    fleet: Fleet, make_app: AppMaker
) -> None:
    names = fleet.add(SIZES[fleet.kind])
    fleet.behind()
    # One run through the CLI, held in r2 of its first two tenants; then one
    # through the Python API, which finds them behind and waits for their locks.
    runs = [fleet.start("upgrade", "--jobs", "2", PAUSE="r2:*")]
    for name in names[:2]:
        fleet.wait_for(f"r2.{name}.paused", runs[0])
    runs.append(fleet.start("api_run.py"))
    fleet.wait_for("waiting", runs[1])
    # A customer signs up meanwhile: listed after both runs listed theirs.
    [added] = fleet.add(1)
    fleet.release()
    (out, _), (api_out, _) = [finished(p) for p in runs]
    seen = fleet.read()
    assert all(seen[n].at_head(("r2",)) for n in names), [
        (n, s) for n, s in seen.items() if not s.at_head(("r2",))
    ]
    # Each tenant was migrated by one run: what the runs say adds up.
    summary = out.splitlines()[-1]
    prefix = f"shop: {len(names)} tenants: "
    assert summary.startswith(prefix)
    by_cli = int(summary.removeprefix(prefix).split()[0])
    reported = [json.loads(line) for line in api_out.splitlines()]
    assert [tenant for tenant, *_ in reported] == [None, *names]
    assert all(outcome == "done" for _, outcome, _, _ in reported)
    assert all(steps in ([], ["r2"]) for _, _, steps, _ in reported)
    by_api = [tenant for tenant, _, steps, _ in reported if steps]
    assert by_cli + len(by_api) == len(names), (summary, by_api)
    # The API's run waited for a tenant the CLI's held, and found it done.
    waited = set((fleet.root / "waiting").read_text().split())
    assert waited & set(names[:2])
    assert all(steps == [] for tenant, _, steps, _ in reported if tenant in waited)
    # The new tenant was left whole for the next run, which brings it to head.
    assert seen[added] == UNTOUCHED
    app = fleet.app(make_app)
    out = cli(app, "upgrade")
    assert f"[shop/{added}] upgrade <base> → r1" in out
    assert out.splitlines()[-1] == (
        f"shop: {len(names) + 1} tenants: 1 upgraded, {len(names)} with nothing to do"
    )
    assert fleet.read()[added].at_head()
    with app.app_context():
        assert make_app.schemaver.is_current()


@pytest.mark.parametrize("kind", KINDS[1:])
def test_one_tenant_failing_among_many(fleet: Fleet, make_app: AppMaker) -> None:
    names = fleet.add(20 if fleet.kind == "postgresql" else 8)
    fleet.behind()
    # bad already has the column r2 adds: r2 fails there, and there only.
    bad = names[0]
    assert fleet.server is not None
    quoted = f'"{bad}"' if fleet.kind == "postgresql" else f"`{bad}`"
    with fleet.server.begin() as connection:
        connection.exec_driver_sql(
            f"ALTER TABLE {quoted}.item ADD COLUMN price VARCHAR(50)"
        )
    app = fleet.app(make_app)
    # --fail-fast with workers: no tenant starts after the failure is known.
    out = cli(app, "upgrade", "--jobs", "2", "--fail-fast", code=1)
    [error] = [line for line in out.splitlines() if line.startswith("Error")]
    assert error.startswith(f"Error: [shop/{bad}] upgrade of revision r2 ")
    assert "price" in error
    if fleet.kind == "mysql":
        assert error.endswith(
            "then record what is there with 'flask db resolve --bind shop --tenant "
            f"{bad} r2 --applied' (all of it) or '--rolled-back' (none)"
        )
    seen = fleet.read()
    behind = Seen(("r1",), (), ("id", "name"), 0)
    done = [n for n in names if seen[n].at_head(("r2",))]
    skipped = [n for n in names if seen[n] == behind]
    assert len(done) + len(skipped) == len(names) - 1 and bad not in done + skipped
    assert skipped, out  # the tenants still waiting when bad failed
    assert out.splitlines()[-1] == (
        f"shop: {len(names)} tenants: {len(done)} upgraded, 0 with nothing to do, 1 "
        f"failed ({bad}), {len(skipped)} skipped"
    )
    # It stays at its last good revision: r2 rolled back (PostgreSQL), or, where
    # DDL commits as it runs, recorded as started.
    left = seen[bad]
    assert (left.version, left.applied(), left.rows) == (("r1",), [], 0)
    assert left.history == (
        () if fleet.kind == "postgresql" else (("r2", "started-up"),)
    )

    # Without --fail-fast: every other tenant reaches head, the run exits 1.
    with app.app_context(), pytest.raises(RunFailed) as info:
        make_app.schemaver.upgrade(jobs=2)
    outcomes = {r.tenant: r.outcome for r in info.value.results[1:]}
    assert outcomes == {n: "failed" if n == bad else "done" for n in names}
    [failed] = info.value.errors
    assert str(failed).startswith(f"[shop/{bad}] ")
    seen = fleet.read()
    assert [n for n in names if not seen[n].at_head(("r2",))] == [bad]
    assert seen[bad].version == ("r1",)

    with fleet.server.begin() as connection:
        connection.exec_driver_sql(f"ALTER TABLE {quoted}.item DROP COLUMN price")
    if fleet.kind == "mysql":
        assert "never finished" in str(failed)
        cli(app, "resolve", "--tenant", bad, "r2", "--rolled-back")
    out = cli(app, "upgrade")
    assert out.splitlines()[-1] == (
        f"shop: {len(names)} tenants: 1 upgraded, {len(names) - 1} with nothing to do"
    )
    assert all(s.at_head(("r2",)) for s in fleet.read().values())
