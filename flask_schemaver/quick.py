"""Answers that need no Alembic: where a bind's database is, and whether that is its heads.

Used where speed matters more than detail: a no-op ``upgrade`` on deploy, and the
readiness check of a health endpoint. Whenever the answer is not plain, these return
None and the caller takes the full path, which also reports any error properly.

This module must not import Alembic.
"""

from __future__ import annotations

import re
from typing import Any
from typing import TYPE_CHECKING

import sqlalchemy as sa

from . import history
from .results import BindStatus
from .results import Revision
from .results import RevisionStatus
from .revfiles import Dynamic
from .revfiles import head_ids
from .revfiles import load_facts

if TYPE_CHECKING:
    from .binds import Bind


def heads_on_disk(bind: Bind) -> frozenset[str] | None:
    """The bind's head revisions, or None when a revision file needs Alembic to read."""
    try:
        facts = [f for _, f in load_facts(bind.directory)]
    except (Dynamic, OSError):
        return None
    if not sound(facts):
        return None  # let Alembic say what is wrong
    return frozenset(head_ids(facts))


def _ids(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def sound(facts: list[dict[str, Any]]) -> bool:
    """Whether the graph has no problem Alembic would refuse: unique ids and labels,
    parents and dependencies that exist, no cycle."""
    revisions = [str(f["revision"]) for f in facts]
    known = set(revisions)
    labels = [label for f in facts for label in _ids(f["branch_labels"])]
    if len(known) != len(revisions) or len(set(labels)) != len(labels):
        return False
    parents = {
        str(f["revision"]): _ids(f["down_revision"]) + _ids(f["depends_on"])
        for f in facts
    }
    if any(p not in known for ps in parents.values() for p in ps):
        return False
    # Kahn's algorithm: every revision must come out, or there is a cycle.
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
    return seen == len(parents)


def versions_in_database(bind: Bind) -> tuple[str, ...] | None:
    """What the bind's version table holds: () when it has no table, None on an error."""
    try:
        with bind.engine.connect() as connection:
            return read_versions(bind, connection)
    except sa.exc.SQLAlchemyError:
        return None


def read_versions(bind: Bind, connection: sa.Connection) -> tuple[str, ...]:
    """What the bind's version table holds, read on ``connection``; () without a table.

    The same rows Alembic's ``MigrationContext.get_current_heads`` reads, without
    setting up a migration context.
    """
    if not sa.inspect(connection).has_table(
        bind.version_table, schema=bind.version_table_schema
    ):
        return ()
    table = sa.Table(
        bind.version_table,
        sa.MetaData(),
        sa.Column("version_num", sa.String(32)),
        schema=bind.version_table_schema,
    )
    return tuple(connection.execute(sa.select(table.c.version_num)).scalars())


def at_heads(bind: Bind) -> tuple[str, ...] | None:
    """The bind's current revisions when they are exactly its heads, else None."""
    heads = heads_on_disk(bind)
    if heads is None:
        return None
    current = versions_in_database(bind)
    if current is None or frozenset(current) != heads or len(current) != len(heads):
        return None
    return current


def linear_chain(bind: Bind) -> list[Revision] | None:
    """The bind's revisions, oldest first, when they form one plain line.

    A line: no branch labels, no dependencies, no branches or merges, one base. Then
    heads, history and status need no revision graph, and so no Alembic; anything else
    returns None and is left to Alembic.
    """
    try:
        found = load_facts(bind.directory)
    except (Dynamic, OSError):
        return None
    facts = [f for _, f in found]
    if not sound(facts) or any(f["branch_labels"] or f["depends_on"] for f in facts):
        return None
    by_parent: dict[str | None, tuple[str, dict[str, Any]]] = {}
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


def _revision(path: str, facts: dict[str, Any], *, is_head: bool) -> Revision:
    docstring = (facts["docstring"] or "").strip()
    down = facts["down_revision"]
    return Revision(
        id=facts["revision"],
        down_revisions=(down,) if down else (),
        message=re.split("\n\n", docstring)[0],
        branch_labels=(),
        depends_on=(),
        path=path,
        is_head=is_head,
        is_branch_point=False,
        is_merge_point=False,
        docstring=docstring,
    )


def status(bind: Bind) -> BindStatus | None:
    """The bind's status for a plain line of revisions; None when not that simple."""
    line = linear_chain(bind)
    if line is None:
        return None
    current = versions_in_database(bind)
    if current is None or len(current) > 1:
        return None
    ids = [r.id for r in line]
    if current and current[0] not in ids:
        return None  # a missing file: the full path explains it
    applied = ids.index(current[0]) + 1 if current else 0
    return history.annotate(
        bind,
        BindStatus(
            bind=bind.name,
            url=bind.safe_url,
            current=current,
            heads=(ids[-1],) if ids else (),
            revisions=[RevisionStatus(r, i < applied) for i, r in enumerate(line)],
            missing=(),
        ),
    )


def is_current(bind: Bind) -> bool | None:
    """Whether the bind's database is at its heads; None when only Alembic can tell."""
    heads = heads_on_disk(bind)
    if heads is None:
        return None
    current = versions_in_database(bind)
    if current is None:
        return False  # cannot reach the database: not ready
    return frozenset(current) == heads and len(current) == len(heads)
