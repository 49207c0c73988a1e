"""What the test modules share: apps, databases seen from outside, revision files, the CLI.

Imported as ``from helpers import ...``: pytest puts this folder on ``sys.path`` for its
root ``conftest.py``, which holds the fixtures.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_schemaver import SchemaVer

if TYPE_CHECKING:
    from click.testing import Result

    from flask_schemaver import Revision

POSTGRESQL_URL = os.environ.get(
    "SCHEMAVER_TEST_POSTGRESQL_URL",
    "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
)
MYSQL_URL = os.environ.get(
    "SCHEMAVER_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test"
)

#: The ``postgresql_db`` and ``mysql_db`` fixtures: call for a fresh database's URL.
MakeDatabase = Callable[[], str]

# -- apps --------------------------------------------------------------------------------

#: Tables per bind key, as (name, extra column names). Every table gets an id column.
Tables = dict[str | None, dict[str, list[str]]]

#: The default database's ``user`` and an ``analytics`` bind's ``pageview``.
TWO_BINDS: Tables = {None: {"user": ["name"]}, "analytics": {"pageview": ["path"]}}


def define_tables(db: SQLAlchemy, tables: Tables) -> None:
    """Add tables to the metadata of each bind, the way models would."""
    for key, named in tables.items():
        for name, columns in named.items():
            db.Table(
                name,
                sa.Column("id", sa.Integer, primary_key=True),
                *(sa.Column(c, sa.String(50)) for c in columns),
                bind_key=key,
            )


class AppMaker:
    """Builds a fresh Flask app per call, rooted at a test's tmp_path."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.migrations = tmp_path / "migrations"
        self.built: list[tuple[Flask, SQLAlchemy]] = []

    def dispose(self) -> None:
        """Close every pooled connection of the apps built, so no database stays in use."""
        for app, db in self.built:
            with app.app_context():
                try:
                    engines = list(db.engines.values())
                except RuntimeError:  # Flask-SQLAlchemy was never set up on this app
                    continue
                for engine in engines:
                    engine.dispose()

    def sqlite(self, name: str) -> str:
        return f"sqlite:///{self.tmp_path / name}.db"

    def __call__(
        self,
        uri: str | None = "default",
        binds: dict[str, str] | None = None,
        tables: Tables | None = None,
        **config: Any,
    ) -> Flask:
        app = Flask("test_" + uuid.uuid4().hex[:6], root_path=str(self.tmp_path))
        if uri == "default":
            uri = self.sqlite("main")
        if uri is not None:
            app.config["SQLALCHEMY_DATABASE_URI"] = uri
        app.config["SQLALCHEMY_BINDS"] = binds or {}
        app.config["SCHEMAVER_DIRECTORY"] = str(self.migrations)
        app.config.update(config)
        db = SQLAlchemy()
        define_tables(db, tables if tables is not None else {None: {"user": ["name"]}})
        db.init_app(app)
        self.schemaver = SchemaVer(app, db)
        self.db = db
        self.built.append((app, db))
        return app


def example_app_at(tmp_path: Path) -> Iterator[Flask]:
    """The example app with its databases under tmp_path, for an ``app`` fixture."""
    from example_app import create_app
    from example_app import db

    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'example.db'}",
            "SQLALCHEMY_BINDS": {"analytics": f"sqlite:///{tmp_path / 'analytics.db'}"},
        }
    )
    yield app
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose()


# -- databases seen from outside ---------------------------------------------------------


def _engine(where: str | Path) -> sa.Engine:
    url = f"sqlite:///{where}" if isinstance(where, Path) else where
    return sa.create_engine(url, poolclass=sa.pool.NullPool)


def tables(where: str | Path | sa.Engine) -> set[str]:
    """The tables of a database (its URL, a SQLite file or an engine), but the
    ``*_history`` tables the package keeps."""
    engine = where if isinstance(where, sa.Engine) else _engine(where)
    try:
        names = sa.inspect(engine).get_table_names()
    finally:
        if engine is not where:
            engine.dispose()
    return {name for name in names if not name.endswith("_history")}


def versions(where: str | Path, table: str = "alembic_version") -> list[str]:
    """The rows of a version table (database URL or SQLite file), sorted."""
    engine = _engine(where)
    try:
        with engine.connect() as conn:
            query = sa.select(sa.column("version_num")).select_from(sa.table(table))
            return sorted(conn.scalars(query))
    finally:
        engine.dispose()


# -- files -------------------------------------------------------------------------------


