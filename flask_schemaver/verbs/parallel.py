"""Running upgrade, downgrade or stamp on several binds, one after another or at once.

With ``jobs`` above one, binds on different databases run in separate processes,
forked from this one so that nothing is imported or configured twice; binds that share
a database run one after another in the same process. Steps and lock waits are sent
back to this process, which reports them as they come, so the output stays one whole
line per event.

Process hygiene: a worker whose parent dies stops before its next revision and exits;
a worker that dies fails only its own binds; Ctrl-C (or SIGTERM) stops every bind
before its next revision, and the results say what was applied.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import queue
import signal
import threading
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

from ..binds import Bind
from ..binds import database_identity
from ..exceptions import Interrupted
from ..exceptions import MigrationError
from ..exceptions import SchemaVerError
from ..options import RunOptions
from ..results import RunResult
from ..results import Step

#: Runs one bind as the options say, reporting through their callbacks.
BindRun = Callable[[Bind, RunOptions], RunResult]

#: How often the parent looks at its workers, and a worker at its parent (seconds).
_POLL = 0.05
_WATCH_PARENT = 0.5


def run_binds(
    binds: Sequence[Bind], options: RunOptions, run: BindRun, *, jobs: int
) -> list[RunResult]:
    """Run every bind, up to ``jobs`` databases at a time; results in ``binds`` order."""
    groups = _by_database(binds)
    if (
        jobs <= 1
        or len(groups) <= 1
        or "fork" not in multiprocessing.get_all_start_methods()
    ):
        return _run_group(list(binds), options, run)
    return _Parallel(binds, groups, options, run, jobs).run()


def _by_database(binds: Sequence[Bind]) -> list[list[Bind]]:
    groups: dict[tuple[Any, ...], list[Bind]] = {}
    for bind in binds:
        groups.setdefault(database_identity(bind.engine), []).append(bind)
    return list(groups.values())


def _run_group(binds: list[Bind], options: RunOptions, run: BindRun) -> list[RunResult]:
    """Run ``binds`` one after another; an interruption skips the rest."""
    results: list[RunResult] = []
    stop = ""
    for bind in binds:
        if stop:
            results.append(RunResult(bind.name, (), (), note=stop, outcome="skipped"))
            continue
        try:
            results.append(run(bind, options))
        except SchemaVerError as exc:
            results.append(RunResult(bind.name, (), (), outcome="failed", error=exc))
            if isinstance(exc, Interrupted):
                stop = "the run was interrupted"
            elif options.fail_fast:
                stop = "--fail-fast"
        except KeyboardInterrupt:  # between two binds' runs
            error = Interrupted("interrupted before it started", bind.name)
            results.append(RunResult(bind.name, (), (), outcome="failed", error=error))
            stop = "the run was interrupted"
    return results


class _Parallel:
    """One worker process per database, at most ``jobs`` at a time."""

    def __init__(
        self,
        binds: Sequence[Bind],
        groups: list[list[Bind]],
        options: RunOptions,
        run: BindRun,
        jobs: int,
    ) -> None:
        self.binds = binds
        self.waiting = list(enumerate(groups))
        self.groups = groups
        self.options = options
        self.run_bind = run
        self.jobs = jobs
        self.context = multiprocessing.get_context("fork")
        self.events = self.context.Queue()
        #: Set to stop every worker before its next revision.
        self.stop = self.context.Event()
        #: Ctrl-C or SIGTERM received by this process (the workers count their own).
        self.interrupts = 0
        self.running: dict[int, Any] = {}
        self.results: dict[int, list[RunResult]] = {}

    def run(self) -> list[RunResult]:
        try:
            while True:
                try:
                    self._loop()
                    break
                except KeyboardInterrupt:
                    # Ctrl-C or SIGTERM: no revision starts any more; the workers
                    # stop after the ones they are running. A second one stops
                    # those too, whether or not it reached the workers themselves.
                    self.interrupts += 1
                    if self.interrupts > 1:
                        self._stop_now()
                    self.stop.set()
                    self.waiting.clear()
        finally:
            self._finish()
        by_name = {r.bind: r for results in self.results.values() for r in results}
        why = "the run was interrupted" if self.stop.is_set() else "--fail-fast"
        return [
            by_name.get(b.name)
            or RunResult(b.name, (), (), note=why, outcome="skipped")
            for b in self.binds
        ]

    def _loop(self) -> None:
        while self.waiting or self.running:
            self._start_workers()
            self._relay(timeout=_POLL)
            self._reap()

    def _start_workers(self) -> None:
        failed = any(r.outcome == "failed" for rs in self.results.values() for r in rs)
        while self.waiting and len(self.running) < self.jobs:
            if self.stop.is_set() or (failed and self.options.fail_fast):
                self.waiting.clear()
                return
            index, group = self.waiting.pop(0)
            process = self.context.Process(
                target=_work,
                args=(self, index, [b.name for b in group], os.getpid()),
                daemon=True,
            )
            process.start()
            self.running[index] = process

    def _relay(self, timeout: float) -> None:
        """Hand what the workers sent to the callbacks; keep their results."""
        while True:
            try:
                kind, payload = self.events.get(timeout=timeout)
            except queue.Empty:
                return
            timeout = 0
            if kind == "result":
                index, results = payload
                self.results[index] = results
                continue
            callback = {
                "start": self.options.on_start,
                "step": self.options.on_step,
                "wait": self.options.on_wait,
                "progress": self.options.on_progress,
            }[kind]
            if callback is not None:
                callback(payload)

    def _reap(self) -> None:
        """Collect the workers that ended; one that died fails its own binds only."""
        for index, process in list(self.running.items()):
            if process.exitcode is None:
                continue
            process.join()
            del self.running[index]
            self._relay(timeout=0)  # what it sent before it ended is in the pipe
            if index not in self.results:
                self.results[index] = [
                    RunResult(
                        b.name,
                        (),
                        (),
                        outcome="failed",
                        error=_died(b, process.exitcode),
                    )
                    for b in self.groups[index]
                ]

    def _stop_now(self) -> None:
        for process in self.running.values():
            with contextlib.suppress(ProcessLookupError, TypeError):
                os.kill(process.pid, signal.SIGUSR1)

    def _finish(self) -> None:
        for process in self.running.values():
            with contextlib.suppress(Exception):
                process.kill()
                process.join()
        self.events.close()


def _died(bind: Bind, exitcode: int) -> SchemaVerError:
    how = (
        f"was killed by {signal.Signals(-exitcode).name}"
        if exitcode < 0
        else f"exited with status {exitcode}"
    )
    return MigrationError(
        f"the worker process migrating this bind {how}; the revision it was running "
        f"may not have finished: see 'flask db status --bind {bind.name}'",
        bind.name,
    )


def _work(job: _Parallel, index: int, names: list[str], parent: int) -> None:
    """A worker: run its binds, send their results, exit."""
    _watch_parent(job, parent)
    by_name = {b.name: b for b in job.binds}
    for bind in by_name.values():
        # Connections opened by the parent belong to it; the worker opens its own.
        bind.engine.dispose(close=False)

    def send(kind: str) -> Callable[[Any], None]:
        return lambda payload: job.events.put((kind, payload))

    def on_start(step: Step) -> None:
        if job.stop.is_set():
            raise KeyboardInterrupt  # stop before this revision starts
        if job.options.on_start is not None:
            send("start")(step)

    options = dataclasses.replace(
        job.options,
        on_start=on_start,
        on_step=send("step") if job.options.on_step else None,
        on_wait=send("wait") if job.options.on_wait else None,
        on_progress=send("progress") if job.options.on_progress else None,
    )
    results = _run_group([by_name[n] for n in names], options, job.run_bind)
    job.events.put(("result", (index, results)))


def _watch_parent(job: _Parallel, parent: int) -> None:
    """Stop this worker before its next revision once its parent is gone, or at the
    first Ctrl-C or SIGTERM; at the second, stop the running revision too."""
    signals: list[int] = []

    def on_signal(signum: int, frame: Any) -> None:
        signals.append(signum)
        job.stop.set()
        if len(signals) > 1:
            raise KeyboardInterrupt

    def stop_now(signum: int, frame: Any) -> None:
        job.stop.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGUSR1, stop_now)

    def watch() -> None:
        while not job.stop.wait(_WATCH_PARENT):
            if os.getppid() != parent:
                job.stop.set()
                return

    threading.Thread(target=watch, daemon=True).start()
