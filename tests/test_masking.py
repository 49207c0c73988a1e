"""A password is hidden where text carries it, and messages stay readable."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from flask_schemaver.masking import hide_password
from helpers import AppMaker
from helpers import invoke


@pytest.mark.parametrize(
    ("text", "password", "shown"),
    [
        # Short or ordinary-word passwords: only where a URL or a key carries them.
        (
            "can't connect to database at postgresql://u:a@h/db",
            "a",
            "can't connect to database at postgresql://u:***@h/db",
        ),
        (
            "postgresql://postgres:postgres@h/postgres: database postgres is gone",
            "postgres",
            "postgresql://postgres:***@h/postgres: database postgres is gone",
        ),
        # Percent-encoded, as a URL spells it.
        ("mysql://u:p%40ss@h/db refused", "p@ss", "mysql://u:***@h/db refused"),
        ("mysql://u:p%40ss%2Fx@h/db", "p@ss/x", "mysql://u:***@h/db"),
        # As a key of a DSN or a dict.
        (
            "host=x password=Secr3t!x dbname=y",
            "Secr3t!x",
            "host=x password=*** dbname=y",
        ),
        ('{"password": "hunter"}', "hunter", '{"password": "***"}'),
        # A password unlike any word is hidden wherever it stands.
        ("echoed Secr3t!x back", "Secr3t!x", "echoed *** back"),
        ("nothing to hide", None, "nothing to hide"),
    ],
)
def test_hide_password(text: str, password: str | None, shown: str) -> None:
    assert hide_password(text, password) == shown


def test_bind_hides_its_percent_encoded_password(make_app: AppMaker) -> None:
    app = make_app("postgresql+psycopg://user:p%40ss@127.0.0.1:1/shop")
    with app.app_context():
        bind = make_app.schemaver.binds["default"]
        raw = bind.engine.url.render_as_string(hide_password=False)
        assert "p%40ss" in raw
        assert bind.hide_secrets(f"failed on {raw}") == (
            "failed on postgresql+psycopg://user:***@127.0.0.1:1/shop"
        )


def test_error_lines_stay_readable_with_a_one_letter_password(
    make_app: AppMaker,
) -> None:
    # Nothing listens on port 1: the connection is refused.
    app = make_app("postgresql+psycopg://user:a@127.0.0.1:1/shop")
    result = invoke(app, "current")
    assert result.exit_code == 1
    [line] = result.output.splitlines()
    assert line.startswith(
        "Error: [default] postgresql+psycopg://user:***@127.0.0.1:1/shop"
    )
    assert (
        "check that the database server is running and the bind's URL is right" in line
    )
    assert "***" not in line.split("/shop", 1)[1]


def test_the_lock_wait_names_this_host_without_os_uname(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os
    import socket

    from flask_schemaver.runtime import locking

    monkeypatch.delattr(os, "uname", raising=False)  # as on Windows
    assert locking._me() == f"{socket.gethostname()}:{os.getpid()}"


def test_sqlalchemy_url_rendering_is_covered() -> None:
    # The forms above are the ones SQLAlchemy writes: its quoting of a password.
    url = sa.make_url("postgresql://u@h/db").set(password="p@ss/ x+")
    rendered = url.render_as_string(hide_password=False)
    assert hide_password(rendered, "p@ss/ x+") == "postgresql://u:***@h/db"
