"""The catalogue of bad inputs.

Every case ends in ONE line that says what is wrong and how to fix it: on the CLI exactly
one non-empty line, starting with ``Error: ``, no traceback, exit code 2 for a usage error
and 1 for an operational one; through the Python API (where the case has an API call) an
exception of the documented class with the same message. And nothing changes: the files
under the project folder (every migrations file hashed), and each database's tables and
version table rows are the same before and after.

Cases the package does not yet handle this way are marked ``xfail(strict=True)``: the test
states the behaviour we want, and starts passing (then failing as "XPASS") once fixed.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_schemaver import ConfigError
from flask_schemaver import DatabaseError
from flask_schemaver import MigrationError
from flask_schemaver import MultipleHeads
from flask_schemaver import RunFailed
from flask_schemaver import SchemaVer
from flask_schemaver import SchemaVerError
from flask_schemaver import UnknownBind
from flask_schemaver import UnknownRevision
from flask_schemaver import UsageError
from helpers import AppMaker
from helpers import MakeDatabase
from helpers import MYSQL_URL
from helpers import POSTGRESQL_URL
from helpers import set_bodies
from helpers import TWO_BINDS
from helpers import write_revision_file

#: A fragment the error line must hold: plain text, or a pattern to search for.
Says = str | re.Pattern[str]
#: The exception an API call must raise: a class, or (RunFailed, class of each error).
Raises = type[Exception] | tuple[type[RunFailed], type[SchemaVerError]]


@pytest.fixture(autouse=True)
def _harmless_editor(monkeypatch: pytest.MonkeyPatch) -> None:
    # Should a refused `edit` reach the editor after all, it must not block the run.
    monkeypatch.setenv("EDITOR", "true")


# -- the project and its snapshot ------------------------------------------------------


class Project(AppMaker):
    """Makes apps rooted at tmp_path and remembers their databases to snapshot them.

    ``watched`` lists the database URLs to compare; by default those of every app made,
    read from the config (so that a config the package refuses is still covered).
    Engines are disposed at the end: pooled server connections left to the garbage
    collector raise ResourceWarning, which the test settings turn into errors.
    """

    def __init__(self, tmp_path: Path) -> None:
        super().__init__(tmp_path)
        self.watched: list[str] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Flask:
        app = super().__call__(*args, **kwargs)
        self.add(app, self.db)
        return app

    def add(self, app: Flask, db: SQLAlchemy) -> None:
        if (app, db) not in self.built:
            self.built.append((app, db))
        urls = [app.config.get("SQLALCHEMY_DATABASE_URI")]
        urls += list((app.config.get("SQLALCHEMY_BINDS") or {}).values())
        self.watched += [u for u in urls if u and u not in self.watched]

    def snapshot(self) -> dict[str, Any]:
        """Every path under the project, the hash of every file (the migrations folder
        included), and the tables and version rows of every watched database.

        Left out: __pycache__ folders, which hold caches (bytecode, and the package's
        cache of revision facts) that nobody edits or commits; and the SQLite files'
        bytes, compared by their content instead.
        """
        found = tree(self.tmp_path)
        paths = [str(p.relative_to(self.tmp_path)) for p in found]
        hashes = {
            str(p.relative_to(self.tmp_path)): hashlib.sha256(
                p.read_bytes()
            ).hexdigest()
            for p in found
            if p.is_file() and p.suffix != ".db"
        }
        return {
            "paths": paths,
            "hashes": hashes,
            "databases": {url: database_state(url) for url in self.watched},
        }


def tree(root: Path) -> list[Path]:
    """Every path under ``root`` but those in __pycache__ folders."""
    return [
        p
        for p in sorted(root.rglob("*"))
        if "__pycache__" not in p.relative_to(root).parts
    ]


def database_state(url: str) -> Any:
    """The tables of a database and the rows of its version tables.

    A database that cannot be reached (or does not exist) is recorded as such; a SQLite
    file that does not exist is not created by looking at it.
    """
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and not database.startswith(":") and not Path(database).exists():
            return "no file"
    connect_args = (
        {"connect_timeout": 5} if parsed.get_backend_name() != "sqlite" else {}
    )
    engine = sa.create_engine(url, poolclass=sa.NullPool, connect_args=connect_args)
    try:
        with engine.connect() as conn:
            tables = sorted(sa.inspect(conn).get_table_names())
            versions: dict[str, list[str]] = {
                name: sorted(
                    conn.scalars(
                        sa.select(sa.column("version_num")).select_from(sa.table(name))
                    )
                )
                for name in tables
                if name.startswith("alembic_version") and not name.endswith("_history")
            }
            return {"tables": tables, "versions": versions}
    except sa.exc.OperationalError as exc:
        return f"cannot connect: {type(exc.orig).__name__}"
    finally:
        engine.dispose()


def changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """What differs between two snapshots, one line per path or database."""
    found = [f"new path {p}" for p in after["paths"] if p not in before["paths"]]
    found += [f"gone path {p}" for p in before["paths"] if p not in after["paths"]]
    found += [
        f"changed file {p}"
        for p, digest in after["hashes"].items()
        if p in before["hashes"] and before["hashes"][p] != digest
    ]
    found += [
        f"database {url}: {before['databases'][url]} -> {state}"
        for url, state in after["databases"].items()
        if before["databases"].get(url) != state
    ]
    return found


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    maker = Project(tmp_path)
    yield maker
    maker.dispose()


# -- checking a refusal ----------------------------------------------------------------


def _holds(text: str, says: tuple[Says, ...]) -> None:
    for fragment in says:
        if isinstance(fragment, re.Pattern):
            assert fragment.search(text), f"{fragment.pattern!r} not in {text!r}"
        else:
            assert fragment in text, f"{fragment!r} not in {text!r}"


#: The line that announces a migration step as it starts.
RUNNING = re.compile(r"\[[^\]]+\] (upgrade|downgrade) .* \.\.\.")


def cli_refuses(
    project: Project,
    app: Flask,
    args: tuple[str, ...] | list[str],
    *,
    code: int,
    says: tuple[Says, ...],
) -> str:
    """Run ``flask db ARGS``: one ``Error:`` line, exit ``code``, nothing changed."""
    before = project.snapshot()
    result = app.test_cli_runner().invoke(args=["db", *args])
    out = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        # The real `flask` command would have printed this traceback.
        raise AssertionError(f"traceback instead of an error line:\n{out}") from (
            result.exception
        )
    assert "Traceback" not in out, out
    # A revision that failed was announced as it started; the error is one line.
    lines = [
        line
        for line in out.splitlines()
        if line.strip() and not RUNNING.fullmatch(line)
    ]
    assert len(lines) == 1 and lines[0].startswith("Error: "), out
    assert result.exit_code == code, out
    _holds(lines[0], says)
    assert not changes(before, project.snapshot())
    return lines[0]


def api_refuses(
    project: Project,
    app: Flask,
    call: Callable[[SchemaVer], object],
    *,
    raises: Raises,
    says: tuple[Says, ...],
) -> SchemaVerError:
    """Call the Python API: the exception ``raises``, its one-line message, nothing
    changed. ``raises=(RunFailed, X)``: every bind's error is an X that says it all, or,
    when it was refused before any bind ran, an X itself."""
    outer, inner = raises if isinstance(raises, tuple) else (raises, None)
    before = project.snapshot()
    expected = outer if inner is None else (outer, inner)
    with app.app_context(), pytest.raises(expected) as info:
        call(project.schemaver)
    error = info.value
    errors: list[BaseException] = [error]
    if inner is not None and not isinstance(error, inner):
        assert isinstance(error, RunFailed)
        assert error.errors and all(isinstance(e, inner) for e in error.errors), (
            error.errors
        )
        if len(error.errors) == 1:
            assert str(error) == str(error.errors[0])
        errors = list(error.errors)
    for each in errors:
        assert "\n" not in str(each), str(each)
        _holds(str(each), says)
    assert not changes(before, project.snapshot())
    assert isinstance(error, SchemaVerError)
    return error


def upgrade_refuses(
    project: Project, app: Flask, via: str, says: tuple[Says, ...]
) -> None:
    """``flask db upgrade`` (``via="cli"``) or ``upgrade()`` fails on a database error
    that ``says`` it all, and changes nothing."""
    if via == "cli":
        cli_refuses(project, app, ["upgrade"], code=1, says=says)
    else:
        api_refuses(
            project,
            app,
            lambda sv: sv.upgrade(),
            raises=(RunFailed, DatabaseError),
            says=says,
        )


# -- building the apps -----------------------------------------------------------------


def two_binds(project: Project) -> Flask:
    """default: abcd01 [core] -> abcd02; analytics: an01; both databases at their head."""
    app = project(binds={"analytics": project.sqlite("analytics")}, tables=TWO_BINDS)
    with app.app_context():
        sv = project.schemaver
        sv.revision("first", "default", rev_id="abcd01", branch_label="core")
        sv.revision("second", "default", rev_id="abcd02")
        sv.revision("events", "analytics", rev_id="an01")
        sv.upgrade()
    return app


def one_bind(project: Project) -> Flask:
    """One bind: r1 -> r2, the database at r2."""
    app = project()
    with app.app_context():
        project.schemaver.revision("one", rev_id="r1")
        project.schemaver.revision("two", rev_id="r2")
        project.schemaver.upgrade()
    return app


def file_missing(project: Project) -> Flask:
    """The database is at r2, whose file was deleted."""
    app = one_bind(project)
    (project.migrations / "versions" / "r2_two.py").unlink()
    return app


def two_heads(*, at_heads: bool) -> Callable[[Project], Flask]:
    """b0 -> h1 and b0 -> h2; the database at both heads, or at b0."""

    def build(project: Project) -> Flask:
        app = project()
        with app.app_context():
            sv = project.schemaver
            sv.revision("base", rev_id="b0")
            sv.revision("left", rev_id="h1", head="b0")
            sv.revision("right", rev_id="h2", head="b0", splice=True)
            sv.upgrade("heads" if at_heads else "b0")
        return app

    return build


def broken_file(source: str) -> Callable[[Project], Flask]:
    """r1 (applied) and a file ``bad.py`` holding ``source``."""

    def build(project: Project) -> Flask:
        app = project()
        with app.app_context():
            project.schemaver.revision("one", rev_id="r1")
            project.schemaver.upgrade()
        (project.migrations / "versions" / "bad.py").write_text(source)
        return app

    return build


def duplicate_ids(project: Project) -> Flask:
    app = broken_file("")(project)
    (project.migrations / "versions" / "bad.py").unlink()
    write_revision_file(
        project.migrations / "versions", "r1", None, name="copy_of_r1.py"
    )
    return app


def cycle(project: Project) -> Flask:
    """r1 (applied), and c1 and c2 each naming the other as down_revision."""
    app = broken_file("")(project)
    (project.migrations / "versions" / "bad.py").unlink()
    write_revision_file(project.migrations / "versions", "c1", "c2", name="c1_one.py")
    write_revision_file(project.migrations / "versions", "c2", "c1", name="c2_two.py")
    return app


def missing_folder(project: Project) -> Flask:
    return project(SCHEMAVER_DIRECTORY=str(project.tmp_path / "no_such_folder"))


def unknown_bind_in_settings(project: Project) -> Flask:
    return project(
        binds={"analytics": project.sqlite("analytics")},
        tables=TWO_BINDS,
        SCHEMAVER_BINDS={"analytcs": {"exclude": True}},
    )


def bind_named_default(project: Project) -> Flask:
    return project(
        binds={"default": project.sqlite("other")},
        tables={None: {"user": ["name"]}, "default": {"thing": ["x"]}},
    )


def sqlalchemy_not_set_up(project: Project) -> Flask:
    """SchemaVer is given a SQLAlchemy that was never init_app'ed on the app."""
    app = Flask("no_db", root_path=str(project.tmp_path))
    app.config["SCHEMAVER_DIRECTORY"] = str(project.migrations)
    db = SQLAlchemy()
    project.schemaver = SchemaVer(app, db)
    project.add(app, db)
    return app


