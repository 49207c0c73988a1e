"""Revision files read as text (issue 11, item 9): what counts is what Alembic sees, the
attributes of the imported module; a link to a file already read is that file; facts
read back from the cache are the facts read fresh.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any

import pytest

from flask_schemaver.script import chain
from flask_schemaver.script import files as revision_files
from flask_schemaver.script import graph as text_graph
from parity_sides import Ours
from revision_graphs import Rev
from revision_graphs import source
from revision_graphs import Style

FACTS = ("revision", "down_revision", "branch_labels", "depends_on")

#: Files the text path reads, each with ids set or shadowed in a way real files do.
READABLE = {
    "class attribute": "revision = 'r1'\ndown_revision = None\n"
    "class Meta:\n    revision = 'other'\n    down_revision = 'r0'\n",
    "class attribute first": "class Meta:\n    revision = 'other'\n"
    "revision = 'r1'\ndown_revision = None\n",
    "function local": "revision = 'r1'\ndown_revision = None\n"
    "def upgrade():\n    revision = 'x'\n    down_revision = revision\n",
    "overwritten below": "revision = 'placeholder'\nrevision = 'r1'\n"
    "down_revision: str | None = None\n",
    "conditional before": "import os\nif os.environ.get('X'):\n    revision = 'x'\n"
    "revision = 'r1'\ndown_revision = ('r0',)\n",
    "annotation alone first": "revision: str\nrevision = 'r1'\ndown_revision = ['r0']\n",
    "star import first": "from os.path import *\nrevision = 'r1'\ndown_revision = None\n"
    "branch_labels = None\ndepends_on = None\n",
    "comprehension": "revision = 'r1'\ndown_revision = None\n"
    "ids = [revision for revision in ('a', 'b')]\n",
    "lambda": "revision = 'r1'\ndown_revision = None\nf = lambda revision: revision\n",
    "crlf and bom": "\ufeffrevision = 'r1'\r\ndown_revision = None\r\n",
}

#: Files only importing tells: the text path gives them to Alembic.
DYNAMIC = {
    "conditional after": "revision = 'r1'\ndown_revision = None\n"
    "import os\nif os.environ.get('X'):\n    revision = 'x'\n",
    "loop after": "revision = 'r1'\ndown_revision = None\nfor revision in ['x']:\n    pass\n",
    "import after": "revision = 'r1'\ndown_revision = None\nfrom os import sep as revision\n",
    "star import, facts missing": "from os.path import *\nrevision = 'r1'\n"
    "down_revision = None\n",
    "star import after": "revision = 'r1'\ndown_revision = None\nfrom os.path import *\n",
    "global": "revision = 'r1'\ndown_revision = None\n"
    "def f():\n    global revision\n    revision = 'x'\nf()\n",
    "walrus": "revision = 'r1'\ndown_revision = None\nprint(revision := 'x')\n",
    "globals()": "revision = 'r1'\ndown_revision = None\nglobals()['revision'] = 'x'\n",
    "sys.modules": "import sys\nrevision = 'r1'\ndown_revision = None\n"
    "sys.modules[__name__].revision = 'x'\n",
    "del": "revision = 'r1'\ndown_revision = None\ndel down_revision\n",
    "except as": "revision = 'r1'\ndown_revision = None\n"
    "try:\n    pass\nexcept Exception as revision:\n    pass\n",
    "with as": "revision = 'r1'\ndown_revision = None\n"
    "with open(__file__) as revision:\n    pass\n",
    "def named revision": "revision = 'r1'\ndown_revision = None\ndef revision():\n    pass\n",
    "__doc__": '"""text"""\nrevision = "r1"\ndown_revision = None\n__doc__ = "other"\n',
    "expression": "revision = 'r' + '1'\ndown_revision = None\n",
    "annotation alone": "revision = 'r1'\ndown_revision: str\n",
    "match": "revision = 'r1'\ndown_revision = None\n"
    "match 1:\n    case revision:\n        pass\n",
}


def imported(path: Path) -> dict[str, Any]:
    """The module attributes Alembic reads, by importing the file as Alembic does."""
    spec = importlib.util.spec_from_file_location(f"m_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {
        "revision": module.revision,
        "down_revision": module.down_revision,
        "branch_labels": getattr(module, "branch_labels", None),
        "depends_on": getattr(module, "depends_on", None),
        "docstring": module.__doc__,
    }


@pytest.mark.parametrize("text", READABLE.values(), ids=READABLE.keys())
def test_readable_files_say_what_alembic_imports(tmp_path: Path, text: str) -> None:
    path = tmp_path / "r1_step.py"
    path.write_bytes(text.encode("utf-8"))
    [(found_path, facts)] = revision_files.load_facts(tmp_path)
    assert found_path == str(path.resolve())
    assert dict(facts) == imported(path)


@pytest.mark.parametrize("text", DYNAMIC.values(), ids=DYNAMIC.keys())
def test_files_only_importing_tells_are_left_to_alembic(
    tmp_path: Path, text: str
) -> None:
    (tmp_path / "r1_step.py").write_text(text)
    with pytest.raises(revision_files.Dynamic):
        revision_files.load_facts(tmp_path)


def test_a_class_attribute_named_revision_keeps_the_folder_on_the_text_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real chain has such a file: every command then imported every revision."""
    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    for rev, down in (("r1", None), ("r2", "r1")):
        (versions / f"{rev}.py").write_bytes(
            source(
                Rev(
                    rev,
                    (down,) if down else (),
                    (),
                    (),
                    "",
                    Style(class_attribute=True),
                )
            )
        )
    assert chain.heads(versions) == {"r2"}
    ours = Ours(tmp_path)
    imported_files: list[str] = []
    original = importlib.util.spec_from_file_location

    def spy(name: str, location: Any = None, *args: Any, **kwargs: Any) -> Any:
        if location is not None and str(location).startswith(str(versions)):
            imported_files.append(str(location))
        return original(name, location, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "spec_from_file_location", spy)
    try:
        with ours.app.app_context():
            assert [r.id for r in ours.ext.heads()["default"]] == ["r2"]
            assert [r.id for r in ours.ext.history()["default"]] == ["r2", "r1"]
            assert not ours.ext.is_current()
        assert imported_files == []  # no revision file imported
    finally:
        ours.dispose()


