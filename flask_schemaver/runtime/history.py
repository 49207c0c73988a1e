"""The applied-revisions history kept next to each bind's version table.

Every upgrade, downgrade, stamp and acknowledgement writes one row: revision, direction,
checksum of the revision file, when, how long, by which host and user. The row is written
in the migration's own transaction, so it exists exactly when the migration does (on
databases with transactional DDL). ``status`` and ``check`` compare the checksums with
the files to catch a revision edited after it was applied.

This module must not import Alembic.
"""

from __future__ import annotations

import datetime
import functools
import getpass
import socket
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import replace
from typing import Any
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ..exceptions import MigrationError
from ..script import files as revision_files
from . import connections

if TYPE_CHECKING:
    from ..binds import Bind
    from ..results import BindStatus
    from ..results import Direction

#: Directions whose checksum is the one the database vouches for.
_VOUCHED: tuple[Direction, ...] = ("upgrade", "stamp", "acknowledge")
#: Rows written before a revision starts, on databases whose DDL commits as it runs.
STARTED: dict[bool, Direction] = {True: "started-up", False: "started-down"}


_tables: dict[tuple[str | None, str], sa.Table] = {}


def table(bind: Bind) -> sa.Table:
    """The history table of ``bind`` (not created by this call)."""
    key = (bind.version_table_schema, bind.history_table)
    if key not in _tables:
        # One Table per name, so SQLAlchemy compiles its INSERT once, not per step.
        _tables[key] = _new_table(bind)
    return _tables[key]


def _new_table(bind: Bind) -> sa.Table:
    return sa.Table(
        bind.history_table,
        sa.MetaData(),
        *columns(),
        schema=bind.version_table_schema,
    )


def columns() -> list[sa.Column[Any]]:
    """The history table's columns, new ones for a new table."""
    return [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("revision", sa.String(64), nullable=False),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("checksum", sa.String(64)),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seconds", sa.Float),
        sa.Column("host", sa.String(255)),
        sa.Column("username", sa.String(255)),
    ]


@functools.cache
def _who() -> tuple[str | None, str]:
    try:
        user: str | None = getpass.getuser()
    except Exception:  # no user name in this environment
        user = None
    return user, socket.gethostname()


def ensure(bind: Bind, connection: sa.Connection) -> None:
    """Create the bind's history table if it is missing; commits.

    A table of that name that is not a history table is refused before anything runs.
    """
    if _has_columns(bind, connection):
        connection.commit()
        return
    # Missing, not a history table, or not ours to read: reflection tells which.
    history = table(bind)
    inspector = sa.inspect(connection)
    schema = bind.version_table_schema
    if not inspector.has_table(bind.history_table, schema=schema):
        history.create(connection)
    else:
        columns = {c.name for c in history.columns}
        found = {c["name"] for c in inspector.get_columns(bind.history_table, schema)}
        if not columns <= found:
            connection.rollback()
            raise MigrationError(
                f"the table {bind.history_table!r} is not flask_schemaver's history "
                f"of applied revisions (it lacks {', '.join(sorted(columns - found))});"
                " rename that table, or set 'history': False for this bind in "
                "SCHEMAVER_BINDS",
                bind.name,
            )
        # Every column is there: the query failed for another reason (no right to
        # read the table, say), which writing history rows does not need.
    connection.commit()


def _has_columns(bind: Bind, connection: sa.Connection) -> bool:
    """Whether a table of the history table's name has all of its columns: one query
    that reads no row, as plain text (a fleet runs it for each tenant), rather than
    reflecting the table."""
    quote = connection.dialect.identifier_preparer.quote
    columns = ", ".join(quote(c.name) for c in table(bind).columns)
    name = connections.table_name(
        connection, bind.version_table_schema, bind.history_table
    )
    try:
        connection.exec_driver_sql(f"SELECT {columns} FROM {name} WHERE 1 = 0").all()
    except sa.exc.DBAPIError:
        connection.rollback()
        return False
    return True


def ensure_in(bind: Bind, connection: sa.Connection) -> None:
    """Create the bind's history table if it is missing, in the caller's transaction."""
    table(bind).create(connection, checkfirst=True)


def write(
    bind: Bind,
    connection: sa.Connection,
    *,
    revision: str,
    direction: Direction,
    path: str | None,
    seconds: float | None,
    digest: str | None = None,
) -> None:
    """Add one row, on ``connection`` (inside the caller's transaction). ``digest``
    is the file's checksum when it is known already."""
    values = row(
        revision, direction, digest or (revision_files.checksum(path) if path else None)
    )
    values["applied_at"] = datetime.datetime.now(datetime.timezone.utc)
    values["seconds"] = seconds
    connection.execute(_insert(table(bind)), values)


