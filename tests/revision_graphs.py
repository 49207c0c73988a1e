"""Revision graphs for differential tests: hypothesis strategies of graphs and of
revision targets, and the files a graph is written as (Alembic and flask_schemaver are
then run over them by parity_sides.py).

A generated graph has branches, merges, several bases, branch labels and depends_on
(by id or by label). Its files are written in the styles real projects' files use:
Alembic's template with and without annotations, single or double quotes, tuples and
lists, one id alone or in a sequence, optional names left out, a class attribute named
``revision``, a placeholder overwritten further down, CRLF line endings, a UTF-8 BOM,
names that do not sort in chain order, a symbolic link beside a file or to a file
elsewhere, and now and then a file whose id only running it tells.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import replace
from pathlib import Path

from hypothesis import strategies as st

#: More examples for a deeper search than CI's, e.g. SCHEMAVER_PARITY_SCALE=20, and
#: SCHEMAVER_PARITY_RANDOM=1 for new ones at each run (CI: the same ones every time).
SCALE = int(os.environ.get("SCHEMAVER_PARITY_SCALE", "1"))
RANDOM = os.environ.get("SCHEMAVER_PARITY_RANDOM") == "1"

#: Branch labels: some with a hyphen, one that Alembic's relative grammar misreads.
LABELS = ("alpha", "beta", "gamma", "feature-x", "feature-1", "main_line")

#: Revision ids in three real styles: Alembic's 12 hex digits, short ids over a small
#: alphabet (so that partial ids are often ambiguous), and numbered ids.
IDS = st.one_of(
    st.text("ab12", min_size=4, max_size=6),
    st.text("0123456789abcdef", min_size=12, max_size=12),
    st.from_regex(r"\A00[0-9]{2}\Z"),
)


@dataclass(frozen=True)
class Style:
    """How one revision file is written."""

    quote: str = '"'
    annotated: bool = False
    #: "tuple" or "list", for several ids (and one, with ``single_in_sequence``).
    sequence: str = "tuple"
    single_in_sequence: bool = False
    #: Leave out ``branch_labels``/``depends_on`` when they are empty.
    omit_empty: bool = False
    #: Write an empty value as ``()`` rather than ``None``.
    empty_tuple: bool = False
    class_attribute: bool = False
    placeholder: bool = False
    crlf: bool = False
    bom: bool = False
    #: "template", "none", "oneline" or "unicode".
    docstring: str = "template"
    #: The id is computed: only importing the file tells it.
    dynamic: bool = False


@dataclass(frozen=True)
class Rev:
    id: str
    parents: tuple[str, ...]
    #: Names in ``depends_on``: revision ids, or branch labels.
    depends: tuple[str, ...]
    labels: tuple[str, ...]
    file_name: str
    style: Style


@dataclass(frozen=True)
class Graph:
    revisions: tuple[Rev, ...]
    #: Symbolic links to write in the folder: (name, file name of the revision).
    links: tuple[tuple[str, str], ...] = ()
    #: File names of revisions kept outside the folder, linked to from inside it.
    outside: tuple[str, ...] = ()

    @property
    def ids(self) -> list[str]:
        return [r.id for r in self.revisions]

    @property
    def labels(self) -> list[str]:
        return [label for r in self.revisions for label in r.labels]

    @property
    def dynamic(self) -> bool:
        return any(r.style.dynamic for r in self.revisions)


styles = st.builds(
    Style,
    quote=st.sampled_from(['"', "'"]),
    annotated=st.booleans(),
    sequence=st.sampled_from(["tuple", "list"]),
    single_in_sequence=st.booleans(),
    omit_empty=st.booleans(),
    empty_tuple=st.booleans(),
    class_attribute=st.booleans(),
    placeholder=st.booleans(),
    crlf=st.booleans(),
    bom=st.booleans(),
    docstring=st.sampled_from(["template", "template", "none", "oneline", "unicode"]),
    dynamic=st.sampled_from([False] * 19 + [True]),
)


@st.composite
def graphs(draw: st.DrawFn, max_revisions: int = 7) -> Graph:
    """A revision graph Alembic accepts, written in varied styles."""
    count = draw(st.integers(1, max_revisions))
    ids = draw(st.lists(IDS, min_size=count, max_size=count, unique=True))
    free_labels = list(LABELS)
    revisions: list[Rev] = []
    children: dict[str, int] = {}
    label_of: dict[str, str] = {}
    for i, rev in enumerate(ids):
        earlier = ids[:i]
        tips = [r for r in earlier if not children.get(r)]
        kind = (
            "base"
            if not earlier
            else draw(
                st.sampled_from(["base", "child", "child", "child", "merge", "merge"])
            )
        )
        parents: tuple[str, ...] = ()
        if kind == "merge" and len(tips) >= 2:
            parents = tuple(
                draw(
                    st.lists(st.sampled_from(tips), min_size=2, max_size=3, unique=True)
                )
            )
        elif kind != "base":
            parents = (draw(st.sampled_from(earlier)),)
        depends: list[str] = []
        others = [r for r in earlier if r not in parents]
        if others and draw(st.sampled_from([False, False, True])):
            for dep in draw(st.lists(st.sampled_from(others), max_size=2, unique=True)):
                by_label = dep in label_of and draw(st.booleans())
                depends.append(label_of[dep] if by_label else dep)
        labels: tuple[str, ...] = ()
        if free_labels and draw(st.sampled_from([False, False, True])):
            labels = (free_labels.pop(draw(st.integers(0, len(free_labels) - 1))),)
            label_of[rev] = labels[0]
        for p in parents:
            children[p] = children.get(p, 0) + 1
        number = draw(st.integers(0, 999))
        revisions.append(
            Rev(
                id=rev,
                parents=parents,
                depends=tuple(depends),
                labels=labels,
                file_name=f"{number:03d}_{rev}_step_{i}.py",
                style=draw(styles),
            )
        )
    links: list[tuple[str, str]] = []
    outside: list[str] = []
    if draw(st.sampled_from([False, False, True])):
        target = draw(st.sampled_from(revisions)).file_name
        name = draw(st.sampled_from(["000_link.py", "zzz_link.py"]))
        links.append((name, target))
    if len(revisions) > 1 and draw(st.sampled_from([False, False, False, True])):
        outside.append(draw(st.sampled_from(revisions)).file_name)
    return Graph(tuple(revisions), tuple(links), tuple(outside))


@st.composite
def broken_graphs(draw: st.DrawFn) -> tuple[Graph, str]:
    """A graph Alembic refuses (or takes only with a warning), and what is wrong."""
    graph = draw(graphs(max_revisions=5).filter(lambda g: not g.dynamic))
    revisions = list(graph.revisions)
    problems = ["duplicate id", "missing parent", "label is an id", "cycle"]
    if len(revisions) > 1:
        problems.append("label twice")
    problem = draw(st.sampled_from(problems))
    first, last = revisions[0], revisions[-1]
    if problem == "duplicate id":
        revisions.append(Rev(last.id, (), (), (), "999_copy.py", Style()))
    elif problem == "missing parent":
        revisions[-1] = replace(last, parents=("9999", *last.parents))
    elif problem == "label is an id":
        revisions[-1] = replace(last, labels=(first.id,))
    elif problem == "label twice":
        revisions[0] = replace(first, labels=("twice",))
        revisions[-1] = replace(last, labels=("twice",))
    else:  # a cycle: the first revision comes after the last, which needs the first
        revisions[0] = replace(first, parents=(last.id,))
        if last is not first and first.id not in last.parents:
            revisions[-1] = replace(last, parents=(*last.parents, first.id))
    return Graph(tuple(revisions)), problem


# -- writing the files -------------------------------------------------------------------


def _ids(ids: tuple[str, ...], style: Style) -> str:
    q = style.quote
    if not ids:
        return "()" if style.empty_tuple else "None"
    items = [f"{q}{i}{q}" for i in ids]
    if len(ids) == 1 and not style.single_in_sequence:
        return items[0]
    if style.sequence == "list":
        return "[" + ", ".join(items) + "]"
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def source(rev: Rev) -> bytes:
    """The text of ``rev``'s file, in its style."""
    s, q = rev.style, rev.style.quote
    message = {
        "unicode": f"Ajoute la table réservée {rev.id}",
        "oneline": f"step {rev.id}",
    }.get(s.docstring, f"Step {rev.id}\n\nA longer description\nover two lines.")
    lines = []
    if s.docstring == "oneline":
        lines.append(f'"""{message}"""')
    elif s.docstring != "none":
        revises = ", ".join(rev.parents)
        lines += [
            f'"""{message}',
            "",
            f"Revision ID: {rev.id}",
            f"Revises: {revises}",
            "Create Date: 2024-05-01 12:00:00.000000",
            "",
            '"""',
        ]
    lines += [
        "from typing import Sequence, Union",
        "",
        "from alembic import op",
        "import sqlalchemy as sa",
        "",
    ]
    if s.placeholder:
        lines.append(f"revision = {q}placeholder{q}  # set below")
    lines.append("# revision identifiers, used by Alembic.")
    ident = f"{q}{rev.id}{q}"
    if s.dynamic:
        ident = f'"".join([{", ".join(f"{q}{c}{q}" for c in rev.id)}])'
    annotation = ": Union[str, Sequence[str], None]" if s.annotated else ""
    lines.append(f"revision{': str' if s.annotated else ''} = {ident}")
    lines.append(f"down_revision{annotation} = {_ids(rev.parents, s)}")
    if rev.labels or not s.omit_empty:
        lines.append(f"branch_labels{annotation} = {_ids(rev.labels, s)}")
    if rev.depends or not s.omit_empty:
        lines.append(f"depends_on{annotation} = {_ids(rev.depends, s)}")
    if s.class_attribute:
        lines += [
            "",
            "",
            "class Meta:",
            "    # Not the module's: Alembic reads module attributes only.",
            f"    revision = {q}not-this-one{q}",
            "    down_revision = None",
        ]
    lines += [
        "",
        "",
        "def upgrade() -> None:",
        "    pass",
        "",
        "",
        "def downgrade() -> None:",
        "    pass",
        "",
    ]
    text = "\n".join(lines)
    if s.crlf:
        text = text.replace("\n", "\r\n")
    return ("\ufeff" if s.bom else "").encode() + text.encode("utf-8")


