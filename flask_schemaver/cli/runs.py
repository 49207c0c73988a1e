"""Commands that change databases: upgrade, downgrade, stamp (and their plans)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import partial
from traceback import print_exception
from typing import Any
from typing import cast
from typing import TYPE_CHECKING

import click

from .. import output
from ..exceptions import RunFailed
from .options import all_binds_option
from .options import bind_option
from .options import plan_options
from .options import RelativeRevisionCommand
from .options import run_options
from .options import unmask
from .options import yes_option

if TYPE_CHECKING:
    from ..extension import SchemaVer
    from ..results import RunResult


def add(db: click.Group, schemaver: SchemaVer) -> None:
    """Add these commands to ``db``."""

    def safe_urls() -> dict[str, str]:
        return {name: b.safe_url for name, b in schemaver.binds.items()}

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
                    output.echo(output.summary(cast("RunResult", result), verb))
            raise click.exceptions.Exit(exc.exit_code) from None
        for result in results:
            output.echo(output.summary(result, verb))

    @db.command(cls=RelativeRevisionCommand)
    @bind_option
    @click.argument("revision", default="heads", callback=unmask)
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
        if as_json and not plan:
            raise click.UsageError("--json goes with --plan")
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
    @click.argument("revision", default="-1", callback=unmask)
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
        if as_json and not plan:
            raise click.UsageError("--json goes with --plan")
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
    @click.argument("revision", callback=unmask)
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
