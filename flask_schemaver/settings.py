"""The ``SCHEMAVER_*`` configuration keys, their defaults, and their validation."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

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
    "SCHEMAVER_TIMEZONE": None,
    "SCHEMAVER_TRUNCATE_SLUG_LENGTH": 40,
    "SCHEMAVER_POST_WRITE_HOOKS": [],
    "SCHEMAVER_LOCK": True,
    "SCHEMAVER_LOCK_TIMEOUT": 600,
    "SCHEMAVER_JOBS": 1,
    "SCHEMAVER_LINT": {},
    "SCHEMAVER_HISTORY": True,
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


@dataclass(frozen=True)
class Settings:
    """The validated ``SCHEMAVER_*`` settings of one app, read once in ``init_app``."""

    directory: str
    command: str
    context: Mapping[str, Any]
    binds: Mapping[str, Mapping[str, Any]]
    skip_empty: bool
    file_template: str
    timezone: str | None
    truncate_slug_length: int | None
    post_write_hooks: tuple[Mapping[str, str], ...] = field(default=())
    lock: bool = True
    lock_timeout: float | None = 600
    jobs: int = 1
    #: Every lint rule's level: its default, or what ``SCHEMAVER_LINT`` sets.
    lint: Mapping[str, str] = field(default_factory=dict)
    history: bool = True

    @classmethod
    def from_app(cls, app: Flask, options: Mapping[str, Any]) -> Settings:
        """Fill in defaults on ``app.config`` and read the settings back."""
        for name, value in options.items():
            app.config.setdefault(option_key(name), value)
        for key, value in DEFAULTS.items():
            app.config.setdefault(key, value)
        config = app.config

        directory = os.fspath(config["SCHEMAVER_DIRECTORY"])
        context = _mapping(config, "SCHEMAVER_CONTEXT")
        binds = _mapping(config, "SCHEMAVER_BINDS")
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
        hooks = config["SCHEMAVER_POST_WRITE_HOOKS"]
        if not isinstance(hooks, (list, tuple)) or not all(
            isinstance(h, Mapping) and "name" in h and "type" in h for h in hooks
        ):
            raise ConfigError(
                "SCHEMAVER_POST_WRITE_HOOKS must be a list of dicts, each with at least "
                "'name' and 'type' keys, e.g. "
                "[{'name': 'ruff', 'type': 'exec', 'executable': 'ruff', "
                "'options': 'format REVISION_SCRIPT_FILENAME'}]"
            )
        file_template = str(config["SCHEMAVER_FILE_TEMPLATE"])
        if not re.search(r"(?<!%)%\(rev\)s", file_template):
            raise ConfigError(
                f"SCHEMAVER_FILE_TEMPLATE {file_template!r} must contain %(rev)s (with "
                "one % sign), or revision files would overwrite each other"
            )
        slug = config["SCHEMAVER_TRUNCATE_SLUG_LENGTH"]
        if slug is not None and (not isinstance(slug, int) or slug < 1):
            raise ConfigError(
                "SCHEMAVER_TRUNCATE_SLUG_LENGTH must be a positive integer"
            )
        timeout = config["SCHEMAVER_LOCK_TIMEOUT"]
        if timeout is not None and (
            isinstance(timeout, bool)
            or not isinstance(timeout, (int, float))
            or timeout < 0
        ):
            raise ConfigError(
                "SCHEMAVER_LOCK_TIMEOUT must be a number of seconds, or None to wait forever"
            )
        jobs = config["SCHEMAVER_JOBS"]
        if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
            raise ConfigError("SCHEMAVER_JOBS must be a whole number, 1 or more")
        return cls(
            lint=_lint_levels(config["SCHEMAVER_LINT"]),
            history=bool(config["SCHEMAVER_HISTORY"]),
            jobs=jobs,
            lock=bool(config["SCHEMAVER_LOCK"]),
            lock_timeout=timeout,
            directory=os.path.abspath(directory),
            command=str(config["SCHEMAVER_COMMAND"]),
            context=context,
            binds=binds,
            skip_empty=bool(config["SCHEMAVER_SKIP_EMPTY"]),
            file_template=file_template,
            timezone=config["SCHEMAVER_TIMEZONE"],
            truncate_slug_length=slug,
            post_write_hooks=tuple(hooks),
        )


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
