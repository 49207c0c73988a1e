"""The Python API that reads: show, history, heads, branches, current, status."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import BindAPI

if TYPE_CHECKING:
    from ..binds import BindNames
    from ..results import BindStatus
    from ..results import Revision


class LooksAPI(BindAPI):
    """The Python API that reads."""

    def current(self, bind: BindNames = None) -> dict[str, tuple[str, ...]]:
        """The revisions each bind's database is at.

        :param bind: a bind name, several, or None for every bind.
        :return: each bind's name and its current revision ids (empty at base).
        """
        from ..verbs import looks

        return {b.name: looks.current(b) for b in self.select(bind)}

    def current_revisions(
        self, bind: BindNames = None
    ) -> dict[str, tuple[list[Revision], tuple[str, ...]]]:
        """Each bind's current revisions in full, as Alembic's ``current`` finds them:
        those its version table names and the revisions they depend on that no other
        of them builds on (heads among them are marked effective heads); and the names
        in the version table that no revision file has.

        :param bind: a bind name, several, or None for every bind.
        """
        from ..verbs import looks

        settings = self._state().settings
        return {b.name: looks.current_revisions(b, settings) for b in self.select(bind)}

    def heads(self, bind: BindNames = None) -> dict[str, list[Revision]]:
        """Each bind's head revisions.

        :param bind: a bind name, several, or None for every bind.
        """
        from ..script import chain

        binds = self.select(bind)
        lines = [chain.linear(b.directory) for b in binds]
        if all(line is not None for line in lines):
            return {
                b.name: line[-1:]
                for b, line in zip(binds, lines, strict=True)
                if line is not None
            }
        from ..verbs import looks

        settings = self._state().settings
        return {b.name: looks.heads(b, settings) for b in binds}

    def branches(self, bind: BindNames = None) -> dict[str, list[Revision]]:
        """Each bind's branch points: revisions that more than one revision builds on.

        :param bind: a bind name, several, or None for every bind.
        """
        from ..verbs import looks

        settings = self._state().settings
        return {b.name: looks.branches(b, settings) for b in self.select(bind)}

    def history(
        self, rev_range: str | None = None, bind: BindNames = None
    ) -> dict[str, list[Revision]]:
        """Each bind's revisions, newest first.

        :param rev_range: ``START:END`` to list only part of the chain; either end may
            be left out, or be ``current``.
        :param bind: a bind name, several, or None for every bind.
        """
        if not rev_range:
            from ..script import chain

            binds = self.select(bind)
            lines = [chain.linear(b.directory) for b in binds]
            if all(line is not None for line in lines):
                return {
                    b.name: list(reversed(line))
                    for b, line in zip(binds, lines, strict=True)
                    if line is not None
                }
        from ..verbs import looks

        settings = self._state().settings
        ends = (rev_range or "").split(":")
        targets = [e for e in ends if e and e != "current"]
        return {
            b.name: looks.history(b, settings, rev_range)
            for b in self._having(bind, self.select(bind), targets)
        }

    def show(
        self, revision: str = "head", bind: BindNames = None
    ) -> dict[str, list[Revision]]:
        """The revisions ``revision`` names in each bind.

        :param revision: a revision id (or its start), ``head``, ``label@head``,
            ``current``...
        :param bind: a bind name, several, or None for the binds that have it.
        """
        from ..verbs import looks

        settings = self._state().settings
        targets = [] if revision == "current" else [revision]
        return {
            b.name: looks.show(b, settings, revision)
            for b in self._having(bind, self.select(bind), targets)
        }

    def status(self, bind: BindNames = None) -> list[BindStatus]:
        """Each bind's revisions marked applied or pending, and what its database is at.

        :param bind: a bind name, several, or None for every bind.
        """
        from ..verbs import quick

        binds = self.select(bind)
        quick_states = [quick.status(b) for b in binds]
        if all(state is not None for state in quick_states):
            return [state for state in quick_states if state is not None]
        from ..verbs import looks

        settings = self._state().settings
        return [looks.status(b, settings) for b in binds]
