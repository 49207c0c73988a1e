"""Flask-Migrate ``--multidb`` projects for the tests, and the old layout run as
Flask-Migrate runs it.

:func:`write_project` writes a ``migrations`` folder the way such a project grows: a
few plain revisions from before it went multidb, then revisions in the multidb
templates' shapes (Flask-Migrate's stock dispatcher, its ``globals().get`` variant,
Alembic's ``eval`` one), with ``upgrade_()`` for the default database (engine name
``""``), a bind added part way (its early revisions have no function for it), a bind
with work in only a few revisions, module-level helpers, a branch and a merge.

:func:`old_upgrade` upgrades the three databases through that folder with an
``env.py`` written here that does what Flask-Migrate's multidb ``env.py`` does: one
connection and transaction per database, Alembic configured on each in turn and
``run_migrations(engine_name=NAME)``, everything committed at the end. It is the
oracle the converted chains are compared with; it shares no code with
flask_schemaver. Two things Flask-Migrate would fail on are taken the way a real
project got past them: plain revisions ran, before the project went multidb, on the
default database only; and a database added later was stamped past the revisions
written before it existed (here: they do nothing for it).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

from alembic import command
from alembic.config import Config

#: The engines of the project, as Flask-Migrate names them: "" is the default database.
ENGINES = ("", "analytics", "audit")


@dataclass
class Rev:
    """One revision of the shared chain."""

    id: str
    down: str | tuple[str, ...] | None
    message: str
    #: Per engine: (upgrade body, downgrade body); a missing engine has no function.
    parts: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: ``plain``, ``stock``, ``get``, ``eval``, ``fstring``, ``plus``, ``format``.
    shape: str = "stock"
    labels: str | None = None
    #: Extra module-level code (helpers, constants), after the imports.
    module: str = ""


def _create(table: str, *columns: str) -> str:
    cols = ",\n    ".join(['sa.Column("id", sa.Integer, primary_key=True)', *columns])
    return f'op.create_table(\n    "{table}",\n    {cols},\n)'


def _drop(table: str) -> str:
    return f'op.drop_table("{table}")'


NOTHING = ("pass", "pass")

#: The chain: r01-r03 plain; r04 on multidb; "audit" added at r07; a branch at r09
#: (r10a/r11a and r10b) merged by r12; audit has work in r07, r10b and r17 only.
CHAIN: list[Rev] = [
    Rev(
        "a1c0ffee0001",
        None,
        "create users",
        {
            "": (
                _create("users", 'sa.Column("login", sa.String(40), nullable=False)'),
                _drop("users"),
            )
        },
        shape="plain",
    ),
    Rev(
        "a1c0ffee0002",
        "a1c0ffee0001",
        "add users.email",
        {
            "": (
                'op.add_column("users", sa.Column("email", sa.String(120)))',
                'op.drop_column("users", "email")',
            )
        },
        shape="plain",
    ),
    Rev(
        "a1c0ffee0003",
        "a1c0ffee0002",
        "index users.login",
        {
            "": (
                'op.create_index("ix_users_login", "users", ["login"], unique=True)',
                'op.drop_index("ix_users_login", table_name="users")',
            )
        },
        shape="plain",
    ),
    Rev(
        "b2d0cafe0004",
        "a1c0ffee0003",
        "posts and pageviews",
        {
            "": (
                _create(
                    "posts",
                    'sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"))',
                    'sa.Column("body", sa.Text)',
                ),
                _drop("posts"),
            ),
            "analytics": (
                _create(
                    "pageviews",
                    'sa.Column("path", sa.String(200), nullable=False)',
                    "*_stamps()",
                ),
                _drop("pageviews"),
            ),
        },
        module=(
            "def _stamps():\n"
            '    """Columns every analytics table has."""\n'
            '    return [sa.Column("seen_at", sa.DateTime()), sa.Column("host", sa.String(60))]\n'
        ),
    ),
    Rev(
        "b2d0cafe0005",
        "b2d0cafe0004",
        "pageview referrer",
        {
            "": NOTHING,
            "analytics": (
                'op.add_column(PAGEVIEWS, sa.Column("referrer", sa.String(200)))',
                'op.drop_column(PAGEVIEWS, "referrer")',
            ),
        },
        module='PAGEVIEWS = "pageviews"\n',
    ),
    Rev(
        "b2d0cafe0006",
        "b2d0cafe0005",
        "post titles",
        {
            "": (
                'op.add_column("posts", sa.Column("title", sa.String(100)))',
                'op.drop_column("posts", "title")',
            ),
            "analytics": NOTHING,
        },
    ),
    Rev(
        "c3e0beef0007",
        "b2d0cafe0006",
        "audit log",
        {
            "": (
                'op.add_column("users", sa.Column("name", sa.String(80)))',
                'op.drop_column("users", "name")',
            ),
            "analytics": NOTHING,
            "audit": (
                _create(
                    "audit_log",
                    'sa.Column("action", sa.String(40), nullable=False)',
                    'sa.Column("at", sa.DateTime())',
                ),
                _drop("audit_log"),
            ),
        },
        shape="get",
    ),
    Rev(
        "c3e0beef0008",
        "c3e0beef0007",
        "tags",
        {
            "": ("_tag_tables()", 'op.drop_table("post_tags")\nop.drop_table("tags")'),
            "analytics": NOTHING,
            "audit": NOTHING,
        },
        module=(
            "def _tag_tables():\n"
            '    op.create_table("tags", sa.Column("id", sa.Integer, primary_key=True),\n'
            '                    sa.Column("name", sa.String(50), nullable=False))\n'
            '    op.create_table("post_tags",\n'
            '                    sa.Column("post_id", sa.Integer, sa.ForeignKey("posts.id"), primary_key=True),\n'
            '                    sa.Column("tag_id", sa.Integer, sa.ForeignKey("tags.id"), primary_key=True))\n'
        ),
    ),
    Rev(
        "c3e0beef0009",
        "c3e0beef0008",
        "branch point",
        {
            "": (
                'op.add_column("tags", sa.Column("color", sa.String(7)))',
                'op.drop_column("tags", "color")',
            ),
            "analytics": NOTHING,
            "audit": NOTHING,
        },
        shape="fstring",
    ),
    Rev(
        "d4f0d00d010a",
        "c3e0beef0009",
        "sessions",
        {
            "": NOTHING,
            "analytics": (
                _create(
                    "sessions", 'sa.Column("started_at", sa.DateTime())', "*_stamps()"
                ),
                _drop("sessions"),
            ),
            "audit": NOTHING,
        },
        shape="eval",
        labels="sessions",
        module=(
            "def _stamps():\n"
            '    return [sa.Column("seen_at", sa.DateTime()), sa.Column("host", sa.String(60))]\n'
        ),
    ),
    Rev(
        "d4f0d00d011a",
        "d4f0d00d010a",
        "session end",
        {
            "": NOTHING,
            "analytics": (
                'op.add_column("sessions", sa.Column("ended_at", sa.DateTime()))',
                'op.drop_column("sessions", "ended_at")',
            ),
            "audit": NOTHING,
        },
        shape="plus",
    ),
    Rev(
        "d4f0d00d010b",
        "c3e0beef0009",
        "events and actors",
        {
            "": (
                'op.add_column("posts", sa.Column("draft", sa.Boolean()))',
                'op.drop_column("posts", "draft")',
            ),
            "analytics": (
                _create("events", 'sa.Column("name", sa.String(60), nullable=False)'),
                _drop("events"),
            ),
            "audit": (
                'op.add_column("audit_log", sa.Column("actor", sa.String(80)))',
                'op.drop_column("audit_log", "actor")',
            ),
        },
        shape="format",
    ),
    Rev(
        "e5a0f00d0012",
        ("d4f0d00d011a", "d4f0d00d010b"),
        "merge sessions and events",
        {"": NOTHING, "analytics": NOTHING, "audit": NOTHING},
    ),
    Rev(
        "e5a0f00d0013",
        "e5a0f00d0012",
        "comments",
        {
            "": (
                _create(
                    "comments",
                    'sa.Column("post_id", sa.Integer, sa.ForeignKey("posts.id"), nullable=False)',
                    'sa.Column("body", sa.Text)',
                ),
                _drop("comments"),
            ),
            "analytics": (
                'op.create_index("ix_events_name", "events", ["name"])',
                'op.drop_index("ix_events_name", table_name="events")',
            ),
            "audit": NOTHING,
        },
    ),
    Rev(
        "e5a0f00d0014",
        "e5a0f00d0013",
        "nothing for analytics",
        {
            "": (
                'op.create_index("ix_comments_post", "comments", ["post_id"])',
                'op.drop_index("ix_comments_post", table_name="comments")',
            ),
            "analytics": NOTHING,
            "audit": NOTHING,
        },
    ),
    Rev(
        "e5a0f00d0015",
        "e5a0f00d0014",
        "daily counts",
        {
            "": NOTHING,
            "analytics": (
                _create(
                    "daily_counts",
                    'sa.Column("day", sa.Date(), nullable=False)',
                    'sa.Column("views", sa.Integer, nullable=False, server_default="0")',
                ),
                _drop("daily_counts"),
            ),
            "audit": NOTHING,
        },
    ),
    Rev(
        "f6b0aced0016",
        "e5a0f00d0015",
        "user flags",
        {
            "": (
                'op.add_column("users", sa.Column("active", sa.Boolean(), nullable=True))',
                'op.drop_column("users", "active")',
            ),
            "analytics": NOTHING,
            "audit": NOTHING,
        },
    ),
    Rev(
        "f6b0aced0017",
        "f6b0aced0016",
        "audit targets",
        {
            "": NOTHING,
            "analytics": NOTHING,
            "audit": (
                _create(
                    "audit_targets",
                    'sa.Column("log_id", sa.Integer, sa.ForeignKey("audit_log.id"), nullable=False)',
                    'sa.Column("target", sa.String(120))',
                ),
                _drop("audit_targets"),
            ),
        },
    ),
    Rev(
        "f6b0aced0018",
        "f6b0aced0017",
        "pageview user agent",
        {
            "": NOTHING,
            "analytics": (
                'op.add_column(PAGEVIEWS, sa.Column("agent", sa.String(200)))',
                'op.drop_column(PAGEVIEWS, "agent")',
            ),
            "audit": NOTHING,
        },
        module='PAGEVIEWS = "pageviews"\n',
    ),
    Rev(
        "f6b0aced0019",
        "f6b0aced0018",
        "post slugs",
        {
            "": (
                'op.add_column("posts", sa.Column("slug", sa.String(120)))\n'
                'op.create_index("ix_posts_slug", "posts", ["slug"], unique=True)',
                'op.drop_index("ix_posts_slug", table_name="posts")\nop.drop_column("posts", "slug")',
            ),
            "analytics": NOTHING,
            "audit": NOTHING,
        },
    ),
    Rev(
        "f6b0aced0020",
        "f6b0aced0019",
        "last: nothing anywhere",
        {"": NOTHING, "analytics": NOTHING, "audit": NOTHING},
    ),
]

#: Named places in the chain where databases are stamped by the old layout.
BEFORE_MULTIDB = "a1c0ffee0002"
BEFORE_AUDIT = "b2d0cafe0006"
ON_BRANCH = "d4f0d00d010a"
AFTER_MERGE = "e5a0f00d0013"
HEAD = "f6b0aced0020"

_NAME = {
    "stock": (
        'globals()["upgrade_%s" % engine_name]()',
        'globals()["downgrade_%s" % engine_name]()',
    ),
    "get": (
        "globals().get('upgrade_%s' % engine_name, lambda: None)()",
        "globals().get('downgrade_%s' % engine_name, lambda: None)()",
    ),
    "eval": (
        'eval("upgrade_%s" % engine_name)()',
        'eval("downgrade_%s" % engine_name)()',
    ),
    "fstring": (
        'globals()[f"upgrade_{engine_name}"]()',
        'globals()[f"downgrade_{engine_name}"]()',
    ),
    "plus": (
        'globals()["upgrade_" + engine_name]()',
        'globals()["downgrade_" + engine_name]()',
    ),
    "format": (
        'globals()["upgrade_{}".format(engine_name)]()',
        'globals()["downgrade_{}".format(engine_name)]()',
    ),
}


def _indent(code: str) -> str:
    return textwrap.indent(textwrap.dedent(code).strip(), "    ")


def revision_text(rev: Rev) -> str:
    """A revision file as the templates write it (then edited by its developer)."""
    down = rev.down if not isinstance(rev.down, tuple) else tuple(rev.down)
    revises = ", ".join(rev.down) if isinstance(rev.down, tuple) else (rev.down or "")
    text = (
        f'"""{rev.message}\n\nRevision ID: {rev.id}\nRevises: {revises}\n'
        'Create Date: 2024-03-01 10:00:00.000000\n\n"""\n'
        "from alembic import op\nimport sqlalchemy as sa\n\n"
    )
    if rev.module:
        text += f"\n{rev.module}\n"
    annotated = rev.shape in ("eval", "fstring")
    typing = ": str" if annotated else ""
    text += (
        "\n# revision identifiers, used by Alembic.\n"
        f"revision{typing} = {rev.id!r}\n"
        f"down_revision = {down!r}\n"
        f"branch_labels = {rev.labels!r}\n"
        "depends_on = None\n\n"
    )
    if rev.shape == "plain":
        up, back = rev.parts[""]
        return text + (
            f"\ndef upgrade():\n{_indent(up)}\n\n\ndef downgrade():\n{_indent(back)}\n"
        )
    up_call, down_call = _NAME[rev.shape]
    default = " = ''" if rev.shape == "get" else ""
    text += (
        f"\ndef upgrade(engine_name{default}):\n    {up_call}\n\n\n"
        f"def downgrade(engine_name{default}):\n    {down_call}\n\n"
    )
    for engine, (up, back) in rev.parts.items():
        text += (
            f"\n\ndef upgrade_{engine}():\n{_indent(up)}\n\n\n"
            f"def downgrade_{engine}():\n{_indent(back)}\n"
        )
    return text


