"""Branches and merges inside one bind's chain, and revision ids across binds.

The default bind's chain is built as ``r0`` (base) with two branches on it: ``alpha``
(creates table alpha) and ``beta`` (spliced onto r0, creates table beta). A second bind,
``aux``, has a plain chain of its own and must never be touched by the default bind's
branch work.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask

from flask_schemaver import MigrationError
from flask_schemaver import MultipleHeads
from flask_schemaver import SchemaVer
from flask_schemaver import SchemaVerError
from flask_schemaver import UsageError
from helpers import AppMaker
from helpers import revision_files
from helpers import set_bodies
from helpers import tables
from helpers import versions

# -- helpers -----------------------------------------------------------------------------


def fill(path: str, table: str, column: str) -> None:
    """Make an empty revision create ``table`` (matching the model) and drop it on the way down."""
    set_bodies(
        path,
        upgrade=f"    op.create_table('{table}',\n"
        "        sa.Column('id', sa.Integer(), nullable=False),\n"
        f"        sa.Column('{column}', sa.String(length=50), nullable=True),\n"
        "        sa.PrimaryKeyConstraint('id'))\n",
        downgrade=f"    op.drop_table('{table}')\n",
    )


def wrote(result: Result) -> list[str]:
    """Revision ids from '<bind>: wrote <id> <message> at <path>' lines."""
    assert result.exit_code == 0, result.output
    return [line.split()[2] for line in result.stdout.splitlines() if " wrote " in line]


def branch_app(make_app: AppMaker) -> Flask:
    return make_app(
        binds={"aux": make_app.sqlite("aux")},
        tables={None: {"alpha": ["a"], "beta": ["b"]}, "aux": {"thing": ["t"]}},
    )


class Chain:
    """Ids of the default bind's branched chain."""

    def __init__(self, r0: str, a: str, b: str, aux: str) -> None:
        self.r0, self.a, self.b, self.aux = r0, a, b, aux


def branch_api(ext: SchemaVer) -> Chain:
    """Build r0 -> a [alpha] and r0 -> b [beta] on default, one revision on aux (API)."""
    [aux] = ext.migrate("aux tables", "aux")
    [base] = ext.revision("base", "default")
    r0 = base.revisions[0].id
    [alpha] = ext.revision("alpha", "default", branch_label="alpha")
    [beta] = ext.revision("beta", "default", head=r0, splice=True, branch_label="beta")
    fill(alpha.revisions[0].path, "alpha", "a")
    fill(beta.revisions[0].path, "beta", "b")
    return Chain(r0, alpha.revisions[0].id, beta.revisions[0].id, aux.revisions[0].id)


@pytest.fixture
def branched(make_app: AppMaker) -> Iterator[tuple[Flask, SchemaVer, Chain]]:
    app = branch_app(make_app)
    ext = make_app.schemaver
    with app.app_context():
        chain = branch_api(ext)
    yield app, ext, chain


# -- building branches -----------------------------------------------------------------


