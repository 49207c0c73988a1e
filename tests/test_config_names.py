"""Names and settings are checked where they are configured, not found out in the
middle of a run; secrets in a URL's query or in connect_args never show."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa

from flask_schemaver import ConfigError
from flask_schemaver import RunFailed
from helpers import AppMaker
from helpers import invoke

BAD_SETTINGS = [
    (
        {"SCHEMAVER_FILE_TEMPLATE": "../%(rev)s_%(slug)s"},
        "SCHEMAVER_FILE_TEMPLATE '../%(rev)s_%(slug)s' names a file outside the bind's "
        "folder, where its chain would never see it; use a file name only, e.g. "
        "'%(year)d%(month).2d%(day).2d_%(rev)s_%(slug)s'",
    ),
    (
        {"SCHEMAVER_FILE_TEMPLATE": "%(year)d/%(rev)s"},
        "SCHEMAVER_FILE_TEMPLATE '%(year)d/%(rev)s' names a file outside the bind's "
        "folder, where its chain would never see it; use a file name only, e.g. "
        "'%(year)d%(month).2d%(day).2d_%(rev)s_%(slug)s'",
    ),
    (
        {"SCHEMAVER_LOCK_TIMEOUT": float("nan")},
        "SCHEMAVER_LOCK_TIMEOUT must be a number of seconds (0 or more), or None to wait forever",
    ),
    (
        {"SCHEMAVER_LOCK_TIMEOUT": float("inf")},
        "SCHEMAVER_LOCK_TIMEOUT must be a number of seconds (0 or more), or None to wait forever",
    ),
]


@pytest.mark.parametrize(("config", "message"), BAD_SETTINGS)
def test_bad_settings_are_refused_at_init(
    make_app: AppMaker, config: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        make_app(**config)
    assert refused.value.message == message


def bind_app(make_app: AppMaker, name: str, **options: Any) -> Any:
    return make_app(
        binds={name: make_app.sqlite("other")},
        tables={None: {"user": []}, name: {"thing": []}},
        SCHEMAVER_BINDS={name: options} if options else {},
    )


BAD_BINDS = [
    (
        "..",
        {},
        "bind '..' can't name its revision folder; set 'directory' for it in "
        "SCHEMAVER_BINDS",
    ),
    (
        "other",
        {"version_table": "versions/other"},
        "SCHEMAVER_BINDS['other']['version_table'] 'versions/other' must start with a "
        "letter or '_' and hold only letters, digits, '_' and '$'",
    ),
]


@pytest.mark.parametrize(("name", "options", "message"), BAD_BINDS)
def test_bad_bind_names_api_and_cli(
    make_app: AppMaker, name: str, options: dict[str, Any], message: str
) -> None:
    app = bind_app(make_app, name, **options)
    with app.app_context(), pytest.raises(ConfigError) as refused:
        make_app.schemaver.status()
    assert refused.value.message == message
    result = invoke(app, "status")
    assert result.exit_code == 1
    assert result.output.splitlines() == [f"Error: {message}"]
    assert not make_app.migrations.exists()


def test_a_history_table_name_too_long_for_postgresql(make_app: AppMaker) -> None:
    long_name = "reports_" + "x" * 40
    app = make_app(
        "postgresql+psycopg://u@127.0.0.1:1/db",  # never connected to
        binds={long_name: "postgresql+psycopg://u@127.0.0.1:1/other"},
        tables={None: {}, long_name: {}},
    )
    result = invoke(app, "binds")
    assert result.exit_code == 1
    history = f"alembic_version_{long_name}_history"
    assert result.output.splitlines() == [
        f"Error: bind {long_name!r} would keep its history in {history!r}, longer than "
        "the 63 characters postgresql allows; set a shorter 'version_table' for it in "
        "SCHEMAVER_BINDS"
    ]


def test_a_version_table_named_like_another_binds_history(make_app: AppMaker) -> None:
    shared = make_app.sqlite("main")
    app = make_app(
        binds={"audit": shared},
        tables={None: {"user": []}, "audit": {"log": []}},
        SCHEMAVER_BINDS={"audit": {"version_table": "alembic_version_history"}},
    )
    result = invoke(app, "binds")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "Error: binds 'default' and 'audit' would both keep 'alembic_version_history' "
        "in one database (a version table and its history table); set "
        "'version_table' for one of them in SCHEMAVER_BINDS"
    ]


def test_a_user_table_named_like_the_history_table(make_app: AppMaker) -> None:
    app = make_app()
    database = make_app.tmp_path / "main.db"
    engine = sa.create_engine(f"sqlite:///{database}")
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE alembic_version_history (note TEXT)"))
    engine.dispose()
    with app.app_context():
        make_app.schemaver.migrate("users")
        with pytest.raises(RunFailed) as failed:
            make_app.schemaver.upgrade()
    message = (
        "[default] the table 'alembic_version_history' is not flask_schemaver's history "
        "of applied revisions (it lacks applied_at, checksum, direction, host, id, "
        "revision, seconds, username); rename that table, or set 'history': False for "
        "this bind in SCHEMAVER_BINDS"
    )
    assert str(failed.value) == message
    result = invoke(app, "upgrade")
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == f"Error: {message}"
    # Refused before anything ran: no version table, the user's table untouched.
    inspector = sa.inspect(sa.create_engine(f"sqlite:///{database}"))
    assert set(inspector.get_table_names()) == {"alembic_version_history"}


def test_secrets_in_the_query_and_connect_args_never_show(make_app: AppMaker) -> None:
    # Nothing listens on port 1, so every command that connects fails.
    app = make_app(
        "postgresql+psycopg://app@127.0.0.1:1/shop?password=Qu3ry%21pw&sslmode=disable",
        binds={
            "audit": {
                "url": "postgresql+psycopg://app@127.0.0.1:1/audit",
                "connect_args": {"password": "Conn3ct!pw"},
            }
        },
        tables={None: {"user": []}, "audit": {"log": []}},
    )
    for folder in ("versions", "audit"):
        (make_app.migrations / folder).mkdir(parents=True)
    outputs = [
        invoke(app, *command)
        for command in (
            ["binds"],
            ["binds", "--json"],
            ["status"],
            ["status", "--json"],
            ["current"],
            ["upgrade"],
        )
    ]
    with app.app_context(), pytest.raises(RunFailed) as failed:
        make_app.schemaver.upgrade()
    api = " ".join(str(e) for e in failed.value.errors)
    assert "127.0.0.1:1" in api
    for text in [api, *(r.output for r in outputs)]:
        assert "Qu3ry" not in text and "Conn3ct" not in text, text
    [shown] = [row for row in json.loads(outputs[1].output) if row["bind"] == "default"]
    assert shown["url"] == (
        "postgresql+psycopg://app@127.0.0.1:1/shop?password=***&sslmode=disable"
    )
