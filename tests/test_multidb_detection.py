"""Flask-Migrate ``--multidb`` revisions are never run, shown or compared as plain
revisions: every command refuses with one line that names the files and the
conversion, before anything changes. And the dispatcher shapes the converter knows,
and the ones it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from flask_schemaver import MultidbRevisions
from flask_schemaver import SchemaVer
from flask_schemaver.script.multidb import per_engine_files
from flask_schemaver.script.multidb import read_shared_chain
from flask_schemaver.testing import MigrationRunner
from flask_schemaver.testing import ThrowawayDatabases
from helpers import AppMaker
from helpers import cli
from helpers import invoke
from helpers import snapshot
from multidb_project import CHAIN
from multidb_project import Rev
from multidb_project import revision_text
from multidb_project import write_project

BINDS = ("analytics", "audit")


def multidb_app(make_app: AppMaker, **config: object) -> Flask:
    """An app with the project's three databases, each a SQLite file."""
    return make_app(
        binds={name: make_app.sqlite(name) for name in BINDS},
        tables={},
        **config,
    )


def database_files(make_app: AppMaker) -> dict[str, str]:
    return {
        name: make_app.sqlite(name).removeprefix("sqlite:///")
        for name in ("main", *BINDS)
    }


def untouched(make_app: AppMaker) -> None:
    """No database was made or written to."""
    for path in database_files(make_app).values():
        if Path(path).exists():
            engine = sa.create_engine(f"sqlite:///{path}")
            assert sa.inspect(engine).get_table_names() == []
            engine.dispose()