def test_branches_api(make_app: AppMaker) -> None:
    app = branch_app(make_app)
    ext = make_app.schemaver
    main = make_app.sqlite("main")
    with app.app_context():
        [base] = ext.revision("base", "default")
        r0 = base.revisions[0].id
        [alpha] = ext.revision("alpha", "default", branch_label="alpha")
        [a] = alpha.revisions
        assert a.down_revisions == (r0,)
        assert a.branch_labels == ("alpha",)

        with pytest.raises(MigrationError) as info:
            ext.revision("beta", "default", head=r0)
        assert str(info.value) == (
            f"[default] Revision {r0} is not a head revision; please specify --splice "
            "to create a new branch from this revision"
        )
        [beta] = ext.revision(
            "beta", "default", head=r0, splice=True, branch_label="beta"
        )
        [b] = beta.revisions
        assert b.down_revisions == (r0,)
        assert b.branch_labels == ("beta",)
        fill(a.path, "alpha", "a")
        fill(b.path, "beta", "b")

        assert {r.id for r in ext.heads("default")["default"]} == {a.id, b.id}
        assert ext.heads("aux") == {"aux": []}
        [point] = ext.branches("default")["default"]
        assert point.id == r0 and point.is_branch_point

        with pytest.raises(MultipleHeads) as heads_error:
            ext.revision("more", "default")
        assert set(heads_error.value.heads) == {a.id, b.id}
        assert "join them with 'flask db merge --bind default'" in str(
            heads_error.value
        )

        [state] = ext.status("default")
        assert set(state.heads) == {a.id, b.id}
        [found] = ext.check("default")
        assert not found.ok
        assert set(found.heads) == {a.id, b.id}

        # Upgrading to 'heads' runs both branches.
        [run] = ext.upgrade("heads", "default")
        assert run.before == ()
        assert set(run.after) == {a.id, b.id}
        assert [s.revision for s in run.steps][0] == r0
        assert {s.revision for s in run.steps} == {r0, a.id, b.id}
        assert tables(main) == {"alpha", "beta", "alembic_version"}
        assert versions(main) == sorted([a.id, b.id])

        # Only the heads are wrong now: nothing pending, models match.
        [found] = ext.check("default")
        assert not found.ok
        assert found.pending == [] and found.drift == [] and found.compared
        assert set(found.heads) == {a.id, b.id}

        [merged] = ext.merge(bind="default", message="join")
        [m] = merged.revisions
        assert merged.bind == "default"
        assert set(m.down_revisions) == {a.id, b.id}
        assert m.is_merge_point and m.message == "join"
        assert Path(m.path).parent == make_app.migrations / "versions"
        assert [r.id for r in ext.heads("default")["default"]] == [m.id]
        # Merging again: one head, nothing written.
        assert [(r.bind, r.revisions) for r in ext.merge()] == [
            ("default", []),
            ("aux", []),
        ]

        [found] = ext.check("default")
        assert found.pending == [m.id] and found.heads == (m.id,)
        [run] = ext.upgrade(bind="default")
        assert [s.revision for s in run.steps] == [m.id]
        assert run.after == (m.id,)
        [found] = ext.check("default")
        assert found.ok, found
    assert versions(main) == [m.id]
    assert tables(make_app.sqlite("aux")) == set()


