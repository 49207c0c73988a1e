"""What is printed can never change what happens to a database: steps are reported only
once committed, and a closed pipe, a terminal that can't encode an arrow or a callback
that fails never leaves a revision half-recorded."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from flask_schemaver import Step
from flask_schemaver.cli import stream
from helpers import APP_MODULE
from helpers import AppMaker
from helpers import cli
from helpers import invoke
from helpers import write_revision_file

MakeDatabase = Callable[[], str]

#: Three revisions, each adding a column to a table the first creates.
CHAIN = [
    (
        "r1",
        None,
        "op.create_table('item', sa.Column('id', sa.Integer, primary_key=True))",
    ),
    ("r2", "r1", "op.add_column('item', sa.Column('a', sa.Integer))"),
    ("r3", "r2", "op.add_column('item', sa.Column('b', sa.Integer))"),
]


def write_chain(migrations: Path) -> None:
    for rev, down, upgrade in CHAIN:
        write_revision_file(
            migrations / "versions", rev, down, message=f"add {rev} →", upgrade=upgrade
        )


def database(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'shop.db'}"
    make: MakeDatabase = request.getfixturevalue(f"{kind}_db")
    return make()


def state(url: str) -> tuple[list[str], list[str]]:
    """The version table's rows and the item table's columns."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            rows = connection.scalars(
                sa.text("SELECT version_num FROM alembic_version")
            )
            versions = sorted(rows)
        columns = [c["name"] for c in sa.inspect(engine).get_columns("item")]
    finally:
        engine.dispose()
    return versions, columns


KINDS = [
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.postgresql),
    pytest.param("mysql", marks=pytest.mark.mysql),
]


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "shell",
    [
        "flask db upgrade | head -1",
        "flask db upgrade 2>&1 | true",
    ],
)
def test_a_closed_pipe_never_stops_a_run(
    kind: str, shell: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = database(kind, tmp_path, request)
    write_chain(tmp_path / "migrations")
    (tmp_path / "project_app.py").write_text(APP_MODULE)
    proc = subprocess.run(
        ["bash", "-c", f"{shell}; exit ${{PIPESTATUS[0]}}"],
        cwd=tmp_path,
        env=_env(url, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    # The run finished, and its exit code says so; the databases agree with it.
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert state(url) == (["r3"], ["id", "a", "b"])


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_a_terminal_that_cannot_encode_arrows(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = database(kind, tmp_path, request)
    write_chain(tmp_path / "migrations")
    (tmp_path / "project_app.py").write_text(APP_MODULE)
    proc = subprocess.run(
        ["flask", "db", "upgrade"],
        cwd=tmp_path,
        env=_env(url, tmp_path, PYTHONIOENCODING="latin-1"),
        capture_output=True,
        timeout=120,
    )
    out = proc.stdout.decode("latin-1")
    assert proc.returncode == 0, out + proc.stderr.decode("latin-1")
    assert state(url) == (["r3"], ["id", "a", "b"])
    # The arrows fall back to ASCII; nothing else is lost.
    assert "[default] upgrade r1 -> r2  add r2 -> (" in out
    assert "default: 3 revisions upgraded, now at r3" in out


def _env(url: str, root: Path, **extra: str) -> dict[str, str]:
    import os

    return dict(
        os.environ,
        TEST_DATABASE_URL=url,
        TEST_MIGRATIONS=str(root / "migrations"),
        FLASK_APP="project_app:create_app",
        NO_COLOR="1",
        **extra,
    )


@pytest.mark.parametrize(
    "kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]
)
def test_steps_are_reported_once_committed(
    kind: str, make_app: AppMaker, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = database(kind, tmp_path, request)
    app = make_app(url, tables={})
    write_chain(make_app.migrations)
    seen: list[tuple[str, str, list[str]]] = []

    def recorded(kind: str) -> Callable[[Step], None]:
        def record(step: Step) -> None:
            # Another connection sees what is committed, nothing more.
            seen.append((kind, step.revision, _versions(url)))

        return record

    with app.app_context():
        make_app.schemaver.upgrade(on_start=recorded("start"), on_step=recorded("done"))
    assert seen == [
        ("start", "r1", []),
        ("done", "r1", ["r1"]),
        ("start", "r2", ["r1"]),
        ("done", "r2", ["r2"]),
        ("start", "r3", ["r2"]),
        ("done", "r3", ["r3"]),
    ]


def test_a_failing_callback_leaves_the_step_recorded(
    make_app: AppMaker, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    app = make_app(url, tables={})
    write_chain(make_app.migrations)

    def broken(step: Step) -> None:
        raise RuntimeError(f"cannot show {step.revision}")

    with app.app_context():
        with pytest.raises(RuntimeError, match="cannot show r1"):
            make_app.schemaver.upgrade(on_step=broken)
        # r1 was committed before anyone was told; the rest never started.
        assert state(url) == (["r1"], ["id"])
        [result] = make_app.schemaver.upgrade()
    assert [s.revision for s in result.steps] == ["r2", "r3"]
    assert state(url) == (["r3"], ["id", "a", "b"])


def _versions(url: str) -> list[str]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            if not sa.inspect(connection).has_table("alembic_version"):
                return []
            return sorted(
                connection.scalars(sa.text("SELECT version_num FROM alembic_version"))
            )
    finally:
        engine.dispose()


def test_each_step_is_announced_then_timed(make_app: AppMaker) -> None:
    app = make_app(tables={})
    write_chain(make_app.migrations)
    lines = cli(app, "upgrade").splitlines()
    assert lines[0] == "[default] upgrade <base> → r1  add r1 → ..."
    assert lines[1].startswith("[default] upgrade <base> → r1  add r1 → (")
    assert lines[1].endswith(" ms)")
    assert [line.split("  ")[0] for line in lines[2:6]] == [
        "[default] upgrade r1 → r2",
        "[default] upgrade r1 → r2",
        "[default] upgrade r2 → r3",
        "[default] upgrade r2 → r3",
    ]
    assert lines[6] == "default: 3 revisions upgraded, now at r3"


def test_at_a_terminal_one_line_is_rewritten_in_place(
    make_app: AppMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream, "is_terminal", lambda: True)
    app = make_app(tables={})
    write_chain(make_app.migrations)
    out = invoke(app, "upgrade").output
    first, rest = out.split("\n", 1)
    # Started without a newline, then the same line written over with its time.
    assert first.startswith("[default] upgrade <base> → r1  add r1 → ...\r")
    assert first.split("\r")[1].startswith("[default] upgrade <base> → r1  add r1 → (")
    assert rest.count("\r") == 2
    assert rest.splitlines()[-1] == "default: 3 revisions upgraded, now at r3"


def test_a_closed_stream_is_silenced(monkeypatch: pytest.MonkeyPatch) -> None:
    class Closed:
        encoding = "utf-8"

        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self) -> None:
            raise BrokenPipeError(32, "Broken pipe")

        def fileno(self) -> int:
            raise OSError("no descriptor")

    monkeypatch.setattr("sys.stdout", Closed())
    stream.echo("[default] upgrade a → b")  # must not raise
    stream.rewrite("[default] upgrade a → b ...", final=False)
    stream.rewrite("[default] upgrade a → b (1 ms)", final=True)


def test_an_encoding_without_arrows_gets_ascii(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    raw = io.BytesIO()
    latin = io.TextIOWrapper(raw, encoding="latin-1")
    monkeypatch.setattr("sys.stdout", latin)
    stream.echo("a → b … ✓ é")
    latin.flush()
    assert raw.getvalue().decode("latin-1") == "a -> b ... ? é\n"
