"""Template databases: each database of an app built at its heads once, and a fresh copy
for each test, on SQLite, PostgreSQL and MariaDB; kept between sessions while nothing
they are built from changes; nothing left behind that was not asked to be kept."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from flask_schemaver import MigrationError
from flask_schemaver.testing import MigrationRunner
from flask_schemaver.testing import TemplateDatabases
from flask_schemaver.testing import ThrowawayDatabases
from flask_schemaver.testing.templates import KEEP_PREFIX
from helpers import AppMaker
from helpers import MYSQL_URL
from helpers import POSTGRESQL_URL
from helpers import write_revision_file


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgresql),
        pytest.param("mysql", marks=pytest.mark.mysql),
    ]
)
def kind_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of each kind of database; the templates and copies are made there."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'main.db'}"
    request.getfixturevalue(f"{request.param}_server")
    return POSTGRESQL_URL if request.param == "postgresql" else MYSQL_URL


def project(make_app: AppMaker, url: str, extra: str = "") -> Flask:
    """Two binds in one database (default and audit) and one of their own (events):
    tables with rows a data migration put there and counters (serial ids) moved on."""
    folder = make_app.migrations
    write_revision_file(
        folder / "versions",
        "d1",
        None,
        upgrade="t = op.create_table('users', sa.Column('id', sa.Integer, "
        "primary_key=True), sa.Column('name', sa.String(20)))\n"
        "op.bulk_insert(t, [{'name': 'ada'}, {'name': 'bob'}])",
        downgrade="op.drop_table('users')",
    )
    write_revision_file(
        folder / "versions",
        "d2",
        "d1",
        upgrade="op.create_index('ix_users_name', 'users', ['name'])" + extra,
        downgrade="op.drop_index('ix_users_name', 'users')",
    )
    write_revision_file(
        folder / "audit",
        "a1",
        None,
        upgrade="op.create_table('audit', sa.Column('id', sa.Integer, "
        "primary_key=True), sa.Column('what', sa.String(20)))",
        downgrade="op.drop_table('audit')",
    )
    write_revision_file(
        folder / "events",
        "e1",
        None,
        upgrade="op.create_table('events', sa.Column('id', sa.Integer, "
        "primary_key=True), sa.Column('kind', sa.String(20)))",
        downgrade="op.drop_table('events')",
    )
    # Another database on the same server: its own template.
    events = make_app.sqlite("events")
    if not url.startswith("sqlite"):
        events = sa.make_url(url).set(database="events").render_as_string(False)
    return make_app(
        uri=url,
        binds={"audit": url, "events": events},
        tables={
            None: {"users": ["name"]},
            "audit": {"audit": ["what"]},
            "events": {"events": ["kind"]},
        },
    )


@contextmanager
def session(
    tmp_path: Path, *, keep: bool = False
) -> Iterator[tuple[ThrowawayDatabases, TemplateDatabases]]:
    """The two session objects of the plugin's fixtures."""
    databases = ThrowawayDatabases()
    templates = TemplateDatabases(
        databases, tmp_path / "templates", keep=keep, keep_folder=tmp_path / "kept"
    )
    try:
        yield databases, templates
    finally:
        templates.close()
        databases.close()


@contextmanager
def migrated(
    app: Flask, databases: ThrowawayDatabases, templates: TemplateDatabases, at: Path
) -> Iterator[MigrationRunner]:
    at.mkdir(parents=True, exist_ok=True)
    runner = MigrationRunner(app, databases, at, templates=templates)
    try:
        yield runner
    finally:
        runner.close()


