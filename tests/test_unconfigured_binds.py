"""A model whose ``__bind_key__`` no bind serves is never silently left out."""

from __future__ import annotations

import pytest
from flask import Flask

from flask_schemaver import ConfigError
from helpers import AppMaker
from helpers import invoke

MESSAGE = (
    "models use the bind key 'anlytics' (tables event), which SQLALCHEMY_BINDS does "
    "not configure, so no bind would migrate them; add 'anlytics' to SQLALCHEMY_BINDS "
    "or correct the models' __bind_key__"
)


@pytest.fixture
def typo_app(make_app: AppMaker) -> Flask:
    # The analytics bind is configured; a model names it with a typo.
    return make_app(
        binds={"analytics": make_app.sqlite("an")},
        tables={
            None: {"user": []},
            "analytics": {"visit": []},
            "anlytics": {"event": []},
        },
    )


def test_migrate_and_check_refuse_api(typo_app: Flask, make_app: AppMaker) -> None:
    with typo_app.app_context():
        with pytest.raises(ConfigError) as migrate:
            make_app.schemaver.migrate("first")
        assert migrate.value.message == MESSAGE
        with pytest.raises(ConfigError) as check:
            make_app.schemaver.check()
        assert check.value.message == MESSAGE
        # Gates that don't compare models still answer.
        assert [r.ok for r in make_app.schemaver.check(only=["heads"])] == [True, True]
    assert not make_app.migrations.exists()


def test_migrate_and_check_refuse_cli(typo_app: Flask, make_app: AppMaker) -> None:
    warning = (
        "warning: models use the bind key 'anlytics' (tables event), which "
        "SQLALCHEMY_BINDS does not configure: migrate and check refuse to run until it "
        "does, or the models' __bind_key__ is corrected"
    )
    for command in (["migrate", "-m", "first"], ["check"]):
        result = invoke(typo_app, *command)
        assert result.exit_code == 1, result.output
        assert result.stderr.splitlines() == [warning, f"Error: {MESSAGE}"]
    assert not make_app.migrations.exists()
    # Other commands run, with the warning.
    result = invoke(typo_app, "binds")
    assert result.exit_code == 0
    assert result.stderr.splitlines() == [warning]
