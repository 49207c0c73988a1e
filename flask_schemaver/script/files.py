"""Revision files read as text: their revision ids, parents, labels and docstrings.

Alembic learns a bind's revision graph by importing every revision file, which is the
slowest part of looking at a long chain, and needs Alembic imported at all. Here each
file is parsed instead, its ``revision``, ``down_revision``, ``branch_labels``,
``depends_on`` and docstring taken from literal assignments, and the facts are cached
beside the files, keyed on a hash of each file's content: an edited, added, removed or
renamed file is read again, whatever its modification time says. A file whose facts are
not plain literals raises :class:`Dynamic`, and is left to Alembic.

What counts is what Alembic sees: the attributes of the imported module. So only names
bound in the module's own scope matter (a class attribute named ``revision`` does not),
and the last binding wins. Anything that could bind one of the names otherwise (a
conditional, a loop, an import, ``global``, ``globals()``...) makes the file Dynamic.

This module must not import Alembic.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from typing import TypedDict
from typing import TypeVar

#: Which files Alembic takes for revision files (see alembic.script.base).
_REVISION_FILE = re.compile(r"(?!\.\#|__init__)(.*\.py)$")
_FACTS = ("revision", "down_revision", "branch_labels", "depends_on")
#: Module attributes whose value the facts come from: rebinding any of them makes a
#: file Dynamic.
_WATCHED = frozenset((*_FACTS, "__doc__"))
#: Names through which a module can set its own attributes by a string: a file using
#: any of them is left to Alembic.
_REFLECTIVE = frozenset(
    {"globals", "locals", "vars", "exec", "eval", "setattr", "__import__"}
)
_REFLECTIVE_ATTRIBUTES = frozenset({"__dict__", "modules"})
#: Nodes that open a scope of their own: what they bind is not a module attribute.
_SCOPES = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Lambda,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
)
_CACHE_NAME = "schemaver-revisions.json"
#: 2: tuples kept apart from lists.
_CACHE_VERSION = 2


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


#: While :func:`held` lasts: what each folder's files were read as, per question.
_held: dict[tuple[str, Any], Any] | None = None

_A = TypeVar("_A")


@contextmanager
def held() -> Iterator[None]:
    """Read each folder's revision files once for the ``with`` block, rather than at
    every call: a run over many tenants asks the same questions of the same files for
    each tenant, and the files do not change while it runs (Alembic imports them
    once). Worker processes forked inside the block keep what was read."""
    global _held
    if _held is not None:
        yield
        return
    _held = {}
    try:
        yield
    finally:
        _held = None


def once(question: str, about: _A, answer: Callable[[_A], Any]) -> Any:
    """``answer(about)``, worked out once per ``question`` and ``about`` (a folder, a
    file) while :func:`held` lasts."""
    if _held is None:
        return answer(about)
    key = (question, about)
    if key not in _held:
        _held[key] = answer(about)
    return _held[key]


def checksum(path: str) -> str | None:
    """SHA-256 of the file at ``path``, None when it cannot be read; read once per
    file while :func:`held` lasts (``status`` over a fleet asks for each tenant)."""
    return once("checksum", path, _checksum)  # type: ignore[no-any-return]


def _checksum(path: str) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def load_facts(directory: Path) -> list[tuple[str, RevisionFacts]]:
    """:func:`read_facts`, once per folder while :func:`held` lasts."""
    return list(once("facts", directory, read_facts))


def read_facts(directory: Path) -> list[tuple[str, RevisionFacts]]:
    """``(path, facts)`` of every revision file in ``directory``, in file name order.

    As Alembic does, each path is the file's real path (symbolic links resolved), and a
    name that leads to a file already read is skipped: a symbolic link to a revision
    file in the same folder is that file, not a second revision with its id (Alembic
    warns and goes on; so do we, silently, since nothing is ambiguous). A link to a
    different file with the same id is a real duplicate, which Alembic and
    flask_schemaver refuse.
    """
    files = _revision_files(directory)
    cache_path = directory / "__pycache__" / _CACHE_NAME
    cached = _read_cache(cache_path)
    fresh: dict[str, dict[str, Any]] = {}
    found = []
    seen: set[str] = set()
    for name, path, data, digest in _read(files):
        entry = cached.get(name)
        facts = _decode(entry["facts"]) if entry is not None else None
        if entry is None or entry.get("sha256") != digest or facts is None:
            facts = _facts(data, path)
        fresh[name] = {"sha256": digest, "facts": _encode(facts)}
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            found.append((real, facts))
    if fresh != cached:
        _write_cache(cache_path, fresh)
    return found


def fingerprint(directory: Path) -> tuple[tuple[str, str], ...]:
    """The name and SHA-256 of every revision file in ``directory``: equal exactly when
    no file was added, removed, renamed or edited, whatever the clock says."""
    return once("fingerprint", directory, _fingerprint)  # type: ignore[no-any-return]


def _fingerprint(directory: Path) -> tuple[tuple[str, str], ...]:
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
    files = []
    for entry in entries:
        if not _REVISION_FILE.match(entry.name) or entry.is_dir():
            continue  # Alembic walks into no folder, whatever its name
        if not entry.is_file():
            # A broken link or a special file: Alembic tries to load it, and fails.
            raise Dynamic(entry.path)
        files.append((entry.name, entry.path))
    return sorted(files)


def _facts(source: bytes, path: str) -> RevisionFacts:
    try:
        tree = ast.parse(source, filename=path)
    except (SyntaxError, ValueError):
        raise Dynamic(path) from None  # Alembic reports it, with file and line
    if _reflective(tree):
        raise Dynamic(path)
    facts: dict[str, Any] = {"docstring": ast.get_docstring(tree, clean=False)}
    # Where each name last gets its literal value, among the module's own statements.
    literal_at: dict[str, int] = {}
    for index, node in enumerate(tree.body):
        target, value = _assignment(node)
        if target in _FACTS and value is not None:
            try:
                facts[target] = ast.literal_eval(value)
            except ValueError:
                raise Dynamic(path) from None
            literal_at[target] = index
    # Any other binding of these names in the module's scope after the last literal
    # one (augmented assignment, a loop, an import, a conditional...) means the literal
    # is not the last word. Bindings before it are overwritten by it.
    for index, node in enumerate(tree.body):
        for name in _module_bindings(node):
            # A star import may bind any public name (the docstring only shows).
            names = set(_FACTS) if name == "*" else {name} & _WATCHED
            if any(index > literal_at.get(n, -1) for n in names):
                raise Dynamic(path)
    if not isinstance(facts.get("revision"), str):
        raise Dynamic(path)
    for name in _FACTS[1:]:
        facts.setdefault(name, None)
        if not _is_ids(facts[name]):
            raise Dynamic(path)
    if "down_revision" not in literal_at:
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


def _module_bindings(statement: ast.stmt) -> Iterator[str]:
    """The names a statement of the module binds (or unbinds) in the module's scope;
    ``*`` for a star import, which may bind any name.

    Functions, classes, lambdas and comprehensions have scopes of their own: only their
    names are bound here. ``global`` and ``:=``, which reach out of such a scope, are
    refused by :func:`_reflective`.
    """
    todo: list[ast.AST] = [statement]
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield node.name
            continue
        if isinstance(node, _SCOPES):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            yield node.id
        elif isinstance(node, ast.AnnAssign) and node.value is None:
            continue  # an annotation alone binds nothing
        elif isinstance(node, ast.alias):
            yield (node.asname or node.name).split(".")[0]
        elif (
            isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar))
            and node.name
        ):
            yield node.name
        elif isinstance(node, ast.MatchMapping) and node.rest:
            yield node.rest
        todo.extend(ast.iter_child_nodes(node))


def _reflective(tree: ast.Module) -> bool:
    """Whether the file may bind a watched name in a way no statement shows: through
    ``global``, ``:=``, or a function that sets attributes by name."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Global) and _WATCHED.intersection(node.names):
            return True
        if (
            isinstance(node, ast.NamedExpr)
            and isinstance(node.target, ast.Name)
            and node.target.id in _WATCHED
        ):
            return True
        if isinstance(node, ast.Name) and node.id in _REFLECTIVE:
            return True
        if isinstance(node, ast.Attribute) and node.attr in _REFLECTIVE_ATTRIBUTES:
            return True
    return False


