"""A Flask-Migrate project adopted unchanged: its migrations/ folder and its database.

The folder is laid out exactly as ``flask db init`` of Flask-Migrate writes it (README,
alembic.ini, env.py, script.py.mako, versions/) with two revisions in Flask-Migrate's
template style, and the database is at revision 1, as Flask-Migrate leaves it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from flask_schemaver import SchemaVer
from helpers import AppMaker
from helpers import snapshot
from helpers import versions

REV1 = "3f1a2b4c5d6e"
REV2 = "9c8d7e6f5a4b"

README = "Single-database configuration for Flask.\n"

ALEMBIC_INI = """\
# A generic, single database configuration.

[alembic]
# template used to generate migration files
# file_template = %%(rev)s_%%(slug)s

# set to 'true' to run the environment during
# the 'revision' command, regardless of autogenerate
# revision_environment = false


# Logging configuration
[loggers]
keys = root,sqlalchemy,alembic,flask_migrate

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARN
handlers = console
qualname =

[logger_sqlalchemy]
level = WARN
handlers =
qualname = sqlalchemy.engine

[logger_alembic]
level = INFO
handlers =
qualname = alembic

[logger_flask_migrate]
level = INFO
handlers =
qualname = flask_migrate

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
datefmt = %H:%M:%S
"""

# Flask-Migrate's env.py would fail if it ran: there is no app.extensions["migrate"].
ENV_PY = '''\
import logging
from logging.config import fileConfig

from flask import current_app

from alembic import context

# this is the Alembic Config object, which provides
# access to the values within the .ini file in use.
config = context.config

# Interpret the config file for Python logging.
# This line sets up loggers basically.
fileConfig(config.config_file_name)
logger = logging.getLogger('alembic.env')


def get_engine():
    try:
        # this works with Flask-SQLAlchemy<3 and Alchemical
        return current_app.extensions['migrate'].db.get_engine()
    except (TypeError, AttributeError):
        # this works with Flask-SQLAlchemy>=3
        return current_app.extensions['migrate'].db.engine


def get_engine_url():
    try:
        return get_engine().url.render_as_string(hide_password=False).replace(
            '%', '%%')
    except AttributeError:
        return str(get_engine().url).replace('%', '%%')


# add your model's MetaData object here
# for 'autogenerate' support
# from myapp import mymodel
# target_metadata = mymodel.Base.metadata
config.set_main_option('sqlalchemy.url', get_engine_url())
target_db = current_app.extensions['migrate'].db

# other values from the config, defined by the needs of env.py,
# can be acquired:
# my_important_option = config.get_main_option("my_important_option")
# ... etc.


def get_metadata():
    if hasattr(target_db, 'metadatas'):
        return target_db.metadatas[None]
    return target_db.metadata


def run_migrations_offline():
    """Run migrations in 'offline' mode.

    This configures the context with just a URL
    and not an Engine, though an Engine is acceptable
    here as well.  By skipping the Engine creation
    we don't even need a DBAPI to be available.

    Calls to context.execute() here emit the given string to the
    script output.

    """
    url = config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url, target_metadata=get_metadata(), literal_binds=True
    )

    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    """Run migrations in 'online' mode.

    In this scenario we need to create an Engine
    and associate a connection with the context.

    """

    # this callback is used to prevent an auto-migration from being generated
    # when there are no changes to the schema
    # reference: http://alembic.zzzcomputing.com/en/latest/cookbook.html
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, 'autogenerate', False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info('No changes in schema detected.')

    conf_args = current_app.extensions['migrate'].configure_args
    if conf_args.get("process_revision_directives") is None:
        conf_args["process_revision_directives"] = process_revision_directives

    connectable = get_engine()

    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=get_metadata(),
            **conf_args
        )

        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
'''

SCRIPT_MAKO = '''\
"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

"""
from alembic import op
import sqlalchemy as sa
${imports if imports else ""}

# revision identifiers, used by Alembic.
revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade():
    ${upgrades if upgrades else "pass"}


def downgrade():
    ${downgrades if downgrades else "pass"}
'''

REVISION_1 = f'''\
"""create user table

Revision ID: {REV1}
Revises: 
Create Date: 2024-03-01 10:15:42.123456

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '{REV1}'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    # ### commands auto generated by Alembic - please adjust! ###
    op.create_table('user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    # ### end Alembic commands ###


def downgrade():
    # ### commands auto generated by Alembic - please adjust! ###
    op.drop_table('user')
    # ### end Alembic commands ###
'''  # noqa: W291 (Flask-Migrate writes "Revises: " with a trailing space)

REVISION_2 = f'''\
"""add email to user

