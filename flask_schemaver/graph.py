"""A bind's revision graph for reading, built from :mod:`revfiles` without running files.

Heads, history, targets and what is applied are answered by Alembic's own
``RevisionMap``, fed with revisions read from the files' text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic.script.revision import Revision
from alembic.script.revision import RevisionMap

from .revfiles import Dynamic as Dynamic
from .revfiles import load_facts


class StaticRevision(Revision):
    """A revision known from its file's text; quacks like Alembic's ``Script``."""

    def __init__(self, path: str, facts: dict[str, Any]) -> None:
        super().__init__(
            facts["revision"],
            _as_ids(facts["down_revision"]),
            dependencies=_as_ids(facts["depends_on"]),
            branch_labels=_as_ids(facts["branch_labels"]),
        )
        self.path = path
        self.longdoc = (facts["docstring"] or "").strip()

    @property
    def doc(self) -> str:
        return re.split("\n\n", self.longdoc)[0]


class StaticScripts:
    """The part of Alembic's ``ScriptDirectory`` that reading a graph needs."""

    def __init__(self, revisions: list[StaticRevision]) -> None:
        self.revision_map = RevisionMap(lambda: revisions)

    def walk_revisions(self, base: str = "base", head: str = "heads") -> Iterator[Any]:
        yield from self.revision_map.iterate_revisions(
            head, base, inclusive=True, assert_relative_length=False
        )

    def get_revisions(self, id_: Any) -> tuple[Any, ...]:
        return self.revision_map.get_revisions(id_)

    def get_heads(self) -> list[str]:
        return list(self.revision_map.heads)

    def iterate_revisions(self, upper: Any, lower: Any, **kw: Any) -> Iterator[Any]:
        return self.revision_map.iterate_revisions(upper, lower, **kw)


def load(directory: Path) -> StaticScripts:
    """The revision graph of the files in ``directory``; :class:`Dynamic` if unreadable."""
    return StaticScripts(
        [StaticRevision(path, facts) for path, facts in load_facts(directory)]
    )


def _as_ids(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value
