"""Answers that need no Alembic: where a bind's database is, and whether that is its heads.

Used where speed matters more than detail: a no-op ``upgrade`` on deploy, and the
readiness check of a health endpoint. Whenever the answer is not plain, these return
None and the caller takes the full path, which also reports any error properly.

This module must not import Alembic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

import sqlalchemy as sa

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
    table = sa.Table(
        bind.version_table,
        sa.MetaData(),
        sa.Column("version_num", sa.String(32)),
        schema=bind.version_table_schema,
    )
    try:
        with bind.engine.connect() as connection:
            if not sa.inspect(connection).has_table(
                bind.version_table, schema=bind.version_table_schema
            ):
                return ()
            return tuple(connection.execute(sa.select(table.c.version_num)).scalars())
    except sa.exc.SQLAlchemyError:
        return None


def at_heads(bind: Bind) -> tuple[str, ...] | None:
    """The bind's current revisions when they are exactly its heads, else None."""
    heads = heads_on_disk(bind)
    if heads is None:
        return None
    current = versions_in_database(bind)
    if current is None or frozenset(current) != heads or len(current) != len(heads):
        return None
    return current
