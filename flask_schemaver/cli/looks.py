"""Commands that read: show, history, heads, branches, current, status, check, lint, acknowledge, binds."""

from __future__ import annotations

import json
from typing import Any
from typing import TYPE_CHECKING

import click

from .. import output
from ..results import GATES
from .options import bind_option
from .options import json_option

if TYPE_CHECKING:
    from ..extension import SchemaVer
    from ..results import Revision


def add(db: click.Group, schemaver: SchemaVer) -> None:
    """Add these commands to ``db``."""

    @db.command()
    @bind_option
    @click.argument("revision", default="head")
    def show(binds: tuple[str, ...], revision: str) -> None:
        """Show the revisions a name stands for (id, head, label@head, current)."""
        for name, revs in schemaver.show(revision, binds).items():
            for rev in revs:
                output.echo(f"{output.bind(name)}:")
                output.echo(output.verbose(rev))

    @db.command()
    @bind_option
    @click.option("-r", "--rev-range", help="Range of revisions, START:END.")
    @click.option("-v", "--verbose", is_flag=True, help="Show each revision in full.")
    @click.option(
        "-i", "--indicate-current", is_flag=True, help="Mark the database's revision."
    )
    def history(
        binds: tuple[str, ...],
        rev_range: str | None,
        verbose: bool,
        indicate_current: bool,
    ) -> None:
        """List the revisions of each bind, newest first."""
        current = schemaver.current(binds) if indicate_current else {}
        for name, revs in schemaver.history(rev_range, binds).items():
            output.echo(f"{output.bind(name)}:")
            for rev in revs:
                at = current.get(name, ())
                output.echo(
                    output.verbose(rev, at)
                    if verbose
                    else "  " + output.revision_line(rev, at)
                )

    def _list(items: dict[str, list[Revision]], verbose: bool, empty: str) -> None:
        for name, revs in items.items():
            if not revs:
                output.echo(f"{output.bind(name)}: {empty}")
            for rev in revs:
                line = output.verbose(rev) if verbose else output.revision_line(rev)
                output.echo(f"{output.bind(name)}: {line}")

    @db.command()
    @bind_option
    @click.option("-v", "--verbose", is_flag=True, help="Show each revision in full.")
    def heads(binds: tuple[str, ...], verbose: bool) -> None:
        """Show the head revisions of each bind."""
        _list(schemaver.heads(binds), verbose, "no revisions")

    @db.command()
    @bind_option
    @click.option("-v", "--verbose", is_flag=True, help="Show each revision in full.")
    def branches(binds: tuple[str, ...], verbose: bool) -> None:
        """Show the branch points of each bind."""
        _list(schemaver.branches(binds), verbose, "no branch points")

    @db.command()
    @bind_option
    def current(binds: tuple[str, ...]) -> None:
        """Show the revision each bind's database is at."""
        for name, revs in schemaver.current(binds).items():
            output.echo(f"{output.bind(name)}: {output.ids(revs)}")

    @db.command()
    @bind_option
    @json_option
    def status(binds: tuple[str, ...], as_json: bool) -> None:
        """Show every revision of each bind as applied [X] or pending [ ]."""
        states = schemaver.status(binds)
        if as_json:
            click.echo(json.dumps([s.to_dict() for s in states], indent=2))
            return
        for state in states:
            output.echo(f"{output.bind(state.bind)} ({state.url})")
            output.echo(f"  current: {output.ids(state.current)}")
            if not state.revisions:
                output.echo("  no revisions")
            for item in state.revisions:
                mark = click.style("[X]", fg="green") if item.applied else "[ ]"
                head = " (head)" if item.revision.is_head else ""
                when = f"  applied {item.applied_at[:19]}" if item.applied_at else ""
                edited = (
                    click.style("  edited since applied", fg="red")
                    if item.edited
                    else ""
                )
                output.echo(
                    f"  {mark} {item.revision.id}{head}  {item.revision.message}"
                    f"{when}{edited}"
                )
            for rev in state.missing:
                output.echo(
                    click.style(f"  [?] {rev}", fg="red")
                    + "  applied, but its file is missing: restore the file, or run "
                    f"'flask db stamp --bind {state.bind} --purge REVISION'"
                )
            if len(state.heads) > 1:
                output.echo(
                    click.style("  several heads: ", fg="yellow")
                    + f"{', '.join(state.heads)}; join them with "
                    f"'flask db merge --bind {state.bind}'"
                )

    @db.command()
    @bind_option
    @json_option
    @click.option(
        "--only",
        multiple=True,
        type=click.Choice(GATES),
        help="Run only this gate; repeatable. Default: all of them.",
    )
    @click.pass_context
    def check(
        ctx: click.Context, binds: tuple[str, ...], as_json: bool, only: tuple[str, ...]
    ) -> None:
        """Fail when a bind has several heads, unapplied or edited revisions, or unmigrated models."""
        results = schemaver.check(binds, only=only)
        if as_json:
            click.echo(json.dumps([r.to_dict() for r in results], indent=2))
        else:
            for result in results:
                name = output.bind(result.bind)
                if result.ok:
                    output.echo(f"{name}: {click.style('ok', fg='green')}")
                    continue
                if "heads" in result.failures:
                    output.echo(
                        f"{name}: several heads {', '.join(result.heads)}; run 'flask db merge'"
                    )
                if "missing" in result.failures:
                    output.echo(
                        f"{name}: applied revisions without a file: {', '.join(result.missing)}"
                    )
                if "pending" in result.failures:
                    output.echo(
                        f"{name}: {len(result.pending)} unapplied revision(s): "
                        f"{', '.join(result.pending)}; run 'flask db upgrade'"
                    )
                if "edited" in result.failures:
                    output.echo(
                        f"{name}: revision(s) edited after they were applied: "
                        f"{', '.join(result.edited)}; review the change, then run "
                        f"'flask db acknowledge --bind {result.bind} REVISION'"
                    )
                if "drift" in result.failures and not result.compared:
                    output.echo(
                        f"{name}: models not compared: the database is not at its heads; "
                        "run 'flask db upgrade' first"
                    )
                elif "drift" in result.failures:
                    output.echo(
                        f"{name}: models differ from the database; run 'flask db migrate':"
                    )
                    for line in result.drift:
                        output.echo(f"    {line}")
        if not all(r.ok for r in results):
            ctx.exit(1)

    @db.command()
    @bind_option
    @click.option(
        "--since",
        multiple=True,
        metavar="REV",
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
        binds: tuple[str, ...],
        since: tuple[str, ...],
        output_format: str,
    ) -> None:
        """Find operations in revisions that lock tables or break running code."""
        findings = schemaver.lint(binds, since=since or None)
        if output_format == "json":
            click.echo(json.dumps([f.to_dict() for f in findings], indent=2))
        else:
            output.print_findings(findings)
        if any(f.level == "error" for f in findings):
            ctx.exit(1)

    @db.command()
    @bind_option
    @click.argument("revision")
    def acknowledge(binds: tuple[str, ...], revision: str) -> None:
        """Accept an applied revision's edited file: record its new checksum."""
        for name, rev in schemaver.acknowledge(revision, binds).items():
            output.echo(f"{output.bind(name)}: acknowledged the current file of {rev}")

    @db.command(name="binds")
    @json_option
    def list_binds(as_json: bool) -> None:
        """List the binds with their database, folder and version table."""
        rows: list[dict[str, Any]] = [
            {
                "bind": b.name,
                "url": b.safe_url,
                "directory": str(b.directory),
                "version_table": b.version_table,
                "version_table_schema": b.version_table_schema,
            }
            for b in schemaver.binds.values()
        ]
        if as_json:
            click.echo(json.dumps(rows, indent=2))
            return
        for row in rows:
            output.echo(
                f"{output.bind(row['bind'])}: {row['url']}  {row['directory']}  {row['version_table']}"
            )
