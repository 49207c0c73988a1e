"""Reading one bind: heads, branches, history, show, current, status."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..results import BindStatus
from ..results import Revision
from ..results import RevisionStatus
from ..runtime import environment
from ..runtime import history as history_table
from ..runtime import versions
from ..runtime.errors import translate_errors

if TYPE_CHECKING:
    from ..binds import Bind
    from ..script.graph import RevisionGraph
    from ..settings import Settings


def _scripts(bind: Bind, settings: Settings) -> RevisionGraph:
    return environment.revision_graph(bind, settings)


def revision_ids(bind: Bind, settings: Settings) -> set[str]:
    """Every revision id in the bind's folder."""
    with translate_errors(bind):
        return {s.revision for s in _scripts(bind, settings).walk_revisions()}


def heads(bind: Bind, settings: Settings) -> list[Revision]:
    """The bind's head revisions."""
    with translate_errors(bind):
        scripts = _scripts(bind, settings)
        # Like Alembic's own `heads`: revisions that another only depends on count too.
        return [
            Revision.from_script(s)
            for s in scripts.get_revisions(scripts.get_heads())
            if s
        ]


def branches(bind: Bind, settings: Settings) -> list[Revision]:
    """The bind's revisions that more than one revision builds on."""
    with translate_errors(bind):
        scripts = _scripts(bind, settings)
        return [
            Revision.from_script(s)
            for s in scripts.walk_revisions()
            if s.is_branch_point
        ]


def history(
    bind: Bind, settings: Settings, rev_range: str | None = None
) -> list[Revision]:
    """The bind's revisions, newest first, optionally limited to ``start:end``."""
    base, head = "base", "heads"
    if rev_range:
        start, sep, end = rev_range.partition(":")
        if not sep:
            start, end = rev_range, ""
        base, head = start or "base", end or "heads"
    with translate_errors(bind):
        scripts = _scripts(bind, settings)
        if "current" in (base, head):
            current = environment.current_heads(bind) or ("base",)
            base = current[0] if base == "current" else base
            head = current[0] if head == "current" else head
        return [Revision.from_script(s) for s in scripts.walk_revisions(base, head)]


def show(bind: Bind, settings: Settings, revision: str) -> list[Revision]:
    """The revisions that ``revision`` names (an id, ``head``, ``label@head``, ...)."""
    with translate_errors(bind):
        scripts = _scripts(bind, settings)
        if revision == "current":
            names: tuple[str, ...] = environment.current_heads(bind)
        else:
            names = (revision,)
        return [
            Revision.from_script(s)
            for name in names
            for s in scripts.get_revisions(name)
            if s is not None
        ]


def current(bind: Bind) -> tuple[str, ...]:
    """The revisions the bind's database is at."""
    return environment.current_heads(bind)


def current_revisions(
    bind: Bind, settings: Settings
) -> tuple[list[Revision], tuple[str, ...]]:
    """What Alembic's ``current`` lists: the revisions the version table names and the
    heads they depend on, as Alembic finds them; and the rows no file has."""
    at = environment.current_heads(bind)
    with translate_errors(bind):
        scripts = _scripts(bind, settings)
        known = {s.revision for s in scripts.walk_revisions()}
        missing = tuple(rev for rev in at if rev not in known)
        present = tuple(rev for rev in at if rev in known)
        found = scripts.get_all_current(present) if present else set()
        order = {rev: i for i, rev in enumerate(present)}
        ordered = sorted(
            found, key=lambda s: (order.get(s.revision, len(order)), s.revision)
        )
        return [Revision.from_script(s) for s in ordered], missing


def status(bind: Bind, settings: Settings) -> BindStatus:
    """Each revision of the bind, applied or pending, and what the database is at."""
    at = environment.current_heads(bind)
    with translate_errors(bind):
        scripts = _scripts(bind, settings)
        known = {s.revision: s for s in scripts.walk_revisions()}
        missing = tuple(rev for rev in at if rev not in known)
        present = tuple(rev for rev in at if rev in known)
        applied = (
            {s.revision for s in scripts.iterate_revisions(present, "base")}
            if present
            else set()
        )
        ordered = list(reversed(list(known.values())))
        return history_table.annotate(
            bind,
            BindStatus(
                bind=bind.name,
                url=bind.safe_url,
                current=at,
                heads=tuple(scripts.get_heads()),
                revisions=[
                    RevisionStatus(Revision.from_script(s), s.revision in applied)
                    for s in ordered
                ],
                missing=missing,
                flask_migrate=versions.flask_migrate_or_none(bind) or (),
            ),
        )
