"""The ``flask db`` commands: parse, call the Python API, present the result.

This is the one place where flask_schemaver's errors become ``Error: ...`` lines and exit
codes: usage errors exit 2, operational failures exit 1.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from collections.abc import Sequence
from functools import partial
from traceback import print_exception
from typing import Any
from typing import TYPE_CHECKING
from typing import TypeVar

import click
from flask.cli import AppGroup

from . import output
from .exceptions import RunFailed
from .exceptions import SchemaVerError
from .results import GATES

if TYPE_CHECKING:
    from .extension import SchemaVer
    from .results import Revision
    from .results import RevisionResult
    from .results import RunResult

F = TypeVar("F", bound=Callable[..., Any])

_NEGATIVE = re.compile(r"-\d+")
_MINUS = "\0"


class RelativeRevisionCommand(click.Command):
    """A command whose revision argument may be negative, e.g. ``downgrade -2``.

    click would read ``-2`` as an option; it is passed through masked and unmasked by
    :func:`_unmask`, so that a mistyped option still fails as an unknown option.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        masked = [_MINUS + a[1:] if _NEGATIVE.fullmatch(a) else a for a in args]
        return super().parse_args(ctx, masked)


def _unmask(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> str | None:
    return value.replace(_MINUS, "-") if value is not None else None


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


# -- shared options --------------------------------------------------------------------


def bind_option(func: F) -> F:
    return click.option(
        "--bind",
        "binds",
        multiple=True,
        metavar="NAME",
        help="Work on this bind only; repeat for several. Default: every bind.",
    )(func)


def run_options(func: F) -> F:
    for option in reversed(
        [
            click.option(
                "--sql",
                is_flag=True,
                help="Print the SQL instead of running it (offline).",
            ),
            click.option(
                "--tag", help="Arbitrary tag passed to the migration scripts."
            ),
            x_option,
            click.option(
                "--fail-fast",
                is_flag=True,
                help="Stop at the first bind that fails; the rest are skipped.",
            ),
            click.option(
                "-j",
                "--jobs",
                type=click.IntRange(min=1),
                help="Databases to migrate at once (default: SCHEMAVER_JOBS, 1).",
            ),
        ]
    ):
        func = option(func)
    return func


#: ``-x key=value``: read in revisions with ``context.get_x_argument()``.
x_option = click.option(
    "-x",
    "x_args",
    multiple=True,
    metavar="KEY=VALUE",
    help="Extra argument for the migration scripts (context.get_x_argument()); repeatable.",
)


def plan_options(func: F) -> F:
    func = click.option(
        "--json", "as_json", is_flag=True, help="With --plan: print JSON for tools."
    )(func)
    return click.option(
        "--plan",
        is_flag=True,
        help="Show the revisions and operations that would run; run nothing.",
    )(func)


def yes_option(func: F) -> F:
    return click.option(
        "--yes",
        is_flag=True,
        help="Confirm the change on protected binds without asking.",
    )(func)


def all_binds_option(func: F) -> F:
    return click.option(
        "--all-binds",
        is_flag=True,
        help="Allow the change on every bind when the app has several.",
    )(func)


def json_option(func: F) -> F:
    return click.option(
        "--json", "as_json", is_flag=True, help="Print JSON for tools."
    )(func)


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
            output.echo(notice, err=True)

    return db


def add_commands(db: click.Group, schemaver: SchemaVer) -> None:
    """Add the commands to the group ``db``."""

    def safe_urls() -> dict[str, str]:
        return {name: b.safe_url for name, b in schemaver.binds.items()}

    @db.command()
    @bind_option
    def init(binds: tuple[str, ...]) -> None:
        """Create the migrations folder with one revision folder per bind."""
        for name, created in schemaver.init(binds).items():
            folder = schemaver.binds[name].directory
            state = "created" if created else "exists"
            output.echo(f"{output.bind(name)}: {state} {folder}")

    @db.command()
    @bind_option
    @click.option("-m", "--message", help="Message of the revision.")
    @click.option(
        "--autogenerate", is_flag=True, help="Write the operations from the models."
    )
    @click.option(
        "--head", default="head", show_default=True, help="Revision to build on."
    )
    @click.option(
        "--splice", is_flag=True, help="Allow building on a non-head revision."
    )
    @click.option("--branch-label", help="Label for the branch this revision starts.")
    @click.option(
        "--depends-on", multiple=True, help="Revision this one depends on; repeatable."
    )
    @click.option("--rev-id", help="Use this revision id instead of a generated one.")
    @x_option
    def revision(
        binds: tuple[str, ...],
        message: str | None,
        autogenerate: bool,
        head: str,
        splice: bool,
        branch_label: str | None,
        depends_on: tuple[str, ...],
        rev_id: str | None,
        x_args: tuple[str, ...],
    ) -> None:
        """Write a new revision file."""
        results = schemaver.revision(
            message,
            binds,
            autogenerate=autogenerate,
            head=head,
            splice=splice,
            branch_label=branch_label,
            depends_on=depends_on,
            rev_id=rev_id,
            x_args=x_args,
        )
        output.print_written(results, "no changes")
        if autogenerate:
            lint_written(results)

    @db.command()
    @bind_option
    @click.option("-m", "--message", help="Message of the revisions.")
    @click.option("--rev-id", help="Use this revision id (with a single --bind).")
    @x_option
    def migrate(
        binds: tuple[str, ...],
        message: str | None,
        rev_id: str | None,
        x_args: tuple[str, ...],
    ) -> None:
        """Autogenerate one revision per bind whose models changed."""
        results = schemaver.migrate(message, binds, rev_id=rev_id, x_args=x_args)
        output.print_written(results, "no changes")
        lint_written(results)

    def lint_written(results: Sequence[RevisionResult]) -> None:
        """Print the lint findings of revisions just written; never fails the command."""
        written = {r.bind: [rev.id for rev in r.revisions] for r in results}
        written = {name: ids for name, ids in written.items() if ids}
        if not written:
            return
        try:
            findings = schemaver.lint(
                list(written), revisions=[i for ids in written.values() for i in ids]
            )
        except Exception as exc:  # the revisions are written; lint is only advice
            output.echo(f"lint skipped: {exc}", err=True)
            return
        output.print_findings(findings, limit=10, brief=True)

    @db.command()
    @bind_option
    @click.argument("revision", default="head")
    def edit(binds: tuple[str, ...], revision: str) -> None:
        """Open a revision file in the editor."""
        for rev in schemaver.edit(revision, binds):
            output.echo(f"edited {rev.path}")

    @db.command()
    @bind_option
    @click.argument("revisions", nargs=-1)
    @click.option("-m", "--message", help="Message of the merge revision.")
    @click.option("--branch-label", help="Label for the merged branch.")
    @click.option("--rev-id", help="Use this revision id instead of a generated one.")
    def merge(
        binds: tuple[str, ...],
        revisions: tuple[str, ...],
        message: str | None,
        branch_label: str | None,
        rev_id: str | None,
    ) -> None:
        """Join several heads of a bind into one revision."""
        results = schemaver.merge(
            revisions or ("heads",),
            binds,
            message=message,
            branch_label=branch_label,
            rev_id=rev_id,
        )
        output.print_written(results, "one head, nothing to merge")

    def confirmed(
        verb: str, binds: tuple[str, ...], all_binds: bool, yes: bool
    ) -> bool:
        """``--yes``, or the user's answer when a protected bind is involved."""
        if yes:
            return True
        chosen = schemaver.select(binds) if binds or all_binds else []
        if len(schemaver.binds) == 1:
            chosen = list(schemaver.binds.values())
        protected = [b.name for b in chosen if b.protected]
        if not protected or not sys.stdin.isatty():
            return False  # the API refuses protected binds with a clear message
        return click.confirm(
            f"{', '.join(protected)} {'is' if len(protected) == 1 else 'are'} protected; "
            f"{verb} anyway?",
            default=False,
        )

    def show_plan(
        revision: str,
        binds: tuple[str, ...],
        downgrade: bool,
        all_binds: bool,
        as_json: bool,
    ) -> None:
        plans = schemaver.plan(
            revision, binds, downgrade=downgrade, all_binds=all_binds
        )
        if as_json:
            click.echo(json.dumps([p.to_dict() for p in plans], indent=2))
        else:
            output.print_plans(plans)

    def run_and_report(
        verb: str, sql: bool, call: Callable[..., list[RunResult]]
    ) -> None:
        if sql:
            output.print_sql(call(), safe_urls())
            return
        try:
            results = call(on_step=output.print_step, on_wait=output.print_wait)
        except RunFailed as exc:
            parent = click.get_current_context().parent
            show_traceback = parent is not None and parent.params.get("traceback")
            for result in exc.results:
                if result.error is None:
                    continue
                if show_traceback:
                    print_exception(result.error)
                output.echo(f"Error: {result.error}", err=True)
            if len(exc.results) > 1:
                for result in exc.results:
                    output.echo(output.summary(result, verb))
            raise click.exceptions.Exit(exc.exit_code) from None
        for result in results:
            output.echo(output.summary(result, verb))

    @db.command(cls=RelativeRevisionCommand)
    @bind_option
    @click.argument("revision", default="heads", callback=_unmask)
    @run_options
    @plan_options
    def upgrade(
        binds: tuple[str, ...],
        revision: str,
        plan: bool,
        as_json: bool,
        sql: bool,
        tag: str | None,
        x_args: tuple[str, ...],
        fail_fast: bool,
        jobs: int | None,
    ) -> None:
        """Upgrade the databases to a later revision (default: heads)."""
        if plan:
            show_plan(revision, binds, False, False, as_json)
            return
        run_and_report(
            "upgrade",
            sql,
            partial(
                schemaver.upgrade,
                revision,
                binds,
                sql=sql,
                tag=tag,
                x_args=x_args,
                fail_fast=fail_fast,
                jobs=jobs,
            ),
        )

    @db.command(cls=RelativeRevisionCommand)
    @bind_option
    @all_binds_option
    @click.argument("revision", default="-1", callback=_unmask)
    @run_options
    @plan_options
    @yes_option
    def downgrade(
        binds: tuple[str, ...],
        all_binds: bool,
        revision: str,
        yes: bool,
        plan: bool,
        as_json: bool,
        sql: bool,
        tag: str | None,
        x_args: tuple[str, ...],
        fail_fast: bool,
        jobs: int | None,
    ) -> None:
        """Revert the databases to an earlier revision (default: -1)."""
        if plan:
            show_plan(revision, binds, True, all_binds, as_json)
            return
        run_and_report(
            "downgrade",
            sql,
            partial(
                schemaver.downgrade,
                revision,
                binds,
                all_binds=all_binds,
                confirm=confirmed("downgrade", binds, all_binds, yes),
                sql=sql,
                tag=tag,
                x_args=x_args,
                fail_fast=fail_fast,
                jobs=jobs,
            ),
        )

    @db.command(cls=RelativeRevisionCommand)
    @bind_option
    @all_binds_option
    @click.argument("revision", callback=_unmask)
    @click.option(
        "--purge", is_flag=True, help="Empty the version table before stamping."
    )
    @run_options
    @yes_option
    def stamp(
        binds: tuple[str, ...],
        all_binds: bool,
        revision: str,
        purge: bool,
        yes: bool,
        sql: bool,
        tag: str | None,
        x_args: tuple[str, ...],
        fail_fast: bool,
        jobs: int | None,
    ) -> None:
        """Record a revision in the version table without running migrations."""
        confirm = confirmed(
            "stamp --purge" if purge else "stamp", binds, all_binds, yes
        )

        def call(**callbacks: Any) -> list[RunResult]:
            callbacks.pop("on_step", None)
            return schemaver.stamp(
                revision,
                binds,
                all_binds=all_binds,
                confirm=confirm,
                purge=purge,
                sql=sql,
                tag=tag,
                x_args=x_args,
                fail_fast=fail_fast,
                jobs=jobs,
                **callbacks,
            )

        run_and_report("stamp", sql, call)

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
                if "drift" in result.failures:
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
