"""Running upgrade, downgrade or stamp on several binds, one after another or at once.

With ``jobs`` above one, binds on different databases (and tenants in different
schemas) run in up to ``jobs`` worker processes, forked from this one so that nothing is
imported or configured twice, nor revision files read again: each worker is handed one
database's binds after another's until none is left, reusing what it has loaded. Binds
that share a database run one after another in the same worker. Steps and lock waits
are sent back to this process, which reports them as they come, so the output stays one
whole line per event.

Process hygiene: a worker whose parent dies stops before its next revision and exits;
a worker that dies fails only the binds it was running; Ctrl-C (or SIGTERM) stops every
bind before its next revision, and the results say what was applied.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import itertools
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
    binds: Sequence[Bind],
    options: RunOptions,
    run: BindRun,
    *,
    jobs: int,
    per_server: int | None = None,
) -> list[RunResult]:
    """Run every bind, up to ``jobs`` databases at a time, and up to ``per_server``
    of them on one database server (None: no limit but ``jobs``); results in
    ``binds`` order."""
    groups = _by_database(binds)
    if (
        jobs <= 1
        or len(groups) <= 1
        or "fork" not in multiprocessing.get_all_start_methods()
    ):
        return _run_group(list(binds), options, run)
    return _Parallel(binds, groups, options, run, jobs, per_server).run()


def _by_database(binds: Sequence[Bind]) -> list[list[int]]:
    """The binds' positions, grouped by database (a tenant's schema counting as one)."""
    groups: dict[tuple[Any, ...], list[int]] = {}
    for index, bind in enumerate(binds):
        key = (*database_identity(bind.engine), bind.tenant_schema)
        groups.setdefault(key, []).append(index)
    return list(groups.values())


def _server(bind: Bind) -> tuple[Any, ...]:
    """The database server ``bind`` is on: its kind, host and port. SQLite files,
    on none, count as one."""
    return database_identity(bind.engine)[:3]


def _run_group(binds: list[Bind], options: RunOptions, run: BindRun) -> list[RunResult]:
    """Run ``binds`` one after another; an interruption skips the rest."""
    results: list[RunResult] = []
    stop = ""
    for bind in binds:
        if stop:
            results.append(_skipped(bind, stop))
            continue
        try:
            result = run(bind, options)
        except SchemaVerError as exc:
            result = _failed(bind, exc)
            if isinstance(exc, Interrupted):
                stop = "the run was interrupted"
            elif options.fail_fast:
                stop = "--fail-fast"
        except KeyboardInterrupt:  # between two binds' runs
            result = _failed(
                bind, Interrupted("interrupted before it started", bind.name)
            )
            stop = "the run was interrupted"
        result.tenant = bind.tenant
        results.append(result)
        if options.on_result is not None:
            options.on_result(result)
    return results


def _failed(bind: Bind, error: SchemaVerError) -> RunResult:
    error.tenant = bind.tenant
    return RunResult(
        bind.name, (), (), outcome="failed", error=error, tenant=bind.tenant
    )


def _skipped(bind: Bind, why: str) -> RunResult:
    return RunResult(bind.name, (), (), note=why, outcome="skipped", tenant=bind.tenant)


class _Parallel:
    """Up to ``jobs`` worker processes, each running one database's binds after
    another's, as the parent hands them out, until none is left."""

    def __init__(
        self,
        binds: Sequence[Bind],
        groups: list[list[int]],
        options: RunOptions,
        run: BindRun,
        jobs: int,
        per_server: int | None = None,
    ) -> None:
        self.binds = list(binds)
        self.groups = groups
        #: The server of each group, and how many groups may run on one at once.
        self.servers = [_server(self.binds[group[0]]) for group in groups]
        self.per_server = per_server
        self.waiting = collections.deque(range(len(groups)))
        self.options = options
        self.run_bind = run
        self.jobs = jobs
        self.context = multiprocessing.get_context("fork")
        self.events = self.context.Queue()
        #: Set to stop every worker before its next revision.
        self.stop = self.context.Event()
        #: Ctrl-C or SIGTERM received by this process (the workers count their own).
        self.interrupts = 0
        #: Each worker: its process, the pipe its work goes down, and the group it
        #: runs (None between two).
        self.workers: dict[int, _Worker] = {}
        self.numbers = itertools.count()
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
        found: dict[int, RunResult] = {}
        for index, results in self.results.items():
            found.update(zip(self.groups[index], results, strict=True))
        why = "the run was interrupted" if self.stop.is_set() else "--fail-fast"
        results = []
        for i, b in enumerate(self.binds):
            if i not in found:
                found[i] = _skipped(b, why)
                self._tell([found[i]])
            results.append(found[i])
        return results

    def _loop(self) -> None:
        while self.waiting or self.workers:
            self._start_workers()
            self._relay(timeout=_POLL)
            self._reap()

    def _next_group(self) -> int | None:
        """The next group to hand out; None when there is none, or no more may
        start (stopped, or --fail-fast after a failure)."""
        failed = any(r.outcome == "failed" for rs in self.results.values() for r in rs)
        if self.stop.is_set() or (failed and self.options.fail_fast):
            self.waiting.clear()
        if self.per_server is None:
            return self.waiting.popleft() if self.waiting else None
        # The first group waiting whose server has room: a worker whose group is
        # not done yet holds a place on its server.
        busy = collections.Counter(
            self.servers[w.group]
            for w in self.workers.values()
            if w.group is not None and w.group not in self.results
        )
        for index in self.waiting:
            if busy[self.servers[index]] < self.per_server:
                self.waiting.remove(index)
                return index
        return None

    def _start_workers(self) -> None:
        while self.waiting and len(self.workers) < self.jobs:
            index = self._next_group()
            if index is None:
                return
            number = next(self.numbers)
            receive, send = self.context.Pipe(duplex=False)
            process = self.context.Process(
                target=_work, args=(self, number, receive, os.getpid()), daemon=True
            )
            process.start()
            receive.close()
            self.workers[number] = _Worker(process, send, index)
            send.send(index)

    def _relay(self, timeout: float) -> None:
        """Hand what the workers sent to the callbacks; keep their results, and give
        a worker that finished a group the next one."""
        while True:
            try:
                kind, payload = self.events.get(timeout=timeout)
            except queue.Empty:
                return
            timeout = 0
            if kind == "result":
                number, index, results = payload
                self._keep(index, results)
                self._hand_out(number)
                continue
            callback = {
                "start": self.options.on_start,
                "step": self.options.on_step,
                "wait": self.options.on_wait,
                "progress": self.options.on_progress,
            }[kind]
            if callback is not None:
                callback(payload)

    def _hand_out(self, number: int) -> None:
        worker = self.workers.get(number)
        if worker is None:
            return
        worker.group = self._next_group()
        with contextlib.suppress(OSError):  # it died meanwhile: _reap sees to it
            worker.pipe.send(worker.group)

    def _reap(self) -> None:
        """Collect the workers that ended; one that died fails its own group only."""
        for number, worker in list(self.workers.items()):
            if worker.process.exitcode is None:
                continue
            worker.process.join()
            del self.workers[number]
            worker.pipe.close()
            self._relay(timeout=0)  # what it sent before it ended is in the pipe
            index = worker.group
            if index is None or index in self.results:
                continue
            code = worker.process.exitcode
            binds = [self.binds[i] for i in self.groups[index]]
            if code == 0:  # stopped before it started the group
                self._keep(
                    index, [_skipped(b, "the run was interrupted") for b in binds]
                )
            else:
                self._keep(index, [_failed(b, _died(b, code)) for b in binds])

    def _keep(self, index: int, results: list[RunResult]) -> None:
        """Keep a group's results, and tell ``on_result`` about each."""
        self.results[index] = results
        self._tell(results)

    def _tell(self, results: list[RunResult]) -> None:
        if self.options.on_result is not None:
            for result in results:
                self.options.on_result(result)

    def _stop_now(self) -> None:
        for worker in self.workers.values():
            with contextlib.suppress(ProcessLookupError, TypeError):
                os.kill(worker.process.pid, signal.SIGUSR1)

    def _finish(self) -> None:
        for worker in self.workers.values():
            with contextlib.suppress(Exception):
                worker.process.kill()
                worker.process.join()
        self.events.close()


