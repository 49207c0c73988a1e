"""The revision graph read from the files' text, and its cache."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from flask_schemaver import SchemaVer
from flask_schemaver.runtime import environment
from flask_schemaver.script import chain
from flask_schemaver.script import files as revfiles
from flask_schemaver.script import graph
from helpers import add_revision
from helpers import AppMaker
from helpers import revision_source
from helpers import tables
from helpers import write_revision_file


def heads(folder: Path) -> list[str]:
    return sorted(graph.load(folder).get_heads())


def test_reads_the_chain_without_running_files(tmp_path: Path) -> None:
    write_revision_file(tmp_path, "a", None, message="first")
    (tmp_path / "b_file.py").write_text(
        revision_source("b", "a", message="second")
        + "\nraise RuntimeError('never run me')\n"
    )
    scripts = graph.load(tmp_path)
    assert scripts.get_heads() == ["b"]
    [b] = scripts.get_revisions("b")
    assert b.doc == "second" and b.path == str(tmp_path / "b_file.py")
    assert [r.revision for r in scripts.walk_revisions()] == ["b", "a"]


def test_cache_follows_edits_additions_deletions_and_renames(tmp_path: Path) -> None:
    a = write_revision_file(tmp_path, "a", None)
    b = write_revision_file(tmp_path, "b", "a")
    assert heads(tmp_path) == ["b"]
    cache = tmp_path / "__pycache__" / "schemaver-revisions.json"
    assert set(json.loads(cache.read_text())["files"]) == {a.name, b.name}

    # Edited with the modification time put back (clock skew, or an edit in the same tick).
    stat = b.stat()
    b.write_text(revision_source("b", None))
    os.utime(b, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert heads(tmp_path) == ["a", "b"]

    c = write_revision_file(tmp_path, "c", "b")  # added
    assert heads(tmp_path) == ["a", "c"]
    c.unlink()  # deleted
    assert heads(tmp_path) == ["a", "b"]
    b.rename(tmp_path / "renamed.py")  # renamed: same content, new name
    assert heads(tmp_path) == ["a", "b"]
    assert set(json.loads(cache.read_text())["files"]) == {a.name, "renamed.py"}


def test_cache_is_used(tmp_path: Path) -> None:
    write_revision_file(tmp_path, "a", None, message="from the file")
    graph.load(tmp_path)
    cache = tmp_path / "__pycache__" / "schemaver-revisions.json"
    data = json.loads(cache.read_text())
    data["files"]["a.py"]["facts"]["docstring"] = "from the cache"
    cache.write_text(json.dumps(data))
    [a] = graph.load(tmp_path).get_revisions("a")
    assert a.doc == "from the cache"


@pytest.mark.parametrize(
    "text",
    [
        "revision = 'x' + 'y'\ndown_revision = None\n",
        "revision = 'x'\ndown_revision = None\ndown_revision += ()\n",
        "revision = 'x'\nfrom elsewhere import down_revision\n",
        "revision = 'x'\n",
        "revision = 'x'\ndown_revision = None\nif True:\n    revision = 'y'\n",
        "def broken(:\n",
    ],
    ids=["expression", "augmented", "imported", "missing", "conditional", "syntax"],
)
def test_files_it_cannot_read_are_left_to_alembic(tmp_path: Path, text: str) -> None:
    (tmp_path / "x.py").write_text(text)
    with pytest.raises(graph.Dynamic):
        graph.load(tmp_path)


def test_dynamic_file_falls_back_to_alembic(app: Flask, schemaver: SchemaVer) -> None:
    folder = Path(app.config["SCHEMAVER_DIRECTORY"]) / "versions"
    write_revision_file(folder, "a", None)
    (folder / "b_file.py").write_text(
        '"""computed"""\nrevision = "".join(["b"])\ndown_revision = "a"\n'
        "branch_labels = None\ndepends_on = None\n"
        "def upgrade():\n    pass\n\ndef downgrade():\n    pass\n"
    )
    assert [r.id for r in schemaver.heads()["default"]] == ["b"]
    [result] = schemaver.upgrade()
    assert result.after == ("b",)


def test_unwritable_folder_goes_without_cache(tmp_path: Path) -> None:
    write_revision_file(tmp_path, "a", None)
    (tmp_path / "__pycache__").write_text("not a folder")
    assert heads(tmp_path) == ["a"]


def test_graph_and_alembic_agree_on_a_branchy_chain(make_app: AppMaker) -> None:
    app = make_app()
    with app.app_context():
        ext = make_app.schemaver
        ext.revision("base", rev_id="r0")
        ext.revision("a", rev_id="ra", head="r0", branch_label="alpha")
        ext.revision("b", rev_id="rb", head="r0", splice=True, branch_label="beta")
        ext.revision("c", rev_id="rc", head="beta@head", depends_on=["ra"])
        bind = ext.binds["default"]

        static = environment.revision_graph(bind, app.extensions["schemaver"].settings)
        full = environment.script_directory(
            environment.make_config(bind, app.extensions["schemaver"].settings)
        )
        assert isinstance(static, graph.StaticScripts)
        for target in ("heads", "alpha@head", "beta@head", "r0", "rc"):
            assert [r.revision for r in static.get_revisions(target)] == [
                r.revision for r in full.get_revisions(target)
            ]
        assert sorted(static.get_heads()) == sorted(full.get_heads())
        assert [r.revision for r in static.walk_revisions()] == [
            r.revision for r in full.walk_revisions()
        ]
        for rev in ("r0", "ra", "rb", "rc"):
            [s], [f] = static.get_revisions(rev), full.get_revisions(rev)
            assert (s.is_head, s.is_branch_point, s.is_merge_point, s.doc) == (
                f.is_head,
                f.is_branch_point,
                f.is_merge_point,
                f.doc,
            )
            assert s.branch_labels == f.branch_labels


def _facts(
    rev: str, down: object = None, labels: object = None, deps: object = None
) -> dict[str, object]:
    return {
        "revision": rev,
        "down_revision": down,
        "branch_labels": labels,
        "depends_on": deps,
    }


@pytest.mark.parametrize(
    ("facts", "ok"),
    [
        ([_facts("a"), _facts("b", "a")], True),
        (
            [_facts("a"), _facts("b", "a"), _facts("c", "a"), _facts("m", ["b", "c"])],
            True,
        ),
        ([_facts("a"), _facts("a")], False),
        ([_facts("a", "zz")], False),
        ([_facts("a", "b"), _facts("b", "a")], False),
        ([_facts("a", None, "x"), _facts("b", "a", "x")], False),
        ([_facts("a"), _facts("b", "a", None, "x")], False),
    ],
    ids=[
        "linear",
        "merge",
        "duplicate",
        "missing-parent",
        "cycle",
        "label-twice",
        "label-dependency",
    ],
)
def test_quick_graph_sanity(facts: list[dict[str, object]], ok: bool) -> None:

    assert chain.sound(facts) is ok  # type: ignore[arg-type]


def test_head_ids_match_alembic() -> None:
    facts = [
        _facts("a"),
        _facts("b", "a"),
        _facts("c", "a"),
        _facts("d", "b", None, "c"),
    ]
    assert revfiles.head_ids(facts) == {"c", "d"}  # type: ignore[arg-type]
    scripts = graph.StaticScripts(
        [
            graph.StaticRevision(f"{f['revision']}.py", {**f, "docstring": ""})
            for f in facts
        ]
    )  # type: ignore[dict-item]
    assert set(scripts.get_heads()) == {"c", "d"}


def test_linear_shortcut_matches_the_alembic_path(make_app: AppMaker) -> None:
    from flask_schemaver.verbs import looks as inspection
    from flask_schemaver.verbs import quick

    app = make_app()
    with app.app_context():
        ext = make_app.schemaver
        for i in range(4):
            ext.revision(f"step {i}\n\nlonger text", rev_id=f"s{i}")
        ext.upgrade("s1")
        bind = ext.binds["default"]
        settings = app.extensions["schemaver"].settings
        line = chain.linear(bind.directory)
        assert line is not None
        assert list(reversed(line)) == inspection.history(bind, settings)
        assert line[-1:] == inspection.heads(bind, settings)
        assert quick.status(bind) == inspection.status(bind, settings)
        assert ext.heads() == {"default": line[-1:]}
        # A branch label makes the chain more than a plain line: Alembic answers.
        ext.revision("labelled", rev_id="s4", branch_label="lbl")
        assert chain.linear(bind.directory) is None
        assert [r.branch_labels for r in ext.heads()["default"]] == [("lbl",)]


# -- revision files imported once per process ---------------------------------------


def _revision(schemaver: SchemaVer, rev: str, table: str) -> Path:
    """A revision that creates ``table``; its file."""
    created = add_revision(
        schemaver,
        rev_id=rev,
        upgrade=f"    op.create_table({table!r}, sa.Column('id', sa.Integer))\n",
        downgrade=f"    op.drop_table({table!r})\n",
    )
    return Path(created.path)


def _tables(schemaver: SchemaVer) -> set[str]:
    return tables(schemaver.binds["default"].engine) - {"alembic_version"}


def test_imported_files_are_reused_until_one_changes(
    app: Flask, schemaver: SchemaVer, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[object] = []
    original = environment.script_directory

    def counted(config: Any) -> Any:
        made.append(config)
        return original(config)

    monkeypatch.setattr(environment, "script_directory", counted)
    first = _revision(schemaver, "r1", "one")
    for _ in range(3):
        schemaver.upgrade()
        schemaver.downgrade("base")
    assert len(made) == 1  # six runs, the files imported once

    # Edited in place, same size, modification time put back: still seen.
    stat = first.stat()
    first.write_text(first.read_text().replace("'one'", "'two'"))
    os.utime(first, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert first.stat().st_size == stat.st_size
    schemaver.upgrade()
    assert _tables(schemaver) == {"two"} and len(made) == 2

    second = _revision(schemaver, "r2", "three")  # added
    schemaver.upgrade()
    assert _tables(schemaver) == {"two", "three"} and len(made) == 3

    renamed = second.with_name("renamed_r2.py")
    second.rename(renamed)  # renamed: same content, new name
    schemaver.downgrade("r1")
    assert _tables(schemaver) == {"two"} and len(made) == 4

    renamed.unlink()  # deleted
    assert schemaver.heads()["default"][0].id == "r1"
    schemaver.downgrade("base")
    assert _tables(schemaver) == set() and len(made) == 5


def test_imported_files_through_the_cli(app: Flask, schemaver: SchemaVer) -> None:
    path = _revision(schemaver, "r1", "one")
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    assert runner.invoke(args=["db", "downgrade", "base"]).exit_code == 0
    stat = path.stat()
    path.write_text(path.read_text().replace("'one'", "'six'"))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert _tables(schemaver) == {"six"}
