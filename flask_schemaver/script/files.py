"""Revision files read as text: their revision ids, parents, labels and docstrings.

Alembic learns a bind's revision graph by importing every revision file, which is the
slowest part of looking at a long chain, and needs Alembic imported at all. Here each
file is parsed instead, its ``revision``, ``down_revision``, ``branch_labels``,
``depends_on`` and docstring taken from literal assignments, and the facts are cached
beside the files, keyed on a hash of each file's content: an edited, added, removed or
renamed file is read again, whatever its modification time says. A file whose facts are
not plain literals raises :class:`Dynamic`, and is left to Alembic.

This module must not import Alembic.
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
from typing import TypedDict

#: Which files Alembic takes for revision files (see alembic.script.base).
_REVISION_FILE = re.compile(r"(?!\.\#|__init__)(.*\.py)$")
_FACTS = ("revision", "down_revision", "branch_labels", "depends_on")
_CACHE_NAME = "schemaver-revisions.json"
_CACHE_VERSION = 1


#: A revision's parents, dependencies or labels, as a revision file writes them.
Ids = str | list[str] | tuple[str, ...] | None


class RevisionFacts(TypedDict):
    """What a revision file says about itself, read from its text."""

    revision: str
    down_revision: Ids
    branch_labels: Ids
    depends_on: Ids
    #: The module docstring, as written (None when the file has none).
    docstring: str | None


class Dynamic(Exception):
    """A revision file whose facts only running it can tell."""


def as_ids(value: Ids) -> list[str]:
    """A revision file's ids as a list: ``None``, one id, or several."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def load_facts(directory: Path) -> list[tuple[str, RevisionFacts]]:
    """``(path, facts)`` of every revision file in ``directory``, in file name order."""
    files = _revision_files(directory)
    cache_path = directory / "__pycache__" / _CACHE_NAME
    cached = _read_cache(cache_path)
    fresh: dict[str, dict[str, Any]] = {}
    found = []
    for name, path, data, digest in _read(files):
        entry = cached.get(name)
        if entry is None or entry.get("sha256") != digest:
            entry = {"sha256": digest, "facts": _facts(data, path)}
        fresh[name] = entry
        found.append((path, entry["facts"]))
    if fresh != cached:
        _write_cache(cache_path, fresh)
    return found


def fingerprint(directory: Path) -> tuple[tuple[str, str], ...]:
    """The name and SHA-256 of every revision file in ``directory``: equal exactly when
    no file was added, removed, renamed or edited, whatever the clock says."""
    return tuple(
        (name, digest) for name, _, _, digest in _read(_revision_files(directory))
    )


def _read(
    files: Iterable[tuple[str, str]],
) -> Iterator[tuple[str, str, bytes, str]]:
    """Each file's name, path, content and the SHA-256 of its content."""
    for name, path in files:
        with open(path, "rb") as handle:
            data = handle.read()
        yield name, path, data, hashlib.sha256(data).hexdigest()


def head_ids(facts: Iterable[RevisionFacts]) -> set[str]:
    """Revisions that no other revision names as its ``down_revision``.

    The same rule as Alembic's ``heads``: a revision that others only depend on is a
    head too.
    """
    facts = list(facts)
    below: set[str] = set()
    for item in facts:
        below.update(as_ids(item["down_revision"]))
    return {item["revision"] for item in facts} - below


def _revision_files(directory: Path) -> list[tuple[str, str]]:
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return []
    return sorted(
        (entry.name, entry.path)
        for entry in entries
        if _REVISION_FILE.match(entry.name) and entry.is_file()
    )


def _facts(source: bytes, path: str) -> RevisionFacts:
    try:
        tree = ast.parse(source, filename=path)
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
    return RevisionFacts(
        revision=facts["revision"],
        down_revision=facts["down_revision"],
        branch_labels=facts["branch_labels"],
        depends_on=facts["depends_on"],
        docstring=facts["docstring"],
    )


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
