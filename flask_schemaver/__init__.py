"""App-aware database schema migrations for Flask, one revision chain per database.

The package is layered; each layer imports only those below it::

    extension.py  cli/          SchemaVer and init_app; the flask db commands
    api/                        the Python API, one module per command family
    verbs/                      what each command does on one bind, returning data
    runtime/  lint/             the in-memory Alembic environment; the lint rules
    script/   dialects/         revision files read as text; one module per database
    binds.py  settings.py  options.py  results.py  exceptions.py

A new command is a function of the same family module in ``cli/``, ``api/`` and
``verbs/``, plus one line in :data:`flask_schemaver.cli.COMMANDS`; a new kind of
database is one module in ``dialects/`` plus one line in
:data:`flask_schemaver.dialects.MODULES`. See the architecture page of the docs.

The public names below are imported on first use, so that importing the package and
calling ``init_app`` in every web worker stays cheap (no Alembic).
"""

from __future__ import annotations

import importlib
from typing import Any
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .binds import Bind as Bind
    from .exceptions import ConfigError as ConfigError
    from .exceptions import DatabaseError as DatabaseError
    from .exceptions import Interrupted as Interrupted
    from .exceptions import LockTimeout as LockTimeout
    from .exceptions import MigrationError as MigrationError
    from .exceptions import MultidbRevisions as MultidbRevisions
    from .exceptions import MultipleHeads as MultipleHeads
    from .exceptions import ProtectedBind as ProtectedBind
    from .exceptions import RunFailed as RunFailed
    from .exceptions import SchemaVerError as SchemaVerError
    from .exceptions import UnknownBind as UnknownBind
    from .exceptions import UnknownRevision as UnknownRevision
    from .exceptions import UsageError as UsageError
    from .extension import SchemaVer as SchemaVer
    from .lint import Finding as Finding
    from .lint import Rule as Rule
    from .options import RunOptions as RunOptions
    from .options import Shard as Shard
    from .results import BackfillProgress as BackfillProgress
    from .results import BindPlan as BindPlan
    from .results import BindStatus as BindStatus
    from .results import CheckResult as CheckResult
    from .results import LockWait as LockWait
    from .results import PlannedOperation as PlannedOperation
    from .results import PlannedRevision as PlannedRevision
    from .results import Rename as Rename
    from .results import Revision as Revision
    from .results import RevisionResult as RevisionResult
    from .results import RevisionStatus as RevisionStatus
    from .results import RunResult as RunResult
    from .results import SplitBind as SplitBind
    from .results import SplitResult as SplitResult
    from .results import SplitRevision as SplitRevision
    from .results import SplitStamp as SplitStamp
    from .results import Step as Step
    from .results import TenantInfo as TenantInfo
    from .results import TenantResult as TenantResult

#: Each public name and the module it lives in.
_PUBLIC = {
    "SchemaVer": "extension",
    "Bind": "binds",
    "RunOptions": "options",
    "Shard": "options",
    # results
    "BackfillProgress": "results",
    "BindPlan": "results",
    "BindStatus": "results",
    "CheckResult": "results",
    "LockWait": "results",
    "PlannedOperation": "results",
    "PlannedRevision": "results",
    "Rename": "results",
    "Revision": "results",
    "RevisionResult": "results",
    "RevisionStatus": "results",
    "RunResult": "results",
    "Step": "results",
    "SplitResult": "results",
    "SplitBind": "results",
    "SplitRevision": "results",
    "SplitStamp": "results",
    "TenantInfo": "results",
    "TenantResult": "results",
    "Finding": "lint",
    "Rule": "lint",
    # errors
    "SchemaVerError": "exceptions",
    "ConfigError": "exceptions",
    "UsageError": "exceptions",
    "UnknownBind": "exceptions",
    "UnknownRevision": "exceptions",
    "ProtectedBind": "exceptions",
    "MigrationError": "exceptions",
    "MultipleHeads": "exceptions",
    "MultidbRevisions": "exceptions",
    "DatabaseError": "exceptions",
    "LockTimeout": "exceptions",
    "Interrupted": "exceptions",
    "RunFailed": "exceptions",
}

__all__ = [*_PUBLIC, "__version__"]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import version

        return version("flask-schemaver")
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
