"""Whether a converted Flask-Migrate ``--multidb`` project builds what it built before.

For each bind, two empty throwaway databases: one upgraded through the multidb chain
the way Flask-Migrate would (its part of each revision, see
:mod:`flask_schemaver.runtime.multidb`), one through the bind's new chain; then their
schemas are compared, table by table and column by column. ``split-multidb --verify``
and the pytest plugin's ``split-multidb`` check both come here.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterator
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ..exceptions import MigrationError
from ..options import RunOptions
from ..runtime import connections
from ..runtime import multidb
from ..verbs import convert
from ..verbs import runs
from .checks import Snapshot
from .checks import snapshot
from .databases import ThrowawayDatabases

if TYPE_CHECKING:
    from ..binds import Bind
    from ..settings import Settings
    from .runner import MigrationRunner


def verify(
    conversion: convert.Conversion, binds: Mapping[str, Bind], settings: Settings
) -> dict[str, int]:
    """Build both layouts of every bind on throwaway databases and compare them; the
    number of tables per bind. :class:`MigrationError` names the first bind that
    differs, with its tables and columns.

    Before the folder is converted, the new chains are written to a temporary folder
    for this; nothing of the project is written.
    """
    return {
        split.bind: _verify(conversion, binds[split.bind], settings)
        for split in conversion.plan.binds
    }


def check_bind(runner: MigrationRunner, name: str) -> int:
    """The pytest plugin's check: the bind's new chain against the multidb chain in
    the backup, each built on an empty database of its own; the number of tables."""
    conversion = convert.split_multidb(runner.binds, {})
    return _verify(conversion, runner.binds[name], runner.settings)


def _verify(conversion: convert.Conversion, bind: Bind, settings: Settings) -> int:
    databases = ThrowawayDatabases()
    try:
        with tempfile.TemporaryDirectory(prefix="split-multidb-") as scratch:
            folder = _new_folder(conversion, bind.name, Path(scratch))
            with _database(
                databases,
                dataclasses.replace(bind, directory=folder),
                Path(scratch),
                "new",
            ) as new:
                runs.run(new, settings, RunOptions("upgrade", "heads", (new.name,)))
                return compare_bind(conversion, new, settings, databases, Path(scratch))
    finally:
        databases.close()


def compare_bind(
    conversion: convert.Conversion,
    new: Bind,
    settings: Settings,
    databases: ThrowawayDatabases,
    scratch: Path,
) -> int:
    """Upgrade a throwaway database through the multidb chain as Flask-Migrate would,
    for ``new``'s engine, and compare it with ``new``'s database (already upgraded)."""
    split = next(b for b in conversion.plan.binds if b.bind == new.name)
    with _database(databases, new, scratch, "flask-migrate") as old:
        with connections.connect(old) as connection:
            multidb.upgrade_engine(
                old,
                settings,
                conversion.folder,
                split.engine,
                connection,
                default=split is conversion.plan.binds[0],
            )
        before, after = snapshot(old), snapshot(new)
    problems = differences(before, after)
    if problems:
        shown = "; ".join(problems[:3])
        more = f"; and {len(problems) - 3} more" if len(problems) > 3 else ""
        raise MigrationError(
            f"the new chain in {split.directory} builds another schema than "
            f"Flask-Migrate's multidb chain in {conversion.folder}: {shown}{more}",
            new.name,
        )
    return len({table for table, what in before if not what})


def differences(flask_migrate: Snapshot, split: Snapshot) -> list[str]:
    """What differs between the two layouts' schemas, one line per table, column,
    key, index or constraint."""
    lines = [
        f"{_describe(key)} is missing from the new chain's schema"
        for key in sorted(flask_migrate.keys() - split.keys())
        if not (key[1] and (key[0], "") not in split)
    ]
    lines += [
        f"{_describe(key)} is only in the new chain's schema"
        for key in sorted(split.keys() - flask_migrate.keys())
        if not (key[1] and (key[0], "") not in flask_migrate)
    ]
    lines += [
        f"{_describe(key)} is {split[key]} in the new chain's schema, "
        f"{flask_migrate[key]} in Flask-Migrate's"
        for key in sorted(flask_migrate.keys() & split.keys())
        if flask_migrate[key] != split[key]
    ]
    return lines


def _describe(key: tuple[str, str]) -> str:
    table, what = key
    if not what:
        return f"table {table}"
    return f"{what} of table {table}" if table else what


def _new_folder(conversion: convert.Conversion, bind: str, scratch: Path) -> Path:
    """The bind's new folder: the project's once converted, else a temporary one
    holding the plan's files."""
    split = next(b for b in conversion.plan.binds if b.bind == bind)
    if conversion.converted:
        return split.directory
    folder = scratch / "chain"
    folder.mkdir()
    for planned in split.files:
        (folder / planned.path.name).write_text(planned.text, encoding="utf-8")
    return folder


@contextmanager
def _database(
    databases: ThrowawayDatabases, bind: Bind, scratch: Path, label: str
) -> Iterator[Bind]:
    """``bind`` pointed at an empty throwaway database of its kind, of its own."""
    url = databases.acquire(
        bind.engine.url, scratch / f"{bind.name}-{label}.db", bind.name
    )
    engine = sa.create_engine(url)
    try:
        yield dataclasses.replace(bind, engine=engine)
    finally:
        engine.dispose()
        databases.release(url)
