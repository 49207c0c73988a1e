"""Commands that write revision files: init, revision, migrate, edit, merge."""

from __future__ import annotations

import sys
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any
from typing import NoReturn

import click

from ..exceptions import RunFailed
from ..results import Rename
from ..results import RevisionResult
from . import command
from . import extension
from . import output
from . import stream
from .options import bind_option
from .options import not_empty
from .options import rename_options
from .options import x_option


@command()
@bind_option
def init(bind: tuple[str, ...]) -> None:
    """Create the migrations folder with one revision folder per bind."""
    schemaver = extension()
    unnamed = []
    for name, created in schemaver.init(bind).items():
        folder = schemaver.binds[name].directory
        state = "created" if created else "exists"
        output.echo(f"{output.bind(name)}: {state} {folder}")
        convention = schemaver.binds[name].metadata.naming_convention
        if created and not {"fk", "uq"} <= set(convention):
            unnamed.append(name)
    if unnamed:
        output.echo(
            f"tip ({', '.join(unnamed)}): name constraints with a naming convention, "
            "so that later revisions can drop them: SQLAlchemy(metadata=MetaData("
            'naming_convention={"fk": "fk_%(table_name)s_%(column_0_name)s_'
            '%(referred_table_name)s", "uq": "uq_%(table_name)s_%(column_0_name)s", '
            '"ck": "ck_%(table_name)s_%(constraint_name)s"}))',
            err=True,
        )


@command()
@bind_option
@click.option("-m", "--message", help="Message of the revision.")
@click.option(
    "--autogenerate", is_flag=True, help="Write the operations from the models."
)
@click.option(
    "--head",
    default="head",
    show_default=True,
    callback=not_empty,
    help="Revision to build on.",
)
@click.option("--splice", is_flag=True, help="Allow building on a non-head revision.")
@click.option("--branch-label", help="Label for the branch this revision starts.")
@click.option(
    "--depends-on",
    multiple=True,
    callback=not_empty,
    help="Revision this one depends on; repeatable.",
)
@click.option("--rev-id", help="Use this revision id instead of a generated one.")
@x_option
@rename_options
def revision(message: str | None, no_input: bool, **options: Any) -> None:
    """Write a new revision file."""
    schemaver = extension()
    if options["autogenerate"]:
        options["on_rename"] = None if no_input else ask_rename()
    else:
        for key in ("rename", "allow_drop_all"):
            if not options[key]:
                del options[key]
    report_written(
        lambda: schemaver.revision(message, **options),
        lint=bool(options.get("autogenerate")),
    )


@command()
@bind_option
@click.option("-m", "--message", help="Message of the revisions.")
@click.option("--rev-id", help="Use this revision id (with a single --bind).")
@x_option
@rename_options
def migrate(message: str | None, no_input: bool, **options: Any) -> None:
    """Autogenerate one revision per bind whose models changed."""
    schemaver = extension()
    options["on_rename"] = None if no_input else ask_rename()
    report_written(lambda: schemaver.migrate(message, **options), lint=True)


def interactive() -> bool:
    """Whether someone is there to answer: input and output are a terminal."""
    try:
        return sys.stdin.isatty() and stream.is_terminal()
    except (ValueError, OSError):
        return False


def ask_rename() -> Callable[[Rename], bool] | None:
    """At a terminal, a question per likely rename, as Django asks; else None."""
    if not interactive():
        return None

    def ask(rename: Rename) -> bool:
        detail = f" (a {rename.detail})" if rename.detail else ""
        # On stderr: autogenerate runs with stdout captured (Alembic prints there).
        answer: bool = click.confirm(
            f"Did you rename {rename.describe()}{detail}?", default=False, err=True
        )
        return answer

    return ask


@command()
@bind_option
@click.argument("revision", default="head", callback=not_empty)
def edit(bind: tuple[str, ...], revision: str) -> None:
    """Open a revision file in the editor."""
    for rev in extension().edit(revision, bind):
        output.echo(f"edited {rev.path}")


@command()
@bind_option
@click.argument("revisions", nargs=-1, callback=not_empty)
@click.option("-m", "--message", help="Message of the merge revision.")
@click.option("--branch-label", help="Label for the merged branch.")
@click.option("--rev-id", help="Use this revision id instead of a generated one.")
def merge(revisions: tuple[str, ...], **options: Any) -> None:
    """Join several heads of a bind into one revision."""
    results = extension().merge(revisions or ("heads",), **options)
    output.print_written(results, "one head, nothing to merge")


def report_written(call: Callable[[], list[RevisionResult]], *, lint: bool) -> None:
    """Report what ``call`` wrote per bind, and the binds that failed."""
    try:
        results = call()
    except RunFailed as exc:
        report_failure(exc, lint=lint)
    output.print_written(results, "no changes")
    if lint:
        lint_written(results)


def report_failure(exc: RunFailed, *, lint: bool) -> NoReturn:
    """What the binds that succeeded wrote, then each failed bind's error."""
    done = [r for r in exc.results if isinstance(r, RevisionResult) and r.error is None]
    output.print_written(done, "no changes")
    if lint:
        lint_written(done)
    for result in exc.results:
        if result.error is not None:
            output.echo(f"Error: {result.error}", err=True)
    raise click.exceptions.Exit(exc.exit_code) from None


def lint_written(results: Sequence[RevisionResult]) -> None:
    """Print the lint findings of revisions just written; never fails the command."""
    written = {r.bind: [rev.id for rev in r.revisions] for r in results}
    written = {name: ids for name, ids in written.items() if ids}
    if not written:
        return
    try:
        findings = extension().lint(
            list(written), revisions=[i for ids in written.values() for i in ids]
        )
    except Exception as exc:  # the revisions are written; lint is only advice
        output.echo(f"lint skipped: {exc}", err=True)
        return
    output.print_findings(findings, limit=10, brief=True)
