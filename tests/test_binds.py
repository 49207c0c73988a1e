from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from flask_schemaver import ConfigError
from flask_schemaver import UnknownBind
from helpers import AppMaker


def test_discovery_order_names_and_defaults(make_app: AppMaker) -> None:
    app = make_app(
        binds={"log-db": make_app.sqlite("log"), "analytics": make_app.sqlite("an")},
        tables={None: {"user": []}, "log-db": {"entry": []}, "analytics": {"view": []}},
    )
    with app.app_context():
        binds = make_app.schemaver.binds
        assert list(binds) == ["default", "log-db", "analytics"]
        log = binds["log-db"]
        assert log.key == "log-db"
        assert log.directory == make_app.migrations / "log-db"
        assert log.version_table == "alembic_version_log_db"
        assert binds["default"].directory == make_app.migrations / "versions"
        assert binds["default"].version_table == "alembic_version"
        assert set(log.metadata.tables) == {"entry"}
        assert log.context_options["compare_type"] is True
        assert log.context_options["render_as_batch"] is True
        assert log.context_options["transaction_per_migration"] is True


def test_select_keeps_app_order_and_rejects_unknown(make_app: AppMaker) -> None:
    app = make_app(binds={"a": make_app.sqlite("a"), "b": make_app.sqlite("b")})
    with app.app_context():
        ext = make_app.schemaver
        assert [b.name for b in ext.select(["b", "default"])] == ["default", "b"]
        assert [b.name for b in ext.select("a")] == ["a"]
        with pytest.raises(UnknownBind) as info:
            ext.select("nope")
        assert info.value.known == ("default", "a", "b")
        assert "unknown bind 'nope'; the app's binds are: default, a, b" in str(
            info.value
        )


def test_binds_only_app(make_app: AppMaker) -> None:
    app = make_app(
        uri=None, binds={"one": make_app.sqlite("one")}, tables={"one": {"t": []}}
    )
    with app.app_context():
        assert list(make_app.schemaver.binds) == ["one"]


def test_bind_named_default_refused(make_app: AppMaker) -> None:
    app = make_app(binds={"default": make_app.sqlite("x")})
    with app.app_context(), pytest.raises(ConfigError, match="bind named 'default'"):
        make_app.schemaver.binds  # noqa: B018


def test_schemaver_binds_unknown_name(make_app: AppMaker) -> None:
    app = make_app(SCHEMAVER_BINDS={"reports": {"exclude": True}})
    with (
        app.app_context(),
        pytest.raises(
            ConfigError,
            match="SCHEMAVER_BINDS names unknown bind.*reports.*binds are: default",
        ),
    ):
        make_app.schemaver.binds  # noqa: B018


def test_per_bind_overrides(make_app: AppMaker) -> None:
    app = make_app(
        binds={"ro": make_app.sqlite("ro"), "b": make_app.sqlite("b")},
        SCHEMAVER_CONTEXT={"compare_server_default": True},
        SCHEMAVER_BINDS={
            "ro": {"exclude": True},
            "b": {
                "directory": "chains/b",
                "version_table": "b_versions",
                "context": {"render_as_batch": False},
            },
        },
    )
    with app.app_context():
        binds = make_app.schemaver.binds
        assert list(binds) == ["default", "b"]
        b = binds["b"]
        assert b.directory == make_app.migrations / "chains" / "b"
        assert b.version_table == "b_versions"
        assert b.context_options["render_as_batch"] is False
        assert b.context_options["compare_server_default"] is True


def test_reserved_context_option(make_app: AppMaker) -> None:
    app = make_app(SCHEMAVER_CONTEXT={"version_table": "x"})
    with app.app_context(), pytest.raises(ConfigError, match="sets version_table"):
        make_app.schemaver.binds  # noqa: B018


def test_shared_folder_or_version_table_refused(make_app: AppMaker) -> None:
    same = make_app.sqlite("main")
    app = make_app(binds={"b": same}, SCHEMAVER_BINDS={"b": {"directory": "versions"}})
    with app.app_context(), pytest.raises(ConfigError, match="would share the folder"):
        make_app.schemaver.binds  # noqa: B018
    app = make_app(
        binds={"b": same}, SCHEMAVER_BINDS={"b": {"version_table": "alembic_version"}}
    )
    with (
        app.app_context(),
        pytest.raises(ConfigError, match="would share the version table"),
    ):
        make_app.schemaver.binds  # noqa: B018


def test_binds_sharing_a_database_ignore_each_others_tables(make_app: AppMaker) -> None:
    calls: list[Any] = []

    def include_object(
        obj: Any, name: str, type_: str, reflected: bool, compare_to: Any
    ) -> bool:
        calls.append(name)
        return name != "user_skip"

    app = make_app(
        binds={"audit": make_app.sqlite("main"), "ro": make_app.sqlite("main")},
        tables={None: {"user": []}, "audit": {"log": []}, "ro": {"legacy": []}},
        SCHEMAVER_BINDS={"ro": {"exclude": True}},
        SCHEMAVER_CONTEXT={"include_object": include_object},
    )
    with app.app_context():
        ext = make_app.schemaver
        default, audit = ext.binds["default"], ext.binds["audit"]
        assert (None, "log") in default.foreign_tables
        assert (None, "legacy") in default.foreign_tables  # excluded bind, same file
        assert (None, "alembic_version_audit") in default.foreign_tables
        assert (None, "user") in audit.foreign_tables
        table = sa.Table("log", sa.MetaData())
        assert default.include_object(table, "log", "table", True, None) is False
        assert default.include_object(table, "user_skip", "table", True, None) is False
        assert default.include_object(table, "other", "table", True, None) is True
        assert calls == ["user_skip", "other"]

        # Both binds create their tables in the one file; neither proposes the other's.
        [d], [a] = (r.revisions for r in ext.migrate("init"))
        text_default = Path(d.path).read_text()
        text_audit = Path(a.path).read_text()
        assert "create_table('user'" in text_default and "'log'" not in text_default
        assert "create_table('log'" in text_audit and "'user'" not in text_audit
        assert "legacy" not in text_default + text_audit
        ext.upgrade()
        with default.engine.connect() as conn:
            legacy = sa.Table("legacy", sa.MetaData(), sa.Column("id", sa.Integer))
            legacy.create(conn)
            conn.commit()
        assert all(r.ok for r in ext.check()), ext.check()


def test_safe_url_hides_password(make_app: AppMaker) -> None:
    app = make_app(uri="sqlite://", binds={"pg": "postgresql+psycopg://u:s3cret@h/db"})
    with app.app_context():
        pg = make_app.schemaver.binds["pg"]
        assert "s3cret" not in pg.safe_url
        assert pg.safe_url == "postgresql+psycopg://u:***@h/db"
        assert pg.hide_secrets("failed for s3cret") == "failed for ***"


def test_same_sqlite_file_spelled_differently(make_app: AppMaker) -> None:
    (make_app.tmp_path / "sub").mkdir()
    other = f"sqlite:///{make_app.tmp_path / 'sub' / '..' / 'main.db'}"
    app = make_app(
        binds={"audit": other}, tables={None: {"user": []}, "audit": {"log": []}}
    )
    with app.app_context():
        binds = make_app.schemaver.binds
        assert (None, "log") in binds["default"].foreign_tables
        assert (None, "user") in binds["audit"].foreign_tables
