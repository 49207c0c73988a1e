"""What a revision would do, without doing it: its operations, recorded.

Each revision's ``upgrade()`` (or ``downgrade()``) is run against an ``op`` that records
every operation instead of executing it, in Alembic's offline mode so that nothing can
reach a database. The records feed ``upgrade --plan`` and ``flask db lint``.
"""

from __future__ import annotations

import functools
import io
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic.operations import BatchOperations
from alembic.operations import Operations
from alembic.operations import ops
from alembic.runtime.migration import MigrationContext

from ..results import Revision

if TYPE_CHECKING:
    from alembic.script import Script

    from ..binds import Bind


@dataclass
class RecordedOperation:
    """One operation a revision asked for."""

    operation: ops.MigrateOperation
    #: Line of the revision file that asked for it (0 when unknown).
    line: int
    #: Table of the ``batch_alter_table`` block it came from, if any.
    batch_table: str | None = None


@dataclass
class RecordedRevision:
    """The operations of one direction of one revision."""

    revision: Revision
    is_upgrade: bool
    operations: list[RecordedOperation] = field(default_factory=list)
    #: Why recording stopped early, e.g. code that reads the database.
    error: str | None = None
    #: The file's text, for rules that read it (inline ignores, raw SQL).
    source: str = ""


class _Sink:
    def __init__(self, path: str) -> None:
        self.path = path
        self.recorded: list[RecordedOperation] = []

    def record(self, operation: ops.MigrateOperation, batch_table: str | None) -> None:
        line = 0
        for frame in reversed(traceback.extract_stack()):
            if frame.filename == self.path:
                line = frame.lineno or 0
                break
        self.recorded.append(RecordedOperation(operation, line, batch_table))


class _BatchTarget:
    """What batch operations read off their implementation: the table they alter."""

    def __init__(self, table_name: str, schema: str | None) -> None:
        self.table_name = table_name
        self.schema = schema


def _recording_operations(context: MigrationContext, sink: _Sink) -> Operations:
    """An ``Operations`` whose every operation is recorded instead of run.

    The instance is a plain ``Operations`` (Alembic's ``op`` proxy is set up for that
    class only) with ``invoke`` and ``batch_alter_table`` replaced on the instance.
    """
    operations = Operations(context)

    def invoke(operation: ops.MigrateOperation) -> Any:
        sink.record(operation, None)
        if isinstance(operation, ops.CreateTableOp):
            return operation.to_table(context)  # for op.bulk_insert(table, rows)
        return None

    @contextmanager
    def batch_alter_table(
        table_name: str, schema: str | None = None, **_: Any
    ) -> Iterator[BatchOperations]:
        batch = BatchOperations(context, impl=_BatchTarget(table_name, schema))  # type: ignore[arg-type]

        def invoke_in_batch(operation: ops.MigrateOperation) -> Any:
            sink.record(operation, table_name)

        setattr(batch, "invoke", invoke_in_batch)  # noqa: B010
        yield batch

    setattr(operations, "invoke", invoke)  # noqa: B010
    setattr(operations, "batch_alter_table", batch_alter_table)  # noqa: B010
    return operations


def record(bind: Bind, script: Script, *, is_upgrade: bool) -> RecordedRevision:
    """Run one direction of ``script`` against a recording ``op``; nothing is executed."""
    context = MigrationContext.configure(
        dialect=bind.engine.dialect,
        opts={"as_sql": True, "output_buffer": io.StringIO(), "literal_binds": True},
    )
    sink = _Sink(script.path)
    result = RecordedRevision(Revision.from_script(script), is_upgrade)
    try:
        with open(script.path, encoding="utf-8") as handle:
            result.source = handle.read()
    except OSError:
        pass
    operations = _recording_operations(context, sink)
    operations._install_proxy()
    try:
        with no_database():
            getattr(script.module, "upgrade" if is_upgrade else "downgrade")()
    except NotImplementedError:
        result.error = "raises NotImplementedError"
    except SystemExit as exc:
        result.error = f"ends the process with sys.exit({exc.code!r})"
    except DatabaseRefused as exc:
        result.error = str(exc)
    except (KeyboardInterrupt, GeneratorExit):
        raise
    except BaseException as exc:  # code that needs the live database, for one
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        operations._remove_proxy()
    result.operations = sink.recorded
    return result


class DatabaseRefused(Exception):
    """A revision reached for a database while it was being recorded."""


_recording = threading.local()


@contextmanager
def no_database() -> Iterator[None]:
    """Refuse every SQL statement this thread sends through SQLAlchemy in the ``with``
    block: the app's session or an engine of the revision's own included."""
    _listen_once()
    _recording.active = True
    try:
        yield
    finally:
        _recording.active = False


@functools.cache
def _listen_once() -> None:
    sa.event.listen(sa.engine.Engine, "before_cursor_execute", _refuse)


def _refuse(
    conn: sa.Connection,
    cursor: Any,
    statement: str,
    parameters: Any,
    context: Any,
    executemany: bool,
) -> None:
    if getattr(_recording, "active", False):
        first = " ".join(statement.split())[:60]
        raise DatabaseRefused(
            f"it reaches for a database ({first}), which recording never runs"
        )
