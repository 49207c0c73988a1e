"""Revision targets: every kind Alembic accepts means what it means to Alembic, and a
name that names nothing is refused before anything runs (issue 11, item 2).

The generated cases are in test_parity.py; these are the reported ones, by hand, through
the Python API and the CLI, each checked against Alembic on its own database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from alembic import command

from flask_schemaver import MultipleHeads
from flask_schemaver import RunFailed
from flask_schemaver import SchemaVerError
from flask_schemaver import UnknownRevision
from parity_sides import Oracle
from parity_sides import Ours
from parity_sides import write_rows
from revision_graphs import Graph
from revision_graphs import Rev
from revision_graphs import Style
from revision_graphs import write


def rev(
    id_: str,
    *parents: str,
    labels: tuple[str, ...] = (),
    depends: tuple[str, ...] = (),
) -> Rev:
    return Rev(id_, parents, depends, labels, f"{id_}_step.py", Style())


#: r1 <- r2 <- r3 <- r4, and a branch labelled alpha on r2: r2 <- a1 <- a2.
CHAIN = Graph(
    (
        rev("r1"),
        rev("r2", "r1"),
        rev("r3", "r2"),
        rev("r4", "r3"),
        rev("a1", "r2", labels=("alpha",)),
        rev("a2", "a1"),
    )
)
LINE = Graph((rev("r1"), rev("r2", "r1"), rev("r3", "r2"), rev("r4", "r3")))


@pytest.fixture
def line(tmp_path: Path) -> Iterator[tuple[Ours, Oracle]]:
    with project(tmp_path, LINE) as made:
        yield made


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[tuple[Ours, Oracle]]:
    with project(tmp_path, CHAIN) as made:
        yield made


@contextmanager
def project(tmp_path: Path, graph: Graph) -> Iterator[tuple[Ours, Oracle]]:
    """``graph``'s files, our app on one database and Alembic on another."""
    versions = tmp_path / "migrations" / "versions"
    write(graph, versions)
    ours = Ours(tmp_path)
    oracle = Oracle.make(tmp_path / "alembic", versions, tmp_path / "alembic.db")
    try:
        with ours.app.app_context():
            yield ours, oracle
    finally:
        ours.dispose()


def at(ours: Ours) -> list[str]:
    return sorted(ours.ext.current()["default"])


def both(ours: Ours, oracle: Oracle, verb: str, target: str) -> list[str]:
    """Run ``verb target`` on both databases; where ours ends, checked equal."""
    fn = getattr(command, verb)
    assert oracle.call(fn, target)[0] == "ok", oracle.warned
    getattr(ours.ext, verb)(target)
    assert at(ours) == oracle.rows()
    return at(ours)


def test_relative_to_a_revision_and_to_head(line: tuple[Ours, Oracle]) -> None:
    ours, oracle = line
    assert both(ours, oracle, "upgrade", "r1") == ["r1"]
    assert both(ours, oracle, "upgrade", "r1+1") == ["r2"]
    assert both(ours, oracle, "upgrade", "r2+2") == ["r4"]
    assert both(ours, oracle, "downgrade", "head-1") == ["r3"]
    assert both(ours, oracle, "downgrade", "r3-1") == ["r2"]
    assert both(ours, oracle, "upgrade", "+1") == ["r3"]
    assert both(ours, oracle, "downgrade", "-2") == ["r1"]
    assert both(ours, oracle, "upgrade", "head") == ["r4"]
    assert both(ours, oracle, "downgrade", "base+1") == ["r1"]
    assert both(ours, oracle, "upgrade", "heads-1") == ["r3"]
    assert both(ours, oracle, "downgrade", "base") == []


def test_relative_targets_through_the_cli(line: tuple[Ours, Oracle]) -> None:
    ours, _ = line
    runner = ours.app.test_cli_runner()
    for args, now in (
        (["upgrade", "r1"], ["r1"]),
        (["upgrade", "r1+1"], ["r2"]),
        (["upgrade", "heads"], ["r4"]),
        (["downgrade", "head-1"], ["r3"]),
        (["downgrade", "r3-1"], ["r2"]),
    ):
        result = runner.invoke(args=["db", *args])
        assert result.exit_code == 0, result.output
        assert at(ours) == now, args
    result = runner.invoke(args=["db", "upgrade", "r9+1"])
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [
        "Error: [default] unknown revision 'r9'; 'flask db history --bind default' "
        "lists the bind's revisions"
    ]


