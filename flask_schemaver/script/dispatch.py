"""Recognising how a Flask-Migrate ``--multidb`` revision file dispatches: its
``upgrade(engine_name)`` and ``downgrade(engine_name)``, and the engines' functions
they call, read from the file's syntax tree.

The shapes are the multidb templates': Flask-Migrate's ``globals()[...]()``, its
``globals().get(..., lambda: None)()`` variant and Alembic's ``eval(...)()``, the
function's name built from ``"upgrade_"`` and ``engine_name`` by ``%``, an f-string,
``+`` or ``.format``. Anything else raises :class:`Unreadable`, saying why.

This module must not import Alembic.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Literal

#: How a revision file dispatches to its engines' functions.
Shape = Literal["plain", "stock", "get", "eval"]

DIRECTIONS = ("upgrade", "downgrade")
_ENGINE_FUNCTION = re.compile(r"(upgrade|downgrade)_(\w*)")


class Unreadable(Exception):
    """A file that is not one of the recognised shapes; the message says why."""


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


def dispatchers(tree: ast.Module) -> dict[str, ast.FunctionDef]:
    """The module-level ``upgrade`` and ``downgrade`` functions (the last of each)."""
    found: dict[str, ast.FunctionDef] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in DIRECTIONS:
            found[node.name] = node
    return found


def takes_parameters(function: ast.FunctionDef) -> bool:
    """Whether Flask-Migrate's ``engine_name=...`` could be passed to it."""
    args = function.args
    return bool(args.args or args.posonlyargs or args.kwonlyargs or args.kwarg)


def dispatch_shape(dispatchers: dict[str, ast.FunctionDef]) -> Shape:
    if not all(takes_parameters(f) for f in dispatchers.values()):
        raise Unreadable("only one of its upgrade() and downgrade() takes engine_name")
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
            raise Unreadable(
                f"its {direction}() does not take just engine_name, as the multidb "
                "templates write it"
            )
        shape = _dispatch_call(function, direction)
        if shape is None:
            raise Unreadable(
                f"its {direction}(engine_name) is not a dispatcher the converter "
                "knows: it does more than call the engine's function"
            )
        shapes.add(shape)
    if len(shapes) != 1:
        raise Unreadable("its upgrade() and downgrade() dispatch differently")
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


def engine_functions(tree: ast.Module) -> dict[str, EngineCode]:
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
            raise Unreadable(f"defines {node.name}() twice")
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
