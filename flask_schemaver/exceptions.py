"""Errors raised by flask_schemaver.

Each error carries structured data for tools and a one-line message for people. The CLI
turns :class:`UsageError` into exit code 2 and every other error into exit code 1.
"""

from __future__ import annotations

from collections.abc import Iterable


class SchemaVerError(Exception):
    """Base class of every error flask_schemaver raises on purpose."""

    #: Exit code the CLI uses for this error.
    exit_code = 1

    def __init__(self, message: str, bind: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.bind = bind

    def __str__(self) -> str:
        if self.bind is None:
            return self.message
        return f"[{self.bind}] {self.message}"


class ConfigError(SchemaVerError):
    """The app's configuration cannot be used as it is."""


class UsageError(SchemaVerError):
    """A command or API call was given arguments that cannot work."""

    exit_code = 2


class UnknownBind(UsageError):
    """A bind name that the app does not have."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name = name
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
        self.heads = tuple(heads)
        super().__init__(
            f"several heads ({', '.join(self.heads)}); name one, use 'heads', "
            f"or join them with 'flask db merge --bind {bind}'",
            bind,
        )


class DatabaseError(SchemaVerError):
    """The database of a bind reported an error."""

    def __init__(self, message: str, bind: str, revision: str | None = None) -> None:
        self.revision = revision
        super().__init__(message, bind)
