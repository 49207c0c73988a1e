"""Rewriting a multidb revision file for one database, as text.

The file keeps everything but its dispatchers and its engines' functions: the module
docstring, imports, helpers, constants and other module-level code stay as written.
``upgrade(engine_name)`` becomes the chosen engine's ``upgrade_<engine>()`` renamed to
``upgrade()`` (``pass`` when it has none), likewise for ``downgrade``, and the other
engines' functions are removed, unless code that stays calls them. For a bind other
than the default one, the revision identifiers and the docstring's ``Revision ID``
and ``Revises`` lines are replaced, and a line saying where the revision came from
is added.

This module must not import Alembic.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from .multidb import SharedRevision

_STUB = "def {name}():\n    pass\n"


@dataclass(frozen=True)
class Identity:
    """The identifiers a rewritten file gets, when they change."""

    revision: str
    down_revision: str | tuple[str, ...] | None
    depends_on: str | tuple[str, ...] | None
    #: Added to the end of the docstring.
    note: str


def rewrite(rev: SharedRevision, engine: str | None, identity: Identity | None) -> str:
    """The text of ``rev`` for one database: the engine ``engine``'s functions as
    ``upgrade()``/``downgrade()`` (stubs when None or missing); with ``identity``,
    new revision identifiers.

    A plain file (written before the project went multidb) is the default
    database's as it is; rewritten for another database, its functions become stubs.
    """
    if rev.shape == "plain" and identity is None:
        return rev.source
    code = rev.engines.get(engine) if engine is not None else None
    chosen = {
        direction: getattr(code, direction) if code is not None else None
        for direction in ("upgrade", "downgrade")
    }
    edits = _Edits(rev.source)
    last = {
        node.name: node
        for node in rev.tree.body
        if isinstance(node, ast.FunctionDef) and node.name in chosen
    }
    for node in rev.tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in chosen:
            text = _renamed(edits, chosen[node.name], node.name)
            edits.replace_lines(node, text if node is last[node.name] else "")
    for node in _removed(rev, chosen):
        edits.replace_lines(node, "")
    if identity is not None:
        _identify(rev, edits, identity)
    return _tidy(edits.apply())


def _renamed(edits: _Edits, function: ast.FunctionDef | None, name: str) -> str:
    if function is None:
        return _STUB.format(name=name)
    text = edits.lines_of(function)
    return re.sub(
        rf"def\s+{re.escape(function.name)}\s*\(", f"def {name}(", text, count=1
    )


def _removed(
    rev: SharedRevision, chosen: dict[str, ast.FunctionDef | None]
) -> list[ast.FunctionDef]:
    """The engines' functions to remove: all of them, but those that code staying in
    the file calls (which then stay too)."""
    engine_functions = [
        f
        for code in rev.engines.values()
        for f in (code.upgrade, code.downgrade)
        if f is not None
    ]
    removed = {f.name: f for f in engine_functions}
    staying: list[ast.AST] = [
        node
        for node in rev.tree.body
        if not (
            isinstance(node, ast.FunctionDef)
            and (node.name in removed or node.name in ("upgrade", "downgrade"))
        )
    ]
    staying += [f for f in chosen.values() if f is not None]
    while True:
        used = {
            n.id
            for node in staying
            for n in ast.walk(node)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
        }
        back = [removed.pop(name) for name in sorted(used & set(removed))]
        if not back:
            return list(removed.values())
        staying += back


def _identify(rev: SharedRevision, edits: _Edits, identity: Identity) -> None:
    """New identifiers, in the assignments and in the docstring."""
    values = {
        "revision": identity.revision,
        "down_revision": identity.down_revision,
        "branch_labels": None,
        "depends_on": identity.depends_on,
    }
    assigned = set()
    last = None
    for node in rev.tree.body:
        target, value = _target(node)
        if target in values and value is not None:
            edits.replace(value, repr(values[target]))
            assigned.add(target)
            last = node
    missing = [f"{k} = {v!r}\n" for k, v in values.items() if k not in assigned and v]
    if missing and last is not None:
        edits.insert_after(last, "".join(missing))
    first = rev.tree.body[0] if rev.tree.body else None
    docstring = _docstring(rev, identity)
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        edits.replace(first, docstring)
    else:
        edits.insert_at_start(docstring + "\n")


def _target(node: ast.stmt) -> tuple[str | None, ast.expr | None]:
    if (
        isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
    ):
        return node.targets[0].id, node.value
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.target.id, node.value
    return None, None


def _docstring(rev: SharedRevision, identity: Identity) -> str:
    text = rev.docstring or f"{rev.message or rev.revision}\n"
    revises = identity.down_revision
    shown = ", ".join(revises) if isinstance(revises, tuple) else (revises or "")
    text = re.sub(
        r"(?m)^Revision ID:.*$", lambda _: f"Revision ID: {identity.revision}", text
    )
    text = re.sub(r"(?m)^Revises:.*$", lambda _: f"Revises: {shown}", text)
    # The message is the first paragraph: the note never joins it.
    gap = "\n" if "\n\n" in text.strip() else "\n\n"
    text = f"{text.rstrip()}{gap}{identity.note}\n\n"
    if '"""' in text or "\\" in text or text.endswith('"'):
        text = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"""{text}"""'


def _tidy(text: str) -> str:
    """No more than two blank lines in a row, and one newline at the end."""
    text = re.sub(r"\n{4,}", "\n\n\n", text)
    return text.rstrip("\n") + "\n"


class _Edits:
    """Replacements in a text, given by AST node positions, applied at once."""

    def __init__(self, source: str) -> None:
        self.data = source.encode("utf-8")
        self.starts = [0]
        for line in self.data.splitlines(keepends=True):
            self.starts.append(self.starts[-1] + len(line))
        self.changes: list[tuple[int, int, bytes]] = []

    def _at(self, line: int, column: int) -> int:
        return self.starts[line - 1] + column

    def _line_span(self, node: ast.stmt) -> tuple[int, int]:
        decorators = getattr(node, "decorator_list", [])
        first = min([node.lineno, *(d.lineno for d in decorators)])
        end = node.end_lineno or node.lineno
        return self.starts[first - 1], self.starts[min(end, len(self.starts) - 1)]

    def lines_of(self, node: ast.stmt) -> str:
        start, end = self._line_span(node)
        return self.data[start:end].decode("utf-8")

    def replace_lines(self, node: ast.stmt, text: str) -> None:
        start, end = self._line_span(node)
        self.changes.append((start, end, text.encode("utf-8")))

    def replace(self, node: ast.AST, text: str) -> None:
        start = self._at(node.lineno, node.col_offset)  # type: ignore[attr-defined]
        end = self._at(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]
        self.changes.append((start, end, text.encode("utf-8")))

    def insert_after(self, node: ast.stmt, text: str) -> None:
        _, end = self._line_span(node)
        self.changes.append((end, end, text.encode("utf-8")))

    def insert_at_start(self, text: str) -> None:
        self.changes.append((0, 0, text.encode("utf-8")))

    def apply(self) -> str:
        data = self.data
        for start, end, text in sorted(self.changes, reverse=True):
            data = data[:start] + text + data[end:]
        return data.decode("utf-8")
