"""Walks: many single upgrades and downgrades on one bind, as one run.

The pytest plugin's stairway and clean-downgrade checks take every revision up, down
and up again. Each of those moves is a run of its own as far as the database can
tell (its own transaction, its history row, its 'started' row where DDL commits as it
runs), but the walk takes the bind's lock once, connects once, and reads and imports
the revision files once (see :mod:`flask_schemaver.runtime.walking`), so that its
cost grows with the number of revisions, not with its square.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..exceptions import SchemaVerError
from ..options import RunOptions
from ..runtime import environment
from ..runtime.collecting import fewer_collections
from ..runtime.walking import Move as Move
from ..runtime.walking import Walker
from .runs import _interrupted
from .runs import _name_leftovers
from .runs import locked
from .runs import prepare
from .tracking import Tracker

if TYPE_CHECKING:
    from ..binds import Bind
    from ..results import Step
    from ..settings import Settings


def walk(
    bind: Bind,
    settings: Settings,
    moves: Iterable[Move],
) -> list[Step]:
    """Run ``moves`` on the bind's database, each step in its own transaction.

    ``moves`` is consumed as the walk goes: what the iterator does between two moves
    (say, read the schema) sees the previous one committed. Every step is committed,
    whatever the bind's ``transaction_per_migration``, as separate runs would be.

    :raises MigrationError: and the other errors of ``upgrade``, naming the revision.
    """
    options = dict(bind.context_options, transaction_per_migration=True)
    bind = dataclasses.replace(bind, context_options=options)
    tracker = Tracker(bind, RunOptions("upgrade", "heads", (bind.name,)))
    walker = Walker(bind, moves, between=tracker.finished)
    try:
        with (
            fewer_collections(),
            locked(bind, settings, None, tracker.describe_running) as connection,
        ):
            prepare(bind, connection, "upgrade")
            config = environment.make_config(
                bind,
                settings,
                connection=connection,
                on_version_apply=walker.on_version_apply(tracker.applied),
                on_step_start=tracker.start,
            )
            with tracker.attached(connection):
                walker.run(config)
            tracker.finished()
    except KeyboardInterrupt:
        error = _interrupted(bind, tracker)
        _name_leftovers(bind, error)
        raise error from None
    except SchemaVerError as exc:
        _name_leftovers(bind, exc)
        raise
    return tracker.steps
