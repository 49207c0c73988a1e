"""Judging one bind for CI: the gates of ``check``, and accepting an edited revision."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..exceptions import UsageError
from ..results import CheckResult
from ..results import GATES
from ..runtime import connections
from ..runtime import environment
from ..runtime import history
from ..runtime.errors import translate_errors
from .looks import status

if TYPE_CHECKING:
    from ..binds import Bind
    from ..results import BindStatus
    from ..results import Gate
    from ..settings import Settings


def check(
    bind: Bind, settings: Settings, gates: tuple[Gate, ...] = GATES
) -> CheckResult:
    """Whether the bind is sound: one head, nothing pending or edited, models match the
    database. Only ``gates`` count; the models are compared only for ``drift``. The
    ``heads`` gate alone reads only the files, so it works without a database."""
    if set(gates) == {"heads"}:
        with translate_errors(bind):
            heads = tuple(environment.revision_graph(bind, settings).get_heads())
        return CheckResult(
            bind=bind.name,
            drift=[],
            pending=[],
            heads=heads,
            compared=False,
            gates=gates,
        )
    state = status(bind, settings)
    pending = [r.id for r in state.pending]
    at_head = (
        not pending and not state.missing and not state.unfinished and "drift" in gates
    )
    drift: list[str] = []
    if at_head:
        upgrade_ops = environment.compare_models(bind)
        if not upgrade_ops.is_empty():
            drift = environment.render_operations(bind, upgrade_ops)
    return CheckResult(
        bind=bind.name,
        drift=drift,
        pending=pending,
        heads=state.heads,
        missing=state.missing,
        edited=state.edited,
        unfinished=state.unfinished,
        flask_migrate=state.flask_migrate,
        compared=at_head,
        gates=gates,
    )


def acknowledge(bind: Bind, state: BindStatus, revision: str) -> str:
    """Record the current checksum of ``revision``, an applied revision of ``bind``
    whose file was edited; ``state`` is the bind's status. Returns the revision id."""
    if not bind.history:
        raise UsageError(
            f"bind {bind.name!r} keeps no history (its 'history' option is off)"
        )
    matches = [s for s in state.revisions if s.revision.id.startswith(revision)] or [
        s for s in state.revisions if revision in s.revision.branch_labels
    ]
    if len(matches) != 1 or not matches[0].applied:
        raise UsageError(
            f"{revision!r} is not an applied revision of bind {bind.name!r}; "
            "only applied revisions have a checksum to acknowledge",
            bind.name,
        )
    rev = matches[0].revision
    with connections.connect(bind) as connection, connection.begin():
        history.ensure_in(bind, connection)
        history.write(
            bind,
            connection,
            revision=rev.id,
            direction="acknowledge",
            path=rev.path,
            seconds=None,
        )
    return rev.id
