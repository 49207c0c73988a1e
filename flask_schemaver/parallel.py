"""Running upgrade, downgrade or stamp on several binds at once.

Binds on different databases run in separate processes, forked from this one so that
nothing is imported or configured twice; binds that share a database run one after
another in the same process. Steps and lock waits are sent back to this process, which
reports them as they come, so the output stays one whole line per event.
"""

from __future__ import annotations

import multiprocessing
import queue
from collections.abc import Callable
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED
from concurrent.futures import Future
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import wait
from typing import Any

from .binds import Bind
from .binds import database_identity
from .exceptions import SchemaVerError
from .locking import WaitCallback
from .results import RunResult
from .results import Step

StepCallback = Callable[[Step], None]
#: Runs one bind, reporting through the two callbacks given.
BindRun = Callable[[Bind, StepCallback | None, WaitCallback | None], RunResult]

# What a forked worker needs; set in the parent just before the workers are forked.
_job: tuple[dict[str, Bind], BindRun, Any] | None = None


def run_binds(
    binds: Sequence[Bind],
    run: BindRun,
    *,
    jobs: int,
    fail_fast: bool,
    on_step: StepCallback | None = None,
    on_wait: WaitCallback | None = None,
) -> list[RunResult]:
    """Run every bind, up to ``jobs`` databases at a time; results in ``binds`` order."""
    groups = _by_database(binds)
    if (
        jobs <= 1
        or len(groups) <= 1
        or "fork" not in multiprocessing.get_all_start_methods()
    ):
        return _run_group(list(binds), run, fail_fast, on_step, on_wait)
    return _run_parallel(binds, groups, run, jobs, fail_fast, on_step, on_wait)


def _by_database(binds: Sequence[Bind]) -> list[list[Bind]]:
    groups: dict[tuple[Any, ...], list[Bind]] = {}
    for bind in binds:
        groups.setdefault(database_identity(bind.engine), []).append(bind)
    return list(groups.values())


def _run_group(
    binds: list[Bind],
    run: BindRun,
    fail_fast: bool,
    on_step: StepCallback | None,
    on_wait: WaitCallback | None,
) -> list[RunResult]:
    results: list[RunResult] = []
    failed = False
    for bind in binds:
        if failed and fail_fast:
            results.append(RunResult(bind.name, (), (), outcome="skipped"))
            continue
        try:
            results.append(run(bind, on_step, on_wait))
        except SchemaVerError as exc:
            failed = True
            results.append(RunResult(bind.name, (), (), outcome="failed", error=exc))
    return results


def _run_parallel(
    binds: Sequence[Bind],
    groups: list[list[Bind]],
    run: BindRun,
    jobs: int,
    fail_fast: bool,
    on_step: StepCallback | None,
    on_wait: WaitCallback | None,
) -> list[RunResult]:
    global _job
    context = multiprocessing.get_context("fork")
    events = context.Queue()
    _job = ({b.name: b for b in binds}, run, events)
    by_name: dict[str, RunResult] = {}
    try:
        with ProcessPoolExecutor(
            max_workers=min(jobs, len(groups)),
            mp_context=context,
            initializer=_start_worker,
        ) as pool:
            pending: set[Future[list[RunResult]]] = {
                pool.submit(_work, [b.name for b in group], fail_fast)
                for group in groups
            }
            while pending:
                _relay(events, on_step, on_wait)
                done, pending = wait(pending, timeout=0.05, return_when=FIRST_COMPLETED)
                for future in done:
                    for result in future.result():
                        by_name[result.bind] = result
                if fail_fast and any(r.outcome == "failed" for r in by_name.values()):
                    for future in pending:
                        future.cancel()
                    pending = {f for f in pending if not f.cancelled()}
        # The workers have exited, so everything they sent is in the pipe by now.
        _relay(events, on_step, on_wait)
    finally:
        _job = None
        events.close()
    return [
        by_name.get(b.name) or RunResult(b.name, (), (), outcome="skipped")
        for b in binds
    ]


def _relay(
    events: Any, on_step: StepCallback | None, on_wait: WaitCallback | None
) -> None:
    while True:
        try:
            kind, payload = events.get_nowait()
        except queue.Empty:
            return
        callback = on_step if kind == "step" else on_wait
        if callback is not None:
            callback(payload)


def _start_worker() -> None:
    assert _job is not None
    for bind in _job[0].values():
        # Connections opened by the parent belong to it; the worker opens its own.
        bind.engine.dispose(close=False)


def _work(names: list[str], fail_fast: bool) -> list[RunResult]:
    assert _job is not None
    binds, run, events = _job

    def on_step(step: Step) -> None:
        events.put(("step", step))

    def on_wait(wait: Any) -> None:
        events.put(("wait", wait))

    return _run_group([binds[n] for n in names], run, fail_fast, on_step, on_wait)
