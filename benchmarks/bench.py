"""Benchmarks: flask_schemaver against Flask-Migrate and Flask-Alembic on the same app.

Usage (from the repository root, with benchmarks/requirements.txt installed):

    python benchmarks/bench.py                      # every SQLite scenario
    python benchmarks/bench.py heads noop-upgrade   # some scenarios
    python benchmarks/bench.py startup-instructions # start-up in instructions (valgrind)
    python benchmarks/bench.py --postgresql postgresql+psycopg://postgres@127.0.0.1/postgres

Each scenario generates an app (models, a linear chain of revisions with one table each,
binds) in a temporary folder, runs every tool's command on the same app and an identical
database, alternating the tools, ``--repeat`` times, and prints the median wall and CPU
time of each tool and the ratio of flask_schemaver to the others. Commands run as separate
processes, as on a deploy.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import inprocess
import sqlalchemy as sa

TOOLS = ("schemaver", "migrate", "alembic")
#: Flask-Migrate told to run a transaction per revision, as flask_schemaver does.
PER_REVISION = "migrate, txn per revision"

APP = """
import os
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

TOOL = os.environ.get("BENCH_TOOL", "none")
ROOT = {root!r}

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["BENCH_DB"]
app.config["SQLALCHEMY_BINDS"] = {{
    name: os.environ["BENCH_DB_" + name.upper()] for name in {binds!r}
}}
db = SQLAlchemy(app)

{models}

if TOOL == "schemaver":
    from flask_schemaver import SchemaVer

    app.config["SCHEMAVER_DIRECTORY"] = os.path.join(ROOT, "sv")
    SchemaVer(app, db)
elif TOOL.startswith("migrate"):
    from flask_migrate import Migrate

    # "migrate, txn per revision": a transaction per revision, as flask_schemaver runs.
    per_revision = TOOL.endswith("txn per revision")
    Migrate(app, db, directory=os.path.join(ROOT, "fm"),
            transaction_per_migration=per_revision)
elif TOOL == "alembic":
    from flask_alembic import Alembic

    app.config["ALEMBIC"] = {{"script_location": os.path.join(ROOT, "fa")}}
    Alembic(app)
"""

MODEL = """
class M{bind}{i}(db.Model):
    __tablename__ = "{bind}t{i}"
    __bind_key__ = {key!r}
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(50))
"""

REVISION = '''"""create {bind}t{i}

Revision ID: {rev}
Revises: {down}
"""
from alembic import op
import sqlalchemy as sa

revision = {rev!r}
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "{bind}t{i}",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade():
    op.drop_table("{bind}t{i}")
'''


@dataclass
class Project:
    """A generated app with its migrations, for every tool."""

    root: Path
    urls: dict[str, str]  # bind name ("" for default) -> database URL

    def env(self, tool: str) -> dict[str, str]:
        path = os.pathsep.join(
            filter(None, [str(self.root), os.environ.get("PYTHONPATH")])
        )
        env = dict(os.environ, BENCH_TOOL=tool, NO_COLOR="1", PYTHONPATH=path)
        env["BENCH_DB"] = self.urls[""]
        for name, url in self.urls.items():
            if name:
                env["BENCH_DB_" + name.upper()] = url
        return env

    def flask(self, tool: str, *args: str) -> list[str]:
        return [sys.executable, "-m", "flask", "--app", "benchapp", "db", *args]


def generate(root: Path, urls: dict[str, str], models: int, revisions: int) -> Project:
    binds = [name for name in urls if name]
    chunks = []
    for bind in ["", *binds]:
        for i in range(models):
            chunks.append(MODEL.format(bind=bind, i=i, key=bind or None))
    (root / "benchapp.py").write_text(
        APP.format(root=str(root), binds=binds, models="".join(chunks))
    )
    project = Project(root, urls)
    folders = {
        "sv": root / "sv" / "versions",
        "fm": root / "fm" / "versions",
        "fa": root / "fa",
    }
    subprocess.run(
        project.flask("migrate", "init"), cwd=root, env=project.env("migrate"),
        check=True, capture_output=True,
    )  # fmt: skip
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    for bind in ["", *binds]:
        target = root / "sv" / bind if bind else folders["sv"]
        target.mkdir(parents=True, exist_ok=True)
        down = None
        for i in range(revisions):
            rev = f"{bind or 'd'}{i:05d}"
            text = REVISION.format(bind=bind, i=i, rev=rev, down=down)
            (target / f"{rev}_create.py").write_text(text)
            if not bind:  # the other tools get the default database's chain
                (folders["fm"] / f"{rev}_create.py").write_text(text)
                (folders["fa"] / f"{rev}_create.py").write_text(text)
            down = rev
    return project


def timed(project: Project, tool: str, command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        command, cwd=project.root, env=project.env(tool), capture_output=True
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(
            f"{tool}: {' '.join(command)} failed:\n{proc.stdout.decode()}{proc.stderr.decode()}"
        )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


@dataclass
class Row:
    scenario: str
    tool: str
    wall: float
    cpu: float


def compare(
    name: str,
    project: Project,
    commands: dict[str, list[str]],
    repeat: int,
    reset: Callable[[str], None] | None = None,
) -> list[Row]:
    """Run each tool's command ``repeat`` times, alternating; the medians per tool."""
    samples: dict[str, list[tuple[float, float]]] = {tool: [] for tool in commands}
    for _ in range(repeat):
        for tool, command in commands.items():
            if reset is not None:
                reset(tool)
            samples[tool].append(timed(project, tool, command))
    rows = [
        Row(
            name,
            tool,
            statistics.median(w for w, _ in runs),
            statistics.median(c for _, c in runs),
        )
        for tool, runs in samples.items()
    ]
    report(rows)
    return rows


