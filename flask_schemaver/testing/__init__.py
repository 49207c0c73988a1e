"""Testing migrations: throwaway databases, a runner that migrates them and moves rows
across revisions, the built-in checks, and the pytest plugin.

:mod:`.databases` makes the throwaway databases, :mod:`.templates` the databases
built at head once and copied for each test, :mod:`.runner` holds
:class:`MigrationRunner`, :mod:`.checks` the built-in checks (with the schema
snapshots of :mod:`.snapshots`), :mod:`.multidb` the
comparison of a converted ``--multidb`` project with its old layout, and
:mod:`.plugin` the pytest plugin, which pytest loads in every run of a project that
has flask_schemaver installed: it imports nothing heavy, and neither does this
package.
"""

from __future__ import annotations

import importlib
from typing import Any
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .databases import ThrowawayDatabases as ThrowawayDatabases
    from .runner import MigrationRunner as MigrationRunner
    from .templates import TemplateDatabases as TemplateDatabases

_PUBLIC = {
    "MigrationRunner": "runner",
    "ThrowawayDatabases": "databases",
    "TemplateDatabases": "templates",
}

__all__ = list(_PUBLIC)


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
