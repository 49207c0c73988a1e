"""What a run over many tenants shows: a progress bar per tenanted bind at a terminal,
summary lines elsewhere, failures named as they happen; ``status`` naming the tenants
left part way through a revision. What is shown never changes what happens to the
tenants: a closed pipe or a latin-1 terminal leaves them as a plain run does."""

from __future__ import annotations

import datetime
import json
import os
import pty
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
import sqlalchemy as sa
from flask import Flask

from flask_schemaver import RunResult
from flask_schemaver import SchemaVerError
from flask_schemaver.cli import progress
from flask_schemaver.cli import stream
from helpers import AppMaker
from helpers import cli
from helpers import invoke
from helpers import MakeDatabase
from helpers import tables
from helpers import versions
from helpers import write_revision_file
from tenant_helpers import server_databases
from tenant_helpers import tenanted_app

NAMES = ("acme", "beta", "gamma")


def tenant_files(tmp_path: Path, names: tuple[str, ...] = NAMES) -> dict[str, str]:
    return {n: f"sqlite:///{tmp_path / f'tenant_{n}.db'}" for n in names}


@pytest.fixture
def shop(make_app: AppMaker, tmp_path: Path) -> Flask:
    return tenanted_app(
        make_app, make_app.sqlite("shop"), lambda: tenant_files(tmp_path)
    )


