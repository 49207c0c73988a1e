"""How the commands present results: lines, colour, summaries.

Colour is dropped when NO_COLOR is set or the output is not a terminal.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from ..lint import Finding
    from ..results import BindPlan
    from ..results import LockWait
    from ..results import Revision
    from ..results import RevisionResult
    from ..results import RunResult
    from ..results import Step


def color() -> bool | None:
    return False if os.environ.get("NO_COLOR") else None


def echo(message: str = "", err: bool = False) -> None:
    """Print a line, dropping colour when NO_COLOR is set or output is not a terminal."""
    click.echo(message, err=err, color=color())


def bind(name: str) -> str:
    return click.style(name, fg="cyan", bold=True)


def ids(ids: Sequence[str]) -> str:
    return ", ".join(ids) if ids else "<base>"


def revision_line(rev: Revision, current: Sequence[str] = ()) -> str:
    marks = []
    if rev.is_head:
        marks.append("head")
    if rev.is_branch_point:
        marks.append("branchpoint")
    if rev.is_merge_point:
        marks.append("mergepoint")
    if rev.id in current:
        marks.append("current")
    labels = f" [{', '.join(rev.branch_labels)}]" if rev.branch_labels else ""
    flags = f" ({', '.join(marks)})" if marks else ""
    return f"{ids(rev.down_revisions)} -> {rev.id}{labels}{flags}, {rev.message}"


def verbose(rev: Revision, current: Sequence[str] = ()) -> str:
    lines = [
        f"Rev: {rev.id}"
        + (" (head)" if rev.is_head else "")
        + (" (current)" if rev.id in current else ""),
        f"Parent: {ids(rev.down_revisions)}",
    ]
    if rev.branch_labels:
        lines.append(f"Branch names: {', '.join(rev.branch_labels)}")
    if rev.depends_on:
        lines.append(f"Depends on: {', '.join(rev.depends_on)}")
    lines.append(f"Path: {rev.path}")
    lines.append("")
    lines.extend(f"    {line}" if line else "" for line in rev.docstring.splitlines())
    return "\n".join(lines) + "\n"


def step_line(step: Step) -> str:
    verb = "stamp" if step.is_stamp else ("upgrade" if step.is_upgrade else "downgrade")
    arrow = f"{ids(step.source)} → {ids(step.destination)}"
    return f"[{bind(step.bind)}] {verb} {arrow}  {step.message} ({step.seconds:.2f}s)"


def print_step(step: Step) -> None:
    echo(step_line(step))


def print_wait(wait: LockWait) -> None:
    holder = f" held by {wait.holder}" if wait.holder else ""
    echo(
        f"[{bind(wait.bind)}] {wait.waiter} waiting for the migration lock{holder} "
        f"({wait.waited:.0f}s)",
        err=True,
    )


def summary(result: RunResult, verb: str) -> str:
    name = bind(result.bind)
    if result.outcome == "failed":
        return f"{name}: {click.style('failed', fg='red')}"
    if result.outcome == "skipped":
        return f"{name}: skipped (--fail-fast)"
    if result.note:
        return f"{name}: {result.note}, at {ids(result.after)}"
    count = sum(1 for s in result.steps if not s.is_stamp)
    if not result.changed and not result.steps:
        return f"{name}: nothing to do, at {ids(result.after)}"
    if verb == "stamp":
        return f"{name}: stamped {ids(result.before)} → {ids(result.after)}"
    done = click.style(
        f"{count} revision{'s' if count != 1 else ''} {verb}d", fg="green"
    )
    return f"{name}: {done}, now at {ids(result.after)}"


def print_sql(results: Sequence[RunResult], safe_urls: dict[str, str]) -> None:
    for result in results:
        click.echo(f"-- flask_schemaver: bind {result.bind} ({safe_urls[result.bind]})")
        click.echo(result.sql or "", nl=False)
        click.echo()


def print_written(results: Sequence[RevisionResult], empty: str) -> None:
    for result in results:
        if not result.revisions:
            echo(f"{bind(result.bind)}: {empty}")
        for rev in result.revisions:
            echo(f"{bind(result.bind)}: wrote {rev.id} {rev.message!s} at {rev.path}")


def print_plans(plans: Sequence[BindPlan]) -> None:
    """Each bind's revisions that would run, with their operations."""
    for plan in plans:
        if not plan.revisions:
            echo(f"{bind(plan.bind)}: nothing to run, at {ids(plan.current)}")
            continue
        echo(f"{bind(plan.bind)}: at {ids(plan.current)}, {len(plan.revisions)} to run")
        for rev in plan.revisions:
            verb = "upgrade" if rev.is_upgrade else "downgrade"
            flag = (
                click.style("  [irreversible]", fg="yellow") if rev.irreversible else ""
            )
            echo(f"  {verb} {rev.id}  {rev.message}{flag}")
            for op in rev.operations:
                mark = click.style("!", fg="red", bold=True) if op.destructive else "-"
                echo(f"    {mark} {op.text}")
            if not rev.operations and not rev.note:
                echo("    - no operations")
            if rev.note:
                echo(f"    ? not all listed: {rev.note}")


def print_findings(
    findings: Sequence[Finding], *, limit: int | None = None, brief: bool = False
) -> None:
    """Lint findings, one line each with the rule's safe alternative, then a count.

    ``brief`` (after ``migrate``) leaves out the alternatives and the count, and shows
    at most ``limit`` findings.
    """
    from ..lint import RULES

    shown = findings if limit is None else findings[:limit]
    for finding in shown:
        colour = "red" if finding.level == "error" else "yellow"
        level = click.style(finding.level, fg=colour)
        if brief:
            where = f"{finding.revision} line {finding.line}"
        else:
            where = f"{_relative(finding.path)}:{finding.line}"
        echo(
            f"{bind(finding.bind)}: {where}: {level} [{finding.rule}] {finding.message}"
        )
        if not brief:
            echo(f"    fix: {RULES[finding.rule].alternative}")
    if len(findings) > len(shown):
        names = dict.fromkeys(f.bind for f in findings)
        options = "".join(f" --bind {name}" for name in names)
        echo(f"... and {len(findings) - len(shown)} more; run 'flask db lint{options}'")
    if brief:
        return
    errors = sum(1 for f in findings if f.level == "error")
    warnings = len(findings) - errors
    if not findings:
        echo("lint: no findings")
    else:
        echo(
            f"lint: {errors} error{'s' if errors != 1 else ''}, "
            f"{warnings} warning{'s' if warnings != 1 else ''}"
        )


def _relative(path: str) -> str:
    """``path`` relative to the working directory when it is below it."""
    relative = os.path.relpath(path) if os.path.isabs(path) else path
    return path if relative.startswith("..") else relative
