"""Writing a bind's revision files: init, revision (and autogenerate), merge."""

from __future__ import annotations

import io
from collections.abc import Collection
from collections.abc import Sequence
from contextlib import redirect_stdout
from typing import Any
from typing import TYPE_CHECKING

from alembic import command
from alembic.operations import ops
from alembic.util import rev_id as random_rev_id

from ..exceptions import MigrationError
from ..options import parse_renames
from ..results import Rename
from ..results import Revision
from ..results import RevisionResult
from ..runtime import autogen
from ..runtime import environment
from ..runtime.errors import translate_errors
from . import preflight
from .plan import describe

if TYPE_CHECKING:
    from ..binds import Bind
    from ..options import RevisionKeywords
    from ..settings import Settings


def init(bind: Bind) -> bool:
    """Create the bind's revision folder; return False when it existed already."""
    if bind.directory.is_dir():
        return False
    bind.directory.mkdir(parents=True)
    return True


def revision(
    bind: Bind,
    settings: Settings,
    message: str | None,
    options: RevisionKeywords,
    taken_ids: Collection[str] = (),
    models_hint: str = "",
) -> RevisionResult:
    """Write a new revision file for the bind, from the models when autogenerating.

    A generated id is one that none of ``taken_ids`` uses. ``models_hint`` says where
    the app's models should be imported, for the refusal to drop every table.
    """
    preflight.check_script_template(settings)
    autogenerate = options.get("autogenerate", False)
    config = environment.make_config(
        bind, settings, x_args=options.get("x_args", ()), autogenerate=autogenerate
    )
    detected: list[ops.UpgradeOps] = []
    config.attributes[environment.DETECTED] = detected
    request = None
    if autogenerate:
        request = config.attributes[autogen.REQUEST] = autogen.Request(
            bind,
            renames=renames_of(bind, parse_renames(options.get("rename", ()))),
            ask=options.get("on_rename"),
            allow_drop_all=options.get("allow_drop_all", False),
            models_hint=models_hint,
        )
    label = options.get("branch_label")
    with translate_errors(bind):
        if autogenerate:
            _check_database_known(bind, settings)
        if label:
            preflight.check_branch_label(
                bind, environment.revision_graph(bind, settings), label
            )
        # Alembic announces post-write hooks on stdout whatever its quiet setting says.
        with redirect_stdout(io.StringIO()):
            written = command.revision(
                config,
                message=message,
                autogenerate=autogenerate,
                head=options.get("head", "head"),
                splice=options.get("splice", False),
                branch_label=label,
                depends_on=list(options.get("depends_on", ())) or None,  # type: ignore[arg-type]  # takes a list too
                rev_id=options.get("rev_id") or new_rev_id(taken_ids),
            )
    revisions = _revisions(written)
    return RevisionResult(
        bind.name,
        revisions,
        detected=_describe(bind, detected) if revisions else [],
        renames=list(request.applied) if request else [],
        likely_renames=list(request.unanswered) if request and revisions else [],
    )


def renames_of(bind: Bind, renames: Sequence[Rename]) -> list[Rename]:
    """The renames whose new table (or ENUM type) is among the bind's models."""
    from ..runtime.enums import model_enums

    tables = {t.name: t for t in bind.metadata.tables.values()}
    tables.update({t.key: t for t in bind.metadata.tables.values()})
    enums = {name: values for (_, name), values in model_enums(bind.metadata).items()}
    mine = []
    for rename in renames:
        if rename.kind == "table":
            if rename.new in tables:
                mine.append(rename)
            continue
        table = tables.get(rename.table or "")
        in_table = table is not None and rename.new in table.c
        if in_table or rename.new in enums.get(rename.table or "", ()):
            mine.append(rename)
    return mine


def _describe(bind: Bind, detected: list[ops.UpgradeOps]) -> list[str]:
    """What autogenerate found, one short line per operation."""
    dialect = bind.engine.dialect
    lines = []
    for upgrade_ops in detected:
        for op in upgrade_ops.ops:
            inner = op.ops if isinstance(op, ops.ModifyTableOps) else [op]
            lines += [describe(o, dialect).text for o in inner]
    return lines


def _check_database_known(bind: Bind, settings: Settings) -> None:
    """Autogenerate builds on the database's revision: it must have a file."""
    current = environment.current_heads(bind)
    known = {
        s.revision for s in environment.revision_graph(bind, settings).walk_revisions()
    }
    missing = [rev for rev in current if rev not in known]
    if missing:
        raise MigrationError(
            f"the database is at {', '.join(missing)}, which no revision file in "
            f"{bind.directory} has, so there is nothing to build the new revision on; "
            "if that is not the project's migrations folder, run from the project's "
            "root or pass -d; else restore the file, or record where the database "
            f"really is with 'flask db stamp --bind {bind.name} --purge REVISION'",
            bind.name,
        )


def merge(
    bind: Bind,
    settings: Settings,
    revisions: Sequence[str] = ("heads",),
    *,
    message: str | None = None,
    branch_label: str | None = None,
    rev_id: str | None = None,
    taken_ids: Collection[str] = (),
) -> RevisionResult:
    """Write a revision that joins ``revisions`` (by default all heads) into one."""
    preflight.check_script_template(settings)
    config = environment.make_config(bind, settings)
    with translate_errors(bind):
        targets = list(revisions)
        if targets == ["heads"]:
            # Every head, including revisions that others only depend on.
            targets = list(environment.script_directory(config).get_heads())
            if len(targets) < 2:
                return RevisionResult(bind.name, [])
        written = command.merge(
            config,
            targets,
            message=message,
            branch_label=branch_label,
            rev_id=rev_id or new_rev_id(taken_ids),
        )
    return RevisionResult(bind.name, _revisions(written))


def new_rev_id(taken: Collection[str]) -> str:
    """A fresh revision id that none of ``taken`` uses."""
    while True:
        candidate = random_rev_id()
        if candidate not in taken:
            return candidate


def _revisions(written: Any) -> list[Revision]:
    if written is None:
        return []
    scripts = written if isinstance(written, list) else [written]
    return [Revision.from_script(s) for s in scripts if s is not None]
