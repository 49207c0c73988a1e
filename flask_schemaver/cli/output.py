"""How the commands present results: lines, colour, summaries.

Everything is printed through :mod:`.stream`, which never lets a closed pipe or an
encoding error reach a run. Colour is dropped when NO_COLOR is set or the output is
not a terminal.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Sequence
from typing import Any
from typing import TYPE_CHECKING

import click

from . import stream

if TYPE_CHECKING:
    from ..lint import Finding
    from ..results import BackfillProgress
    from ..results import BindPlan
    from ..results import LockWait
    from ..results import Revision
    from ..results import RevisionResult
    from ..results import RunResult
    from ..results import Step


def echo(message: str = "", err: bool = False) -> None:
    """Print a line; a stream that cannot take it never stops the command."""
    stream.echo(message, err=err)


def oneline(text: str) -> str:
    """``text`` safe to print on one line: line breaks become spaces, and other
    control characters (an escape sequence in a revision message, say) are shown
    escaped rather than acted on by the terminal."""
    text = re.sub(r"[\r\n\t]+", " ", text)
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


def bind(name: str, tenant: str | None = None) -> str:
    """A bind's name, or ``bind/tenant`` for a tenant, styled."""
    label = name if tenant is None else f"{name}/{tenant}"
    return click.style(label, fg="cyan", bold=True)


def selector(name: str, tenant: str | None = None) -> str:
    """What ``--bind`` takes to name a bind (and its tenant), for hints."""
    return name if tenant is None else f"{name} --tenant {tenant}"


def ids(ids: Sequence[str | None]) -> str:
    """Revision ids for people; ``<base>`` for none, and a bad version-table row
    (NULL, empty) shown as such."""
    if not ids:
        return "<base>"
    return ", ".join(
        "NULL" if i is None else (i.strip() and oneline(i)) or "''" for i in ids
    )


def revision_line(
    rev: Revision,
    current: Sequence[str] = (),
    *,
    parents: bool = True,
    doc: bool = True,
    tree: bool = True,
) -> str:
    """One revision on one line, with the marks and relations Alembic prints:
    ``parent (dependencies) -> id (labels) (head) (current) (branchpoint), message``."""
    text = rev.id
    if parents:
        deps = f" ({', '.join(rev.depends_on)})" if rev.depends_on else ""
        text = f"{ids(rev.down_revisions)}{deps} -> {text}"
    if rev.branch_labels:
        text += f" ({', '.join(rev.branch_labels)})"
    if rev.is_head:
        text += " (effective head)" if rev.dependents else " (head)"
    if rev.id in current:
        text += " (current)"
    if tree and rev.is_branch_point:
        text += " (branchpoint)"
    if tree and rev.is_merge_point:
        text += " (mergepoint)"
    return f"{text}, {oneline(rev.message)}" if doc else text


def verbose(rev: Revision, current: Sequence[str] = ()) -> str:
    """A revision in full, as ``history -v`` shows it."""
    marks = [
        (rev.is_head, " (head)"),
        (rev.is_branch_point, " (branchpoint)"),
        (rev.is_merge_point, " (mergepoint)"),
        (rev.id in current, " (current)"),
    ]
    lines = [f"Rev: {rev.id}" + "".join(mark for shown, mark in marks if shown)]
    parents = "Merges" if rev.is_merge_point else "Parent"
    lines.append(f"{parents}: {ids(rev.down_revisions)}")
    if rev.depends_on:
        lines.append(f"Also depends on: {', '.join(rev.depends_on)}")
    if rev.is_branch_point:
        lines.append(f"Branches into: {', '.join(rev.next_revisions)}")
    if rev.branch_labels:
        lines.append(f"Branch names: {', '.join(rev.branch_labels)}")
    lines.append(f"Path: {rev.path}")
    lines.append("")
    lines.extend(
        f"    {oneline(line)}" if line else "" for line in rev.docstring.splitlines()
    )
    return "\n".join(lines) + "\n"


def missing_files(bind: str, folder: str) -> str:
    """What to do about applied revisions that have no file in ``folder``: first make
    sure it is the right folder, as ``stamp --purge`` rewrites the version table."""
    return (
        f"no revision file in {folder} has it; if that is not the project's migrations "
        "folder, run from the project's root or pass -d; else restore the file, or "
        f"record where the database really is with 'flask db stamp --bind {bind} "
        "--purge REVISION'"
    )


def step_line(step: Step, *, running: bool = False) -> str:
    """A migration step: ``[bind] upgrade a → b  message (12 ms)``, or ``...`` while
    it runs."""
    verb = "stamp" if step.is_stamp else ("upgrade" if step.is_upgrade else "downgrade")
    arrow = f"{ids(step.source)} → {ids(step.destination)}"
    took = "..." if running else f"({step.seconds * 1000:.0f} ms)"
    where = bind(step.bind, step.tenant)
    return f"[{where}] {verb} {arrow}  {oneline(step.message)} {took}"


class StepPrinter:
    """Prints a line when a migration step starts and one when it is committed; at a
    terminal, with one bind at a time, one line rewritten in place."""

    #: Seconds between two progress lines when they can't be rewritten in place.
    every = 10.0

    def __init__(self, *, in_place: bool) -> None:
        self.in_place = in_place
        self.last_progress = 0.0

    def start(self, step: Step) -> None:
        if self.in_place:
            stream.rewrite(step_line(step, running=True), final=False)
        elif step.tenant is None:
            # Across a fleet of tenants, one line per step done is plenty.
            echo(step_line(step, running=True))

    def done(self, step: Step) -> None:
        if self.in_place:
            stream.rewrite(step_line(step), final=True)
        else:
            echo(step_line(step))

    def progress(self, progress: BackfillProgress) -> None:
        """A backfill's progress: the running line rewritten at a terminal, else a
        line now and then, and one when it is done."""
        line = progress_line(progress)
        if self.in_place:
            stream.rewrite(line, final=progress.finished)
            return
        now = time.monotonic()
        if progress.finished or now - self.last_progress >= self.every:
            self.last_progress = now
            echo(line)


