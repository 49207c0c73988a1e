"""Commands that change databases: upgrade, downgrade, stamp (and their plans)."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from traceback import print_exception
from typing import Any
from typing import cast
from typing import NoReturn
from typing import TYPE_CHECKING

import click

from ..api.base import app_state
from ..exceptions import RunFailed
from . import command
from . import extension
from . import output
from . import progress
from . import stream
from .options import all_binds_option
from .options import bind_option
from .options import not_empty
from .options import plan_options
from .options import RelativeRevisionCommand
from .options import run_options
from .options import tenant_option
from .options import unmask
from .options import yes_option

if TYPE_CHECKING:
    from ..options import Shard
    from ..results import RunResult
    from ..results import Verb


@command(cls=RelativeRevisionCommand)
@bind_option
@tenant_option
@click.argument("revision", default="heads", callback=unmask)
@run_options
@plan_options
def upgrade(revision: str, plan: bool, as_json: bool, **options: Any) -> None:
    """Upgrade the databases to a later revision (default: heads)."""
    if plan:
        show_plan(
            revision,
            options["bind"],
            as_json,
            tenant=options["tenant"],
            shard=options["shard"],
        )
        return
    check_plan_options(as_json)
    run_and_report("upgrade", revision, options)


@command(cls=RelativeRevisionCommand)
@bind_option
@all_binds_option
@tenant_option
@click.argument("revision", default="-1", callback=unmask)
@run_options
@plan_options
@yes_option
def downgrade(
    revision: str, plan: bool, as_json: bool, yes: bool, **options: Any
) -> None:
    """Revert the databases to an earlier revision (default: -1)."""
    if plan:
        show_plan(
            revision,
            options["bind"],
            as_json,
            options["all_binds"],
            tenant=options["tenant"],
            shard=options["shard"],
        )
        return
    check_plan_options(as_json)
    options["confirm"] = confirmed("downgrade", options, yes)
    run_and_report("downgrade", revision, options)


@command(cls=RelativeRevisionCommand)
@bind_option
@all_binds_option
@tenant_option
@click.argument("revision", callback=unmask)
@click.option("--purge", is_flag=True, help="Empty the version table before stamping.")
@run_options
@yes_option
def stamp(revision: str, yes: bool, **options: Any) -> None:
    """Record a revision in the version table without running migrations."""
    verb = "stamp --purge" if options["purge"] else "stamp"
    options["confirm"] = confirmed(verb, options, yes)
    run_and_report("stamp", revision, options)


@command()
@bind_option
@tenant_option
@click.argument("revision", callback=not_empty)
@click.option(
    "--applied",
    "outcome",
    flag_value="applied",
    help="All of the revision's changes are in the database: record it as applied.",
)
@click.option(
    "--rolled-back",
    "outcome",
    flag_value="rolled back",
    help="None of the revision's changes are in the database: record that.",
)
def resolve(
    bind: tuple[str, ...],
    tenant: tuple[str, ...] | None,
    shard: Shard | None,
    revision: str,
    outcome: str | None,
) -> None:
    """Record what an interrupted revision left in the database: all of it, or none."""
    if outcome is None:
        raise click.UsageError(
            "say what the revision left after you checked the schema: --applied "
            "(all of its changes are there) or --rolled-back (none of them are)"
        )
    results = extension().resolve(
        revision,
        bind,
        applied=outcome == "applied",
        on_wait=output.print_wait,
        tenant=tenant,
        shard=shard,
    )
    for result in results:
        name = output.bind(result.bind, result.tenant)
        output.echo(f"{name}: {result.note}, at {output.ids(result.after)}")


def check_plan_options(as_json: bool) -> None:
    if as_json:
        raise click.UsageError("--json goes with --plan")


def confirmed(verb: str, options: dict[str, Any], yes: bool) -> bool:
    """``--yes``, or the user's answer when a protected bind is involved."""
    if yes:
        return True
    schemaver = extension()
    named = options["bind"] or options["all_binds"]
    chosen = schemaver.select(options["bind"]) if named else []
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
    as_json: bool,
    all_binds: bool | None = None,
    *,
    tenant: tuple[str, ...] | None = None,
    shard: Shard | None = None,
) -> None:
    """Print what ``upgrade`` (or, with ``all_binds`` given, ``downgrade``) would run."""
    downgrade = all_binds is not None
    plans = extension().plan(
        revision,
        binds,
        downgrade=downgrade,
        all_binds=bool(all_binds),
        tenant=tenant,
        shard=shard,
    )
    if as_json:
        output.print_json([p.to_dict() for p in plans])
    else:
        output.print_plans(plans)


def run_and_report(verb: Verb, revision: str, options: dict[str, Any]) -> None:
    """Run ``verb`` through the API, printing each step as it is committed (over many
    tenants, their progress), then one summary line per bind."""
    schemaver = extension()
    call = getattr(schemaver, verb)
    if options["sql"]:
        urls = {name: b.safe_url for name, b in schemaver.binds.items()}
        output.print_sql(call(revision, **options), urls)
        return
    terminal = stream.is_terminal()
    printer = None
    if verb != "stamp":
        jobs = options["jobs"] or app_state().settings.jobs
        printer = output.StepPrinter(in_place=terminal and jobs == 1)
    fleet = progress.FleetProgress(verb, printer, terminal=terminal)
    if printer is not None:
        options["on_start"] = fleet.start
        options["on_step"] = fleet.done
        options["on_progress"] = fleet.progress
    options["on_targets"] = fleet.targets
    options["on_result"] = fleet.result
    try:
        with terminate_as_interrupt(), fleet:
            results = call(revision, **options, on_wait=fleet.wait)
    except RunFailed as exc:
        report_failure(exc, verb)
    output.print_summaries(results, verb)


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM (a stopping container, a supervisor) as Ctrl-C while databases
    change: the run stops the way it does for Ctrl-C and says where it stopped."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def report_failure(exc: RunFailed, verb: str) -> NoReturn:
    """Print each failed bind's error, and every bind's outcome when there are several."""
    parent = click.get_current_context().parent
    show_traceback = parent is not None and parent.params.get("traceback")
    for result in exc.results:
        if result.error is None:
            continue
        if show_traceback:
            print_exception(result.error)
        output.echo(f"Error: {result.error}", err=True)
    if len(exc.results) > 1:
        output.print_summaries(cast("list[RunResult]", exc.results), verb)
    raise click.exceptions.Exit(exc.exit_code) from None
