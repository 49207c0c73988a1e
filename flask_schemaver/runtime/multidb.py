"""Running a Flask-Migrate ``--multidb`` chain the way Flask-Migrate does, for one
database: ``split-multidb --verify`` builds the old layout with it, to compare each
bind's schema with what its new chain builds.

Flask-Migrate's multidb ``env.py`` configures Alembic once per database, on that
database's connection and its own ``alembic_version`` table, and calls
``run_migrations(engine_name=NAME)``, so each revision's ``upgrade(engine_name)``
runs that database's part. Two cases Flask-Migrate itself would fail on are read the
way the converter reads them: a plain ``upgrade()`` (written before the project went
multidb) is the default database's, and a revision without ``upgrade_<engine>()``
does nothing for that engine.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any
from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext

from ..binds import FLASK_MIGRATE_TABLE
from . import environment
from .errors import translate_errors

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory

    from ..binds import Bind
    from ..settings import Settings


def upgrade_engine(
    bind: Bind,
    settings: Settings,
    folder: Path,
    engine: str | None,
    connection: sa.Connection,
    *,
    default: bool,
    target: str = "heads",
) -> None:
    """Upgrade ``connection``'s database to ``target`` through the multidb chain in
    ``folder``, as Flask-Migrate would for the engine ``engine`` (None: an engine no
    revision has functions for). ``default``: the database is the default one, which
    the plain revisions belong to. Commits."""
    shared = dataclasses.replace(bind, directory=folder)
    config = environment.make_config(shared, settings)
    with translate_errors(shared):
        scripts = environment.script_directory(config)
        _adapt(scripts, default)

        def migrations(heads: Any, context: MigrationContext) -> Any:
            return scripts._upgrade_revs(target, heads)

        with EnvironmentContext(
            config, scripts, fn=migrations, destination_rev=target
        ) as context:
            context.configure(
                connection=connection,
                version_table=FLASK_MIGRATE_TABLE,
                target_metadata=None,
            )
            with context.begin_transaction():
                context.run_migrations(engine_name=engine)
        connection.commit()


def _adapt(scripts: ScriptDirectory, default: bool) -> None:
    """Let the two cases Flask-Migrate would fail on run as the converter reads them."""
    for script in scripts.walk_revisions():
        module = script.module
        for direction in ("upgrade", "downgrade"):
            function = getattr(module, direction)
            if not inspect.signature(function).parameters:
                setattr(module, direction, _plain(function, default))
            else:
                setattr(module, direction, _dispatched(module, direction, function))


def _plain(function: Callable[[], None], default: bool) -> Callable[..., None]:
    def run(engine_name: str | None) -> None:
        if default:
            function()

    return run


def _dispatched(
    module: Any, direction: str, function: Callable[..., None]
) -> Callable[..., None]:
    def run(engine_name: str | None) -> None:
        if engine_name is None or not hasattr(module, f"{direction}_{engine_name}"):
            return  # the revision has no part for this database
        function(engine_name=engine_name)

    return run
