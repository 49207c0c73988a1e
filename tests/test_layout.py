"""The package's layout keeps its promises: layers import downwards only, the command
families line up across cli/, api/ and verbs/, functions stay short, the light
modules stay free of Alembic, and every option explains itself."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import click
import pytest

import flask_schemaver
from flask_schemaver.cli import COMMANDS
from flask_schemaver.cli import db

PACKAGE = Path(flask_schemaver.__file__).parent

#: Each part of the package and its layer: a module may import (at run time) only
#: parts of the same or a lower layer.
LAYERS = {
    "exceptions": 0,
    "results": 0,
    "settings": 0,
    "options": 0,
    "dialects": 1,
    "binds": 2,
    # Tenanted binds: each tenant a Bind of its own.
    "tenants": 2,
    # Where a tenant lives: its schema or database made and dropped.
    "places": 2,
    "script": 3,
    "runtime": 4,
    # Imported by revision files: the backfill helper, over runtime's operation.
    "backfills": 4,
    "lint": 5,
    # The rule catalogue is data: settings check SCHEMAVER_LINT against it.
    "lint.catalog": 0,
    "verbs": 6,
    "testing": 7,
    "api": 7,
    "cli": 8,
    "extension": 8,
}

#: Modules that must not import Alembic at module level: they serve start-up, the
#: no-op upgrade and the health check.
WITHOUT_ALEMBIC = [
    "__init__.py",
    "backfills.py",
    "exceptions.py",
    "results.py",
    "settings.py",
    "options.py",
    "binds.py",
    "tenants.py",
    "places.py",
    "extension.py",
    "api",
    "cli/__init__.py",
    "cli/options.py",
    "cli/output.py",
    "dialects",
    "script/__init__.py",
    "script/files.py",
    "script/chain.py",
    "script/multidb.py",
    "script/dispatch.py",
    "runtime/__init__.py",
    "runtime/history.py",
    "runtime/riding.py",
    "runtime/collecting.py",
    "runtime/locking.py",
    "runtime/versions.py",
    "runtime/fleet.py",
    "verbs/__init__.py",
    "verbs/quick.py",
    "testing/__init__.py",
    "testing/plugin.py",
    "lint/__init__.py",
    "lint/catalog.py",
]


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "alembic_env" not in p.parts)


def part(path: Path) -> str:
    """The part of the package ``path`` belongs to, e.g. ``verbs`` or ``lint.catalog``."""
    dotted = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
    return layer_key(dotted)


def layer_key(dotted: str) -> str:
    """The most specific key of :data:`LAYERS` for the module ``dotted``."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        key = ".".join(parts[:end])
        if key in LAYERS:
            return key
    return parts[0]


def runtime_imports(path: Path, source: str) -> list[tuple[int, str]]:
    """``(line, module)`` of each import in ``source``, the text of the package file
    at ``path``, outside ``if TYPE_CHECKING``; relative imports made absolute."""
    tree = ast.parse(source)
    package = ".".join(("flask_schemaver", *path.relative_to(PACKAGE).parts[:-1]))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0]
                base = f"{parent}.{base}" if base else parent
            found += [(node.lineno, f"{base}.{a.name}") for a in node.names]
    return found


def upward_imports(path: Path, source: str) -> list[str]:
    """The imports in ``source`` (of the package file ``path``) of a higher layer."""
    own = part(path)
    wrong = []
    for line, name in runtime_imports(path, source):
        parts = name.split(".")
        if parts[0] != "flask_schemaver" or len(parts) < 2 or own == "__init__":
            continue
        other = layer_key(".".join(parts[1:]))
        if other in LAYERS and LAYERS[other] > LAYERS[own]:
            wrong.append(f"{path.relative_to(PACKAGE)}:{line} imports {name}")
    return wrong


def test_layers_import_downwards_only() -> None:
    wrong = [v for path in modules() for v in upward_imports(path, path.read_text())]
    assert wrong == []


