"""What a run of upgrade, downgrade or stamp is asked to do, as one object.

The CLI hands its options to the Python API as keyword arguments; the API checks them
and builds one :class:`RunOptions`, which travels unchanged to the per-bind verbs and
the worker processes. A new selector or switch is one field here (and its click option
in :mod:`flask_schemaver.cli.options`), not a parameter added along the whole path.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from typing import TYPE_CHECKING
from typing import TypedDict

if TYPE_CHECKING:
    from .binds import Bind
    from .binds import BindNames
    from .results import BackfillProgress
    from .results import LockWait
    from .results import Rename
    from .results import RunResult
    from .results import Step
    from .results import Verb

#: Called with a migration step: as it starts, or once it is committed.
StepCallback = Callable[["Step"], None]
#: Called while a process waits for a bind's migration lock.
WaitCallback = Callable[["LockWait"], None]
#: Asked whether a drop + add that looks like a rename is one; True writes a rename.
RenameCallback = Callable[["Rename"], bool]
#: Called with a backfill's progress after each of its batches is committed.
ProgressCallback = Callable[["BackfillProgress"], None]
#: Called once a run's binds (and tenants) are chosen, before any of them runs: with
#: every one of them, and the results of those found at their target already, which
#: do not run.
TargetsCallback = Callable[[Sequence["Bind"], Sequence["RunResult"]], None]
#: Called with the result of each bind (or tenant) that ran, as soon as it finished.
ResultCallback = Callable[["RunResult"], None]

#: A tenant's name or a shell-style pattern (``acme``, ``eu-*``), several, or None
#: for the default: every tenant where that is safe (``upgrade``, ``status``).
TenantNames = str | Iterable[str] | None
#: The pattern that selects every tenant: what ``--all-tenants`` stands for.
EVERY_TENANT = "*"


@dataclass(frozen=True)
class Shard:
    """The ``number``-th of ``count`` shares of the tenants (``--shard K/N``).

    A tenant's share depends on its name alone (a SHA-256 of it, modulo ``count``):
    the same on every machine and in every process, and a tenant added or removed
    moves no other tenant to another share.
    """

    #: Which share: 1 to ``count``.
    number: int
    #: How many shares the tenants are split into.
    count: int

    def __str__(self) -> str:
        return f"{self.number}/{self.count}"

    def holds(self, tenant: str) -> bool:
        """Whether the tenant named ``tenant`` is in this share."""
        digest = hashlib.sha256(tenant.encode()).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.number - 1


#: A share of the tenants: ``"K/N"``, ``(K, N)`` or a :class:`Shard`, the K-th of N
#: shares; None for every tenant selected.
ShardSpec = str | tuple[int, int] | Shard | None


def parse_shard(shard: ShardSpec) -> Shard | None:
    """``shard`` as a :class:`Shard`; None for None.

    :raises UsageError: for anything but ``"K/N"`` or ``(K, N)``, whole numbers with
        1 ≤ K ≤ N.
    """
    if shard is None or isinstance(shard, Shard):
        return shard
    numbers: list[Any] = []
    if isinstance(shard, str):
        parts = shard.split("/")
        if all(p.isascii() and p.isdigit() for p in parts):
            numbers = [int(p) for p in parts]
    elif isinstance(shard, (tuple, list)):
        numbers = [n for n in shard if type(n) is int]
        numbers = numbers if len(numbers) == len(shard) else []
    if len(numbers) != 2 or not 1 <= numbers[0] <= numbers[1]:
        from .exceptions import UsageError

        shown = "/".join(map(str, shard)) if isinstance(shard, (tuple, list)) else shard
        raise UsageError(
            f"--shard {shown!r} is not a share of the tenants: give K/N, the K-th of "
            "N shares, with N 1 or more and K from 1 to N (e.g. 2/4)"
        )
    return Shard(*numbers)


class RunKeywords(TypedDict, total=False):
    """The keyword arguments of ``upgrade``, ``downgrade`` and ``stamp``; see
    :class:`RunOptions` for each."""

    sql: bool
    tag: str | None
    x_args: Sequence[str]
    fail_fast: bool
    jobs: int | None
    all_binds: bool
    confirm: bool
    purge: bool
    on_start: StepCallback | None
    on_step: StepCallback | None
    on_wait: WaitCallback | None
    on_progress: ProgressCallback | None
    on_targets: TargetsCallback | None
    on_result: ResultCallback | None
    tenant: TenantNames
    shard: ShardSpec


class RevisionKeywords(TypedDict, total=False):
    """The keyword arguments of ``revision`` (and, but ``autogenerate``, ``migrate``)."""

    #: Write the operations that bring the database to the models.
    autogenerate: bool
    #: The revision to build on; ``head`` by default.
    head: str
    #: Allow building on a revision that is not a head.
    splice: bool
    #: A label for the branch the revision starts.
    branch_label: str | None
    #: Revisions the new one depends on.
    depends_on: Sequence[str]
    #: The revision id, instead of a generated one.
    rev_id: str | None
    #: ``key=value`` arguments for ``context.get_x_argument()``.
    x_args: Sequence[str]
    #: Renames to write instead of drop + add: ``TABLE.OLD:NEW`` for a column (or an
    #: ENUM value, ``TYPE.OLD:NEW``), ``OLD_TABLE:NEW_TABLE`` for a table.
    rename: Sequence[str]
    #: Asked about each drop + add that looks like a rename and is not in ``rename``;
    #: None never asks (the pair stays drop + add, reported in ``likely_renames``).
    on_rename: RenameCallback | None
    #: Write a revision that drops every table even when the bind has no models.
    allow_drop_all: bool


def parse_renames(values: Sequence[str]) -> list[Rename]:
    """``rename`` values as :class:`~flask_schemaver.results.Rename` objects; a value
    of another shape is a :class:`~flask_schemaver.UsageError`."""
    from .exceptions import UsageError
    from .results import Rename

    found: list[Rename] = []
    for value in values:
        old, sep, new = value.partition(":")
        table, dot, column = old.rpartition(".")
        names = [new, column] + ([table] if dot else [])
        if not sep or not all(n.strip() == n and n for n in names) or ":" in new:
            raise UsageError(
                f"--rename {value!r}: give TABLE.OLD:NEW for a column (or an ENUM "
                "value) or OLD_TABLE:NEW_TABLE for a table"
            )
        if dot:
            found.append(Rename("column", table, column, new))
        else:
            found.append(Rename("table", None, old, new))
    return found


def check_keywords(function: str, given: Mapping[str, Any], allowed: type[Any]) -> None:
    """Raise :class:`TypeError`, as Python would, for a keyword ``allowed`` (a
    TypedDict) does not name."""
    for name in given:
        if name not in allowed.__annotations__:
            raise TypeError(f"{function}() got an unexpected keyword argument {name!r}")


#: Keywords that only some verbs take; the others take every keyword.
_ONLY: dict[str, tuple[str, ...]] = {
    "all_binds": ("downgrade", "stamp"),
    "confirm": ("downgrade", "stamp"),
    "purge": ("stamp",),
    "on_start": ("upgrade", "downgrade"),
    "on_step": ("upgrade", "downgrade"),
    "on_progress": ("upgrade", "downgrade"),
}


@dataclass(frozen=True)
class RunOptions:
    """One run of ``upgrade``, ``downgrade`` or ``stamp``, as it was asked for."""

    #: ``"upgrade"``, ``"downgrade"`` or ``"stamp"``.
    verb: Verb
    #: The target: a revision id, ``heads``, ``base``, ``label@head``, ``-1``, ...
    revision: str
    #: The binds named; empty for every bind.
    binds: tuple[str, ...] = ()
    #: The tenants of tenanted binds named, as names or shell-style patterns
    #: (``"*"`` for every tenant); empty for the verb's default: every tenant for
    #: ``upgrade``, none (refused) for ``downgrade`` and ``stamp``.
    tenants: tuple[str, ...] = ()
    #: The share of the tenants selected to work on (``--shard K/N``); None for
    #: all of them.
    shard: Shard | None = None
    #: Print the SQL instead of running it (offline mode).
    sql: bool = False
    #: A tag for the migration scripts (``context.get_tag_argument()``).
    tag: str | None = None
    #: ``key=value`` arguments for the scripts (``context.get_x_argument()``).
    x_args: tuple[str, ...] = ()
    #: Stop at the first bind that fails; the rest are skipped.
    fail_fast: bool = False
    #: Databases to migrate at once; None for ``SCHEMAVER_JOBS``.
    jobs: int | None = None
    #: Allow a downgrade or stamp on every bind of an app with several.
    all_binds: bool = False
    #: Confirm a downgrade or stamp on a protected bind.
    confirm: bool = False
    #: Empty the version table before stamping.
    purge: bool = False
    #: Called with each step just before it runs (its ``seconds`` are 0).
    on_start: StepCallback | None = dataclasses.field(default=None, compare=False)
    #: Called with each step once it is committed, never before: what it prints
    #: cannot change what happens to the database.
    on_step: StepCallback | None = dataclasses.field(default=None, compare=False)
    #: Called while waiting for a bind's migration lock.
    on_wait: WaitCallback | None = dataclasses.field(default=None, compare=False)
    #: Called with the progress of a backfill a revision runs
    #: (:func:`flask_schemaver.backfills.backfill`), after each committed batch.
    on_progress: ProgressCallback | None = dataclasses.field(
        default=None, compare=False
    )
    #: Called once the binds and tenants are chosen, before any runs, with them all
    #: and the results of those at their target already (which do not run): what a
    #: progress bar needs to know its length.
    on_targets: TargetsCallback | None = dataclasses.field(default=None, compare=False)
    #: Called with each bind's (or tenant's) result as soon as it finished, in the
    #: order they finish; called in this process, also with ``jobs`` above one.
    on_result: ResultCallback | None = dataclasses.field(default=None, compare=False)

    @classmethod
    def build(
        cls, verb: Verb, revision: str, bind: BindNames, keywords: Mapping[str, Any]
    ) -> RunOptions:
        """The options of ``verb`` called with ``bind`` and ``keywords``; a keyword
        the verb does not take is a :class:`TypeError`, as for any function."""
        check_keywords(verb, keywords, RunKeywords)
        if not revision.strip():
            from .exceptions import UsageError

            raise UsageError(
                f"{verb} needs a revision: a revision id, or a name such as 'heads' "
                "or 'base'"
            )
        for name in keywords:
            if verb not in _ONLY.get(name, (verb,)):
                raise TypeError(f"{verb}() got an unexpected keyword argument {name!r}")
        values = dict(keywords)
        values["x_args"] = tuple(values.get("x_args", ()))
        values["tenants"] = tenant_patterns(values.pop("tenant", None))
        values["shard"] = parse_shard(values.get("shard"))
        return cls(verb=verb, revision=revision, binds=bind_names(bind), **values)

    @property
    def destructive(self) -> bool:
        """Whether the run can take a database back (downgrade, stamp)."""
        return self.verb != "upgrade"

    @property
    def label(self) -> str:
        """The command as people name it, e.g. ``stamp --purge``."""
        return f"{self.verb} --purge" if self.purge else self.verb


def tenant_patterns(tenant: TenantNames) -> tuple[str, ...]:
    """``tenant`` as a tuple of names and patterns, each once; empty for None.

    :raises UsageError: for an empty name, as an unset shell variable gives.
    """
    if tenant is None:
        return ()
    values = (tenant,) if isinstance(tenant, str) else tuple(tenant)
    for value in values:
        if not isinstance(value, str) or not value.strip():
            from .exceptions import UsageError

            raise UsageError(
                f"--tenant {value!r} is empty; give a tenant's name or a pattern "
                "such as 'eu-*', or --all-tenants"
            )
    return tuple(dict.fromkeys(values))


def bind_names(bind: BindNames) -> tuple[str, ...]:
    """``bind`` as a tuple of names; empty for every bind."""
    if bind is None:
        return ()
    if isinstance(bind, str):
        return (bind,)
    return tuple(bind)
