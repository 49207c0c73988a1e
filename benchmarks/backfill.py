"""Backfilling 1,000,000 rows on PostgreSQL: flask_schemaver.backfills.backfill() against
one UPDATE.

    python benchmarks/backfill.py [--rows 1000000] [--batch-size 10000]

Needs the PostgreSQL server of the tests (SCHEMAVER_TEST_POSTGRESQL_URL, or the local
default); makes a throwaway database and drops it. It measures:

- the time of one ``UPDATE`` of every row, and of ``flask db upgrade`` running a revision
  that backfills the same change in batches (the target: within 1.5 times);
- the longest lock held: a prober updates random rows all along (each with its own
  short transaction) and records its longest wait, and the backfill's own progress
  reports give the longest batch (the target: 1 s or less);
- an interrupted run: ``flask db upgrade`` is killed (SIGKILL) half-way, then run
  again; every row must be updated exactly once (the change is ``n = n + 1``).

Exits with status 1 when a target is missed. Run on demand; tests never time anything.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_schemaver.testing.databases import ThrowawayDatabases  # noqa: E402

URL = os.environ.get(
    "SCHEMAVER_TEST_POSTGRESQL_URL",
    "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
)

APP = """\
import os
import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from flask_schemaver import SchemaVer

db = SQLAlchemy()
db.Table(
    "item",
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("n", sa.Integer, nullable=False),
    sa.Column("pad", sa.Text),
)


def create_app():
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["BENCH_URL"]
    app.config["SCHEMAVER_DIRECTORY"] = os.environ["BENCH_MIGRATIONS"]
    db.init_app(app)
    SchemaVer(app, db)
    return app
"""

REVISION = '''\
"""backfill n

Revision ID: b0000000bf01
"""
from alembic import op
import sqlalchemy as sa

from flask_schemaver.backfills import backfill

revision = "b0000000bf01"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    with op.get_context().autocommit_block():
        backfill("item", {{"n": sa.text("n + 1")}}, batch_size={batch_size})


def downgrade():
    pass
'''


def fill(engine: sa.Engine, rows: int) -> None:
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS item")
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version_backfill")
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version_history")
        connection.exec_driver_sql(
            "CREATE TABLE item (id bigint PRIMARY KEY, n integer NOT NULL, pad text)"
        )
        connection.exec_driver_sql(
            "INSERT INTO item SELECT g, 0, repeat('x', 40) FROM generate_series(1, "
            f"{rows}) AS g"
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.exec_driver_sql("VACUUM ANALYZE item")


class Prober(threading.Thread):
    """Updates one random row at a time, and keeps the longest wait."""

    def __init__(self, engine: sa.Engine, rows: int) -> None:
        super().__init__(daemon=True)
        self.engine = engine
        self.rows = rows
        self.longest = 0.0
        self.stopped = threading.Event()

    def run(self) -> None:
        with self.engine.connect() as connection:
            while not self.stopped.is_set():
                key = random.randint(1, self.rows)
                started = time.perf_counter()
                with connection.begin():
                    connection.execute(
                        sa.text("UPDATE item SET pad = pad WHERE id = :id"), {"id": key}
                    )
                self.longest = max(self.longest, time.perf_counter() - started)
                time.sleep(0.01)


def flask_db(folder: Path, url: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "db", *args],
        cwd=folder,
        env=dict(
            os.environ,
            BENCH_URL=url,
            BENCH_MIGRATIONS=str(folder / "migrations"),
            FLASK_APP="bench_app:create_app",
            NO_COLOR="1",
            PYTHONPATH=os.pathsep.join([str(folder), str(ROOT)]),
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def single_update(engine: sa.Engine, rows: int) -> float:
    fill(engine, rows)
    prober = Prober(engine, rows)
    prober.start()
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE item SET n = n + 1")
    took = time.perf_counter() - started
    prober.stopped.set()
    prober.join()
    print(
        f"one UPDATE:          {took:7.2f} s, prober's longest wait {prober.longest:.2f} s"
    )
    return took


def helper(engine: sa.Engine, url: str, folder: Path, rows: int) -> tuple[float, float]:
    fill(engine, rows)
    prober = Prober(engine, rows)
    prober.start()
    started = time.perf_counter()
    process = flask_db(folder, url, "upgrade")
    output, _ = process.communicate()
    took = time.perf_counter() - started
    prober.stopped.set()
    prober.join()
    if process.returncode != 0:
        sys.exit(f"flask db upgrade failed:\n{output}")
    # The revision's own time, as the step line reports it: the process's start-up
    # (Python, Flask, Alembic) is not the backfill's doing.
    [revision] = [
        int(m.group(1)) / 1000 for m in re.finditer(r"backfill n \((\d+) ms\)", output)
    ]
    print(
        f"backfill():          {revision:7.2f} s (the revision; {took:.2f} s for the "
        f"whole flask db upgrade), prober's longest wait {prober.longest:.2f} s"
    )
    return revision, prober.longest


def interrupted(engine: sa.Engine, url: str, folder: Path, rows: int) -> bool:
    fill(engine, rows)
    process = flask_db(folder, url, "upgrade")
    done = 0
    while process.poll() is None:
        time.sleep(0.05)
        try:
            with engine.connect() as connection:
                done = (
                    connection.execute(
                        sa.text("SELECT max(done) FROM alembic_version_backfill")
                    ).scalar()
                    or 0
                )
        except sa.exc.ProgrammingError:
            continue
        if done >= rows // 2:
            process.send_signal(signal.SIGKILL)
            break
    process.wait()
    print(f"killed at:           {done:,} of {rows:,} rows committed")
    rerun = flask_db(folder, url, "upgrade")
    output, _ = rerun.communicate()
    if rerun.returncode != 0:
        print(output)
        return False
    with engine.connect() as connection:
        counts = dict(
            connection.execute(sa.text("SELECT n, count(*) FROM item GROUP BY n")).all()
        )
    print(f"after the rerun:     rows by times updated: {counts}")
    return counts == {1: rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=20_000)
    args = parser.parse_args()
    databases = ThrowawayDatabases()
    url = databases.acquire(sa.make_url(URL), Path("unused.db"), "bench")
    text_url = url.render_as_string(hide_password=False)
    engine = sa.create_engine(url)
    try:
        with tempfile.TemporaryDirectory() as where:
            folder = Path(where)
            (folder / "bench_app.py").write_text(APP)
            versions = folder / "migrations" / "versions"
            versions.mkdir(parents=True)
            (versions / "b0000000bf01_backfill_n.py").write_text(
                textwrap.dedent(REVISION.format(batch_size=args.batch_size))
            )
            one = single_update(engine, args.rows)
            batched, longest = helper(engine, text_url, folder, args.rows)
            resumed = interrupted(engine, text_url, folder, args.rows)
    finally:
        engine.dispose()
        databases.close()
    ratio = batched / one
    print(f"ratio:               {ratio:.2f} (target <= 1.5)")
    print(f"longest lock:        {longest:.2f} s (target <= 1 s)")
    print(f"every row once:      {'yes' if resumed else 'NO'}")
    if ratio > 1.5 or longest > 1.0 or not resumed:
        sys.exit(1)


if __name__ == "__main__":
    main()
