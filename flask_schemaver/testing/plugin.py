"""The pytest plugin: fixtures for migration tests, and the built-in checks collected as
one test item per bind and check, e.g. ``schemaver[analytics-stairway]``.

pytest loads this module in every run of a project that has flask_schemaver installed,
so it imports nothing heavy: Alembic and :mod:`.runner` load when a fixture or check
runs.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import types
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from flask import Flask

    from .databases import ThrowawayDatabases
    from .runner import MigrationRunner
    from .templates import TemplateDatabases

_CHECK_NAMES = (
    "single-head, upgrade, models-match, stairway, clean-downgrade, and "
    "split-multidb for a project converted from Flask-Migrate --multidb"
)
_PLACED = pytest.StashKey[Path]()
#: What the id of a tenanted bind's check says about where it ran.
_TENANT_ID = "throwaway-tenant"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("schemaver", "flask_schemaver migration checks")
    group.addoption(
        "--schemaver",
        action="store_true",
        default=False,
        help="run the built-in migration checks for every bind of the app "
        f"({_CHECK_NAMES}); same as the schemaver_checks ini option",
    )
    group.addoption(
        "--schemaver-keepdb",
        action="store_true",
        default=False,
        help="keep the template databases of schemaver_migrated after the run, and "
        "use those an earlier run kept while what they are built from is unchanged; "
        "same as the schemaver_keepdb ini option",
    )
    parser.addini(
        "schemaver_keepdb",
        "keep the template databases of schemaver_migrated between runs (like "
        "--schemaver-keepdb)",
        type="bool",
        default=False,
    )
    parser.addini(
        "schemaver_checks",
        "run the built-in migration checks for every bind (like --schemaver)",
        type="bool",
        default=False,
    )
    parser.addini(
        "schemaver_app",
        "the app whose binds the checks are collected for, as 'flask --app' takes "
        "it, e.g. 'myproject:create_app()'; default: the FLASK_APP environment "
        "variable, then wsgi.py or app.py",
        default="",
    )
    parser.addini(
        "schemaver_skip",
        "checks to leave out: BIND-CHECK names or patterns (analytics-stairway, "
        "*-clean-downgrade), or a check name for every bind",
        type="args",
        default=[],
    )
    parser.addini(
        "schemaver_tenants",
        "how each tenanted bind keeps the throwaway tenant the checks and fixtures "
        "give it: BIND=schema or BIND=database; default: schema on PostgreSQL and "
        "MySQL/MariaDB, database elsewhere. The app's tenant function is never called",
        type="args",
        default=[],
    )
    parser.addini(
        "schemaver_skip_revisions",
        "revision ids whose downgrade the stairway and clean-downgrade checks leave "
        "out, e.g. irreversible data migrations",
        type="args",
        default=[],
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "schemaver: flask_schemaver's built-in migration checks"
    )


def _enabled(config: pytest.Config) -> bool:
    return bool(config.getoption("schemaver") or config.getini("schemaver_checks"))


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> Any:
    """Hang the checks under the first conftest.py that sees an ``app`` fixture."""
    config = parent.config
    if file_path.name != "conftest.py" or _PLACED in config.stash:
        return None
    if not _enabled(config) or not _sees_app(parent, file_path):
        return None
    config.stash[_PLACED] = file_path
    return SchemaVerChecks.from_parent(parent, path=file_path)


def _sees_app(node: pytest.Collector, conftest: Path) -> bool:
    """Whether ``conftest`` defines an ``app`` fixture, or one is visible from its folder.

    A conftest's own fixtures are not always registered yet when its file is collected
    (pytest 9.1 registers them once the folder is collected), hence the first test.
    """
    module = node.config.pluginmanager.get_plugin(str(conftest))
    if module is not None and any(
        _fixture_name(v) == "app" for v in vars(module).values()
    ):
        return True
    try:
        manager: Any = node.session._fixturemanager
        return bool(manager.getfixturedefs("app", node))
    except Exception:  # pytest moved its internals: let the run tell
        return True


def _fixture_name(value: object) -> str | None:
    marker = getattr(value, "_fixture_function_marker", None)  # pytest >= 8.4
    if marker is None:
        marker = getattr(value, "_pytestfixturefunction", None)
    if marker is None:
        return None
    return getattr(marker, "name", None) or getattr(value, "__name__", None)


def pytest_report_collectionfinish(config: pytest.Config) -> list[str]:
    if _enabled(config) and _PLACED not in config.stash:
        return [
            "schemaver: no migration checks collected: no conftest.py collected in "
            "this run provides the app fixture"
        ]
    return []


@pytest.fixture(scope="session")
def schemaver_databases() -> Iterator[ThrowawayDatabases]:
    """Makes the throwaway databases of :func:`schemaver_runner`; server databases are
    dropped at the end of the session."""
    from .databases import ThrowawayDatabases

    databases = ThrowawayDatabases()
    yield databases
    databases.close()


@pytest.fixture(scope="session")
def schemaver_templates(
    schemaver_databases: ThrowawayDatabases,
    tmp_path_factory: pytest.TempPathFactory,
    pytestconfig: pytest.Config,
) -> Iterator[TemplateDatabases]:
    """The template databases of :func:`schemaver_migrated`: each database of the app
    at its heads, built once per session; dropped at its end unless kept
    (``--schemaver-keepdb``)."""
    from .templates import TemplateDatabases

    keep = bool(
        pytestconfig.getoption("schemaver_keepdb")
        or pytestconfig.getini("schemaver_keepdb")
    )
    cache = getattr(pytestconfig, "cache", None)
    templates = TemplateDatabases(
        schemaver_databases,
        tmp_path_factory.mktemp("schemaver-templates"),
        keep=keep,
        keep_folder=cache.mkdir("schemaver") if keep and cache is not None else None,
    )
    yield templates
    templates.close()


@pytest.fixture
def schemaver_migrated(
    app: Flask,
    schemaver_databases: ThrowawayDatabases,
    schemaver_templates: TemplateDatabases,
    tmp_path_factory: pytest.TempPathFactory,
    pytestconfig: pytest.Config,
) -> Iterator[MigrationRunner]:
    """A :class:`~flask_schemaver.testing.MigrationRunner` for the ``app`` fixture: every
    bind on a fresh copy of a database already migrated to its heads; a tenanted
    bind's throwaway tenant at its heads."""
    yield from _runner(
        app,
        schemaver_databases,
        tmp_path_factory,
        pytestconfig,
        templates=schemaver_templates,
    )


