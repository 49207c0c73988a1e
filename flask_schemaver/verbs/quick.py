"""Answers that need no Alembic: where a bind's database is, and whether that is its heads.

Used where speed matters more than detail: a no-op ``upgrade`` on deploy, ``status`` of a
plain line, and the readiness check of a health endpoint. Whenever the answer is not
plain, these return None and the caller takes the full path, which also reports any
error properly.

This module must not import Alembic.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..results import BindStatus
from ..results import RevisionStatus
from ..runtime import fleet
from ..runtime import history
from ..runtime import versions
from ..script import chain

if TYPE_CHECKING:
    from ..binds import Bind


def at_heads(bind: Bind, target: str = "heads") -> tuple[str, ...] | None:
    """The bind's current revisions when ``upgrade`` to ``target`` (``heads`` or
    ``head``) would run nothing, else None (the full path decides).

    ``head`` is the one head: with several, Alembic refuses it, so this leaves it to
    the full path, which refuses too.
    """
    if target not in ("head", "heads"):
        return None
    if target == "head":
        heads = chain.heads(bind.directory)
        if heads is None or len(heads) > 1:
            return None
    current = versions.read_or_none(bind)
    if current is None or not chain.up_to_date(bind.directory, current):
        return None
    return current


def all_at_heads(
    binds: Sequence[Bind], target: str = "heads"
) -> list[tuple[str, ...] | None]:
    """:func:`at_heads` for each of ``binds``, the version tables of tenants that share
    a database read together (one query for hundreds of them), not one by one."""
    if target not in ("head", "heads"):
        return [None] * len(binds)
    found = fleet.read_versions(binds)
    # Tenants share a folder and, mostly, a place in it: each is judged once.
    judged: dict[tuple[Path, tuple[str, ...]], bool] = {}
    answers: list[tuple[str, ...] | None] = []
    for bind, current in zip(binds, found, strict=True):
        if current is not None:
            key = (bind.directory, current)
            if key not in judged:
                judged[key] = _at_heads(bind.directory, current, target)
            if not judged[key]:
                current = None
        answers.append(current)
    return answers


def _at_heads(directory: Path, current: tuple[str, ...], target: str) -> bool:
    if target == "head":
        heads = chain.heads(directory)
        if heads is None or len(heads) > 1:
            return False
    return bool(chain.up_to_date(directory, current))


def status(bind: Bind) -> BindStatus | None:
    """The bind's status for a plain line of revisions; None when not that simple."""
    if chain.linear(bind.directory) is None:
        return None
    return status_from(bind, versions.read_or_none(bind))


def status_from(
    bind: Bind, current: tuple[str, ...] | None, found: history.History | None = None
) -> BindStatus | None:
    """:func:`status`, from what the version table (``current``) and the history
    (``found``, else read now) were read to hold; None when not that simple."""
    line = chain.linear(bind.directory)
    if line is None or current is None or len(current) > 1:
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
            flask_migrate=versions.flask_migrate_or_none(bind) or (),
        ),
        found,
    )


def is_current(bind: Bind) -> bool | None:
    """Whether the bind's database is at its heads, as ``status`` would say it (nothing
    pending, nothing missing); None when only Alembic can tell.

    At its heads means that ``upgrade heads`` would run nothing, which is not always
    "the version table holds every head": a head that another revision depends on is
    not written there (see :func:`~flask_schemaver.script.chain.up_to_date`).
    """
    current = versions.read_or_none(bind)
    if current is None:
        return False  # cannot reach the database: not ready, whatever the files say
    return chain.up_to_date(bind.directory, current)
