"""What the Python API returns: plain data about binds, revisions, runs and plans.

Nothing here reads a database or a file; every type is importable from
:mod:`flask_schemaver`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import Literal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .exceptions import SchemaVerError
    from .script.graph import ScriptLike

#: What became of a bind in a run: it ran, it failed, or it was left out after another
#: bind failed (``fail_fast``).
Outcome = Literal["done", "failed", "skipped"]
#: The commands that change a database's version.
Verb = Literal["upgrade", "downgrade", "stamp"]
#: What a history row records: a migration in either direction, a stamp, or an edited
#: file accepted.
Direction = Literal[
    "upgrade",
    "downgrade",
    "stamp",
    "stamp-down",
    "acknowledge",
    "started-up",
    "started-down",
    "rolled-back",
]
#: What ``check`` can look at, each a gate that CI can run on its own.
Gate = Literal["heads", "pending", "missing", "edited", "unfinished", "drift"]


def _ids(value: str | Sequence[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


@dataclass(frozen=True)
class Revision:
    """One revision file of a bind's chain."""

    #: The revision id.
    id: str
    #: The revisions this one builds on; empty for the first, several for a merge.
    down_revisions: tuple[str, ...]
    #: The first paragraph of the file's docstring: the message it was written with.
    message: str
    branch_labels: tuple[str, ...]
    #: Revisions this one depends on without descending from them.
    depends_on: tuple[str, ...]
    #: Path of the revision file.
    path: str
    is_head: bool
    is_branch_point: bool
    is_merge_point: bool
    #: The file's whole docstring (message, revision id, create date, ...).
    docstring: str
    #: The revisions that build on this one (name it as a ``down_revision``).
    next_revisions: tuple[str, ...] = ()
    #: The revisions that only depend on this one (``depends_on``); a head with
    #: dependents is an "effective head".
    dependents: tuple[str, ...] = ()

    @classmethod
    def from_script(cls, script: ScriptLike) -> Revision:
        """The revision an Alembic ``Script`` (or a revision read as text) describes."""
        return cls(
            next_revisions=tuple(sorted(script.nextrev)),
            dependents=tuple(sorted(script._all_nextrev - script.nextrev)),
            id=script.revision,
            down_revisions=_ids(script.down_revision),
            message=script.doc or "",
            branch_labels=tuple(sorted(script.branch_labels)),
            depends_on=_ids(script.dependencies),
            path=script.path,
            is_head=script.is_head,
            is_branch_point=script.is_branch_point,
            is_merge_point=script.is_merge_point,
            docstring=script.longdoc,
        )


@dataclass(frozen=True)
class Step:
    """One migration that ran (or was stamped) on a bind."""

    bind: str
    #: The revisions the database was at before the step.
    source: tuple[str, ...]
    #: The revisions the database is at after the step.
    destination: tuple[str, ...]
    #: The id of the revision that ran.
    revision: str
    #: That revision's message.
    message: str
    #: False for a downgrade.
    is_upgrade: bool
    #: True when the version table was set without running the revision.
    is_stamp: bool
    #: How long the step took.
    seconds: float
    #: The tenant, on a tenanted bind; None otherwise.
    tenant: str | None = None


@dataclass
class RunResult:
    """The outcome of upgrade, downgrade or stamp on one bind."""

    bind: str
    #: The revisions the database was at before the run.
    before: tuple[str, ...]
    #: The revisions the database is at after the run.
    after: tuple[str, ...]
    #: The migrations that ran, in order.
    steps: list[Step] = field(default_factory=list)
    #: Offline SQL when run with ``sql=True``; nothing ran against the database then.
    sql: str | None = None
    #: Why nothing ran, e.g. "already at the target".
    note: str = ""
    #: ``"done"``, ``"failed"`` or ``"skipped"`` (after another bind failed).
    outcome: Outcome = "done"
    #: The error of a failed bind.
    error: SchemaVerError | None = None
    #: The tenant, on a tenanted bind; None otherwise.
    tenant: str | None = None

    @property
    def changed(self) -> bool:
        """Whether the database is at other revisions than before."""
        return self.before != self.after