def write_project(
    migrations: Path, chain: Sequence[Rev] = CHAIN, *, env: bool = True
) -> Path:
    """The project's ``migrations`` folder: ``versions/`` with the chain, and (for
    :func:`old_upgrade`) the multidb ``env.py``. Returns ``versions/``."""
    versions = migrations / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    for rev in chain:
        slug = rev.message.replace(" ", "_").replace(":", "").replace(".", "_")
        (versions / f"{rev.id}_{slug}.py").write_text(revision_text(rev))
    if env:
        (migrations / "env.py").write_text(ENV_PY)
    return versions


#: The oracle: a multidb env.py in Flask-Migrate's manner, written for these tests.
ENV_PY = '''\
import inspect

import sqlalchemy as sa
from alembic import context

config = context.config


def _as_projects_ran_it(script):
    """Plain revisions were the default database's; a revision without a database's
    function did nothing for it (the database was stamped past it when added)."""
    module = script.module
    for direction in ("upgrade", "downgrade"):
        original = getattr(module, direction)
        if not inspect.signature(original).parameters:
            def plain(engine_name, _run=original):
                if engine_name == "":
                    _run()
            setattr(module, direction, plain)
        else:
            def dispatch(engine_name, _run=original, _direction=direction):
                if hasattr(module, f"{_direction}_{engine_name}"):
                    _run(engine_name=engine_name)
            setattr(module, direction, dispatch)


for script in context.script.walk_revisions():
    _as_projects_ran_it(script)

databases = []
for name, url in config.attributes["engines"]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    connection = engine.connect()
    databases.append((name, engine, connection, connection.begin()))
try:
    for name, engine, connection, transaction in databases:
        context.configure(
            connection=connection,
            upgrade_token=f"{name}_upgrades",
            downgrade_token=f"{name}_downgrades",
            target_metadata=None,
        )
        context.run_migrations(engine_name=name)
    for name, engine, connection, transaction in databases:
        transaction.commit()
except BaseException:
    for name, engine, connection, transaction in databases:
        transaction.rollback()
    raise
finally:
    for name, engine, connection, transaction in databases:
        connection.close()
        engine.dispose()
'''


def old_upgrade(migrations: Path, urls: dict[str, str], target: str = "heads") -> None:
    """Upgrade the databases (engine name to URL) through the multidb folder as
    Flask-Migrate does, to ``target``."""
    config = Config()
    config.set_main_option("script_location", str(migrations))
    config.attributes["engines"] = list(urls.items())
    command.upgrade(config, target)
