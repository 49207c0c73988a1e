"""Commands that judge: check, lint, acknowledge."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ..results import GATES
from . import command
from . import extension
from . import output
from .options import bind_option
from .options import json_option
from .options import not_empty
from .options import tenant_option

if TYPE_CHECKING:
    from ..options import Shard
    from ..results import CheckResult


@command()
@bind_option
@tenant_option
@json_option
@click.option(
    "--only",
    multiple=True,
    type=click.Choice(GATES),
    help="Run only this gate; repeatable. Default: all of them.",
)
@click.pass_context
def check(
    ctx: click.Context,
    bind: tuple[str, ...],
    tenant: tuple[str, ...] | None,
    shard: Shard | None,
    as_json: bool,
    only: tuple[str, ...],
) -> None:
    """Fail when a bind has several heads, unapplied or edited revisions, or unmigrated models."""
    results = extension().check(bind, tenant, only=only, shard=shard)
    if as_json:
        output.print_json([r.to_dict() for r in results])
    else:
        for result in results:
            print_check(result)
    if not all(r.ok for r in results):
        ctx.exit(1)


def print_check(result: CheckResult) -> None:
    """``ok``, or one line per failed gate saying what to do."""
    name = output.bind(result.bind, result.tenant)
    named = output.selector(result.bind, result.tenant)
    if result.ok:
        output.echo(f"{name}: {click.style('ok', fg='green')}")
        return
    failures = result.failures
    if "heads" in failures:
        output.echo(
            f"{name}: several heads {', '.join(result.heads)}; run 'flask db merge'"
        )
    if "missing" in failures:
        folder = str(extension().binds[result.bind].directory)
        output.echo(
            f"{name}: applied revisions without a file: {', '.join(result.missing)}; "
            + output.missing_files(named, folder)
        )
    if "pending" in failures and result.flask_migrate:
        output.echo(
            f"{name}: {len(result.pending)} revision(s) not recorded as applied, "
            "while Flask-Migrate's alembic_version in the database is at "
            f"{', '.join(result.flask_migrate)}; run 'flask db split-multidb --stamp' "
            "first"
        )
    elif "pending" in failures:
        output.echo(
            f"{name}: {len(result.pending)} unapplied revision(s): "
            f"{', '.join(result.pending)}; run 'flask db upgrade'"
        )
    if "edited" in failures:
        output.echo(
            f"{name}: revision(s) edited after they were applied: "
            f"{', '.join(result.edited)}; review the change, then run "
            f"'flask db acknowledge --bind {named} REVISION'"
        )
    if "unfinished" in failures:
        output.echo(
            f"{name}: revision(s) whose run stopped part way: "
            f"{', '.join(result.unfinished)}; check the schema, then run 'flask db "
            f"resolve --bind {named} REVISION --applied' or '--rolled-back'"
        )
    if "drift" in failures and not result.compared:
        output.echo(
            f"{name}: models not compared: the database is not at its heads; "
            "run 'flask db upgrade' first"
        )
    elif "drift" in failures:
        output.echo(f"{name}: models differ from the database; run 'flask db migrate':")
        for line in result.drift:
            output.echo(f"    {line}")


@command()
@bind_option
@click.option(
    "--since",
    multiple=True,
    metavar="REV",
    callback=not_empty,
    help="Lint only the revisions after REV in its bind's chain; repeatable, "
    "one per bind.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Print findings as text lines or as JSON for tools.",
)
@click.pass_context
def lint(
    ctx: click.Context,
    bind: tuple[str, ...],
    since: tuple[str, ...],
    output_format: str,
) -> None:
    """Find operations in revisions that lock tables or break running code."""
    findings = extension().lint(bind, since=since or None)
    if output_format == "json":
        output.print_json([f.to_dict() for f in findings])
    else:
        output.print_findings(findings)
    if any(f.level == "error" for f in findings):
        ctx.exit(1)


@command()
@bind_option
@tenant_option
@click.argument("revision", callback=not_empty)
def acknowledge(
    bind: tuple[str, ...],
    tenant: tuple[str, ...] | None,
    shard: Shard | None,
    revision: str,
) -> None:
    """Accept an applied revision's edited file: record its new checksum."""
    acknowledged = extension().acknowledge(revision, bind, tenant, shard=shard)
    for name, rev in acknowledged.items():
        output.echo(f"{output.bind(name)}: acknowledged the current file of {rev}")