@dataclasses.dataclass
class _Worker:
    process: Any
    pipe: Any
    group: int | None


def _died(bind: Bind, exitcode: int) -> SchemaVerError:
    how = (
        f"was killed by {signal.Signals(-exitcode).name}"
        if exitcode < 0
        else f"exited with status {exitcode}"
    )
    return MigrationError(
        f"the worker process migrating this bind {how}; the revision it was running "
        f"may not have finished: see 'flask db status --bind {bind.selector}'",
        bind.name,
    )


def _work(job: _Parallel, number: int, work: Any, parent: int) -> None:
    """A worker: run the groups of binds it is handed, one at a time, sending each
    group's results, until it is handed None, told to stop, or its parent is gone."""
    _watch_parent(job, parent)
    pools = {id(b.engine.pool): b.engine for b in job.binds}
    for engine in pools.values():
        # Connections opened by the parent belong to it; the worker opens its own.
        engine.dispose(close=False)

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
        on_result=None,  # the parent tells it, as each group's results come back
    )
    while True:
        while not work.poll(_WATCH_PARENT):
            if job.stop.is_set():
                return
        try:
            index = work.recv()
        except EOFError:
            return
        if index is None:
            return
        binds = [job.binds[i] for i in job.groups[index]]
        results = _run_group(binds, options, job.run_bind)
        job.events.put(("result", (number, index, results)))


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
