"""Fewer pauses for Python's garbage collector while a command works.

A command runs in a process that holds the app, its models and Alembic: with a few
hundred models, hundreds of thousands of objects. Every full collection walks all of
them, and reflecting or migrating a large schema allocates enough to trigger many, each
finding nothing to free among the app's objects, which live as long as the process. So
a command moves the objects alive when it starts out of the collector's reach
(``gc.freeze()``) and back when it ends (``gc.unfreeze()``): what the command itself
allocates is still collected as usual, and nothing the app made before is kept for
longer than the command. On ``check`` with 1,000 models this saves about a third of
the time it spends comparing. It also keeps the workers of ``--jobs``, forked during a
run, from copying the pages of those objects.

This module must not import Alembic.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_depth = 0


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Keep the objects alive now out of the garbage collector's reach for the block."""
    global _depth
    _depth += 1
    if _depth == 1:
        gc.freeze()
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0:
            gc.unfreeze()