def break_tenant(tmp_path: Path, name: str) -> None:
    """Give the tenant a table named item already: its first revision fails."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / f'tenant_{name}.db'}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE item (id INTEGER)")
    engine.dispose()


def test_the_api_tells_the_targets_then_each_result(
    shop: Flask, make_app: AppMaker
) -> None:
    calls: list[tuple[str, object]] = []

    def targets(binds: object, known: list[RunResult]) -> None:
        labels = [b.label for b in binds]  # type: ignore[attr-defined]
        calls.append(("targets", (labels, [(r.bind, r.tenant) for r in known])))

    def result(found: RunResult) -> None:
        calls.append(("result", (found.tenant, found.outcome)))

    with shop.app_context():
        make_app.schemaver.upgrade(tenant="acme")
        make_app.schemaver.upgrade(on_targets=targets, on_result=result)
        # Those at their heads already are known before anything runs, and not run.
        assert calls == [
            (
                "targets",
                (
                    ["default", "shop/acme", "shop/beta", "shop/gamma"],
                    [("default", None), ("shop", "acme")],
                ),
            ),
            ("result", ("beta", "done")),
            ("result", ("gamma", "done")),
        ]
        calls.clear()
        # In worker processes, the results are told in this one; stamp tells too.
        make_app.schemaver.downgrade(
            "base", tenant="*", jobs=2, on_targets=targets, on_result=result
        )
        make_app.schemaver.stamp("r1", tenant="*", on_result=result)
    assert calls[0] == ("targets", (["shop/acme", "shop/beta", "shop/gamma"], []))
    assert sorted(calls[1:4]) == [("result", (n, "done")) for n in NAMES]
    assert calls[4:] == [("result", (n, "done")) for n in NAMES]


def test_at_a_terminal_a_bar_counts_tenants_and_failures_go_above_it(
    shop: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream, "is_terminal", lambda: True)
    monkeypatch.setenv("COLUMNS", "120")  # room for the whole bar
    break_tenant(tmp_path, "beta")
    result = invoke(shop, "upgrade")
    assert result.exit_code == 1
    out = result.stdout
    # No step of a tenant is listed: the bar, rewritten in place, shows them.
    assert "[shop/" not in out
    frames = [f.rstrip() for f in out.split("\r") if f.strip()]
    bars = [f for f in frames if f.startswith("shop  [")]
    assert bars[0] == "shop  [------------------------]    0%  0 done, 0 failed, 3 left"
    assert bars[-1].startswith(
        "shop  [########################]  100%  2 done, 1 failed, 0 left, "
    )
    # The failure is a line of its own, above the bar, which is drawn again below.
    [failure] = [f for f in frames if f.startswith("shop/beta: failed: ")]
    assert "table item already exists" in failure
    after = frames[frames.index(failure) + 1]
    assert after.startswith("shop  [") and "0 failed" in after
    assert "1 failed" in frames[frames.index(failure) + 2]
    # Below the finished bar, the summaries, as always.
    assert out.endswith(
        "\ndefault: nothing to do, at <base>\nshop/beta: failed\n"
        "shop: 3 tenants: 2 upgraded, 0 with nothing to do, 1 failed (beta)\n"
    )
    assert "Error: [shop/beta] upgrade of revision r1" in result.stderr
    # One tenant chosen is shown step by step, as a plain bind.
    out = cli(shop, "downgrade", "--tenant", "acme", "r1")
    assert out.startswith("[shop/acme] downgrade r2 → r1  r2 ...\r")
    assert "  [" not in out


def test_bars_of_two_tenanted_binds_are_shown_one_after_the_other(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    written: list[str] = []
    monkeypatch.setattr(stream, "_write", lambda text, err: written.append(text))
    monkeypatch.setattr(stream, "color", lambda: False)
    monkeypatch.setenv("COLUMNS", "120")

    def tenant(bind: str, name: str) -> types.SimpleNamespace:
        return types.SimpleNamespace(name=bind, tenant=name)

    binds = [tenant("shop", "a"), tenant("shop", "b"), tenant("blog", "c")]
    binds.append(tenant("blog", "d"))
    known = [RunResult("blog", ("r1",), ("r1",), tenant="d")]
    with progress.FleetProgress("upgrade", None, terminal=True) as fleet:
        fleet.targets(binds, known)  # type: ignore[arg-type]
        # blog's tenant finishing first is counted; its bar waits for shop's.
        fleet.result(RunResult("blog", (), ("r1",), tenant="c"))
        assert "blog" not in "".join(written)
        fleet.result(RunResult("shop", (), ("r1",), tenant="a"))
        fleet.result(RunResult("shop", (), ("r1",), tenant="b"))
    lines = [line.strip("\r ") for line in "".join(written).split("\n") if line]
    finals = [line.rsplit("\r", 1)[-1].rstrip() for line in lines]
    assert finals[0].startswith("shop  [####")
    assert "100%  2 done, 0 failed, 0 left" in finals[0]
    assert finals[1] == (
        "blog  [########################]  100%  2 done, 0 failed, 0 left, "
        + finals[1].split("left, ")[1]
    )
    assert stream._footer is None


@pytest.mark.parametrize(("columns", "color"), [(80, True), (80, False), (90, False)])
def test_on_a_narrow_terminal_the_bar_narrows_and_the_line_never_wraps(
    monkeypatch: pytest.MonkeyPatch, columns: int, color: bool
) -> None:
    written: list[str] = []
    monkeypatch.setattr(stream, "_write", lambda text, err: written.append(text))
    monkeypatch.setattr(stream, "color", lambda: color)
    monkeypatch.setenv("COLUMNS", str(columns))
    binds = [types.SimpleNamespace(name="shop", tenant=f"t{i}") for i in range(1000)]
    with progress.FleetProgress("upgrade", None, terminal=True) as fleet:
        fleet.targets(binds, [])  # type: ignore[arg-type]
        fleet.tallies["shop"].started -= 60  # a rate a fleet reaches, not a loop's
        for i in range(1000):
            failed = i % 7 == 0
            fleet.result(
                RunResult(
                    "shop",
                    (),
                    () if failed else ("r1",),
                    tenant=f"t{i}",
                    outcome="failed" if failed else "done",
                    error=SchemaVerError("x") if failed else None,
                )
            )
    # What is seen of each frame: click pads it, and shows the cursor at the end.
    seen = click.unstyle("".join(written)).replace("\x1b[?25h", "")
    frames = [
        f.rstrip()
        for f in seen.replace("\n", "\r").split("\r")
        if f.startswith("shop  [")
    ]
    longest = max(frames, key=len)
    assert len(longest) < columns, longest
    assert len(longest) > columns - 15, longest  # and uses the room there is
    widths = {len(f.split("[", 1)[1].split("]")[0]) for f in frames}
    assert len(widths) == 1 and 4 <= widths.pop() < progress.BAR_WIDTH


def test_elsewhere_a_summary_line_now_and_then(
    shop: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(progress, "SUMMARY_EVERY", 0.0)
    break_tenant(tmp_path, "gamma")
    out = cli(shop, "upgrade", code=1)
    lines = out.splitlines()
    summaries = [line for line in lines if line.startswith("shop: ")]
    assert summaries[0].startswith("shop: 0/3 tenants done, 0 failed, 3 left")
    assert "shop: 1/3 tenants done, 0 failed, 2 left, " in out
    assert "shop: 2/3 tenants done, 1 failed, 0 left" not in out  # only while going
    # The steps as they are committed, the failure as it happens, then the summary
    # naming it with its error.
    assert "[shop/acme] upgrade r1 → r2  r2 (" in out
    failure = lines.index(
        "shop/gamma: failed: upgrade of revision r1 ('r1') failed: "
        f"sqlite:///{tmp_path / 'tenant_gamma.db'}: table item already exists"
    )
    assert lines[failure + 1 :] == [
        f"Error: [shop/gamma] {lines[failure].split(': ', 2)[2]}",
        "default: nothing to do, at <base>",
        "shop/gamma: failed",
        "shop: 3 tenants: 2 upgraded, 0 with nothing to do, 1 failed (gamma)",
    ]
    # At the default interval, a short run has no summary line but the last.
    monkeypatch.setattr(progress, "SUMMARY_EVERY", 5.0)
    out = cli(shop, "downgrade", "--all-tenants", "base")
    assert [line for line in out.splitlines() if line.startswith("shop:")] == [
        "shop: 3 tenants: 2 downgraded, 1 with nothing to do"
    ]


def test_status_names_tenants_left_part_way(shop: Flask, make_app: AppMaker) -> None:
    with shop.app_context():
        make_app.schemaver.upgrade("r1")
        # As a revision that failed part way on MariaDB leaves beta: a start in
        # its history, and nothing after it.
        [beta] = make_app.schemaver.targets("shop", "beta")
        engine = sa.create_engine(beta.engine.url)
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO alembic_version_shop_history (revision, direction, "
                "applied_at) VALUES ('r2', 'started-up', ?)",
                (datetime.datetime.now(datetime.timezone.utc),),
            )
        engine.dispose()
        states = make_app.schemaver.status("shop")
    assert [(s.tenant, s.current, s.unfinished) for s in states] == [
        ("acme", ("r1",), ()),
        ("beta", ("r1",), ("r2",)),
        ("gamma", ("r1",), ()),
    ]
    out = cli(shop, "status", "--bind", "shop", code=0)
    assert out.splitlines() == [
        "shop: 3 tenants",
        "  [ ] 2 at r1, not up to date: acme, gamma",
        "  [!] 1 at r1, their run of r2 stopped part way: beta; check the schema, "
        "then 'flask db resolve --bind shop --tenant beta r2 --applied' (all of it "
        "is there) or '--rolled-back' (none is)",
    ]
    listed = json.loads(cli(shop, "status", "--bind", "shop", "--json"))
    assert [(s["tenant"], s["unfinished"], s["up_to_date"]) for s in listed] == [
        ("acme", [], False),
        ("beta", ["r2"], False),
        ("gamma", [], False),
    ]


@pytest.fixture
def mariadb_tenants(mysql_server: sa.Engine) -> Iterator[list[str]]:
    """Three empty databases on the MariaDB server, dropped afterwards."""
    with server_databases(mysql_server, list(NAMES)) as names:
        yield names


@pytest.mark.mysql
def test_a_tenant_left_part_way_on_mariadb_needs_resolving(
    make_app: AppMaker, mysql_db: MakeDatabase, mariadb_tenants: list[str]
) -> None:
    app = tenanted_app(make_app, mysql_db(), lambda: mariadb_tenants)
    acme, beta, gamma = mariadb_tenants
    cli(app, "upgrade", "r1")
    # r2 adds a column, which MariaDB commits at once, then writes a row that
    # beta refuses: beta is left part way through r2.
    with app.app_context():
        engine = make_app.db.engines["shop"]
        with engine.begin() as connection:
            connection.exec_driver_sql(
                f"ALTER TABLE `{beta}`.item ADD CONSTRAINT no_seed CHECK (name <> 'seed')"
            )
    out = cli(app, "upgrade", code=1)
    assert f"shop/{beta}: failed: upgrade of revision r2 ('r2') failed: " in out
    out = cli(app, "status", "--bind", "shop")
    assert out.splitlines() == [
        "shop: 3 tenants",
        "  [X] 2 up to date, at r2",
        f"  [!] 1 at r1, their run of r2 stopped part way: {beta}; check the schema, "
        f"then 'flask db resolve --bind shop --tenant {beta} r2 --applied' (all of "
        "it is there) or '--rolled-back' (none is)",
    ]
    listed = json.loads(cli(app, "status", "--bind", "shop", "--json"))
    assert [(s["tenant"], s["unfinished"]) for s in listed] == [
        (acme, []),
        (beta, ["r2"]),
        (gamma, []),
    ]
    with app.app_context():
        [state] = make_app.schemaver.status("shop", beta)
        assert state.unfinished == ("r2",) and not state.up_to_date


#: An app with a tenanted bind whose tenants are SQLite files, for ``flask db`` in a
#: process of its own.
TENANTED_APP = """\
import os
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from flask_schemaver import SchemaVer

