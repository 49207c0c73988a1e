"""Eight `flask db upgrade` processes at once: every one succeeds, each revision runs once."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

PROCESSES = 8

APP = """
import os
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from flask_schemaver import SchemaVer

def create_app():
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["TEST_DATABASE_URL"]
    app.config["SCHEMAVER_DIRECTORY"] = os.environ["TEST_MIGRATIONS"]
    db = SQLAlchemy(app)
    SchemaVer(app, db)
    return app
"""

REVISION = '''
"""step {n}"""
import time
from alembic import op
import sqlalchemy as sa

revision = "rev{n}"
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade():
    if revision == "rev1":
        op.create_table("migration_log", sa.Column("revision", sa.String(10)))
    op.create_table("table{n}", sa.Column("id", sa.Integer, primary_key=True))
    time.sleep(0.2)  # keep the lock held long enough for the others to queue up
    op.execute("INSERT INTO migration_log (revision) VALUES ('rev{n}')")


def downgrade():
    op.drop_table("table{n}")
'''


def write_project(root: Path) -> Path:
    (root / "concurrent_app.py").write_text(textwrap.dedent(APP))
    versions = root / "migrations" / "versions"
    versions.mkdir(parents=True)
    for n in (1, 2, 3):
        down = None if n == 1 else f"rev{n - 1}"
        (versions / f"rev{n}_step.py").write_text(REVISION.format(n=n, down=down))
    return root


def flask_db(root: Path, url: str, *args: str) -> subprocess.Popen[str]:
    env = dict(
        os.environ,
        TEST_DATABASE_URL=url,
        TEST_MIGRATIONS=str(root / "migrations"),
        FLASK_APP="concurrent_app:create_app",
        NO_COLOR="1",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "db", *args],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_concurrently(root: Path, url: str, half_migrated: bool) -> None:
    if half_migrated:
        proc = flask_db(root, url, "upgrade", "rev1")
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, out + err
    procs = [flask_db(root, url, "upgrade") for _ in range(PROCESSES)]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, out + err
        assert "Traceback" not in err

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            logged = conn.execute(
                sa.text("SELECT revision FROM migration_log")
            ).scalars()
            assert sorted(logged) == ["rev1", "rev2", "rev3"]
            version = conn.execute(sa.text("SELECT version_num FROM alembic_version"))
            assert version.scalars().all() == ["rev3"]
    finally:
        engine.dispose()
    # Exactly one process did the work; the others found the bind migrated.
    did_work = [out for out, _ in outputs if "upgrade rev2 → rev3" in out]
    assert len(did_work) == 1
    assert all("nothing to do" in out for out, _ in outputs if out not in did_work)


@pytest.mark.parametrize("half_migrated", [False, True], ids=["fresh", "half-migrated"])
def test_sqlite(tmp_path: Path, half_migrated: bool) -> None:
    root = write_project(tmp_path)
    run_concurrently(root, f"sqlite:///{tmp_path / 'app.db'}", half_migrated)


@pytest.mark.postgresql
@pytest.mark.parametrize("half_migrated", [False, True], ids=["fresh", "half-migrated"])
def test_postgresql(
    tmp_path: Path, postgresql_db: Callable[[], str], half_migrated: bool
) -> None:
    root = write_project(tmp_path)
    run_concurrently(root, postgresql_db(), half_migrated)


@pytest.mark.mysql
@pytest.mark.parametrize("half_migrated", [False, True], ids=["fresh", "half-migrated"])
def test_mysql(
    tmp_path: Path, mysql_db: Callable[[], str], half_migrated: bool
) -> None:
    root = write_project(tmp_path)
    run_concurrently(root, mysql_db(), half_migrated)
