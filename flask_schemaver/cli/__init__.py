"""The ``flask db`` command group: parse, call the Python API, present the result.

The commands live at module level, by family: :mod:`.files` (revision files),
:mod:`.runs` (changing databases), :mod:`.looks` (reading them), :mod:`.checks`
(judging them), :mod:`.convert` (a Flask-Migrate ``--multidb`` project split into one
chain per bind) and :mod:`.tenants` (the tenants of tenanted binds: a group of its
own). Each reaches the app's :class:`~flask_schemaver.SchemaVer` through
``app.extensions``. The group imports a family's module only when one of its commands
is used, so that setting up the extension in every web worker costs next to nothing.

:class:`SchemaVerGroup` is the one place where flask_schemaver's errors become
``Error: ...`` lines and exit codes: usage errors exit 2, operational failures exit 1.
"""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from typing import TYPE_CHECKING
from typing import TypeVar

import click
from flask.cli import with_appcontext

from ..exceptions import SchemaVerError

if TYPE_CHECKING:
    from ..extension import SchemaVer

F = TypeVar("F", bound=Callable[..., Any])

#: Each command, and the module of this package that defines it (as a function of the
#: same name, with ``_`` for ``-``).
COMMANDS = {
    "init": "files",
    "revision": "files",
    "migrate": "files",
    "edit": "files",
    "merge": "files",
    "upgrade": "runs",
    "downgrade": "runs",
    "stamp": "runs",
    "resolve": "runs",
    "show": "looks",
    "history": "looks",
    "heads": "looks",
    "branches": "looks",
    "current": "looks",
    "status": "looks",
    "binds": "looks",
    "check": "checks",
    "lint": "checks",
    "acknowledge": "checks",
    "split-multidb": "convert",
    "tenants": "tenants",
}


class SchemaVerGroup(click.Group):
    """Command group that loads its commands on use and reports flask_schemaver's
    errors as one clean line."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMANDS.get(cmd_name)
        if module is None:
            return super().get_command(ctx, cmd_name)
        found = importlib.import_module(f"{__name__}.{module}")
        command: click.Command = getattr(found, cmd_name.replace("-", "_"))
        return command

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *super().list_commands(ctx)})

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SchemaVerError as exc:
            if ctx.params.get("traceback"):
                raise
            if exc.exit_code == 2:
                raise click.UsageError(str(exc)) from None
            raise click.ClickException(str(exc)) from None


def command(**attrs: Any) -> Callable[[F], click.Command]:
    """A ``flask db`` command, run inside the app's context, with ``-d/--directory``
    (the migrations folder for this run, as Flask-Migrate's commands take it)."""

    def decorator(func: F) -> click.Command:
        @functools.wraps(func)
        def run(*args: Any, directory: str | None, **kwargs: Any) -> Any:
            if directory is None:
                return func(*args, **kwargs)
            with migrations_folder(directory):
                return func(*args, **kwargs)

        made: click.Command = click.command(**attrs)(with_appcontext(run))
        made.params.append(
            click.Option(
                ["-d", "--directory"],
                metavar="PATH",
                type=click.Path(file_okay=False),
                help="Migrations folder for this run, instead of SCHEMAVER_DIRECTORY.",
            )
        )
        return made

    return decorator


@contextmanager
def migrations_folder(directory: str) -> Iterator[None]:
    """Use ``directory`` as the app's migrations folder for the ``with`` block."""
    from ..api.base import app_state

    state = app_state()
    settings, binds = state.settings, state.binds
    state.settings = settings.replace(directory=os.path.abspath(directory))
    state.binds = None  # made again, with the folders under the new directory
    try:
        yield
    finally:
        state.settings, state.binds = settings, binds


def extension() -> SchemaVer:
    """The :class:`~flask_schemaver.SchemaVer` set up on the current app."""
    from ..api.base import app_state

    return app_state().extension


def show_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """Print flask_schemaver's version and those of the tools it builds on."""
    if not value or ctx.resilient_parsing:
        return
    from importlib.metadata import version

    names = ("Alembic", "SQLAlchemy", "Flask", "Flask-SQLAlchemy")
    others = ", ".join(f"{name} {version(name)}" for name in names)
    from . import output

    output.echo(f"flask_schemaver {version('flask-schemaver')} ({others})")
    ctx.exit()


@click.group(cls=SchemaVerGroup)
@click.option(
    "--traceback",
    is_flag=True,
    help="Show the full traceback of an error, for debugging.",
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=show_version,
    help="Show the versions of flask_schemaver, Alembic, SQLAlchemy and Flask.",
)
@with_appcontext
def db(traceback: bool) -> None:
    """Database migrations: one revision chain per database (bind)."""
    from ..api.base import app_state
    from ..binds import unconfigured_models
    from . import output

    state = app_state()
    for notice in state.notices:
        output.echo(notice, err=True)
    try:
        unconfigured = unconfigured_models(state.db)
    except RuntimeError:  # Flask-SQLAlchemy not set up: the command itself says so
        unconfigured = {}
    for key, names in unconfigured.items():
        output.echo(
            f"warning: models use the bind key {key!r} (tables {', '.join(names)}), "
            "which SQLALCHEMY_BINDS does not configure: migrate and check refuse to "
            "run until it does, or the models' __bind_key__ is corrected",
            err=True,
        )
