"""How a run over the tenants of tenanted binds shows its progress.

At a terminal, each tenanted bind has a click progress bar (done, failed, left, rate,
ETA) pinned below the output; the tenants' steps are not listed. Elsewhere (a CI log,
a file), each step a tenant commits is a line, as for any bind, and every
:data:`SUMMARY_EVERY` seconds each tenanted bind gets a line saying how far it is.
Either way a tenant that fails is named, with its error, on a line of its own as it
fails.

Everything goes through :mod:`.stream`: a closed pipe or a terminal that cannot
encode a character never reaches the run. A tenanted bind with a single tenant
chosen is shown like a plain bind, step by step.
"""

from __future__ import annotations

import collections
import shutil
import time
from collections.abc import Sequence
from typing import Any
from typing import cast
from typing import TextIO
from typing import TYPE_CHECKING

import click

from . import output
from . import stream

if TYPE_CHECKING:
    from ..binds import Bind
    from ..results import BackfillProgress
    from ..results import LockWait
    from ..results import RunResult
    from ..results import Step

#: Seconds between two summary lines of a tenanted bind when the output is not a
#: terminal (at most: they are printed as tenants finish and steps are taken).
SUMMARY_EVERY = 5.0
#: The progress bars' width, in characters, where the terminal is wide enough.
BAR_WIDTH = 24
#: What a bar's line holds besides its label, bar and text: ``  [``, ``]``, the
#: percentage, the spaces, and a character or two for the text to grow by.
_AROUND_BAR = 15


class Tally:
    """How far the run is over one tenanted bind's tenants."""

    def __init__(self, bind: str, total: int, known: Sequence[RunResult]) -> None:
        self.bind = bind
        self.total = total
        self.counts: collections.Counter[str] = collections.Counter(
            r.outcome for r in known
        )
        #: Tenants that ran (not found at their target before), for the rate.
        self.ran = 0
        self.started = time.monotonic()
        self.bar: Any = None

    def count(self, result: RunResult) -> None:
        self.counts[result.outcome] += 1
        self.ran += 1

    @property
    def finished(self) -> int:
        return sum(self.counts.values())

    def describe(self, item: object = None) -> str:
        """``410 done, 2 failed, 588 left, 38/s, ETA 15s``, for the bar."""
        return f"{self.counts['done']} done, {self._rest()}"

    def widest(self) -> str:
        """:meth:`describe` at its longest for this many tenants: every count at
        the total, a four-digit rate and a long ETA."""
        every = self.total
        skipped = every if self.counts["skipped"] else 0
        rest = _rest_text(every, skipped, every, "9999/s", "ETA 59m59s")
        return f"{every} done, {rest}"

    def summary(self) -> str:
        """``shop: 410/1000 tenants done, 2 failed, 588 left, 38/s, ETA 15s``."""
        done = f"{self.counts['done']}/{self.total} tenants done"
        return f"{output.bind(self.bind)}: {done}, {self._rest()}"

    def _rest(self) -> str:
        left = self.total - self.finished
        rate = eta = None
        if self.ran:
            per_second = self.ran / max(time.monotonic() - self.started, 1e-6)
            rate = f"{per_second:.1f}/s" if per_second < 10 else f"{per_second:.0f}/s"
            if left:
                eta = f"ETA {output.duration(left / per_second)}"
        return _rest_text(
            self.counts["failed"], self.counts["skipped"], left, rate, eta
        )


def _rest_text(
    failed: int, skipped: int, left: int, rate: str | None, eta: str | None
) -> str:
    """``2 failed, 588 left, 38/s, ETA 15s``: what a tally's line says after the
    tenants done."""
    parts = [f"{failed} failed"]
    if skipped:
        parts.append(f"{skipped} skipped")
    parts.append(f"{left} left")
    parts += [part for part in (rate, eta) if part]
    return ", ".join(parts)


class BarFile:
    """The file a click progress bar writes to: standard output through
    :mod:`.stream`, remembering the bar as last drawn to draw it again."""

    def __init__(self) -> None:
        self.last = ""

    def write(self, text: str) -> int:
        if text.startswith("\r"):
            self.last = text
        stream.write(text)
        return len(text)

    def flush(self) -> None:
        """Nothing: :func:`.stream.write` flushes."""

    def isatty(self) -> bool:
        return True


