"""Differential test of the stairway's walk: on generated revision graphs (branches,
merges, several bases, depends_on by id and by label), the walk of the pytest plugin's
stairway and clean-downgrade checks, one run of single steps, leaves the version table
where Alembic's own commands leave it, stage by stage, and runs the same migrations in
the same order.

Alembic's side takes the same walk with ``alembic.command`` calls, as the checks did
before the walk: for each revision, ``upgrade`` what it needs, ``upgrade`` it, then
take it down alone (``stamp --purge`` it, ``downgrade -1`` or, from a merge, to its
first parent, ``stamp`` the other heads back) and ``upgrade`` it again. (The checks used to downgrade to the revision's first
parent, or to ``base``: that also took down what a revision only depends on, even
revisions left out of the walk.)
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from hypothesis import given
from hypothesis import HealthCheck
from hypothesis import Phase
from hypothesis import settings
from hypothesis import strategies as st

from flask_schemaver.results import Revision
from flask_schemaver.testing import checks
from flask_schemaver.testing import MigrationRunner
from flask_schemaver.testing import ThrowawayDatabases
from parity_sides import Oracle
from parity_sides import Ours
from revision_graphs import Graph
from revision_graphs import graphs
from revision_graphs import RANDOM
from revision_graphs import SCALE
from revision_graphs import write

WALKS = settings(
    max_examples=20 * SCALE,
    deadline=None,
    derandomize=not RANDOM,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
    # Shrinking a failing walk takes many minutes: the first failure is shown.
    phases=[Phase.explicit, Phase.generate],
)


@contextmanager
def project(graph: Graph) -> Iterator[tuple[Oracle, MigrationRunner]]:
    root = Path(tempfile.mkdtemp(prefix="walks-"))
    versions = root / "migrations" / "versions"
    write(graph, versions)
    oracle = Oracle.make(root / "alembic", versions, root / "alembic.db")
    ours = Ours(root)
    databases = ThrowawayDatabases()
    try:
        with ours.app.app_context():
            runner = MigrationRunner(ours.app, databases, root)
            try:
                yield oracle, runner
            finally:
                runner.close()
    finally:
        ours.dispose()
        databases.close()
        shutil.rmtree(root)


@WALKS
@given(graph=graphs(max_revisions=6), data=st.data())
def test_walk_equals_alembics_commands(graph: Graph, data: st.DataObject) -> None:
    skip = data.draw(st.lists(st.sampled_from(graph.ids), unique=True), label="skip")
    with project(graph) as (oracle, runner):
        revisions = runner.revisions()
        theirs_rows: list[tuple[str, str, list[str]]] = []
        theirs_steps, theirs_failed = alembic_walk(oracle, revisions, skip, theirs_rows)
        mine_rows: list[tuple[str, str, list[str]]] = []

        def look(revision: Revision, stage: str) -> None:
            mine_rows.append((revision.id, stage, sorted(runner.current())))

        try:
            checks._walk(runner, "default", skip, look)
        except checks.CheckFailed as exc:
            # Alembic fails on some graphs (a merge that depends on an ancestor of
            # one of its parents): so must the walk, at the same revision.
            assert theirs_failed is not None, exc
            assert f"at revision {theirs_failed} " in str(exc)
        else:
            assert theirs_failed is None
            assert sorted(runner.current()) == oracle.rows()
        # A downgrade alone may leave a row that another implies, where the recipe
        # stamps the other heads away first: the same revisions are applied.
        assert [(r, s, applied(oracle, rows)) for r, s, rows in mine_rows] == [
            (r, s, applied(oracle, rows)) for r, s, rows in theirs_rows
        ]
        assert history_steps(runner) == theirs_steps


def alembic_walk(
    oracle: Oracle,
    revisions: list[Revision],
    skip: list[str],
    rows: list[tuple[str, str, list[str]]],
) -> tuple[list[tuple[str, bool]], str | None]:
    """The walk as separate Alembic commands: the migrations they ran, in order, and
    the revision at which Alembic failed, if it did."""
    steps: list[tuple[str, bool]] = []

    class Failed(Exception):
        pass

    def call(fn: Any, target: str, **kw: Any) -> None:
        outcome, ran = oracle.call(fn, target, **kw)
        if outcome != "ok":
            raise Failed(ran)
        steps.extend((s.up_revision_id, s.is_upgrade) for s in ran if not s.is_stamp)

    for revision in revisions:
        try:
            _alembic_moves(oracle, revision, skip, rows, call)
        except Failed:
            return steps, revision.id
    return steps, None


def _alembic_moves(
    oracle: Oracle,
    revision: Revision,
    skip: list[str],
    rows: list[tuple[str, str, list[str]]],
    call: Any,
) -> None:
    needs = {*revision.down_revisions, *revision.depends_on}
    for needed in sorted(needs - set(oracle.rows())):
        call(command.upgrade, needed)
    rows.append((revision.id, "before", oracle.rows()))
    call(command.upgrade, revision.id)
    if revision.id in skip:
        return
    others = [head for head in oracle.rows() if head != revision.id]
    if others:
        call(command.stamp, revision.id, purge=True)
    # A relative step down from a merge is ambiguous to Alembic: to a parent, then.
    merge = len(revision.down_revisions) > 1
    call(command.downgrade, revision.down_revisions[0] if merge else "-1")
    for head in others:
        call(command.stamp, head)
    rows.append((revision.id, "after", oracle.rows()))
    call(command.upgrade, revision.id)


def applied(oracle: Oracle, rows: list[str]) -> set[str]:
    """The revisions applied at version rows ``rows``: the rows and what they imply."""
    revision_map = oracle.scripts().revision_map
    return {
        r.revision
        for r in revision_map._get_ancestor_nodes(
            revision_map.get_revisions(rows), check=False
        )
    }


def history_steps(runner: MigrationRunner) -> list[tuple[str, bool]]:
    """The migrations the walk ran, from the bind's history table."""
    with runner.connect() as connection:
        found = connection.execute(
            sa.text(
                "SELECT revision, direction FROM alembic_version_history ORDER BY id"
            )
        ).all()
    return [(revision, direction == "upgrade") for revision, direction in found]
