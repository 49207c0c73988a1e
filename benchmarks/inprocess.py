"""Benchmarks of the pytest plugin's work, timed inside one process as a test session
runs it: the stairway and clean-downgrade checks against one upgrade from empty, and a
fresh database at head per test (``schemaver_migrated``) against building it with
``upgrade`` each time.

Each scenario runs a driver in a process of its own (the generated app imported once,
as in a test session), which alternates the measured operation and its anchor
``--repeat`` times and prints their timings; the medians are reported. Used by bench.py.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench import Databases
    from bench import Row

DRIVER = r'''
import json, sys, tempfile, time
from pathlib import Path

import sqlalchemy as sa

import benchapp
from flask_schemaver.testing import MigrationRunner, TemplateDatabases
from flask_schemaver.testing import ThrowawayDatabases, checks

mode, repeat, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
root = Path(tempfile.mkdtemp(prefix="schemaver-bench-driver-"))
databases = ThrowawayDatabases()
templates = TemplateDatabases(databases, root / "templates")
found = {}


def runner(copy=False):
    folder = Path(tempfile.mkdtemp(dir=root))
    return MigrationRunner(
        benchapp.app, databases, folder, templates=templates if copy else None
    )


def timed(name, fn, per=1):
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    found.setdefault(name, []).append((wall / per, cpu / per))


def check(name):
    r = runner()
    timed(name, lambda: checks.CHECKS[name](r, "default", ()))
    r.close()


def sql_alone(name, walk):
    """The same DDL as plain SQL, a transaction each, no Alembic: what the database
    itself takes for one upgrade from empty, or for the stairway's walk."""
    r = runner()
    tables = [f"t{i}" for i in range(len(r.revisions()))]
    create = "CREATE TABLE {} (id INTEGER NOT NULL, name VARCHAR(50), PRIMARY KEY (id))"
    if r.engine().dialect.name == "postgresql":
        create = create.replace("INTEGER NOT NULL", "SERIAL NOT NULL")
    statements = []
    for table in tables:
        statements.append(create.format(table))
        if walk:
            statements += [f"DROP TABLE {table}", create.format(table)]

    def run():
        with r.engine().connect() as connection:
            for statement in statements:
                connection.exec_driver_sql(statement)
                connection.commit()

    timed(name, run)
    r.close()


def upgrade(measured=True):
    r = runner()
    if measured:
        timed("upgrade from empty", r.upgrade)
    else:
        r.upgrade()
    r.close()


def one_test(copy):
    r = runner(copy)
    if not copy:
        r.upgrade()
    with r.connect() as connection:
        connection.execute(sa.text("SELECT COUNT(*) FROM t0")).scalar()
    r.close()


def tests(name, copy, count):
    timed(name, lambda: [one_test(copy) for _ in range(count)], per=count)


def raw_copies(count):
    """The copy alone, back to back: what the server (or the disk) takes."""
    [template] = templates._templates.values()
    if template.server is None:
        import sqlite3
        for i in range(count):
            source, target = sqlite3.connect(template.name), sqlite3.connect(root / f"raw{i}.db")
            source.backup(target)
            target.close(); source.close()
        return
    admin = databases.server(template.server, "default")
    kind = admin.dialect.name
    from flask_schemaver import dialects
    dialect = dialects.named(kind)
    for i in range(count):
        name = f"schemaver_{databases.token}_raw{i}"
        template.copier(name)
        with admin.connect() as connection:
            dialect.drop_database(connection, name)


