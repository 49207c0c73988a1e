"""Errors raised by flask_schemaver.

Each error carries structured data for tools and a one-line message for people. The CLI
turns :class:`UsageError` into exit code 2 and every other error into exit code 1.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from .results import RevisionResult
    from .results import RunResult


class SchemaVerError(Exception):
    """Base class of every error flask_schemaver raises on purpose."""

    #: Exit code the CLI uses for this error.
    exit_code = 1
    #: The tenant of the bind it happened on, on a tenanted bind.
    tenant: str | None = None

    def __init__(self, message: str, bind: str | None = None) -> None:
        super().__init__(message)
        #: What went wrong, without the bind.
        self.message = message
        #: The name of the bind it happened on, if any.
        self.bind = bind

    def __reduce__(self) -> tuple[object, ...]:
        # Rebuilt without calling __init__, whose signature differs per subclass: errors
        # travel between processes when binds run in parallel.
        return (_rebuild, (type(self), self.args, self.__dict__))

    def __str__(self) -> str:
        if self.bind is None:
            return self.message
        if self.tenant is not None:
            return f"[{self.bind}/{self.tenant}] {self.message}"
        return f"[{self.bind}] {self.message}"


def _rebuild(
    cls: type[SchemaVerError], args: tuple[object, ...], state: dict[str, object]
) -> SchemaVerError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class ConfigError(SchemaVerError, click.ClickException):  # type: ignore[misc]
    """The app's configuration cannot be used as it is.

    Raised by ``init_app``, so while Flask's CLI loads the app. As a
    :class:`click.ClickException`, any ``flask`` command then prints it as one
    ``Error:`` line and exits with status 1, rather than a traceback.
    """


class UsageError(SchemaVerError):
    """A command or API call was given arguments that cannot work."""

    exit_code = 2


class UnknownBind(UsageError):
    """A bind name that the app does not have."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        #: The name that was asked for.
        self.name = name
        #: The app's bind names.
        self.known = tuple(known)
        listed = ", ".join(self.known) or "none"
        super().__init__(f"unknown bind {name!r}; the app's binds are: {listed}")


class UnknownRevision(UsageError):
    """A revision target that does not resolve, or resolves to several revisions."""


class MigrationError(SchemaVerError):
    """Alembic refused or failed an operation on a bind's revision chain."""


class MultipleHeads(MigrationError):
    """A bind has several heads where the operation needs one."""

    def __init__(self, bind: str, heads: Iterable[str]) -> None:
        #: The ids of the bind's heads.
        self.heads = tuple(heads)
        super().__init__(
            f"several heads ({', '.join(self.heads)}); name one, use 'heads', "
            f"or join them with 'flask db merge --bind {bind}'",
            bind,
        )


class MultidbRevisions(MigrationError):
    """A bind's folder holds Flask-Migrate ``--multidb`` revisions, whose
    ``upgrade(engine_name)`` runs one part per database: flask_schemaver refuses to
    run, show or compare them until ``flask db split-multidb`` converts them."""

    def __init__(self, bind: str, folder: str, files: Sequence[str]) -> None:
        #: The revision files that dispatch per database, by path.
        self.files = tuple(files)
        names = [os.path.basename(f) for f in self.files]
        shown = ", ".join(names[:3])
        if len(names) > 3:
            shown += f" and {len(names) - 3} more"
        super().__init__(
            f"{folder} holds Flask-Migrate --multidb revisions, whose "
            f"upgrade(engine_name) runs one part per database ({shown}); "
            "flask_schemaver runs one chain "
            "per bind and never runs them as they are: convert them with 'flask db "
            "split-multidb' (a dry run; then --write, and --stamp where the "
            "databases are)",
            bind,
        )


class DatabaseError(SchemaVerError):
    """The database of a bind reported an error."""

    def __init__(self, message: str, bind: str, revision: str | None = None) -> None:
        #: The revision that was running when the database failed, if known.
        self.revision = revision
        super().__init__(message, bind)


class LockTimeout(SchemaVerError):
    """Another process held a bind's migration lock for longer than the timeout."""

    def __init__(self, bind: str, timeout: float, holder: str = "") -> None:
        #: How many seconds were waited.
        self.timeout = timeout
        #: Who held the lock, as far as the database could tell; may be empty.
        self.holder = holder
        held_by = f" (held by {holder})" if holder else ""
        super().__init__(
            f"gave up after waiting {timeout:g}s for the migration lock{held_by}; "
            "another migration is running: wait for it, or raise SCHEMAVER_LOCK_TIMEOUT",
            bind,
        )


class Interrupted(SchemaVerError):
    """A run stopped by Ctrl-C or a signal (SIGTERM, or a worker told to stop).

    The revision that was running, if any, is named; where the database rolls back
    DDL it left nothing behind.
    """

    #: 128 + SIGINT, as shells report an interrupted command.
    exit_code = 130

    def __init__(self, message: str, bind: str, revision: str | None = None) -> None:
        #: The revision that was running when the run stopped, if known.
        self.revision = revision
        super().__init__(message, bind)


class RunFailed(SchemaVerError):
    """Upgrade, downgrade, stamp or autogenerate failed on one or more binds.

    ``results`` has one entry per bind: done, failed (with its error) or skipped.
    """

    def __init__(
        self, verb: str, results: Sequence[RunResult | RevisionResult]
    ) -> None:
        #: ``"upgrade"``, ``"downgrade"`` or ``"stamp"``.
        self.verb = verb
        #: One :class:`~flask_schemaver.results.RunResult` per bind, in order.
        self.results = list(results)
        #: The errors of the binds that failed.
        self.errors = [r.error for r in self.results if r.error is not None]
        if all(e.exit_code == 2 for e in self.errors):
            self.exit_code = 2
        elif any(isinstance(e, Interrupted) for e in self.errors):
            self.exit_code = Interrupted.exit_code
        failed = [r.bind for r in self.results if r.outcome == "failed"]
        if len(self.errors) == 1:
            message = str(self.errors[0])
        else:
            message = f"{verb} failed on {len(failed)} binds: {', '.join(failed)}"
        super().__init__(message)


class ProtectedBind(UsageError):
    """A destructive command on a bind marked protected, without confirmation."""

    def __init__(self, verb: str, binds: Iterable[str]) -> None:
        self.verb = verb
        self.binds = tuple(binds)
        names = ", ".join(self.binds)
        super().__init__(
            f"{names} {'is' if len(self.binds) == 1 else 'are'} protected: {verb} needs "
            "confirmation; answer the prompt, or pass --yes (confirm=True in Python)"
        )
