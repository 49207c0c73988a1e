"""Flask-Migrate ``--multidb`` revision files, read as text.

Flask-Migrate's multiple-database mode keeps one chain for every database: each
revision has an ``upgrade(engine_name)`` that calls ``upgrade_<engine>()`` (and the
same for ``downgrade``), and Flask-Migrate runs the whole chain once per database,
passing its engine name: ``''`` for the default database, the bind key for the others.
Run as a plain revision, such a file fails (``engine_name`` missing) or, when the
parameter has a default, runs only one database's part. So a folder holding one is
found before anything runs (:func:`per_engine_files`), and read here in full for the
converter (:func:`read_shared_chain`).

The dispatchers recognised are the ones the templates write:

- Flask-Migrate's stock one, ``globals()["upgrade_%s" % engine_name]()``;
- its variant ``globals().get("upgrade_%s" % engine_name, lambda: None)()``;
- Alembic's own multidb template, ``eval("upgrade_%s" % engine_name)()``;

with the name built by ``%``, an f-string, ``+`` or ``str.format``. Files whose
``upgrade()`` takes no parameter, written before the project went multidb, are the
default database's. Anything else (work done in ``upgrade(engine_name)`` itself, an
unknown dispatcher) is reported as a problem, never guessed.

This module must not import Alembic.
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any
from typing import Literal
from typing import TYPE_CHECKING

from ..binds import FLASK_MIGRATE_TABLE as FLASK_MIGRATE_TABLE
from ..exceptions import MultidbRevisions
from .files import _assignment
from .files import _revision_files
from .files import Dynamic
from .files import Ids

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ..binds import Bind

#: A module-level ``upgrade``/``downgrade`` that takes a parameter: the only files
#: worth parsing when looking for dispatchers.
_SUSPECT = re.compile(rb"(?m)^def\s+(?:up|down)grade\s*\(\s*[A-Za-z_*]")
_DIRECTIONS = ("upgrade", "downgrade")
_FACTS = ("revision", "down_revision", "branch_labels", "depends_on")
_ENGINE_FUNCTION = re.compile(r"(upgrade|downgrade)_(\w*)")

#: How a revision file dispatches to its engines' functions.
Shape = Literal["plain", "stock", "get", "eval"]


def per_engine_files(directory: Path) -> list[str]:
    """The revision files in ``directory`` whose ``upgrade`` or ``downgrade`` takes
    a parameter, as Flask-Migrate's ``--multidb`` files do; sorted by name.

    Cheap enough for every command: a file is parsed only when its text has such a
    ``def``. Files that cannot be read or parsed are left to the normal path, which
    reports them.
    """
    try:
        files = _revision_files(directory)
    except (Dynamic, OSError):
        return []
    found = []
    for _, path in files:
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError:
            continue
        if not _SUSPECT.search(data):
            continue
        try:
            tree = ast.parse(data, filename=path)
        except (SyntaxError, ValueError):
            continue
        if any(_takes_parameters(f) for f in _dispatchers(tree).values()):
            found.append(path)
    return found


def refuse_per_engine(binds: Iterable[Bind]) -> None:
    """Raise :class:`~flask_schemaver.exceptions.MultidbRevisions` when a bind's folder
    holds Flask-Migrate ``--multidb`` revisions: every command that would touch the
    project's chains refuses then, whichever binds it was asked about, since the
    revisions hold the other binds' work too."""
    for bind in binds:
        found = per_engine_files(bind.directory)
        if found:
            raise MultidbRevisions(bind.name, str(bind.directory), found)


def describe_files(paths: list[str], shown: int = 3) -> str:
    """``a.py, b.py, c.py and 17 more``: the first few file names and a count."""
    names = [os.path.basename(p) for p in paths]
    text = ", ".join(names[:shown])
    if len(names) > shown:
        text += f" and {len(names) - shown} more"
    return text


@dataclass
class EngineCode:
    """One engine's functions in one revision: ``upgrade_<engine>`` and
    ``downgrade_<engine>``, either of which may be missing."""

    upgrade: ast.FunctionDef | None = None
    downgrade: ast.FunctionDef | None = None

    @property
    def works(self) -> bool:
        """Whether either function does something (more than ``pass``)."""
        return any(
            f is not None and does_something(f) for f in (self.upgrade, self.downgrade)
        )