Revision ID: {REV2}
Revises: {REV1}
Create Date: 2024-03-08 16:02:11.654321

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '{REV2}'
down_revision = '{REV1}'
branch_labels = None
depends_on = None


def upgrade():
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email', sa.String(length=50), nullable=True))

    # ### end Alembic commands ###


def downgrade():
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('email')

    # ### end Alembic commands ###
'''

FILES = {
    "README": README,
    "alembic.ini": ALEMBIC_INI,
    "env.py": ENV_PY,
    "script.py.mako": SCRIPT_MAKO,
    f"versions/{REV1}_create_user_table.py": REVISION_1,
    f"versions/{REV2}_add_email_to_user.py": REVISION_2,
}


def write_flask_migrate_folder(folder: Path) -> None:
    """Lay out ``folder`` as Flask-Migrate's ``flask db init`` plus two revisions."""
    for name, text in FILES.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def migrate_to_revision_1(url: str) -> None:
    """Leave the database as Flask-Migrate's ``flask db upgrade REV1`` leaves it."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE user (id INTEGER NOT NULL, name VARCHAR(50), "
                "PRIMARY KEY (id))"
            )
        )
        conn.execute(
            sa.text(
                "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
            )
        )
        conn.execute(sa.text("INSERT INTO alembic_version VALUES (:v)"), {"v": REV1})
        conn.execute(sa.text("INSERT INTO user (id, name) VALUES (1, 'ada')"))
    engine.dispose()


def user_columns(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        return [c["name"] for c in sa.inspect(engine).get_columns("user")]
    finally:
        engine.dispose()


@pytest.fixture
def project(make_app: AppMaker) -> Flask:
    """The adopted project: Flask-Migrate's folder, its database at revision 1, models at 2."""
    write_flask_migrate_folder(make_app.migrations)
    migrate_to_revision_1(make_app.sqlite("main"))
    return make_app(tables={None: {"user": ["name", "email"]}})


@pytest.fixture
def ext(project: Flask, make_app: AppMaker) -> SchemaVer:
    return make_app.schemaver


def notice_line(make_app: AppMaker) -> str:
    folder = make_app.migrations
    return (
        f"notice: {folder / 'env.py'} and {folder / 'alembic.ini'} not used by "
        "flask_schemaver; safe to delete"
    )


# -- the notice -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["current"],
        ["status"],
        ["heads"],
        ["history"],
        ["branches"],
        ["binds"],
        ["show", REV1],
        ["check"],
        ["upgrade", "--sql"],
    ],
    ids=lambda args: " ".join(args),
)
def test_notice_on_stderr_of_every_command(
    project: Flask, make_app: AppMaker, args: list[str]
) -> None:
    result = project.test_cli_runner().invoke(args=["db", *args])
    notice = notice_line(make_app)
    assert result.stderr.splitlines().count(notice) == 1, result.stderr
    assert [
        line for line in result.stderr.splitlines() if "flask_schemaver" in line
    ] == [notice]
    assert "not used by flask_schemaver" not in result.stdout


def test_notice_names_only_the_files_present(make_app: AppMaker) -> None:
    write_flask_migrate_folder(make_app.migrations)
    (make_app.migrations / "alembic.ini").unlink()
    app = make_app()
    result = app.test_cli_runner().invoke(args=["db", "current"])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        f"notice: {make_app.migrations / 'env.py'} not used by flask_schemaver; "
        "safe to delete"
    ]


def test_no_notice_without_flask_migrate_files(make_app: AppMaker) -> None:
    app = make_app()
    result = app.test_cli_runner().invoke(args=["db", "current"])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""


def test_flask_migrate_env_py_is_not_run(project: Flask, ext: SchemaVer) -> None:
    # Flask-Migrate's env.py needs app.extensions["migrate"]; running it would fail.
    assert "migrate" not in project.extensions
    with project.app_context():
        [result] = ext.upgrade(sql=True)
    assert "ALTER TABLE user ADD COLUMN email VARCHAR(50)" in (result.sql or "")


# -- reading the adopted chain ----------------------------------------------------------


def test_binds_maps_default_to_flask_migrate_layout(
    project: Flask, ext: SchemaVer, make_app: AppMaker
) -> None:
    with project.app_context():
        [bind] = ext.binds.values()
        assert bind.name == "default"
        assert bind.directory == make_app.migrations / "versions"
        assert bind.version_table == "alembic_version"
    result = project.test_cli_runner().invoke(args=["db", "binds"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"default: {make_app.sqlite('main')}  {make_app.migrations / 'versions'}  "
        "alembic_version"
    ]


def test_current_is_revision_1(project: Flask, ext: SchemaVer) -> None:
    with project.app_context():
        assert ext.current() == {"default": (REV1,)}
    result = project.test_cli_runner().invoke(args=["db", "current"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"default: {REV1}"]


def test_status_marks_revision_1_applied_and_2_pending(
    project: Flask, ext: SchemaVer, make_app: AppMaker
) -> None:
    with project.app_context():
        [state] = ext.status()
    assert state.bind == "default"
    assert state.current == (REV1,)
    assert state.heads == (REV2,)
    assert [(s.revision.id, s.applied) for s in state.revisions] == [
        (REV1, True),
        (REV2, False),
    ]
    assert [r.message for r in state.pending] == ["add email to user"]
    assert state.missing == ()
    assert not state.up_to_date

    result = project.test_cli_runner().invoke(args=["db", "status"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"default ({make_app.sqlite('main')})",
        f"  current: {REV1}",
        f"  [X] {REV1}  create user table",
        f"  [ ] {REV2} (head)  add email to user",
    ]


def test_history_and_heads_read_flask_migrate_revisions(
    project: Flask, ext: SchemaVer
) -> None:
    with project.app_context():
        history = ext.history()["default"]
        heads = ext.heads()["default"]
    assert [(r.id, r.down_revisions, r.message) for r in history] == [
        (REV2, (REV1,), "add email to user"),
        (REV1, (), "create user table"),
    ]
    assert [r.id for r in heads] == [REV2]
    assert heads[0].path.endswith(f"versions/{REV2}_add_email_to_user.py")

    runner = project.test_cli_runner()
    result = runner.invoke(args=["db", "history", "-i"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "default:",
        f"  {REV1} -> {REV2} (head), add email to user",
        f"  <base> -> {REV1} (current), create user table",
    ]
    result = runner.invoke(args=["db", "heads"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"default: {REV1} -> {REV2} (head), add email to user"
    ]


def test_check_reports_revision_2_pending(project: Flask, ext: SchemaVer) -> None:
    with project.app_context():
        [found] = ext.check()
    assert not found.ok
    assert found.pending == [REV2]
    assert found.heads == (REV2,)
    result = project.test_cli_runner().invoke(args=["db", "check"])
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines() == [
        f"default: 1 unapplied revision(s): {REV2}; run 'flask db upgrade'"
    ]


# -- upgrading runs only revision 2 -----------------------------------------------------


def test_upgrade_api_runs_only_revision_2(
    project: Flask, ext: SchemaVer, make_app: AppMaker
) -> None:
    url = make_app.sqlite("main")
    steps = []
    with project.app_context():
        [result] = ext.upgrade(on_step=steps.append)
        assert ext.current() == {"default": (REV2,)}
        [found] = ext.check()
    assert result.bind == "default"
    assert result.before == (REV1,)
    assert result.after == (REV2,)
    assert [(s.revision, s.source, s.destination, s.is_upgrade) for s in steps] == [
        (REV2, (REV1,), (REV2,), True)
    ]
    assert result.steps == steps
    assert user_columns(url) == ["id", "name", "email"]
    assert versions(url) == [REV2]
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT id, name, email FROM user")).all() == [
            (1, "ada", None)
        ]
    engine.dispose()
    # Models and database now agree; nothing is left to do.
    assert found.ok, found
    assert found.drift == []


def test_upgrade_cli_runs_only_revision_2(project: Flask, make_app: AppMaker) -> None:
    url = make_app.sqlite("main")
    runner = project.test_cli_runner()
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 3, lines
    assert lines[0] == f"[default] upgrade {REV1} → {REV2}  add email to user ..."
    assert lines[1].startswith(
        f"[default] upgrade {REV1} → {REV2}  add email to user ("
    )
    assert lines[2] == f"default: 1 revision upgraded, now at {REV2}"
    assert "<base>" not in result.stdout
    assert "create user table" not in result.stdout
    assert user_columns(url) == ["id", "name", "email"]
    assert versions(url) == [REV2]

    again = runner.invoke(args=["db", "upgrade"])
    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines() == [f"default: nothing to do, at {REV2}"]

    status = runner.invoke(args=["db", "status"])
    assert f"  [X] {REV1}  create user table" in status.stdout
    assert f"  [X] {REV2} (head)  add email to user" in status.stdout
    check = runner.invoke(args=["db", "check"])
    assert check.exit_code == 0, check.output
    assert check.stdout.splitlines() == ["default: ok"]


def test_upgrade_sql_starts_after_revision_1(project: Flask, ext: SchemaVer) -> None:
    with project.app_context():
        [result] = ext.upgrade(f"{REV1}:{REV2}", sql=True)
    sql = result.sql or ""
    assert "ALTER TABLE user ADD COLUMN email VARCHAR(50)" in sql
    assert "CREATE TABLE user" not in sql
    assert f"UPDATE alembic_version SET version_num='{REV2}' WHERE " in sql
    result = project.test_cli_runner().invoke(
        args=["db", "upgrade", "--sql", f"{REV1}:{REV2}"]
    )
    assert result.exit_code == 0, result.output
    assert "ALTER TABLE user ADD COLUMN email VARCHAR(50)" in result.stdout
    assert "CREATE TABLE user" not in result.stdout


def test_downgrade_runs_flask_migrate_downgrade(
    project: Flask, ext: SchemaVer, make_app: AppMaker
) -> None:
    url = make_app.sqlite("main")
    with project.app_context():
        ext.upgrade()
        [result] = ext.downgrade(REV1)
    assert (result.before, result.after) == ((REV2,), (REV1,))
    assert user_columns(url) == ["id", "name"]
    assert versions(url) == [REV1]

    runner = project.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    result = runner.invoke(args=["db", "downgrade"])
    assert result.exit_code == 0, result.output
    assert f"[default] downgrade {REV2} → {REV1}  add email to user (" in result.stdout
    assert (
        result.stdout.splitlines()[-1]
        == f"default: 1 revision downgraded, now at {REV1}"
    )
    assert user_columns(url) == ["id", "name"]
    assert versions(url) == [REV1]


# -- the folder stays as it was -------------------------------------------------------


def test_folder_byte_for_byte_unchanged_by_every_command(
    project: Flask, ext: SchemaVer, make_app: AppMaker
) -> None:
    before = snapshot(make_app.migrations)
    assert set(before) == set(FILES)
    runner = project.test_cli_runner()
    for args in (
        ["binds"],
        ["current"],
        ["status"],
        ["history", "-v"],
        ["heads"],
        ["check"],
        ["upgrade", "--sql"],
        ["init"],
        ["upgrade"],
        ["check"],
        ["migrate"],  # models match: nothing to write
        ["downgrade", REV1],
        ["upgrade"],
    ):
        result = runner.invoke(args=["db", *args])
        assert result.exit_code in (0, 1), (args, result.output)
        assert snapshot(make_app.migrations) == before, args
    with project.app_context():
        assert ext.init() == {"default": False}
        assert [(r.bind, r.revisions) for r in ext.migrate("nothing")] == [
            ("default", [])
        ]
        ext.downgrade("base")
        ext.upgrade()
    assert snapshot(make_app.migrations) == before
    for name, text in FILES.items():
        assert (make_app.migrations / name).read_text(encoding="utf-8") == text


def test_init_keeps_the_existing_folder(project: Flask, make_app: AppMaker) -> None:
    result = project.test_cli_runner().invoke(args=["db", "init"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"default: exists {make_app.migrations / 'versions'}"
    ]


# -- new revisions go into migrations/versions ---------------------------------------


def new_files(before: dict[str, str], folder: Path) -> list[str]:
    return sorted(set(snapshot(folder)) - set(before))


def test_migrate_api_writes_into_versions(make_app: AppMaker) -> None:
    write_flask_migrate_folder(make_app.migrations)
    migrate_to_revision_1(make_app.sqlite("main"))
    app = make_app(tables={None: {"user": ["name", "email", "phone"]}})
    ext = make_app.schemaver
    before = snapshot(make_app.migrations)
    with app.app_context():
        ext.upgrade()
        [written] = ext.migrate("add phone to user")
        assert [r.id for r in ext.heads()["default"]] == [written.revisions[0].id]
    [rev] = written.revisions
    assert written.bind == "default"
    assert rev.down_revisions == (REV2,)
    assert rev.message == "add phone to user"
    path = Path(rev.path)
    assert path.parent == make_app.migrations / "versions"
    assert path.name == f"{rev.id}_add_phone_to_user.py"
    assert new_files(before, make_app.migrations) == [f"versions/{path.name}"]
    text = path.read_text(encoding="utf-8")
    assert f"Revises: {REV2}" in text
    assert "batch_op.add_column(sa.Column('phone', sa.String(length=50)" in text
    # The old files are untouched by writing the new one.
    after = snapshot(make_app.migrations)
    assert {k: v for k, v in after.items() if k in before} == before

    with app.app_context():
        [run] = ext.upgrade()
    assert [s.revision for s in run.steps] == [rev.id]
    assert user_columns(make_app.sqlite("main")) == ["id", "name", "email", "phone"]


def test_migrate_cli_writes_into_versions(make_app: AppMaker) -> None:
    write_flask_migrate_folder(make_app.migrations)
    migrate_to_revision_1(make_app.sqlite("main"))
    app = make_app(tables={None: {"user": ["name", "email", "phone"]}})
    before = snapshot(make_app.migrations)
    runner = app.test_cli_runner()

    # Alembic refuses to autogenerate against a database that is not at head.
    refused = runner.invoke(args=["db", "migrate", "-m", "add phone to user"])
    assert refused.exit_code == 1, refused.output
    assert "Error: [default] Target database is not up to date." in refused.stderr
    assert snapshot(make_app.migrations) == before

    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    result = runner.invoke(args=["db", "migrate", "-m", "add phone to user"])
    assert result.exit_code == 0, result.output
    [added] = new_files(before, make_app.migrations)
    assert added.startswith("versions/") and added.endswith("_add_phone_to_user.py")
    rev_id = added.removeprefix("versions/").removesuffix("_add_phone_to_user.py")
    path = make_app.migrations / added
    assert result.stdout.splitlines() == [
        f"default: wrote {rev_id} add phone to user at {path}",
        "    detected: add column user.phone VARCHAR(50) NULL",
    ]
    assert result.stderr.splitlines() == [notice_line(make_app)]
    assert f"down_revision: str | Sequence[str] | None = '{REV2}'" in path.read_text()
    after = snapshot(make_app.migrations)
    assert {k: v for k, v in after.items() if k in before} == before

    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"[default] upgrade {REV2} → {rev_id}  add phone to user (" in result.stdout
    assert user_columns(make_app.sqlite("main")) == ["id", "name", "email", "phone"]
    assert versions(make_app.sqlite("main")) == [rev_id]


# -- Flask-Migrate's script.py.mako -------------------------------------------------


def test_its_script_template_is_used_when_configured(make_app: AppMaker) -> None:
    """SCHEMAVER_SCRIPT_TEMPLATE keeps writing revisions from the project's template,
    through the API and the CLI, for empty and autogenerated revisions and merges."""
    write_flask_migrate_folder(make_app.migrations)
    template = make_app.migrations / "script.py.mako"
    template.write_text(
        template.read_text().replace('"""${message}', '"""${message}\n\nHouse style.')
    )
    migrate_to_revision_1(make_app.sqlite("main"))
    app = make_app(
        tables={None: {"user": ["name", "email"], "tag": ["label"]}},
        SCHEMAVER_SCRIPT_TEMPLATE=str(template),
    )
    ext = make_app.schemaver
    with app.app_context():
        ext.upgrade()
        [written] = ext.migrate("add tag")
        [merged_from] = ext.revision("side", "default", head=REV1, splice=True)
    auto = Path(written.revisions[0].path).read_text()
    assert "House style." in auto and "def upgrade():\n" in auto
    assert "op.create_table('tag'" in auto
    assert "from collections.abc import Sequence" not in auto  # not our template
    side = Path(merged_from.revisions[0].path).read_text()
    assert "House style." in side and "def upgrade():\n    pass" in side

    result = app.test_cli_runner().invoke(args=["db", "merge", "-m", "join"])
    assert result.exit_code == 0, result.output
    [merge_file] = [
        p
        for p in (make_app.migrations / "versions").glob("*.py")
        if "join" in p.read_text()
    ]
    assert "House style." in merge_file.read_text()
    with app.app_context():
        assert ext.upgrade()[0].after == (merge_file.name.split("_")[0],)


def test_its_script_template_is_not_used_unless_configured(
    project: Flask, ext: SchemaVer, make_app: AppMaker
) -> None:
    template = make_app.migrations / "script.py.mako"
    assert template.is_file()
    template.write_text("raise SystemExit('never rendered')\n")
    with project.app_context():
        [written] = ext.revision("plain", "default")
    text = Path(written.revisions[0].path).read_text()
    assert "from collections.abc import Sequence" in text  # flask_schemaver's own
