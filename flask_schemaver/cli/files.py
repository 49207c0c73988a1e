"""Commands that write revision files: init, revision, migrate, edit, merge."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING

import click

from .. import output
from ..exceptions import RunFailed
from ..results import RevisionResult
from .options import bind_option
from .options import x_option

if TYPE_CHECKING:
    from ..extension import SchemaVer


def add(db: click.Group, schemaver: SchemaVer) -> None:
    """Add these commands to ``db``."""

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
        written(
            partial(
                schemaver.revision,
                message,
                binds,
                autogenerate=autogenerate,
                head=head,
                splice=splice,
                branch_label=branch_label,
                depends_on=depends_on,
                rev_id=rev_id,
                x_args=x_args,
            ),
            lint=autogenerate,
        )

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
        written(
            partial(schemaver.migrate, message, binds, rev_id=rev_id, x_args=x_args),
            lint=True,
        )

    def written(call: Callable[[], list[RevisionResult]], *, lint: bool) -> None:
        """Report what ``call`` wrote per bind, and the binds that failed."""
        try:
            results = call()
        except RunFailed as exc:
            done = [
                r
                for r in exc.results
                if isinstance(r, RevisionResult) and r.error is None
            ]
            output.print_written(done, "no changes")
            if lint:
                lint_written(done)
            for result in exc.results:
                if result.error is not None:
                    output.echo(f"Error: {result.error}", err=True)
            raise click.exceptions.Exit(exc.exit_code) from None
        output.print_written(results, "no changes")
        if lint:
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