@dataclass(frozen=True)
class RevisionStatus:
    """A revision of a bind and whether the bind's database has it applied."""

    revision: Revision
    applied: bool
    #: When the history table says it was applied (ISO 8601), if it knows.
    applied_at: str | None = None
    #: The file changed after it was applied (its checksum no longer matches).
    edited: bool = False


@dataclass
class BindStatus:
    """Where a bind's database stands against its revision chain."""

    bind: str
    #: The database URL, password hidden.
    url: str
    #: The revisions the database is at.
    current: tuple[str, ...]
    #: The head revisions of the bind's chain.
    heads: tuple[str, ...]
    #: Every revision of the bind, oldest first.
    revisions: list[RevisionStatus]
    #: Revisions the version table names that have no file on disk.
    missing: tuple[str, ...]
    #: Applied revisions whose file changed since (see ``flask db acknowledge``).
    edited: tuple[str, ...] = ()
    #: Revisions whose run was interrupted on a database whose DDL commits as it
    #: runs: part of their changes may be there (see ``flask db resolve``).
    unfinished: tuple[str, ...] = ()
    #: What Flask-Migrate's ``alembic_version`` in the bind's database holds, when
    #: the bind keeps its version elsewhere: a ``--multidb`` project's record, not yet
    #: moved by ``flask db split-multidb --stamp``.
    flask_migrate: tuple[str, ...] = ()
    #: The tenant, on a tenanted bind; None otherwise.
    tenant: str | None = None

    @property
    def pending(self) -> list[Revision]:
        """The revisions the database does not have, oldest first."""
        return [s.revision for s in self.revisions if not s.applied]

    @property
    def up_to_date(self) -> bool:
        """True when nothing is pending or unfinished and no applied revision is
        missing."""
        return not self.pending and not self.missing and not self.unfinished

    def to_dict(self) -> dict[str, Any]:
        """The fields and :attr:`up_to_date` as JSON-ready data."""
        data = asdict(self)
        if self.tenant is None:
            del data["tenant"]
        data["up_to_date"] = self.up_to_date
        return data


#: Every gate of ``check``, in the order results list them.
GATES: tuple[Gate, ...] = (
    "heads",
    "pending",
    "missing",
    "edited",
    "unfinished",
    "drift",
)


@dataclass
class CheckResult:
    """What ``check`` found on one bind."""

    bind: str
    #: Alembic operations that autogenerate would write, one line each.
    drift: list[str]
    #: Ids of the revisions the database does not have.
    pending: list[str]
    #: The head revisions of the bind's chain; more than one is a problem.
    heads: tuple[str, ...]
    #: Revisions the version table names that have no file on disk.
    missing: tuple[str, ...] = ()
    #: Applied revisions whose file changed since they were applied.
    edited: tuple[str, ...] = ()
    #: Revisions whose run was interrupted part way (see ``flask db resolve``).
    unfinished: tuple[str, ...] = ()
    #: What Flask-Migrate's ``alembic_version`` holds in the bind's database, not yet
    #: moved by ``flask db split-multidb --stamp`` (see :class:`BindStatus`).
    flask_migrate: tuple[str, ...] = ()
    #: False when the models were not compared because the database is not at head.
    compared: bool = True
    #: The gates this result was judged on (see :data:`GATES`).
    gates: tuple[Gate, ...] = GATES
    #: The tenant, on a tenanted bind; None otherwise.
    tenant: str | None = None

    @property
    def failures(self) -> list[Gate]:
        """The gates that failed, in :data:`GATES` order."""
        failed = {
            "heads": len(self.heads) > 1,
            "pending": bool(self.pending),
            "missing": bool(self.missing),
            "edited": bool(self.edited),
            "unfinished": bool(self.unfinished),
            # Models are compared only on a database at its heads. When the pending
            # gate is not run to say why, not being able to compare is a failure.
            "drift": bool(self.drift)
            or (
                not self.compared
                and not {"pending", "missing", "unfinished"} & set(self.gates)
            ),
        }
        return [gate for gate in GATES if gate in self.gates and failed[gate]]

    @property
    def ok(self) -> bool:
        """True when no gate failed: ``flask db check`` passes for this bind."""
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        """The fields, :attr:`ok` and :attr:`failures` as JSON-ready data."""
        data = asdict(self)
        if self.tenant is None:
            del data["tenant"]
        data["ok"] = self.ok
        data["failures"] = self.failures
        return data