def write(graph: Graph, versions: Path) -> None:
    """Write ``graph``'s files into ``versions`` (made if needed)."""
    versions.mkdir(parents=True, exist_ok=True)
    elsewhere = versions.parent / "elsewhere"
    for rev in graph.revisions:
        if rev.file_name in graph.outside:
            elsewhere.mkdir(exist_ok=True)
            (elsewhere / rev.file_name).write_bytes(source(rev))
            os.symlink(
                os.path.join("..", "elsewhere", rev.file_name), versions / rev.file_name
            )
        else:
            (versions / rev.file_name).write_bytes(source(rev))
    for name, target in graph.links:
        os.symlink(target, versions / name)


# -- targets -----------------------------------------------------------------------------


@st.composite
def targets(draw: st.DrawFn, graph: Graph) -> str:
    """A revision target of one of the kinds Alembic accepts, or a near miss."""
    ids, labels = graph.ids, graph.labels
    n = draw(st.integers(1, 3))
    rev = draw(st.sampled_from(ids))
    label = draw(st.sampled_from(labels)) if labels else "nolabel"
    kinds: dict[str, Callable[[], str]] = {
        "heads": lambda: "heads",
        "head": lambda: "head",
        "base": lambda: "base",
        "id": lambda: rev,
        "partial id": lambda: rev[: draw(st.integers(1, max(1, len(rev) - 1)))],
        "label": lambda: label,
        "label@head": lambda: f"{label}@head",
        "label@heads": lambda: f"{label}@heads",
        "label@base": lambda: f"{label}@base",
        "label@id": lambda: f"{label}@{rev}",
        "+N": lambda: f"+{n}",
        "-N": lambda: f"-{n}",
        "id+N": lambda: f"{rev}+{n}",
        "id-N": lambda: f"{rev}-{n}",
        "head-N": lambda: f"head-{n}",
        "heads-N": lambda: f"heads-{n}",
        "base+N": lambda: f"base+{n}",
        "label@+N": lambda: f"{label}@+{n}",
        "label@-N": lambda: f"{label}@-{n}",
        "label@head-N": lambda: f"{label}@head-{n}",
        "unknown id": lambda: "ffff9999",
        "unknown label": lambda: "nolabel@head",
        "current": lambda: "current",
    }
    return kinds[draw(st.sampled_from(sorted(kinds)))]()
