"""check and autogenerate read nothing of the tables that are not the bind's: the
tables of other binds in its database, its history table. They are left out by name,
before Alembic reflects them, with the same answer as when they were reflected and
then left out."""

from __future__ import annotations

from typing import Any

from flask import Flask

from helpers import AppMaker
from helpers import cli


def project(make_app: AppMaker, seen: list[str]) -> Flask:
    """default (users) and audit (entries) in one SQLite file, both at their heads;
    a user's include_name hook that records the tables it is asked about."""

    def include_name(name: str | None, type_: str, parents: dict[str, Any]) -> bool:
        if type_ == "table":
            seen.append(str(name))
        return True

    url = make_app.sqlite("main")
    app = make_app(
        uri=url,
        binds={"audit": url},
        tables={None: {"users": ["name"]}, "audit": {"entries": ["what"]}},
        SCHEMAVER_CONTEXT={"include_name": include_name},
    )
    with app.app_context():
        for bind in ("default", "audit"):
            [result] = make_app.schemaver.revision(
                f"start {bind}", bind, autogenerate=True
            )
        make_app.schemaver.upgrade()
    seen.clear()
    return app


def test_check_reads_only_the_binds_tables(make_app: AppMaker) -> None:
    seen: list[str] = []
    app = project(make_app, seen)
    with app.app_context():
        [result] = make_app.schemaver.check("default")
    assert result.ok, result
    assert set(seen) == {"users"}
    seen.clear()
    output = cli(app, "check", "--bind", "audit")
    assert "audit" in output
    assert set(seen) == {"entries"}


def test_a_table_another_bind_left_is_still_reported_by_its_own(
    make_app: AppMaker,
) -> None:
    """Leaving tables out by name does not hide what is a bind's own: a table in the
    database that no model names, and no other bind owns, is still to be dropped."""
    seen: list[str] = []
    app = project(make_app, seen)
    with app.app_context():
        engine = make_app.db.engines[None]
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE stray (id INTEGER PRIMARY KEY)")
        [result] = make_app.schemaver.check("default")
    assert not result.ok
    assert "stray" in set(seen)
    assert "entries" not in set(seen)
