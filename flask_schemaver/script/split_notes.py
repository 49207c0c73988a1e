"""The decisions a split of a Flask-Migrate ``--multidb`` chain took, in words: what
``flask db split-multidb`` prints for the plan and for each bind.

This module must not import Alembic.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from .multidb import describe_files

if TYPE_CHECKING:
    from .multidb import SharedChain
    from .multidb import SharedRevision
    from .split import BindSplit


def note_bind(
    split: BindSplit,
    order: list[SharedRevision],
    missing: list[SharedRevision],
    merges: list[str],
    labelled: list[str],
) -> None:
    """Add to ``split.decisions`` what was decided for its bind: the revisions it
    gets and leaves out, those without its functions, empty merges, labels."""
    kept = sum(1 for f in split.files if f.works)
    left = len(order) - len(split.files)
    if split.engine is None:
        split.decisions.append(
            "no revision has functions for this bind: its chain starts empty"
        )
        return
    split.decisions.append(
        f"gets the {kept} revision(s) that do something for it (engine "
        f"{split.engine!r}); {left} that do nothing for it are left out, each "
        "replaced as a parent by its nearest kept ancestor"
    )
    stock = [r for r in missing if r.shape != "get"]
    if stock:
        split.decisions.append(
            f"{len(stock)} revision(s) have no upgrade_{split.engine}(), where "
            "Flask-Migrate's dispatcher would fail on a database it had not been "
            f"stamped past ({describe_files([r.path for r in stock])}): taken as "
            "doing nothing for this bind, as they were written before it existed"
        )
    if merges:
        split.decisions.append(
            "kept as empty merges, joining branches that both have work for this "
            f"bind (or keeping a dependency on one): {', '.join(merges)}"
        )
    if labelled:
        split.decisions.append(
            f"branch labels stay with the default chain; not copied here from "
            f"{', '.join(labelled)}"
        )


def plan_decisions(
    chain: SharedChain,
    owners: Mapping[str, str | None],
    engines: Mapping[str, str | None],
) -> list[str]:
    """What a plan found in the shared chain, for the dry run's first lines: the
    revisions by shape, the engines left out and ``--engine`` names unused."""
    shapes: dict[str, int] = {}
    for rev in chain.revisions:
        shapes[rev.shape] = shapes.get(rev.shape, 0) + 1
    names = {
        "plain": "plain upgrade() (from before the project went multidb)",
        "stock": "Flask-Migrate's dispatcher globals()[...]()",
        "get": "the dispatcher globals().get(..., lambda: None)()",
        "eval": "Alembic's multidb dispatcher eval(...)()",
    }
    found = ", ".join(f"{n} {names[s]}" for s, n in sorted(shapes.items()))
    lines = [f"{len(chain.revisions)} revisions in {chain.directory}: {found}"]
    left = sorted(e for e, b in owners.items() if b is None)
    if left:
        lines.append(
            f"left out (--engine NAME=): the functions of engine(s) "
            f"{', '.join(repr(e) for e in left)}"
        )
    unused = sorted(set(engines) - set(owners))
    if unused:
        lines.append(
            f"--engine names engine(s) no revision has: {', '.join(map(repr, unused))}"
        )
    return lines