def _is_ids(value: Any) -> bool:
    if value is None or isinstance(value, str):
        return True
    return isinstance(value, (tuple, list)) and all(isinstance(v, str) for v in value)


def _encode(facts: RevisionFacts) -> dict[str, Any]:
    """Facts as JSON can hold them: a tuple as ``{"tuple": [...]}``, so that reading
    them back gives a tuple, not a list."""
    return {
        key: {"tuple": list(value)} if isinstance(value, tuple) else value
        for key, value in facts.items()
    }


def _decode(data: Any) -> RevisionFacts | None:
    """Facts written by :func:`_encode`; None for anything else (the file is read
    again)."""
    if not isinstance(data, dict) or set(data) != {*_FACTS, "docstring"}:
        return None
    values = {
        key: tuple(value["tuple"])
        if isinstance(value, dict)
        and set(value) == {"tuple"}
        and isinstance(value["tuple"], list)
        else value
        for key, value in data.items()
    }
    if not isinstance(values["revision"], str) or not (
        values["docstring"] is None or isinstance(values["docstring"], str)
    ):
        return None
    if not all(_is_ids(values[name]) for name in _FACTS[1:]):
        return None
    return RevisionFacts(
        revision=values["revision"],
        down_revision=values["down_revision"],
        branch_labels=values["branch_labels"],
        depends_on=values["depends_on"],
        docstring=values["docstring"],
    )


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
