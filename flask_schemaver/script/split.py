"""Splitting a Flask-Migrate ``--multidb`` chain into one chain per bind, as a plan.

The default bind keeps every revision, with its id, parents, labels and module-level
code, each reduced to the default database's functions. Every other bind gets only
the revisions that do something for it. A revision left out is replaced, wherever it
was a parent, by its nearest kept ancestors, so merges of branches that have nothing
for the bind disappear; a merge whose branches both have something for the bind is
kept, empty, so that the bind's chain still ends in one head where the shared chain
did. The new revisions get ids derived from the bind and the original id: the same
folder gives the same ids every time, and none is used twice in the app.

:func:`plan` makes the plan; :func:`SplitPlan.position` maps a database's old
``alembic_version`` to its place in its bind's new chain.

This module must not import Alembic.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

from ..exceptions import MigrationError
from ..exceptions import UsageError
from .files import as_ids
from .multidb import describe_files
from .multidb import ordered
from .multidb import SharedChain
from .multidb import SharedRevision
from .rewrite import Identity
from .rewrite import rewrite
from .split_notes import note_bind
from .split_notes import plan_decisions


@dataclass
class PlannedFile:
    """One revision file of a bind's new chain."""

    original: str
    revision: str
    down_revisions: tuple[str, ...]
    depends_on: tuple[str, ...]
    message: str
    path: Path
    text: str
    #: False for a revision that does nothing for the bind (kept as a merge, or
    #: in the default chain, which keeps every revision).
    works: bool


@dataclass
class BindSplit:
    """What one bind gets."""

    bind: str
    #: The name Flask-Migrate ran this bind's part under (``""`` for the default
    #: database); None when no revision has a part for it.
    engine: str | None
    directory: Path
    files: list[PlannedFile] = field(default_factory=list)
    decisions: list[str] = field(default_factory=list)
    #: Each old revision id and the new revisions a database at it is at.
    nearest: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass
class SplitPlan:
    """A multidb chain and the per-bind chains it becomes."""

    chain: SharedChain
    binds: list[BindSplit]
    decisions: list[str]
    #: Each old revision's ancestors (through parents and dependencies).
    ancestors: dict[str, set[str]]

    def position(self, bind: str, old: Sequence[str]) -> tuple[str, ...]:
        """Where a database of ``bind`` whose ``alembic_version`` holds ``old`` is in
        the bind's new chain. Raises :class:`MigrationError` for a revision not in
        the chain, or several."""
        if len(old) > 1:
            raise MigrationError(
                f"Flask-Migrate's alembic_version holds several revisions "
                f"({', '.join(old)}); a database at several heads can't be placed in "
                "the new chain: merge the branches and upgrade under Flask-Migrate "
                "first, or stamp the bind by hand afterwards",
                bind,
            )
        if not old:
            return ()
        split = next(b for b in self.binds if b.bind == bind)
        if old[0] not in split.nearest:
            raise MigrationError(
                f"Flask-Migrate's alembic_version holds {old[0]}, which no revision "
                f"file in {self.chain.directory} has; restore the file, or stamp "
                "the bind by hand afterwards",
                bind,
            )
        return split.nearest[old[0]]


def plan(
    chain: SharedChain,
    binds: Mapping[str, Path],
    engines: Mapping[str, str | None],
    taken: Iterable[str] = (),
) -> SplitPlan:
    """Split ``chain`` for ``binds`` (each bind's name and folder, the default bind
    first); ``engines`` maps engine names to binds (None: leave the engine out),
    where the names differ. ``taken``: revision ids already used elsewhere."""
    order, ancestors = ordered(chain)
    default = next(iter(binds))
    owners = _owners(chain, list(binds), engines)
    taken_ids = {*taken, *(r.revision for r in chain.revisions)}
    splits = []
    for name, directory in binds.items():
        engine = next((e for e, b in owners.items() if b == name), None)
        split = BindSplit(name, engine, directory)
        if name == default:
            _keep_all(split, order)
        else:
            _keep_working(split, order, ancestors, taken_ids)
        splits.append(split)
    return SplitPlan(chain, splits, plan_decisions(chain, owners, engines), ancestors)


def _owners(
    chain: SharedChain, binds: list[str], engines: Mapping[str, str | None]
) -> dict[str, str | None]:
    """Each engine name of the chain and the bind it belongs to (None: left out)."""
    for engine, bind in engines.items():
        if bind is not None and bind not in binds:
            raise UsageError(
                f"--engine {engine}={bind}: the app has no bind {bind!r}; its binds "
                f"are: {', '.join(binds)}"
            )
    used: dict[str, list[str]] = {}
    for rev in chain.revisions:
        for engine in rev.engines:
            used.setdefault(engine, []).append(rev.path)
    owners: dict[str, str | None] = {}
    unknown = []
    for engine, paths in used.items():
        if engine in engines:
            owners[engine] = engines[engine]
        elif engine == "":
            owners[engine] = binds[0]
        elif engine in binds:
            owners[engine] = engine
        else:
            unknown.append((engine, paths))
    if unknown:
        engine, paths = unknown[0]
        names = ", ".join(repr(e) for e, _ in unknown)
        raise UsageError(
            f"the revisions have functions for the engine(s) {names}, which name no "
            f"bind of the app ({', '.join(binds)}): upgrade_{engine}() is in "
            f"{describe_files(paths)}; say whose they are with --engine "
            f"{engine}=BIND, or leave them out with --engine {engine}="
        )
    taken: dict[str, str] = {}
    for engine, bind in owners.items():
        if bind is None:
            continue
        if bind in taken:
            raise UsageError(
                f"the engines {taken[bind]!r} and {engine!r} both map to bind "
                f"{bind!r}; map each bind from one engine"
            )
        taken[bind] = engine
    return owners


