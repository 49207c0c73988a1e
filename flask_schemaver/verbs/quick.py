"""Answers that need no Alembic: where a bind's database is, and whether that is its heads.

Used where speed matters more than detail: a no-op ``upgrade`` on deploy, ``status`` of a
plain line, and the readiness check of a health endpoint. Whenever the answer is not
plain, these return None and the caller takes the full path, which also reports any
error properly.

This module must not import Alembic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..results import BindStatus
from ..results import RevisionStatus
from ..runtime import history
from ..runtime import versions
from ..script import chain

if TYPE_CHECKING:
    from ..binds import Bind


def at_heads(bind: Bind) -> tuple[str, ...] | None:
    """The bind's current revisions when they are exactly its heads, else None."""
    heads = chain.heads(bind.directory)
    if heads is None:
        return None
    current = versions.read_or_none(bind)
    if current is None or frozenset(current) != heads or len(current) != len(heads):
        return None
    return current


def status(bind: Bind) -> BindStatus | None:
    """The bind's status for a plain line of revisions; None when not that simple."""
    line = chain.linear(bind.directory)
    if line is None:
        return None
    current = versions.read_or_none(bind)
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
    heads = chain.heads(bind.directory)
    if heads is None:
        return None
    current = versions.read_or_none(bind)
    if current is None:
        return False  # cannot reach the database: not ready
    return frozenset(current) == heads and len(current) == len(heads)