def create_app():
    app = Flask(__name__)
    root = os.path.dirname(os.path.abspath(__file__))
    app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{root}/main.db"
    app.config["SQLALCHEMY_BINDS"] = {"shop": f"sqlite:///{root}/shop.db"}
    schemaver = SchemaVer(app, SQLAlchemy(app))
    schemaver.tenants("shop")(
        lambda: {n: f"sqlite:///{root}/tenant_{n}.db" for n in ("acme", "beta", "gamma")}
    )
    return app
"""


def project(tmp_path: Path) -> None:
    (tmp_path / "fleet_app.py").write_text(TENANTED_APP)
    folder = tmp_path / "migrations" / "shop"
    create = "op.create_table('item', sa.Column('id', sa.Integer, primary_key=True))"
    write_revision_file(folder, "r1", None, message="items →", upgrade=create)
    add = "op.add_column('item', sa.Column('price', sa.Integer))"
    write_revision_file(folder, "r2", "r1", message="prices", upgrade=add)
    (tmp_path / "migrations" / "versions").mkdir()
    break_tenant(tmp_path, "beta")


def outcome(tmp_path: Path) -> dict[str, list[str]]:
    """Each tenant's version, [] for one without a version table."""
    found = {}
    for name in NAMES:
        path = tmp_path / f"tenant_{name}.db"
        held = "alembic_version_shop" in tables(path)
        found[name] = versions(path, "alembic_version_shop") if held else []
    return found