def report(rows: list[Row]) -> None:
    ours = next(r for r in rows if r.tool in ("schemaver", "schemaver --jobs 4"))
    for row in rows:
        ratio = (
            ""
            if row is ours
            else (
                f"  schemaver/{row.tool}: wall {ours.wall / row.wall:.2f}, cpu {ours.cpu / row.cpu:.2f}"
            )
        )
        print(
            f"{row.scenario:<28} {row.tool:<20} wall {row.wall:7.3f}s  cpu {row.cpu:7.3f}s{ratio}"
        )
    sys.stdout.flush()


def drop_history(url: str) -> None:
    """Drop the applied-revisions history that schemaver wrote while setting up.

    The other tools would take it for a table without a model (their ``check`` fails),
    so every tool starts from the same schema: the models' tables and the version table.
    """
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version_history"))
    engine.dispose()


def sqlite_project(
    tmp: Path, models: int, revisions: int, at_head: bool
) -> tuple[Project, Callable[[str], None]]:
    root = tmp / f"app-{models}-{revisions}"
    root.mkdir()
    master = root / "master.db"
    project = generate(root, {"": f"sqlite:///{root / 'work.db'}"}, models, revisions)
    if at_head:
        env = dict(project.env("schemaver"), BENCH_DB=f"sqlite:///{master}")
        subprocess.run(
            project.flask("schemaver", "upgrade"),
            cwd=root,
            env=env,
            check=True,
            capture_output=True,
        )
        drop_history(f"sqlite:///{master}")

    def reset(tool: str) -> None:
        work = root / "work.db"
        if master.exists():
            shutil.copy(master, work)
        else:
            work.unlink(missing_ok=True)

    return project, reset


def scenario_startup(tmp: Path, args: argparse.Namespace) -> list[Row]:
    project, _ = sqlite_project(tmp, args.models, 1, at_head=False)
    command = [sys.executable, "-c", "import benchapp"]
    return compare(
        "startup (import app)",
        project,
        {t: command for t in ("schemaver", "none", "migrate", "alembic")},
        args.repeat,
    )


