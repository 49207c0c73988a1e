"""``flask db lint``: every rule, per dialect, ignores, levels, --since, the migrate hook."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from flask_schemaver import ConfigError
from flask_schemaver import SchemaVer
from flask_schemaver import UnknownRevision
from flask_schemaver.lint import Finding
from flask_schemaver.lint import RULES
from flask_schemaver.lint.rules import CHECKS
from helpers import AppMaker
from helpers import cli
from helpers import MakeDatabase
from helpers import write_revision_file

DOCS = Path(__file__).parent.parent / "docs" / "lint.rst"
PG_ONLY = {rule.id for rule in RULES.values() if rule.dialects == {"postgresql"}}


def line_of(path: Path, text: str) -> int:
    """The number of the first line of ``path`` holding ``text``."""
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not in {path}")


def rules(findings: list[Finding], revision: str | None = None) -> set[str]:
    return {f.rule for f in findings if revision is None or f.revision == revision}


@dataclass
class Case:
    rule: str
    #: An upgrade() body that the rule must report.
    bad: str
    #: A body doing the safe thing, which it must not report.
    good: str
    #: The downgrade() body of the good revision.
    downgrade: str = "pass"


AUTOCOMMIT = "with op.get_context().autocommit_block():\n    "

CASES = [
    Case("drop-table", "op.drop_table('user')", "op.drop_index('ix_user_name')"),
    Case(
        "drop-column",
        "op.drop_column('user', 'name')",
        "op.add_column('user', sa.Column('nick', sa.String(50)))",
    ),
    Case(
        "rename-table",
        "op.rename_table('user', 'account')",
        "op.create_table('account', sa.Column('id', sa.Integer, primary_key=True))",
    ),
    Case(
        "rename-column",
        "op.alter_column('user', 'name', new_column_name='full_name')",
        "op.add_column('user', sa.Column('full_name', sa.String(50)))",
    ),
    Case(
        "change-column-type",
        "op.alter_column('user', 'name', type_=sa.Integer(), existing_type=sa.String(50))",
        "op.add_column('user', sa.Column('name_number', sa.Integer()))",
    ),
    Case(
        "add-not-null-column",
        "op.add_column('user', sa.Column('age', sa.Integer(), nullable=False))",
        "op.add_column('user', sa.Column('age', sa.Integer(), nullable=False, "
        "server_default='0'))",
    ),
    Case(
        "set-not-null",
        "op.alter_column('user', 'name', nullable=False, existing_type=sa.String(50))",
        "op.alter_column('user', 'name', nullable=True, existing_type=sa.String(50))",
    ),
    Case(
        "volatile-default",
        "op.add_column('user', sa.Column('luck', sa.Float(), "
        "server_default=sa.func.random()))",
        "op.add_column('user', sa.Column('state', sa.String(9), server_default='active'))",
    ),
    Case(
        "create-index-not-concurrently",
        "op.create_index('ix_user_name', 'user', ['name'])",
        AUTOCOMMIT + "op.create_index('ix_user_name', 'user', ['name'], "
        "postgresql_concurrently=True)",
    ),
    Case(
        "drop-index-not-concurrently",
        "op.drop_index('ix_user_name', table_name='user')",
        AUTOCOMMIT + "op.drop_index('ix_user_name', table_name='user', "
        "postgresql_concurrently=True)",
    ),
    Case(
        "concurrently-outside-autocommit",
        "op.create_index('ix_user_name', 'user', ['name'], postgresql_concurrently=True)",
        AUTOCOMMIT + "op.create_index('ix_user_name', 'user', ['name'], "
        "postgresql_concurrently=True)",
    ),
    Case(
        "constraint-not-valid",
        "op.create_check_constraint('ck_user_name', 'user', \"name <> ''\")",
        "op.create_check_constraint('ck_user_name', 'user', \"name <> ''\", "
        "postgresql_not_valid=True)",
    ),
    Case(
        "add-unique-constraint",
        "op.create_unique_constraint('uq_user_name', 'user', ['name'])",
        AUTOCOMMIT + "op.create_index('uq_user_name', 'user', ['name'], unique=True, "
        "postgresql_concurrently=True)",
    ),
    Case(
        "unnamed-constraint",
        "op.create_foreign_key(None, 'user', 'org', ['org_id'], ['id'])",
        "op.create_foreign_key('fk_user_org', 'user', 'org', ['org_id'], ['id'])",
    ),
    Case(
        "raw-sql-without-downgrade",
        "op.execute(\"UPDATE user SET name = 'x' WHERE name IS NULL\")",
        "op.execute(\"UPDATE user SET name = 'x' WHERE name IS NULL\")",
        downgrade="op.execute(\"UPDATE user SET name = NULL WHERE name = 'x'\")",
    ),
    Case(
        "backfill-with-ddl",
        "op.add_column('user', sa.Column('nick', sa.String(50)))\n"
        "op.execute('UPDATE user SET nick = name')",
        "op.execute('UPDATE user SET nick = name')",
    ),
    Case(
        "backfill-outside-autocommit",
        "from flask_schemaver.backfills import backfill\n"
        "backfill('user', {'name': 'x'})",
        "from flask_schemaver.backfills import backfill\n"
        "with op.get_context().autocommit_block():\n"
        "    backfill('user', {'name': 'x'})",
    ),
    Case(
        "sql-not-judged",
        "op.execute('FROB user')",
        "op.execute(\"UPDATE account SET name = 'x' WHERE id = 1\")",
        'op.execute("UPDATE account SET name = NULL WHERE id = 1")',
    ),
    Case(
        "opaque-code",
        "count = op.get_bind().execute(sa.text('SELECT count(*) FROM user')).scalar()\n"
        "op.add_column('user', sa.Column('n', sa.Integer(), server_default=str(count)))",
        "op.add_column('user', sa.Column('n', sa.Integer(), server_default='0'))",
    ),
]


def test_catalogue_is_complete_and_documented() -> None:
    assert len(RULES) >= 12
    assert set(CHECKS) == set(RULES)
    assert {case.rule for case in CASES} == set(RULES)
    docs = DOCS.read_text()
    for rule in RULES.values():
        assert rule.level in ("warning", "error")
        assert rule.reason and rule.alternative
        # Each rule has its own section in the docs, stating its level and dialects.
        section = re.search(rf"^``{rule.id}``\n~+\n\n(.*?)\n\n", docs, re.M | re.S)
        assert section is not None, rule.id
        dialects = "PostgreSQL" if rule.dialects else "all"
        assert section.group(1) == f":Level: {rule.level}\n:Dialects: {dialects}"


def lint_cases(folder: Path, schemaver: SchemaVer, prefix: str) -> list[Finding]:
    """Write a good and a bad revision per case, in one chain; lint them."""
    down = None
    for number, case in enumerate(CASES):
        for kind, body, back in (
            ("bad", case.bad, "pass"),
            ("good", case.good, case.downgrade),
        ):
            rev = f"{prefix}{kind}{number:02d}"
            write_revision_file(folder, rev, down, upgrade=body, downgrade=back)
            down = rev
    return schemaver.lint()


def check_cases(
    findings: list[Finding], prefix: str, applies: Callable[[str], bool]
) -> list[str]:
    problems = []
    for number, case in enumerate(CASES):
        bad = rules(findings, f"{prefix}bad{number:02d}")
        good = rules(findings, f"{prefix}good{number:02d}")
        if applies(case.rule) and case.rule not in bad:
            problems.append(f"{case.rule} missed in its bad revision: {bad}")
        if not applies(case.rule) and case.rule in bad:
            problems.append(f"{case.rule} reported on another dialect")
        if case.rule in good:
            problems.append(f"{case.rule} reported in its good revision")
    return problems


def test_every_rule_on_sqlite(app: Flask, make_app: AppMaker) -> None:
    findings = lint_cases(make_app.migrations / "versions", make_app.schemaver, "s")
    assert check_cases(findings, "s", lambda rule: rule not in PG_ONLY) == []
    assert not rules(findings) & PG_ONLY
    assert {f.bind for f in findings} == {"default"}


@pytest.mark.postgresql
def test_every_rule_on_postgresql(
    make_app: AppMaker, postgresql_db: MakeDatabase
) -> None:
    app = make_app(binds={"pg": postgresql_db()})
    with app.app_context():
        findings = lint_cases(make_app.migrations / "pg", make_app.schemaver, "p")
    assert check_cases(findings, "p", lambda rule: True) == []
    assert {f.bind for f in findings} == {"pg"}


@pytest.mark.mysql
def test_every_rule_on_mysql(make_app: AppMaker, mysql_db: MakeDatabase) -> None:
    app = make_app(binds={"my": mysql_db()})
    with app.app_context():
        findings = lint_cases(make_app.migrations / "my", make_app.schemaver, "m")
    assert check_cases(findings, "m", lambda rule: rule not in PG_ONLY) == []
    messages = {f.rule: f.message for f in findings}
    assert "MySQL/MariaDB copies the whole table" in messages["change-column-type"]
    assert "MySQL/MariaDB rebuilds the table" in messages["set-not-null"]
    assert "implicit default (0 or '')" in messages["add-not-null-column"]


@pytest.mark.postgresql
def test_postgresql_specifics(make_app: AppMaker, postgresql_db: MakeDatabase) -> None:
    app = make_app(binds={"pg": postgresql_db()})
    folder = make_app.migrations / "pg"
    write_revision_file(
        folder,
        "w1",
        None,
        upgrade="""
        op.alter_column('user', 'name', type_=sa.String(100), existing_type=sa.String(50))
        op.alter_column('user', 'bio', type_=sa.Text(), existing_type=sa.String(50))
        op.alter_column('user', 'code', type_=sa.String(10), existing_type=sa.String(50))
        """,
    )
    raw = write_revision_file(
        folder,
        "w2",
        "w1",
        upgrade="""
        op.execute('CREATE INDEX ix_user_name ON "user" (name)')
        op.execute('CREATE INDEX CONCURRENTLY ix_user_bio ON "user" (bio)')
        with op.get_context().autocommit_block():
            op.execute('DROP INDEX CONCURRENTLY ix_user_code')
            op.drop_index('ix_user_x', postgresql_concurrently=True)
        op.execute('REFRESH MATERIALIZED VIEW CONCURRENTLY stats')
        op.create_foreign_key('fk_user_org', 'user', 'org', ['org_id'], ['id'])
        """,
        downgrade="op.execute('DROP INDEX ix_user_name')",
    )
    with app.app_context():
        findings = make_app.schemaver.lint()
    # A longer VARCHAR, or TEXT, is not a rewrite on PostgreSQL; a shorter one is.
    typed = [f for f in findings if f.rule == "change-column-type"]
    assert [f.message.split(":")[0] for f in typed] == [
        "change type of user.code to VARCHAR(10)"
    ]
    found = [(f.rule, f.line) for f in findings if f.revision == "w2"]
    assert found == [
        ("create-index-not-concurrently", line_of(raw, "ix_user_name ON")),
        ("concurrently-outside-autocommit", line_of(raw, "CONCURRENTLY ix_user_bio")),
        ("constraint-not-valid", line_of(raw, "fk_user_org")),
    ]


def test_postgresql_rules_need_no_server(make_app: AppMaker) -> None:
    """Lint records revisions offline: a PostgreSQL bind is linted without a database."""
    app = make_app(binds={"pg": "postgresql+psycopg://nobody@127.0.0.1:1/none"})
    write_revision_file(make_app.migrations / "pg", "n1", None, upgrade=CASES[8].bad)
    with app.app_context():
        assert rules(make_app.schemaver.lint()) == {"create-index-not-concurrently"}


@pytest.fixture
def ctx(app: Flask, make_app: AppMaker) -> Iterator[tuple[Path, SchemaVer]]:
    yield make_app.migrations / "versions", make_app.schemaver


def test_tables_created_in_the_same_revision_are_exempt(make_app: AppMaker) -> None:
    app = make_app(binds={"pg": "postgresql+psycopg://nobody@127.0.0.1:1/none"})
    body = """
        op.create_table(
            'item',
            sa.Column('id', sa.Integer, primary_key=True),
            sa.Column('name', sa.String(50)),
            sa.Column('org_id', sa.Integer),
        )
        op.add_column('item', sa.Column('qty', sa.Integer(), nullable=False))
        op.add_column('item', sa.Column('seen', sa.DateTime(), server_default=sa.func.now()))
        op.alter_column('item', 'name', nullable=False, type_=sa.Text(), new_column_name='title')
        op.create_index('ix_item_title', 'item', ['title'])
        op.create_unique_constraint('uq_item_title', 'item', ['title'])
        op.create_foreign_key('fk_item_org', 'item', 'org', ['org_id'], ['id'])
        op.execute('INSERT INTO item (title, qty) SELECT name, 1 FROM "user"')
        op.drop_column('item', 'seen')
        op.rename_table('item', 'thing')
        op.drop_table('thing')
        op.create_foreign_key(None, 'user', 'org', ['org_id'], ['id'], postgresql_not_valid=True)
    """
    write_revision_file(
        make_app.migrations / "pg",
        "e1",
        None,
        upgrade=body,
        downgrade="op.drop_table('item')",
    )
    with app.app_context():
        findings = make_app.schemaver.lint()
    # The one finding left is about the future (a name), not about existing rows.
    assert [f.rule for f in findings] == ["unnamed-constraint"]
    assert "on user" in findings[0].message


def test_time_defaults_and_unnamed_constraints(
    ctx: tuple[Path, SchemaVer], make_app: AppMaker
) -> None:
    folder, schemaver = ctx
    path = write_revision_file(
        folder,
        "t1",
        None,
        upgrade="""
        op.add_column('user', sa.Column('created', sa.DateTime(), server_default=sa.func.now()))
        op.add_column('user', sa.Column('uid', sa.String(36), server_default=sa.text('(uuid())')))
        op.create_table(
            'child',
            sa.Column('id', sa.Integer, primary_key=True),
            sa.Column('user_id', sa.Integer, sa.ForeignKey('user.id')),
            sa.Column('code', sa.String(5), unique=True),
            sa.CheckConstraint('id > 0'),
            sa.UniqueConstraint('user_id', 'code', name='uq_child_user_code'),
        )
        """,
        downgrade="op.drop_table('child')",
    )
    findings = schemaver.lint()
    messages = [f.message for f in findings if f.rule == "volatile-default"]
    assert messages[0].startswith(
        "add column user.created with server default CURRENT_TIMESTAMP"
    )
    assert "every existing row gets the time of the migration" in messages[0]
    assert "(uuid())" in messages[1] and "volatile" in messages[1]
    unnamed = [
        f.message.split(":")[0] for f in findings if f.rule == "unnamed-constraint"
    ]
    assert unnamed == [
        "unnamed foreign key on child (user_id)",
        "unnamed unique constraint on child (code)",
        "unnamed check constraint on child",
    ]
    assert {f.line for f in findings if f.rule == "unnamed-constraint"} == {
        line_of(path, "op.create_table")
    }

    # A naming convention on the models' MetaData names them when the revision runs.
    convention = {
        "fk": "fk_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
    }
    make_app.db.metadatas[None].naming_convention = convention
    try:
        unnamed = [
            f.message for f in schemaver.lint() if f.rule == "unnamed-constraint"
        ]
    finally:
        make_app.db.metadatas[None].naming_convention = {"ix": "ix_%(column_0_label)s"}
    assert len(unnamed) == 1 and "check constraint" in unnamed[0]


def test_downgrade_that_refuses_is_not_missing(ctx: tuple[Path, SchemaVer]) -> None:
    folder, schemaver = ctx
    write_revision_file(
        folder,
        "d1",
        None,
        upgrade="op.execute('DELETE FROM user')",
        downgrade="raise NotImplementedError",
    )
    write_revision_file(folder, "d2", "d1", upgrade="op.execute('DELETE FROM user')")
    assert [(f.revision, f.rule) for f in schemaver.lint()] == [
        ("d2", "raw-sql-without-downgrade")
    ]


def test_backfill_forms(ctx: tuple[Path, SchemaVer]) -> None:
    folder, schemaver = ctx
    ddl = "op.drop_index('ix_user_name')\n"
    write_revision_file(
        folder,
        "b1",
        None,
        upgrade=ddl
        + "op.bulk_insert(sa.table('user', sa.column('name')), [{'name': 'a'}])",
    )
    write_revision_file(
        folder,
        "b2",
        "b1",
        upgrade=ddl + "op.execute('INSERT INTO audit (n) SELECT name FROM user')",
        downgrade="pass",
    )
    write_revision_file(
        folder,
        "b3",
        "b2",
        upgrade="op.execute('ALTER TABLE user ADD x int')\nop.execute('DELETE FROM log')",
        downgrade="pass",
    )
    write_revision_file(
        folder,
        "b4",
        "b3",
        upgrade=ddl + "op.execute(\"INSERT INTO log (m) VALUES ('x')\")",
        downgrade="pass",
    )
    found = {f.revision for f in schemaver.lint() if f.rule == "backfill-with-ddl"}
    assert found == {"b1", "b2", "b3"}
    messages = [
        f.message
        for f in schemaver.lint(revisions="b2")
        if f.rule == "backfill-with-ddl"
    ]
    assert messages[0].startswith(
        "backfill of audit in a revision that changes the schema"
    )


def test_opaque_code_points_at_upgrade(ctx: tuple[Path, SchemaVer]) -> None:
    folder, schemaver = ctx
    path = write_revision_file(folder, "o1", None, upgrade=CASES[-1].bad)
    [finding] = schemaver.lint()
    assert finding.rule == "opaque-code"
    assert finding.line == line_of(path, "def upgrade")
    assert finding.message.startswith("upgrade() stopped early (")
    # Reviewed by hand: the ignore goes above def upgrade().
    text = path.read_text()
    path.write_text(
        text.replace("def upgrade", "# schemaver: ignore[opaque-code]\ndef upgrade")
    )
    assert schemaver.lint() == []


def test_inline_ignores(ctx: tuple[Path, SchemaVer]) -> None:
    folder, schemaver = ctx
    path = write_revision_file(
        folder,
        "i1",
        None,
        upgrade="""
        op.drop_column('user', 'a')  # schemaver: ignore[drop-column]
        op.drop_column('user', 'b')
        # schemaver: ignore[drop-column]
        op.drop_column('user', 'c')
        # schemaver: ignore[drop-column, drop-table]
        # the column and table are unused since release 4.2
        op.drop_column('user', 'd')
        op.drop_column('user', 'e')  # schemaver: ignore[drop-table]
        op.alter_column(
            'user',
            'f',
            new_column_name='g',
            existing_type=sa.String(50),
        )  # schemaver: ignore[rename-column]
        op.drop_table('old')  # schemaver: ignore[drop-column,drop-table]
        x = "# schemaver: ignore[drop-table]"
        op.drop_table('older')
        # schemaver: ignore[drop-column]

        op.drop_column('user', 'h')
        """,
    )
    found = [(f.rule, f.line) for f in schemaver.lint()]
    # Not silenced: b by the ignore of the statement before it, e by an ignore of
    # another rule, older by text in a string, h by an ignore a blank line away.
    assert found == [
        ("drop-column", line_of(path, "'b'")),
        ("drop-column", line_of(path, "'e'")),
        ("drop-table", line_of(path, "'older'")),
        ("drop-column", line_of(path, "'h'")),
    ]


def test_ignore_file(ctx: tuple[Path, SchemaVer]) -> None:
    folder, schemaver = ctx
    write_revision_file(
        folder,
        "f1",
        None,
        upgrade="op.drop_column('user', 'a')\nop.drop_table('old')\nop.drop_column('user', 'b')",
        header="# schemaver: ignore-file[drop-column]",
    )
    write_revision_file(folder, "f2", "f1", upgrade="op.drop_column('user', 'c')")
    assert [(f.revision, f.rule) for f in schemaver.lint()] == [
        ("f1", "drop-table"),
        ("f2", "drop-column"),
    ]


def test_config_levels(make_app: AppMaker) -> None:
    app = make_app(
        SCHEMAVER_LINT={
            "drop-column": "off",
            "drop-table": "warning",
            "unnamed-constraint": "error",
        }
    )
    assert app.config["SCHEMAVER_LINT"]["drop-table"] == "warning"
    write_revision_file(
        make_app.migrations / "versions",
        "c1",
        None,
        upgrade="op.drop_column('user', 'name')\nop.drop_table('old')",
    )
    with app.app_context():
        assert [(f.rule, f.level) for f in make_app.schemaver.lint()] == [
            ("drop-table", "warning")
        ]
    out = cli(app, "lint")
    assert (
        "warning [drop-table] drop table old" in out
        and "lint: 0 errors, 1 warning" in out
    )
    write_revision_file(
        make_app.migrations / "versions",
        "c2",
        "c1",
        upgrade="op.create_foreign_key(None, 'user', 'org', ['org_id'], ['id'])",
    )
    out = cli(app, "lint", code=1)
    assert "error [unnamed-constraint]" in out and "lint: 1 error, 1 warning" in out


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            {"drop-colum": "off"},
            "SCHEMAVER_LINT names unknown rule(s) drop-colum; known rules: drop-table, "
            "drop-column,",
        ),
        (
            {"drop-column": "warn"},
            "SCHEMAVER_LINT['drop-column'] must be 'off', 'warning' or 'error', not 'warn'",
        ),
        (
            ["drop-column"],
            "SCHEMAVER_LINT must be a dict of rule id to 'off', 'warning' or 'error', not list",
        ),
    ],
)
def test_config_errors(make_app: AppMaker, value: object, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        make_app(SCHEMAVER_LINT=value)
    assert message in str(info.value)
    if "unknown" in message:
        assert all(rule in str(info.value) for rule in RULES)


@pytest.fixture
def chain(make_app: AppMaker) -> Iterator[Flask]:
    """Two binds; the default one has a line a1-a2-a3 and a branch a2-b3."""
    app = make_app(binds={"other": make_app.sqlite("other")})
    versions = make_app.migrations / "versions"
    write_revision_file(versions, "a1", None, upgrade="op.drop_table('t1')")
    write_revision_file(versions, "a2", "a1", upgrade="op.drop_table('t2')")
    write_revision_file(versions, "a3", "a2", upgrade="op.drop_table('t3')")
    write_revision_file(versions, "b3", "a2", upgrade="op.drop_table('t4')")
    write_revision_file(
        make_app.migrations / "other", "o1", None, upgrade="op.drop_table('t5')"
    )
    with app.app_context():
        yield app


def test_since(chain: Flask, make_app: AppMaker) -> None:
    schemaver = make_app.schemaver

    def linted(**kwargs: Any) -> list[str]:
        return [f.revision for f in schemaver.lint(**kwargs)]

    # Each bind in the app's order, its revisions oldest first.
    everything = linted()
    assert sorted(everything) == ["a1", "a2", "a3", "b3", "o1"]
    assert everything[:2] == ["a1", "a2"] and everything[-1] == "o1"
    # The other bind has no a1: it is linted whole, so no new revision goes unchecked.
    assert sorted(linted(since="a1")) == ["a2", "a3", "b3", "o1"]
    # b3 is on another branch: it does not come before a3, so it is linted.
    assert linted(since="a3") == ["b3", "o1"]
    assert sorted(linted(since=["a2", "o1"])) == ["a3", "b3"]
    assert linted(since="heads") == []
    assert sorted(linted(since="a1", bind="default")) == ["a2", "a3", "b3"]
    assert linted(revisions=["a2", "o1"]) == ["a2", "o1"]
    with pytest.raises(UnknownRevision, match="no bind has revision 'zz'"):
        schemaver.lint(since="zz")
    with pytest.raises(UnknownRevision, match="unknown revision 'o1'"):
        schemaver.lint(bind="default", since="o1")

    out = cli(chain, "lint", "--since", "a2", "--since", "o1", code=1)
    assert "drop table t3" in out and "drop table t4" in out and "t1" not in out
    assert "lint: 2 errors, 0 warnings" in out
    assert cli(chain, "lint", "--since", "heads") == "lint: no findings\n"
    out = cli(chain, "lint", "--since", "nope", code=2)
    assert "Error: no bind has revision 'nope'" in out


def test_cli_text_json_and_exit_codes(
    chain: Flask, make_app: AppMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = make_app.migrations / "other" / "o1.py"
    line = line_of(path, "drop_table")
    monkeypatch.chdir(make_app.tmp_path)
    out = cli(chain, "lint", "--bind", "other", code=1)
    assert out.splitlines() == [
        f"other: migrations/other/o1.py:{line}: error [drop-table] drop table t5: "
        + RULES["drop-table"].reason,
        "    fix: " + RULES["drop-table"].alternative,
        "lint: 1 error, 0 warnings",
    ]
    data = json.loads(cli(chain, "lint", "--format", "json", "--bind", "other", code=1))
    assert data == [
        {
            "bind": "other",
            "revision": "o1",
            "path": str(path),
            "line": line,
            "rule": "drop-table",
            "level": "error",
            "message": "drop table t5: " + RULES["drop-table"].reason,
        }
    ]
    assert "'xml' is not one of 'text', 'json'" in cli(
        chain, "lint", "--format", "xml", code=2
    )
    assert "unknown bind 'nope'" in cli(chain, "lint", "--bind", "nope", code=2)


def test_warnings_exit_zero_and_clean_projects(
    ctx: tuple[Path, SchemaVer], app: Flask
) -> None:
    folder, _ = ctx
    assert cli(app, "lint") == "lint: no findings\n"
    assert json.loads(cli(app, "lint", "--format", "json")) == []
    write_revision_file(
        folder,
        "w1",
        None,
        upgrade="op.create_unique_constraint(None, 'user', ['name'])",
    )
    out = cli(app, "lint")
    assert "warning [unnamed-constraint]" in out and "lint: 0 errors, 1 warning" in out


def test_migrate_prints_findings_of_new_revisions(make_app: AppMaker) -> None:
    app = make_app(tables={None: {"user": ["name", "email"]}})
    out = cli(app, "migrate", "-m", "create")
    assert "wrote" in out and "error" not in out and "warning" not in out
    cli(app, "upgrade")

    app = make_app(tables={None: {"user": ["name"]}})
    out = cli(app, "migrate", "-m", "drop email")
    [written, detected, finding] = out.splitlines()
    assert detected == "    detected: drop column user.email"
    assert re.fullmatch(
        r"default: (\w{12}) line \d+: error \[drop-column\] drop column user\.email: .*",
        finding,
    )
    revision = re.search(r"wrote (\w{12})", written)
    assert revision is not None and revision.group(1) in finding

    # revision --autogenerate does the same; only the new revision is linted.
    cli(app, "upgrade")
    app = make_app(tables={None: {"user": []}})
    out = cli(app, "revision", "--autogenerate", "-m", "drop name")
    assert out.count("[drop-column]") == 1 and "user.name" in out


def test_migrate_never_fails_because_of_lint(
    make_app: AppMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()

    def broken(*args: object, **kwargs: object) -> list[Finding]:
        raise ConfigError("something is off")

    monkeypatch.setattr(make_app.schemaver, "lint", broken)
    result = app.test_cli_runner().invoke(args=["db", "migrate", "-m", "x"])
    assert result.exit_code == 0, result.output
    assert "lint skipped: something is off" in result.output


def test_many_findings_after_migrate_are_cut_short(make_app: AppMaker) -> None:
    app = make_app(tables={None: {f"t{n}": [] for n in range(12)}})
    cli(app, "migrate", "-m", "create")
    cli(app, "upgrade")
    app = make_app(tables={None: {}})
    out = cli(app, "migrate", "-m", "drop all", "--allow-drop-all")
    assert out.count("[drop-table]") == 10
    assert "... and 2 more; run 'flask db lint --bind default'" in out