@dataclass
class RevisionResult:
    """Revision files written for one bind; empty when autogenerate found no change."""

    bind: str
    #: The files written; empty when there was nothing to write.
    revisions: list[Revision]
    #: What autogenerate found and wrote, one line per operation.
    detected: list[str] = field(default_factory=list)
    #: ``"done"`` or ``"failed"``.
    outcome: Outcome = "done"
    #: The error of a failed bind.
    error: SchemaVerError | None = None
    #: The renames written as renames (answered yes, or given with ``rename``).
    renames: list[Rename] = field(default_factory=list)
    #: Drop + add pairs that look like renames but were written as drop + add, for
    #: want of an answer.
    likely_renames: list[Rename] = field(default_factory=list)


@dataclass(frozen=True)
class Rename:
    """A rename that autogenerate may write instead of a drop and an add."""

    #: ``"column"``, ``"table"`` or ``"enum value"``.
    kind: Literal["column", "table", "enum value"]
    #: The table the column belongs to, or the enum type the value belongs to;
    #: ``None`` for a table rename.
    table: str | None
    #: The old name (of the column, table or value).
    old: str
    #: The new name.
    new: str
    #: What the two have in common, for a question: e.g. ``VARCHAR(50)``.
    detail: str = ""

    @property
    def option(self) -> str:
        """The ``--rename`` value that asks for this rename."""
        if self.table is None:
            return f"{self.old}:{self.new}"
        return f"{self.table}.{self.old}:{self.new}"

    def describe(self) -> str:
        """``user.headline to user.title``, ``table person to people``, ..."""
        if self.kind == "table":
            return f"table {self.old} to {self.new}"
        if self.kind == "enum value":
            return f"value {self.old!r} of enum {self.table} to {self.new!r}"
        return f"{self.table}.{self.old} to {self.table}.{self.new}"


@dataclass(frozen=True)
class BackfillProgress:
    """How far a backfill has come, reported after each batch."""

    #: The table being backfilled.
    table: str
    #: Rows visited so far (including those of earlier, interrupted runs).
    done: int
    #: Rows to visit in all, estimated when the backfill started (or resumed).
    total: int
    #: Rows changed so far in this run.
    updated: int
    #: Rows visited per second in this run.
    rate: float
    #: Seconds still to go at that rate; None before the rate is known.
    eta: float | None
    #: True on the last report, once every batch is committed.
    finished: bool = False
    #: The bind and the revision running it, filled in by the run.
    bind: str = ""
    revision: str = ""
    #: The tenant, on a tenanted bind; None otherwise.
    tenant: str | None = None


@dataclass(frozen=True)
class LockWait:
    """A process waiting for a bind's migration lock."""

    bind: str
    #: Seconds waited so far.
    waited: float
    #: Who holds the lock, as far as the database can tell (may be empty).
    holder: str
    #: This process: ``host:pid``.
    waiter: str
    #: The tenant, on a tenanted bind; None otherwise.
    tenant: str | None = None


@dataclass
class PlannedOperation:
    """One operation as a short line, e.g. ``add column user.email VARCHAR(120) NULL``."""

    text: str
    #: Whether it loses data or breaks running code (drops, renames, type changes).
    destructive: bool = False


@dataclass
class PlannedRevision:
    """A revision that would run, with what it would do."""

    id: str
    message: str
    is_upgrade: bool
    operations: list[PlannedOperation] = field(default_factory=list)
    #: Its downgrade does not undo its upgrade (empty, or refuses to run).
    irreversible: bool = False
    #: Why its operations could not all be listed (e.g. it reads the database).
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON-ready data."""
        return asdict(self)


@dataclass
class BindPlan:
    """The revisions one bind would run, in order."""

    bind: str
    #: The revisions the database is at now.
    current: tuple[str, ...]
    revisions: list[PlannedRevision]
    #: The tenant, on a tenanted bind; None otherwise.
    tenant: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The plan as JSON-ready data."""
        data: dict[str, Any] = {"bind": self.bind}
        if self.tenant is not None:
            data["tenant"] = self.tenant
        data["current"] = list(self.current)
        data["revisions"] = [r.to_dict() for r in self.revisions]
        return data