@pytest.fixture
def schemaver_runner(
    app: Flask,
    schemaver_databases: ThrowawayDatabases,
    tmp_path_factory: pytest.TempPathFactory,
    pytestconfig: pytest.Config,
) -> Iterator[MigrationRunner]:
    """A :class:`~flask_schemaver.testing.MigrationRunner` for the ``app`` fixture: every
    bind on an empty throwaway database; a tenanted bind's on an empty throwaway
    tenant."""
    yield from _runner(app, schemaver_databases, tmp_path_factory, pytestconfig)


def _runner(
    app: Flask,
    databases: ThrowawayDatabases,
    tmp_path_factory: pytest.TempPathFactory,
    config: pytest.Config,
    templates: TemplateDatabases | None = None,
) -> Iterator[MigrationRunner]:
    from ..exceptions import SchemaVerError
    from .runner import MigrationRunner

    try:
        runner = MigrationRunner(
            app,
            databases,
            tmp_path_factory.mktemp("schemaver"),
            templates=templates,
            tenants=_tenant_kinds(config),
        )
    except SchemaVerError as exc:
        # One line, no traceback: its locals would show the database URLs.
        pytest.fail(str(exc), pytrace=False)
    yield runner
    runner.close()


class SchemaVerChecks(pytest.Module):
    """The built-in checks: one item per bind and check.

    A module node, so that module-scoped ``app`` fixtures work; its object is an empty
    module rather than the conftest.py it is named after.
    """

    def _getobj(self) -> types.ModuleType:
        return types.ModuleType("schemaver_checks")

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        from .checks import CHECKS
        from .checks import CONVERTED_CHECKS

        skip = _words(self.config.getini("schemaver_skip"))
        skip_revisions = _words(self.config.getini("schemaver_skip_revisions"))
        binds, revision_ids, converted, tenanted = self._discover()
        checks = [*CHECKS, *(CONVERTED_CHECKS if converted else ())]
        used: set[str] = set()
        items: list[pytest.Item | pytest.Collector] = []
        for bind in binds:
            for check in checks:
                name = f"{bind}-{check}"
                # A tenanted bind is checked on a throwaway tenant: the id says so.
                shown = f"{bind}/{_TENANT_ID}-{check}" if bind in tenanted else name
                item = SchemaVerCheck.from_parent(
                    self,
                    name=f"schemaver[{shown}]",
                    callobj=_check(bind, check, skip_revisions, binds),
                )
                item.add_marker("schemaver")
                matched = [
                    s
                    for s in skip
                    if s == check
                    or fnmatch.fnmatchcase(name, s)
                    or fnmatch.fnmatchcase(shown, s)
                ]
                if matched:
                    used.update(matched)
                    item.add_marker(
                        pytest.mark.skip(reason=f"schemaver_skip: {matched[0]}")
                    )
                items.append(item)
        unused = [s for s in skip if s not in used]
        if unused:
            self.warn(
                pytest.PytestConfigWarning(
                    f"schemaver_skip: {', '.join(unused)} match no check; the checks "
                    f"are BIND-CHECK for the binds {', '.join(binds)} and the checks "
                    f"{_CHECK_NAMES}"
                )
            )
        if revision_ids is not None:
            unknown = [
                s
                for s in skip_revisions
                if not any(r.startswith(s) for r in revision_ids)
            ]
            if unknown:
                self.warn(
                    pytest.PytestConfigWarning(
                        f"schemaver_skip_revisions: no bind has revision "
                        f"{', '.join(unknown)}"
                    )
                )
        return items

    def _discover(self) -> tuple[list[str], set[str] | None, bool, list[str]]:
        """The names of the app's binds, every revision id (None if unreadable),
        whether the project was converted from Flask-Migrate's ``--multidb`` mode,
        and the tenanted binds (their tenant functions are not called)."""
        from flask.cli import NoAppException
        from flask.cli import ScriptInfo

        from ..binds import resolve_binds
        from ..exceptions import SchemaVerError
        from ..verbs import looks
        from ..verbs.convert import backup_of
        from .tenanted import declared_kinds
        from .tenanted import tenanted

        where = self.config.getini("schemaver_app") or os.environ.get("FLASK_APP")
        try:
            app = ScriptInfo(
                app_import_path=where or None, set_debug_flag=False
            ).load_app()
        except SchemaVerError as exc:
            raise self.CollectError(f"schemaver checks: {exc}") from exc
        except NoAppException as exc:
            raise self.CollectError(
                "schemaver checks need the app to know its binds: set schemaver_app in "
                "the pytest configuration as for 'flask --app' (e.g. schemaver_app = "
                f"myproject:create_app), or FLASK_APP. Flask said: {exc}"
            ) from exc
        state = app.extensions.get("schemaver")
        if state is None:
            raise self.CollectError(
                f"schemaver checks: SchemaVer is not set up on app {app.name!r} "
                f"({where or 'found by Flask'}); call schemaver.init_app(app)"
            )
        with app.app_context():
            try:
                binds = resolve_binds(app, state.db, state.settings)
                tenant_binds = tenanted(state, binds)
                declared_kinds(
                    _words(self.config.getini("schemaver_tenants")), tenant_binds
                )
            except SchemaVerError as exc:
                raise self.CollectError(f"schemaver checks: {exc}") from exc
            ids: set[str] | None = None
            with contextlib.suppress(SchemaVerError):  # the checks will tell
                ids = set().union(
                    *(looks.revision_ids(b, state.settings) for b in binds.values())
                )
            for engine in state.db.engines.values():
                engine.dispose()
        backup = backup_of(binds)
        converted = backup is not None and backup.is_dir()
        return list(binds), ids, converted, tenant_binds