def test_branches_cli(make_app: AppMaker) -> None:
    app = branch_app(make_app)
    runner = app.test_cli_runner()
    main = make_app.sqlite("main")

    result = runner.invoke(args=["db", "revision", "-m", "base"])
    assert result.exit_code == 2
    assert (
        "Error: an empty revision is written for one bind at a time; name it with "
        "--bind (binds: default, aux)" in result.stderr
    )
    [r0] = wrote(
        runner.invoke(args=["db", "revision", "--bind", "default", "-m", "base"])
    )
    [a] = wrote(
        runner.invoke(
            args=[
                "db",
                "revision",
                "--bind",
                "default",
                "-m",
                "alpha",
                "--branch-label",
                "alpha",
            ]
        )
    )
    result = runner.invoke(
        args=["db", "revision", "--bind", "default", "-m", "beta", "--head", r0]
    )
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"Error: [default] Revision {r0} is not a head revision; please specify --splice "
        "to create a new branch from this revision"
    ]
    result = runner.invoke(
        args=[
            "db", "revision", "--bind", "default", "-m", "beta",
            "--head", r0, "--splice", "--branch-label", "beta",
        ]
    )  # fmt: skip
    [b] = wrote(result)
    assert result.stdout.splitlines() == [
        f"default: wrote {b} beta at {make_app.migrations / 'versions' / f'{b}_beta.py'}"
    ]
    folder = make_app.migrations / "versions"
    fill(str(folder / f"{a}_alpha.py"), "alpha", "a")
    fill(str(folder / f"{b}_beta.py"), "beta", "b")

    result = runner.invoke(args=["db", "heads", "--bind", "default"])
    assert result.exit_code == 0, result.output
    assert sorted(result.stdout.splitlines()) == sorted(
        [
            f"default: {r0} -> {a} (alpha) (head), alpha",
            f"default: {r0} -> {b} (beta) (head), beta",
        ]
    )
    result = runner.invoke(args=["db", "revision", "--bind", "default", "-m", "more"])
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("Error: [default] several heads (")
    assert a in line and b in line
    assert line.endswith(
        "); name one, use 'heads', or join them with 'flask db merge --bind default'"
    )

    result = runner.invoke(args=["db", "status", "--bind", "default"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:3] == [f"default ({main})", "  current: <base>", f"  [ ] {r0}  base"]
    assert sorted(lines[3:5]) == sorted(
        [f"  [ ] {a} (head)  alpha", f"  [ ] {b} (head)  beta"]
    )
    assert lines[5].startswith("  several heads: ")
    assert a in lines[5] and b in lines[5]
    assert lines[5].endswith("; join them with 'flask db merge --bind default'")

    result = runner.invoke(args=["db", "upgrade", "--bind", "default", "head"])
    assert result.exit_code == 1
    assert "Error: [default] several heads (" in result.stderr
    assert "alpha" not in tables(main)
    if "alembic_version" in tables(main):
        assert versions(main) == []

    result = runner.invoke(args=["db", "upgrade", "--bind", "default", "heads"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    # Each step is announced as it starts, then reported with its time once committed.
    assert lines[0] == f"[default] upgrade <base> → {r0}  base ..."
    assert re.fullmatch(
        rf"\[default\] upgrade <base> → {r0}  base \(\d+ ms\)", lines[1]
    )
    assert sorted(line.split("  ")[0] for line in lines[2:6]) == sorted(
        [f"[default] upgrade {r0} → {a}", f"[default] upgrade {r0} → {b}"] * 2
    )
    # Both branches went up, and the summary says the bind now has two heads.
    summary, note = lines[6].split(" (", 1)
    assert summary.startswith("default: 3 revisions upgraded, now at ")
    assert set(summary.split("now at ")[1].split(", ")) == {a, b}
    assert note == "2 heads: join them with 'flask db merge --bind default')"
    assert tables(main) == {"alpha", "beta", "alembic_version"}
    assert versions(main) == sorted([a, b])

    result = runner.invoke(args=["db", "check", "--bind", "default"])
    assert result.exit_code == 1
    [line] = result.stdout.splitlines()
    assert line.startswith("default: several heads ")
    assert a in line and b in line and line.endswith("; run 'flask db merge'")

    result = runner.invoke(args=["db", "merge", "--bind", "default", "-m", "join"])
    [m] = wrote(result)
    assert result.stdout.splitlines() == [
        f"default: wrote {m} join at {folder / f'{m}_join.py'}"
    ]
    text = (folder / f"{m}_join.py").read_text()
    assert f"Revises: {a}, {b}" in text or f"Revises: {b}, {a}" in text
    result = runner.invoke(args=["db", "heads"])
    assert result.exit_code == 0, result.output
    [head_line, aux_line] = result.stdout.splitlines()
    assert head_line.startswith("default: ")
    assert f" -> {m} (alpha, beta) (head) (mergepoint), join" in head_line
    assert aux_line == "aux: no revisions"
    result = runner.invoke(args=["db", "merge", "--bind", "default", "-m", "again"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["default: one head, nothing to merge"]

    result = runner.invoke(args=["db", "upgrade", "--bind", "default"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == f"default: 1 revision upgraded, now at {m}"
    assert versions(main) == [m]
    result = runner.invoke(args=["db", "check", "--bind", "default"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["default: ok"]
    result = runner.invoke(args=["db", "status", "--bind", "default"])
    assert "several heads" not in result.stdout
    assert f"  [X] {m} (head)  join" in result.stdout


def test_merge_named_revisions_with_label_and_rev_id(
    branched: tuple[Flask, SchemaVer, Chain],
) -> None:
    app, ext, c = branched
    with app.app_context():
        with pytest.raises(
            UsageError,
            match="merging named revisions or --rev-id needs a single --bind",
        ):
            ext.merge([c.a, c.b])
        [merged] = ext.merge(
            [c.a, c.b],
            "default",
            message="join",
            branch_label="joined",
            rev_id="feed01",
        )
        [m] = merged.revisions
        assert m.id == "feed01"
        assert set(m.down_revisions) == {c.a, c.b}
        assert "joined" in m.branch_labels
        assert [r.id for r in ext.show("joined@head", "default")["default"]] == [
            "feed01"
        ]
    assert Path(m.path).name == "feed01_join.py"
    runner = app.test_cli_runner()
    result = runner.invoke(args=["db", "upgrade", "--bind", "default", "joined@head"])
    assert result.exit_code == 0, result.output
    assert (
        result.stdout.splitlines()[-1] == "default: 4 revisions upgraded, now at feed01"
    )


# -- moving along one branch ---------------------------------------------------------


def test_upgrade_and_downgrade_by_branch_label(
    branched: tuple[Flask, SchemaVer, Chain], make_app: AppMaker
) -> None:
    app, ext, c = branched
    main = make_app.sqlite("main")
    with app.app_context():
        [run] = ext.upgrade("alpha@head", "default")
        assert [s.revision for s in run.steps] == [c.r0, c.a]
        assert run.after == (c.a,)
    assert tables(main) == {"alpha", "alembic_version"}
    assert versions(main) == [c.a]

    runner = app.test_cli_runner()
    result = runner.invoke(args=["db", "upgrade", "--bind", "default", "beta@head"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"[default] upgrade {c.r0} → {c.b}  beta ..."
    assert lines[1].startswith(f"[default] upgrade {c.r0} → {c.b}  beta (")
    assert lines[2].startswith("default: 1 revision upgraded, now at ")
    assert tables(main) == {"alpha", "beta", "alembic_version"}
    assert versions(main) == sorted([c.a, c.b])

    # One line per revision the database is at, as Alembic prints them.
    result = runner.invoke(args=["db", "current", "--bind", "default"])
    assert sorted(result.stdout.splitlines()) == sorted(
        [f"default: {c.a} (alpha) (head)", f"default: {c.b} (beta) (head)"]
    )

    # Stepping one branch back leaves the other where it is.
    result = runner.invoke(args=["db", "downgrade", "--bind", "default", "beta@-1"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1].startswith(
        f"[default] downgrade {c.b} → {c.r0}  beta ("
    )
    assert (
        result.stdout.splitlines()[2] == f"default: 1 revision downgraded, now at {c.a}"
    )
    assert tables(main) == {"alpha", "alembic_version"}
    assert versions(main) == [c.a]
    with app.app_context():
        [run] = ext.downgrade("alpha@-1", "default")
        assert (run.before, run.after) == ((c.a,), (c.r0,))
        assert ext.current("aux") == {"aux": ()}
    assert tables(main) == {"alembic_version"}
    assert versions(main) == [c.r0]
    # aux's database was never touched: autogenerate leaves databases alone.
    assert tables(make_app.sqlite("aux")) == set()


def test_downgrade_minus_one_needs_bind(
    branched: tuple[Flask, SchemaVer, Chain], make_app: AppMaker
) -> None:
    app, ext, c = branched
    main, aux = make_app.sqlite("main"), make_app.sqlite("aux")
    with app.app_context():
        [merged] = ext.merge(bind="default", message="join")
        m = merged.revisions[0].id
        [after] = ext.revision("after merge", "default")
        top = after.revisions[0].id
        ext.upgrade()
        assert ext.current() == {"default": (top,), "aux": (c.aux,)}
        with pytest.raises(UsageError) as info:
            ext.downgrade("-1")
        assert str(info.value) == (
            "downgrade changes a database's version: name the binds with --bind "
            "(default, aux) or pass --all-binds"
        )
        assert ext.current() == {"default": (top,), "aux": (c.aux,)}

    runner = app.test_cli_runner()
    result = runner.invoke(args=["db", "downgrade", "-1"])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        "Error: downgrade changes a database's version: name the binds with --bind "
        "(default, aux) or pass --all-binds"
    )
    assert versions(main) == [top]

    result = runner.invoke(args=["db", "downgrade", "--bind", "default", "-1"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[1].startswith(f"[default] downgrade {top} → {m}  after merge (")
    assert lines[2] == f"default: 1 revision downgraded, now at {m}"
    assert versions(main) == [m]
    assert versions(aux, "alembic_version_aux") == [c.aux]
    assert tables(aux) == {"thing", "alembic_version_aux"}

    with app.app_context():
        [run] = ext.downgrade("-1", "aux")
        assert (run.bind, run.before, run.after) == ("aux", (c.aux,), ())
        assert ext.current() == {"default": (m,), "aux": ()}
    assert tables(aux) == {"alembic_version_aux"}
    assert tables(main) == {"alpha", "beta", "alembic_version"}


def test_downgrade_minus_one_from_two_heads_is_a_clean_error(
    branched: tuple[Flask, SchemaVer, Chain], make_app: AppMaker
) -> None:
    app, ext, c = branched
    main = make_app.sqlite("main")
    with app.app_context():
        ext.upgrade("heads", "default")
    assert versions(main) == sorted([c.a, c.b])
    result = app.test_cli_runner().invoke(
        args=["db", "downgrade", "--bind", "default", "-1"]
    )
    # Under pytest's filterwarnings=error Alembic's UserWarning surfaces as an exception;
    # in a terminal it is printed with a path into site-packages and one branch is
    # stepped back arbitrarily.
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Warning" not in result.output
    assert result.exit_code in (1, 2), result.output
    [line] = result.stderr.splitlines()
    assert line.startswith("Error: [default] ")
    assert c.a in line and c.b in line
    assert versions(main) == sorted([c.a, c.b])
    with app.app_context(), pytest.raises(SchemaVerError):
        ext.downgrade("-1", "default")
    assert versions(main) == sorted([c.a, c.b])


# -- looking at branches ---------------------------------------------------------------


def test_show(branched: tuple[Flask, SchemaVer, Chain], make_app: AppMaker) -> None:
    app, ext, c = branched
    folder = make_app.migrations / "versions"
    with app.app_context():
        [rev] = ext.show("alpha@head", "default")["default"]
        assert (rev.id, rev.down_revisions, rev.branch_labels) == (
            c.a,
            (c.r0,),
            ("alpha",),
        )
        assert rev.is_head and not rev.is_branch_point
        assert f"Revision ID: {c.a}" in rev.docstring
        assert {r.id for r in ext.show("heads", "default")["default"]} == {c.a, c.b}
        assert ext.show("current", "default") == {"default": []}
        ext.upgrade("beta@head", "default")
        assert [r.id for r in ext.show("current", "default")["default"]] == [c.b]
        [base] = ext.show(c.r0, "default")["default"]
        assert base.is_branch_point and base.down_revisions == ()

    runner = app.test_cli_runner()
    result = runner.invoke(args=["db", "show", "--bind", "default", "alpha@head"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:6] == [
        "default:",
        f"Rev: {c.a} (head)",
        f"Parent: {c.r0}",
        "Branch names: alpha",
        f"Path: {folder / f'{c.a}_alpha.py'}",
        "",
    ]
    assert "    alpha" in lines
    assert f"    Revision ID: {c.a}" in lines
    assert f"    Revises: {c.r0}" in lines

    result = runner.invoke(args=["db", "show", "--bind", "default", c.r0])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1:3] == [
        f"Rev: {c.r0} (branchpoint)",
        "Parent: <base>",
    ]

    result = runner.invoke(args=["db", "show", "--bind", "default", "nope"])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "Error: [default] unknown revision 'nope'; 'flask db history --bind default' "
        "lists the bind's revisions"
    ]


def test_history_ranges_and_current(
    branched: tuple[Flask, SchemaVer, Chain],
) -> None:
    app, ext, c = branched
    runner = app.test_cli_runner()

    # Before the merge 'head' is ambiguous; 'heads' is not.
    result = runner.invoke(
        args=["db", "history", "--bind", "default", "-r", "base:head"]
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: [default] several heads (")
    result = runner.invoke(
        args=["db", "history", "--bind", "default", "-r", "base:heads"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "default:"
    assert result.stdout.splitlines()[-1] == f"  <base> -> {c.r0} (branchpoint), base"
    assert len(result.stdout.splitlines()) == 4

    with app.app_context():
        [merged] = ext.merge(bind="default", message="join")
        m = merged.revisions[0].id
        ext.upgrade(c.a, "default")
        history = ext.history("base:head", "default")["default"]
        assert [r.id for r in history][0] == m
        assert [r.id for r in history][-1] == c.r0
        assert {r.id for r in history} == {m, c.a, c.b, c.r0}
        assert [r.id for r in ext.history(f"{c.r0}:{c.a}", "default")["default"]] == [
            c.a,
            c.r0,
        ]
        assert [r.id for r in ext.history("current:", "default")["default"]][-1] == c.a
        assert {r.id for r in ext.history("current:", "default")["default"]} == {m, c.a}
        assert ext.history(bind="aux") == {"aux": [ext.show(c.aux, "aux")["aux"][0]]}

    result = runner.invoke(
        args=["db", "history", "--bind", "default", "-r", "base:head"]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "default:"
    assert lines[1].endswith(f" -> {m} (alpha, beta) (head) (mergepoint), join")
    assert sorted(lines[2:4]) == sorted(
        [f"  {c.r0} -> {c.a} (alpha), alpha", f"  {c.r0} -> {c.b} (beta), beta"]
    )
    assert lines[4] == f"  <base> -> {c.r0} (branchpoint), base"

    result = runner.invoke(args=["db", "history", "-i"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert f"  {c.r0} -> {c.a} (alpha) (current), alpha" in lines
    assert f"  {c.r0} -> {c.b} (beta), beta" in lines
    assert "aux:" in lines
    assert f"  <base> -> {c.aux} (head), aux tables" in lines
    assert sum("(current" in line for line in lines) == 1

    result = runner.invoke(
        args=["db", "history", "--bind", "default", "-r", f"{c.r0}:{c.a}"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "default:",
        f"  {c.r0} -> {c.a} (alpha), alpha",
        f"  <base> -> {c.r0} (branchpoint), base",
    ]


def test_branches_command(branched: tuple[Flask, SchemaVer, Chain]) -> None:
    app, ext, c = branched
    with app.app_context():
        points = ext.branches()
    assert {name: [r.id for r in revs] for name, revs in points.items()} == {
        "default": [c.r0],
        "aux": [],
    }
    result = app.test_cli_runner().invoke(args=["db", "branches"])
    assert result.exit_code == 0, result.output
    # Each branch point, then the revisions it branches into, as Alembic shows them.
    indent = " " * len(c.r0)
    children = sorted([(c.a, "alpha"), (c.b, "beta")])
    assert result.stdout.splitlines() == [
        f"default: <base> -> {c.r0} (branchpoint), base",
        *(f"default: {indent} -> {rev} ({label}) (head)" for rev, label in children),
        "aux: no branch points",
    ]
    result = app.test_cli_runner().invoke(
        args=["db", "branches", "--bind", "default", "-v"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:4] == [
        f"default: Rev: {c.r0} (branchpoint)",
        "Parent: <base>",
        f"Branches into: {', '.join(sorted([c.a, c.b]))}",
        f"Path: {points['default'][0].path}",
    ]
    assert f"default: {indent} -> {c.a} (alpha) (head), alpha" in result.stdout


def test_depends_on(
    branched: tuple[Flask, SchemaVer, Chain], make_app: AppMaker
) -> None:
    app, ext, c = branched
    main = make_app.sqlite("main")
    with app.app_context():
        [written] = ext.revision(
            "needs alpha", "default", head="beta@head", depends_on=[c.a]
        )
        [d] = written.revisions
        assert d.down_revisions == (c.b,)
        assert d.depends_on == (c.a,)
        [shown] = ext.show(d.id, "default")["default"]
        assert shown.branch_labels == ("beta",) and shown.depends_on == (c.a,)
        # Upgrading to it brings its dependency along.
        [run] = ext.upgrade(d.id, "default")
        assert {s.revision for s in run.steps} == {c.r0, c.a, c.b, d.id}
        assert [s.revision for s in run.steps][-1] == d.id
    assert tables(main) == {"alpha", "beta", "alembic_version"}
    assert versions(main) == [d.id]

    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "db", "revision", "--bind", "default", "-m", "two deps", "--head", "beta@head",
            "--depends-on", c.a, "--depends-on", c.r0, "--rev-id", "dep2",
        ]
    )  # fmt: skip
    assert wrote(result) == ["dep2"]
    result = runner.invoke(args=["db", "show", "--bind", "default", "dep2"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[1:5] == [
        "Rev: dep2 (head)",
        f"Parent: {d.id}",
        f"Also depends on: {c.a}, {c.r0}",
        "Branch names: beta",
    ]
    text = (make_app.migrations / "versions" / "dep2_two_deps.py").read_text()
    assert f"depends_on: str | Sequence[str] | None = ['{c.a}', '{c.r0}']" in text

    # A dependency must be in the same bind's chain.
    result = runner.invoke(
        args=["db", "revision", "--bind", "default", "-m", "x", "--head", "beta@head",
              "--depends-on", c.aux]
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"Error: [default] unknown revision '{c.aux}'; "
        "'flask db history --bind default' lists the bind's revisions"
    ]
    assert not list((make_app.migrations / "versions").glob("*_x.py"))


def test_heads_status_check_merge_agree_after_depends_on(
    branched: tuple[Flask, SchemaVer, Chain],
) -> None:
    app, ext, c = branched
    with app.app_context():
        [written] = ext.revision(
            "needs alpha", "default", head="beta@head", depends_on=[c.a]
        )
        d = written.revisions[0].id
        ext.upgrade(bind="default")
        heads = {r.id for r in ext.heads("default")["default"]}
        [state] = ext.status("default")
        [found] = ext.check("default")
        assert set(state.heads) == heads
        assert set(found.heads) == heads
        [merged] = ext.merge(bind="default", message="join")
        if len(heads) < 2:
            assert merged.revisions == []
        else:
            [m] = merged.revisions
            assert set(m.down_revisions) == heads
            assert heads == {c.a, d}
        [found] = ext.check("default")
        if merged.revisions:
            ext.upgrade(bind="default")
            [found] = ext.check("default")
        assert found.ok, found


# -- revision ids ----------------------------------------------------------------------


def test_rev_id(branched: tuple[Flask, SchemaVer, Chain], make_app: AppMaker) -> None:
    app, ext, c = branched
    with app.app_context():
        [written] = ext.revision(
            "own id", "default", head="alpha@head", rev_id="a1b2c3"
        )
        [rev] = written.revisions
        assert rev.id == "a1b2c3"
        assert Path(rev.path) == make_app.migrations / "versions" / "a1b2c3_own_id.py"
        assert rev.down_revisions == (c.a,)
        with pytest.raises(UsageError) as info:
            ext.revision("again", "default", head="alpha@head", rev_id="a1b2c3")
        assert str(info.value) == (
            "revision id 'a1b2c3' is already used by bind 'default'; choose another --rev-id"
        )
        with pytest.raises(UsageError) as info:
            ext.revision("steal", "default", head="beta@head", rev_id=c.aux)
        assert str(info.value) == (
            f"revision id '{c.aux}' is already used by bind 'aux'; choose another --rev-id"
        )
        with pytest.raises(
            UsageError, match="--rev-id names one revision; use it with a single --bind"
        ):
            ext.migrate("all", rev_id="zz9")

    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["db", "revision", "--bind", "aux", "-m", "aux own", "--rev-id", "ffee00"]
    )
    assert wrote(result) == ["ffee00"]
    assert (make_app.migrations / "aux" / "ffee00_aux_own.py").is_file()

    before = revision_files(make_app.migrations / "versions")
    result = runner.invoke(
        args=[
            "db", "revision", "--bind", "default", "-m", "taken", "--head", "beta@head",
            "--rev-id", "ffee00",
        ]
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        "Error: revision id 'ffee00' is already used by bind 'aux'; choose another --rev-id"
    )
    result = runner.invoke(
        args=["db", "merge", "--bind", "default", "-m", "join", "--rev-id", c.aux]
    )
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        f"Error: revision id '{c.aux}' is already used by bind 'aux'; choose another --rev-id"
    )
    result = runner.invoke(args=["db", "migrate", "--rev-id", "zz9"])
    assert result.exit_code == 2
    assert "--rev-id names one revision; use it with a single --bind" in result.stderr
    assert revision_files(make_app.migrations / "versions") == before


def three_binds(make_app: AppMaker) -> Flask:
    return make_app(
        binds={"users": make_app.sqlite("users"), "shop": make_app.sqlite("shop")},
        tables={
            None: {"site": ["name"]},
            "users": {"account": []},
            "shop": {"item": []},
        },
    )


def test_migrate_ids_unique_across_binds(make_app: AppMaker) -> None:
    app = three_binds(make_app)
    ext = make_app.schemaver
    with app.app_context():
        results = ext.migrate("initial")
    assert [r.bind for r in results] == ["default", "users", "shop"]
    ids = [r.revisions[0].id for r in results]
    assert len(set(ids)) == 3
    for result, folder in zip(results, ["versions", "users", "shop"], strict=True):
        assert Path(result.revisions[0].path).parent == make_app.migrations / folder

    # The CLI, on a second project.
    make_app.migrations = make_app.tmp_path / "migrations2"
    app = make_app(
        binds={"users": make_app.sqlite("users2"), "shop": make_app.sqlite("shop2")},
        tables={
            None: {"site": ["name"]},
            "users": {"account": []},
            "shop": {"item": []},
        },
        SQLALCHEMY_DATABASE_URI=make_app.sqlite("main2"),
    )
    result = app.test_cli_runner().invoke(args=["db", "migrate", "-m", "initial"])
    cli_ids = wrote(result)
    written = [line for line in result.stdout.splitlines() if " wrote " in line]
    assert [line.split(":")[0] for line in written] == ["default", "users", "shop"]
    assert result.stdout.count("    detected: create table ") == 3
    assert len(set(cli_ids)) == 3


def test_migrate_avoids_ids_taken_by_other_binds(
    make_app: AppMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A generator that keeps proposing ids other binds have: each bind must still get
    # a fresh one.
    proposals = itertools.chain(
        ["aaaa", "aaaa", "aaaa", "bbbb", "aaaa", "bbbb", "cccc"],
        (f"x{i:03d}" for i in itertools.count()),
    )
    monkeypatch.setattr(
        "flask_schemaver.verbs.files.random_rev_id", lambda: next(proposals)
    )
    app = three_binds(make_app)
    ext = make_app.schemaver
    with app.app_context():
        results = ext.migrate("initial")
        ids = [r.revisions[0].id for r in results]
        assert ids == ["aaaa", "bbbb", "cccc"]
        # A later revision in one bind never reuses another bind's id either.
        proposals = iter(["bbbb", "cccc", "aaaa", "dddd"])
        [written] = ext.revision("more", "users")
        assert written.revisions[0].id == "dddd"
        ext.upgrade()
    result = app.test_cli_runner().invoke(args=["db", "current"])
    assert result.stdout.splitlines() == [
        "default: aaaa (head)",
        "users: dddd (head)",
        "shop: cccc (head)",
    ]
    assert versions(make_app.sqlite("users"), "alembic_version_users") == ["dddd"]


def test_migrate_rev_id_for_one_bind(make_app: AppMaker) -> None:
    app = three_binds(make_app)
    ext = make_app.schemaver
    with app.app_context():
        [written] = ext.migrate("shop", "shop", rev_id="5h0p")
        assert written.revisions[0].id == "5h0p"
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["db", "migrate", "--bind", "users", "--rev-id", "5h0p"]
    )
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        "Error: revision id '5h0p' is already used by bind 'shop'; choose another --rev-id"
    )
    assert not (make_app.migrations / "users").exists() or not list(
        (make_app.migrations / "users").glob("*.py")
    )
    result = runner.invoke(
        args=["db", "migrate", "--bind", "users", "--rev-id", "u5er"]
    )
    assert wrote(result) == ["u5er"]
    assert revision_files(make_app.migrations / "users") == ["u5er_.py"]
    text = (make_app.migrations / "users" / "u5er_.py").read_text()
    assert "op.create_table('account'" in text


# -- problems found ----------------------------------------------------------------------


def test_duplicate_branch_label_refused_without_writing(
    branched: tuple[Flask, SchemaVer, Chain], make_app: AppMaker
) -> None:
    app, ext, c = branched
    folder = make_app.migrations / "versions"
    before = revision_files(folder)
    result = app.test_cli_runner().invoke(
        args=[
            "db", "revision", "--bind", "default", "-m", "dup", "--head", "beta@head",
            "--branch-label", "alpha",
        ]
    )  # fmt: skip
    assert result.exit_code in (1, 2)
    assert "'alpha'" in result.stderr and c.a in result.stderr
    assert revision_files(folder) == before
    with app.app_context():
        with pytest.raises(SchemaVerError):
            ext.revision("dup", "default", head="beta@head", branch_label="alpha")
        assert revision_files(folder) == before
        # The chain still reads.
        assert {r.id for r in ext.heads("default")["default"]} == {c.a, c.b}


def test_show_revision_id_without_bind_option(
    branched: tuple[Flask, SchemaVer, Chain],
) -> None:
    app, ext, c = branched
    # Revision ids are unique across binds, so an id names its bind.
    result = app.test_cli_runner().invoke(args=["db", "show", c.a])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:2] == ["default:", f"Rev: {c.a} (head)"]
    result = app.test_cli_runner().invoke(args=["db", "show", c.aux])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:2] == ["aux:", f"Rev: {c.aux} (head)"]
    with app.app_context():
        shown = ext.show(c.a)
    assert {name: [r.id for r in revs] for name, revs in shown.items() if revs} == {
        "default": [c.a]
    }


def test_upgrade_revision_id_without_bind_option(
    branched: tuple[Flask, SchemaVer, Chain], make_app: AppMaker
) -> None:
    app, ext, c = branched
    main, aux = make_app.sqlite("main"), make_app.sqlite("aux")
    result = app.test_cli_runner().invoke(args=["db", "upgrade", c.a])
    if result.exit_code == 0:
        # Resolved to the bind that has the revision; the other bind is left alone.
        assert f"[default] upgrade {c.r0} → {c.a}  alpha (" in result.stdout
        assert versions(main) == [c.a]
        assert "thing" not in tables(aux)
    else:
        # Or refused before any database changed.
        assert result.exit_code == 2, result.output
        assert "--bind" in result.stderr
        assert "[default] upgrade" not in result.stdout
        assert "alpha" not in tables(main)
        assert "alembic_version" not in tables(main) or versions(main) == []
