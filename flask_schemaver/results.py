"""What the Python API returns: plain data about binds, revisions and runs."""

from __future__ import annotations

from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.script import Script

    from .exceptions import SchemaVerError


def _ids(value: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
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

    @classmethod
    def from_script(cls, script: Script) -> Revision:
        return cls(
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
    outcome: str = "done"
    #: The error of a failed bind.
    error: SchemaVerError | None = None

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

    @property
    def pending(self) -> list[Revision]:
        """The revisions the database does not have, oldest first."""
        return [s.revision for s in self.revisions if not s.applied]

    @property
    def up_to_date(self) -> bool:
        """True when nothing is pending and no applied revision is missing."""
        return not self.pending and not self.missing

    def to_dict(self) -> dict[str, Any]:
        """The fields and :attr:`up_to_date` as JSON-ready data."""
        data = asdict(self)
        data["up_to_date"] = self.up_to_date
        return data


#: What ``check`` can look at, each a gate that CI can run on its own.
GATES = ("heads", "pending", "missing", "edited", "drift")


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
    #: False when the models were not compared because the database is not at head.
    compared: bool = True
    #: The gates this result was judged on (see :data:`GATES`).
    gates: tuple[str, ...] = GATES

    @property
    def failures(self) -> list[str]:
        """The gates that failed, in :data:`GATES` order."""
        failed = {
            "heads": len(self.heads) > 1,
            "pending": bool(self.pending),
            "missing": bool(self.missing),
            "edited": bool(self.edited),
            # Models are compared only on a database at its heads. When the pending
            # gate is not run to say why, not being able to compare is a failure.
            "drift": bool(self.drift)
            or (not self.compared and not {"pending", "missing"} & set(self.gates)),
        }
        return [gate for gate in GATES if gate in self.gates and failed[gate]]

    @property
    def ok(self) -> bool:
        """True when no gate failed: ``flask db check`` passes for this bind."""
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        """The fields, :attr:`ok` and :attr:`failures` as JSON-ready data."""
        data = asdict(self)
        data["ok"] = self.ok
        data["failures"] = self.failures
        return data


@dataclass
class RevisionResult:
    """Revision files written for one bind; empty when autogenerate found no change."""

    bind: str
    #: The files written; empty when there was nothing to write.
    revisions: list[Revision]
    #: ``"done"`` or ``"failed"``.
    outcome: str = "done"
    #: The error of a failed bind.
    error: SchemaVerError | None = None
