"""A bind's revision graph for reading, built from :mod:`.files` without running files.

Heads, history, targets and what is applied are answered by Alembic's own
``RevisionMap``, fed with revisions read from the files' text. :class:`RevisionGraph`
is what the rest of flask_schemaver asks of a graph, whether it comes from here or from
Alembic's ``ScriptDirectory``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from typing import Protocol

from alembic.script.revision import Revision
from alembic.script.revision import RevisionMap

from .files import Dynamic as Dynamic
from .files import load_facts
from .files import RevisionFacts


class ScriptLike(Protocol):
    """One revision of a graph: Alembic's ``Script``, or a :class:`StaticRevision`."""

    @property
    def revision(self) -> str: ...

    @property
    def down_revision(self) -> str | Sequence[str] | None: ...

    @property
    def dependencies(self) -> str | Sequence[str] | None: ...

    @property
    def branch_labels(self) -> set[str]: ...

    @property
    def path(self) -> str: ...

    @property
    def longdoc(self) -> str: ...

    @property
    def doc(self) -> str: ...

    @property
    def is_head(self) -> bool: ...

    @property
    def is_branch_point(self) -> bool: ...

    @property
    def is_merge_point(self) -> bool: ...


class RevisionGraph(Protocol):
    """What reading a bind's revisions needs: Alembic's ``ScriptDirectory`` offers it,
    and so does :class:`StaticScripts`, without importing a revision file."""

    def walk_revisions(
        self, base: str = "base", head: str = "heads"
    ) -> Iterator[Any]: ...

    def get_revisions(self, id_: Any) -> tuple[Any, ...]: ...

    def get_heads(self) -> list[str]: ...

    def iterate_revisions(self, upper: Any, lower: Any, **kw: Any) -> Iterable[Any]: ...


class StaticRevision(Revision):
    """A revision known from its file's text; quacks like Alembic's ``Script``."""

    def __init__(self, path: str, facts: RevisionFacts) -> None:
        super().__init__(
            facts["revision"],
            _as_alembic(facts["down_revision"]),
            dependencies=_as_alembic(facts["depends_on"]),
            branch_labels=_as_alembic(facts["branch_labels"]),
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
        self._walked: tuple[Any, ...] | None = None

    def walk_revisions(self, base: str = "base", head: str = "heads") -> Iterator[Any]:
        if (base, head) != ("base", "heads"):
            return self._walk(base, head)
        if self._walked is None:  # the whole graph: walked once
            self._walked = tuple(self._walk(base, head))
        return iter(self._walked)

    def _walk(self, base: str, head: str) -> Iterator[Any]:
        return self.revision_map.iterate_revisions(
            head, base, inclusive=True, assert_relative_length=False
        )

    def get_revisions(self, id_: Any) -> tuple[Any, ...]:
        return self.revision_map.get_revisions(id_)

    def get_heads(self) -> list[str]:
        return list(self.revision_map.heads)

    def iterate_revisions(self, upper: Any, lower: Any, **kw: Any) -> Iterator[Any]:
        return self.revision_map.iterate_revisions(upper, lower, **kw)


#: Per revision folder: the facts of its files and the graph made of them.
_loaded: dict[Path, tuple[list[tuple[str, RevisionFacts]], StaticScripts]] = {}


def load(directory: Path) -> StaticScripts:
    """The revision graph of the files in ``directory``; :class:`Dynamic` if unreadable.

    The graph is made again only when the files say something new, so a process that
    runs many commands (a test session) does not rebuild it for each.
    """
    facts = load_facts(directory)
    cached = _loaded.get(directory)
    if cached is not None and cached[0] == facts:
        return cached[1]
    scripts = StaticScripts([StaticRevision(path, found) for path, found in facts])
    _loaded[directory] = (facts, scripts)
    return scripts


def _as_alembic(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value
