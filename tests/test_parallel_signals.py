"""--jobs under signals: workers die with their parent, a dead worker fails only its own
binds, Ctrl-C or SIGTERM stops every bind before its next revision, and the summary and
the databases agree."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from helpers import write_revision_file

pytestmark = pytest.mark.slow

BINDS = ("default", "b", "c")
REVISIONS = 3
#: How long each revision takes; long enough to send signals while one runs.
STEP_SECONDS = 1.5

APP = """\
import os
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from flask_schemaver import SchemaVer

root = os.environ["TEST_ROOT"]
app = Flask("jobs")
app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{root}/default.db"
app.config["SQLALCHEMY_BINDS"] = {n: f"sqlite:///{root}/{n}.db" for n in ("b", "c")}
app.config["SCHEMAVER_DIRECTORY"] = f"{root}/migrations"
SchemaVer(app, SQLAlchemy(app))
"""

#: Each revision marks that it started (with its process id), waits, creates a table.
UPGRADE = """
pathlib.Path(os.environ["TEST_ROOT"], "{rev}.started").write_text(str(os.getpid()))
time.sleep(float(os.environ["STEP_SECONDS"]))
op.create_table("t_{rev}", sa.Column("id", sa.Integer, primary_key=True))
"""


def project(tmp_path: Path) -> Path:
    (tmp_path / "jobs_app.py").write_text(APP)
    for bind in BINDS:
        folder = tmp_path / "migrations" / ("versions" if bind == "default" else bind)
        down = None
        for step in range(1, REVISIONS + 1):
            rev = f"{bind}{step}"
            write_revision_file(
                folder,
                rev,
                down,
                header="import os, pathlib, time",
                upgrade=textwrap.dedent(UPGRADE.format(rev=rev)),
            )
            down = rev
    return tmp_path


def start(root: Path, *, new_group: bool = False) -> subprocess.Popen[str]:
    env = dict(
        os.environ,
        TEST_ROOT=str(root),
        STEP_SECONDS=str(STEP_SECONDS),
        FLASK_APP="jobs_app",
        NO_COLOR="1",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "db", "upgrade", "--jobs", "3"],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=new_group,
    )


def wait_for(path: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists() or not path.read_text():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.02)


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead, only not yet reaped by its (dead) parent's parent.
    status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return status != "Z"


def agree(root: Path) -> dict[str, int]:
    """Per bind, how many revisions were applied; asserts that the version table and
    the tables agree (no revision half-applied)."""
    applied = {}
    for bind in BINDS:
        engine = sa.create_engine(
            f"sqlite:///{root / bind}.db", poolclass=sa.pool.NullPool
        )
        try:
            names = set(sa.inspect(engine).get_table_names())
            version_table = (
                "alembic_version" if bind == "default" else f"alembic_version_{bind}"
            )
            rows: list[str] = []
            if version_table in names:
                with engine.connect() as connection:
                    query = sa.text(f"SELECT version_num FROM {version_table}")
                    rows = list(connection.scalars(query))
        finally:
            engine.dispose()
        count = int(rows[0].removeprefix(bind)) if rows else 0
        assert {n for n in names if n.startswith("t_")} == {
            f"t_{bind}{i}" for i in range(1, count + 1)
        }, (bind, rows, names)
        applied[bind] = count
    return applied


def test_workers_die_with_their_parent(tmp_path: Path) -> None:
    root = project(tmp_path)
    proc = start(root)
    for bind in BINDS:
        wait_for(root / f"{bind}1.started")
    workers = children(proc.pid)
    assert len(workers) == 3
    proc.kill()
    proc.communicate()
    # Each worker finishes the revision it runs, starts no other, and exits.
    deadline = time.monotonic() + STEP_SECONDS + 10
    while any(alive(w) for w in workers):
        assert time.monotonic() < deadline, [w for w in workers if alive(w)]
        time.sleep(0.05)
    applied = agree(root)
    assert all(count <= 2 for count in applied.values()), applied
    assert not (root / "default3.started").exists()


def test_a_dead_worker_fails_only_its_own_binds(tmp_path: Path) -> None:
    root = project(tmp_path)
    proc = start(root)
    wait_for(root / "c1.started")
    os.kill(int((root / "c1.started").read_text()), signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, out + err
    assert "Traceback" not in err
    assert err.splitlines() == [
        "Error: [c] the worker process migrating this bind was killed by SIGKILL; the "
        "revision it was running may not have finished: see 'flask db status --bind c'"
    ]
    assert out.splitlines()[-3:] == [
        "default: 3 revisions upgraded, now at default3",
        "b: 3 revisions upgraded, now at b3",
        "c: failed",
    ]
    assert agree(root) == {"default": 3, "b": 3, "c": 0}


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_to_the_parent_stops_before_the_next_revisions(
    tmp_path: Path, signum: signal.Signals
) -> None:
    root = project(tmp_path)
    proc = start(root)
    for bind in BINDS:
        wait_for(root / f"{bind}1.started")
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    assert "Traceback" not in err and "Aborted" not in err
    # The revisions that were running finished; no other started.
    assert agree(root) == {"default": 1, "b": 1, "c": 1}
    assert sorted(err.splitlines()) == sorted(
        f"Error: [{bind}] interrupted before its next revision started "
        f"(applied before: {bind}1)"
        for bind in BINDS
    )
    assert out.splitlines()[-3:] == ["default: failed", "b: failed", "c: failed"]


def test_a_second_sigterm_to_the_parent_stops_the_running_revisions(
    tmp_path: Path,
) -> None:
    root = project(tmp_path)
    proc = start(root)
    for bind in BINDS:
        wait_for(root / f"{bind}1.started")
    # As a container runtime does: to the parent only, twice.
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    # The running revisions were stopped, so none was applied.
    assert agree(root) == {"default": 0, "b": 0, "c": 0}
    assert all(
        "interrupted during the upgrade of revision" in line
        for line in err.splitlines()
    )


def test_one_ctrl_c_at_the_terminal_lets_running_revisions_finish(
    tmp_path: Path,
) -> None:
    # Ctrl-C at a terminal reaches the whole process group: parent and workers.
    root = project(tmp_path)
    proc = start(root, new_group=True)
    for bind in BINDS:
        wait_for(root / f"{bind}1.started")
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    # Once: the running revisions finished, no other started.
    assert agree(root) == {"default": 1, "b": 1, "c": 1}
