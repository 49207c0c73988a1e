"""A bind's revision graph, read without running its revision files.

Alembic learns the graph by importing every revision file. For commands that only look
at the graph (heads, history, status, and the checks before a run) that is the slowest
part on a long chain. Here each file is parsed instead, its ``revision``,
``down_revision``, ``branch_labels``, ``depends_on`` and docstring taken from literal
assignments, and the facts are cached beside the files, keyed on a hash of each file's
content: an edited, added, removed or renamed file is read again, whatever its
modification time says. A file whose facts are not plain literals is left to Alembic.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic.script.revision import Revision
from alembic.script.revision import RevisionMap

#: Which files Alembic takes for revision files (see alembic.script.base).
_REVISION_FILE = re.compile(r"(?!\.\#|__init__)(.*\.py)$")
_FACTS = ("revision", "down_revision", "branch_labels", "depends_on")
_CACHE_NAME = "schemaver-revisions.json"
_CACHE_VERSION = 1


class Dynamic(Exception):
    """A revision file whose facts only running it can tell."""


class StaticRevision(Revision):
    """A revision known from its file's text; quacks like Alembic's ``Script``."""

    def __init__(self, path: str, facts: dict[str, Any]) -> None:
        super().__init__(
            facts["revision"],
            _as_ids(facts["down_revision"]),
            dependencies=_as_ids(facts["depends_on"]),
            branch_labels=_as_ids(facts["branch_labels"]),
        )
        self.path = path
        self.longdoc = (facts["docstring"] or "").strip()

    @property
    def doc(self) -> str:
        return re.split("\n\n", self.longdoc)[0]


class StaticScripts:
    """The part of Alembic's ``ScriptDirectory`` that reading a graph needs."""

    def __init__(self, revisions: list[StaticRevision]) -> None:
        self.revision_map = RevisionMap(lambda: revisions)

    def walk_revisions(self, base: str = "base", head: str = "heads") -> Iterator[Any]:
        yield from self.revision_map.iterate_revisions(
            head, base, inclusive=True, assert_relative_length=False
        )

    def get_revisions(self, id_: Any) -> tuple[Any, ...]:
        return self.revision_map.get_revisions(id_)

    def get_heads(self) -> list[str]:
        return list(self.revision_map.heads)

    def iterate_revisions(self, upper: Any, lower: Any, **kw: Any) -> Iterator[Any]:
        return self.revision_map.iterate_revisions(upper, lower, **kw)


def load(directory: Path) -> StaticScripts:
    """The revision graph of the files in ``directory``; :class:`Dynamic` if unreadable."""
    files = _revision_files(directory)
    cache_path = directory / "__pycache__" / _CACHE_NAME
    cached = _read_cache(cache_path)
    fresh: dict[str, dict[str, Any]] = {}
    revisions = []
    for path in files:
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        entry = cached.get(path.name)
        if entry is None or entry.get("sha256") != digest:
            entry = {"sha256": digest, "facts": _facts(data, path)}
        fresh[path.name] = entry
        revisions.append(StaticRevision(str(path), entry["facts"]))
    if fresh != cached:
        _write_cache(cache_path, fresh)
    return StaticScripts(revisions)


def _revision_files(directory: Path) -> list[Path]:
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return []
    return [
        directory / name
        for name in names
        if _REVISION_FILE.match(name) and (directory / name).is_file()
    ]


def _facts(source: bytes, path: Path) -> dict[str, Any]:
    try:
        tree = ast.parse(source, filename=str(path))
    except (SyntaxError, ValueError):
        raise Dynamic(path) from None  # Alembic reports it, with file and line
    facts: dict[str, Any] = {"docstring": ast.get_docstring(tree, clean=False)}
    literal_targets: set[int] = set()
    for node in tree.body:
        target, value = _assignment(node)
        if target in _FACTS and value is not None:
            try:
                facts[target] = ast.literal_eval(value)
            except ValueError:
                raise Dynamic(path) from None
            literal_targets.add(id(node))
    # Any other way of setting these names (augmented assignment, a loop, an import...)
    # means the literal is not the last word.
    for child in ast.walk(tree):
        if id(child) in literal_targets:
            continue
        for name in _bound_names(child):
            if name in _FACTS and not _inside(tree, child, literal_targets):
                raise Dynamic(path)
    if not isinstance(facts.get("revision"), str):
        raise Dynamic(path)
    for name in _FACTS[1:]:
        facts.setdefault(name, None)
        if not _is_ids(facts[name]):
            raise Dynamic(path)
    if "down_revision" not in _assigned_names(tree):
        raise Dynamic(path)  # Alembic's own error says what is missing
    return facts


def _assignment(node: ast.stmt) -> tuple[str | None, ast.expr | None]:
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target = node.targets[0]
        if isinstance(target, ast.Name):
            return target.id, node.value
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.target.id, node.value
    return None, None


def _assigned_names(tree: ast.Module) -> set[str]:
    return {name for node in tree.body for name in [_assignment(node)[0]] if name}


def _bound_names(node: ast.AST) -> Iterable[str]:
    if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
        yield node.id
    elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        yield node.name
    elif isinstance(node, ast.alias):
        yield (node.asname or node.name).split(".")[0]
    elif isinstance(node, (ast.Global, ast.Nonlocal)):
        yield from node.names


def _inside(tree: ast.Module, node: ast.AST, statements: set[int]) -> bool:
    for statement in tree.body:
        if id(statement) in statements and any(n is node for n in ast.walk(statement)):
            return True
    return False


def _is_ids(value: Any) -> bool:
    if value is None or isinstance(value, str):
        return True
    return isinstance(value, (tuple, list)) and all(isinstance(v, str) for v in value)


def _as_ids(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _read_cache(path: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != _CACHE_VERSION:
        return {}
    files = data.get("files")
    return files if isinstance(files, dict) else {}


def _write_cache(path: Path, files: dict[str, dict[str, Any]]) -> None:
    # Written whole and renamed into place, so a reader never sees half a file; a
    # folder that cannot be written to just goes without a cache.
    try:
        path.parent.mkdir(exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".schemaver-")
        with os.fdopen(handle, "w") as out:
            json.dump({"version": _CACHE_VERSION, "files": files}, out)
        os.replace(temporary, path)
    except OSError:
        pass