class FleetProgress:
    """The callbacks of a run that show its tenants' progress, a bar at a terminal
    or lines elsewhere; steps of plain binds go on to ``steps``.

    Used as a ``with`` block, whose end finishes the bars.
    """

    def __init__(
        self, verb: str, steps: output.StepPrinter | None, *, terminal: bool
    ) -> None:
        self.verb = verb
        self.steps = steps
        self.terminal = terminal
        self.tallies: dict[str, Tally] = {}
        #: The tallies whose bars are still to be drawn, the one shown first.
        self.queue: list[Tally] = []
        self.last_summary = time.monotonic()

    def __enter__(self) -> FleetProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def targets(self, binds: Sequence[Bind], known: Sequence[RunResult]) -> None:
        """The run's binds and tenants are chosen: a tally for each tenanted bind
        with more than one tenant; at a terminal, the first bar."""
        totals = collections.Counter(b.name for b in binds if b.tenant is not None)
        for name, total in totals.items():
            if total > 1:
                ready = [r for r in known if r.bind == name and r.tenant is not None]
                self.tallies[name] = Tally(name, total, ready)
        if self.terminal and self.tallies:
            self.queue = list(self.tallies.values())
            stream.pin(self)
            self._show_next()

    def result(self, result: RunResult) -> None:
        """A bind or tenant finished: the bar or summary moves on; a failure is a
        line."""
        tally = self.tallies.get(result.bind) if result.tenant is not None else None
        if tally is None:
            return
        tally.count(result)
        if result.outcome == "failed":
            message = result.error.message if result.error else "failed"
            output.echo(
                f"{output.bind(result.bind, result.tenant)}: "
                f"{click.style('failed', fg='red')}: {output.oneline(message)}"
            )
        if self.terminal:
            self._advance(tally)
        else:
            self._summarize()

    def start(self, step: Step) -> None:
        if self.steps is not None and not self._under_bar(step.bind, step.tenant):
            self.steps.start(step)
        self._summarize()

    def done(self, step: Step) -> None:
        if self.steps is not None and not self._under_bar(step.bind, step.tenant):
            self.steps.done(step)
        self._summarize()

    def progress(self, progress: BackfillProgress) -> None:
        """A backfill's progress, but a tenant's under a bar."""
        if self.steps is not None and not self._under_bar(
            progress.bind, progress.tenant
        ):
            self.steps.progress(progress)

    def wait(self, wait: LockWait) -> None:
        output.print_wait(wait)
        self._summarize()

    def close(self) -> None:
        """Finish every bar, drawing those not yet shown; unpin them."""
        self._show_next(finishing=True)
        stream.pin(None)

    # -- the footer pinned below the output at a terminal ------------------------

    def clear(self) -> None:
        last = self._drawn()
        if last:
            stream.write("\r" + " " * len(click.unstyle(last)) + "\r")

    def draw(self) -> None:
        last = self._drawn()
        if last:
            stream.write(last)

    def _drawn(self) -> str:
        bar = self.queue[0].bar if self.queue else None
        return cast("BarFile", bar.file).last if bar is not None else ""

    def _under_bar(self, bind: str, tenant: str | None) -> bool:
        """Whether a tenant's progress is shown by a bar, not line by line."""
        return self.terminal and tenant is not None and bind in self.tallies

    def _show_next(self, *, finishing: bool = False) -> None:
        """Draw the bar of the first tally queued; finish it at once when it is
        complete (or the run is), and go on to the next."""
        while self.queue:
            tally = self.queue[0]
            if tally.bar is None:
                tally.bar = click.progressbar(
                    range(tally.total),
                    label=output.bind(tally.bind),
                    file=cast("TextIO", BarFile()),
                    width=_fitting(tally),
                    show_eta=False,
                    item_show_func=tally.describe,
                    color=stream.color(),
                )
                tally.bar.pos = min(tally.finished, tally.total)
                tally.bar.render_progress()
            if not finishing and tally.finished < tally.total:
                return
            tally.bar.render_finish()
            self.queue.pop(0)

    def _advance(self, tally: Tally) -> None:
        """Move the bar on, if ``tally``'s is the one shown (the others count on,
        unseen, until theirs is)."""
        if self.queue and tally is self.queue[0]:
            tally.bar.width = _fitting(tally)
            tally.bar.update(1)
            self._show_next()

    def _summarize(self) -> None:
        """Elsewhere than at a terminal, a line per tenanted bind not yet through
        when :data:`SUMMARY_EVERY` seconds passed since the last."""
        now = time.monotonic()
        if self.terminal or now - self.last_summary < SUMMARY_EVERY:
            return
        self.last_summary = now
        for tally in self.tallies.values():
            if tally.finished < tally.total:
                output.echo(tally.summary())


def _fitting(tally: Tally) -> int:
    """The width of ``tally``'s bar: :data:`BAR_WIDTH`, or less on a terminal too
    narrow for the whole line at its longest (a line that wraps can't be drawn
    again in place; one whose bar jumps in width as the text grows looks broken)."""
    columns = shutil.get_terminal_size().columns
    label = click.unstyle(output.bind(tally.bind))
    used = len(label) + len(tally.widest()) + _AROUND_BAR
    return max(1, min(BAR_WIDTH, columns - used))