def test_each_test_gets_a_fresh_copy_at_head(
    make_app: AppMaker, kind_url: str, tmp_path: Path
) -> None:
    """A copy carries the version tables, the history, the rows and the counters; a
    test's changes stay in its copy; the template is built once per database."""
    app = project(make_app, kind_url)
    with session(tmp_path) as (databases, templates):
        for attempt in range(3):
            with migrated(app, databases, templates, tmp_path / str(attempt)) as runner:
                assert runner.current("default") == ("d2",)
                assert runner.current("audit") == ("a1",)
                assert runner.current("events") == ("e1",)
                assert [r["name"] for r in runner.rows("users", bind="default")] == [
                    "ada",
                    "bob",
                ]
                with runner.connect("default") as connection:
                    history = connection.execute(
                        sa.text(
                            "SELECT revision, direction FROM alembic_version_history "
                            "ORDER BY id"
                        )
                    ).all()
                    assert [tuple(r) for r in history if r[1] == "upgrade"] == [
                        ("d1", "upgrade"),
                        ("d2", "upgrade"),
                    ]
                # The counter went on from the rows the migration inserted.
                runner.insert("users", {"name": "cy"}, bind="default")
                ids = [r["id"] for r in runner.rows("users", bind="default")]
                assert ids == [1, 2, 3]
                runner.insert("events", {"kind": f"run {attempt}"}, bind="events")
                assert len(runner.rows("events", bind="events")) == 1
                indexes = sa.inspect(runner.engine("default")).get_indexes("users")
                assert "ix_users_name" in {i["name"] for i in indexes}
                # Migrating a copy works as on any database.
                runner.downgrade("base", "audit")
                assert runner.current("audit") == ()
        # One template for the default database (shared by audit), one for events.
        assert templates.built == 2


def test_a_template_that_cannot_be_built_fails_each_test_in_one_line(
    make_app: AppMaker, kind_url: str, tmp_path: Path
) -> None:
    app = project(make_app, kind_url, extra="\nraise ValueError('broken on purpose')")
    with session(tmp_path) as (databases, templates):
        for attempt in range(2):
            at = tmp_path / str(attempt)
            with (
                pytest.raises(MigrationError, match="broken on purpose"),
                migrated(app, databases, templates, at),
            ):
                pass
        assert templates.built == 0