def scenario_startup_instructions(tmp: Path, args: argparse.Namespace) -> list[Row]:
    """The start-up tax counted in CPU instructions by valgrind, not timed.

    A few milliseconds on a 0.7 s import is less than the noise of timing processes on
    a shared machine. Instruction counts barely move from run to run, whatever else
    the machine is doing. Slow (about 20 s per run) and needs valgrind.
    """
    project, _ = sqlite_project(tmp, args.models, 1, at_head=False)
    counts = {}
    for tool in ("schemaver", "none", "migrate", "alembic"):
        proc = subprocess.run(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
            + [sys.executable, "-c", "import benchapp"],
            cwd=project.root,
            env=dict(project.env(tool), PYTHONHASHSEED="0"),
            capture_output=True,
            text=True,
            check=True,
        )
        found = re.search(r"Collected : (\d+)", proc.stderr)
        if found is None:
            raise SystemExit(f"valgrind printed no instruction count:\n{proc.stderr}")
        counts[tool] = int(found.group(1))
    for tool, count in counts.items():
        ratio = (
            ""
            if tool == "schemaver"
            else (f"  schemaver/{tool}: {counts['schemaver'] / count:.4f}")
        )
        print(f"{'startup (instructions)':<28} {tool:<20} {count / 1e9:7.3f} G{ratio}")
    sys.stdout.flush()
    return []


def scenario_noop_upgrade(
    tmp: Path, args: argparse.Namespace, revisions: int = 200
) -> list[Row]:
    project, reset = sqlite_project(tmp, revisions, revisions, at_head=True)
    return compare(
        f"no-op upgrade, {revisions} revs", project,
        {t: project.flask(t, "upgrade") for t in TOOLS}, args.repeat, reset,
    )  # fmt: skip


def scenario_read(
    tmp: Path, args: argparse.Namespace, revisions: int = 2000
) -> list[Row]:
    project, reset = sqlite_project(tmp, 1, revisions, at_head=True)
    rows = compare(
        f"heads, {revisions} revs",
        project,
        {t: project.flask(t, "heads") for t in TOOLS},
        args.repeat,
        reset,
    )
    rows += compare(
        f"history, {revisions} revs", project,
        {"schemaver": project.flask("schemaver", "history"), "migrate": project.flask("migrate", "history"),
         "alembic": project.flask("alembic", "log")},
        args.repeat, reset,
    )  # fmt: skip
    rows += compare(
        f"status, {revisions} revs", project,
        {"schemaver": project.flask("schemaver", "status"),
         "migrate": project.flask("migrate", "history", "--indicate-current"),
         "alembic": project.flask("alembic", "current")},
        args.repeat, reset,
    )  # fmt: skip
    return rows


def scenario_growth(tmp: Path, args: argparse.Namespace) -> list[Row]:
    """How no-op upgrade, heads and status grow with the chain (one table each)."""
    rows: list[Row] = []
    for revisions in (50, 500, 2000):
        scratch = tmp / f"growth-{revisions}"
        scratch.mkdir()
        project, reset = sqlite_project(scratch, revisions, revisions, at_head=True)
        rows += compare(
            f"no-op upgrade, {revisions} revs", project,
            {t: project.flask(t, "upgrade") for t in TOOLS}, args.repeat, reset,
        )  # fmt: skip
        rows += compare(
            f"heads, {revisions} revs", project,
            {t: project.flask(t, "heads") for t in TOOLS}, args.repeat, reset,
        )  # fmt: skip
        rows += compare(
            f"check, {revisions} tables", project,
            {t: project.flask(t, "check") for t in TOOLS}, args.repeat, reset,
        )  # fmt: skip
        rows += inprocess.growth_rows(scratch, args, revisions)
    return rows


# -- PostgreSQL ----------------------------------------------------------------------


class Databases:
    """Uniquely named PostgreSQL databases, dropped at the end."""

    def __init__(self, url: str) -> None:
        self.url = sa.make_url(url)
        self.server = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        self.names: list[str] = []

    def create(self) -> str:
        name = f"schemaver_bench_{uuid.uuid4().hex[:10]}"
        with self.server.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        self.names.append(name)
        return self.url.set(database=name).render_as_string(hide_password=False)

    def configured(self) -> str:
        """A URL on the server for an app's configuration: the test runner makes its
        own databases there."""
        return self.url.set(database="schemaver_bench_app").render_as_string(
            hide_password=False
        )

    def recreate(self, url: str) -> None:
        name = sa.make_url(url).database
        with self.server.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop_all(self) -> None:
        with self.server.connect() as conn:
            for name in self.names:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.server.dispose()