@dataclass
class SharedRevision:
    """One revision file of a multidb chain, read as text."""

    path: str
    source: str
    tree: ast.Module
    revision: str
    down_revision: Ids
    branch_labels: Ids
    depends_on: Ids
    docstring: str | None
    #: ``plain`` for a file written before the project went multidb.
    shape: Shape
    #: Each engine's functions, by engine name (``""`` for the default database).
    engines: dict[str, EngineCode] = field(default_factory=dict)

    @property
    def parents(self) -> list[str]:
        """The revisions this one builds on."""
        return _as_list(self.down_revision)

    @property
    def message(self) -> str:
        """The first paragraph of the docstring."""
        return re.split("\n\n", (self.docstring or "").strip())[0]


@dataclass
class SharedChain:
    """A folder of multidb revision files, and the files that could not be read as
    one (each with the reason)."""

    directory: Path
    revisions: list[SharedRevision]
    problems: list[tuple[str, str]]


def read_shared_chain(directory: Path) -> SharedChain:
    """Every revision file of ``directory``, classified."""
    revisions: list[SharedRevision] = []
    problems: list[tuple[str, str]] = []
    for _, path in _revision_files(directory):
        try:
            revisions.append(_read(path))
        except _Unreadable as exc:
            problems.append((path, str(exc)))
    return SharedChain(directory, revisions, problems)


class _Unreadable(Exception):
    """A file that is not one of the recognised shapes; the message says why."""


def _read(path: str) -> SharedRevision:
    try:
        with open(path, encoding="utf-8") as handle:
            source = handle.read()
        tree = ast.parse(source, filename=path)
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError) as exc:
        raise _Unreadable(f"cannot be read ({type(exc).__name__})") from None
    facts = _literal_facts(tree)
    dispatchers = _dispatchers(tree)
    if set(dispatchers) != set(_DIRECTIONS):
        raise _Unreadable("has no upgrade() and downgrade() at module level")
    if not any(_takes_parameters(f) for f in dispatchers.values()):
        shape: Shape = "plain"
        engines: dict[str, EngineCode] = {}
    else:
        shape = _dispatch_shape(dispatchers)
        engines = _engine_functions(tree)
    return SharedRevision(
        path=path,
        source=source,
        tree=tree,
        revision=facts["revision"],
        down_revision=facts["down_revision"],
        branch_labels=facts["branch_labels"],
        depends_on=facts["depends_on"],
        docstring=ast.get_docstring(tree, clean=False),
        shape=shape,
        engines=engines,
    )


def _literal_facts(tree: ast.Module) -> dict[str, Any]:
    facts: dict[str, Any] = dict.fromkeys(_FACTS[1:])
    seen = set()
    for node in tree.body:
        target, value = _assignment(node)
        if target not in _FACTS or value is None:
            continue
        try:
            facts[target] = ast.literal_eval(value)
        except ValueError:
            raise _Unreadable(f"its {target} is not a literal") from None
        seen.add(target)
    if not isinstance(facts.get("revision"), str) or "down_revision" not in seen:
        raise _Unreadable("has no literal revision and down_revision")
    for name in _FACTS[1:]:
        value = facts[name]
        if not (
            value is None
            or isinstance(value, str)
            or (
                isinstance(value, (list, tuple))
                and all(isinstance(v, str) for v in value)
            )
        ):
            raise _Unreadable(f"its {name} is not a string or a tuple of strings")
    return facts


def _dispatchers(tree: ast.Module) -> dict[str, ast.FunctionDef]:
    """The module-level ``upgrade`` and ``downgrade`` functions (the last of each)."""
    found: dict[str, ast.FunctionDef] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in _DIRECTIONS:
            found[node.name] = node
    return found


def _takes_parameters(function: ast.FunctionDef) -> bool:
    """Whether Flask-Migrate's ``engine_name=...`` could be passed to it."""
    args = function.args
    return bool(args.args or args.posonlyargs or args.kwonlyargs or args.kwarg)


def _dispatch_shape(dispatchers: dict[str, ast.FunctionDef]) -> Shape:
    if not all(_takes_parameters(f) for f in dispatchers.values()):
        raise _Unreadable("only one of its upgrade() and downgrade() takes engine_name")
    shapes = set()
    for direction, function in dispatchers.items():
        args = function.args
        if (
            [a.arg for a in args.args] != ["engine_name"]
            or args.posonlyargs
            or args.kwonlyargs
            or args.vararg
            or args.kwarg
        ):
            raise _Unreadable(
                f"its {direction}() does not take just engine_name, as the multidb "
                "templates write it"
            )
        shape = _dispatch_call(function, direction)
        if shape is None:
            raise _Unreadable(
                f"its {direction}(engine_name) is not a dispatcher the converter "
                "knows: it does more than call the engine's function"
            )
        shapes.add(shape)
    if len(shapes) != 1:
        raise _Unreadable("its upgrade() and downgrade() dispatch differently")
    return shapes.pop()