def _keep_all(split: BindSplit, order: list[SharedRevision]) -> None:
    """The default bind: every revision, ids and all, with its own functions."""
    plain = 0
    for rev in order:
        code = rev.engines.get(split.engine) if split.engine is not None else None
        works = rev.shape == "plain" or (code is not None and code.works)
        plain += rev.shape == "plain"
        split.files.append(
            PlannedFile(
                original=rev.revision,
                revision=rev.revision,
                down_revisions=tuple(rev.parents),
                depends_on=tuple(as_ids(rev.depends_on)),
                message=rev.message,
                path=split.directory / os.path.basename(rev.path),
                text=rewrite(rev, split.engine, None),
                works=works,
            )
        )
        split.nearest[rev.revision] = (rev.revision,)
    kept = len(split.files)
    split.decisions.append(
        f"keeps all {kept} revisions with their ids, parents and labels, each "
        "reduced to its own upgrade and downgrade"
    )
    if plain:
        split.decisions.append(
            f"{plain} plain revision(s), written before the project went multidb, "
            "stay as they are: they were this database's"
        )
    if split.engine is None:
        split.decisions.append(
            "no revision has functions for the default database; its chain keeps "
            "the revisions with empty functions"
        )


def _keep_working(
    split: BindSplit,
    order: list[SharedRevision],
    ancestors: Mapping[str, set[str]],
    taken: set[str],
) -> None:
    """Another bind: the revisions that do something for it, reconnected."""
    labels = {label: r.revision for r in order for label in as_ids(r.branch_labels)}
    original_of: dict[str, str] = {}
    missing, merges, labelled = [], [], []
    for rev in order:
        code = rev.engines.get(split.engine) if split.engine is not None else None
        works = code is not None and code.works
        if rev.shape != "plain" and split.engine is not None and code is None:
            missing.append(rev)
        parents = _reduce(
            [n for p in rev.parents for n in split.nearest[p]], original_of, ancestors
        )
        # What must be applied before it, through its dependencies too: a revision
        # left out passes that on, so nothing built on it can run before.
        needed = _reduce(
            [*parents, *_nearest_dependencies(rev, split, labels)],
            original_of,
            ancestors,
        )
        if not works and len(parents) < 2 and len(needed) < 2:
            split.nearest[rev.revision] = needed
            continue
        if not works:
            merges.append(rev.revision)
        if rev.branch_labels:
            labelled.append(rev.revision)
        new_id = _new_id(split.bind, rev.revision, taken)
        original_of[new_id] = rev.revision
        depends = _depends(rev, split, labels, parents, original_of, ancestors)
        split.files.append(_bind_file(split, rev, new_id, parents, depends, works))
        split.nearest[rev.revision] = (new_id,)
    note_bind(split, order, missing, merges, labelled)


def _reduce(
    ids: list[str], original_of: Mapping[str, str], ancestors: Mapping[str, set[str]]
) -> tuple[str, ...]:
    """``ids`` without repeats and without any that is below another of them."""
    unique = list(dict.fromkeys(ids))
    return tuple(
        i
        for i in unique
        if not any(original_of[i] in ancestors[original_of[j]] for j in unique)
    )


def _depends(
    rev: SharedRevision,
    split: BindSplit,
    labels: Mapping[str, str],
    parents: tuple[str, ...],
    original_of: Mapping[str, str],
    ancestors: Mapping[str, set[str]],
) -> tuple[str, ...]:
    """The dependencies in the bind's chain: each old one's nearest kept revision,
    unless the parents already bring it."""
    wanted = _nearest_dependencies(rev, split, labels)
    below = {original_of[p] for p in parents}
    for p in parents:
        below |= ancestors[original_of[p]]
    return tuple(
        d
        for d in _reduce([*parents, *wanted], original_of, ancestors)
        if d not in parents and original_of[d] not in below
    )


def _nearest_dependencies(
    rev: SharedRevision, split: BindSplit, labels: Mapping[str, str]
) -> list[str]:
    """The bind's revisions that stand for ``rev``'s dependencies."""
    return [n for d in as_ids(rev.depends_on) for n in split.nearest[labels.get(d, d)]]


def _bind_file(
    split: BindSplit,
    rev: SharedRevision,
    new_id: str,
    parents: tuple[str, ...],
    depends: tuple[str, ...],
    works: bool,
) -> PlannedFile:
    stem = os.path.basename(rev.path)
    name = stem.replace(rev.revision, new_id, 1)
    if name == stem:
        name = f"{new_id}_{stem}"
    identity = Identity(
        revision=new_id,
        down_revision=_one_or_tuple(parents),
        depends_on=_one_or_tuple(depends),
        note=(
            f"Split from: {rev.revision} (Flask-Migrate --multidb revision, "
            f"{os.path.basename(rev.path)}), for bind {split.bind}"
        ),
    )
    return PlannedFile(
        original=rev.revision,
        revision=new_id,
        down_revisions=parents,
        depends_on=depends,
        message=rev.message,
        path=split.directory / name,
        text=rewrite(rev, split.engine if works else None, identity),
        works=works,
    )


def _one_or_tuple(ids: tuple[str, ...]) -> str | tuple[str, ...] | None:
    if not ids:
        return None
    return ids[0] if len(ids) == 1 else ids


def _new_id(bind: str, original: str, taken: set[str]) -> str:
    """An id made from the bind and the original id: the same every time, and
    unique in the app."""
    seed = f"{bind}\0{original}"
    count = 0
    while True:
        digest = hashlib.sha256(f"{seed}\0{count}".encode()).hexdigest()[:12]
        if digest not in taken:
            taken.add(digest)
            return digest
        count += 1