def test_the_layer_check_sees_imports_inside_functions() -> None:
    inside = PACKAGE / "script" / "sample.py"
    assert upward_imports(inside, "def f():\n    from ..cli import output\n") == [
        "script/sample.py:2 imports flask_schemaver.cli.output"
    ]
    assert upward_imports(inside, "from .. import verbs\n") == [
        "script/sample.py:1 imports flask_schemaver.verbs"
    ]
    typing_only = "if TYPE_CHECKING:\n    from ..api.base import AppState\n"
    assert upward_imports(inside, typing_only) == []


@pytest.mark.parametrize("where", WITHOUT_ALEMBIC)
def test_light_modules_import_no_alembic(where: str) -> None:
    target = PACKAGE / where
    files = sorted(target.rglob("*.py")) if target.is_dir() else [target]
    assert files
    for path in files:
        tree = ast.parse(path.read_text())
        top = [
            node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))
        ]
        names = [
            alias.name if isinstance(node, ast.Import) else node.module or ""
            for node in top
            for alias in node.names
        ]
        assert not [n for n in names if n.split(".")[0] == "alembic"], path


def test_no_function_is_longer_than_80_lines() -> None:
    long = []
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > 80:
                    long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {length}")
    assert long == []


def test_command_families_line_up() -> None:
    """A command lives in the same-named module of cli/, api/ and verbs/."""
    families = set(COMMANDS.values())
    assert families == {"files", "runs", "looks", "checks", "convert", "tenants"}
    for family in families:
        for layer in ("cli", "api", "verbs"):
            assert (PACKAGE / layer / f"{family}.py").is_file(), (layer, family)


def test_the_registry_names_every_command_and_only_them() -> None:
    for family in set(COMMANDS.values()):
        module = importlib.import_module(f"flask_schemaver.cli.{family}")
        commands = [v for v in vars(module).values() if isinstance(v, click.Command)]
        # The commands of a group (``tenants create``) are registered by the group.
        grouped = {
            id(c)
            for g in commands
            if isinstance(g, click.Group)
            for c in g.commands.values()
        }
        defined = {c.name for c in commands if id(c) not in grouped}
        registered = {name for name, where in COMMANDS.items() if where == family}
        assert defined == registered, family
    ctx = click.Context(db)
    for name in COMMANDS:
        command = db.get_command(ctx, name)
        assert command is not None and command.name == name


def test_every_command_and_option_has_help() -> None:
    missing = [p.name for p in db.params if isinstance(p, click.Option) and not p.help]
    missing += undocumented(db, "")
    assert missing == []


def undocumented(group: click.Group, prefix: str) -> list[str]:
    """The commands of ``group`` (and of its groups) without help, and their options
    without it."""
    ctx = click.Context(group)
    missing = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        if not (command.help or "").strip():
            missing.append(prefix + name)
        missing += [
            f"{prefix}{name} {p.opts[0]}"
            for p in command.params
            if isinstance(p, click.Option) and not p.help
        ]
        if isinstance(command, click.Group):
            missing += undocumented(command, f"{prefix}{name} ")
    return missing


def test_public_names() -> None:
    expected = {
        "SchemaVer",
        "RunResult",
        "Step",
        "BindStatus",
        "CheckResult",
        "Revision",
        "RevisionStatus",
        "RevisionResult",
        "BindPlan",
        "Finding",
        "LockWait",
        "RunOptions",
        "SchemaVerError",
        "RunFailed",
        "__version__",
    }
    assert expected <= set(flask_schemaver.__all__)
    for name in flask_schemaver.__all__:
        assert getattr(flask_schemaver, name) is not None
    assert set(flask_schemaver.__all__) <= set(dir(flask_schemaver))
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        flask_schemaver.nothing  # type: ignore[attr-defined]  # noqa: B018


def test_public_methods_document_their_parameters() -> None:
    """Every public method of SchemaVer says what each of its parameters is."""
    undocumented = []
    for name in dir(flask_schemaver.SchemaVer):
        method = getattr(flask_schemaver.SchemaVer, name)
        if name.startswith("_") or not callable(method):
            continue
        doc = method.__doc__ or ""
        if not doc.strip():
            undocumented.append(name)
        for parameter in inspect.signature(method).parameters:
            if parameter != "self" and f":param {parameter}:" not in doc:
                undocumented.append(f"{name}({parameter})")
    assert undocumented == []