def scenario_pg_upgrade(
    tmp: Path, args: argparse.Namespace, dbs: Databases
) -> list[Row]:
    """Upgrade from empty through 200 revisions, against Flask-Migrate (as it comes, one
    transaction for the run; and told to run a transaction per revision, as
    flask_schemaver does) and two limits: the same SQL run by ``psql`` (no Python per
    statement), with a transaction per revision, and in one transaction."""
    root = tmp / "pg-upgrade"
    root.mkdir()
    url = dbs.create()
    project = generate(root, {"": url}, 200, 200)
    psql_url = (
        sa.make_url(url)
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )
    commands = {
        "schemaver": project.flask("schemaver", "upgrade"),
        "migrate": project.flask("migrate", "upgrade"),
        PER_REVISION: project.flask(PER_REVISION, "upgrade"),
    }
    for tool, label in (
        ("schemaver", "limit: psql, txn per revision"),
        ("migrate", "limit: psql, one transaction"),
    ):
        sql = root / f"upgrade-{tool}.sql"
        with sql.open("w") as out:
            subprocess.run(
                project.flask(tool, "upgrade", "--sql"),
                cwd=root,
                env=project.env(tool),
                stdout=out,
                check=True,
            )
        limit = (
            f"import subprocess, benchapp; "
            f"subprocess.run(['psql', '-q', '-v', 'ON_ERROR_STOP=1', {psql_url!r}, '-f', {str(sql)!r}], check=True, stdout=subprocess.DEVNULL)"
        )
        commands[label] = [sys.executable, "-c", limit]
    return compare(
        "upgrade from empty, 200 revs, PG",
        project,
        commands,
        args.repeat,
        lambda tool: dbs.recreate(url),
    )


def scenario_pg_parallel(
    tmp: Path, args: argparse.Namespace, dbs: Databases
) -> list[Row]:
    root = tmp / "pg-parallel"
    root.mkdir()
    urls = {name: dbs.create() for name in ("", "b1", "b2", "b3")}
    project = generate(root, urls, 50, 50)

    def reset(tool: str) -> None:
        for url in urls.values():
            dbs.recreate(url)

    commands = {
        "schemaver --jobs 4": project.flask("schemaver", "upgrade", "--jobs", "4"),
        "schemaver --jobs 2": project.flask("schemaver", "upgrade", "--jobs", "2"),
        "schemaver --jobs 1": project.flask("schemaver", "upgrade", "--jobs", "1"),
        # One bind alone: the serial part (start-up, import, checks) and one bind's
        # revisions, for the bound that the cores set.
        "one bind alone": project.flask("schemaver", "upgrade", "--bind", "b1"),
    }
    rows: list[Row] = []
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(args.repeat):
        for name, command in commands.items():
            reset(name)
            samples[name].append(timed(project, "schemaver", command))
    rows = [
        Row(
            "4 binds x 50 revs, PG",
            name,
            statistics.median(w for w, _ in s),
            statistics.median(c for _, c in s),
        )
        for name, s in samples.items()
    ]
    report(rows)
    wall = {row.tool: row.wall for row in rows}
    one_bind = (wall["schemaver --jobs 1"] - wall["one bind alone"]) / 3
    serial = wall["one bind alone"] - one_bind
    for cores in (2, 4):
        bound = serial + one_bind * 4 / min(cores, 4)
        print(
            f"{'4 binds x 50 revs, PG':<28} {f'bound on {cores} cores':<20} wall "
            f"{bound:7.3f}s  (serial {serial:.3f}s + 4 x {one_bind:.3f}s / {cores})"
            f"  jobs 4 / bound: {wall['schemaver --jobs 4'] / bound:.2f}"
            f"  bound / jobs 1: {bound / wall['schemaver --jobs 1']:.2f}"
        )
    return rows