#: Every command that touches a chain, with arguments that would otherwise work.
COMMANDS = [
    ("upgrade",),
    ("upgrade", "--bind", "analytics"),
    ("upgrade", "--plan"),
    ("upgrade", "--sql"),
    ("downgrade", "--all-binds", "base"),
    ("stamp", "--bind", "audit", "heads"),
    ("resolve", "--bind", "default", "b2d0cafe0004", "--applied"),
    ("status",),
    ("status", "--bind", "audit"),
    ("current",),
    ("history",),
    ("heads",),
    ("branches",),
    ("show", "head"),
    ("check",),
    ("check", "--only", "heads"),
    ("lint",),
    ("acknowledge", "b2d0cafe0004"),
    ("migrate",),
    ("revision", "--bind", "analytics", "-m", "new"),
    ("merge",),
    ("edit", "--bind", "default"),
]


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_every_command_refuses_a_multidb_chain(
    make_app: AppMaker, args: tuple[str, ...]
) -> None:
    write_project(make_app.migrations, env=False)
    app = multidb_app(make_app)
    before = snapshot(make_app.migrations)
    output = cli(app, *args, code=1)
    errors = [line for line in output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, output
    [error] = errors
    assert error.startswith(
        f"Error: [default] {make_app.migrations / 'versions'} holds Flask-Migrate "
        "--multidb revisions, whose upgrade(engine_name) runs one part per database "
        "(b2d0cafe0004_posts_and_pageviews.py, b2d0cafe0005_pageview_referrer.py, "
        "b2d0cafe0006_post_titles.py and 15 more);"
    )
    assert "convert them with 'flask db split-multidb'" in error
    assert snapshot(make_app.migrations) == before
    untouched(make_app)


def test_the_api_refuses_too(make_app: AppMaker) -> None:
    write_project(make_app.migrations, env=False)
    app = multidb_app(make_app)
    schemaver: SchemaVer = make_app.schemaver
    calls = [
        lambda: schemaver.upgrade(),
        lambda: schemaver.upgrade(bind="audit"),
        lambda: schemaver.plan(),
        lambda: schemaver.stamp("heads", "audit"),
        lambda: schemaver.status(),
        lambda: schemaver.heads(),
        lambda: schemaver.history(),
        lambda: schemaver.current(),
        lambda: schemaver.check(),
        lambda: schemaver.lint(),
        lambda: schemaver.migrate(),
        lambda: schemaver.is_current(),
    ]
    with app.app_context():
        for call in calls:
            with pytest.raises(MultidbRevisions) as info:
                call()
            assert len(info.value.files) == 18
            assert info.value.bind == "default"
        # Making the folders touches no chain; neither does listing the binds.
        assert schemaver.init() == {
            "default": False,
            "analytics": True,
            "audit": True,
        }
        assert list(schemaver.binds) == ["default", *BINDS]
    assert "analytics" in cli(app, "binds")
    untouched(make_app)


def test_the_test_runner_refuses(make_app: AppMaker, tmp_path: Path) -> None:
    write_project(make_app.migrations, env=False)
    app = multidb_app(make_app)
    databases = ThrowawayDatabases()
    try:
        with pytest.raises(MultidbRevisions, match="flask db split-multidb"):
            MigrationRunner(app, databases, tmp_path)
    finally:
        databases.close()


STOCK = Rev(
    "0a0000000001",
    None,
    "posts",
    {
        "": (
            'op.create_table("posts", sa.Column("id", sa.Integer, primary_key=True))',
            'op.drop_table("posts")',
        ),
        "analytics": (
            'op.create_table("views", sa.Column("id", sa.Integer, primary_key=True))',
            'op.drop_table("views")',
        ),
    },
)


def test_stock_template_on_fresh_databases_no_traceback(make_app: AppMaker) -> None:
    """Was: TypeError: upgrade() missing 1 required positional argument:
    'engine_name', and an empty version table left behind."""
    write_project(make_app.migrations, [STOCK], env=False)
    app = multidb_app(make_app)
    output = cli(app, "upgrade", code=1)
    assert "TypeError" not in output
    assert "0a0000000001_posts.py); flask_schemaver runs one chain per bind" in output
    untouched(make_app)


def test_get_variant_is_not_a_silent_skip(make_app: AppMaker) -> None:
    """Was: "1 revision upgraded", exit 0, and only the default database's part ran:
    the ``globals().get`` dispatcher has ``engine_name=''`` as its default."""
    write_project(make_app.migrations, [STOCK], env=False)
    path = next((make_app.migrations / "versions").glob("*.py"))
    path.write_text(
        revision_text(Rev(STOCK.id, None, STOCK.message, STOCK.parts, shape="get"))
    )
    app = multidb_app(make_app)
    output = cli(app, "upgrade", code=1)
    assert "upgraded" not in output
    assert "holds Flask-Migrate --multidb revisions" in output
    untouched(make_app)


@pytest.mark.parametrize("shape", ["stock", "get", "eval", "fstring", "plus", "format"])
def test_every_dispatcher_spelling_is_recognised(tmp_path: Path, shape: str) -> None:
    versions = write_project(
        tmp_path, [Rev(STOCK.id, None, "x", STOCK.parts, shape=shape)], env=False
    )
    chain = read_shared_chain(versions)
    assert chain.problems == []
    [rev] = chain.revisions
    expected = "stock" if shape in ("fstring", "plus", "format") else shape
    assert rev.shape == expected
    assert set(rev.engines) == {"", "analytics"}
    assert all(code.works for code in rev.engines.values())


ALEMBIC_TEMPLATE = '''\
"""${message}

Revision ID: 0b0000000001
Revises:
Create Date: 2024-01-01 00:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "0b0000000001"
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade(engine_name: str) -> None:
    """Upgrade schema."""
    return eval("upgrade_%s" % engine_name)()


def downgrade(engine_name: str) -> None:
    """Downgrade schema."""
    eval("downgrade_%s" % engine_name)()


def upgrade_engine1() -> None:
    """Upgrade engine1 schema."""
    op.create_table("one", sa.Column("id", sa.Integer, primary_key=True))


def downgrade_engine1() -> None:
    """Downgrade engine1 schema."""
    op.drop_table("one")


def upgrade_engine2() -> None:
    """Upgrade engine2 schema."""
    pass


def downgrade_engine2() -> None:
    """Downgrade engine2 schema."""
    pass
'''


def test_alembic_multidb_template_with_annotations(tmp_path: Path) -> None:
    folder = tmp_path / "versions"
    folder.mkdir()
    (folder / "0b0000000001_x.py").write_text(ALEMBIC_TEMPLATE)
    [rev] = read_shared_chain(folder).revisions
    assert rev.shape == "eval"
    assert rev.revision == "0b0000000001"
    assert rev.engines["engine1"].works and not rev.engines["engine2"].works


#: Files the converter refuses to guess about, and why.
UNKNOWN = {
    "work in the dispatcher": (
        "def upgrade(engine_name):\n"
        "    if engine_name == 'analytics':\n"
        "        op.create_table('x', sa.Column('id', sa.Integer, primary_key=True))\n\n\n"
        "def downgrade(engine_name):\n    pass\n",
        "is not a dispatcher the converter knows",
    ),
    "unknown dispatcher": (
        "import sys\n\n\ndef upgrade(engine_name):\n"
        "    getattr(sys.modules[__name__], 'upgrade_' + engine_name)()\n\n\n"
        "def downgrade(engine_name):\n"
        "    getattr(sys.modules[__name__], 'downgrade_' + engine_name)()\n\n\n"
        "def upgrade_():\n    pass\n\n\ndef downgrade_():\n    pass\n",
        "is not a dispatcher the converter knows",
    ),
    "another parameter name": (
        "def upgrade(engine):\n    globals()['upgrade_%s' % engine]()\n\n\n"
        "def downgrade(engine):\n    globals()['downgrade_%s' % engine]()\n",
        "does not take just engine_name",
    ),
    "half plain": (
        "def upgrade(engine_name):\n    globals()['upgrade_%s' % engine_name]()\n\n\n"
        "def downgrade():\n    pass\n",
        "only one of its upgrade() and downgrade() takes engine_name",
    ),
}


@pytest.mark.parametrize("case", list(UNKNOWN))
def test_unknown_shapes_are_refused_with_the_files(
    make_app: AppMaker, case: str
) -> None:
    versions = write_project(make_app.migrations, CHAIN[:5], env=False)
    body, reason = UNKNOWN[case]
    for rev_id in ("0c0000000001", "0c0000000002"):
        down = CHAIN[4].id if rev_id.endswith("1") else "0c0000000001"
        (versions / f"{rev_id}_odd.py").write_text(
            f'"""odd"""\nfrom alembic import op\nimport sqlalchemy as sa\n\n'
            f"revision = {rev_id!r}\ndown_revision = {down!r}\n"
            f"branch_labels = None\ndepends_on = None\n\n\n{body}"
        )
    app = multidb_app(make_app)
    before = snapshot(make_app.migrations)
    for args in ((), ("--write",)):
        output = cli(app, "split-multidb", *args, code=1)
        [error] = [line for line in output.splitlines() if line.startswith("Error:")]
        assert "2 revision file(s)" in error
        assert "(0c0000000001_odd.py, 0c0000000002_odd.py;" in error
        assert reason in error
        assert "nothing was converted" in error
    assert snapshot(make_app.migrations) == before


def test_plain_revision_after_multidb_ones_is_refused(make_app: AppMaker) -> None:
    versions = write_project(make_app.migrations, CHAIN[:5], env=False)
    late = Rev(
        "0d0000000001", CHAIN[4].id, "late", {"": ("pass", "pass")}, shape="plain"
    )
    (versions / "0d0000000001_late.py").write_text(revision_text(late))
    app = multidb_app(make_app)
    output = cli(app, "split-multidb", code=1)
    assert (
        "1 revision file(s) with a plain upgrade() come after revisions that run per database (0d0000000001_late.py)"
        in output
    )


def test_plain_projects_are_not_multidb(tmp_path: Path) -> None:
    """Helpers named upgrade_* are not dispatchers; only a parameter on upgrade() or
    downgrade() makes a file per-engine."""
    folder = tmp_path / "versions"
    folder.mkdir()
    (folder / "r1.py").write_text(
        'revision = "r1"\ndown_revision = None\n\n\n'
        "def upgrade_users():\n    pass\n\n\n"
        "def upgrade():\n    upgrade_users()\n\n\ndef downgrade():\n    pass\n"
    )
    assert per_engine_files(folder) == []
    (folder / "r2.py").write_text(
        'revision = "r2"\ndown_revision = "r1"\n\n\n'
        "def upgrade(engine_name=''):\n    pass\n\n\ndef downgrade(engine_name=''):\n    pass\n"
    )
    assert per_engine_files(folder) == [str(folder / "r2.py")]


def test_a_broken_link_hides_nothing(make_app: AppMaker) -> None:
    """The files after a broken link are still looked at: the bind asked about has
    no revisions of its own, but its work is in the default bind's folder."""
    versions = write_project(make_app.migrations, env=False)
    (versions / "0000_gone.py").symlink_to(versions / "nowhere.py")
    (versions / "zz_link.py").symlink_to(next(versions.glob("b2d0cafe0004_*.py")))
    app = multidb_app(make_app)
    output = cli(app, "upgrade", "--bind", "analytics", code=1)
    assert "holds Flask-Migrate --multidb revisions" in output
    assert "and 15 more" in output  # the link to a file counts once
    untouched(make_app)


def test_split_multidb_on_a_plain_project(make_app: AppMaker) -> None:
    app = make_app()
    with app.app_context():
        make_app.schemaver.revision("one", rev_id="r1")
    output = cli(app, "split-multidb", code=1)
    assert "holds no Flask-Migrate --multidb revisions" in output
    assert "nothing to convert" in output


def test_invoke_helper_sees_no_exception(make_app: AppMaker) -> None:
    """The refusal is a click error, not an exception escaping the command."""
    write_project(make_app.migrations, env=False)
    result = invoke(multidb_app(make_app), "status")
    assert result.exit_code == 1
