"""Both sides of a differential test over one folder of revision files: Alembic's own
commands on one SQLite file (:class:`Oracle`), flask_schemaver's Python API on another
(:class:`Ours`), and the version tables of both.
"""

from __future__ import annotations

import io
import uuid
import warnings
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_schemaver import SchemaVer
from flask_schemaver import SchemaVerError

ENV_PY = """\
from alembic import context
from sqlalchemy import create_engine

config = context.config
steps = config.attributes.setdefault("steps", [])


def record(ctx, step, heads, run_args):
    steps.append(step)


engine = create_engine(config.get_main_option("sqlalchemy.url"))
with engine.connect() as connection:
    context.configure(connection=connection, on_version_apply=record)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
"""


@dataclass
class Oracle:
    """Alembic's own commands over a folder of revision files and a SQLite file."""

    root: Path
    versions: Path
    url: str
    #: Warnings Alembic gave during the last call.
    warned: list[str] = field(default_factory=list)

    @classmethod
    def make(cls, root: Path, versions: Path, database: Path) -> Oracle:
        root.mkdir(parents=True, exist_ok=True)
        (root / "env.py").write_text(ENV_PY)
        return cls(root, versions, f"sqlite:///{database}")

    def config(self, stdout: io.StringIO | None = None) -> Config:
        config = Config(stdout=stdout or io.StringIO())
        config.set_main_option("script_location", str(self.root))
        config.set_main_option("path_separator", "os")
        config.set_main_option("version_locations", str(self.versions))
        config.set_main_option("sqlalchemy.url", self.url)
        return config

    @contextmanager
    def watching(self) -> Iterator[None]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
        self.warned = [str(w.message) for w in caught]

    def scripts(self) -> ScriptDirectory:
        scripts = ScriptDirectory.from_config(self.config())
        with self.watching():
            scripts.revision_map.heads  # noqa: B018 (reads every file now)
        return scripts

    def call(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> tuple[str, Any]:
        """``("ok", steps)`` or ``("error", message)`` of an Alembic command."""
        config = self.config()
        with self.watching():
            try:
                fn(config, *args, **kw)
            except Exception as exc:  # noqa: BLE001 (any refusal is an answer)
                return "error", f"{type(exc).__name__}: {exc}"
        return "ok", config.attributes.get("steps", [])

    def output(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> str:
        buffer = io.StringIO()
        with self.watching():
            fn(self.config(buffer), *args, **kw)
        return buffer.getvalue()

    def rows(self) -> list[str]:
        return read_rows(self.url)

    def set_rows(self, rows: list[str]) -> None:
        write_rows(self.url, rows)

    def upgrade(self, target: str) -> tuple[str, Any]:
        return self.call(command.upgrade, target)


def read_rows(url: str, table: str = "alembic_version") -> list[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            if not sa.inspect(connection).has_table(table):
                return []
            return sorted(
                connection.execute(
                    sa.text(f"SELECT version_num FROM {table}")
                ).scalars()
            )
    finally:
        engine.dispose()


def write_rows(url: str, rows: list[str], table: str = "alembic_version") -> None:
    """Put the version table at ``rows``: revisions that change nothing else need no
    more to be "at" them."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    f"CREATE TABLE IF NOT EXISTS {table} "
                    "(version_num VARCHAR(32) NOT NULL PRIMARY KEY)"
                )
            )
            connection.execute(sa.text(f"DELETE FROM {table}"))
            for row in rows:
                connection.execute(
                    sa.text(f"INSERT INTO {table} VALUES (:row)"), {"row": row}
                )
    finally:
        engine.dispose()


def step_key(step: Any) -> tuple[str, bool, bool, tuple[str, ...], tuple[str, ...]]:
    """One step of a run, comparable between Alembic's ``MigrationInfo`` and ours."""
    if hasattr(step, "up_revision_id"):  # Alembic's MigrationInfo
        return (
            step.up_revision_id or "",
            step.is_upgrade,
            step.is_stamp,
            tuple(sorted(step.source_revision_ids)),
            tuple(sorted(step.destination_revision_ids)),
        )
    return (
        step.revision,
        step.is_upgrade,
        step.is_stamp,
        tuple(sorted(step.source)),
        tuple(sorted(step.destination)),
    )


# -- flask_schemaver, the subject ----------------------------------------------------------


class Ours:
    """flask_schemaver over the same folder, on its own SQLite file."""

    def __init__(self, root: Path, binds: dict[str, str] | None = None) -> None:
        self.app = Flask(f"parity_{uuid.uuid4().hex[:8]}", root_path=str(root))
        self.url = f"sqlite:///{root / 'ours.db'}"
        self.app.config.update(
            SQLALCHEMY_DATABASE_URI=self.url,
            SQLALCHEMY_BINDS=binds or {},
            SCHEMAVER_DIRECTORY=str(root / "migrations"),
        )
        self.db = SQLAlchemy()
        self.db.init_app(self.app)
        self.ext = SchemaVer(self.app, self.db)

    def run(self, verb: str, target: str) -> tuple[str, Any]:
        """``("ok", steps)``, or ``("error", message)`` for one of our errors; any
        other exception (a traceback for the user) fails the test."""
        try:
            [result] = getattr(self.ext, verb)(target, "default")
        except SchemaVerError as exc:
            return "error", str(exc)
        return "ok", result.steps

    def dispose(self) -> None:
        with self.app.app_context():
            for engine in self.db.engines.values():
                engine.dispose()
