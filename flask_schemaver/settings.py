"""The ``SCHEMAVER_*`` configuration keys, their defaults, and their validation."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from typing import Any
from typing import Final

from flask import Flask

from .exceptions import ConfigError

#: Every configuration key with its default. ``SchemaVer(**options)`` takes the same
#: names in lower case without the prefix, e.g. ``SchemaVer(directory="db/migrations")``.
DEFAULTS: dict[str, Any] = {
    "SCHEMAVER_DIRECTORY": "migrations",
    "SCHEMAVER_COMMAND": "db",
    "SCHEMAVER_CONTEXT": {},
    "SCHEMAVER_BINDS": {},
    "SCHEMAVER_SKIP_EMPTY": True,
    "SCHEMAVER_FILE_TEMPLATE": "%(rev)s_%(slug)s",
    "SCHEMAVER_SCRIPT_TEMPLATE": None,
    "SCHEMAVER_TIMEZONE": None,
    "SCHEMAVER_TRUNCATE_SLUG_LENGTH": 40,
    "SCHEMAVER_POST_WRITE_HOOKS": [],
    "SCHEMAVER_LOCK": True,
    "SCHEMAVER_LOCK_TIMEOUT": 600,
    "SCHEMAVER_JOBS": 1,
    "SCHEMAVER_JOBS_PER_SERVER": None,
    "SCHEMAVER_LINT": {},
    "SCHEMAVER_HISTORY": True,
    "SCHEMAVER_CONNECT_TIMEOUT": 30,
    "SCHEMAVER_STATEMENT_TIMEOUT": None,
    "SCHEMAVER_TENANTS": {},
}

#: Options a bind may set in ``SCHEMAVER_BINDS``.
BIND_OPTIONS = frozenset(
    {
        "exclude",
        "directory",
        "version_table",
        "version_table_schema",
        "context",
        "lock",
        "history",
        "protected",
    }
)


def option_key(name: str) -> str:
    """Map a ``SchemaVer(**options)`` name to its configuration key."""
    key = f"SCHEMAVER_{name.upper()}"
    if key not in DEFAULTS:
        known = ", ".join(
            sorted(k.removeprefix("SCHEMAVER_").lower() for k in DEFAULTS)
        )
        raise TypeError(f"SchemaVer() got an unknown option {name!r}; known: {known}")
    return key


class Settings:
    """The validated ``SCHEMAVER_*`` settings of one app, read once in ``init_app``.

    Read-only. A plain class rather than a dataclass: making a dataclass takes about a
    millisecond, which every web worker would pay when it imports flask_schemaver.
    """

    __slots__ = (
        "directory",
        "command",
        "context",
        "binds",
        "skip_empty",
        "file_template",
        "timezone",
        "truncate_slug_length",
        "post_write_hooks",
        "lock",
        "lock_timeout",
        "jobs",
        "jobs_per_server",
        "lint",
        "history",
        "script_template",
        "connect_timeout",
        "statement_timeout",
        "tenants",
    )

    def __init__(
        self,
        directory: str,
        command: str,
        context: Mapping[str, Any],
        binds: Mapping[str, Mapping[str, Any]],
        skip_empty: bool,
        file_template: str,
        timezone: str | None,
        truncate_slug_length: int | None,
        post_write_hooks: tuple[Mapping[str, str], ...] = (),
        lock: bool = True,
        lock_timeout: float | None = 600,
        jobs: int = 1,
        lint: Mapping[str, str] | None = None,
        history: bool = True,
        script_template: str | None = None,
        connect_timeout: float | None = 30,
        statement_timeout: float | None = None,
        tenants: Mapping[str, Any] | None = None,
        jobs_per_server: int | None = None,
    ) -> None:
        self.directory: Final = directory
        self.command: Final = command
        self.context: Final = context
        self.binds: Final = binds
        self.skip_empty: Final = skip_empty
        self.file_template: Final = file_template
        self.timezone: Final = timezone
        self.truncate_slug_length: Final = truncate_slug_length
        self.post_write_hooks: Final = post_write_hooks
        self.lock: Final = lock
        self.lock_timeout: Final = lock_timeout
        self.jobs: Final = jobs
        #: Every lint rule's level: its default, or what ``SCHEMAVER_LINT`` sets.
        self.lint: Final[Mapping[str, str]] = {} if lint is None else lint
        self.history: Final = history
        #: The Mako template of new revision files; None for flask_schemaver's own.
        self.script_template: Final = script_template
        #: Seconds any connection of flask_schemaver's waits to connect, or for a silent
        #: link; None for the driver's default.
        self.connect_timeout: Final = connect_timeout
        #: Seconds one statement of a migration may take; None for no limit.
        self.statement_timeout: Final = statement_timeout
        #: Per tenanted bind, the function that lists its tenants (or its
        #: ``"module:function"`` name, imported on first use).
        self.tenants: Final[Mapping[str, Any]] = {} if tenants is None else tenants
        #: How many of the ``--jobs`` workers may work on one database server at
        #: once; None for as many as there are.
        self.jobs_per_server: Final = jobs_per_server

    def replace(self, **changes: Any) -> Settings:
        """A copy with some settings changed, e.g. ``replace(directory=...)``."""
        values = {name: getattr(self, name) for name in self.__slots__}
        values.update(changes)
        return type(self)(**values)

    def __repr__(self) -> str:
        values = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({values})"

    @classmethod
    def from_app(cls, app: Flask, options: Mapping[str, Any]) -> Settings:
        """Fill in defaults on ``app.config`` and read the settings back, checked."""
        for name, value in options.items():
            app.config.setdefault(option_key(name), value)
        for key, value in DEFAULTS.items():
            app.config.setdefault(key, value)
        config = app.config
        # Checked in this order, so that the first bad key is the one reported.
        return cls(
            directory=os.path.abspath(os.fspath(config["SCHEMAVER_DIRECTORY"])),
            context=_mapping(config, "SCHEMAVER_CONTEXT"),
            binds=_bind_options(_mapping(config, "SCHEMAVER_BINDS")),
            post_write_hooks=_hooks(config["SCHEMAVER_POST_WRITE_HOOKS"]),
            file_template=_file_template(config["SCHEMAVER_FILE_TEMPLATE"]),
            truncate_slug_length=_slug_length(config["SCHEMAVER_TRUNCATE_SLUG_LENGTH"]),
            lock_timeout=_seconds(
                config, "SCHEMAVER_LOCK_TIMEOUT", "to wait forever", zero=True
            ),
            connect_timeout=_seconds(
                config, "SCHEMAVER_CONNECT_TIMEOUT", "for the driver's default"
            ),
            statement_timeout=_seconds(
                config, "SCHEMAVER_STATEMENT_TIMEOUT", "for no limit"
            ),
            script_template=_script_template(config["SCHEMAVER_SCRIPT_TEMPLATE"]),
            jobs=_jobs(config["SCHEMAVER_JOBS"]),
            jobs_per_server=_jobs_per_server(config["SCHEMAVER_JOBS_PER_SERVER"]),
            lint=_lint_levels(config["SCHEMAVER_LINT"]),
            history=bool(config["SCHEMAVER_HISTORY"]),
            lock=bool(config["SCHEMAVER_LOCK"]),
            command=str(config["SCHEMAVER_COMMAND"]),
            skip_empty=bool(config["SCHEMAVER_SKIP_EMPTY"]),
            timezone=config["SCHEMAVER_TIMEZONE"],
            tenants=_tenants(_mapping(config, "SCHEMAVER_TENANTS")),
        )


def _bind_options(binds: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]]:
    for name, overrides in binds.items():
        if not isinstance(overrides, Mapping):
            raise ConfigError(
                f"SCHEMAVER_BINDS[{name!r}] must be a dict of options, "
                f"not {type(overrides).__name__}"
            )
        unknown = set(overrides) - BIND_OPTIONS
        if unknown:
            raise ConfigError(
                f"SCHEMAVER_BINDS[{name!r}] has unknown option(s) "
                f"{', '.join(sorted(unknown))}; allowed: {', '.join(sorted(BIND_OPTIONS))}"
            )
    return binds


def _tenants(tenants: Mapping[str, Any]) -> Mapping[str, Any]:
    for name, function in tenants.items():
        if callable(function):
            continue
        module, colon, attribute = str(function).partition(":")
        if not isinstance(function, str) or not colon or not module or not attribute:
            raise ConfigError(
                f"SCHEMAVER_TENANTS[{name!r}] must be a function that lists the "
                "bind's tenants, or its name as 'package.module:function', not "
                f"{function!r}"
            )
    return tenants


def _hooks(hooks: Any) -> tuple[Mapping[str, str], ...]:
    if not isinstance(hooks, (list, tuple)) or not all(
        isinstance(h, Mapping) and "name" in h and "type" in h for h in hooks
    ):
        raise ConfigError(
            "SCHEMAVER_POST_WRITE_HOOKS must be a list of dicts, each with at least "
            "'name' and 'type' keys, e.g. "
            "[{'name': 'ruff', 'type': 'exec', 'executable': 'ruff', "
            "'options': 'format REVISION_SCRIPT_FILENAME'}]"
        )
    return tuple(hooks)


def _file_template(value: Any) -> str:
    template = str(value)
    if not re.search(r"(?<!%)%\(rev\)s", template):
        raise ConfigError(
            f"SCHEMAVER_FILE_TEMPLATE {template!r} must contain %(rev)s (with "
            "one % sign), or revision files would overwrite each other"
        )
    if "/" in template or "\\" in template or template.startswith("."):
        raise ConfigError(
            f"SCHEMAVER_FILE_TEMPLATE {template!r} names a file outside the bind's "
            "folder, where its chain would never see it; use a file name only, "
            "e.g. '%(year)d%(month).2d%(day).2d_%(rev)s_%(slug)s'"
        )
    return template


def _slug_length(value: Any) -> int | None:
    if value is not None and (not isinstance(value, int) or value < 1):
        raise ConfigError("SCHEMAVER_TRUNCATE_SLUG_LENGTH must be a positive integer")
    return value


def _seconds(
    config: Mapping[str, Any], key: str, none_means: str, *, zero: bool = False
) -> float | None:
    value = config[key]
    if value is not None and (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
        or (value == 0 and not zero)
    ):
        more = "0 or more" if zero else "more than 0"
        raise ConfigError(
            f"{key} must be a number of seconds ({more}), or None {none_means}"
        )
    return value


def _script_template(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise ConfigError(
            "SCHEMAVER_SCRIPT_TEMPLATE must be the path of a Mako template "
            "such as 'migrations/script.py.mako', or None"
        )
    return os.path.abspath(os.fspath(value))


def _jobs(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError("SCHEMAVER_JOBS must be a whole number, 1 or more")
    return value


def _jobs_per_server(value: Any) -> int | None:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int) or value < 1
    ):
        raise ConfigError(
            "SCHEMAVER_JOBS_PER_SERVER must be a whole number, 1 or more, or None "
            "for no limit but --jobs"
        )
    return value


def _mapping(config: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = config[key]
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key} must be a dict, not {type(value).__name__}")
    return value


def _lint_levels(configured: object) -> Mapping[str, str]:
    """The rule levels ``SCHEMAVER_LINT`` sets, checked; the rule catalogue is only
    imported when there is something to check, to keep ``init_app`` cheap."""
    if isinstance(configured, Mapping) and not configured:
        return {}
    from .lint.catalog import resolve_levels

    return resolve_levels(configured)
