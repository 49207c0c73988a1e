"""The split plan against Alembic, on generated graphs: for a database that the old
chain has at any revision, Alembic's idea of what is applied in the bind's new chain,
from the place ``--stamp`` gives it, is exactly the bind's revisions that Alembic counts
as applied in the old chain. So ``upgrade`` afterwards runs exactly what the old layout
had still to run for that database, in an order Alembic accepts.

Graphs come from revision_graphs.py (branches, merges, several bases, branch labels,
``depends_on`` by id and by label); which revisions have work for the bind is drawn
too.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic.script.revision import Revision as AlembicRevision
from alembic.script.revision import RevisionMap
from hypothesis import given
from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st

from flask_schemaver.script.multidb import read_shared_chain
from flask_schemaver.script.split import plan
from revision_graphs import Graph
from revision_graphs import graphs
from revision_graphs import RANDOM
from revision_graphs import SCALE

GRAPHS = settings(
    max_examples=80 * SCALE,
    deadline=None,
    derandomize=not RANDOM,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def write_multidb(folder: Path, graph: Graph, works: dict[str, bool]) -> None:
    """The graph as multidb files with Flask-Migrate's stock dispatcher; analytics
    has work where ``works`` says so."""
    for rev in graph.revisions:
        down = rev.parents[0] if len(rev.parents) == 1 else (rev.parents or None)
        analytics = 'op.execute("SELECT 1")' if works[rev.id] else "pass"
        (folder / f"{rev.id}.py").write_text(
            f'"""step {rev.id}"""\nfrom alembic import op\n\n'
            f"revision = {rev.id!r}\ndown_revision = {down!r}\n"
            f"branch_labels = {rev.labels or None!r}\n"
            f"depends_on = {rev.depends or None!r}\n\n\n"
            'def upgrade(engine_name):\n    globals()["upgrade_%s" % engine_name]()\n\n\n'
            'def downgrade(engine_name):\n    globals()["downgrade_%s" % engine_name]()\n\n\n'
            "def upgrade_():\n    pass\n\n\ndef downgrade_():\n    pass\n\n\n"
            f"def upgrade_analytics():\n    {analytics}\n\n\n"
            "def downgrade_analytics():\n    pass\n"
        )


def applied(revisions: RevisionMap, at: tuple[str, ...]) -> set[str]:
    """What Alembic counts as applied for a version table holding ``at``."""
    if not at:
        return set()
    return {r.revision for r in revisions.iterate_revisions(at, "base")}


@GRAPHS
@given(graph=graphs(max_revisions=8), data=st.data())
def test_stamped_places_match_what_alembic_counts_as_applied(
    graph: Graph, data: st.DataObject
) -> None:
    works = {rev.id: data.draw(st.booleans(), label=rev.id) for rev in graph.revisions}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "versions"
        folder.mkdir()
        write_multidb(folder, graph, works)
        chain = read_shared_chain(folder)
        split = plan(chain, {"default": folder, "analytics": Path(scratch) / "a"}, {})
    old = RevisionMap(
        lambda: [
            AlembicRevision(
                r.id,
                r.parents or None,
                dependencies=r.depends or None,
                branch_labels=r.labels or None,
            )
            for r in graph.revisions
        ]
    )
    analytics = split.binds[1]
    original = {f.revision: f.original for f in analytics.files}
    new = RevisionMap(
        lambda: [
            AlembicRevision(
                f.revision, f.down_revisions or None, dependencies=f.depends_on or None
            )
            for f in analytics.files
        ]
    )
    kept = set(original.values())
    # Every revision with work is kept; the others only to join what needs joining.
    assert {r for r, w in works.items() if w} <= kept
    for rev in graph.revisions:
        place = split.position("analytics", (rev.id,))
        assert len(place) <= 1
        expected = applied(old, (rev.id,)) & kept
        assert {original[r] for r in applied(new, place)} == expected, rev.id
    # The default chain keeps every revision as it was.
    assert [f.revision for f in split.binds[0].files] == [
        f.original for f in split.binds[0].files
    ]
    if not any(r.depends for r in graph.revisions):
        heads = {r.revision for r in old.get_revisions(old.heads)}
        assert len(new.heads) <= len(heads)
