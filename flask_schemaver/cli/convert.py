"""Commands that convert another tool's project: split-multidb."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from . import command
from . import extension
from . import output
from .options import json_option
from .options import yes_option

if TYPE_CHECKING:
    from ..results import SplitBind
    from ..results import SplitResult
    from ..results import SplitStamp


def _engines(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, str | None]:
    """``NAME=BIND`` pairs as a dict; ``NAME=`` leaves the engine out."""
    engines: dict[str, str | None] = {}
    for value in values:
        name, sep, bind = value.partition("=")
        if not sep:
            raise click.BadParameter(
                f"{value!r} is not NAME=BIND (NAME= leaves the engine out)"
            )
        engines[name] = bind or None
    return engines


@command(name="split-multidb")
@click.option(
    "--write",
    is_flag=True,
    help="Rewrite the folders: one chain per bind; the multidb folder is kept as a "
    "backup beside the default bind's.",
)
@click.option(
    "--stamp",
    is_flag=True,
    help="Record each database's place in its bind's new chain, from Flask-Migrate's "
    "alembic_version, and remove that record. Run it on every deployment before the "
    "first upgrade.",
)
@click.option(
    "--verify",
    is_flag=True,
    help="Build the old layout and the new chains on throwaway databases and compare "
    "each bind's schema.",
)
@click.option(
    "--engine",
    "engines",
    multiple=True,
    metavar="NAME=BIND",
    callback=_engines,
    help="The bind of the revisions' upgrade_NAME() functions, where NAME is not the "
    "bind's name; NAME= leaves them out. Repeatable.",
)
@yes_option
@json_option
def split_multidb(
    write: bool,
    stamp: bool,
    verify: bool,
    engines: dict[str, str | None],
    yes: bool,
    as_json: bool,
) -> None:
    """Split a Flask-Migrate --multidb chain into one chain per bind (a dry run by default)."""
    found = extension().split_multidb(
        write=write,
        stamp=stamp,
        verify=verify,
        engines=engines,
        confirm=yes,
        on_wait=output.print_wait,
    )
    if as_json:
        output.print_json(found.to_dict())
        return
    print_split(found, dry_run=not (write or stamp or verify))


def print_split(found: SplitResult, *, dry_run: bool) -> None:
    """In a dry run, the plan per bind; else what was verified, written and stamped."""
    state = "converted; multidb revisions kept in" if found.converted else "in"
    output.echo(f"Flask-Migrate --multidb chain {state} {found.folder}")
    if dry_run:
        for line in found.decisions:
            output.echo(f"  {line}")
        for split in found.binds:
            print_bind(split)
        next_step = (
            "'flask db split-multidb --stamp' where the databases are"
            if found.converted
            else "'flask db split-multidb --write' to convert the folder"
        )
        output.echo(f"dry run: nothing changed; run {next_step}")
        return
    for split in found.binds:
        if split.tables is not None:
            output.echo(
                f"{output.bind(split.bind)}: same schema under both layouts "
                f"({split.tables} table{'s' if split.tables != 1 else ''})"
            )
    if found.written:
        for split in found.binds:
            output.echo(
                f"{output.bind(split.bind)}: wrote {len(split.revisions)} revision(s) "
                f"in {split.directory}"
            )
        output.echo(f"kept the multidb revisions in {found.backup}")
    for split in found.binds:
        if split.stamp is not None:
            output.echo(f"{output.bind(split.bind)}: {stamp_line(split.stamp)}")


def stamp_line(stamp: SplitStamp) -> str:
    """Where ``--stamp`` put a database, and what Flask-Migrate's record said."""
    old = output.ids(stamp.flask_migrate)
    if stamp.note == "kept":
        return (
            f"kept at {output.ids(stamp.after)} (its version table is Flask-Migrate's)"
        )
    if stamp.note == "already stamped":
        return f"already stamped, at {output.ids(stamp.after)}"
    removed = ", removed" if stamp.removed else ""
    return (
        f"{stamp.note}, at {output.ids(stamp.after)} (Flask-Migrate's "
        f"alembic_version: {old}{removed})"
    )


def print_bind(split: SplitBind) -> None:
    """One bind's new chain and the decisions behind it."""
    engine = "no engine" if split.engine is None else f"engine {split.engine!r}"
    count = len(split.revisions)
    output.echo(
        f"{output.bind(split.bind)}: {count} revision{'s' if count != 1 else ''} in "
        f"{split.directory} ({engine})"
    )
    for rev in split.revisions:
        parents = output.ids(rev.down_revisions)
        origin = f"  (from {rev.original})" if rev.id != rev.original else ""
        empty = "" if rev.works else "  [nothing for this bind]"
        output.echo(
            f"  {parents} -> {rev.id}  {output.oneline(rev.message)}{origin}{empty}"
        )
    for line in split.decisions:
        output.echo(f"  - {line}")
