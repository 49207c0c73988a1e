"""Output-level differential tests: every revision id, mark and relation that Alembic's
``history``, ``branches``, ``heads`` and ``current`` print (what Flask-Migrate prints:
its commands call Alembic's) also appears in what ``flask db`` prints, on generated
graphs (see revision_graphs.py).

The layout may differ (ours prefixes each bind's name); the facts may not: each line
is read as facts about one revision (its id, its marks such as ``(head)`` or
``(mergepoint)``, its labels, parents, dependencies, children, path), and Alembic's
facts must be a subset of ours.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from hypothesis import given
from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st

from parity_sides import Oracle
from parity_sides import Ours
from parity_sides import write_rows
from revision_graphs import Graph
from revision_graphs import graphs
from revision_graphs import RANDOM
from revision_graphs import SCALE
from revision_graphs import targets
from revision_graphs import write

OUTPUT = settings(
    max_examples=12 * SCALE,
    deadline=None,
    derandomize=not RANDOM,
    database=None,
    # Each example writes a project and runs a few commands of both tools.
    suppress_health_check=[HealthCheck.too_slow],
)

MARKS = ("head", "effective head", "branchpoint", "mergepoint", "current")
_PARENS = re.compile(r" \(([^()]*)\)")
#: What a "Key: value" line of a revision in full says, and the fact it makes.
_RELATIONS = {
    "Parent": "parent",
    "Merges": "parent",
    "Also depends on": "depends on",
    "Branches into": "branches into",
    "Branch names": "label",
    "Path": "path",
}

Fact = tuple[str, ...]


def facts(text: str, bind: str | None = None) -> set[Fact]:
    """The facts each line of ``text`` states about a revision; ``bind``: the name
    ours puts before a bind's lines."""
    found: set[Fact] = set()
    subject = branch_point = ""
    in_doc = False  # the docstring of a revision in full, after its Path line
    for raw in text.splitlines():
        line = raw.strip()
        if bind is not None:
            line = line.removeprefix(f"{bind}:").strip()
        if not raw.strip() or (bind is not None and raw.strip() == f"{bind}:"):
            continue
        key, sep, value = line.partition(": ")
        if line.startswith("Rev: "):
            in_doc = False
            subject = branch_point = _subject(found, line.removeprefix("Rev: "))
        elif line.startswith("-> "):
            in_doc = False
            child = _subject(found, line.removeprefix("-> "))
            found.add(("branches into", branch_point, child))
        elif in_doc:
            continue
        elif sep and key in _RELATIONS:
            for item in [value] if key == "Path" else value.split(", "):
                if item != "<base>":
                    found.add((_RELATIONS[key], subject, item))
            in_doc = key == "Path"
        elif " -> " in line:  # "parents (dependencies) -> rev (labels) (marks), doc"
            left, _, right = line.partition(" -> ")
            subject = branch_point = _subject(found, right)
            depends = _PARENS.search(left)
            if depends:
                left = left[: depends.start()]
                for dep in depends.group(1).split(", "):
                    found.add(("depends on", subject, dep))
            for parent in left.split(", "):
                if parent != "<base>":
                    found.add(("parent", subject, parent))
        else:  # "rev (labels) (marks)": heads, current, branch points
            subject = branch_point = _subject(found, line)
    return found


#: ``rev (labels) (marks), doc``: the id, then the parenthesised groups.
_SUBJECT = re.compile(r"(\S+)((?: \([^()]*\))*)")


def _subject(found: set[Fact], text: str) -> str:
    """Record the id, marks and labels of ``rev (labels) (marks), doc``; return the
    id."""
    match = _SUBJECT.match(text)
    assert match is not None, text
    rev, groups = match.group(1).rstrip(","), match.group(2)
    found.add(("id", rev))
    for group in _PARENS.findall(groups):
        if group in MARKS:
            found.add(("mark", rev, group))
        else:
            for label in group.split(", "):
                found.add(("label", rev, label))
    return rev