def test_branch_labels_and_partial_ids(chain: tuple[Ours, Oracle]) -> None:
    ours, oracle = chain
    assert both(ours, oracle, "upgrade", "alpha@+1") == ["r1"]
    assert both(ours, oracle, "upgrade", "alpha@+2") == ["a1"]  # r2, then alpha's a1
    assert both(ours, oracle, "upgrade", "alpha@head") == ["a2"]
    assert both(ours, oracle, "downgrade", "alpha@-1") == ["a1"]
    assert both(ours, oracle, "upgrade", "r4") == ["a1", "r4"]
    assert both(ours, oracle, "downgrade", "r4-2") == ["r2"]
    assert both(ours, oracle, "upgrade", "heads") == ["a2", "r4"]
    assert both(ours, oracle, "downgrade", "a1") == ["a1", "r4"]
    assert both(ours, oracle, "downgrade", "alpha@base") == []


def test_partial_ids(tmp_path: Path) -> None:
    graph = Graph(
        (rev("1a2b3c4d"), rev("1a2b9999", "1a2b3c4d"), rev("5e6f7a8b", "1a2b9999"))
    )
    with project(tmp_path, graph) as (ours, oracle):
        assert both(ours, oracle, "upgrade", "1a2b3") == ["1a2b3c4d"]
        assert both(ours, oracle, "upgrade", "5e6f") == ["5e6f7a8b"]
        assert oracle.call(command.downgrade, "1a2b")[0] == "error"
        with pytest.raises(
            UnknownRevision, match="Multiple revisions start with '1a2b'"
        ):
            ours.ext.downgrade("1a2b")
        assert both(ours, oracle, "downgrade", "1a2b9") == ["1a2b9999"]


def test_head_with_several_heads_is_refused_as_alembic_does(
    chain: tuple[Ours, Oracle],
) -> None:
    ours, oracle = chain
    assert oracle.call(command.upgrade, "head")[0] == "error"
    with pytest.raises(RunFailed) as failed:
        ours.ext.upgrade("head")
    assert isinstance(failed.value.results[0].error, MultipleHeads)
    assert at(ours) == []
    # Also when the database is at both heads already: not "nothing to do".
    both(ours, oracle, "upgrade", "heads")
    assert oracle.call(command.upgrade, "head")[0] == "error"
    with pytest.raises(RunFailed):
        ours.ext.upgrade("head")


def test_names_that_name_nothing_are_refused_first(chain: tuple[Ours, Oracle]) -> None:
    ours, _ = chain
    for target in ("r9", "r9+1", "r9-1", "nolabel@head", "nolabel@+1", "r1:r9"):
        with pytest.raises(UnknownRevision, match="unknown revision"):
            ours.ext.upgrade(target, sql=":" in target)
    with pytest.raises(UnknownRevision, match="unknown revision 'r1\\+1'"):
        ours.ext.show("r1+1")  # as Alembic's show: r1+1 is no revision there
    assert at(ours) == []


def test_targets_alembic_refuses_from_where_the_database_is(
    line: tuple[Ours, Oracle],
) -> None:
    ours, oracle = line
    both(ours, oracle, "upgrade", "r2")
    for verb, target in (
        ("downgrade", "-3"),
        ("upgrade", "+3"),
        ("upgrade", "head-9"),
        ("downgrade", "r1-2"),
        ("upgrade", "r4+1"),
    ):
        assert oracle.call(getattr(command, verb), target)[0] == "error", target
        with pytest.raises(SchemaVerError) as refused:
            getattr(ours.ext, verb)(target)
        assert "\n" not in str(refused.value), target
        assert at(ours) == ["r2"]