try:
    if mode == "checks":
        upgrade(measured=False)  # imports the revision files, as a session's first test
        for _ in range(repeat):
            upgrade()
            for name in sys.argv[4:]:
                check(name)
            sql_alone("SQL alone: upgrade", False)
            sql_alone("SQL alone: stairway", True)
    else:
        timed("build the template (once)", lambda: one_test(True))
        for _ in range(repeat):
            tests("copy per test (schemaver_migrated)", True, batch)
            tests("upgrade per test", False, max(2, batch // 5))
            timed("copy alone, back to back", lambda: raw_copies(batch), per=batch)
finally:
    templates.close()
    databases.close()
print(json.dumps(found))
'''


def drive(
    project: Any, mode: str, args: argparse.Namespace, extra: list[str]
) -> dict[str, list[list[float]]]:
    """Run the driver in the generated app's folder; its timings by name."""
    driver = project.root / "driver.py"
    driver.write_text(DRIVER)
    batch = str(getattr(args, "batch", 10))
    proc = subprocess.run(
        [sys.executable, str(driver), mode, str(args.repeat), batch, *extra],
        cwd=project.root,
        env=project.env("schemaver"),
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(f"driver failed:\n{proc.stdout}{proc.stderr}")
    timings: dict[str, list[list[float]]] = json.loads(proc.stdout.splitlines()[-1])
    return timings


def rows(scenario: str, timings: dict[str, list[list[float]]]) -> list[Row]:
    from bench import Row

    found = [
        Row(
            scenario,
            name,
            statistics.median(w for w, _ in runs),
            statistics.median(c for _, c in runs),
        )
        for name, runs in timings.items()
    ]
    report(found)
    return found


def report(found: list[Row]) -> None:
    """Each line, and the ratio of each to the first line's (the anchor)."""
    anchor = found[0]
    for row in found:
        ratio = (
            "" if row is anchor else f"  x{row.wall / anchor.wall:.2f} of {anchor.tool}"
        )
        print(
            f"{row.scenario:<28} {row.tool:<36} wall {row.wall:8.3f}s  "
            f"cpu {row.cpu:7.3f}s{ratio}"
        )
    sys.stdout.flush()


def checks_scenario(
    root: Path,
    urls: dict[str, str],
    args: argparse.Namespace,
    revisions: int,
    checks: tuple[str, ...] = ("stairway", "clean-downgrade"),
) -> list[Row]:
    """Stairway and clean-downgrade over a chain, against one upgrade from empty."""
    from bench import generate

    root.mkdir(parents=True, exist_ok=True)
    project = generate(root, urls, revisions, revisions)
    timings = drive(project, "checks", args, list(checks))
    kind = "PG" if urls[""].startswith("postgresql") else "SQLite"
    return rows(f"checks, {revisions} revs, {kind}", timings)


def templates_scenario(
    root: Path, urls: dict[str, str], args: argparse.Namespace, tables: int
) -> list[Row]:
    """A database at head per test: a copy of the template, against an upgrade."""
    from bench import generate

    root.mkdir(parents=True, exist_ok=True)
    project = generate(root, urls, tables, tables)
    timings = drive(project, "templates", args, [])
    order = ["upgrade per test", "copy per test (schemaver_migrated)"]
    order += [name for name in timings if name not in order]
    kind = "PG" if urls[""].startswith("postgresql") else "SQLite"
    return rows(f"per test, {tables} tables, {kind}", {k: timings[k] for k in order})


def scenario_checks(tmp: Path, args: argparse.Namespace) -> list[Row]:
    return checks_scenario(
        tmp / "app", {"": f"sqlite:///{tmp / 'unused.db'}"}, args, 150
    )


def scenario_templates(tmp: Path, args: argparse.Namespace) -> list[Row]:
    return templates_scenario(
        tmp / "app", {"": f"sqlite:///{tmp / 'unused.db'}"}, args, 200
    )


def scenario_pg_checks(
    tmp: Path, args: argparse.Namespace, dbs: Databases
) -> list[Row]:
    return checks_scenario(tmp / "app", {"": dbs.configured()}, args, 150)


def scenario_pg_templates(
    tmp: Path, args: argparse.Namespace, dbs: Databases
) -> list[Row]:
    return templates_scenario(tmp / "app", {"": dbs.configured()}, args, 200)


def growth_rows(tmp: Path, args: argparse.Namespace, revisions: int) -> list[Row]:
    """The stairway, and a database at head per test, at one size of the growth table."""
    url = {"": f"sqlite:///{tmp / 'unused.db'}"}
    found = checks_scenario(tmp / "checks", url, args, revisions, ("stairway",))
    found += templates_scenario(tmp / "templates", url, args, revisions)
    return found