def run_in_terminal(tmp_path: Path, env: dict[str, str]) -> tuple[int, bytes]:
    """``flask db upgrade`` with a pseudo-terminal as its output: exit code, output."""
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "flask", "db", "upgrade"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
    )
    os.close(terminal)
    out = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the terminal's other end closed: the process ended
            break
        if not chunk:
            break
        out += chunk
    os.close(controller)
    return proc.wait(timeout=60), out


@pytest.mark.slow
def test_output_never_changes_what_happens_to_the_tenants(tmp_path: Path) -> None:
    project(tmp_path)
    env = dict(
        os.environ, FLASK_APP="fleet_app:create_app", NO_COLOR="1", COLUMNS="120"
    )
    expected = {"acme": ["r2"], "beta": [], "gamma": ["r2"]}
    # At a terminal that cannot encode the arrow in r1's message.
    code, out = run_in_terminal(tmp_path, dict(env, PYTHONIOENCODING="latin-1"))
    text = out.decode("latin-1")
    assert code == 1, text
    assert "Traceback" not in text
    assert "shop  [########################]  100%  2 done, 1 failed, 0 left" in text
    assert "shop/beta: failed: upgrade of revision r1 ('items ->') failed" in text
    assert outcome(tmp_path) == expected
    # A reader that goes away, with ASCII only: beta still fails alone.
    for name in ("acme", "gamma"):
        (tmp_path / f"tenant_{name}.db").unlink()
    proc = subprocess.run(
        ["bash", "-c", "flask db upgrade | head -1; exit ${PIPESTATUS[0]}"],
        cwd=tmp_path,
        env=dict(env, PYTHONIOENCODING="ascii"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stdout.splitlines()) == 1
    assert outcome(tmp_path) == expected
