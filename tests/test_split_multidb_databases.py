"""The whole conversion of a Flask-Migrate ``--multidb`` project, on SQLite, PostgreSQL
and MariaDB: databases brought mid-chain by the old layout (Flask-Migrate's way, see
multidb_project.py), the folder converted, verified and stamped, the databases
upgraded to head, and each bind's schema compared with what the old layout builds
at head on databases of its own."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from helpers import AppMaker
from helpers import cli
from helpers import versions
from multidb_project import AFTER_MERGE
from multidb_project import BEFORE_AUDIT
from multidb_project import BEFORE_MULTIDB
from multidb_project import ENGINES
from multidb_project import HEAD
from multidb_project import old_upgrade
from multidb_project import ON_BRANCH
from multidb_project import write_project

#: Where the old layout leaves the databases before the switch; None: never migrated.
PLACES = {
    "sqlite": [None, BEFORE_MULTIDB, BEFORE_AUDIT, ON_BRANCH, AFTER_MERGE, HEAD],
    "postgresql": [ON_BRANCH, AFTER_MERGE],
    "mysql": [BEFORE_AUDIT, ON_BRANCH],
}
#: The runs left to the full suite (``-m "not slow"`` keeps one per server).
SLOW = {("postgresql", AFTER_MERGE), ("mysql", BEFORE_AUDIT)}
CASES = [
    pytest.param(
        kind,
        place,
        marks=[
            *([getattr(pytest.mark, kind)] if kind != "sqlite" else []),
            *([pytest.mark.slow] if (kind, place) in SLOW else []),
        ],
    )
    for kind, places in PLACES.items()
    for place in places
]


@pytest.fixture
def new_database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Callable[[str, str], str]:
    """Call with a kind and a name for the URL of a new, empty database."""

    def make(kind: str, name: str) -> str:
        if kind == "sqlite":
            return f"sqlite:///{tmp_path / name}.db"
        factory: Callable[[], str] = request.getfixturevalue(f"{kind}_db")
        return factory()

    return make


def schema(url: str) -> dict[str, Any]:
    """Each table's columns, primary key, indexes and foreign keys, as the database
    reports them; the version and history tables left out."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        inspector = sa.inspect(engine)
        found: dict[str, Any] = {}
        for table in inspector.get_table_names():
            if table.startswith("alembic_version"):
                continue
            found[table] = (
                [
                    (c["name"], str(c["type"].compile(engine.dialect)), c["nullable"])
                    for c in inspector.get_columns(table)
                ],
                inspector.get_pk_constraint(table)["constrained_columns"],
                sorted(
                    (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                    for i in inspector.get_indexes(table)
                ),
                sorted(
                    (tuple(f["constrained_columns"]), f["referred_table"])
                    for f in inspector.get_foreign_keys(table)
                ),
            )
        return found
    finally:
        engine.dispose()


def tables(url: str) -> set[str]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.mark.parametrize("kind, place", CASES)
def test_converted_project_reaches_the_old_layouts_schemas(
    make_app: AppMaker,
    new_database: Callable[[str, str], str],
    kind: str,
    place: str | None,
) -> None:
    migrations = make_app.migrations
    write_project(migrations)
    live = {e: new_database(kind, f"live-{e or 'main'}") for e in ENGINES}
    reference = {e: new_database(kind, f"ref-{e or 'main'}") for e in ENGINES}
    if place is not None:
        old_upgrade(migrations, live, place)
    old_upgrade(migrations, reference, "heads")
    app = make_app(uri=live[""], binds={e: live[e] for e in ENGINES if e}, tables={})
    # Before the conversion, nothing runs.
    assert "holds Flask-Migrate --multidb revisions" in cli(app, "upgrade", code=1)

    output = cli(app, "split-multidb", "--write", "--verify")
    assert output.count("same schema under both layouts") == 3
    output = cli(app, "split-multidb", "--stamp")
    if place is not None:
        assert "analytics: stamped" in output or "analytics: none of its" in output
        assert f"default: kept at {place}" in output
    cli(app, "upgrade")
    assert cli(app, "check", "--only", "heads", "--only", "pending").count("ok") == 3

    for engine in ENGINES:
        assert schema(live[engine]) == schema(reference[engine]), engine or "default"
    # Flask-Migrate's record stays where it is the default bind's own, and is gone
    # from the other databases.
    assert versions(live[""]) == [HEAD]
    for engine in ENGINES[1:]:
        assert "alembic_version" not in tables(live[engine])
    assert "Flask-Migrate:" not in cli(app, "status")