def test_a_link_to_a_revision_file_is_that_file(tmp_path: Path) -> None:
    """Alembic reads the file once (it warns, and goes on); so do we, without the
    warning: the link and the file are one revision, nothing is ambiguous."""
    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    for rev, down in (("r1", None), ("r2", "r1")):
        (versions / f"{rev}_step.py").write_bytes(
            source(Rev(rev, (down,) if down else (), (), (), "", Style()))
        )
    os.symlink("r2_step.py", versions / "latest.py")
    found = revision_files.load_facts(versions)
    # In file name order, as Alembic reads them: "latest.py" first, as r2_step.py.
    assert [(Path(p).name, f["revision"]) for p, f in found] == [
        ("r2_step.py", "r2"),
        ("r1_step.py", "r1"),
    ]
    assert chain.heads(versions) == {"r2"}
    ours = Ours(tmp_path)
    try:
        with ours.app.app_context():
            [shown] = ours.ext.heads()["default"]
            assert shown.path == str((versions / "r2_step.py").resolve())
            [run] = ours.ext.upgrade()  # through Alembic, which sees the link too
            assert run.after == ("r2",)
            assert ours.ext.is_current()
        result = ours.app.test_cli_runner().invoke(args=["db", "history"])
        assert result.exit_code == 0, result.output
        assert "Warning" not in result.output and "twice" not in result.output
        assert result.output.count("-> r2") == 1
    finally:
        ours.dispose()


def test_a_link_to_another_file_with_the_same_id_is_a_duplicate(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "r1_step.py").write_text("revision = 'r1'\ndown_revision = None\n")
    (tmp_path / "copy.py").write_text(
        "revision = 'r1'\ndown_revision = None\n# edited\n"
    )
    os.symlink(tmp_path / "copy.py", versions / "r1_copy.py")
    assert len(revision_files.load_facts(versions)) == 2
    assert chain.heads(versions) is None  # Alembic's own path reports it


def test_a_broken_link_is_left_to_alembic(tmp_path: Path) -> None:
    (tmp_path / "r1_step.py").write_text("revision = 'r1'\ndown_revision = None\n")
    os.symlink("gone.py", tmp_path / "r2_step.py")
    with pytest.raises(revision_files.Dynamic):
        revision_files.load_facts(tmp_path)


def test_facts_from_the_cache_keep_tuples_and_lists(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(
        "revision = 'm'\ndown_revision = ('a', 'b')\nbranch_labels = ['x']\n"
        "depends_on = ('c',)\n"
    )
    fresh = revision_files.load_facts(tmp_path)
    cache = tmp_path / "__pycache__" / "schemaver-revisions.json"
    assert cache.exists()
    cached = revision_files.load_facts(tmp_path)
    [(_, facts)] = cached
    assert facts["down_revision"] == ("a", "b")
    assert facts["branch_labels"] == ["x"]
    assert facts["depends_on"] == ("c",)
    assert repr(cached) == repr(fresh)
    # A cache entry that is not what this version writes is read again from the file.
    data = json.loads(cache.read_text())
    data["files"]["m.py"]["facts"]["down_revision"] = {"tuple": "ab"}
    cache.write_text(json.dumps(data))
    assert repr(revision_files.load_facts(tmp_path)) == repr(fresh)


def test_graph_from_text_plans_but_never_runs(tmp_path: Path) -> None:
    (tmp_path / "r1.py").write_text("revision = 'r1'\ndown_revision = None\n")
    scripts = text_graph.load(tmp_path)
    [step] = scripts._upgrade_revs("heads", ())
    with pytest.raises(RuntimeError, match="read as text"):
        step.migration_fn()
