"""A bind's chain from its files' text alone: its heads, and its revisions when they
form one plain line. Either answer is None when only Alembic can give it.

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
    """Whether the graph has no problem Alembic would refuse: unique ids and labels,
    parents and dependencies that exist, no cycle."""
    revisions = [str(f["revision"]) for f in facts]
    known = set(revisions)
    labels = [label for f in facts for label in as_ids(f["branch_labels"])]
    if len(known) != len(revisions) or len(set(labels)) != len(labels):
        return False
    parents = {
        str(f["revision"]): as_ids(f["down_revision"]) + as_ids(f["depends_on"])
        for f in facts
    }
    if any(p not in known for ps in parents.values() for p in ps):
        return False
    return not _has_cycle(parents)


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
    returns None and is left to Alembic.
    """
    try:
        found = load_facts(directory)
    except (Dynamic, OSError):
        return None
    facts = [f for _, f in found]
    if not sound(facts) or any(f["branch_labels"] or f["depends_on"] for f in facts):
        return None
    by_parent: dict[str | None, tuple[str, RevisionFacts]] = {}
    for path, f in found:
        down = f["down_revision"]
        if not (down is None or isinstance(down, str)) or down in by_parent:
            return None  # a merge, or a branch
        by_parent[down] = (path, f)
    line: list[Revision] = []
    parent: str | None = None
    while parent in by_parent:
        path, f = by_parent[parent]
        parent = f["revision"]
        line.append(_revision(path, f, is_head=parent not in by_parent))
    return line if len(line) == len(found) else None


def _revision(path: str, facts: RevisionFacts, *, is_head: bool) -> Revision:
    docstring = (facts["docstring"] or "").strip()
    return Revision(
        id=facts["revision"],
        down_revisions=tuple(as_ids(facts["down_revision"])),
        message=re.split("\n\n", docstring)[0],
        branch_labels=(),
        depends_on=(),
        path=path,
        is_head=is_head,
        is_branch_point=False,
        is_merge_point=False,
        docstring=docstring,
    )