# -- the catalogue: cases with a CLI command and an API call ---------------------------


@dataclass(frozen=True)
class Case:
    build: Callable[[Project], Flask]
    #: ``flask db ARGS``
    args: tuple[str, ...]
    #: The exit code: 2 for a usage error, 1 for an operational one.
    code: int
    #: What the one line must hold: what is wrong and how to fix it.
    says: tuple[Says, ...]
    #: The same through the Python API, and what it raises.
    api: Callable[[SchemaVer], object] | None = None
    raises: Raises | None = None
    #: Why the case fails today, on the CLI and the API alike (xfail, strict).
    bug: str | None = None
    #: Why the case fails today on the CLI only.
    cli_bug: str | None = None


def write_with_rev_id(bind: str, rev_id: str) -> Callable[[SchemaVer], object]:
    return lambda sv: sv.revision("x", bind, rev_id=rev_id)


HISTORY_HINT = re.compile(r"flask db (history|heads)")

CASES: dict[str, Case] = dict(
    [
        (
            "unknown-bind",
            Case(
                two_binds,
                ("upgrade", "--bind", "nope"),
                2,
                ("unknown bind 'nope'", "the app's binds are: default, analytics"),
                lambda sv: sv.upgrade(bind="nope"),
                UnknownBind,
            ),
        ),
        (
            "unknown-revision-in-named-bind",
            Case(
                two_binds,
                ("upgrade", "--bind", "default", "zzzz"),
                2,
                ("[default]", "'zzzz'", HISTORY_HINT),
                lambda sv: sv.upgrade("zzzz", "default"),
                UnknownRevision,
            ),
        ),
        (
            "unknown-revision-in-any-bind",
            Case(
                two_binds,
                ("upgrade", "zzzz"),
                2,
                ("no bind has 'zzzz'", HISTORY_HINT),
                lambda sv: sv.upgrade("zzzz"),
                UnknownRevision,
            ),
        ),
        (
            "ambiguous-partial-revision",
            Case(
                two_binds,
                ("upgrade", "--bind", "default", "abcd"),
                2,
                ("[default]", "'abcd'", "abcd01", "abcd02"),
                lambda sv: sv.upgrade("abcd", "default"),
                UnknownRevision,
            ),
        ),
        (
            "downgrade-below-base",
            Case(
                two_binds,
                ("downgrade", "--bind", "default", "-5"),
                2,
                ("[default] 'downgrade -5' goes below base", "downgrade to 'base'"),
                lambda sv: sv.downgrade("-5", "default"),
                (RunFailed, UsageError),
            ),
        ),
        (
            "downgrade-below-base-on-one-of-all-binds",
            Case(
                two_binds,
                ("downgrade", "--all-binds", "-2"),
                2,
                ("[analytics] 'downgrade -2' goes below base",),
                lambda sv: sv.downgrade("-2", all_binds=True),
                (RunFailed, UsageError),
            ),
        ),
        (
            "upgrade-above-head",
            Case(
                two_binds,
                ("upgrade", "--bind", "default", "+5"),
                2,
                ("[default]", "+5", "heads"),
                lambda sv: sv.upgrade("+5", "default"),
                (RunFailed, UsageError),
            ),
        ),
        (
            "downgrade-needs-bind-with-several",
            Case(
                two_binds,
                ("downgrade",),
                2,
                (
                    "name the binds with --bind (default, analytics) or pass --all-binds",
                ),
                lambda sv: sv.downgrade(),
                UsageError,
            ),
        ),
        (
            "stamp-needs-bind-with-several",
            Case(
                two_binds,
                ("stamp", "base"),
                2,
                ("stamp changes a database's version", "--bind (default, analytics)"),
                lambda sv: sv.stamp("base"),
                UsageError,
            ),
        ),
        (
            "revision-needs-bind-with-several",
            Case(
                two_binds,
                ("revision", "-m", "x"),
                2,
                ("one bind at a time", "--bind (binds: default, analytics)"),
                lambda sv: sv.revision("x"),
                UsageError,
            ),
        ),
        (
            "rev-id-used-by-another-bind",
            Case(
                two_binds,
                ("revision", "--bind", "analytics", "-m", "x", "--rev-id", "abcd01"),
                2,
                (
                    "'abcd01' is already used by bind 'default'",
                    "choose another --rev-id",
                ),
                lambda sv: sv.revision("x", "analytics", rev_id="abcd01"),
                UsageError,
            ),
        ),
        *(
            (
                f"rev-id-{name}",
                Case(
                    two_binds,
                    ("revision", "--bind", "analytics", "-m", "x", "--rev-id", rev_id),
                    2,
                    (
                        f"--rev-id {rev_id!r} may only hold letters, digits and underscores",
                    ),
                    write_with_rev_id("analytics", rev_id),
                    UsageError,
                ),
            )
            for name, rev_id in [
                ("with-slash", "../escape"),
                ("with-backslash", "a\\b"),
                ("with-colon", "c:x"),
                ("with-space", "a b"),
                ("empty", ""),
            ]
        ),
        *(
            (
                f"rev-id-reserved-{rev_id}",
                Case(
                    two_binds,
                    ("revision", "--bind", "default", "-m", "x", "--rev-id", rev_id),
                    2,
                    ("--rev-id", f"{rev_id!r}"),
                    write_with_rev_id("default", rev_id),
                    UsageError,
                ),
            )
            for rev_id in ("base", "head", "heads")
        ),
        (
            "duplicate-branch-label",
            Case(
                two_binds,
                ("revision", "--bind", "default", "-m", "x", "--branch-label", "core"),
                2,
                (
                    "branch label 'core' is already used by revision",
                    "choose another --branch-label",
                ),
                lambda sv: sv.revision("x", "default", branch_label="core"),
                UsageError,
            ),
        ),
        (
            "duplicate-branch-label-names-its-revision",
            Case(
                two_binds,
                ("revision", "--bind", "default", "-m", "x", "--branch-label", "core"),
                2,
                ("branch label 'core' is already used by revision abcd01",),
                lambda sv: sv.revision("x", "default", branch_label="core"),
                UsageError,
            ),
        ),
        (
            "branch-label-with-at-sign",
            Case(
                two_binds,
                ("revision", "--bind", "default", "-m", "x", "--branch-label", "a@b"),
                2,
                ("--branch-label", "'a@b'"),
                lambda sv: sv.revision("x", "default", branch_label="a@b"),
                UsageError,
            ),
        ),
        (
            "merge-named-revisions-on-several-binds",
            Case(
                two_binds,
                ("merge", "abcd01", "abcd02"),
                2,
                ("merging named revisions or --rev-id needs a single --bind",),
                lambda sv: sv.merge(["abcd01", "abcd02"]),
                UsageError,
            ),
        ),
        (
            "edit-with-several-binds",
            Case(
                two_binds,
                ("edit",),
                2,
                ("edit opens one bind's revision; name it with --bind",),
                lambda sv: sv.edit(),
                UsageError,
            ),
        ),
        (
            "sql-stamp-purge",
            Case(
                two_binds,
                ("stamp", "--sql", "--purge", "--bind", "default", "head"),
                2,
                ("--purge needs the live database; it cannot be used with --sql",),
                lambda sv: sv.stamp("head", "default", sql=True, purge=True),
                (RunFailed, UsageError),
            ),
        ),
        (
            "sql-downgrade-without-range",
            Case(
                two_binds,
                ("downgrade", "--sql", "--bind", "default", "base"),
                2,
                (
                    "[default] offline downgrade needs the revision to start from",
                    "FROM:TO",
                ),
                lambda sv: sv.downgrade("base", "default", sql=True),
                (RunFailed, UsageError),
            ),
        ),
        (
            "sql-relative-upgrade",
            Case(
                two_binds,
                ("upgrade", "--sql", "--bind", "default", "+1"),
                2,
                ("[default] offline SQL cannot count +1", "FROM:TO"),
                lambda sv: sv.upgrade("+1", "default", sql=True),
                (RunFailed, UsageError),
            ),
        ),
        (
            "sql-relative-upgrade-on-several-binds",
            Case(
                two_binds,
                ("upgrade", "--sql", "+1"),
                2,
                ("offline SQL cannot count +1", "FROM:TO"),
                lambda sv: sv.upgrade("+1", sql=True),
                (RunFailed, UsageError),
            ),
        ),
        (
            "missing-migrations-folder",
            Case(
                missing_folder,
                ("upgrade",),
                1,
                (
                    "there is no migrations folder at",
                    "no_such_folder",
                    "SCHEMAVER_DIRECTORY",
                ),
                lambda sv: sv.upgrade(),
                (RunFailed, MigrationError),
            ),
        ),
        (
            "database-at-revision-without-file",
            Case(
                file_missing,
                ("upgrade",),
                1,
                (
                    "the database is at r2, which no revision file in",
                    "restore the file",
                    "flask db stamp --bind default --purge REVISION",
                ),
                lambda sv: sv.upgrade(),
                (RunFailed, MigrationError),
            ),
        ),
        (
            "upgrade-head-with-two-heads",
            Case(
                two_heads(at_heads=False),
                ("upgrade", "head"),
                1,
                ("several heads (h1, h2)", "flask db merge --bind default"),
                lambda sv: sv.upgrade("head"),
                (RunFailed, MultipleHeads),
            ),
        ),
        (
            "downgrade-relative-at-two-heads",
            Case(
                two_heads(at_heads=True),
                ("downgrade", "-1"),
                1,
                (
                    "several heads",
                    "'downgrade -1' is ambiguous",
                    re.compile(r"'h[12]@-1'"),
                ),
                lambda sv: sv.downgrade("-1"),
                (RunFailed, MigrationError),
            ),
        ),
        (
            "upgrade-relative-at-two-heads",
            Case(
                two_heads(at_heads=True),
                ("upgrade", "+1"),
                1,
                ("[default]", re.compile(r"h[12]@\+1")),
                lambda sv: sv.upgrade("+1"),
                (RunFailed, MigrationError),
            ),
        ),
        (
            "revision-file-syntax-error",
            Case(
                broken_file(
                    "revision = 'x'\ndown_revision = None\ndef upgrade(:\n    pass\n"
                ),
                ("upgrade",),
                1,
                ("bad.py, line 3: invalid syntax", "fix the revision file"),
                lambda sv: sv.upgrade(),
                (RunFailed, MigrationError),
            ),
        ),
        (
            "revision-file-import-error",
            Case(
                broken_file("import no_such_module_here\nrevision = 'x'\n"),
                ("upgrade",),
                1,
                (
                    "bad.py, line 1: ModuleNotFoundError",
                    re.compile(r"fix the revision file|install"),
                ),
                lambda sv: sv.upgrade(),
                (RunFailed, MigrationError),
            ),
        ),
        (
            "two-files-with-one-revision-id",
            Case(
                duplicate_ids,
                ("upgrade",),
                1,
                (
                    "Revision r1 is present more than once",
                    "give one of them a new 'revision' id",
                ),
                lambda sv: sv.upgrade(),
                (RunFailed, MigrationError),
            ),
        ),
        (
            "cycle-in-down-revisions",
            Case(
                cycle,
                ("upgrade",),
                1,
                ("c1", "c2", "down_revision"),
                lambda sv: sv.upgrade(),
                (RunFailed, MigrationError),
            ),
        ),
        (
            "schemaver-binds-names-unknown-bind",
            Case(
                unknown_bind_in_settings,
                ("upgrade",),
                1,
                (
                    "SCHEMAVER_BINDS names unknown bind(s) analytcs",
                    "the app's binds are: default, analytics",
                ),
                lambda sv: sv.upgrade(),
                ConfigError,
            ),
        ),
        (
            "user-bind-named-default",
            Case(
                bind_named_default,
                ("upgrade",),
                1,
                ("SQLALCHEMY_BINDS has a bind named 'default'", "rename that bind"),
                lambda sv: sv.upgrade(),
                ConfigError,
            ),
        ),
        (
            "sqlalchemy-not-set-up-on-the-app",
            Case(
                sqlalchemy_not_set_up,
                ("upgrade",),
                1,
                (
                    "Flask-SQLAlchemy is not set up on app 'no_db'",
                    "call db.init_app(app)",
                ),
                lambda sv: sv.upgrade(),
                ConfigError,
            ),
        ),
    ]
)


