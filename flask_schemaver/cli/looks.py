"""Commands that read: show, history, heads, branches, current, status, binds."""

from __future__ import annotations

from typing import Any
from typing import TYPE_CHECKING

import click

from ..exceptions import SchemaVerError
from . import command
from . import extension
from . import output
from .options import bind_option
from .options import json_option
from .options import not_empty
from .options import tenant_option

if TYPE_CHECKING:
    from ..options import Shard
    from ..results import BindStatus
    from ..results import Revision


@command()
@bind_option
@tenant_option
@click.argument("revision", default="head", callback=not_empty)
def show(
    bind: tuple[str, ...],
    tenant: tuple[str, ...] | None,
    shard: Shard | None,
    revision: str,
) -> None:
    """Show the revisions a name stands for (id, head, label@head, current)."""
    for name, revs in extension().show(revision, bind, tenant, shard=shard).items():
        for rev in revs:
            output.echo(f"{output.bind(name)}:")
            output.echo(output.verbose(rev))


@command()
@bind_option
@tenant_option
@click.option("-r", "--rev-range", help="Range of revisions, START:END.")
@click.option("-v", "--verbose", is_flag=True, help="Show each revision in full.")
@click.option(
    "-i", "--indicate-current", is_flag=True, help="Mark the database's revision."
)
def history(
    bind: tuple[str, ...],
    tenant: tuple[str, ...] | None,
    shard: Shard | None,
    rev_range: str | None,
    verbose: bool,
    indicate_current: bool,
) -> None:
    """List the revisions of each bind, newest first."""
    schemaver = extension()
    current = schemaver.current(bind, tenant, shard=shard) if indicate_current else {}
    shown = schemaver.history(rev_range, bind, tenant, shard=shard)
    if indicate_current and (tenant is not None or shard is not None):
        # Each tenant selected has its own current revision: one list each.
        shown = {
            label: shown.get(label) or shown.get(label.rpartition("/")[0], [])
            for label in current
        }
    for name, revs in shown.items():
        output.echo(f"{output.bind(name)}:")
        at = current.get(name, ())
        for rev in revs:
            output.echo(
                output.verbose(rev, at)
                if verbose
                else "  " + output.revision_line(rev, at)
            )


@command()
@bind_option
@click.option("-v", "--verbose", is_flag=True, help="Show each revision in full.")
def heads(bind: tuple[str, ...], verbose: bool) -> None:
    """Show the head revisions of each bind."""
    print_lists(extension().heads(bind), verbose, "no revisions")


@command()
@bind_option
@click.option("-v", "--verbose", is_flag=True, help="Show each revision in full.")
def branches(bind: tuple[str, ...], verbose: bool) -> None:
    """Show the branch points of each bind, and the revisions they branch into."""
    schemaver = extension()
    points = schemaver.branches(bind)
    known = {
        name: {rev.id: rev for rev in revs}
        for name, revs in schemaver.history(
            bind=[n for n, p in points.items() if p]
        ).items()
    }
    for name, revs in points.items():
        if not revs:
            output.echo(f"{output.bind(name)}: no branch points")
        for rev in revs:
            line = output.verbose(rev) if verbose else output.revision_line(rev)
            output.echo(f"{output.bind(name)}: {line}")
            for child in rev.next_revisions:
                shown = output.revision_line(
                    known[name][child], parents=False, doc=verbose
                )
                output.echo(f"{output.bind(name)}: {' ' * len(rev.id)} -> {shown}")


def print_lists(items: dict[str, list[Revision]], verbose: bool, empty: str) -> None:
    """Each bind's revisions, one line each (or in full), or ``empty``."""
    for name, revs in items.items():
        if not revs:
            output.echo(f"{output.bind(name)}: {empty}")
        for rev in revs:
            line = output.verbose(rev) if verbose else output.revision_line(rev)
            output.echo(f"{output.bind(name)}: {line}")


@command()
@bind_option
@tenant_option
def current(
    bind: tuple[str, ...], tenant: tuple[str, ...] | None, shard: Shard | None
) -> None:
    """Show the revisions each bind's database is at (and depends on), with marks."""
    found = extension().current_revisions(bind, tenant, shard=shard)
    for name, (revs, missing) in found.items():
        shown = [output.revision_line(rev, parents=False, doc=False) for rev in revs]
        shown += [f"{rev_id} (no revision file)" for rev_id in missing]
        for line in shown or ["<base>"]:
            output.echo(f"{output.bind(name)}: {line}")


@command()
@bind_option
@tenant_option
@json_option
@click.pass_context
def status(
    ctx: click.Context,
    bind: tuple[str, ...],
    tenant: tuple[str, ...] | None,
    shard: Shard | None,
    as_json: bool,
) -> None:
    """Show every revision of each bind as applied [X] or pending [ ]."""
    from ..api.base import app_state
    from ..api.looks import statuses

    targets = extension().targets(bind, tenant, shard=shard)
    states: list[dict[str, Any]] = []
    fleets: dict[str, list[BindStatus | SchemaVerError]] = {}
    failed = False
    # Bind by bind: one database that can't be reached hides nothing of the others.
    for b, state in zip(targets, statuses(targets, app_state().settings), strict=True):
        if isinstance(state, SchemaVerError):
            failed = True
            error = {"bind": b.name, "url": b.safe_url, "error": str(state)}
            if b.tenant is not None:
                error["tenant"] = b.tenant
                fleets.setdefault(b.name, []).append(state)
            elif not as_json:
                output.echo(f"Error: {state}", err=True)
            states.append(error)
            continue
        if as_json:
            states.append(state.to_dict())
        if b.tenant is not None:
            fleets.setdefault(b.name, []).append(state)
        elif not as_json:
            print_status(state)
    if as_json:
        output.print_json(states)
    else:
        for name, found in fleets.items():
            if len(found) == 1 and isinstance(found[0], SchemaVerError):
                output.echo(f"Error: {found[0]}", err=True)
            elif len(found) == 1:
                print_status(found[0])  # type: ignore[arg-type]  # checked above
            else:
                print_fleet(name, found)
    if failed:
        ctx.exit(1)