def test_downgrade_from_nothing_is_refused_as_alembic_does(
    line: tuple[Ours, Oracle],
) -> None:
    ours, oracle = line
    assert oracle.call(command.downgrade, "-1")[0] == "error"
    with pytest.raises(RunFailed, match="didn't produce 1 migrations"):
        ours.ext.downgrade("-1")
    # Downgrading an empty database to base has nothing to do, for both.
    assert oracle.call(command.downgrade, "base") == ("ok", [])
    [result] = ours.ext.downgrade("base")
    assert result.note == "nothing to do"


def test_a_target_picks_the_binds_that_have_its_names(tmp_path: Path) -> None:
    write(LINE, tmp_path / "migrations" / "versions")
    write(Graph((rev("x1"), rev("x2", "x1"))), tmp_path / "migrations" / "other")
    ours = Ours(tmp_path, binds={"other": f"sqlite:///{tmp_path / 'other.db'}"})
    with ours.app.app_context():
        [result] = ours.ext.upgrade("r1+1")
        assert result.bind == "default" and result.after == ("r2",)
        [result] = ours.ext.upgrade("x1+1")
        assert result.bind == "other" and result.after == ("x2",)
        [result] = ours.ext.upgrade("+1", "default")
        assert result.after == ("r3",)
        with pytest.raises(UnknownRevision, match="no bind has 'z1\\+1'"):
            ours.ext.upgrade("z1+1")
    ours.dispose()


def test_the_version_table_alembic_writes_after_depends_on(tmp_path: Path) -> None:
    """Issue 11, item 1, against Alembic: ``upgrade heads`` leaves only the dependent
    revision in the table, and both tools then call the database current."""
    graph = Graph(
        (rev("a1"), rev("b1", "a1"), rev("c1", "a1"), rev("d1", "b1", depends=("c1",)))
    )
    with project(tmp_path, graph) as (ours, oracle):
        assert both(ours, oracle, "upgrade", "heads") == ["d1"]
        assert sorted(oracle.scripts().get_heads()) == ["c1", "d1"]
        assert ours.ext.is_current()
        assert oracle.call(command.upgrade, "heads") == ("ok", [])
        [again] = ours.ext.upgrade()
        assert again.note == "nothing to do"
        write_rows(ours.url, ["b1", "c1"])  # d1 pending
        assert not ours.ext.is_current()


def test_a_run_alembic_would_break_off_halfway_is_refused_first(tmp_path: Path) -> None:
    """0000 depends on 1111, which is already below its down_revision 1112, and on
    another head: Alembic runs 1111, 1112 and 11111, then fails to record 0000 in the
    version table (KeyError), and stops there. We refuse before the first step, with
    one line."""
    graph = Graph(
        (
            rev("1111"),
            rev("1112", "1111"),
            rev("11111"),
            rev("0000", "1112", depends=("1111", "11111")),
        )
    )
    with project(tmp_path, graph) as (ours, oracle):
        theirs = oracle.call(command.upgrade, "heads")
        assert theirs[0] == "error" and theirs[1].startswith("KeyError"), theirs
        assert oracle.rows() == ["11111", "1112"]  # Alembic stopped halfway
        with pytest.raises(RunFailed) as failed:
            ours.ext.upgrade()
        [result] = failed.value.results
        assert "Alembic cannot record the step upgrade 1112 -> 0000" in str(
            result.error
        )
        assert "remove that name from its depends_on" in str(result.error)
        assert at(ours) == [] and not result.steps
        # Short of it, everything runs.
        oracle.set_rows([])
        assert both(ours, oracle, "upgrade", "1112") == ["1112"]


@pytest.mark.parametrize(
    ("target", "names"),
    [
        ("heads", [[]]),
        ("-1", [[], []]),
        ("r1+1", [["r1"], ["r1+1"]]),
        ("head-1", [[], ["head-1"]]),
        ("alpha@-1", [["alpha"], ["alpha"]]),
        ("alpha@head", [["alpha"]]),
        ("alpha@r2", [["alpha", "r2"]]),
        ("0001", [["0001"]]),
        # Alembic's grammar reads this one as "one below feature"; show reads a label.
        ("feature-1@head", [["feature"], ["feature-1"]]),
        ("a@b@c", [[]]),
    ],
)
def test_the_names_a_target_uses(target: str, names: list[list[str]]) -> None:
    from flask_schemaver.runtime import targets

    assert targets.readings(target) == names