def _params(marks_for: Callable[[Case], str | None]) -> list[Any]:
    return [
        pytest.param(
            case,
            id=name,
            marks=[pytest.mark.xfail(reason=reason, strict=True)]
            if (reason := marks_for(case))
            else [],
        )
        for name, case in CASES.items()
    ]


@pytest.mark.parametrize("case", _params(lambda c: c.bug or c.cli_bug))
def test_cli(project: Project, case: Case) -> None:
    app = case.build(project)
    cli_refuses(project, app, case.args, code=case.code, says=case.says)


@pytest.mark.parametrize("case", _params(lambda c: c.bug))
def test_api(project: Project, case: Case) -> None:
    assert case.api is not None and case.raises is not None
    app = case.build(project)
    error = api_refuses(project, app, case.api, raises=case.raises, says=case.says)
    assert error.exit_code == case.code


def test_unknown_bind_error_data(project: Project) -> None:
    app = two_binds(project)
    error = api_refuses(
        project,
        app,
        lambda sv: sv.upgrade(bind="nope"),
        raises=UnknownBind,
        says=("unknown bind 'nope'",),
    )
    assert isinstance(error, UnknownBind)
    assert (error.name, error.known) == ("nope", ("default", "analytics"))


def test_several_heads_error_data(project: Project) -> None:
    app = two_heads(at_heads=False)(project)
    error = api_refuses(
        project,
        app,
        lambda sv: sv.upgrade("head"),
        raises=(RunFailed, MultipleHeads),
        says=("several heads",),
    )
    assert isinstance(error, RunFailed)
    [heads] = error.errors
    assert isinstance(heads, MultipleHeads)
    assert (heads.bind, sorted(heads.heads)) == ("default", ["h1", "h2"])
    assert [r.outcome for r in error.results] == ["failed"]


