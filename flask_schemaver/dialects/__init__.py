"""One module per kind of database: its migration lock, its quirks, its throwaway
databases for tests.

A new kind of database is one module here, defining a :class:`~.base.Dialect`
subclass and an instance of it named ``dialect``, plus one line in :data:`MODULES`.
Kinds not listed get :class:`~.base.Dialect` itself: no lock, transactional DDL, no
throwaway databases.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .base import Dialect

if TYPE_CHECKING:
    from ..binds import Bind

#: SQLAlchemy's dialect (backend) name, and the module of this package that serves it.
MODULES = {
    "postgresql": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
    "sqlite": "sqlite",
    "oracle": "oracle",
}

_loaded: dict[str, Dialect] = {}


def named(name: str) -> Dialect:
    """What flask_schemaver knows about the dialect (backend) ``name``."""
    found = _loaded.get(name)
    if found is None:
        module = MODULES.get(name)
        if module is None:
            found = Dialect(name)
        else:
            found = importlib.import_module(f"{__name__}.{module}").dialect
        _loaded[name] = found
    return found


def of(bind: Bind) -> Dialect:
    """What flask_schemaver knows about the database kind of ``bind``."""
    return named(bind.engine.dialect.name)