def _dispatch_call(function: ast.FunctionDef, direction: str) -> Shape | None:
    """Which template's dispatcher the function's body is, if any."""
    body = [s for s in function.body if not _is_docstring(s)]
    if len(body) != 1 or not isinstance(body[0], (ast.Expr, ast.Return)):
        return None
    call = body[0].value
    if not isinstance(call, ast.Call) or call.args or call.keywords:
        return None
    func = call.func
    prefix = f"{direction}_"
    if isinstance(func, ast.Subscript) and _is_call_of(func.value, "globals", 0):
        return "stock" if _names_engine(func.slice, prefix) else None
    if not isinstance(func, ast.Call):
        return None
    if _is_call_of(func, "eval", 1):
        return "eval" if _names_engine(func.args[0], prefix) else None
    getter = func.func
    if (
        isinstance(getter, ast.Attribute)
        and getter.attr == "get"
        and _is_call_of(getter.value, "globals", 0)
        and len(func.args) == 2
        and not func.keywords
        and _names_engine(func.args[0], prefix)
        and _does_nothing(func.args[1])
    ):
        return "get"
    return None


def _is_call_of(node: ast.expr, name: str, count: int) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == name
        and len(node.args) == count
        and not node.keywords
    )


def _is_engine(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == "engine_name"


def _names_engine(node: ast.expr, prefix: str) -> bool:
    """Whether ``node`` is ``prefix`` followed by the engine's name, written as
    ``"upgrade_%s" % engine_name``, an f-string, ``+`` or ``.format``."""
    if isinstance(node, ast.BinOp) and isinstance(node.left, ast.Constant):
        right = node.right
        if isinstance(right, ast.Tuple) and len(right.elts) == 1:
            right = right.elts[0]
        if isinstance(node.op, ast.Mod):
            return node.left.value == prefix + "%s" and _is_engine(right)
        if isinstance(node.op, ast.Add):
            return node.left.value == prefix and _is_engine(right)
    if isinstance(node, ast.JoinedStr) and len(node.values) == 2:
        text, value = node.values
        return (
            isinstance(text, ast.Constant)
            and text.value == prefix
            and isinstance(value, ast.FormattedValue)
            and value.conversion == -1
            and value.format_spec is None
            and _is_engine(value.value)
        )
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
        and isinstance(node.func.value, ast.Constant)
        and len(node.args) == 1
        and not node.keywords
    ):
        return node.func.value.value == prefix + "{}" and _is_engine(node.args[0])
    return False


def _does_nothing(node: ast.expr) -> bool:
    """``lambda: None``, the default of the ``globals().get`` dispatcher."""
    return (
        isinstance(node, ast.Lambda)
        and not node.args.args
        and not node.args.vararg
        and not node.args.kwarg
        and isinstance(node.body, ast.Constant)
        and node.body.value is None
    )


def _engine_functions(tree: ast.Module) -> dict[str, EngineCode]:
    """``upgrade_<engine>`` and ``downgrade_<engine>``: module-level functions a
    dispatcher can call, that is, taking no required argument."""
    engines: dict[str, EngineCode] = {}
    seen: set[str] = set()
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        match = _ENGINE_FUNCTION.fullmatch(node.name)
        if match is None or _required(node):
            continue
        if node.name in seen:
            raise _Unreadable(f"defines {node.name}() twice")
        seen.add(node.name)
        code = engines.setdefault(match.group(2), EngineCode())
        setattr(code, match.group(1), node)
    return engines


def _required(function: ast.FunctionDef) -> int:
    args = function.args
    positional = len(args.posonlyargs) + len(args.args) - len(args.defaults)
    keyword_only = sum(1 for d in args.kw_defaults if d is None)
    return positional + keyword_only


def does_something(function: ast.FunctionDef) -> bool:
    """Whether the function's body holds more than a docstring, ``pass`` or ``...``."""
    for statement in function.body:
        if _is_docstring(statement) or isinstance(statement, ast.Pass):
            continue
        if (
            isinstance(statement, ast.Expr)
            and isinstance(statement.value, ast.Constant)
            and statement.value.value is Ellipsis
        ):
            continue
        return True
    return False


def _is_docstring(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )


def _as_list(value: Ids) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)
