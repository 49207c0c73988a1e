"""The stairway and clean-downgrade checks walk a chain as one run: their work grows
linearly with the chain (counted in steps, revision files opened and SQL statements,
never timed: the benchmarks time them), every step is committed and recorded as a run
of its own would be, on every kind of database."""

from __future__ import annotations

import sys
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from flask_schemaver.testing import checks
from flask_schemaver.testing import MigrationRunner
from flask_schemaver.testing import ThrowawayDatabases
from helpers import AppMaker
from helpers import MYSQL_URL
from helpers import POSTGRESQL_URL
from helpers import write_revision_file

_opened: list[str] | None = None


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _opened is not None and event == "open" and isinstance(args[0], str):
        _opened.append(args[0])


sys.addaudithook(_audit)


@dataclass
class Work:
    steps: int
    opened: int
    statements: int


def chain(folder: Path, length: int) -> None:
    """``length`` revisions, each creating a table and dropping it on the way down."""
    down = None
    for i in range(length):
        rev = f"r{i:04d}"
        write_revision_file(
            folder,
            rev,
            down,
            upgrade=f"op.create_table('t{i}', sa.Column('id', sa.Integer, "
            "primary_key=True), sa.Column('name', sa.String(20)))",
            downgrade=f"op.drop_table('t{i}')",
        )
        down = rev


@contextmanager
def counting(runner: MigrationRunner, folder: Path) -> Iterator[Callable[[], Work]]:
    """Count revision files opened and SQL statements run on the bind's database."""
    global _opened
    statements = [0]

    def count(*args: Any) -> None:
        statements[0] += 1

    engine = runner.engine()
    sa.event.listen(engine, "before_cursor_execute", count)
    _opened = []
    opened = _opened
    try:
        yield lambda: Work(
            steps=sum(d in ("upgrade", "downgrade") for _, d in history(runner)),
            opened=sum(1 for path in opened if path.startswith(str(folder))),
            statements=statements[0],
        )
    finally:
        _opened = None
        sa.event.remove(engine, "before_cursor_execute", count)


def history(runner: MigrationRunner) -> list[tuple[str, str]]:
    with runner.connect() as connection:
        return [
            (r, d)
            for r, d in connection.execute(
                sa.text(
                    "SELECT revision, direction FROM alembic_version_history ORDER BY id"
                )
            )
        ]


def work_of(
    tmp_path: Path, url: str, check: str, length: int
) -> tuple[Work, list[tuple[str, str]]]:
    maker = AppMaker(tmp_path / str(length))
    databases = ThrowawayDatabases()
    chain(maker.migrations / "versions", length)
    app = maker(uri=url, tables={None: {f"t{i}": ["name"] for i in range(length)}})
    (tmp_path / f"db{length}").mkdir()
    runner = MigrationRunner(app, databases, tmp_path / f"db{length}")
    try:
        with app.app_context():
            runner.revisions()  # the files' facts cached, as after collection
            with counting(runner, maker.migrations) as counted:
                checks.CHECKS[check](runner, "default", ())
            return counted(), history(runner)
    finally:
        runner.close()
        maker.dispose()
        databases.close()


@pytest.mark.parametrize("check", ["stairway", "clean-downgrade"])
def test_work_grows_linearly_with_the_chain(
    tmp_path: Path, kind_url: str, check: str
) -> None:
    """Four times the revisions, four times the work: steps, files opened (each
    revision file read and imported once, then read once per step for its checksum)
    and SQL statements. Quadratic growth would give sixteen times."""
    if kind_url.startswith("mysql") and check == "clean-downgrade":
        pytest.skip("MySQL/MariaDB snapshots read every table (no signatures)")
    small, steps = work_of(tmp_path, kind_url, check, 10)
    large, _ = work_of(tmp_path, kind_url, check, 40)
    assert small.steps == 30 and large.steps == 120
    first = [("r0000", "upgrade"), ("r0000", "downgrade"), ("r0000", "upgrade")]
    if kind_url.startswith("mysql"):
        # Where DDL commits as it runs, each step says first that it started.
        started = {"upgrade": "started-up", "downgrade": "started-down"}
        first = [row for r, d in first for row in ((r, started[d]), (r, d))]
    assert steps[: len(first)] == first
    for name in ("opened", "statements"):
        ratio = getattr(large, name) / getattr(small, name)
        assert ratio < 4.5, (name, small, large)


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgresql),
        pytest.param("mysql", marks=pytest.mark.mysql),
    ]
)
def kind_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of each kind of database; the runner makes its own databases there."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'main.db'}"
    request.getfixturevalue(f"{request.param}_server")
    return POSTGRESQL_URL if request.param == "postgresql" else MYSQL_URL


