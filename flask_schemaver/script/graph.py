"""A bind's revision graph for reading, built from :mod:`.files` without running files.

Heads, history, targets and what is applied are answered by Alembic's own
``ScriptDirectory`` and ``RevisionMap``, fed with revisions read from the files' text. :class:`RevisionGraph`
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

from alembic.script import ScriptDirectory
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

    @property
    def nextrev(self) -> frozenset[str]: ...

    @property
    def _all_nextrev(self) -> frozenset[str]: ...


class RevisionGraph(Protocol):
    """What reading a bind's revisions needs: Alembic's ``ScriptDirectory`` offers it,
    and so does :class:`StaticScripts`, without importing a revision file."""

    def walk_revisions(
        self, base: str = "base", head: str = "heads"
    ) -> Iterator[Any]: ...

    def get_revisions(self, id_: Any) -> tuple[Any, ...]: ...

    def get_heads(self) -> list[str]: ...

    def iterate_revisions(self, upper: Any, lower: Any, **kw: Any) -> Iterable[Any]: ...

    def get_all_current(self, id_: tuple[str, ...]) -> set[Any]: ...

    # What upgrade, downgrade and stamp to a target would do: Alembic's own steps.
    def _upgrade_revs(self, destination: str, current_rev: Any) -> list[Any]: ...

    def _downgrade_revs(self, destination: str, current_rev: Any) -> list[Any]: ...

    def _stamp_revs(self, revision: Any, heads: Any) -> list[Any]: ...


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
        # Alembic's steps (``_upgrade_revs``...) take each revision's functions when
        # they are planned; a revision read as text is planned, never run.
        self.module = _NotImported(path)

    @property
    def doc(self) -> str:
        return re.split("\n\n", self.longdoc)[0]


class StaticScripts(ScriptDirectory):
    """Alembic's ``ScriptDirectory`` over revisions read as text.

    Only reading the graph is possible: its heads, its history, what a target names
    and the steps a run would take, each answered by Alembic's own code. Running a
    revision, or writing one, needs the real ``ScriptDirectory``.
    """

    def __init__(self, revisions: list[StaticRevision]) -> None:
        # Not ScriptDirectory.__init__, which wants a folder with an env.py: every
        # method that reads the graph needs only the revision map.
        self.revision_map = RevisionMap(lambda: revisions)
        self._walked: tuple[Any, ...] | None = None

    def walk_revisions(self, base: str = "base", head: str = "heads") -> Iterator[Any]:
        if (base, head) != ("base", "heads"):
            return super().walk_revisions(base, head)
        if self._walked is None:  # the whole graph: walked once
            self._walked = tuple(super().walk_revisions(base, head))
        return iter(self._walked)


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


class _NotImported:
    """The module of a revision read as text: its functions cannot run."""

    def __init__(self, path: str) -> None:
        self.path = path

    def upgrade(self, *args: Any, **kwargs: Any) -> None:
        self._refuse()

    def downgrade(self, *args: Any, **kwargs: Any) -> None:
        self._refuse()

    def _refuse(self) -> None:
        raise RuntimeError(
            f"{self.path} was read as text; run it through Alembic's ScriptDirectory"
        )