def scenario_pg_check(tmp: Path, args: argparse.Namespace, dbs: Databases) -> list[Row]:
    root = tmp / "pg-check"
    root.mkdir()
    url = dbs.create()
    project = generate(root, {"": url}, 1000, 1)
    # Every table made at once, then stamped at the one revision: all tools at head.
    script = (
        "import benchapp\n"
        "with benchapp.app.app_context():\n"
        "    benchapp.db.create_all()\n"
    )
    subprocess.run(
        [sys.executable, "-c", script], cwd=root, env=project.env("none"), check=True
    )
    subprocess.run(
        project.flask("schemaver", "stamp", "head"),
        cwd=root,
        env=project.env("schemaver"),
        check=True,
        capture_output=True,
    )
    drop_history(url)
    return compare(
        "check, 1000 tables, PG",
        project,
        {t: project.flask(t, "check") for t in ("schemaver", "migrate")},
        args.repeat,
    )


SQLITE = {
    "startup": scenario_startup,
    "noop-upgrade": scenario_noop_upgrade,
    "read": scenario_read,
    "growth": scenario_growth,
    "checks": inprocess.scenario_checks,
    "templates": inprocess.scenario_templates,
}
#: Run only when named.
SLOW = {"startup-instructions": scenario_startup_instructions}
POSTGRESQL = {
    "pg-upgrade": scenario_pg_upgrade,
    "pg-parallel": scenario_pg_parallel,
    "pg-check": scenario_pg_check,
    "pg-checks": inprocess.scenario_pg_checks,
    "pg-templates": inprocess.scenario_pg_templates,
}


def compile_flask_schemaver() -> None:
    """Write flask_schemaver's bytecode, as ``pip install`` does for the other tools.

    An editable install has none, and with ``PYTHONDONTWRITEBYTECODE`` set every run
    would compile flask_schemaver's source while the other tools load their bytecode.
    """
    import compileall

    import flask_schemaver

    compileall.compile_dir(Path(flask_schemaver.__file__).parent, quiet=1)


def environment() -> str:
    """What the figures depend on besides the code: versions, cores, bytecode caching."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version

    names = ["flask", "flask-sqlalchemy", "sqlalchemy", "alembic", "flask-migrate"]
    names += ["flask-alembic", "flask-schemaver", "psycopg", "pygments"]
    found = []
    for name in names:
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} -")
    bytecode = "off" if sys.dont_write_bytecode else "on"
    return (
        f"Python {sys.version.split()[0]}, {os.cpu_count()} cores, "
        f"bytecode cache writes {bytecode}; {', '.join(found)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "scenarios",
        nargs="*",
        help=f"any of {', '.join([*SQLITE, *SLOW, *POSTGRESQL])}",
    )
    parser.add_argument(
        "--repeat", type=int, default=5, help="runs per tool (default 5)"
    )
    parser.add_argument("--models", type=int, default=200, help="models for startup")
    parser.add_argument(
        "--batch", type=int, default=10, help="tests per timed batch (templates)"
    )
    parser.add_argument(
        "--postgresql", metavar="URL", help="server for the pg-* scenarios"
    )
    args = parser.parse_args()
    chosen = args.scenarios or [*SQLITE, *(POSTGRESQL if args.postgresql else ())]
    print(f"# python benchmarks/bench.py {' '.join(sys.argv[1:])}")
    print(f"# {environment()}")
    print(f"# load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    compile_flask_schemaver()
    with tempfile.TemporaryDirectory(prefix="schemaver-bench-") as tmp:
        dbs = Databases(args.postgresql) if args.postgresql else None
        try:
            for name in chosen:
                scratch = Path(tmp) / name
                scratch.mkdir()
                if name in SQLITE or name in SLOW:
                    {**SQLITE, **SLOW}[name](scratch, args)
                elif dbs is not None and name in POSTGRESQL:
                    POSTGRESQL[name](scratch, args, dbs)
                else:
                    parser.error(f"unknown scenario {name!r} (pg-* need --postgresql)")
        finally:
            if dbs is not None:
                dbs.drop_all()
            load = " ".join(f"{x:.2f}" for x in os.getloadavg())
            print(f"# load average at end: {load}")


if __name__ == "__main__":
    main()