#: What an upgrade changes on a table an earlier revision made, and its downgrade
#: forgets to undo; and how clean-downgrade names what it left.
LEAKS = {
    "index": (
        "b.create_index('ix_t_name', ['name'])",
        "index ix_t_name of table t is left behind",
    ),
    "default": (
        "b.alter_column('name', existing_type=sa.String(20), server_default='x')",
        "column name of table t was VARCHAR(20) NULL, is now VARCHAR(20) NULL DEFAULT",
    ),
    "type": (
        "b.alter_column('name', existing_type=sa.String(20), type_=sa.String(40))",
        "column name of table t was VARCHAR(20) NULL, is now VARCHAR(40) NULL",
    ),
    "nullable": (
        "b.alter_column('name', existing_type=sa.String(20), nullable=False)",
        "column name of table t was VARCHAR(20) NULL, is now VARCHAR(20) NOT NULL",
    ),
    "unique": (
        "b.create_unique_constraint('uq_t_name', ['name'])",
        "uq_t_name",
    ),
    "check": (
        "b.create_check_constraint('ck_t_name', 'length(name) > 0')",
        "ck_t_name",
    ),
    "foreign key": (
        "b.create_foreign_key('fk_t_t0', 't0', ['id'], ['id'])",
        "fk_t_t0",
    ),
}


@pytest.mark.parametrize("leak", list(LEAKS))
def test_a_change_to_an_earlier_table_is_caught(
    make_app: AppMaker, kind_url: str, tmp_path: Path, leak: str
) -> None:
    """A snapshot reads again each table whose definition changed, and only those: a
    downgrade that leaves a table an earlier revision made different is caught, with
    the tables of the revisions around it unchanged and not read again."""
    folder = make_app.migrations / "versions"
    chain(folder, 2)  # r0000 and r0001 make t0 and t1
    change, expected = LEAKS[leak]
    write_revision_file(
        folder,
        "r0002",
        "r0001",
        upgrade="op.create_table('t', sa.Column('id', sa.Integer, primary_key=True), "
        "sa.Column('name', sa.String(20)))",
        downgrade="op.drop_table('t')",
    )
    write_revision_file(
        folder,
        "r0003",
        "r0002",
        message="forgets its downgrade",
        upgrade=f"with op.batch_alter_table('t') as b:\n    {change}",
    )
    chain_after = "op.create_table('t9', sa.Column('id', sa.Integer, primary_key=True))"
    write_revision_file(
        folder, "r0004", "r0003", upgrade=chain_after, downgrade="op.drop_table('t9')"
    )
    app = make_app(uri=kind_url)
    databases = ThrowawayDatabases()
    runner = MigrationRunner(app, databases, tmp_path)
    try:
        with pytest.raises(checks.CheckFailed) as caught:
            checks.clean_downgrade(runner, "default")
    finally:
        runner.close()
        databases.close()
    message = str(caught.value)
    assert message.startswith(
        "[default] the downgrade of revision r0003 ('forgets its downgrade') does not "
        "undo its upgrade:\n    "
    ), message
    assert expected in message, message


def test_each_step_is_committed_whatever_the_context_says(
    make_app: AppMaker, kind_url: str, tmp_path: Path
) -> None:
    """With ``transaction_per_migration`` off, a walk still commits every step, as
    separate runs did: what clean-downgrade reads between two steps is what they
    left, so a downgrade that leaves a table behind is caught."""
    folder = make_app.migrations / "versions"
    chain(folder, 2)
    write_revision_file(
        folder,
        "r0002",
        "r0001",
        upgrade="op.create_table('kept', sa.Column('id', sa.Integer, primary_key=True))",
    )
    app = make_app(uri=kind_url, SCHEMAVER_CONTEXT={"transaction_per_migration": False})
    databases = ThrowawayDatabases()
    runner = MigrationRunner(app, databases, tmp_path)
    try:
        with pytest.raises(checks.CheckFailed, match="table kept is left behind"):
            checks.clean_downgrade(runner, "default")
    finally:
        runner.close()
        databases.close()


def test_the_app_s_objects_leave_the_collector_only_during_a_run() -> None:
    """Runs, walks and model comparisons keep the objects alive before them out of
    the garbage collector's full collections, and give them back at the end, nested
    or not."""
    import gc

    from flask_schemaver.runtime.collecting import fewer_collections

    assert gc.get_freeze_count() == 0
    with fewer_collections():
        frozen = gc.get_freeze_count()
        assert frozen > 0
        with fewer_collections():
            assert gc.get_freeze_count() == frozen
        assert gc.get_freeze_count() == frozen
    assert gc.get_freeze_count() == 0
