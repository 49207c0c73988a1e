"""The Python API that reads: current, heads, history, status, check, lint, readiness."""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .apibase import BindAPI
from .apibase import BindNames
from .exceptions import UsageError

if TYPE_CHECKING:
    from .lint import Finding
    from .results import BindStatus
    from .results import CheckResult
    from .results import Revision


class LooksAPI(BindAPI):
    """The Python API that reads."""

    def lint(
        self,
        bind: BindNames = None,
        since: str | Sequence[str] | None = None,
        revisions: str | Sequence[str] | None = None,
    ) -> list[Finding]:
        """Operations in the revisions that lock tables or break running code.

        ``since`` names one revision per bind (or ``head``): only the revisions after it
        in its bind's chain are linted. ``revisions`` lints only the revisions named.
        Nothing runs against a database. See :doc:`/lint`.
        """
        from .lint import engine

        settings = self._state().settings
        return engine.lint(
            self.select(bind), settings, since=since, revisions=revisions
        )

    def current(self, bind: BindNames = None) -> dict[str, tuple[str, ...]]:
        """The revisions each bind's database is at."""
        from . import inspection

        return {b.name: inspection.current(b) for b in self.select(bind)}

    def heads(self, bind: BindNames = None) -> dict[str, list[Revision]]:
        """Each bind's head revisions."""
        from . import quick

        binds = self.select(bind)
        lines = [quick.linear_chain(b) for b in binds]
        if all(line is not None for line in lines):
            return {
                b.name: line[-1:]
                for b, line in zip(binds, lines, strict=True)
                if line is not None
            }
        from . import inspection

        settings = self._state().settings
        return {b.name: inspection.heads(b, settings) for b in binds}

    def branches(self, bind: BindNames = None) -> dict[str, list[Revision]]:
        """Each bind's branch points."""
        from . import inspection

        settings = self._state().settings
        return {b.name: inspection.branches(b, settings) for b in self.select(bind)}

    def history(
        self, rev_range: str | None = None, bind: BindNames = None
    ) -> dict[str, list[Revision]]:
        """Each bind's revisions, newest first, optionally limited to ``start:end``."""
        if not rev_range:
            from . import quick

            binds = self.select(bind)
            lines = [quick.linear_chain(b) for b in binds]
            if all(line is not None for line in lines):
                return {
                    b.name: list(reversed(line))
                    for b, line in zip(binds, lines, strict=True)
                    if line is not None
                }
        from . import inspection

        settings = self._state().settings
        ends = (rev_range or "").split(":")
        targets = [e for e in ends if e and e != "current"]
        return {
            b.name: inspection.history(b, settings, rev_range)
            for b in self._having(bind, self.select(bind), targets)
        }

    def show(
        self, revision: str = "head", bind: BindNames = None
    ) -> dict[str, list[Revision]]:
        """The revisions ``revision`` names in each bind."""
        from . import inspection

        settings = self._state().settings
        targets = [] if revision == "current" else [revision]
        return {
            b.name: inspection.show(b, settings, revision)
            for b in self._having(bind, self.select(bind), targets)
        }

    def status(self, bind: BindNames = None) -> list[BindStatus]:
        """Each bind's revisions marked applied or pending, and what its database is at."""
        from . import quick

        binds = self.select(bind)
        quick_states = [quick.status(b) for b in binds]
        if all(state is not None for state in quick_states):
            return [state for state in quick_states if state is not None]
        from . import inspection

        settings = self._state().settings
        return [inspection.status(b, settings) for b in binds]

    def check(
        self, bind: BindNames = None, *, only: Iterable[str] = ()
    ) -> list[CheckResult]:
        """Per bind: several heads, unapplied or edited revisions, revision files gone,
        and models the revisions miss. ``only`` limits it to some of those gates."""
        from . import inspection
        from .results import GATES

        gates = tuple(dict.fromkeys(only)) or GATES
        unknown = set(gates) - set(GATES)
        if unknown:
            raise UsageError(
                f"unknown check {', '.join(sorted(unknown))}; choose from {', '.join(GATES)}"
            )
        settings = self._state().settings
        return [inspection.check(b, settings, gates) for b in self.select(bind)]

    def acknowledge(self, revision: str, bind: BindNames = None) -> dict[str, str]:
        """Accept the current file of an applied, edited revision: record its checksum.

        Returns the revision id acknowledged per bind.
        """
        from . import history

        done: dict[str, str] = {}
        having = self._having(bind, self.select(bind), [revision])
        for state in self.status([b.name for b in having]):
            b = self.binds[state.bind]
            if not b.history:
                raise UsageError(
                    f"bind {b.name!r} keeps no history (its 'history' option is off)"
                )
            matches = [
                s for s in state.revisions if s.revision.id.startswith(revision)
            ] or [s for s in state.revisions if revision in s.revision.branch_labels]
            if len(matches) != 1 or not matches[0].applied:
                raise UsageError(
                    f"{revision!r} is not an applied revision of bind {b.name!r}; "
                    "only applied revisions have a checksum to acknowledge",
                    b.name,
                )
            rev = matches[0].revision
            with b.engine.begin() as connection:
                history.ensure_in(b, connection)
                history.write(
                    b,
                    connection,
                    revision=rev.id,
                    direction="acknowledge",
                    path=rev.path,
                    seconds=None,
                )
            done[b.name] = rev.id
        return done

    def is_current(self, bind: BindNames = None) -> bool:
        """Whether every bind's database is at its heads: cheap enough for a health check.

        Answered without Alembic when the revision files allow it; a database that
        cannot be reached is not current.
        """
        from . import quick

        for b in self.select(bind):
            answer = quick.is_current(b)
            if answer is None:
                from .exceptions import SchemaVerError

                try:
                    [state] = self.status(b.name)
                except SchemaVerError:
                    return False
                answer = state.up_to_date
            if not answer:
                return False
        return True
