"""Benchmark: a tenanted bind with a schema per tenant on PostgreSQL (issue targets).

Usage (from the repository root, PostgreSQL running):

    python benchmarks/tenants.py                       # 200 and 1,000 tenant schemas
    python benchmarks/tenants.py --tenants 1000 --sample 50
    python benchmarks/tenants.py --postgresql postgresql+psycopg://postgres@127.0.0.1/postgres

For each fleet size, makes a database with that many schemas, an app whose ``shop``
bind lists them as its tenants, and a revision that creates a table; brings every
tenant to it, then times, each command a process of its own as on a deploy:

-   a no-op ``flask db upgrade`` over every tenant (median of ``--repeat``);
-   ``flask db status`` over every tenant (median of ``--repeat``);
-   one new revision (a nullable column and an index) over every tenant with
    ``--jobs 2``;
-   the anchor, what teams write by hand today: one ``flask db upgrade --tenant T``
    process per tenant, timed on ``--sample`` tenants and extrapolated to all.

Prints each wall time with the resident memory of its process (flat in the number
of tenants when the sizes show the same), the anchor's ratio to the fleet run, and
each target of the tenants issue as met or missed. The databases are dropped.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

APP = """
import os
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from flask_schemaver import SchemaVer

db = SQLAlchemy()
schemaver = SchemaVer()


class Item(db.Model):
    __bind_key__ = "shop"
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(50))
    price = db.Column(db.Integer, index=True)


@schemaver.tenants("shop")
def shop_tenants():
    return [f"t{{i:04d}}" for i in range(int(os.environ["BENCH_TENANTS"]))]


def create_app():
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite://"
    app.config["SQLALCHEMY_BINDS"] = {{"shop": os.environ["BENCH_DB"]}}
    app.config["SCHEMAVER_DIRECTORY"] = {migrations!r}
    db.init_app(app)
    schemaver.init_app(app, db)
    return app
"""

REVISION = '''"""{message}