# -- not an error: -m with path separators ---------------------------------------------


@pytest.mark.parametrize(
    "message", ["../../outside/escape", "/etc/passwd", "a/b/../../c"], ids=str
)
def test_message_with_path_separators_stays_in_bind_folder(
    project: Project, message: str
) -> None:
    app = two_binds(project)
    folder = project.migrations / "analytics"
    outside = {p for p in tree(project.tmp_path) if folder not in p.parents}

    result = app.test_cli_runner().invoke(
        args=[
            "db",
            "revision",
            "--bind",
            "analytics",
            "-m",
            message,
            "--rev-id",
            "cli1",
        ]
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        project.schemaver.revision(message, "analytics", rev_id="api1")
        written = {r.id: r for r in project.schemaver.heads("analytics")["analytics"]}

    for rev_id in ("cli1", "api1"):
        [path] = folder.glob(f"{rev_id}_*.py")
        assert path.parent == folder
    assert {p for p in tree(project.tmp_path) if folder not in p.parents} == outside
    assert written["api1"].message == message


@pytest.mark.parametrize(
    "message",
    ['say """hi"""', "ends with a backslash\\", r"C:\temp\new"],
    ids=["triple-quotes", "trailing-backslash", "backslash-escapes"],
)
def test_message_is_written_as_given(project: Project, message: str) -> None:
    app = two_binds(project)
    result = app.test_cli_runner().invoke(
        args=["db", "revision", "--bind", "default", "-m", message, "--rev-id", "q1"]
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        [head] = project.schemaver.heads("default")["default"]
    assert (head.id, head.message) == ("q1", message)


# -- API only: mistakes in the Python code that sets the extension up ------------------


def test_init_app_twice(project: Project) -> None:
    app = project()
    before = project.snapshot()
    with pytest.raises(ConfigError) as info:
        project.schemaver.init_app(app)
    assert str(info.value) == (
        f"SchemaVer is already set up on app {app.name!r}; call init_app once per app"
    )
    with pytest.raises(ConfigError, match="already set up"):
        SchemaVer(app, project.db)
    assert not changes(before, project.snapshot())


def test_flask_sqlalchemy_missing_at_init_app(project: Project) -> None:
    app = Flask("bare", root_path=str(project.tmp_path))
    with pytest.raises(ConfigError) as info:
        SchemaVer().init_app(app)
    assert str(info.value) == (
        "Flask-SQLAlchemy is not set up on app 'bare': call db.init_app(app) before "
        "schemaver.init_app(app), or pass db"
    )
    assert "schemaver" not in app.extensions and "db" not in app.cli.commands


def test_unknown_option(project: Project) -> None:
    with pytest.raises(TypeError) as info:
        SchemaVer(directry="migrations")
    message = str(info.value)
    assert message.startswith("SchemaVer() got an unknown option 'directry'; known: ")
    assert "directory" in message and "lock_timeout" in message
    assert list(project.tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "value", ["soon", -1, True, [600]], ids=["text", "negative", "bool", "list"]
)
def test_bad_lock_timeout_api(project: Project, value: object) -> None:
    with pytest.raises(ConfigError) as info:
        project(SCHEMAVER_LOCK_TIMEOUT=value)
    assert str(info.value) == (
        "SCHEMAVER_LOCK_TIMEOUT must be a number of seconds (0 or more), or None to wait forever"
    )
    assert sorted(project.tmp_path.iterdir()) == []


# -- database servers ------------------------------------------------------------------

SERVER_HINT = re.compile(
    r"(?i)is the server running|check that the database server is running"
)
CREATE_HINT = re.compile(r"(?i)create (it|the database)|SQLALCHEMY_DATABASE_URI")


def _with_revision(project: Project, url: str) -> Flask:
    app = project(url)
    with app.app_context():
        project.schemaver.revision("one", rev_id="r1")
    return app


@pytest.mark.parametrize(
    ("url", "says"),
    [
        pytest.param(
            "postgresql+psycopg://postgres@127.0.0.1:1/schemaver",
            (
                "[default] postgresql+psycopg://postgres@127.0.0.1:1/schemaver",
                "refused",
            ),
            id="postgresql",
        ),
        pytest.param(
            "mysql+pymysql://root@127.0.0.1:1/schemaver",
            ("[default] mysql+pymysql://root@127.0.0.1:1/schemaver", "refused"),
            id="mariadb",
        ),
    ],
)
@pytest.mark.parametrize("via", ["cli", "api"])
def test_unreachable_server(
    project: Project, url: str, says: tuple[str, ...], via: str
) -> None:
    app = _with_revision(project, url)
    expected: tuple[Says, ...] = (*says, SERVER_HINT)
    upgrade_refuses(project, app, via, expected)


@pytest.mark.parametrize(
    ("server", "base_url", "says"),
    [
        pytest.param(
            "postgresql_server",
            POSTGRESQL_URL,
            'database "{name}" does not exist',
            id="postgresql",
            marks=pytest.mark.postgresql,
        ),
        pytest.param(
            "mysql_server",
            MYSQL_URL,
            "Unknown database '{name}'",
            id="mariadb",
            marks=pytest.mark.mysql,
        ),
    ],
)
@pytest.mark.parametrize("via", ["cli", "api"])
def test_database_does_not_exist(
    project: Project,
    request: pytest.FixtureRequest,
    server: str,
    base_url: str,
    says: str,
    via: str,
) -> None:
    request.getfixturevalue(server)  # skips when the server is not running
    name = f"schemaver_missing_{uuid.uuid4().hex[:10]}"
    url = sa.make_url(base_url).set(database=name).render_as_string(hide_password=False)
    app = _with_revision(project, url)
    expected: tuple[Says, ...] = ("[default]", says.format(name=name), CREATE_HINT)
    upgrade_refuses(project, app, via, expected)


@pytest.fixture
def limited_role(
    postgresql_server: sa.Engine, postgresql_db: MakeDatabase, project: Project
) -> Iterator[tuple[str, str]]:
    """A fresh database owned by postgres, and a role that may only connect to it.

    Yields the database's URL as postgres and as the role.
    """
    admin_url = postgresql_db()
    database = sa.make_url(admin_url).database
    role = f"schemaver_limited_{uuid.uuid4().hex[:8]}"
    with postgresql_server.connect() as conn:
        conn.execute(sa.text(f"CREATE ROLE {role} LOGIN"))
    yield (
        admin_url,
        sa.make_url(admin_url)
        .set(username=role, password=None)
        .render_as_string(hide_password=False),
    )
    project.dispose()  # the role's pooled connections
    with postgresql_server.connect() as conn:
        # The grants live in the database: drop it before the role.
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        conn.execute(sa.text(f"DROP ROLE IF EXISTS {role}"))


def _no_create_on_schema(project: Project, admin_url: str, role_url: str) -> Flask:
    """The role may not create tables in public (the default since PostgreSQL 15)."""
    with sa.create_engine(admin_url, poolclass=sa.NullPool).begin() as conn:
        conn.execute(sa.text("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
    return _with_revision(project, role_url)


def _not_owner_of_table(project: Project, admin_url: str, role_url: str) -> Flask:
    """postgres made table "user" and may write the version table; the role's next
    revision alters "user", which only its owner may."""
    admin = project(admin_url)
    with admin.app_context():
        sv = project.schemaver
        [first] = sv.revision("users", rev_id="u1")
        set_bodies(
            first.revisions[0].path,
            "    op.create_table('user', sa.Column('id', sa.Integer, primary_key=True))\n",
        )
        sv.upgrade()
        [second] = sv.revision("email", rev_id="u2")
        set_bodies(
            second.revisions[0].path,
            "    op.add_column('user', sa.Column('email', sa.String(50)))\n",
        )
    role = sa.make_url(role_url).username
    with sa.create_engine(admin_url, poolclass=sa.NullPool).begin() as conn:
        conn.execute(
            sa.text(
                f"GRANT SELECT, INSERT, UPDATE, DELETE ON alembic_version TO {role}"
            )
        )
    return project(role_url)


@pytest.mark.postgresql
@pytest.mark.parametrize(
    ("build", "says"),
    [
        pytest.param(
            _no_create_on_schema, "permission denied for schema public", id="schema"
        ),
        pytest.param(_not_owner_of_table, "must be owner of table user", id="table"),
    ],
)
@pytest.mark.parametrize("via", ["cli", "api"])
def test_permission_denied(
    project: Project,
    limited_role: tuple[str, str],
    build: Callable[[Project, str, str], Flask],
    says: str,
    via: str,
) -> None:
    admin_url, role_url = limited_role
    app = build(project, admin_url, role_url)
    # Look at the database as postgres: the role may not even read it all.
    project.watched = [admin_url]
    role = sa.make_url(role_url).username
    expected: tuple[Says, ...] = (
        "[default]",
        f"{role}@",
        says,
        re.compile(r"(?i)\bgrant\b"),
    )
    upgrade_refuses(project, app, via, expected)


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        (
            "SCHEMAVER_LOCK_TIMEOUT",
            "soon",
            "SCHEMAVER_LOCK_TIMEOUT must be a number of seconds (0 or more), or None to wait forever",
        ),
        ("SCHEMAVER_BINDS", "audit", None),
        ("SCHEMAVER_JOBS", 0, None),
    ],
    ids=["lock-timeout", "binds", "jobs"],
)
@pytest.mark.parametrize("command", [["db", "status"], ["db", "upgrade"], ["routes"]])
def test_bad_setting_in_flask_command(
    project: Project,
    setting: str,
    value: object,
    message: str | None,
    command: list[str],
) -> None:
    """A setting init_app refuses stops any ``flask`` command with one line, not a
    traceback, exactly as when Flask's CLI imports the app."""
    from click.testing import CliRunner
    from flask.cli import FlaskGroup

    def create_app() -> Flask:
        return project(**{setting: value})

    result = CliRunner().invoke(FlaskGroup(create_app=create_app), command)
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1, result.output
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert setting in lines[0]
    if message is not None:
        assert lines[0] == f"Error: {message}"
    assert "Traceback" not in result.output
    assert sorted(project.tmp_path.iterdir()) == []
