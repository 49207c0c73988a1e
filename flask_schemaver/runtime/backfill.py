"""Backfills in primary-key batches, each committed on its own, resumable.

:func:`flask_schemaver.backfills.backfill` hands a :class:`BackfillOp` to Alembic's
``op``. Run against a database, the operation updates the table a batch of keys at a
time on a connection of its own, each batch and the position reached committed
together, so that no lock is held for longer than one batch and a run that stops is
continued where it stopped. Recorded (``upgrade --plan``, ``flask db lint``), it is
only listed; written as SQL (``--sql``), it is refused: it needs the database.

The position is kept in a table beside the bind's version table
(``<version_table>_backfill``). A finished backfill's row is deleted in the same
transaction that records its revision as applied, so a run that stops between the two
does not update the rows again, and a later downgrade and upgrade backfills anew.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic.operations import Operations
from alembic.operations import ops

from ..exceptions import MigrationError
from ..exceptions import UsageError
from ..results import BackfillProgress
from . import connections

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext

    from ..binds import Bind

#: Config attribute: the run's progress callback (set by the environment).
ON_PROGRESS = "schemaver.on_progress"
#: Config attribute: names of the backfills finished in this process, to forget
#: once their revision is recorded as applied.
FINISHED = "schemaver.backfills_finished"


@dataclass
class BackfillOp(ops.MigrateOperation):
    """A resumable, batched ``UPDATE`` of one table."""

    table_name: str
    values: Mapping[str, Any]
    where: Any = None
    batch_size: int = 1000
    pause: float = 0.0
    schema: str | None = None
    key: tuple[str, ...] = ()
    name: str = ""
    #: The revision whose code asked for it, when known.
    revision: str = ""
    #: Rows the run changed (set once it ran).
    updated: int = field(default=0, compare=False)

    def reverse(self) -> ops.MigrateOperation:
        raise NotImplementedError("a backfill has no reverse")

    def describe(self) -> str:
        """``backfill user: set full_name (batches of 1000, each committed)``."""
        target = f"{self.schema}.{self.table_name}" if self.schema else self.table_name
        where = f" where {_sql(self.where)}" if self.where is not None else ""
        return (
            f"backfill {target}: set {', '.join(self.values)}{where} (batches of "
            f"{self.batch_size}, each committed)"
        )


def _sql(clause: Any) -> str:
    text = " ".join(str(clause).split())
    return text if len(text) <= 60 else text[:59] + "…"


@Operations.implementation_for(BackfillOp)
def _run(operations: Operations, operation: BackfillOp) -> None:
    context = operations.migration_context
    if context.as_sql:
        raise MigrationError(
            f"backfill of {operation.table_name} needs the database: it runs in "
            "batches and can't be written as SQL; run this revision without --sql"
        )
    connection = context.connection
    assert connection is not None
    options = connection.get_execution_options()
    if options.get("isolation_level") != "AUTOCOMMIT":
        raise MigrationError(
            f"backfill of {operation.table_name} commits each batch on its own, so it "
            "can't run inside the revision's transaction: call it inside 'with "
            "op.get_context().autocommit_block():'"
        )
    operation.updated = _Backfill(context, operation).run()


class _Backfill:
    """One backfill run against the database."""

    def __init__(self, context: MigrationContext, operation: BackfillOp) -> None:
        self.context = context
        self.op = operation
        config = (
            context.environment_context.config if context.environment_context else None
        )
        self.attributes: dict[str, Any] = config.attributes if config else {}
        #: The bind the revision runs for; None outside flask_schemaver's runs.
        self.bind: Bind | None = self.attributes.get("schemaver.bind")
        self.engine = context.connection.engine  # type: ignore[union-attr]
        self.positions = position_table(
            context.version_table, context.version_table_schema
        )

    def run(self) -> int:
        with self._connect() as work:
            table = self._table(work)
            keys = self._keys(table)
            self.positions.create(work, checkfirst=True)
            work.commit()
            last, done, finished = self._position(work)
            if finished:
                self._finished()
                return 0
            total = done + _count(work, keys, last)
            work.commit()
            return self._batches(work, table, keys, last, done, total)

    def _connect(self) -> AbstractContextManager[sa.Connection]:
        """The backfill's own connection: as the revision's, bounded by
        ``SCHEMAVER_CONNECT_TIMEOUT`` and in the tenant's schema; the engine's own
        when run without a bind."""
        if self.bind is None:
            return self.engine.connect()
        return connections.connect(self.bind, migrating=True)

    def _batches(
        self,
        work: sa.Connection,
        table: sa.Table,
        keys: list[sa.Column[Any]],
        last: list[Any] | None,
        done: int,
        total: int,
    ) -> int:
        started = time.monotonic()
        first_done = done
        updated = 0
        values = {name: _value(v) for name, v in self.op.values.items()}
        where = self.op.where
        if isinstance(where, str):
            where = sa.text(where)
        while True:
            upper, full = _upper(work, keys, last, self.op.batch_size)
            work.commit()
            if upper is None:
                break
            with work.begin():
                update = (
                    sa.update(table).where(_range(keys, last, upper)).values(values)
                )
                if where is not None:
                    update = update.where(where)
                updated += max(work.execute(update).rowcount, 0)
                done = done + self.op.batch_size if full else total
                self._save(work, upper, done, finished=False)
            last = upper
            self._report(table, done, max(total, done), updated, started, first_done)
            if self.op.pause and full:
                time.sleep(self.op.pause)
        with work.begin():
            self._save(work, last, max(done, total), finished=True)
        self._report(
            table,
            max(done, total),
            max(done, total),
            updated,
            started,
            first_done,
            finished=True,
        )
        self._finished()
        return updated

    def _table(self, work: sa.Connection) -> sa.Table:
        try:
            return sa.Table(
                self.op.table_name,
                sa.MetaData(),
                schema=self.op.schema,
                autoload_with=work,
            )
        except sa.exc.NoSuchTableError:
            raise MigrationError(
                f"backfill of {self.op.table_name}: there is no such table"
            ) from None

    def _keys(self, table: sa.Table) -> list[sa.Column[Any]]:
        names = list(self.op.key) or [c.name for c in table.primary_key.columns]
        if not names:
            raise UsageError(
                f"backfill of {table.name}: the table has no primary key; name "
                "unique, ordered columns to batch by with key=..."
            )
        missing = [n for n in names if n not in table.c]
        if missing:
            raise UsageError(
                f"backfill of {table.name}: no column {', '.join(missing)} to batch by"
            )
        return [table.c[n] for n in names]

    def _position(self, work: sa.Connection) -> tuple[list[Any] | None, int, bool]:
        row = work.execute(
            sa.select(
                self.positions.c.last_key,
                self.positions.c.done,
                self.positions.c.finished,
            ).where(self.positions.c.name == self.op.name)
        ).first()
        work.commit()
        if row is None:
            return None, 0, False
        last = json.loads(row.last_key) if row.last_key else None
        return last, int(row.done or 0), bool(row.finished)

    def _save(
        self, work: sa.Connection, last: list[Any] | None, done: int, *, finished: bool
    ) -> None:
        values = {
            "last_key": json.dumps(last, default=str) if last is not None else None,
            "done": done,
            "finished": finished,
            "revision": self.op.revision or None,
        }
        changed = work.execute(
            sa.update(self.positions)
            .where(self.positions.c.name == self.op.name)
            .values(values)
        ).rowcount
        if not changed:
            work.execute(sa.insert(self.positions).values(name=self.op.name, **values))

    def _finished(self) -> None:
        self.attributes.setdefault(FINISHED, []).append(self.op.name)

    def _report(
        self,
        table: sa.Table,
        done: int,
        total: int,
        updated: int,
        started: float,
        first_done: int,
        *,
        finished: bool = False,
    ) -> None:
        callback = self.attributes.get(ON_PROGRESS)
        if callback is None:
            return
        seconds = time.monotonic() - started
        rate = (done - first_done) / seconds if seconds > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else None
        bind = self.bind
        callback(
            BackfillProgress(
                table=table.name,
                done=done,
                total=total,
                updated=updated,
                rate=rate,
                eta=eta,
                finished=finished,
                bind=getattr(bind, "name", ""),
                revision=self.op.revision,
                tenant=getattr(bind, "tenant", None),
            )
        )


def _value(value: Any) -> Any:
    return value


def _count(
    work: sa.Connection, keys: list[sa.Column[Any]], last: list[Any] | None
) -> int:
    query = sa.select(sa.func.count()).select_from(keys[0].table)
    if last is not None:
        query = query.where(_after(keys, last))
    return int(work.execute(query).scalar() or 0)


def _after(keys: list[sa.Column[Any]], last: Sequence[Any]) -> Any:
    if len(keys) == 1:
        return keys[0] > last[0]
    return sa.tuple_(*keys) > sa.tuple_(*[sa.literal(v) for v in last])


def _upto(keys: list[sa.Column[Any]], upper: Sequence[Any]) -> Any:
    if len(keys) == 1:
        return keys[0] <= upper[0]
    return sa.tuple_(*keys) <= sa.tuple_(*[sa.literal(v) for v in upper])


def _range(
    keys: list[sa.Column[Any]], last: Sequence[Any] | None, upper: Sequence[Any]
) -> Any:
    if last is None:
        return _upto(keys, upper)
    return sa.and_(_after(keys, last), _upto(keys, upper))


def _upper(
    work: sa.Connection,
    keys: list[sa.Column[Any]],
    last: Sequence[Any] | None,
    size: int,
) -> tuple[list[Any] | None, bool]:
    """The key that ends the next batch, and whether the batch is full."""
    query = sa.select(*keys)
    if last is not None:
        query = query.where(_after(keys, last))
    row = work.execute(query.order_by(*keys).offset(size - 1).limit(1)).first()
    if row is not None:
        return list(row), True
    row = work.execute(query.order_by(*(k.desc() for k in keys)).limit(1)).first()
    return (list(row), False) if row is not None else (None, False)


def position_table(version_table: str, schema: str | None) -> sa.Table:
    """The table that keeps each backfill's position, beside the version table."""
    return sa.Table(
        f"{version_table}_backfill",
        sa.MetaData(),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("revision", sa.String(255)),
        sa.Column("last_key", sa.Text),
        sa.Column("done", sa.BigInteger, nullable=False, default=0),
        sa.Column("finished", sa.Boolean, nullable=False, default=False),
        schema=schema,
    )


def forget_finished(*, ctx: MigrationContext, **_: Any) -> None:
    """Alembic's ``on_version_apply``: in the transaction that records a revision as
    applied, delete the positions of the backfills it finished."""
    config = ctx.environment_context.config if ctx.environment_context else None
    names: list[str] = config.attributes.get(FINISHED, []) if config else []
    if not names or ctx.as_sql or ctx.connection is None:
        return
    table = position_table(ctx.version_table, ctx.version_table_schema)
    ctx.connection.execute(sa.delete(table).where(table.c.name.in_(names)))
    names.clear()
