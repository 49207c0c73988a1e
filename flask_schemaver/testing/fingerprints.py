"""Fingerprints of template databases: a hash of everything a template is built
from (the revision files, the models, the binds' settings, the server, and the
versions of flask_schemaver, Alembic and SQLAlchemy), equal exactly when a template
built now would be the same."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from ..binds import Bind
    from ..settings import Settings


def fingerprint(binds: Sequence[Bind], settings: Settings, server: str) -> str:
    """What a template of the database of ``binds`` is built from, hashed: equal
    exactly when a template built now would be the same."""
    digest = hashlib.sha256()

    def add(*parts: object) -> None:
        for part in parts:
            digest.update(str(part).encode())
            digest.update(b"\x00")

    add(*_versions(), server)
    for bind in binds:
        add(bind.name, bind.version_table, bind.version_table_schema, bind.history)
        add(*(f"{k}={_stable(v)}" for k, v in sorted(bind.context_options.items())))
        add(*_folder(bind.directory))
        add(*_models(bind))
    return digest.hexdigest()


@functools.cache
def _versions() -> tuple[str, ...]:
    from importlib.metadata import version

    return tuple(version(p) for p in ("flask-schemaver", "alembic", "sqlalchemy"))


def _stable(value: Any) -> str:
    """``repr`` without memory addresses: a function by its name."""
    if callable(value):
        return (
            f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', '')}"
        )
    return repr(value)


def _folder(directory: Path) -> list[str]:
    """Every Python file of a revision folder, with a hash of its content."""
    found = []
    with contextlib.suppress(FileNotFoundError):
        for entry in sorted(os.scandir(directory), key=lambda e: e.name):
            if not entry.name.endswith(".py"):
                continue
            try:
                with open(entry.path, "rb") as handle:
                    content = hashlib.sha256(handle.read()).hexdigest()
            except OSError as exc:
                content = f"unreadable {exc.errno}"
            found.append(f"{entry.name}:{content}")
    return found


def _models(bind: Bind) -> list[str]:
    """The bind's tables as the DDL that would create them on its database."""
    dialect = bind.engine.dialect
    found = []
    for table in sorted(bind.metadata.tables.values(), key=lambda t: t.fullname):
        found += _table_ddl(table, dialect)
    return found


#: Per table: its shape and dialect when last compiled, and the DDL compiled then.
_compiled: weakref.WeakKeyDictionary[sa.Table, tuple[tuple[Any, ...], list[str]]] = (
    weakref.WeakKeyDictionary()
)


def _table_ddl(table: sa.Table, dialect: sa.Dialect) -> list[str]:
    """``CREATE TABLE`` and ``CREATE INDEX`` of ``table``, compiled again only when
    a column, index or constraint was added or removed since (a fixture asks for
    it at every test, the models mostly stay as they are)."""
    from sqlalchemy.schema import CreateIndex
    from sqlalchemy.schema import CreateTable

    shape = (
        dialect.name,
        tuple(table.c.keys()),
        tuple(sorted(str(i.name) for i in table.indexes)),
        len(table.constraints),
        table.comment,
    )
    cached = _compiled.get(table)
    if cached is not None and cached[0] == shape:
        return cached[1]
    try:
        ddl = [str(CreateTable(table).compile(dialect=dialect))]
        ddl += [
            str(CreateIndex(i).compile(dialect=dialect))
            for i in sorted(table.indexes, key=lambda i: str(i.name))
        ]
    except sa.exc.SQLAlchemyError:
        ddl = [repr(table)]
    _compiled[table] = (shape, ddl)
    return ddl
