"""The Python API that judges: check, lint, acknowledge, is_current."""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..exceptions import UsageError
from .looks import LooksAPI

if TYPE_CHECKING:
    from ..binds import BindNames
    from ..lint import Finding
    from ..results import CheckResult


class ChecksAPI(LooksAPI):
    """The Python API that judges binds, for CI and health checks."""

    def check(
        self, bind: BindNames = None, *, only: Iterable[str] = ()
    ) -> list[CheckResult]:
        """Per bind: several heads, unapplied or edited revisions, revision files gone,
        and models the revisions miss.

        :param bind: a bind name, several, or None for every bind.
        :param only: the gates to run (see :data:`~flask_schemaver.results.GATES`);
            every gate by default.
        :return: one result per bind; ``ok`` tells whether it passed.
        """
        from ..results import GATES
        from ..verbs import checks

        gates = tuple(dict.fromkeys(only)) or GATES
        unknown = set(gates) - set(GATES)
        if unknown:
            raise UsageError(
                f"unknown check {', '.join(sorted(unknown))}; choose from {', '.join(GATES)}"
            )
        settings = self._state().settings
        binds = self.select(bind)
        if "drift" in gates:
            self._refuse_unconfigured_models()
        return [
            checks.check(b, settings, gates)  # type: ignore[arg-type]  # checked above
            for b in binds
        ]

    def lint(
        self,
        bind: BindNames = None,
        since: str | Sequence[str] | None = None,
        revisions: str | Sequence[str] | None = None,
    ) -> list[Finding]:
        """Operations in the revisions that lock tables or break running code.

        Nothing runs against a database. See :doc:`/lint`.

        :param bind: a bind name, several, or None for every bind.
        :param since: one revision per bind (or ``head``): only the revisions after
            it in its bind's chain are linted.
        :param revisions: lint only the revisions named.
        :return: the findings, each bind's oldest revision first.
        """
        from ..lint import engine

        settings = self._state().settings
        return engine.lint(
            self.select(bind), settings, since=since, revisions=revisions
        )

    def acknowledge(self, revision: str, bind: BindNames = None) -> dict[str, str]:
        """Accept the current file of an applied, edited revision: record its checksum.

        :param revision: the revision id (or its start, or a branch label).
        :param bind: a bind name, several, or None for the binds that have it.
        :return: the revision id acknowledged per bind.
        """
        from ..verbs import checks

        having = self._having(bind, self.select(bind), [revision])
        return {
            state.bind: checks.acknowledge(self.binds[state.bind], state, revision)
            for state in self.status([b.name for b in having])
        }

    def is_current(self, bind: BindNames = None) -> bool:
        """Whether every bind's database is at its heads: cheap enough for a health check.

        Answered without Alembic when the revision files allow it; a database that
        cannot be reached is not current.

        :param bind: a bind name, several, or None for every bind.
        """
        from ..exceptions import SchemaVerError
        from ..verbs import quick

        for b in self.select(bind):
            answer = quick.is_current(b)
            if answer is None:
                try:
                    [state] = self.status(b.name)
                except SchemaVerError:
                    return False
                answer = state.up_to_date
            if not answer:
                return False
        return True
