"""Differential tests: every answer flask_schemaver gives from revision files and
targets equals Alembic's own, on generated revision graphs (see revision_graphs.py).

- From the files' text alone (no database): heads, the revision graph and each
  revision's facts, the plain-line shortcut, the cache, and the steps a run to any
  target would take from several starting points, or Alembic's refusal.
- On SQLite: runs to random targets of every kind through the Python API against
  ``alembic.command`` on a second database file: the same steps in the same order, the
  same version table after, the same refusals; and ``is_current``, ``current`` and
  ``heads`` after each.

The examples are generated the same way on every run (``derandomize``), and bounded so
that the whole module takes a few seconds.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from hypothesis import given
from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st

from flask_schemaver import SchemaVerError
from flask_schemaver import UnknownRevision
from flask_schemaver.results import Revision
from flask_schemaver.runtime import targets as target_grammar
from flask_schemaver.script import chain
from flask_schemaver.script import files as revision_files
from flask_schemaver.script import graph as text_graph
from flask_schemaver.verbs import quick
from parity_sides import Oracle
from parity_sides import Ours
from parity_sides import step_key
from parity_sides import write_rows
from revision_graphs import broken_graphs
from revision_graphs import Graph
from revision_graphs import graphs
from revision_graphs import RANDOM
from revision_graphs import SCALE
from revision_graphs import targets
from revision_graphs import write

# Derandomized: the same examples on every run and in CI; no example database.
FAST = settings(
    max_examples=60 * SCALE,
    deadline=None,
    derandomize=not RANDOM,
    database=None,
    # Writing a graph's files and reading them with Alembic takes some milliseconds.
    suppress_health_check=[HealthCheck.too_slow],
)
RUNS = settings(FAST, max_examples=25 * SCALE)

#: Attributes of a revision that Alembic's commands and ours read.
ATTRIBUTES = (
    "revision",
    "down_revision",
    "dependencies",
    "branch_labels",
    "_orig_branch_labels",
    "_resolved_dependencies",
    "_normalized_resolved_dependencies",
    "nextrev",
    "_all_nextrev",
    "is_head",
    "_is_real_head",
    "is_base",
    "is_branch_point",
    "is_merge_point",
    "doc",
    "longdoc",
    "path",
)


@contextmanager
def folder(graph: Graph) -> Iterator[tuple[Path, Path]]:
    """A fresh project root with ``graph`` written in migrations/versions."""
    root = Path(tempfile.mkdtemp(prefix="parity-"))
    try:
        versions = root / "migrations" / "versions"
        write(graph, versions)
        yield root, versions
    finally:
        shutil.rmtree(root)


def outcome(fn: Callable[..., Any], *args: Any) -> tuple[str, Any]:
    """``("ok", fn(*args))``, or ``("error", message)`` when it raises."""
    try:
        return "ok", fn(*args)
    except Exception as exc:  # noqa: BLE001 (a refusal is an answer)
        return "error", f"{type(exc).__name__}: {exc}"


def steps_of(scripts: Any, verb: str, target: str, current: tuple[str, ...]) -> Any:
    found = target_grammar.steps(scripts, verb, target, current)  # type: ignore[arg-type]
    return [
        (
            type(step).__name__,
            step.is_upgrade,
            tuple(sorted(step.from_revisions)),
            tuple(sorted(step.to_revisions)),
        )
        for step in found
    ]


def starting_points(alembic: ScriptDirectory, graph: Graph) -> list[tuple[str, ...]]:
    """Version tables to start from: empty, at each revision alone, at the heads as
    ``upgrade heads`` leaves them."""
    real_heads = tuple(s.revision for s in alembic.get_revisions("heads"))
    return [(), *[(rev,) for rev in graph.ids], real_heads]


# -- from the files' text ----------------------------------------------------------------


@FAST
@given(graph=graphs(), data=st.data())
def test_text_answers_equal_alembics(graph: Graph, data: st.DataObject) -> None:
    with folder(graph) as (root, versions):
        oracle = Oracle.make(root / "alembic", versions, root / "alembic.db")
        alembic = oracle.scripts()
        assert all("loaded twice" in w for w in oracle.warned), oracle.warned

        heads = chain.heads(versions)
        if graph.dynamic:
            # Only importing the file tells its id: the text path must give up.
            assert heads is None
            with pytest.raises(text_graph.Dynamic):
                text_graph.load(versions)
            return
        # Class attributes, links, annotations, CRLF, a BOM: all read as text.
        assert heads == frozenset(alembic.get_heads())
        static = text_graph.load(versions)
        assert static.get_heads() == alembic.get_heads()
        walked = list(alembic.walk_revisions())
        assert [s.revision for s in static.walk_revisions()] == [
            s.revision for s in walked
        ]
        for theirs in walked:
            [ours] = static.get_revisions(theirs.revision)
            for name in ATTRIBUTES:
                assert getattr(ours, name) == getattr(theirs, name), name
            assert Revision.from_script(ours) == Revision.from_script(theirs)

        line = chain.linear(versions)
        plain = (
            all(
                len(r.parents) <= 1 and not r.labels and not r.depends
                for r in graph.revisions
            )
            and len(alembic.get_bases()) == 1
            and not any(s.is_branch_point for s in walked)
        )
        assert (line is not None) == plain
        if line is not None:
            assert line == [Revision.from_script(s) for s in reversed(walked)]

        # Facts read back from the cache equal facts read fresh, types included.
        cached = revision_files.load_facts(versions)
        shutil.rmtree(versions / "__pycache__")
        fresh = revision_files.load_facts(versions)
        assert repr(cached) == repr(fresh)
        assert repr(revision_files.load_facts(versions)) == repr(fresh)

        # Every target, from several starting points: the same steps as Alembic's,
        # or the same refusal.
        points = starting_points(alembic, graph)
        for _ in range(12):
            target = data.draw(targets(graph), label="target")
            refused = outcome(target_grammar.check_names, static, target)
            for current in points:
                for verb in ("upgrade", "downgrade", "stamp"):
                    theirs = outcome(steps_of, alembic, verb, target, current)
                    ours = outcome(steps_of, static, verb, target, current)
                    assert ours == theirs, (verb, target, current)
                    if refused[0] == "error" and not unknown_label(static, target):
                        # A name we call unknown: Alembic refuses the target too.
                        assert theirs[0] == "error", (verb, target, current, refused)
            if refused[0] == "error" and not unknown_label(static, target):
                assert outcome(alembic.get_revisions, target)[0] == "error"


def unknown_label(scripts: Any, target: str) -> bool:
    """Whether ``target`` is ``label@...`` with a label that names nothing.

    Alembic looks such a label up only when it needs it: ``downgrade label@rev`` when
    ``rev`` has several children, ``stamp label@-1`` when the database is at some
    revision. We refuse it always (documented): a typo is not silently ignored.
    """
    label, at, _ = target.partition("@")
    if not at:
        return False
    return outcome(target_grammar.check_names, scripts, label)[0] == "error"


@settings(FAST, max_examples=30 * SCALE)
@given(broken=broken_graphs())
def test_text_path_gives_up_where_alembic_refuses(broken: tuple[Graph, str]) -> None:
    graph, problem = broken
    with folder(graph) as (root, versions):
        oracle = Oracle.make(root / "alembic", versions, root / "alembic.db")
        answer = outcome(lambda: oracle.scripts().get_heads())
        if problem == "duplicate id":
            # Alembic warns and takes one of the two files; we refuse.
            assert any("present more than once" in w for w in oracle.warned)
        elif problem != "cycle":
            # (Alembic misses a cycle that both a head and a base reach; the text path
            # gives up on every cycle, and Alembic's answer stands.)
            assert answer[0] == "error", answer
        assert chain.heads(versions) is None
        assert chain.up_to_date(versions, ()) is None


# -- runs on SQLite ----------------------------------------------------------------------


@RUNS
@given(graph=graphs(max_revisions=6), data=st.data())
def test_runs_equal_alembics(graph: Graph, data: st.DataObject) -> None:
    with folder(graph) as (root, versions):
        oracle = Oracle.make(root / "alembic", versions, root / "alembic.db")
        ours = Ours(root)
        try:
            with ours.app.app_context():
                _compare_runs(graph, oracle, ours, data)
        finally:
            ours.dispose()


def _compare_runs(
    graph: Graph, oracle: Oracle, ours: Ours, data: st.DataObject
) -> None:
    alembic = oracle.scripts()
    bind = ours.ext.binds["default"]
    # Where the databases start: wherever an upgrade from nothing to some target
    # leaves Alembic's.
    start = data.draw(targets(graph), label="start")
    oracle.set_rows([])
    oracle.upgrade(start)
    rows = oracle.rows()
    for _ in range(5):
        verb = data.draw(st.sampled_from(["upgrade", "upgrade", "downgrade", "stamp"]))
        target = data.draw(targets(graph), label="target")
        oracle.set_rows(rows)
        write_rows(ours.url, rows)
        fn = {"upgrade": command.upgrade, "downgrade": command.downgrade}.get(
            verb, command.stamp
        )
        theirs = oracle.call(fn, target)
        warned = oracle.warned
        mine = ours.run(verb, target)
        where = (verb, target, rows, theirs, mine)
        if any("from multiple heads is ambiguous" in w for w in warned):
            # Alembic picks one of the rows and warns; we refuse (documented).
            assert mine[0] == "error", where
            assert "several heads" in mine[1], where
            continue
        if mine[0] == "error" and unknown_label(alembic, target):
            continue  # a label that names nothing: we refuse, Alembic may not look
        assert mine[0] == theirs[0], where
        if theirs[0] == "ok":
            assert [step_key(s) for s in mine[1]] == [step_key(s) for s in theirs[1]], (
                where
            )
            assert sorted(ours.ext.current()["default"]) == oracle.rows(), where
            # The version table we foresee is the one Alembic wrote.
            planned = target_grammar.steps(alembic, verb, target, tuple(rows))  # type: ignore[arg-type]
            assert target_grammar.recorded(planned, tuple(rows)) == set(oracle.rows())
        _compare_state(alembic, graph, oracle, ours, bind)


def _compare_state(
    alembic: ScriptDirectory, graph: Graph, oracle: Oracle, ours: Ours, bind: Any
) -> None:
    rows = oracle.rows()
    write_rows(ours.url, rows)
    # Alembic's answer: "upgrade heads" would run nothing from here.
    expected = outcome(lambda: not alembic._upgrade_revs("heads", tuple(rows)))
    answer = ours.ext.is_current()
    fast = quick.is_current(bind)
    if expected[0] == "ok":
        assert answer is expected[1], (rows, expected)
    assert fast is None or fast is answer, (rows, fast, answer)
    if not graph.dynamic:
        assert fast is not None or expected[0] == "error", rows
    assert [r.id for r in ours.ext.heads()["default"]] == alembic.get_heads()
    [state] = ours.ext.status("default")
    assert state.up_to_date is answer


def test_upgrade_heads_with_depends_on_is_current(tmp_path: Path) -> None:
    """Issue 11, item 1: after ``upgrade heads`` the version table holds only the
    revision that depends on the other head; the database is current all the same."""
    from revision_graphs import Rev
    from revision_graphs import Style

    graph = Graph(
        (
            Rev("aaaa", (), (), (), "a.py", Style()),
            Rev("bbbb", ("aaaa",), (), (), "b.py", Style()),
            Rev("cccc", ("aaaa",), (), (), "c.py", Style()),
            Rev("dddd", ("bbbb",), ("cccc",), (), "d.py", Style()),
        )
    )
    versions = tmp_path / "migrations" / "versions"
    write(graph, versions)
    ours = Ours(tmp_path)
    try:
        with ours.app.app_context():
            [run] = ours.ext.upgrade()
            assert run.after == ("dddd",)
            assert ours.ext.heads()["default"][0].id in {"cccc", "dddd"}
            assert quick.is_current(ours.ext.binds["default"]) is True
            assert ours.ext.is_current() is True
            [again] = ours.ext.upgrade()
            assert again.note == "nothing to do" and not again.steps
    finally:
        ours.dispose()


def test_unknown_names_are_refused_before_anything_runs(tmp_path: Path) -> None:
    from revision_graphs import Rev
    from revision_graphs import Style

    graph = Graph(
        (
            Rev("aaaa", (), (), ("alpha",), "a.py", Style()),
            Rev("bbbb", ("aaaa",), (), (), "b.py", Style()),
        )
    )
    write(graph, tmp_path / "migrations" / "versions")
    ours = Ours(tmp_path)
    try:
        with ours.app.app_context():
            for target in ("cccc", "nolabel@head", "cccc+1", "nolabel@-1", "cccc-1"):
                with pytest.raises(UnknownRevision):
                    ours.ext.upgrade(target)
            assert ours.ext.current()["default"] == ()
            with pytest.raises(SchemaVerError):
                ours.ext.upgrade("head-3")
            assert ours.ext.current()["default"] == ()
    finally:
        ours.dispose()
