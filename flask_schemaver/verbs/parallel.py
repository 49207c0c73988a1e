"""Running upgrade, downgrade or stamp on several binds at once.

Binds on different databases run in separate processes, forked from this one so that
nothing is imported or configured twice; binds that share a database run one after
another in the same process. Steps and lock waits are sent back to this process, which
reports them as they come, so the output stays one whole line per event.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import queue
from collections.abc import Callable
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED
from concurrent.futures import Future
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import wait
from typing import Any

from ..binds import Bind
from ..binds import database_identity
from ..exceptions import SchemaVerError
from ..options import RunOptions
from ..results import RunResult

#: Runs one bind as the options say, reporting through their callbacks.
BindRun = Callable[[Bind, RunOptions], RunResult]

# What a forked worker needs; set in the parent just before the workers are forked.
_job: tuple[dict[str, Bind], BindRun, RunOptions, Any] | None = None


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
    return _run_parallel(binds, groups, options, run, jobs)


def _by_database(binds: Sequence[Bind]) -> list[list[Bind]]:
    groups: dict[tuple[Any, ...], list[Bind]] = {}
    for bind in binds:
        groups.setdefault(database_identity(bind.engine), []).append(bind)
    return list(groups.values())


def _run_group(binds: list[Bind], options: RunOptions, run: BindRun) -> list[RunResult]:
    results: list[RunResult] = []
    failed = False
    for bind in binds:
        if failed and options.fail_fast:
            results.append(RunResult(bind.name, (), (), outcome="skipped"))
            continue
        try:
            results.append(run(bind, options))
        except SchemaVerError as exc:
            failed = True
            results.append(RunResult(bind.name, (), (), outcome="failed", error=exc))
    return results


def _run_parallel(
    binds: Sequence[Bind],
    groups: list[list[Bind]],
    options: RunOptions,
    run: BindRun,
    jobs: int,
) -> list[RunResult]:
    global _job
    context = multiprocessing.get_context("fork")
    events = context.Queue()
    _job = ({b.name: b for b in binds}, run, options, events)
    fail_fast = options.fail_fast
    by_name: dict[str, RunResult] = {}
    try:
        with ProcessPoolExecutor(
            max_workers=min(jobs, len(groups)),
            mp_context=context,
            initializer=_start_worker,
        ) as pool:
            pending: set[Future[list[RunResult]]] = {
                pool.submit(_work, [b.name for b in group]) for group in groups
            }
            while pending:
                _relay(events, options)
                done, pending = wait(pending, timeout=0.05, return_when=FIRST_COMPLETED)
                for future in done:
                    for result in future.result():
                        by_name[result.bind] = result
                if fail_fast and any(r.outcome == "failed" for r in by_name.values()):
                    for future in pending:
                        future.cancel()
                    pending = {f for f in pending if not f.cancelled()}
        # The workers have exited, so everything they sent is in the pipe by now.
        _relay(events, options)
    finally:
        _job = None
        events.close()
    return [
        by_name.get(b.name) or RunResult(b.name, (), (), outcome="skipped")
        for b in binds
    ]


def _relay(events: Any, options: RunOptions) -> None:
    """Hand what the workers sent to the parent's callbacks."""
    while True:
        try:
            kind, payload = events.get_nowait()
        except queue.Empty:
            return
        callback = {
            "start": options.on_start,
            "step": options.on_step,
            "wait": options.on_wait,
        }[kind]
        if callback is not None:
            callback(payload)


def _start_worker() -> None:
    assert _job is not None
    for bind in _job[0].values():
        # Connections opened by the parent belong to it; the worker opens its own.
        bind.engine.dispose(close=False)


def _work(names: list[str]) -> list[RunResult]:
    assert _job is not None
    binds, run, options, events = _job

    def send(kind: str) -> Callable[[Any], None]:
        return lambda payload: events.put((kind, payload))

    in_worker = dataclasses.replace(
        options,
        on_start=send("start") if options.on_start else None,
        on_step=send("step") if options.on_step else None,
        on_wait=send("wait") if options.on_wait else None,
    )
    return _run_group([binds[n] for n in names], in_worker, run)