def snapshot(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` except Python's bytecode caches."""
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(
            path.read_bytes()
        ).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def revision_files(folder: Path) -> list[str]:
    """The names of the Python files in ``folder``, sorted."""
    return sorted(p.name for p in folder.glob("*.py"))


# -- revision files written by hand ------------------------------------------------------


def _block(code: str) -> str:
    return textwrap.indent(textwrap.dedent(code).strip(), "    ")


def revision_header(
    rev: str,
    down: str | tuple[str, ...] | None,
    *,
    message: str | None = None,
    labels: str | None = None,
    header: str = "",
) -> str:
    """A revision file's docstring, imports (after ``header``) and identifiers."""
    return (
        f'"""{message if message is not None else f"revision {rev}"}\n\n'
        f'Revision ID: {rev}\n"""\n'
        f"{textwrap.dedent(header).strip()}\n"
        "from alembic import op\n"
        "import sqlalchemy as sa\n\n"
        f"revision = {rev!r}\n"
        f"down_revision = {down!r}\n"
        f"branch_labels = {labels!r}\n"
        "depends_on = None\n"
    )


def revision_source(
    rev: str,
    down: str | tuple[str, ...] | None,
    *,
    upgrade: str = "pass",
    downgrade: str = "pass",
    **header: Any,
) -> str:
    """A whole revision file, the way a developer writes one; ``upgrade`` and
    ``downgrade`` are the functions' bodies (dedented, then indented)."""
    return (
        revision_header(rev, down, **header)
        + f"\n\ndef upgrade():\n{_block(upgrade)}\n\n\n"
        f"def downgrade():\n{_block(downgrade)}\n"
    )


def write_revision_file(
    folder: Path,
    rev: str,
    down: str | tuple[str, ...] | None,
    *,
    name: str | None = None,
    **source: Any,
) -> Path:
    """Write :func:`revision_source` into ``folder`` as ``name`` (``<rev>.py``)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name or f"{rev}.py")
    path.write_text(revision_source(rev, down, **source))
    return path


# -- revision files written by the package -----------------------------------------------

EMPTY_UPGRADE = "def upgrade() -> None:\n    pass\n"
EMPTY_DOWNGRADE = "def downgrade() -> None:\n    pass\n"


def set_bodies(
    path: str | Path, upgrade: str | None = None, downgrade: str | None = None
) -> None:
    """Give the empty ``upgrade()`` and ``downgrade()`` of a revision file the package
    wrote these lines (each already indented, ending in a newline)."""
    path = Path(path)
    text = path.read_text()
    for empty, body in ((EMPTY_UPGRADE, upgrade), (EMPTY_DOWNGRADE, downgrade)):
        if body is not None:
            assert empty in text, text
            text = text.replace(empty, empty.split("\n", 1)[0] + "\n" + body)
    path.write_text(text)


def add_revision(
    schemaver: SchemaVer,
    bind: str = "default",
    rev_id: str | None = None,
    *,
    message: str | None = None,
    upgrade: str | None = None,
    downgrade: str | None = None,
) -> Revision:
    """Write an empty revision for ``bind`` (named ``message``, else ``rev_id``) and give
    its functions these bodies (see :func:`set_bodies`); needs the app's context."""
    options = {"rev_id": rev_id} if rev_id else {}
    [result] = schemaver.revision(message or rev_id, bind, **options)
    [rev] = result.revisions
    set_bodies(rev.path, upgrade, downgrade)
    return rev


# -- the CLI -----------------------------------------------------------------------------


def invoke(app: Flask, *args: str, **env: str) -> Result:
    """Run ``flask db ARGS``; an unexpected exception fails the test with its traceback."""
    result = app.test_cli_runner().invoke(args=["db", *args], env=env or None)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def cli(app: Flask, *args: str, code: int = 0, **env: str) -> str:
    """Run ``flask db ARGS``: exit ``code``, no traceback; the output."""
    result = invoke(app, *args, **env)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result.output


# -- flask db in a process of its own ----------------------------------------------------

#: An app module configured from the environment, for ``flask db`` in a subprocess.
APP_MODULE = """\
import os
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from flask_schemaver import SchemaVer

def create_app():
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["TEST_DATABASE_URL"]
    app.config["SCHEMAVER_DIRECTORY"] = os.environ["TEST_MIGRATIONS"]
    SchemaVer(app, SQLAlchemy(app))
    return app
"""


def flask_db(
    root: Path,
    url: str,
    migrations: Path,
    *args: str,
    python: tuple[str, ...] = (),
    **env: str,
) -> subprocess.Popen[str]:
    """Start ``python [PYTHON] -m flask db ARGS`` in ``root`` on :data:`APP_MODULE`
    (written there once), with the database ``url`` and the folder ``migrations``."""
    module = root / "project_app.py"
    if not module.exists():
        module.write_text(APP_MODULE)
    return subprocess.Popen(
        [sys.executable, *python, "-m", "flask", "db", *args],
        cwd=root,
        env=dict(
            os.environ,
            TEST_DATABASE_URL=url,
            TEST_MIGRATIONS=str(migrations),
            FLASK_APP="project_app:create_app",
            NO_COLOR="1",
            **env,
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
