"""Revision targets as Alembic reads them: the names a target uses, and the steps a run
to it would take.

Every kind of target Alembic accepts is accepted, with Alembic's meaning, because
Alembic's own code reads it: ids and partial ids, branch labels, ``heads``, ``head``,
``base``, ``label@head``, ``+N``, ``-N``, ``rev+N``, ``rev-N``, ``head-N``,
``label@+N``, ``label@rev``... What is checked here beforehand is only whether the
names a target uses exist in a bind, so that a typo is refused as an unknown revision
before anything changes, and so that a target picks the binds that have it.
"""

from __future__ import annotations

import re
from typing import Any
from typing import Literal
from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic.runtime.migration import HeadMaintainer
from alembic.script import revision as alembic_revision
from alembic.util import CommandError

if TYPE_CHECKING:
    from ..script.graph import RevisionGraph

#: Alembic's grammar of relative targets (``_relative_destination`` in
#: alembic/script/revision.py): ``[label@][symbol]+N`` or ``-N``. Like Alembic, it
#: matches the start of a target only.
RELATIVE = re.compile(r"(?:(.+?)@)?(\w+)?((?:\+|-)\d+)")
#: Words a target may use that name no revision of their own.
SYMBOLS = frozenset({"head", "heads", "base"})

Verb = Literal["upgrade", "downgrade", "stamp"]


def readings(target: str) -> list[list[str]]:
    """The names ``target`` uses, once per way Alembic may read it.

    ``upgrade`` and ``downgrade`` read ``r1+1`` as "one above r1", while ``show`` and
    ``stamp`` take it for an id; ``label@rev`` is split at the first ``@`` by some
    commands and at the last by others. A target whose names exist in one of these
    readings is left for the command itself to judge, with Alembic's own code.
    """
    found = []
    match = RELATIVE.match(target)
    if match:
        label, symbol, _ = match.groups()
        found.append([n for n in (label, symbol) if n])
    if target.count("@") > 1:
        found.append([])  # no sane reading to check: Alembic judges it
    else:
        label, _, symbol = target.rpartition("@")
        found.append([label, symbol] if label else [symbol])
    return [[n for n in reading if _is_name(n)] for reading in found]


def _is_name(word: str) -> bool:
    """Whether a word of a target must name a revision or a branch label."""
    if not word or word in SYMBOLS:
        return False
    try:
        # "-1" in "label@-1" counts down from the heads; "0001" is an id.
        return int(word) >= 0
    except ValueError:
        return True


def check_names(scripts: RevisionGraph, target: str) -> None:
    """Raise Alembic's error for a name in ``target`` that names nothing in
    ``scripts``, when no reading of the target has all its names known. An offline
    ``FROM:TO`` is checked end by end."""
    for end in target.split(":"):
        _check_end(scripts, end)


def _check_end(scripts: RevisionGraph, target: str) -> None:
    first_error: Exception | None = None
    for reading in readings(target):
        try:
            for name in reading:
                _resolve(scripts, name)
        except (CommandError, alembic_revision.ResolutionError) as exc:
            first_error = first_error or exc
        else:
            return
    if first_error is not None:
        raise first_error


def _resolve(scripts: RevisionGraph, name: str) -> None:
    """Raise when ``name`` is no revision id, start of one, or branch label."""
    try:
        scripts.get_revisions(name)
    except CommandError as exc:
        if isinstance(exc.__cause__, alembic_revision.ResolutionError):
            raise
    except alembic_revision.ResolutionError:
        raise
    except alembic_revision.RevisionError:
        pass  # known, but more than one (several heads...): the command judges it


#: What :func:`takes_steps` found: (graph id, verb, target, place) -> (graph, answer);
#: the graph is kept with its answer so that its id is not given to another.
_asked: dict[tuple[int, str, str, tuple[str, ...]], tuple[RevisionGraph, bool]] = {}


def takes_steps(
    scripts: RevisionGraph, verb: Verb, target: str, current: tuple[str, ...]
) -> bool:
    """Whether :func:`steps` finds any: worked out once for the same graph, target
    and place (before the lock and again under it, or for each tenant of a fleet),
    as the walk costs more as the chain grows. Refusals are raised each time."""
    key = (id(scripts), verb, target, current)
    if key not in _asked:
        if len(_asked) >= 64:
            _asked.clear()
        _asked[key] = (scripts, bool(steps(scripts, verb, target, current)))
    return _asked[key][1]


def steps(
    scripts: RevisionGraph, verb: Verb, target: str, current: tuple[str, ...]
) -> list[Any]:
    """The steps ``verb`` to ``target`` would take from ``current``, as Alembic's
    command computes them; raises Alembic's error where Alembic refuses.

    The version table's changes are played too (:func:`recorded`), so that a run that
    Alembic would break off halfway is refused before it starts.
    """
    try:
        if verb == "upgrade":
            found = scripts._upgrade_revs(target, current)
        elif verb == "downgrade":
            found = scripts._downgrade_revs(target, current)
        else:
            found = scripts._stamp_revs((target,), current)
    except AssertionError as exc:
        # Alembic asserts where a relative target walks off the chain (``head-5`` on
        # three revisions) or names no single branch: a refusal without a message.
        raise alembic_revision.RevisionError(
            f"{target!r} leads past an end of the chain, or to no single revision"
        ) from exc
    recorded(found, current)
    return found


def recorded(steps: list[Any], current: tuple[str, ...]) -> frozenset[str]:
    """What the version table holds after ``steps`` from ``current``: Alembic's own
    ``HeadMaintainer`` plays them on a table that is not there.

    Raises :class:`~alembic.script.revision.RevisionError` where Alembic would fail to
    record a step, after running the steps before it.
    """
    maintainer = HeadMaintainer(_NoTable(), current)  # type: ignore[arg-type]
    for step in steps:
        try:
            maintainer.update_to_step(step)
        except (KeyError, AssertionError, CommandError) as exc:
            raise alembic_revision.RevisionError(
                f"Alembic cannot record the step {step.short_log} in the version table "
                f"({type(exc).__name__}: {exc}), and would stop there with the "
                "revisions before it applied; nothing was run. A revision whose "
                "depends_on names a revision already below its down_revision can do "
                "this: remove that name from its depends_on"
            ) from exc
    return frozenset(maintainer.heads)


class _NoTable:
    """The part of a ``MigrationContext`` that ``HeadMaintainer`` writes through,
    writing nowhere."""

    as_sql = True
    version_table = "alembic_version"

    def __init__(self) -> None:
        self._version = sa.Table(
            self.version_table, sa.MetaData(), sa.Column("version_num", sa.String(32))
        )
        self.impl = self

    def _exec(self, *args: Any, **kwargs: Any) -> None:
        return None


def unread(target: str) -> str:
    """What of ``target`` Alembic's reading of a relative target would silently drop,
    e.g. ``.5`` of ``+1.5``; empty when it reads the whole target."""
    for end in target.split(":"):
        match = RELATIVE.match(end)
        if match and match.end() < len(end) and "@" not in end[match.end() :]:
            return end[match.end() :]
    return ""


def uses_names(target: str) -> bool:
    """Whether :func:`check_names` has anything to check in ``target``."""
    return any(all(readings(end)) for end in target.split(":"))