def server_names(url: str, prefix: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                query = "SELECT datname FROM pg_database"
            else:
                query = "SELECT schema_name FROM information_schema.schemata"
            found = connection.scalars(sa.text(query)).all()
    finally:
        engine.dispose()
    return {n for n in found if n.startswith(prefix)}


def leftovers(url: str, tmp_path: Path, token: str) -> set[str]:
    """What a session left: its databases on the server, template files on disk."""
    files = {p.name for p in (tmp_path / "templates").glob("*.db")}
    if url.startswith("sqlite"):
        return files
    return files | server_names(url, f"schemaver_{token}_")


def kept(url: str, tmp_path: Path) -> set[str]:
    if url.startswith("sqlite"):
        return {p.name for p in (tmp_path / "kept").glob("*.db")}
    return server_names(url, KEEP_PREFIX)


def test_a_session_leaves_nothing_behind(
    make_app: AppMaker, kind_url: str, tmp_path: Path
) -> None:
    app = project(make_app, kind_url)
    with session(tmp_path) as (databases, templates):
        for attempt in range(3):  # the third copy was made ahead
            with migrated(app, databases, templates, tmp_path / str(attempt)):
                pass
        token = databases.token
        assert leftovers(kind_url, tmp_path, token)
    assert leftovers(kind_url, tmp_path, token) == set()


def test_kept_templates_are_used_again_until_something_changes(
    make_app: AppMaker, kind_url: str, tmp_path: Path
) -> None:
    app = project(make_app, kind_url)
    before = kept(kind_url, tmp_path)
    with session(tmp_path, keep=True) as (databases, templates):
        with migrated(app, databases, templates, tmp_path / "1"):
            pass
        assert templates.built == 2
    first = kept(kind_url, tmp_path) - before
    assert len(first) == 2  # default+audit, events
    with session(tmp_path, keep=True) as (databases, templates):
        with migrated(app, databases, templates, tmp_path / "2") as runner:
            assert runner.current("default") == ("d2",)
        assert templates.built == 0
        token = databases.token
    assert kept(kind_url, tmp_path) - before == first
    assert leftovers(kind_url, tmp_path, token) == set()
    # A revision file edited: that database's template is built again, the old one
    # dropped; the other one is used as it is.
    write_revision_file(
        make_app.migrations / "versions",
        "d2",
        "d1",
        upgrade="op.create_index('ix_users_name', 'users', ['name'], unique=True)",
        downgrade="op.drop_index('ix_users_name', 'users')",
    )
    with session(tmp_path, keep=True) as (databases, templates):
        with migrated(app, databases, templates, tmp_path / "3") as runner:
            [index] = sa.inspect(runner.engine("default")).get_indexes("users")
            assert index["unique"]
        assert templates.built == 1
    now = kept(kind_url, tmp_path) - before
    assert len(now) == 2 and len(now & first) == 1
    # A model changed: built again too.
    app = make_app(
        uri=kind_url,
        binds=app.config["SQLALCHEMY_BINDS"],
        tables={
            None: {"users": ["name", "email"]},
            "audit": {"audit": ["what"]},
            "events": {"events": ["kind"]},
        },
    )
    with session(tmp_path, keep=True) as (databases, templates):
        with migrated(app, databases, templates, tmp_path / "4"):
            pass
        assert templates.built == 1
    if not kind_url.startswith("sqlite"):
        for name in kept(kind_url, tmp_path) - before:
            drop(kind_url, name)


def drop(url: str, name: str) -> None:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    quoted = engine.dialect.identifier_preparer.quote_identifier(name)
    force = " WITH (FORCE)" if engine.dialect.name == "postgresql" else ""
    with engine.connect() as connection:
        connection.execute(sa.text(f"DROP DATABASE IF EXISTS {quoted}{force}"))
    engine.dispose()


@pytest.mark.postgresql
def test_nobody_connects_to_a_postgresql_template(
    make_app: AppMaker, postgresql_server: sa.Engine, tmp_path: Path
) -> None:
    """A session connected to a template would make CREATE DATABASE ... TEMPLATE
    fail: once built, a template takes no connections."""
    app = project(make_app, POSTGRESQL_URL)
    with session(tmp_path) as (databases, templates):
        with migrated(app, databases, templates, tmp_path / "1"):
            pass
        name = min(server_names(POSTGRESQL_URL, f"schemaver_{databases.token}_t"))
        engine = sa.create_engine(sa.make_url(POSTGRESQL_URL).set(database=name))
        with pytest.raises(sa.exc.OperationalError, match="not currently accepting"):
            engine.connect()
        engine.dispose()
        with migrated(app, databases, templates, tmp_path / "2") as runner:
            assert runner.current("default") == ("d2",)


@pytest.mark.mysql
def test_a_mysql_template_with_routines_is_built_for_each_copy(
    make_app: AppMaker, mysql_server: sa.Engine, tmp_path: Path
) -> None:
    """A stored procedure is not replayed by the copy: each copy is upgraded from
    empty instead, and has it."""
    app = project(
        make_app,
        MYSQL_URL,
        extra="\nop.execute('CREATE PROCEDURE count_users() SELECT COUNT(*) FROM users')",
    )
    with session(tmp_path) as (databases, templates):
        for attempt in range(2):
            at = tmp_path / str(attempt)
            with (
                migrated(app, databases, templates, at) as runner,
                runner.connect("default") as connection,
            ):
                assert connection.execute(sa.text("CALL count_users()")).scalar() == 2
        token = databases.token
    assert leftovers(MYSQL_URL, tmp_path, token) == set()


def test_a_model_changed_in_place_changes_the_fingerprint(make_app: AppMaker) -> None:
    """The models' DDL is compiled once per table and kept while the table keeps its
    shape: a column or index added to the same Table object is still seen."""
    from flask_schemaver.testing.fingerprints import fingerprint

    app = project(make_app, make_app.sqlite("main"))
    with app.app_context():
        binds = [make_app.schemaver.binds["default"]]
        settings = app.extensions["schemaver"].settings
        first = fingerprint(binds, settings, "s")
        assert fingerprint(binds, settings, "s") == first
        users = binds[0].metadata.tables["users"]
        users.append_column(sa.Column("email", sa.String(40)))
        second = fingerprint(binds, settings, "s")
        assert second != first
        sa.Index("ix_users_email", users.c.email)
        assert fingerprint(binds, settings, "s") not in (first, second)
