"""Lint and the plan read the raw SQL of op.execute() with a real parser (pglast for
PostgreSQL, sqlglot for the others) and judge it like the op form; SQL that can't be
read is reported, never passed."""

from __future__ import annotations

import pytest
from flask import Flask

from flask_schemaver import SchemaVer
from helpers import AppMaker
from helpers import cli
from helpers import MakeDatabase
from helpers import write_revision_file

CREATE = "op.create_table('account', sa.Column('id', sa.Integer, primary_key=True))"

#: SQL on an existing table, and the rule it must be reported under (None: nothing).
POSTGRESQL = [
    ("ALTER TABLE account DROP COLUMN email", "drop-column"),
    ("DROP TABLE account", "drop-table"),
    ("ALTER TABLE account RENAME TO client", "rename-table"),
    ("ALTER TABLE account RENAME COLUMN email TO mail", "rename-column"),
    ("ALTER TABLE account ALTER COLUMN n TYPE bigint", "change-column-type"),
    ("ALTER TABLE account ALTER COLUMN n TYPE text", None),
    ("ALTER TABLE account ALTER COLUMN n SET NOT NULL", "set-not-null"),
    (
        "ALTER TABLE account ADD CONSTRAINT fk_org FOREIGN KEY (org_id) "
        "REFERENCES org (id)",
        "constraint-not-valid",
    ),
    (
        "ALTER TABLE account ADD CONSTRAINT fk_org FOREIGN KEY (org_id) "
        "REFERENCES org (id) NOT VALID",
        None,
    ),
    ("ALTER TABLE account ADD CONSTRAINT ck_n CHECK (n > 0)", "constraint-not-valid"),
    ("ALTER TABLE account ADD CONSTRAINT uq_e UNIQUE (email)", "add-unique-constraint"),
    ("ALTER TABLE account ADD CONSTRAINT uq_e UNIQUE USING INDEX uq_e", None),
    ("ALTER TABLE account ADD COLUMN plan text NOT NULL", "add-not-null-column"),
    ("ALTER TABLE account ADD COLUMN plan text NOT NULL DEFAULT 'free'", None),
    (
        "ALTER TABLE account ADD COLUMN token uuid DEFAULT gen_random_uuid()",
        "volatile-default",
    ),
    ("CREATE INDEX ix_email ON account (email)", "create-index-not-concurrently"),
    ("DROP INDEX ix_email", "drop-index-not-concurrently"),
    ("ALTER TABLE account VALIDATE CONSTRAINT fk_org", None),
    ("FROB account", "sql-not-judged"),
]


def lint_one(app: Flask, schemaver: SchemaVer, folder: str, upgrade: str) -> set[str]:
    directory = schemaver.binds["default"].directory
    write_revision_file(directory, "a1", None, upgrade=CREATE, downgrade="pass")
    write_revision_file(
        directory, "b2", "a1", upgrade=upgrade, downgrade="op.execute('SELECT 1')"
    )
    return {f.rule for f in schemaver.lint(revisions="b2")}


@pytest.fixture
def pg_app(make_app: AppMaker, postgresql_db: MakeDatabase) -> Flask:
    app = make_app(postgresql_db())
    return app


@pytest.mark.parametrize(("sql", "rule"), POSTGRESQL)
def test_raw_sql_on_postgresql(
    pg_app: Flask, make_app: AppMaker, sql: str, rule: str | None
) -> None:
    with pg_app.app_context():
        found = lint_one(pg_app, make_app.schemaver, "pg", f"op.execute({sql!r})")
    assert found == ({rule} if rule else set()), found


def test_sql_on_a_table_the_revision_creates_is_not_reported(
    pg_app: Flask, make_app: AppMaker
) -> None:
    body = (
        "op.execute('CREATE TABLE log (id int, m text)')\n"
        "op.execute('ALTER TABLE log DROP COLUMN m')\n"
        "op.execute('CREATE INDEX ix_log ON log (id)')"
    )
    with pg_app.app_context():
        assert lint_one(pg_app, make_app.schemaver, "pg", body) == set()


def test_add_column_with_a_foreign_key(pg_app: Flask, make_app: AppMaker) -> None:
    body = (
        "op.add_column('account', sa.Column('org_id', sa.Integer, "
        "sa.ForeignKey('org.id', name='fk_org')))"
    )
    with pg_app.app_context():
        assert lint_one(pg_app, make_app.schemaver, "pg", body) == {
            "constraint-not-valid"
        }


def test_without_the_parser_raw_sql_is_reported_not_judged(
    pg_app: Flask, make_app: AppMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flask_schemaver.lint import sql

    def missing(name: str) -> None:
        raise sql._Missing(f"{name} is not installed; install flask-schemaver[sql]")

    monkeypatch.setattr(sql, "_module", missing)
    with pg_app.app_context():
        found = lint_one(
            pg_app, make_app.schemaver, "pg", "op.execute('DROP TABLE account')"
        )
        [finding] = [
            f
            for f in make_app.schemaver.lint(revisions="b2")
            if f.rule == "sql-not-judged"
        ]
    assert "sql-not-judged" in found
    assert "pglast is not installed" in finding.message


@pytest.mark.parametrize("kind", ["sqlite", "mysql"])
def test_raw_sql_elsewhere(
    make_app: AppMaker, request: pytest.FixtureRequest, kind: str
) -> None:
    if kind == "mysql":
        url = request.getfixturevalue("mysql_db")()
    else:
        url = make_app.sqlite("main")
    app = make_app(url)
    with app.app_context():
        schemaver = make_app.schemaver
        assert lint_one(
            app, schemaver, kind, "op.execute('ALTER TABLE account DROP COLUMN email')"
        ) == {"drop-column"}
        assert lint_one(
            app, schemaver, kind, "op.execute('ALTER TABLE account RENAME TO client')"
        ) == {"rename-table"}
        assert lint_one(app, schemaver, kind, "op.execute('DROP TABLE account')") == {
            "drop-table"
        }
        assert lint_one(app, schemaver, kind, "op.execute('FROB account')") == {
            "sql-not-judged"
        }


def test_plan_and_lint_agree_on_what_is_destructive(
    pg_app: Flask, make_app: AppMaker
) -> None:
    body = (
        "op.alter_column('account', 'name', existing_type=sa.String(50), "
        "type_=sa.String(100))\n"
        "op.execute('ALTER TABLE account ADD COLUMN note text')\n"
        "op.execute('ALTER TABLE account DROP COLUMN email')\n"
        "with op.batch_alter_table('account') as batch_op:\n"
        "    batch_op.create_foreign_key('fk_org', 'org', ['org_id'], ['id'])"
    )
    with pg_app.app_context():
        lint_one(pg_app, make_app.schemaver, "pg", body)
        [plan] = make_app.schemaver.plan("b2")
        out = cli(pg_app, "upgrade", "--plan", "b2")
    operations = plan.revisions[-1].operations
    assert [o.destructive for o in operations] == [False, False, True, False]
    assert "add foreign key fk_org on account" in out
    assert "?" not in out.split("upgrade b2")[1]
