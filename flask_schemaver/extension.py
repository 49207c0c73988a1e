"""The SchemaVer extension: set-up on an app, and the Python API over its binds."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any
from typing import TYPE_CHECKING
from typing import TypeVar

from flask import Flask

from .api.base import AppState
from .api.base import EXTENSION_KEY
from .api.checks import ChecksAPI
from .api.convert import ConvertAPI
from .api.files import FilesAPI
from .api.runs import RunsAPI
from .api.tenants import TenantsAPI
from .exceptions import ConfigError
from .settings import Settings

if TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy

#: A function that lists a bind's tenants.
Lister = TypeVar("Lister", bound=Callable[[], Any])


class SchemaVer(FilesAPI, RunsAPI, ChecksAPI, ConvertAPI, TenantsAPI):
    """Database migrations for a Flask app, one revision chain per Flask-SQLAlchemy bind.

    The methods work on the current app (inside its app context) and return data;
    the ``flask db`` commands call them and print what they return.

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
        #: The tenanted binds declared with :meth:`tenants`, and their functions.
        self.tenant_functions: dict[str, Callable[[], Any]] = {}
        if app is not None:
            self.init_app(app, db)

    def init_app(self, app: Flask, db: SQLAlchemy | None = None) -> None:
        """Register the extension and the ``flask db`` commands on ``app``.

        :param app: the app to set up.
        :param db: the ``SQLAlchemy`` extension; by default the one given to the
            constructor, else the one registered on the app.
        :raises ConfigError: when Flask-SQLAlchemy is not set up, SchemaVer already
            is, or a ``SCHEMAVER_*`` setting cannot be used.
        """
        if EXTENSION_KEY in app.extensions:
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
        app.extensions[EXTENSION_KEY] = AppState(
            self, db=db, settings=settings, notices=_flask_migrate_notices(settings)
        )

        from .cli import db as command_group

        app.cli.add_command(command_group, settings.command)

    def tenants(self, bind: str) -> Callable[[Lister], Lister]:
        """Declare ``bind`` tenanted: the function decorated lists its tenants.

        Called inside the app's context whenever a command needs the tenants, the
        function returns a list of names, each tenant living in the schema of that
        name in the bind's database (PostgreSQL; on MySQL and MariaDB, a database of
        the bind's server), or a mapping of name to database URL, each tenant having
        a database of its own. See :doc:`/tenants`.

        :param bind: the bind whose models and revision chain every tenant has.
        :return: a decorator that records the function and returns it unchanged.
        """

        def declare(function: Lister) -> Lister:
            self.tenant_functions[bind] = function
            return function

        return declare


def _flask_migrate_notices(settings: Settings) -> list[str]:
    # os.path, not pathlib, which is slower: this runs in every web worker.
    paths = [
        os.path.join(settings.directory, name) for name in ("env.py", "alembic.ini")
    ]
    leftovers = [path for path in paths if os.path.isfile(path)]
    if not leftovers:
        return []
    files = " and ".join(leftovers)
    return [f"notice: {files} not used by flask_schemaver; safe to delete"]
