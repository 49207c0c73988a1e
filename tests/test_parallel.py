"""--jobs: binds on different databases migrate at once, with readable output."""

from __future__ import annotations

import pickle

import pytest
from flask import Flask

from flask_schemaver import DatabaseError
from flask_schemaver import MultipleHeads
from flask_schemaver import RunFailed
from flask_schemaver import UnknownBind
from helpers import add_revision
from helpers import AppMaker
from helpers import MakeDatabase


def build(make_app: AppMaker, urls: dict[str, str], fail: str | None = None) -> Flask:
    binds = {name: url for name, url in urls.items() if name != "default"}
    app = make_app(
        urls["default"], binds=binds, tables={None: {}, **{n: {} for n in binds}}
    )
    with app.app_context():
        for name in urls:
            for step in (1, 2):
                failing = name == fail and step == 2
                add_revision(
                    make_app.schemaver,
                    name,
                    f"{name}{step}",
                    message=f"{name} {step}",
                    upgrade="    op.execute('NOT SQL')\n" if failing else None,
                )
    return app


def test_jobs_on_sqlite_files(make_app: AppMaker) -> None:
    urls = {n: make_app.sqlite(n) for n in ("default", "b", "c")}
    urls["d"] = urls["c"]  # shares c's file: runs after c, in the same worker
    app = build(make_app, urls)
    result = app.test_cli_runner().invoke(args=["db", "upgrade", "--jobs", "3"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for name in urls:
        assert f"[{name}] upgrade <base> → {name}1  {name} 1" in "\n".join(lines)
        assert f"{name}: 2 revisions upgraded, now at {name}2" in lines
    # The summary keeps the app's bind order.
    summary = [line.split(":")[0] for line in lines if not line.startswith("[")]
    assert summary == list(urls)
    # c and d share a database: d's steps come after c's.
    order = [line for line in lines if line.startswith(("[c]", "[d]"))]
    # Each of the four steps is announced as it starts, then reported when committed.
    assert [line[:3] for line in order] == ["[c]"] * 4 + ["[d]"] * 4
    with app.app_context():
        assert make_app.schemaver.current() == {n: (f"{n}2",) for n in urls}


def test_jobs_failure_in_one_bind(make_app: AppMaker) -> None:
    urls = {n: make_app.sqlite(n) for n in ("default", "b", "c")}
    app = build(make_app, urls, fail="b")
    with app.app_context():
        with pytest.raises(RunFailed) as info:
            make_app.schemaver.upgrade(jobs=3)
        outcomes = {r.bind: r.outcome for r in info.value.results}
        assert outcomes == {"default": "done", "b": "failed", "c": "done"}
        [error] = info.value.errors
        assert isinstance(error, DatabaseError) and error.revision == "b2"
        assert make_app.schemaver.current()["b"] == ("b1",)
    result = app.test_cli_runner().invoke(
        args=["db", "downgrade", "--all-binds", "base", "-j", "2"]
    )
    assert result.exit_code == 0, result.output


def test_jobs_must_be_positive(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["db", "upgrade", "--jobs", "0"])
    assert result.exit_code == 2
    assert "Invalid value for '-j' / '--jobs'" in result.output


@pytest.mark.postgresql
def test_jobs_on_postgresql(make_app: AppMaker, postgresql_db: MakeDatabase) -> None:
    urls = {n: postgresql_db() for n in ("default", "b", "c", "d")}
    app = build(make_app, urls)
    with app.app_context():
        steps: list[str] = []
        results = make_app.schemaver.upgrade(
            jobs=4, on_step=lambda s: steps.append(s.revision)
        )
        assert [r.bind for r in results] == list(urls)
        assert sorted(steps) == sorted(f"{n}{i}" for n in urls for i in (1, 2))
        assert make_app.schemaver.current() == {n: (f"{n}2",) for n in urls}


def test_errors_survive_pickling() -> None:
    for error in (
        UnknownBind("x", ["a", "b"]),
        MultipleHeads("default", ["h1", "h2"]),
        DatabaseError("boom", "b", "r2"),
    ):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error)
        assert str(copy) == str(error) and copy.__dict__ == error.__dict__
