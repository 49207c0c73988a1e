"""Resumable backfills for revision files: update a big table in primary-key batches.

.. code-block:: python

    from alembic import op
    import sqlalchemy as sa

    from flask_schemaver.backfills import backfill


    def upgrade():
        with op.get_context().autocommit_block():
            backfill(
                "user",
                {"full_name": sa.text("first_name || ' ' || last_name")},
                where="full_name IS NULL",
                batch_size=5000,
            )

Each batch is committed on its own, so no lock lasts longer than one batch, and the
position reached is committed with it: a run that stops (Ctrl-C, a crash, a deploy that
times out) continues where it stopped the next time the revision runs. That is why the
call sits in ``autocommit_block()``, Alembic's documented way out of the revision's
transaction: everything before it in ``upgrade()`` is committed first.

Importing this module is cheap: Alembic is imported when :func:`backfill` runs.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

__all__ = ["backfill"]


def backfill(
    table: str | sa.Table,
    values: Mapping[str, Any],
    *,
    where: Any = None,
    batch_size: int = 1000,
    pause: float = 0.0,
    schema: str | None = None,
    key: str | Sequence[str] | None = None,
    name: str | None = None,
) -> int:
    """Set ``values`` on the rows of ``table`` (matching ``where``), a batch of
    primary keys at a time, each batch committed with the position reached.

    Call it in a revision's ``upgrade()`` (or ``downgrade()``), inside
    ``with op.get_context().autocommit_block():``. Progress is reported through the
    run's output (``flask db upgrade`` prints it; from Python, ``on_progress``).

    :param table: the table's name, or a :class:`~sqlalchemy.Table`.
    :param values: column name to new value: a Python value, or a SQL expression
        such as ``sa.text("first_name || ' ' || last_name")``.
    :param where: only rows matching this are changed: SQL text or an expression.
        Rows outside it are still visited, by key, so it can't make a batch slow.
    :param batch_size: keys per batch, each batch one transaction.
    :param pause: seconds to wait between batches, to leave room for other work
        (replicas catching up, say).
    :param schema: the table's schema, when not the default one.
    :param key: the column(s) to batch by; the primary key by default. They must be
        unique and ordered.
    :param name: the name the position is kept under; by default the revision's id,
        the table and the columns set. Give one to run two backfills of the same
        columns in one revision.
    :return: the number of rows changed in this run (0 when recorded for a plan).
    """
    from alembic import op

    from .runtime.backfill import BackfillOp

    if batch_size < 1:
        from .exceptions import UsageError

        raise UsageError(f"backfill batch_size must be 1 or more, not {batch_size}")
    if isinstance(table, sa.Table):
        schema = schema or table.schema
        table = table.name
    keys = (key,) if isinstance(key, str) else tuple(key or ())
    revision = _calling_revision()
    operation = BackfillOp(
        table_name=table,
        values=dict(values),
        where=where,
        batch_size=batch_size,
        pause=pause,
        schema=schema,
        key=keys,
        name=name or ":".join([revision, table, ",".join(sorted(values))]),
        revision=revision,
    )
    op.invoke(operation)
    return operation.updated


def _calling_revision() -> str:
    """The ``revision`` of the revision file that called :func:`backfill`, if any."""
    frame = sys._getframe(2)
    while frame is not None:
        revision = frame.f_globals.get("revision")
        if isinstance(revision, str) and "down_revision" in frame.f_globals:
            return revision
        frame = frame.f_back  # type: ignore[assignment]
    return ""
