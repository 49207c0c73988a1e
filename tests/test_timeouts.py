"""No run waits without bound: SCHEMAVER_CONNECT_TIMEOUT and
SCHEMAVER_STATEMENT_TIMEOUT, applied to the migration's own connection only."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from flask_schemaver import ConfigError
from flask_schemaver import RunFailed
from helpers import AppMaker
from helpers import invoke
from helpers import MakeDatabase
from helpers import write_revision_file


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "SCHEMAVER_STATEMENT_TIMEOUT",
            "5",
            "SCHEMAVER_STATEMENT_TIMEOUT must be a number of seconds (more than 0), or None for no "
            "limit",
        ),
        (
            "SCHEMAVER_CONNECT_TIMEOUT",
            -1,
            "SCHEMAVER_CONNECT_TIMEOUT must be a number of seconds (more than 0), or None for the "
            "driver's default",
        ),
        (
            "SCHEMAVER_STATEMENT_TIMEOUT",
            float("nan"),
            "SCHEMAVER_STATEMENT_TIMEOUT must be a number of seconds (more than 0), or None for no "
            "limit",
        ),
    ],
)
def test_bad_timeouts(make_app: AppMaker, key: str, value: Any, message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        make_app(**{key: value})
    assert refused.value.message == message


def sleeping_app(make_app: AppMaker, url: str, sleep_sql: str) -> Any:
    app = make_app(url, tables={}, SCHEMAVER_STATEMENT_TIMEOUT=0.5)
    write_revision_file(
        make_app.migrations / "versions",
        "r1",
        None,
        message="slow",
        upgrade=f"op.execute({sleep_sql!r})",
    )
    return app


@pytest.mark.postgresql
def test_a_statement_longer_than_the_timeout_postgresql(
    make_app: AppMaker, postgresql_db: MakeDatabase
) -> None:
    app = sleeping_app(make_app, postgresql_db(), "SELECT pg_sleep(5)")
    started = time.monotonic()
    result = invoke(app, "upgrade")
    assert time.monotonic() - started < 4  # well before the statement would end
    assert result.exit_code == 1, result.output
    [error] = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert error.startswith("Error: [default] upgrade of revision r1 ('slow') failed")
    assert "canceling statement due to statement timeout" in error
    # The app's own connections don't inherit the limit.
    with app.app_context():
        with make_app.db.engine.connect() as connection:
            assert connection.scalar(sa.text("SHOW statement_timeout")) == "0"
        with pytest.raises(RunFailed, match="statement timeout"):
            make_app.schemaver.upgrade()


@pytest.mark.mysql
def test_a_statement_longer_than_the_timeout_mariadb(
    make_app: AppMaker, mysql_db: MakeDatabase
) -> None:
    # A statement that writes, so that MariaDB stops it with an error.
    app = sleeping_app(
        make_app, mysql_db(), "CREATE TABLE t AS SELECT SLEEP(5) AS slept"
    )
    started = time.monotonic()
    result = invoke(app, "upgrade")
    assert time.monotonic() - started < 4
    assert result.exit_code == 1, result.output
    assert "max_statement_time exceeded" in result.output


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port where connections are accepted (by the kernel) and never answered."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield server.getsockname()[1]
    server.close()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://u:pw@127.0.0.1:{port}/db",
        "mysql+pymysql://u:pw@127.0.0.1:{port}/db",
    ],
)
def test_a_server_that_never_answers(
    make_app: AppMaker, silent_server: int, url: str
) -> None:
    app = make_app(
        url.format(port=silent_server), tables={}, SCHEMAVER_CONNECT_TIMEOUT=1
    )
    write_revision_file(make_app.migrations / "versions", "r1", None)
    # Every write of the version table is behind this connection: upgrade gives up.
    with app.app_context():
        started = time.monotonic()
        with pytest.raises(RunFailed) as failed:
            make_app.schemaver.upgrade()
    assert time.monotonic() - started < 10
    assert "***" in str(failed.value) and "pw@" not in str(failed.value)


@pytest.mark.parametrize(
    "key", ["SCHEMAVER_CONNECT_TIMEOUT", "SCHEMAVER_STATEMENT_TIMEOUT"]
)
def test_zero_is_no_timeout_and_refused(make_app: AppMaker, key: str) -> None:
    with pytest.raises(
        ConfigError, match=r"must be a number of seconds \(more than 0\)"
    ):
        make_app(**{key: 0})


@pytest.mark.postgresql
def test_a_connection_pooled_before_is_replaced(
    make_app: AppMaker, postgresql_db: MakeDatabase
) -> None:
    from flask_schemaver.runtime import connections

    app = make_app(postgresql_db(), tables={}, SCHEMAVER_CONNECT_TIMEOUT=7)
    with app.app_context():
        bind = make_app.schemaver.binds["default"]
        with bind.engine.connect():
            pass  # the app's own connection, made without the timeout, now pooled
        with connections.connect(bind) as connection:
            driver: Any = connection.connection.dbapi_connection
            given = driver.info.get_parameters()
    assert given["connect_timeout"] == "7"
    assert given["keepalives_idle"] == "7"


@pytest.mark.postgresql
def test_a_lock_that_died_with_its_session_is_not_released_again(
    postgresql_server: sa.Engine,
) -> None:
    from flask_schemaver.dialects.postgresql import AdvisoryLock

    engine = sa.create_engine(postgresql_server.url)
    try:
        with engine.connect() as connection:
            lock = AdvisoryLock(connection, {"key": 4242})
            assert lock.try_acquire()
            connection.invalidate()  # as a read timeout or a dropped link does
            lock.release()
            # No new session was opened just to release a lock that no longer exists.
            assert connection.invalidated
    finally:
        engine.dispose()
