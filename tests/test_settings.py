"""SCHEMAVER_* settings reach Alembic, through the API and the CLI."""

from __future__ import annotations

import json
import logging
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from flask_schemaver import ConfigError
from helpers import AppMaker


def test_script_options(make_app: AppMaker, tmp_path: Path) -> None:
    hook = tmp_path / "hook.py"
    hook.write_text(
        "import sys\nopen(sys.argv[1], 'a').write('# formatted by hook\\n')\n"
    )
    app = make_app(
        SCHEMAVER_FILE_TEMPLATE="%(year)d%(month).2d%(day).2d_%(rev)s_%(slug)s",
        SCHEMAVER_TIMEZONE="UTC",
        SCHEMAVER_TRUNCATE_SLUG_LENGTH=8,
        SCHEMAVER_POST_WRITE_HOOKS=[
            {
                "name": "mark",
                "type": "exec",
                "executable": sys.executable,
                "options": f"{hook} REVISION_SCRIPT_FILENAME",
            }
        ],
    )
    out = app.test_cli_runner().invoke(
        args=["db", "migrate", "-m", "a long message here"]
    )
    assert out.exit_code == 0, out.output
    assert "post write hook" not in out.output  # Alembic's chatter stays out
    [path] = (make_app.migrations / "versions").glob("*.py")
    assert re.fullmatch(r"\d{8}_\w{12}_a_long_?\.py", path.name), path.name
    text = path.read_text()
    assert text.endswith("# formatted by hook\n")
    assert re.search(r"Create Date: .*\+00:00", text)


def test_skip_empty_off_writes_empty_revisions(make_app: AppMaker) -> None:
    app = make_app(tables={None: {}}, SCHEMAVER_SKIP_EMPTY=False)
    with app.app_context():
        [result] = make_app.schemaver.migrate("empty")
        assert [r.message for r in result.revisions] == ["empty"]


def test_user_hooks_compose_with_ours(make_app: AppMaker) -> None:
    seen: list[str] = []

    def process_revision_directives(
        context: Any, revision: Any, directives: list[Any]
    ) -> None:
        seen.append(directives[0].message)
        directives[0].message = "renamed by hook"

    app = make_app(
        SCHEMAVER_CONTEXT={"process_revision_directives": process_revision_directives}
    )
    with app.app_context():
        [result] = make_app.schemaver.migrate("original")
    assert seen == ["original"]
    assert [r.message for r in result.revisions] == ["renamed by hook"]


def test_per_bind_context_reaches_autogenerate(make_app: AppMaker) -> None:
    app = make_app(
        binds={"b": make_app.sqlite("b")},
        tables={None: {"user": []}, "b": {"thing": []}},
        SCHEMAVER_BINDS={"b": {"context": {"render_as_batch": False}}},
    )
    with app.app_context():
        ext = make_app.schemaver
        ext.migrate("one")
        ext.upgrade()
        # Add a column to both binds' models: batch mode differs per bind.
        for key, table in ((None, "user"), ("b", "thing")):
            metadata = make_app.db.metadatas[key]
            metadata.tables[table].append_column(sa.Column("extra", sa.Integer))
        by_bind = {r.bind: r.revisions[0] for r in ext.migrate("two")}
    assert "batch_alter_table('user'" in Path(by_bind["default"].path).read_text()
    b_text = Path(by_bind["b"].path).read_text()
    assert "op.add_column('thing'" in b_text and "batch_alter_table" not in b_text


def test_status_reports_applied_revision_without_file(make_app: AppMaker) -> None:
    app = make_app()
    with app.app_context():
        ext = make_app.schemaver
        ext.revision("one", rev_id="r1")
        ext.upgrade()
        engine = ext.binds["default"].engine
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = 'gone1'"))
        [state] = ext.status()
        assert state.missing == ("gone1",) and not state.up_to_date
        assert [r.applied for r in state.revisions] == [False]
    runner = app.test_cli_runner()
    out = runner.invoke(args=["db", "status"]).output
    assert "[?] gone1  applied, but its file is missing" in out
    assert "flask db stamp --bind default --purge REVISION" in out
    data = json.loads(runner.invoke(args=["db", "status", "--json"]).output)
    assert data[0]["missing"] == ["gone1"]
    result = runner.invoke(args=["db", "check"])
    assert result.exit_code == 1
    assert "applied revisions without a file: gone1" in result.output


def test_no_global_logging_configured(make_app: AppMaker) -> None:
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    alembic_before = list(logging.getLogger("alembic").handlers)
    app = make_app()
    with app.app_context():
        make_app.schemaver.migrate("one")
        make_app.schemaver.upgrade()
    assert (list(root.handlers), root.level) == before
    assert logging.getLogger("alembic").handlers == alembic_before


def test_file_template_needs_the_revision_id(make_app: AppMaker) -> None:
    import pytest

    from flask_schemaver import ConfigError

    for template in ("%(slug)s", "%%(rev)s_%(slug)s"):
        with pytest.raises(ConfigError, match=r"must contain %\(rev\)s"):
            make_app(SCHEMAVER_FILE_TEMPLATE=template)


def test_offline_options_are_reserved(make_app: AppMaker) -> None:
    import pytest

    from flask_schemaver import ConfigError

    app = make_app(SCHEMAVER_CONTEXT={"literal_binds": False})
    with (
        app.app_context(),
        pytest.raises(ConfigError, match="sets literal_binds.*remove it"),
    ):
        make_app.schemaver.binds  # noqa: B018


def test_script_template_must_be_a_path(make_app: AppMaker) -> None:
    with pytest.raises(ConfigError, match="SCHEMAVER_SCRIPT_TEMPLATE must be the path"):
        make_app(SCHEMAVER_SCRIPT_TEMPLATE=["script.py.mako"])


def test_missing_script_template_writes_nothing(
    make_app: AppMaker, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere" / "script.py.mako"
    app = make_app(SCHEMAVER_SCRIPT_TEMPLATE=str(missing))
    with app.app_context():
        make_app.schemaver.init()
        before = sorted(make_app.migrations.rglob("*"))
        with pytest.raises(ConfigError) as info:
            make_app.schemaver.revision("one", "default")
    assert str(info.value) == (
        f"SCHEMAVER_SCRIPT_TEMPLATE {str(missing)!r} is not a file; point it at a Mako "
        "template such as migrations/script.py.mako, or remove the setting to use "
        "flask_schemaver's own"
    )
    result = app.test_cli_runner().invoke(args=["db", "revision", "-m", "one"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"Error: {info.value}"]
    assert sorted(make_app.migrations.rglob("*")) == before


def test_broken_script_template_writes_nothing(
    make_app: AppMaker, tmp_path: Path
) -> None:
    template = tmp_path / "script.py.mako"
    template.write_text("${undefined_name.attribute}\n")
    app = make_app(SCHEMAVER_SCRIPT_TEMPLATE=str(template))
    with app.app_context():
        make_app.schemaver.init()
    before = sorted(make_app.migrations.rglob("*"))
    result = app.test_cli_runner().invoke(args=["db", "revision", "-m", "one"])
    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()
    assert line.startswith("Error: [default] Template rendering failed; see ")
    assert sorted(make_app.migrations.rglob("*")) == before