def test_facts_of_alembics_lines() -> None:
    text = (
        "a1, b2 (d4) -> m3 (alpha, beta) (head) (mergepoint), merge\n"
        "Rev: b2 (branchpoint)\n"
        "Parent: <base>\n"
        "Branches into: c5, m3\n"
        "Path: /x/b2.py\n"
        "\n"
        "    b2 doc, with a comma\n"
        "\n"
        "   -> c5 (gamma) (effective head), c doc\n"
    )
    assert facts(text) == {
        ("id", "m3"),
        ("mark", "m3", "head"),
        ("mark", "m3", "mergepoint"),
        ("label", "m3", "alpha"),
        ("label", "m3", "beta"),
        ("parent", "m3", "a1"),
        ("parent", "m3", "b2"),
        ("depends on", "m3", "d4"),
        ("id", "b2"),
        ("mark", "b2", "branchpoint"),
        ("branches into", "b2", "c5"),
        ("branches into", "b2", "m3"),
        ("path", "b2", "/x/b2.py"),
        ("id", "c5"),
        ("mark", "c5", "effective head"),
        ("label", "c5", "gamma"),
    }


@contextmanager
def scenario(graph: Graph, start: str) -> Iterator[tuple[Ours, Oracle]]:
    """``graph``'s files; Alembic's database upgraded to ``start``, ours at the same
    revisions."""
    root = Path(tempfile.mkdtemp(prefix="parity-output-"))
    versions = root / "migrations" / "versions"
    write(graph, versions)
    oracle = Oracle.make(root / "alembic", versions, root / "alembic.db")
    oracle.set_rows([])
    oracle.upgrade(start)
    ours = Ours(root)
    write_rows(ours.url, oracle.rows())
    try:
        with ours.app.app_context():
            yield ours, oracle
    finally:
        ours.dispose()
        shutil.rmtree(root)


def compare(
    graph: Graph, data: st.DataObject, args: list[str], alembic: Any, **kw: Any
) -> None:
    with scenario(graph, data.draw(targets(graph), label="start")) as (ours, oracle):
        theirs = oracle.output(alembic, **kw)
        result = ours.app.test_cli_runner().invoke(args=["db", *args])
        assert result.exit_code == 0, result.output
        missing = facts(theirs) - facts(result.stdout, bind="default")
        assert not missing, (theirs, result.stdout)


def text_graphs() -> st.SearchStrategy[Graph]:
    return graphs(max_revisions=6)


@OUTPUT
@given(graph=text_graphs(), data=st.data())
def test_history(graph: Graph, data: st.DataObject) -> None:
    compare(graph, data, ["history"], command.history)


@OUTPUT
@given(graph=text_graphs(), data=st.data())
def test_history_indicate_current(graph: Graph, data: st.DataObject) -> None:
    compare(graph, data, ["history", "-i"], command.history, indicate_current=True)


@OUTPUT
@given(graph=text_graphs(), data=st.data())
def test_history_verbose(graph: Graph, data: st.DataObject) -> None:
    compare(graph, data, ["history", "-v"], command.history, verbose=True)


@OUTPUT
@given(graph=text_graphs(), data=st.data())
def test_branches(graph: Graph, data: st.DataObject) -> None:
    compare(graph, data, ["branches"], command.branches)


@OUTPUT
@given(graph=text_graphs(), data=st.data())
def test_branches_verbose(graph: Graph, data: st.DataObject) -> None:
    compare(graph, data, ["branches", "-v"], command.branches, verbose=True)


@OUTPUT
@given(graph=text_graphs(), data=st.data())
def test_heads(graph: Graph, data: st.DataObject) -> None:
    compare(graph, data, ["heads"], command.heads)


@OUTPUT
@given(graph=text_graphs(), data=st.data())
def test_heads_verbose(graph: Graph, data: st.DataObject) -> None:
    compare(graph, data, ["heads", "-v"], command.heads, verbose=True)


@OUTPUT
@given(graph=text_graphs(), data=st.data())
def test_current(graph: Graph, data: st.DataObject) -> None:
    compare(graph, data, ["current"], command.current)