def progress_line(progress: BackfillProgress) -> str:
    """``[bind] backfill user: 420,000/1,000,000 rows (42%), 35,000 rows/s, ETA 17s``."""
    share = progress.done / progress.total * 100 if progress.total else 100.0
    text = (
        f"[{bind(progress.bind, progress.tenant)}] backfill {progress.table}: "
        f"{progress.done:,}/"
        f"{progress.total:,} rows ({share:.0f}%)"
    )
    if progress.finished:
        return text + f", {progress.updated:,} updated"
    text += f", {progress.rate:,.0f} rows/s"
    if progress.eta is not None:
        text += f", ETA {duration(progress.eta)}"
    return text


def duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``2h07m``."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def print_wait(wait: LockWait) -> None:
    holder = f" held by {wait.holder}" if wait.holder else ""
    echo(
        f"[{bind(wait.bind, wait.tenant)}] {wait.waiter} waiting for the migration "
        f"lock{holder} "
        f"({wait.waited:.0f}s)",
        err=True,
    )


def summary(result: RunResult, verb: str) -> str:
    name = bind(result.bind, result.tenant)
    if result.outcome == "failed":
        return f"{name}: {click.style('failed', fg='red')}"
    if result.outcome == "skipped":
        return f"{name}: skipped ({result.note or '--fail-fast'})"
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
    line = f"{name}: {done}, now at {ids(result.after)}"
    if verb == "upgrade" and len(result.after) > 1:
        # 'heads' takes every branch up; say so, as it is not one line of history.
        line += (
            f" ({len(result.after)} heads: join them with 'flask db merge --bind "
            f"{result.bind}')"
        )
    return line


def print_summaries(results: Sequence[RunResult], verb: str) -> None:
    """One line per bind; for a tenanted bind, one per tenant that failed or was
    skipped (those done had their steps shown as they ran), then one for the fleet."""
    fleets: dict[str, list[RunResult]] = {}
    for result in results:
        if result.tenant is not None:
            fleets.setdefault(result.bind, []).append(result)
        if result.tenant is None or result.outcome != "done":
            echo(summary(result, verb))
    for name, found in fleets.items():
        echo(fleet_summary(name, found, verb))


def fleet_summary(name: str, results: Sequence[RunResult], verb: str) -> str:
    """``shop: 200 tenants: 3 upgraded, 196 with nothing to do, 1 failed (acme)``."""
    changed = [r for r in results if r.outcome == "done" and (r.steps or r.changed)]
    failed = [r.tenant or "" for r in results if r.outcome == "failed"]
    skipped = sum(1 for r in results if r.outcome == "skipped")
    unchanged = len(results) - len(changed) - len(failed) - skipped
    word = "stamped" if verb == "stamp" else f"{verb}d"
    parts = [f"{len(changed)} {word}", f"{unchanged} with nothing to do"]
    if failed:
        parts.append(
            click.style(f"{len(failed)} failed", fg="red") + f" ({names(failed)})"
        )
    if skipped:
        parts.append(f"{skipped} skipped")
    count = f"{len(results)} tenant{'s' if len(results) != 1 else ''}"
    return f"{bind(name)}: {count}: {', '.join(parts)}"


def names(names: Sequence[str], limit: int = 10) -> str:
    """The first ``limit`` of ``names``, then how many more: ``a, b and 3 more``."""
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def print_sql(results: Sequence[RunResult], safe_urls: dict[str, str]) -> None:
    for result in results:
        echo(f"-- flask_schemaver: bind {result.bind} ({safe_urls[result.bind]})")
        stream.echo(result.sql or "", nl=False)
        echo()


def print_json(data: Any) -> None:
    """``data`` as indented JSON, for tools."""
    echo(json.dumps(data, indent=2))


def print_written(results: Sequence[RevisionResult], empty: str) -> None:
    for result in results:
        if not result.revisions:
            echo(f"{bind(result.bind)}: {empty}")
        for rev in result.revisions:
            echo(
                f"{bind(result.bind)}: wrote {rev.id} {oneline(rev.message)} at {rev.path}"
            )
        for line in result.detected:
            echo(f"    detected: {line}")
        for rename in result.renames:
            echo(f"    renamed: {rename.describe()}")
        for rename in result.likely_renames:
            where = result.revisions[0].path if result.revisions else "the revision"
            echo(
                f"{bind(result.bind)}: warning: {rename.describe()} looks like a "
                "rename, written as drop + add, which loses the data; to rename, "
                f"delete {where} and run again with --rename {rename.option}",
                err=True,
            )


def print_plans(plans: Sequence[BindPlan]) -> None:
    """Each bind's revisions that would run, with their operations."""
    for plan in plans:
        name = bind(plan.bind, plan.tenant)
        if not plan.revisions:
            echo(f"{name}: nothing to run, at {ids(plan.current)}")
            continue
        echo(f"{name}: at {ids(plan.current)}, {len(plan.revisions)} to run")
        for rev in plan.revisions:
            verb = "upgrade" if rev.is_upgrade else "downgrade"
            flag = (
                click.style("  [irreversible]", fg="yellow") if rev.irreversible else ""
            )
            echo(f"  {verb} {rev.id}  {oneline(rev.message)}{flag}")
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
