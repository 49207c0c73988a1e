"""Commands for the tenants of tenanted binds: ``tenants create`` and ``tenants list``."""

from __future__ import annotations

from typing import Any
from typing import TYPE_CHECKING

import click

from . import command
from . import extension
from . import output
from .options import bind_option
from .options import complete_binds
from .options import json_option

if TYPE_CHECKING:
    from ..results import TenantInfo
    from ..results import TenantResult


@click.group()
def tenants() -> None:
    """Create and list the tenants of tenanted binds."""


@command()
@click.argument("name")
@click.option(
    "--bind",
    metavar="NAME",
    shell_complete=complete_binds,
    help="The tenanted bind; needed when the app has several.",
)
def create(name: str, bind: str | None) -> None:
    """Make a tenant's schema or database if missing, and upgrade it to the heads."""
    result = extension().create_tenant(bind, name, on_wait=output.print_wait)
    for step in result.run.steps:
        output.echo(output.step_line(step))
    output.echo(created_line(result))


def created_line(result: TenantResult) -> str:
    """``shop/acme: schema acme created, 2 revisions upgraded, now at r2``."""
    place = _place(result.kind, result.where)
    made = "created" if result.created else "already there"
    done = result.run
    count = len(result.revisions)
    if count:
        ran = click.style(
            f"{count} revision{'s' if count != 1 else ''} upgraded", fg="green"
        )
        ran += f", now at {output.ids(done.after)}"
    elif done.note == "no revisions":
        ran = "no revisions to run"
    else:
        ran = f"nothing to do, at {output.ids(done.after)}"
    return f"{output.bind(result.bind, result.tenant)}: {place} {made}, {ran}"


@command(name="list")
@bind_option
@json_option
def list_(bind: tuple[str, ...], as_json: bool) -> None:
    """List each tenanted bind's tenants, where each lives and its revisions."""
    found = extension().list_tenants(bind)
    if as_json:
        output.print_json([t.to_dict() for t in found])
        return
    fleets: dict[str, list[TenantInfo]] = {}
    for info in found:
        fleets.setdefault(info.bind, []).append(info)
    for name, infos in fleets.items():
        count = f"{len(infos)} tenant{'s' if len(infos) != 1 else ''}"
        output.echo(f"{output.bind(name)}: {count}")
        names = max((len(t.tenant) for t in infos), default=0)
        places = [_place(t.kind, t.where) for t in infos]
        width = max((len(p) for p in places), default=0)
        for info, place in zip(infos, places, strict=True):
            output.echo(f"  {info.tenant:<{names}}  {place:<{width}}  {_state(info)}")


def _place(kind: Any, where: str) -> str:
    """``schema acme``, ``database acme`` (MySQL), or ``database URL``."""
    return where if kind == "schema" else f"database {where}"


def _state(info: TenantInfo) -> str:
    """Where a tenant stands: up to date, behind, missing or unreadable."""
    if info.exists is False:
        hint = f"flask db tenants create {info.tenant} --bind {info.bind}"
        return click.style("missing", fg="red") + f" (create it: '{hint}')"
    if info.current is None:
        hint = f"flask db status --bind {info.bind} --tenant {info.tenant}"
        return click.style("unreadable", fg="red") + f" ('{hint}' says why)"
    at = f"at {output.ids(info.current)}"
    if info.up_to_date:
        return click.style("up to date", fg="green") + f", {at}"
    if info.up_to_date is False:
        return click.style("behind", fg="yellow") + f", {at}"
    return at


tenants.add_command(create)
tenants.add_command(list_)
