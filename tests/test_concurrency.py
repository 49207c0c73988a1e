"""Eight `flask db upgrade` processes at once: every one succeeds, each revision runs once."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from helpers import flask_db
from helpers import write_revision_file

pytestmark = pytest.mark.slow

PROCESSES = 8

#: Three revisions; each holds the lock a while, and logs that it ran.
UPGRADE = """
if revision == "rev1":
    op.create_table("migration_log", sa.Column("revision", sa.String(10)))
op.create_table("table{n}", sa.Column("id", sa.Integer, primary_key=True))
time.sleep(0.2)  # keep the lock held long enough for the others to queue up
op.execute("INSERT INTO migration_log (revision) VALUES ('rev{n}')")
"""


def write_revisions(migrations: Path) -> None:
    for n in (1, 2, 3):
        write_revision_file(
            migrations / "versions",
            f"rev{n}",
            None if n == 1 else f"rev{n - 1}",
            name=f"rev{n}_step.py",
            message=f"step {n}",
            header="import time",
            upgrade=UPGRADE.format(n=n),
            downgrade=f'op.drop_table("table{n}")',
        )


def run_concurrently(root: Path, url: str, half_migrated: bool) -> None:
    migrations = root / "migrations"
    write_revisions(migrations)
    if half_migrated:
        proc = flask_db(root, url, migrations, "upgrade", "rev1")
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, out + err
    procs = [flask_db(root, url, migrations, "upgrade") for _ in range(PROCESSES)]
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
def test_upgrades_at_once(
    tmp_path: Path, database_url: str, half_migrated: bool
) -> None:
    run_concurrently(tmp_path, database_url, half_migrated)
