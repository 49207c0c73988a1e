"""The ``flask db`` commands: parse, call the Python API, present the result.

This is the one place where flask_schemaver's errors become ``Error: ...`` lines and exit
codes: usage errors exit 2, operational failures exit 1. The commands live by concern in
:mod:`.files` (revision files), :mod:`.runs` (changing databases) and :mod:`.looks`
(reading them).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from typing import Any
from typing import TYPE_CHECKING

import click
from flask.cli import AppGroup

from ..exceptions import SchemaVerError

if TYPE_CHECKING:
    from ..extension import SchemaVer


class SchemaVerGroup(AppGroup):
    """Command group that reports flask_schemaver's errors as one clean line.

    Its commands are made the first time one is looked up, so that setting up the
    extension in every web worker costs next to nothing.
    """

    def __init__(
        self, *args: Any, add_commands: Callable[[click.Group], None], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._add_commands: Callable[[click.Group], None] | None = add_commands

    def _populate(self) -> None:
        if self._add_commands is not None:
            add, self._add_commands = self._add_commands, None
            add(self)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self._populate()
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._populate()
        return super().list_commands(ctx)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SchemaVerError as exc:
            if ctx.params.get("traceback"):
                raise
            if exc.exit_code == 2:
                raise click.UsageError(str(exc)) from None
            raise click.ClickException(str(exc)) from None


def make_group(schemaver: SchemaVer, notices: Sequence[str]) -> click.Group:
    """Build the command group for one app; its commands come on first use."""

    @click.group(
        cls=SchemaVerGroup,
        add_commands=lambda group: add_commands(group, schemaver),
    )
    @click.option(
        "--traceback",
        is_flag=True,
        help="Show the full traceback of an error, for debugging.",
    )
    def db(traceback: bool) -> None:
        """Database migrations: one revision chain per database (bind)."""
        for notice in notices:
            from .. import output

            output.echo(notice, err=True)

    return db


def add_commands(db: click.Group, schemaver: SchemaVer) -> None:
    """Add the commands to the group ``db``."""
    from . import files
    from . import looks
    from . import runs

    files.add(db, schemaver)
    runs.add(db, schemaver)
    looks.add(db, schemaver)