@dataclass(frozen=True)
class SplitRevision:
    """A revision of a bind's chain made by ``flask db split-multidb``."""

    #: Its id in the bind's chain: the original one in the default bind's.
    id: str
    #: The id of the Flask-Migrate ``--multidb`` revision it comes from.
    original: str
    down_revisions: tuple[str, ...]
    depends_on: tuple[str, ...]
    message: str
    #: Where it is written (or, in a dry run, would be).
    path: str
    #: False when it does nothing for the bind: a merge of two branches that both
    #: have work for it, or, in the default bind's chain, a revision for others.
    works: bool


@dataclass
class SplitStamp:
    """Where ``split-multidb --stamp`` put one bind's database."""

    #: What Flask-Migrate's ``alembic_version`` held.
    flask_migrate: tuple[str, ...]
    #: What the bind's own version table held before.
    before: tuple[str, ...]
    #: What it holds now.
    after: tuple[str, ...]
    #: What happened, e.g. ``stamped``.
    note: str = ""
    #: Whether Flask-Migrate's ``alembic_version`` was removed from the database.
    removed: bool = False


@dataclass
class SplitBind:
    """One bind's new chain from ``split-multidb``, and what became of its database."""

    bind: str
    #: The name Flask-Migrate ran the bind's part under (``""`` for the default
    #: database); None when no revision had a part for it.
    engine: str | None
    #: Its revision folder.
    directory: str
    #: The revisions of its new chain, oldest first.
    revisions: list[SplitRevision]
    #: What the converter decided for this bind, one sentence each.
    decisions: list[str]
    #: Where ``--stamp`` put its database; None without ``stamp``.
    stamp: SplitStamp | None = None
    #: With ``verify``: how many tables both layouts built alike.
    tables: int | None = None


@dataclass
class SplitResult:
    """What ``flask db split-multidb`` found, decided and did."""

    #: The folder the multidb revisions are in: the default bind's, or once
    #: converted, its backup.
    folder: str
    #: Where the multidb revisions are kept once converted.
    backup: str
    #: Whether the project's folder is converted (before the call, or by it).
    converted: bool
    #: Whether this call wrote the new chains.
    written: bool
    #: Whether this call stamped the databases.
    stamped: bool
    #: Whether this call compared the two layouts' schemas (and found them equal).
    verified: bool
    #: What the converter found in the chain, one sentence each.
    decisions: list[str]
    #: Each bind's new chain, in the app's order.
    binds: list[SplitBind]

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data."""
        return asdict(self)


@dataclass
class TenantResult:
    """What :meth:`~flask_schemaver.SchemaVer.create_tenant` did for a tenant."""

    bind: str
    tenant: str
    #: ``"schema"`` (a schema of the bind's database; on MySQL and MariaDB, a
    #: database of its server) or ``"database"`` (a database of its own).
    kind: Literal["schema", "database"]
    #: Where the tenant lives, for people: ``schema acme`` (``database acme`` on
    #: MySQL and MariaDB), or its database's URL with the password hidden.
    where: str
    #: True when this call made the schema or database; False when it existed.
    created: bool
    #: The upgrade that brought the tenant to the heads; its ``steps`` are empty
    #: when the tenant was there already.
    run: RunResult

    @property
    def revisions(self) -> list[str]:
        """The revisions applied to the tenant by this call, in order."""
        return [s.revision for s in self.run.steps if not s.is_stamp]

    def to_dict(self) -> dict[str, Any]:
        """The fields and :attr:`revisions` as JSON-ready data."""
        data = asdict(self)
        data["revisions"] = self.revisions
        return data


@dataclass(frozen=True)
class TenantInfo:
    """A tenant of a tenanted bind, as ``flask db tenants list`` shows it."""

    bind: str
    tenant: str
    #: ``"schema"`` or ``"database"``, as for :class:`TenantResult`.
    kind: Literal["schema", "database"]
    #: Where it lives: ``schema acme``, or its database's URL, password hidden.
    where: str
    #: Whether its schema or database is there: False when it is missing, None
    #: where only reading it could tell (a database on a server).
    exists: bool | None
    #: The revisions its version table holds; () for none; None when it could not
    #: be read (missing, or its server unreachable).
    current: tuple[str, ...] | None
    #: Whether it is at the heads of its bind's chain; None when unknown.
    up_to_date: bool | None

    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON-ready data."""
        return asdict(self)
