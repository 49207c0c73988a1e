"""The SchemaVer extension: per-app state and the Python API over an app's binds."""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any
from typing import TYPE_CHECKING

from flask import current_app
from flask import Flask

from .binds import Bind
from .binds import resolve_binds
from .binds import select
from .exceptions import ConfigError
from .exceptions import ProtectedBind
from .exceptions import RunFailed
from .exceptions import UnknownRevision
from .exceptions import UsageError
from .settings import Settings

if TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy

    from .lint import Finding
    from .locking import WaitCallback
    from .operations import StepCallback
    from .parallel import BindRun
    from .plan import BindPlan
    from .results import BindStatus
    from .results import CheckResult
    from .results import Revision
    from .results import RevisionResult
    from .results import RunResult

BindNames = str | Iterable[str] | None

_EXTENSION_KEY = "schemaver"


@dataclass
class _State:
    """What SchemaVer keeps for one app, on ``app.extensions["schemaver"]``."""

    db: SQLAlchemy
    settings: Settings
    notices: list[str] = field(default_factory=list)
    binds: dict[str, Bind] | None = None


class SchemaVer:
    """Database migrations for a Flask app, one revision chain per Flask-SQLAlchemy bind.

    :param app: the app to set up now; or call :meth:`init_app` later.
    :param db: the ``SQLAlchemy`` extension; by default the one registered on the app.
    :param options: defaults for the ``SCHEMAVER_*`` config keys, named in lower case
        without the prefix, e.g. ``directory="db/migrations"``.
    """

    def __init__(
        self, app: Flask | None = None, db: SQLAlchemy | None = None, **options: Any
    ) -> None:
        from .settings import option_key

        for name in options:
            option_key(name)
        self.db = db
        self.options = options
        if app is not None:
            self.init_app(app, db)

    def init_app(self, app: Flask, db: SQLAlchemy | None = None) -> None:
        """Register the extension and the ``flask db`` commands on ``app``."""
        if _EXTENSION_KEY in app.extensions:
            raise ConfigError(
                f"SchemaVer is already set up on app {app.name!r}; call init_app "
                "once per app"
            )
        db = db or self.db or app.extensions.get("sqlalchemy")
        if db is None:
            raise ConfigError(
                f"Flask-SQLAlchemy is not set up on app {app.name!r}: call "
                "db.init_app(app) before schemaver.init_app(app), or pass db"
            )
        settings = Settings.from_app(app, self.options)
        state = _State(
            db=db, settings=settings, notices=_flask_migrate_notices(settings)
        )
        app.extensions[_EXTENSION_KEY] = state

        from .cli import make_group

        app.cli.add_command(make_group(self, state.notices), settings.command)

    # -- binds ---------------------------------------------------------------------

    def _state(self) -> _State:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        state: _State | None = app.extensions.get(_EXTENSION_KEY)
        if state is None:
            raise ConfigError(
                f"SchemaVer is not set up on app {app.name!r}; call schemaver.init_app(app)"
            )
        if state.binds is None:
            state.binds = resolve_binds(app, state.db, state.settings)
        return state

    @property
    def binds(self) -> dict[str, Bind]:
        """The current app's binds by name, the default database first."""
        binds = self._state().binds
        assert binds is not None
        return binds

    def select(self, bind: BindNames = None) -> list[Bind]:
        """The binds named by ``bind`` (one name or several); every bind when None."""
        return select(self.binds, bind)

    # -- revision files --------------------------------------------------------------

    def init(self, bind: BindNames = None) -> dict[str, bool]:
        """Create the revision folders; map each bind to whether its folder is new."""
        from . import operations

        return {b.name: operations.init(b) for b in self.select(bind)}

    def revision(
        self,
        message: str | None = None,
        bind: BindNames = None,
        *,
        autogenerate: bool = False,
        head: str = "head",
        splice: bool = False,
        branch_label: str | None = None,
        depends_on: Sequence[str] = (),
        rev_id: str | None = None,
        x_args: Sequence[str] = (),
    ) -> list[RevisionResult]:
        """Write a new revision for each bind named (all binds when autogenerating)."""
        from . import operations

        binds = self.select(bind)
        if len(binds) > 1 and not autogenerate:
            raise UsageError(
                "an empty revision is written for one bind at a time; name it with "
                f"--bind (binds: {', '.join(self.binds)})"
            )
        if len(binds) > 1 and rev_id:
            raise UsageError("--rev-id names one revision; use it with a single --bind")
        taken = self._taken_ids(rev_id)
        state = self._state()
        results = []
        for b in binds:
            result = operations.revision(
                b,
                state.settings,
                message=message,
                autogenerate=autogenerate,
                head=head,
                splice=splice,
                branch_label=branch_label,
                depends_on=depends_on,
                rev_id=rev_id,
                taken_ids=taken,
                x_args=x_args,
            )
            taken.update(r.id for r in result.revisions)
            results.append(result)
        return results

    def migrate(
        self,
        message: str | None = None,
        bind: BindNames = None,
        *,
        rev_id: str | None = None,
        x_args: Sequence[str] = (),
        **options: Any,
    ) -> list[RevisionResult]:
        """Autogenerate one revision per bind whose models differ from its database."""
        return self.revision(
            message, bind, autogenerate=True, rev_id=rev_id, x_args=x_args, **options
        )

    def merge(
        self,
        revisions: Sequence[str] = ("heads",),
        bind: BindNames = None,
        *,
        message: str | None = None,
        branch_label: str | None = None,
        rev_id: str | None = None,
    ) -> list[RevisionResult]:
        """Join heads into one revision; binds with a single head are left alone."""
        from . import operations

        binds = self.select(bind)
        if len(binds) > 1 and (rev_id or list(revisions) != ["heads"]):
            raise UsageError(
                "merging named revisions or --rev-id needs a single --bind"
            )
        taken = self._taken_ids(rev_id)
        results = []
        for b in binds:
            result = operations.merge(
                b,
                self._state().settings,
                revisions,
                message=message,
                branch_label=branch_label,
                rev_id=rev_id,
                taken_ids=taken,
            )
            taken.update(r.id for r in result.revisions)
            results.append(result)
        return results

    def edit(self, revision: str = "head", bind: BindNames = None) -> list[Revision]:
        """Open the revision file in the user's editor; return what was opened."""
        import click

        binds = self.select(bind)
        if len(binds) > 1:
            raise UsageError("edit opens one bind's revision; name it with --bind")
        found = self.show(revision, binds[0].name)[binds[0].name]
        for rev in found:
            click.edit(filename=rev.path)
        return found

    def _taken_ids(self, rev_id: str | None) -> set[str]:
        from . import inspection
        from .checks import check_rev_id

        if rev_id is not None:
            check_rev_id(rev_id)

        settings = self._state().settings
        taken: set[str] = set()
        for b in self.binds.values():
            ids = inspection.revision_ids(b, settings)
            if rev_id and rev_id in ids:
                raise UsageError(
                    f"revision id {rev_id!r} is already used by bind {b.name!r}; "
                    "choose another --rev-id"
                )
            taken |= ids
        return taken

    # -- the database --------------------------------------------------------------

    def upgrade(
        self,
        revision: str = "heads",
        bind: BindNames = None,
        *,
        sql: bool = False,
        tag: str | None = None,
        x_args: Sequence[str] = (),
        fail_fast: bool = False,
        jobs: int | None = None,
        on_step: StepCallback | None = None,
        on_wait: WaitCallback | None = None,
    ) -> list[RunResult]:
        """Upgrade each bind named (all by default) to ``revision``.

        A bind that fails does not stop the others unless ``fail_fast``; when any bind
        failed, :class:`~flask_schemaver.exceptions.RunFailed` carries every result.
        """
        settings = self._state().settings
        binds = self.select(bind)
        if (
            not sql
            and revision in ("head", "heads")
            and Path(settings.directory).is_dir()
        ):
            done = _already_at_heads(binds)
            if done is not None:
                return done
        from . import operations

        return self._run_each(
            "upgrade",
            self._having(bind, binds, [revision]),
            revision,
            fail_fast,
            lambda b, step, wait: operations.upgrade(
                b,
                settings,
                revision,
                sql=sql,
                tag=tag,
                x_args=x_args,
                on_step=step,
                on_wait=wait,
            ),
            sql=sql,
            jobs=jobs,
            on_step=on_step,
            on_wait=on_wait,
        )

    def downgrade(
        self,
        revision: str = "-1",
        bind: BindNames = None,
        *,
        all_binds: bool = False,
        confirm: bool = False,
        sql: bool = False,
        tag: str | None = None,
        x_args: Sequence[str] = (),
        fail_fast: bool = False,
        jobs: int | None = None,
        on_step: StepCallback | None = None,
        on_wait: WaitCallback | None = None,
    ) -> list[RunResult]:
        """Downgrade the binds named to ``revision``; several binds need ``all_binds``,
        protected binds need ``confirm``."""
        from . import operations

        settings = self._state().settings
        return self._run_each(
            "downgrade",
            self._having(
                bind,
                self._destructive("downgrade", bind, all_binds, confirm),
                [revision],
            ),
            revision,
            fail_fast,
            lambda b, step, wait: operations.downgrade(
                b,
                settings,
                revision,
                sql=sql,
                tag=tag,
                x_args=x_args,
                on_step=step,
                on_wait=wait,
            ),
            sql=sql,
            jobs=jobs,
            on_step=on_step,
            on_wait=on_wait,
        )

    def stamp(
        self,
        revision: str,
        bind: BindNames = None,
        *,
        all_binds: bool = False,
        confirm: bool = False,
        purge: bool = False,
        sql: bool = False,
        tag: str | None = None,
        x_args: Sequence[str] = (),
        fail_fast: bool = False,
        jobs: int | None = None,
        on_wait: WaitCallback | None = None,
    ) -> list[RunResult]:
        """Set the version table of the binds named, running no migration."""
        from . import operations

        settings = self._state().settings
        return self._run_each(
            "stamp",
            self._having(
                bind,
                self._destructive(
                    "stamp --purge" if purge else "stamp", bind, all_binds, confirm
                ),
                [revision],
            ),
            revision,
            fail_fast,
            lambda b, step, wait: operations.stamp(
                b,
                settings,
                revision,
                sql=sql,
                tag=tag,
                purge=purge,
                x_args=x_args,
                on_wait=wait,
            ),
            sql=sql,
            purge=purge,
            jobs=jobs,
            on_wait=on_wait,
        )

    def plan(
        self,
        revision: str = "heads",
        bind: BindNames = None,
        *,
        downgrade: bool = False,
        all_binds: bool = False,
    ) -> list[BindPlan]:
        """What ``upgrade`` (or ``downgrade``) to ``revision`` would run; runs nothing."""
        from . import plan

        settings = self._state().settings
        binds = (
            self._destructive("downgrade", bind, all_binds)
            if downgrade
            else self.select(bind)
        )
        return [
            plan.plan(b, settings, revision, is_upgrade=not downgrade)
            for b in self._having(bind, binds, [revision])
        ]

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

    def _run_each(
        self,
        verb: str,
        binds: list[Bind],
        revision: str,
        fail_fast: bool,
        run: BindRun,
        *,
        sql: bool,
        purge: bool = False,
        jobs: int | None,
        on_step: StepCallback | None = None,
        on_wait: WaitCallback | None = None,
    ) -> list[RunResult]:
        from .checks import preflight
        from .parallel import run_binds

        settings = self._state().settings
        # Bad input is refused before any bind changes.
        for b in binds:
            preflight(verb, b, settings, revision, sql=sql, purge=purge)
        if jobs is None:
            jobs = self._state().settings.jobs
        if jobs < 1:
            raise UsageError(f"--jobs must be 1 or more, not {jobs}")
        results = run_binds(
            binds,
            run,
            jobs=jobs,
            fail_fast=fail_fast,
            on_step=on_step,
            on_wait=on_wait,
        )
        if any(r.outcome != "done" for r in results):
            raise RunFailed(verb, results)
        return results

    def _having(
        self, bind: BindNames, binds: list[Bind], targets: Sequence[str]
    ) -> list[Bind]:
        """The binds in which every target resolves, checked before anything changes.

        Revision ids are unique across binds, so when no bind is named, a target such as
        ``1a2b`` or ``label@head`` picks the binds that have it. A named bind that lacks
        it is bad input.
        """
        from . import checks

        settings = self._state().settings
        if bind:
            for b in binds:
                for target in targets:
                    checks.validate_target(b, settings, target)
            return binds
        having: list[Bind] = []
        first_error: UnknownRevision | None = None
        for b in binds:
            try:
                for target in targets:
                    checks.validate_target(b, settings, target)
            except UnknownRevision as exc:
                first_error = first_error or exc
            else:
                having.append(b)
        if not having and first_error is not None:
            if len(binds) == 1:
                raise first_error
            raise UnknownRevision(
                f"no bind has {' or '.join(repr(t) for t in targets)}; "
                "'flask db history' lists each bind's revisions"
            )
        return having

    def _destructive(
        self, verb: str, bind: BindNames, all_binds: bool, confirm: bool = True
    ) -> list[Bind]:
        binds = self.select(bind)
        if len(self.binds) > 1 and not bind and not all_binds:
            raise UsageError(
                f"{verb} changes a database's version: name the binds with --bind "
                f"({', '.join(self.binds)}) or pass --all-binds"
            )
        protected = [b.name for b in binds if b.protected]
        if protected and not confirm:
            raise ProtectedBind(verb, protected)
        return binds

    # -- looking -------------------------------------------------------------------

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
                answer = state.up_to_date and len(state.heads) <= 1
            if not answer:
                return False
        return True


def _already_at_heads(binds: list[Bind]) -> list[RunResult] | None:
    """Results for a no-op upgrade, when every bind is plainly at its heads already.

    Takes no lock and imports no Alembic: the common case on every deploy stays cheap.
    """
    from .quick import at_heads
    from .results import RunResult

    results = []
    for b in binds:
        current = at_heads(b)
        if current is None:
            return None
        results.append(RunResult(b.name, current, current, note="nothing to do"))
    return results


def _flask_migrate_notices(settings: Settings) -> list[str]:
    folder = Path(settings.directory)
    leftovers = [
        name for name in ("env.py", "alembic.ini") if (folder / name).is_file()
    ]
    if not leftovers:
        return []
    files = " and ".join(str(folder / name) for name in leftovers)
    return [f"notice: {files} not used by flask_schemaver; safe to delete"]
