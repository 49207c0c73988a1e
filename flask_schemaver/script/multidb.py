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
from typing import TYPE_CHECKING

from ..binds import FLASK_MIGRATE_TABLE as FLASK_MIGRATE_TABLE
from ..exceptions import MigrationError
from ..exceptions import MultidbRevisions
from .chain import sound
from .dispatch import DIRECTIONS
from .dispatch import dispatch_shape
from .dispatch import dispatchers
from .dispatch import engine_functions
from .dispatch import EngineCode
from .dispatch import Shape
from .dispatch import takes_parameters
from .dispatch import Unreadable
from .files import _assignment
from .files import _REVISION_FILE
from .files import _revision_files
from .files import as_ids
from .files import Dynamic
from .files import Ids
from .files import RevisionFacts

if TYPE_CHECKING:
    from collections.abc import Iterable
    from collections.abc import Mapping

    from ..binds import Bind

#: A module-level ``upgrade``/``downgrade`` that takes a parameter: the only files
#: worth parsing when looking for dispatchers.
_SUSPECT = re.compile(rb"(?m)^def\s+(?:up|down)grade\s*\(\s*[^)\s]")
_FACTS = ("revision", "down_revision", "branch_labels", "depends_on")


def per_engine_files(directory: Path) -> list[str]:
    """The revision files in ``directory`` whose ``upgrade`` or ``downgrade`` takes
    a parameter, as Flask-Migrate's ``--multidb`` files do; sorted by name.

    Cheap enough for every command: a file is parsed only when its text has such a
    ``def``. Files that cannot be read or parsed are left to the normal path, which
    reports them.
    """
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:
        return []
    found = []
    seen: set[str] = set()
    folder = os.path.realpath(directory)
    for entry in entries:
        # Alembic's revision files; a broken link is for the normal path to report,
        # and must not hide the files after it. A link to a file of the folder is
        # that file.
        if not _REVISION_FILE.match(entry.name) or not entry.is_file():
            continue
        if entry.is_symlink():
            real = os.path.realpath(entry.path)
        else:
            real = os.path.join(folder, entry.name)
        if real in seen:
            continue
        seen.add(real)
        path = entry.path
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
        if any(takes_parameters(f) for f in dispatchers(tree).values()):
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
    try:
        files = _revision_files(directory)
    except Dynamic as exc:
        return SharedChain(
            directory, [], [(str(exc), "is not a file (a broken link?)")]
        )
    for _, path in files:
        try:
            revisions.append(_read(path))
        except Unreadable as exc:
            problems.append((path, str(exc)))
    return SharedChain(directory, revisions, problems)


def _read(path: str) -> SharedRevision:
    try:
        with open(path, encoding="utf-8") as handle:
            source = handle.read()
        tree = ast.parse(source, filename=path)
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError) as exc:
        raise Unreadable(f"cannot be read ({type(exc).__name__})") from None
    facts = _literal_facts(tree)
    found = dispatchers(tree)
    if set(found) != set(DIRECTIONS):
        raise Unreadable("has no upgrade() and downgrade() at module level")
    if not any(takes_parameters(f) for f in found.values()):
        shape: Shape = "plain"
        engines: dict[str, EngineCode] = {}
    else:
        shape = dispatch_shape(found)
        engines = engine_functions(tree)
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
            raise Unreadable(f"its {target} is not a literal") from None
        seen.add(target)
    if not isinstance(facts.get("revision"), str) or "down_revision" not in seen:
        raise Unreadable("has no literal revision and down_revision")
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
            raise Unreadable(f"its {name} is not a string or a tuple of strings")
    return facts


def _as_list(value: Ids) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _refuse_problems(chain: SharedChain) -> None:
    if not chain.problems:
        return
    paths = [path for path, _ in chain.problems]
    first = os.path.basename(paths[0])
    raise MigrationError(
        f"{len(paths)} revision file(s) in {chain.directory} are not a shape the "
        f"converter knows ({describe_files(paths)}; {first} {chain.problems[0][1]}); "
        "nothing was converted: make them plain upgrade_<bind>() functions called by "
        "the template's dispatcher, or convert by hand"
    )


def ordered(chain: SharedChain) -> tuple[list[SharedRevision], dict[str, set[str]]]:
    """The revisions, each after its parents and dependencies; and their ancestors.

    Raises :class:`~flask_schemaver.MigrationError` for files of no known shape, a
    graph Alembic would refuse, and plain revisions above multidb ones.
    """
    _refuse_problems(chain)
    facts = [
        RevisionFacts(
            revision=r.revision,
            down_revision=r.down_revision,
            branch_labels=r.branch_labels,
            depends_on=r.depends_on,
            docstring=r.docstring,
        )
        for r in chain.revisions
    ]
    if not sound(facts):
        raise MigrationError(
            f"the revisions in {chain.directory} do not form a chain Alembic accepts "
            "(an id twice, a parent or dependency no file has, or a cycle); fix it "
            "under Flask-Migrate first"
        )
    labels = {
        label: r.revision for r in chain.revisions for label in as_ids(r.branch_labels)
    }
    by_id = {r.revision: r for r in chain.revisions}
    order: list[SharedRevision] = []
    ancestors: dict[str, set[str]] = {}
    todo = list(chain.revisions)
    while todo:
        for rev in todo:
            needs = _needs(rev, labels)
            if all(n in ancestors for n in needs):
                below = set(needs)
                for n in needs:
                    below |= ancestors[n]
                ancestors[rev.revision] = below
                order.append(rev)
                todo.remove(rev)
                break
    _refuse_late_plain(order, ancestors, by_id)
    return order, ancestors


def _needs(rev: SharedRevision, labels: Mapping[str, str]) -> list[str]:
    return rev.parents + [labels.get(d, d) for d in as_ids(rev.depends_on)]


def _refuse_late_plain(
    order: list[SharedRevision],
    ancestors: Mapping[str, set[str]],
    by_id: Mapping[str, SharedRevision],
) -> None:
    """A plain revision above a multidb one could never have run under Flask-Migrate's
    multidb mode (its upgrade() takes no engine_name): whose part it is, is a guess."""
    late = [
        r.path
        for r in order
        if r.shape == "plain"
        and any(by_id[a].shape != "plain" for a in ancestors[r.revision])
    ]
    if late:
        raise MigrationError(
            f"{len(late)} revision file(s) with a plain upgrade() come after "
            f"revisions that run per database ({describe_files(late)}); Flask-Migrate "
            "could not have run them in its multidb mode, so which database they are "
            "for is unknown: give each the template's dispatcher and upgrade_<bind>() "
            "functions, then convert"
        )
