"""The split plan on small chains: dependencies, helpers named like engine functions,
engines left out, and bind folders whose chains start empty."""

from __future__ import annotations

import ast

from flask import Flask

from helpers import AppMaker
from helpers import cli
from multidb_project import Rev
from multidb_project import write_project


def create(table: str) -> tuple[str, str]:
    return (
        f'op.create_table("{table}", sa.Column("id", sa.Integer, primary_key=True))',
        f'op.drop_table("{table}")',
    )


CHAIN = [
    Rev(
        "m1",
        None,
        "first",
        {
            "": ("upgrade_helper()", "pass"),
            "analytics": create("views"),
            "helper": create("made_by_helper"),
        },
    ),
    Rev(
        "m2a",
        "m1",
        "views again",
        {"": ("pass", "pass"), "analytics": create("views2")},
    ),
    Rev("m2b", "m1", "only default", {"": create("b"), "analytics": ("pass", "pass")}),
]
CHAIN += [
    Rev("m3", "m2b", "depends", {"": create("c"), "analytics": create("views3")}),
    # Nothing for analytics, but it depends on m2a, which nothing below it has: kept,
    # empty, so that m5 comes after m2a and analytics ends in one head.
    Rev("m4", "m3", "depends too", {"": create("d"), "analytics": ("pass", "pass")}),
    Rev(
        "m5", "m4", "after both", {"": ("pass", "pass"), "analytics": create("views5")}
    ),
]


def app_with(make_app: AppMaker, chain: list[Rev]) -> Flask:
    versions = write_project(make_app.migrations, chain, env=False)
    # m3 depends on m2a, across the branches.
    for name in ("m4",):
        path = next(versions.glob(f"{name}_*.py"))
        path.write_text(
            path.read_text().replace("depends_on = None", "depends_on = 'm2a'")
        )
    return make_app(
        binds={
            "analytics": make_app.sqlite("analytics"),
            "cache": make_app.sqlite("c"),
        },
        tables={},
    )


def test_dependencies_map_to_the_nearest_kept_revisions(make_app: AppMaker) -> None:
    app = app_with(make_app, CHAIN)
    assert "upgrade_helper() is in m1_first.py" in cli(app, "split-multidb", code=2)
    with app.app_context():
        found = make_app.schemaver.split_multidb(engines={"helper": None})
    default, analytics, cache = found.binds
    assert [r.depends_on for r in default.revisions if r.id == "m4"] == [("m2a",)]
    new = {r.original: r for r in analytics.revisions}
    assert set(new) == {"m1", "m2a", "m3", "m4", "m5"}
    assert new["m2a"].down_revisions == (new["m1"].id,)
    # m2b does nothing for analytics: m3 builds on m1.
    assert new["m3"].down_revisions == (new["m1"].id,)
    assert not new["m4"].works
    assert new["m4"].down_revisions == (new["m3"].id,)
    assert new["m4"].depends_on == (new["m2a"].id,)
    assert new["m5"].down_revisions == (new["m4"].id,)
    assert cache.revisions == [] and cache.engine is None
    assert cache.decisions == [
        "no revision has functions for this bind: its chain starts empty"
    ]
    assert "left out (--engine NAME=): the functions of engine(s) 'helper'" in (
        found.decisions
    )


def test_functions_that_code_calls_stay(make_app: AppMaker) -> None:
    app = app_with(make_app, CHAIN)
    cli(app, "split-multidb", "--write", "--engine", "helper=")
    first = (make_app.migrations / "versions" / "m1_first.py").read_text()
    functions = {
        node.name: node
        for node in ast.parse(first).body
        if isinstance(node, ast.FunctionDef)
    }
    # upgrade_() became upgrade(), which calls upgrade_helper(): that one stays.
    assert set(functions) == {"upgrade", "downgrade", "upgrade_helper"}
    assert "upgrade_analytics" not in first
    analytics = next((make_app.migrations / "analytics").glob("*_first.py")).read_text()
    assert "upgrade_helper" not in analytics and 'create_table("views"' in analytics
    kept = next((make_app.migrations / "analytics").glob("*_depends_too.py"))
    assert "depends_on = '" in kept.read_text()
    # Alembic counts a revision that another only depends on as a head: the same
    # two heads in each chain as in the old one.
    with app.app_context():
        heads = make_app.schemaver.heads()
    assert sorted(r.message for r in heads["default"]) == ["after both", "views again"]
    assert sorted(r.message for r in heads["analytics"]) == [
        "after both",
        "views again",
    ]
    # The chains are sound: verified against the old layout, helper left out.
    assert cli(app, "split-multidb", "--verify").count("same schema") == 3
