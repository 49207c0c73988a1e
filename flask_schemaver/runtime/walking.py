"""Walking a bind's revisions one step at a time, in one Alembic environment.

The pytest plugin's stairway and clean-downgrade checks take each revision up, down
and up again. Run as Alembic commands, each of those moves would build its own
``ScriptDirectory`` and ``EnvironmentContext``, connect, and plan its steps over the
whole revision graph: a walk of n revisions would cost n times a command that itself
grows with n. Here one environment, on one connection, runs the whole walk, and each
move is one of Alembic's own ``RevisionStep`` objects: the version table is kept by
Alembic's head maintainer, each step in its own transaction, exactly as when Alembic
runs that revision.

A move only becomes that single step when Alembic would plan it so: an upgrade whose
revision's parents and dependencies are all applied, a downgrade of a revision that is
one of the database's heads. Anything else is planned by Alembic (an upgrade) or
refused (a downgrade that would take other revisions with it).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from typing import TYPE_CHECKING

from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import RevisionStep

from ..exceptions import MigrationError
from .environment import imported_scripts

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from ..binds import Bind


@dataclass(frozen=True)
class Move:
    """One move of a walk: upgrade ``revision`` (and, if Alembic would, what it still
    needs), or downgrade ``revision`` alone."""

    revision: str
    is_upgrade: bool


class Walker:
    """Runs a sequence of moves as migration steps of one Alembic run.

    ``moves`` is consumed lazily: whatever the caller's iterator does between two
    moves happens once the previous step is committed, and before the next starts.
    """

    def __init__(
        self,
        bind: Bind,
        moves: Iterable[Move],
        *,
        between: Callable[[], None] | None = None,
    ) -> None:
        self.bind = bind
        self.moves = moves
        #: Called after each committed step, before the caller's next move is asked for.
        self.between = between
        #: The database's heads, as Alembic's head maintainer leaves them.
        self.heads: tuple[str, ...] = ()
        self.applied: set[str] = set()
        #: How many steps ran: a walk's work, which the tests count.
        self.steps = 0

    def on_version_apply(self, then: Callable[..., None]) -> Callable[..., None]:
        """Alembic's ``on_version_apply`` hook: ``then``, and follow the heads."""

        def applied(**kwargs: Any) -> None:
            then(**kwargs)
            self.heads = tuple(sorted(kwargs["heads"]))
            info = kwargs["step"]
            revision = info.up_revision_id
            if info.is_upgrade:
                self.applied.add(revision)
            else:
                self.applied.discard(revision)

        return applied

    def run(self, config: Config) -> None:
        """Run every move on the connection ``config`` was made with."""
        scripts = imported_scripts(config)

        def migrations(heads: Any, context: MigrationContext) -> Iterator[Any]:
            self.heads = tuple(heads)
            self.applied = _ancestors(scripts, heads)
            for move in self.moves:
                for step in self._steps(scripts, move):
                    yield step
                    # Resumed once the step's transaction is committed.
                    self.steps += 1
                    if self.between is not None:
                        self.between()

        with EnvironmentContext(config, scripts, fn=migrations):
            scripts.run_env()

    def _steps(self, scripts: ScriptDirectory, move: Move) -> list[Any]:
        script = scripts.get_revision(move.revision)
        if script is None:  # pragma: no cover - the moves come from the same files
            raise MigrationError(f"no revision {move.revision!r}", self.bind.name)
        if move.is_upgrade:
            if script.revision in self.applied:
                return []
            needs = {*script._versioned_down_revisions, *script._resolved_dependencies}
            if needs <= self.applied:
                return [RevisionStep(scripts.revision_map, script, True)]
            # Something it builds on is not applied: Alembic plans the way there.
            return list(scripts._upgrade_revs(script.revision, self.heads))  # type: ignore[arg-type]
        if script.revision not in self.heads:
            raise MigrationError(
                f"revision {script.revision} can't be downgraded alone: it is not one "
                f"of the database's heads ({', '.join(self.heads) or 'base'})",
                self.bind.name,
            )
        return [RevisionStep(scripts.revision_map, script, False)]


def _ancestors(scripts: ScriptDirectory, heads: Iterable[str]) -> set[str]:
    """The revisions applied when the database is at ``heads``."""
    heads = list(heads)
    if not heads:
        return set()
    revision_map = scripts.revision_map
    return {
        r.revision
        for r in revision_map._get_ancestor_nodes(
            revision_map.get_revisions(heads), check=False
        )
    }
