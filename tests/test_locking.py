"""The migration lock: taken only when needed, waits visibly, times out, always released."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from flask_schemaver import LockTimeout
from flask_schemaver import RunFailed
from flask_schemaver.runtime import locking
from helpers import AppMaker
from helpers import flask_db
from helpers import MakeDatabase
from helpers import set_bodies
from helpers import write_revision_file


@pytest.fixture
def app(request: pytest.FixtureRequest, make_app: AppMaker, database_url: str) -> Flask:
    marker = request.node.get_closest_marker("lock_timeout")
    timeout = marker.args[0] if marker else 0.5
    app = make_app(uri=database_url, SCHEMAVER_LOCK_TIMEOUT=timeout)
    with app.app_context():
        make_app.schemaver.revision("one", rev_id="r1")
        assert make_app.schemaver.binds  # resolved before another thread needs them
    return app


@contextmanager
def held_elsewhere(app: Flask) -> Iterator[None]:
    """Hold the default bind's lock on a connection of its own, as another process would."""
    bind = app.extensions["schemaver"].binds["default"]
    engine = sa.create_engine(bind.engine.url)
    try:
        with engine.connect() as conn, locking.hold(bind, conn, timeout=5):
            yield
    finally:
        engine.dispose()


@pytest.mark.slow
def test_timeout_api_and_cli(app: Flask, make_app: AppMaker) -> None:
    with held_elsewhere(app):
        with pytest.raises(RunFailed) as info:
            make_app.schemaver.upgrade()
        [error] = info.value.errors
        assert isinstance(error, LockTimeout) and error.timeout == 0.5
        result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 1
    assert (
        "Error: [default] gave up after waiting 0.5s for the migration lock"
        in result.output
    )
    assert "SCHEMAVER_LOCK_TIMEOUT" in result.output
    assert make_app.schemaver.current() == {"default": ()}


@pytest.mark.slow
@pytest.mark.lock_timeout(10)
def test_wait_is_reported_then_runs(app: Flask) -> None:
    release = threading.Event()
    holding = threading.Event()

    def holder() -> None:
        with held_elsewhere(app):
            holding.set()
            release.wait(5)

    thread = threading.Thread(target=holder)
    thread.start()
    assert holding.wait(10), "the other connection never got the lock"
    timer = threading.Timer(1.6, release.set)
    timer.start()
    try:
        result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    finally:
        release.set()
        thread.join()
    assert result.exit_code == 0, result.output
    assert "waiting for the migration lock" in result.output
    assert f"{os.uname().nodename}:{os.getpid()}" in result.output
    assert "[default] upgrade <base> → r1" in result.output


def test_no_lock_when_already_at_target(app: Flask, make_app: AppMaker) -> None:
    make_app.schemaver.upgrade()
    with held_elsewhere(app):
        [result] = make_app.schemaver.upgrade()
        assert result.note == "nothing to do"
        out = app.test_cli_runner().invoke(args=["db", "upgrade"]).output
        assert "default: nothing to do, at r1" in out


def test_lock_can_be_switched_off_per_bind(make_app: AppMaker) -> None:
    app = make_app(
        SCHEMAVER_BINDS={"default": {"lock": False}}, SCHEMAVER_LOCK_TIMEOUT=0.1
    )
    with app.app_context():
        make_app.schemaver.revision("one", rev_id="r1")
        with held_elsewhere(app):
            [result] = make_app.schemaver.upgrade()
        assert result.after == ("r1",)


def test_lock_released_after_failure(app: Flask, make_app: AppMaker) -> None:
    [r] = make_app.schemaver.revision("bad", rev_id="r2")
    set_bodies(r.revisions[0].path, upgrade="    raise ValueError('x')\n")
    with pytest.raises(RunFailed):
        make_app.schemaver.upgrade()
    assert make_app.schemaver.current() == {"default": ("r1",)}
    with held_elsewhere(app):  # would time out after 5 s if the lock were still held
        pass


def test_lock_names_differ_per_version_table(make_app: AppMaker) -> None:
    app = make_app(binds={"audit": make_app.sqlite("main")})
    with app.app_context():
        binds = make_app.schemaver.binds
        assert locking.lock_name(binds["default"]) != locking.lock_name(binds["audit"])


#: r2 creates a table, then (with MARKER set) says so and takes a minute.
SLOW_UPGRADE = """
op.create_table("half_done", sa.Column("id", sa.Integer))
if os.environ.get("MARKER"):
    pathlib.Path(os.environ["MARKER"]).write_text("started")
    time.sleep(60)
"""


@pytest.mark.slow
@pytest.mark.postgresql
def test_ctrl_c_rolls_back_and_releases_the_lock(
    make_app: AppMaker, postgresql_db: MakeDatabase, tmp_path: Path
) -> None:
    url = postgresql_db()
    app = make_app(uri=url, SCHEMAVER_LOCK_TIMEOUT=5)
    with app.app_context():
        make_app.schemaver.revision("one", rev_id="r1")
        make_app.schemaver.upgrade()
    write_revision_file(
        make_app.migrations / "versions",
        "r2",
        "r1",
        name="r2_slow.py",
        header="import os, pathlib, time",
        upgrade=SLOW_UPGRADE,
        downgrade='op.drop_table("half_done")',
    )
    marker = tmp_path / "marker"
    proc = flask_db(tmp_path, url, make_app.migrations, "upgrade", MARKER=str(marker))
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), proc.communicate()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    # Exit status 130, as for any interrupted command, and the revision is named.
    assert proc.returncode == 130, err
    assert err.splitlines() == [
        "Error: [default] interrupted during the upgrade of revision r2 "
        "('revision r2'); it was rolled back"
    ]

    with app.app_context():
        engine = make_app.schemaver.binds["default"].engine
        assert "half_done" not in sa.inspect(engine).get_table_names()
        assert make_app.schemaver.current() == {"default": ("r1",)}
        # The lock is free again: this upgrade would time out after 5 s otherwise.
        [result] = make_app.schemaver.upgrade()
        assert result.after == ("r2",)


def test_lock_name_ignores_how_the_server_is_spelled() -> None:
    from flask_schemaver.binds import Bind

    def bind(url: str) -> Bind:
        engine = sa.create_engine(url)  # never connects
        return Bind(
            "b", None, engine, sa.MetaData(), Path("b"), "alembic_version", None
        )

    same = {
        locking.lock_name(bind(url))
        for url in (
            "postgresql+psycopg://u@127.0.0.1:5432/shop",
            "postgresql+psycopg://u:pw@localhost/shop",
            "postgresql://u@localhost:5432/shop",
        )
    }
    assert len(same) == 1
    other = locking.lock_name(bind("postgresql+psycopg://u@localhost/other"))
    assert other not in same