Revision ID: {rev}
"""
from alembic import op
import sqlalchemy as sa

revision = {rev!r}
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade():
{upgrade}


def downgrade():
{downgrade}
'''

CREATE = (
    "    op.create_table('item', sa.Column('id', sa.Integer, primary_key=True),\n"
    "                    sa.Column('name', sa.String(50)))"
)
DROP = "    op.drop_table('item')"
ADD = (
    "    op.add_column('item', sa.Column('price', sa.Integer, nullable=True))\n"
    "    op.create_index('ix_item_price', 'item', ['price'])"
)
REMOVE = (
    "    op.drop_index('ix_item_price', 'item')\n    op.drop_column('item', 'price')"
)


def write_revision(
    folder: Path, rev: str, down: str | None, up: str, back: str
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{rev}.py").write_text(
        REVISION.format(message=rev, rev=rev, down=down, upgrade=up, downgrade=back)
    )


class Bench:
    def __init__(self, root: Path, url: str, tenants: int) -> None:
        self.root = root
        self.env = dict(
            os.environ,
            FLASK_APP="bench_tenants_app:create_app",
            BENCH_DB=url,
            BENCH_TENANTS=str(tenants),
            NO_COLOR="1",
        )

    def flask_db(self, *args: str) -> tuple[float, float]:
        """Run ``flask db ARGS``; its wall time and largest resident memory (MB). A
        failure stops the benchmark."""
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "flask", "db", *args],
            cwd=self.root,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        out = proc.stdout.read() if proc.stdout else ""
        _, status, usage = os.wait4(proc.pid, 0)
        took = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            sys.exit(f"flask db {' '.join(args)} failed:\n{out}")
        return took, usage.ru_maxrss / 1024

    def median(self, repeat: int, *args: str) -> tuple[float, float]:
        runs = [self.flask_db(*args) for _ in range(repeat)]
        return statistics.median(w for w, _ in runs), max(m for _, m in runs)


def make_database(server: str, tenants: int) -> tuple[str, str]:
    name = f"schemaver_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    url = sa.make_url(server).set(database=name)
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        for i in range(tenants):
            connection.exec_driver_sql(f"CREATE SCHEMA t{i:04d}")
    engine.dispose()
    return name, url.render_as_string(hide_password=False)


def drop_database(server: str, name: str) -> None:
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def run(args: argparse.Namespace, tenants: int) -> dict[str, tuple[float, float]]:
    """Every measurement for a fleet of ``tenants``: name -> (wall s, memory MB)."""
    name, url = make_database(args.postgresql, tenants)
    found: dict[str, tuple[float, float]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-tenants-") as folder:
            root = Path(folder)
            migrations = root / "migrations"
            (root / "bench_tenants_app.py").write_text(
                APP.format(migrations=str(migrations))
            )
            shop = migrations / "shop"
            write_revision(shop, "r1", None, CREATE, DROP)
            bench = Bench(root, url, tenants)
            found["first upgrade (create table), --jobs 2"] = bench.flask_db(
                "upgrade", "--jobs", "2"
            )
            found["no-op upgrade"] = bench.median(args.repeat, "upgrade")
            found["status"] = bench.median(args.repeat, "status")
            write_revision(shop, "r2", "r1", ADD, REMOVE)
            sample = [f"t{i:04d}" for i in range(min(args.sample, tenants))]
            each = [bench.flask_db("upgrade", "--tenant", t) for t in sample]
            back = [arg for t in sample for arg in ("--tenant", t)]
            bench.flask_db("downgrade", *back, "r1")
            found["one revision (column + index), --jobs 2"] = bench.flask_db(
                "upgrade", "--jobs", "2"
            )
            per_process = statistics.mean(w for w, _ in each)
            found["anchor: a process per tenant"] = (
                per_process * tenants,
                max(m for _, m in each),
            )
    finally:
        drop_database(args.postgresql, name)
    print(f"# {tenants} tenant schemas on PostgreSQL, {os.cpu_count()} CPUs")
    for what, (wall, memory) in found.items():
        print(f"{what:<42} {wall:8.2f} s  {memory:6.0f} MB")
    print(
        f"{'':<42} (anchor: {per_process:.2f} s a tenant, {len(sample)} timed, "
        "times the fleet)"
    )
    sys.stdout.flush()
    return found


#: The tenants issue's targets at 1,000 tenants: what, limit in seconds.
TARGETS = {
    "no-op upgrade": 2.0,
    "one revision (column + index), --jobs 2": 20.0,
    "status": 2.0,
}


def judge(found: dict[str, tuple[float, float]]) -> None:
    for what, limit in TARGETS.items():
        wall = found[what][0]
        verdict = "met" if wall <= limit else "missed"
        print(f"target {what}: {wall:.2f} s <= {limit:.0f} s: {verdict}")
    fleet = found["one revision (column + index), --jobs 2"][0]
    ratio = found["anchor: a process per tenant"][0] / fleet
    verdict = "met" if ratio >= 40 else "missed"
    print(f"target fleet run >= 40x the anchor: {ratio:.1f}x: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--tenants",
        default="200,1000",
        help="fleet sizes, comma-separated (default 200,1000); targets at the last",
    )
    parser.add_argument(
        "--sample", type=int, default=50, help="tenants timed one process each"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per median")
    parser.add_argument(
        "--postgresql",
        default=os.environ.get(
            "SCHEMAVER_TEST_POSTGRESQL_URL",
            "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        ),
        help="a URL on the PostgreSQL server to make the database on",
    )
    args = parser.parse_args()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"# python benchmarks/tenants.py {' '.join(sys.argv[1:])}")
    print(f"# load average at start: {load}")
    sizes = [int(n) for n in args.tenants.split(",")]
    found = {}
    for size in sizes:
        found = run(args, size)
    if sizes[-1] == 1000:
        judge(found)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"# load average at end: {load}")


if __name__ == "__main__":
    main()
