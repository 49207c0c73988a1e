"""A bind's chain from its files' text alone: its heads, whether a database is at them,
and its revisions when they form one plain line. Each answer is None when only Alembic
can give it.

Each answer is the one Alembic gives on the same files (tests/test_parity.py compares
them on generated graphs); where this module cannot be sure of that, it answers None.

This module must not import Alembic.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..results import Revision
from .files import as_ids
from .files import Dynamic
from .files import head_ids
from .files import load_facts
from .files import once
from .files import RevisionFacts


def heads(directory: Path) -> frozenset[str] | None:
    """The head revisions of the files in ``directory``, or None when a revision file
    needs Alembic to read, or the graph has a problem Alembic should report."""
    try:
        facts = [f for _, f in load_facts(directory)]
    except (Dynamic, OSError):
        return None
    if not sound(facts):
        return None
    return frozenset(head_ids(facts))


def sound(facts: list[RevisionFacts]) -> bool:
    """Whether the graph has no problem Alembic would refuse: ids Alembic takes,
    unique ids and labels, no label that is also an id, parents and dependencies that
    exist, no cycle."""
    return _edges(facts) is not None


#: Characters Alembic refuses in a revision id (``_revision_illegal_chars``).
_ILLEGAL = frozenset("@-+:")


def _edges(facts: list[RevisionFacts]) -> dict[str, list[str]] | None:
    """Each revision's parents and dependencies (labels resolved to the revision that
    declares them), or None when Alembic would refuse the graph."""
    revisions = [f["revision"] for f in facts]
    known = set(revisions)
    if len(known) != len(revisions) or any(_ILLEGAL.intersection(r) for r in known):
        return None
    declared = {
        label: f["revision"] for f in facts for label in as_ids(f["branch_labels"])
    }
    labels = [label for f in facts for label in as_ids(f["branch_labels"])]
    if len(declared) != len(labels) or known.intersection(declared):
        return None
    named = {**declared, **{rev: rev for rev in known}}
    edges: dict[str, list[str]] = {}
    for f in facts:
        parents = as_ids(f["down_revision"])
        depends = as_ids(f["depends_on"])
        # Alembic finds a parent by id only, a dependency by id or branch label.
        if any(p not in known for p in parents) or any(d not in named for d in depends):
            return None
        edges[f["revision"]] = parents + [named[d] for d in depends]
    return None if _has_cycle(edges) else edges


def up_to_date(directory: Path, current: tuple[str, ...]) -> bool | None:
    """Whether ``upgrade heads`` from ``current`` (what a version table holds) would
    run nothing, as Alembic would compute it; None when only Alembic can tell.

    That is, every revision is ``current`` or below it, following parents and
    dependencies alike. A revision that others only depend on is a head too, but after
    ``upgrade heads`` Alembic's version table holds only the revision depending on it:
    comparing the table with the heads would never agree.

    False when the table names a revision no file has. None when the files need
    Alembic to read, when Alembic would refuse the graph, and when the table is not one
    Alembic writes (a row twice, or one revision below another).
    """
    try:
        facts = [f for _, f in load_facts(directory)]
    except (Dynamic, OSError):
        return None
    edges = _edges(facts)
    if edges is None or len(set(current)) != len(current):
        return None
    if any(rev not in edges for rev in current):
        return False  # the version table names a revision no file has
    below: set[str] = set()
    for rev in current:
        below |= _ancestors(edges, rev)
    if below.intersection(current):
        return None  # Alembic refuses to start from such a table
    return below.union(current) == set(edges)


def _ancestors(edges: dict[str, list[str]], rev: str) -> set[str]:
    """The revisions below ``rev``, through parents and dependencies."""
    found: set[str] = set()
    todo = list(edges[rev])
    while todo:
        parent = todo.pop()
        if parent not in found:
            found.add(parent)
            todo.extend(edges[parent])
    return found


def _has_cycle(parents: dict[str, list[str]]) -> bool:
    """Kahn's algorithm: every revision must come out, or there is a cycle."""
    waiting = {rev: len(ps) for rev, ps in parents.items()}
    children: dict[str, list[str]] = {rev: [] for rev in parents}
    for rev, ps in parents.items():
        for p in ps:
            children[p].append(rev)
    ready = [rev for rev, count in waiting.items() if count == 0]
    seen = 0
    while ready:
        rev = ready.pop()
        seen += 1
        for child in children[rev]:
            waiting[child] -= 1
            if waiting[child] == 0:
                ready.append(child)
    return seen != len(parents)


def linear(directory: Path) -> list[Revision] | None:
    """The revisions in ``directory``, oldest first, when they form one plain line.

    A line: no branch labels, no dependencies, no branches or merges, one base. Then
    heads, history and status need no revision graph, and so no Alembic; anything else
    returns None and is left to Alembic. Worked out once per folder while
    :func:`~flask_schemaver.script.files.held` lasts (``status`` of each tenant).
    """
    line = once("linear", directory, _linear)
    return None if line is None else list(line)


def _linear(directory: Path) -> list[Revision] | None:
    try:
        found = load_facts(directory)
    except (Dynamic, OSError):
        return None
    facts = [f for _, f in found]
    if not sound(facts) or any(f["branch_labels"] or f["depends_on"] for f in facts):
        return None
    by_parent: dict[str | None, tuple[str, RevisionFacts]] = {}
    for path, f in found:
        parents = as_ids(f["down_revision"])
        down = parents[0] if parents else None
        if len(parents) > 1 or down in by_parent:
            return None  # a merge, or a branch
        by_parent[down] = (path, f)
    line: list[Revision] = []
    parent: str | None = None
    while parent in by_parent:
        path, f = by_parent[parent]
        parent = f["revision"]
        child = by_parent.get(parent)
        line.append(_revision(path, f, child[1]["revision"] if child else None))
    return line if len(line) == len(found) else None


def _revision(path: str, facts: RevisionFacts, child: str | None) -> Revision:
    docstring = (facts["docstring"] or "").strip()
    return Revision(
        next_revisions=(child,) if child else (),
        id=facts["revision"],
        down_revisions=tuple(as_ids(facts["down_revision"])),
        message=re.split("\n\n", docstring)[0],
        branch_labels=(),
        depends_on=(),
        path=path,
        is_head=child is None,
        is_branch_point=False,
        is_merge_point=False,
        docstring=docstring,
    )
