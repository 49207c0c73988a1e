"""Benchmark: a tenanted bind with a schema per tenant on PostgreSQL.

Usage (from the repository root, PostgreSQL running):

    python benchmarks/tenants.py                     # 200 tenant schemas
    python benchmarks/tenants.py --tenants 1000 --sample 20
    python benchmarks/tenants.py --postgresql postgresql+psycopg://postgres@127.0.0.1/postgres

Makes a database with ``--tenants`` schemas, an app whose ``shop`` bind lists them as
its tenants, and a revision that creates a table; brings every tenant to it, then
times, each command a process of its own as on a deploy:

-   a no-op ``flask db upgrade`` over every tenant (median of ``--repeat``);
-   ``flask db status`` over every tenant (median of ``--repeat``);
-   one new revision (a nullable column and an index) over every tenant with
    ``--jobs 2``;
-   the anchor, what teams write by hand today: one ``flask db upgrade --tenant T``
    process per tenant, timed on ``--sample`` tenants and extrapolated to all.

Prints each wall time, the anchor's ratio to the fleet run, and the largest resident
memory of a ``flask db`` process. The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import resource
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
REMOVE = "    op.drop_index('ix_item_price', 'item')\n    op.drop_column('item', 'price')"


def write_revision(folder: Path, rev: str, down: str | None, up: str, back: str) -> None:
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

    def flask_db(self, *args: str) -> float:
        """Run ``flask db ARGS``; its wall time. A failure stops the benchmark."""
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "flask", "db", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
        )
        took = time.perf_counter() - started
        if proc.returncode != 0:
            sys.exit(f"flask db {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
        return took

    def median(self, repeat: int, *args: str) -> float:
        return statistics.median(self.flask_db(*args) for _ in range(repeat))


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


def run(args: argparse.Namespace) -> None:
    name, url = make_database(args.postgresql, args.tenants)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-tenants-") as folder:
            root = Path(folder)
            migrations = root / "migrations"
            (root / "bench_tenants_app.py").write_text(
                APP.format(migrations=str(migrations))
            )
            shop = migrations / "shop"
            write_revision(shop, "r1", None, CREATE, DROP)
            bench = Bench(root, url, args.tenants)
            first = bench.flask_db("upgrade", "--jobs", "2")
            noop = bench.median(args.repeat, "upgrade")
            status = bench.median(args.repeat, "status")
            write_revision(shop, "r2", "r1", ADD, REMOVE)
            sample = [f"t{i:04d}" for i in range(args.sample)]
            per_process = [bench.flask_db("upgrade", "--tenant", t) for t in sample]
            back = [arg for t in sample for arg in ("--tenant", t)]
            bench.flask_db("downgrade", *back, "r1")
            fleet = bench.flask_db("upgrade", "--jobs", "2")
            rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    finally:
        drop_database(args.postgresql, name)
    anchor = statistics.mean(per_process) * args.tenants
    print(f"tenants: {args.tenants} schemas on PostgreSQL, {os.cpu_count()} CPUs")
    print(f"first upgrade (create table), --jobs 2:   {first:7.2f} s")
    print(f"no-op upgrade (median of {args.repeat}):          {noop:7.2f} s")
    print(f"status (median of {args.repeat}):                 {status:7.2f} s")
    print(f"one revision (column + index), --jobs 2: {fleet:7.2f} s")
    print(
        f"anchor: a process per tenant, {args.sample} timed:  "
        f"{statistics.mean(per_process):7.2f} s each, {anchor:.1f} s for all"
    )
    print(f"fleet run against the anchor:            {anchor / fleet:7.1f}x faster")
    print(f"largest flask db process:                {rss:7.0f} MB resident")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=200, help="tenant schemas")
    parser.add_argument(
        "--sample", type=int, default=10, help="tenants timed one process each"
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
    run(parser.parse_args())


if __name__ == "__main__":
    main()
