"""Autogenerate, finished before the revision is written.

Alembic compares the models with the database and hands its operations to
``process_revision_directives``; :func:`finish` works on them there:

- it refuses a revision that drops every table of a bind that has no models (the
  app's models were not imported), unless asked to write it;
- it writes renames instead of drop + add where the user says so, asking through a
  callback or taking ``--rename`` answers (:mod:`.renames`);
- on PostgreSQL, it adds the ``ALTER TYPE`` statements for ENUM values that changed,
  which Alembic does not compare (:mod:`.enums`).

The operations it adds render as plain ``op.execute()`` calls (see :mod:`.sqlops`), so
that a revision file needs nothing from flask_schemaver to run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING

from alembic.operations import ops

from ..exceptions import MigrationError
from ..exceptions import UsageError

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext

    from ..binds import Bind
    from ..options import RenameCallback
    from ..results import Rename

#: Config attribute: the :class:`Request` of an autogenerate run.
REQUEST = "schemaver.autogenerate"


@dataclass
class Request:
    """What one bind's autogenerate was asked, and what it did about renames."""

    bind: Bind
    #: Renames given with ``--rename`` whose table belongs to this bind.
    renames: Sequence[Rename] = ()
    #: Asks about a likely rename; None never asks.
    ask: RenameCallback | None = None
    #: Write a revision that drops every table even when the bind has no models.
    allow_drop_all: bool = False
    #: Where the app's models should be imported, for the empty-models message.
    models_hint: str = ""
    #: Renames written as renames.
    applied: list[Rename] = field(default_factory=list)
    #: Likely renames left as drop + add for want of an answer.
    unanswered: list[Rename] = field(default_factory=list)


def finish(
    context: MigrationContext,
    directives: list[ops.MigrationScript],
    request: Request,
) -> None:
    """Check and complete the operations autogenerate found, in place."""
    from . import enums
    from . import renames

    for script in directives:
        changed = False
        for upgrade_ops in script.upgrade_ops_list:
            guard_empty_models(request, upgrade_ops)
            changed = renames.apply(context, upgrade_ops, request) or changed
            if context.dialect.name == "postgresql":
                changed = enums.compare(context, upgrade_ops, request) or changed
        if changed:
            for upgrade_ops, downgrade_ops in zip(
                script.upgrade_ops_list, script.downgrade_ops_list, strict=True
            ):
                downgrade_ops.ops[:] = []
                upgrade_ops.reverse_into(downgrade_ops)
    done = {(r.table, r.old, r.new) for r in request.applied}
    unused = [r for r in request.renames if (r.table, r.old, r.new) not in done]
    if unused:
        raise UsageError(_unused(unused[0]), request.bind.name)


def guard_empty_models(request: Request, upgrade_ops: ops.UpgradeOps) -> None:
    """Refuse to drop the tables of a bind whose models were never imported."""
    bind = request.bind
    if request.allow_drop_all or bind.metadata.tables:
        return
    dropped = [
        str(o.table_name) for o in upgrade_ops.ops if isinstance(o, ops.DropTableOp)
    ]
    if not dropped:
        return
    shown = ", ".join(dropped[:5]) + (", ..." if len(dropped) > 5 else "")
    where = request.models_hint or "where the app is created"
    raise MigrationError(
        f"the bind has no models, so the revision would drop every table of its "
        f"database ({shown}): the app's models were not imported; import the "
        f"module that defines them {where}, or pass --allow-drop-all if dropping "
        "them all is what you want",
        bind.name,
    )


def _unused(rename: Rename) -> str:
    if rename.kind == "table":
        found = f"table {rename.old} dropped and table {rename.new} created"
    else:
        found = (
            f"column {rename.old} dropped from {rename.table} and column "
            f"{rename.new} added (or ENUM value {rename.old!r} of {rename.table} "
            f"changed to {rename.new!r})"
        )
    return (
        f"--rename {rename.option}: autogenerate found no {found} with compatible "
        "types; check the names against the models and the database"
    )