def row(revision: str, direction: Direction, digest: str | None) -> dict[str, Any]:
    """A row's values, but when it was applied and how long it took."""
    user, host = _who()
    return {
        "revision": revision,
        "direction": direction,
        "checksum": digest,
        "host": host,
        "username": user,
    }


@functools.cache
def _insert(history: sa.Table) -> sa.Insert:
    """One INSERT per history table, reused for every row: compiled once, and without
    fetching the new row's id back."""
    return history.insert().inline()


@dataclass(frozen=True)
class Applied:
    """What the history says about one revision."""

    revision: str
    applied_at: datetime.datetime
    checksum: str | None


@dataclass(frozen=True)
class Unfinished:
    """A revision whose run started and never finished, on a database whose DDL
    commits as it runs: part of its changes may be there."""

    revision: str
    #: True when it was being applied, False when it was being reverted.
    is_upgrade: bool
    started_at: datetime.datetime
    host: str | None
    username: str | None

    def describe(self) -> str:
        """E.g. ``upgrade of r2, started 2026-12-06 21:30:00 by ann on web1``."""
        verb = "upgrade" if self.is_upgrade else "downgrade"
        who = f" by {self.username or '?'} on {self.host or '?'}"
        return f"{verb} of {self.revision}, started {self.started_at:%Y-%m-%d %H:%M:%S}{who}"


@dataclass(frozen=True)
class History:
    """What a bind's history table says."""

    #: The latest vouched-for row per revision.
    applied: dict[str, Applied]
    #: Revisions whose last row says they started, and nothing since.
    unfinished: list[Unfinished]


def read(bind: Bind, connection: sa.Connection | None = None) -> dict[str, Applied]:
    """The latest vouched-for row per revision; {} when the bind keeps no history."""
    return read_all(bind, connection).applied


def read_all(bind: Bind, connection: sa.Connection | None = None) -> History:
    """The bind's history: applied revisions and unfinished runs."""
    if not bind.history:
        return History({}, [])
    if connection is not None:
        return _query(bind, connection)
    with connections.connect(bind) as conn:
        return _query(bind, conn)


def _query(bind: Bind, conn: sa.Connection) -> History:
    if not sa.inspect(conn).has_table(
        bind.history_table, schema=bind.version_table_schema
    ):
        return History({}, [])
    t = table(bind)
    rows = conn.execute(
        sa.select(
            t.c.revision,
            t.c.applied_at,
            t.c.checksum,
            t.c.direction,
            t.c.host,
            t.c.username,
        ).order_by(t.c.id)
    )
    return from_rows(rows)


#: The columns :func:`from_rows` reads, in its order.
COLUMNS = ("revision", "applied_at", "checksum", "direction", "host", "username")


def from_rows(rows: Iterable[Sequence[Any]]) -> History:
    """The history that ``rows`` (:data:`COLUMNS`, in the order written) tell."""
    latest: dict[str, Applied] = {}
    applied_at: dict[str, datetime.datetime] = {}
    started: dict[str, Unfinished] = {}
    for revision, at, digest, direction, host, user in rows:
        # Any row after a start closes it: the step's own, a stamp, a resolution.
        started.pop(revision, None)
        if direction in STARTED.values():
            started[revision] = Unfinished(
                revision, direction == STARTED[True], at, host, user
            )
        if direction == "upgrade":
            applied_at[revision] = at
        if direction in _VOUCHED:
            latest[revision] = Applied(revision, applied_at.get(revision, at), digest)
    return History(latest, list(started.values()))


def edited(applied: Applied | None, path: str) -> bool:
    """Whether the file at ``path`` differs from what was applied (unknown: False)."""
    if applied is None or applied.checksum is None:
        return False  # adopted from elsewhere, or applied before history was kept
    return revision_files.checksum(path) != applied.checksum


def annotate(
    bind: Bind, status: BindStatus, found: History | None = None
) -> BindStatus:
    """``status`` with applied-at times and edited revisions filled in from the history
    (``found``, or read now)."""
    if found is None:
        try:
            found = read_all(bind)
        except sa.exc.SQLAlchemyError:
            return status  # the status already read the database; history is extra
    known = found.applied
    revisions = []
    edited_ids = []
    for item in status.revisions:
        entry = known.get(item.revision.id) if item.applied else None
        is_edited = edited(entry, item.revision.path)
        if is_edited:
            edited_ids.append(item.revision.id)
        revisions.append(
            replace(
                item,
                applied_at=entry.applied_at.isoformat() if entry else None,
                edited=is_edited,
            )
        )
    return replace(
        status,
        revisions=revisions,
        edited=tuple(edited_ids),
        unfinished=tuple(u.revision for u in found.unfinished),
    )