def print_fleet(name: str, found: list[BindStatus | SchemaVerError]) -> None:
    """A tenanted bind's tenants: how many are at each place, those behind or in
    trouble by name, and each tenant that could not be read with its error."""
    states = [s for s in found if not isinstance(s, SchemaVerError)]
    output.echo(f"{output.bind(name)}: {len(found)} tenants")
    places: dict[tuple[tuple[str, ...], bool], list[str]] = {}
    stopped: dict[tuple[tuple[str, ...], tuple[str, ...]], list[str]] = {}
    for state in states:
        if state.unfinished:
            stopped.setdefault((state.current, state.unfinished), []).append(
                state.tenant or ""
            )
            continue
        key = (state.current, state.up_to_date)
        places.setdefault(key, []).append(state.tenant or "")
    for (current, up_to_date), names in sorted(
        places.items(), key=lambda item: (not item[0][1], -len(item[1]))
    ):
        mark = click.style("[X]", fg="green") if up_to_date else "[ ]"
        where = f"at {output.ids(current)}"
        if up_to_date:
            output.echo(f"  {mark} {len(names)} up to date, {where}")
            continue
        output.echo(
            f"  {mark} {len(names)} {where}, not up to date: {output.names(names)}"
        )
    for (current, unfinished), names in stopped.items():
        print_stopped(name, current, unfinished, names)
    for error in found:
        if isinstance(error, SchemaVerError):
            output.echo(f"Error: {error}", err=True)


def print_stopped(
    name: str, current: tuple[str, ...], unfinished: tuple[str, ...], names: list[str]
) -> None:
    """Tenants whose run of a revision failed or stopped part way, on a database
    whose DDL commits as it runs: they need ``resolve``."""
    who = names[0] if len(names) == 1 else "NAME"
    output.echo(
        click.style("  [!]", fg="red")
        + f" {len(names)} at {output.ids(current)}, their run of "
        f"{', '.join(unfinished)} stopped part way: {output.names(names)}; check "
        f"the schema, then 'flask db resolve --bind {name} --tenant {who} "
        f"{unfinished[0]} --applied' (all of it is there) or '--rolled-back' "
        "(none is)"
    )


def print_status(state: BindStatus) -> None:
    """One bind's revisions, marked applied or pending, and what needs attention."""
    output.echo(f"{output.bind(state.bind, state.tenant)} ({state.url})")
    output.echo(f"  current: {output.ids(state.current)}")
    if not state.revisions:
        output.echo("  no revisions")
    for item in state.revisions:
        mark = click.style("[X]", fg="green") if item.applied else "[ ]"
        head = " (head)" if item.revision.is_head else ""
        when = f"  applied {item.applied_at[:19]}" if item.applied_at else ""
        edited = click.style("  edited since applied", fg="red") if item.edited else ""
        output.echo(
            f"  {mark} {item.revision.id}{head}  {output.oneline(item.revision.message)}"
            f"{when}{edited}"
        )
    folder = str(extension().binds[state.bind].directory)
    for rev in state.missing:
        output.echo(
            click.style(f"  [?] {rev}", fg="red")
            + "  applied, but its file is missing: "
            + output.missing_files(output.selector(state.bind, state.tenant), folder)
        )
    for rev in state.unfinished:
        output.echo(
            click.style(f"  [!] {rev}", fg="red")
            + "  its run stopped part way: check the schema, then 'flask db resolve "
            f"--bind {output.selector(state.bind, state.tenant)} {rev} --applied' "
            "(all of it is there) or "
            "'--rolled-back' (none is)"
        )
    if state.flask_migrate:
        output.echo(
            click.style("  Flask-Migrate: ", fg="yellow")
            + f"its alembic_version in this database is at "
            f"{output.ids(state.flask_migrate)}, from a --multidb chain; record "
            "where that is in this bind's chain with 'flask db split-multidb --stamp'"
        )
    if len(state.heads) > 1:
        output.echo(
            click.style("  several heads: ", fg="yellow")
            + f"{', '.join(state.heads)}; join them with "
            f"'flask db merge --bind {state.bind}'"
        )


@command()
@json_option
def binds(as_json: bool) -> None:
    """List the binds with their database, folder and version table."""
    rows: list[dict[str, Any]] = [
        {
            "bind": b.name,
            "url": b.safe_url,
            "directory": str(b.directory),
            "version_table": b.version_table,
            "version_table_schema": b.version_table_schema,
        }
        for b in extension().binds.values()
    ]
    if as_json:
        output.print_json(rows)
        return
    for row in rows:
        output.echo(
            f"{output.bind(row['bind'])}: {row['url']}  {row['directory']}  "
            f"{row['version_table']}"
        )