class SchemaVerCheck(pytest.Function):
    """One built-in check on one bind. A failure shows the check's message alone."""

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> Any:  # type: ignore[override]
        from ..exceptions import SchemaVerError
        from .checks import CheckFailed

        if isinstance(excinfo.value, (CheckFailed, SchemaVerError)):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, self.name


def _check(
    bind: str, check: str, skip_revisions: list[str], collected: list[str]
) -> Callable[..., None]:
    def run_check(schemaver_runner: MigrationRunner) -> None:
        from .checks import CheckFailed
        from .checks import CHECKS
        from .checks import CONVERTED_CHECKS

        binds = list(schemaver_runner.binds)
        if set(binds) != set(collected):
            raise CheckFailed(
                f"[{bind}] the app fixture's binds ({', '.join(binds)}) are not the "
                f"ones the checks were collected for ({', '.join(collected)}); point "
                "schemaver_app at the app the fixture builds"
            )
        {**CHECKS, **CONVERTED_CHECKS}[check](schemaver_runner, bind, skip_revisions)

    return run_check


def _tenant_kinds(config: pytest.Config) -> dict[str, str]:
    """The entries of ``schemaver_tenants``, checked when the runner is made."""
    pairs = (w.partition("=") for w in _words(config.getini("schemaver_tenants")))
    return {bind: kind for bind, _, kind in pairs}


def _words(values: list[str]) -> list[str]:
    return [word for value in values for word in value.split(",") if word]
