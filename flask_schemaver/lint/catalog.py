"""The lint rules as data (id, default level, dialects, reason, safe alternative).

Kept free of Alembic so that ``init_app`` can validate ``SCHEMAVER_LINT`` cheaply. The
checks themselves are in :mod:`.rules`, registered under the same ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from dataclasses import dataclass
from typing import Any

from ..exceptions import ConfigError

#: The levels a rule can be set to in ``SCHEMAVER_LINT``; "off" turns it off.
LEVELS = ("off", "warning", "error")

_MYSQL = frozenset({"mysql", "mariadb"})


@dataclass(frozen=True)
class Rule:
    """One lint rule; :doc:`/lint` explains each in full."""

    #: The rule's id, as used in ``SCHEMAVER_LINT`` and inline ignores.
    id: str
    #: ``"error"`` or ``"warning"`` unless configured otherwise.
    level: str
    #: Why the operation is a problem, in one line.
    reason: str
    #: What to do instead, in one line.
    alternative: str
    #: The dialects the rule applies to; empty for every dialect.
    dialects: frozenset[str] = frozenset()

    def applies_to(self, dialect: str) -> bool:
        """Whether the rule checks revisions of a bind on ``dialect``."""
        if not self.dialects:
            return True
        return dialect in self.dialects or (
            dialect in _MYSQL and bool(self.dialects & _MYSQL)
        )


@dataclass(frozen=True)
class Finding:
    """One problem that lint found in a revision."""

    #: The bind whose chain holds the revision.
    bind: str
    #: The revision id.
    revision: str
    #: Path of the revision file.
    path: str
    #: Line of the revision file (0 when not known).
    line: int
    #: The rule's id, e.g. ``"drop-column"``.
    rule: str
    #: ``"error"`` or ``"warning"``.
    level: str
    #: What was found and why it matters.
    message: str

    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON-ready data."""
        return asdict(self)


_PG = frozenset({"postgresql"})

RULES: dict[str, Rule] = {
    rule.id: rule
    for rule in (
        Rule(
            "drop-table",
            "error",
            "the running app still reads and writes the table until the new code is "
            "deployed, and its data is gone for good",
            "stop using the table in a deploy first, then drop it in a later revision",
        ),
        Rule(
            "drop-column",
            "error",
            "the running app still selects the column (SQLAlchemy names every mapped "
            "column) and fails until the new code is deployed",
            "remove the column from the model and deploy, then drop it in a later "
            "revision",
        ),
        Rule(
            "rename-table",
            "error",
            "the running app still uses the old name and fails until the new code is "
            "deployed",
            "create the new table, write to both, backfill, switch reads, then drop the "
            "old one; or keep the name (__tablename__)",
        ),
        Rule(
            "rename-column",
            "error",
            "the running app still uses the old name and fails until the new code is "
            "deployed",
            "add the new column, write to both, backfill, switch reads, then drop the "
            "old one; or keep the name with Column('old_name', ...) in the model",
        ),
        Rule(
            "change-column-type",
            "error",
            "most type changes rewrite the table under a lock that blocks reads and "
            "writes, and running code may write values the new type rejects",
            "add a column of the new type, backfill it in batches, switch the code, "
            "then drop the old column",
        ),
        Rule(
            "add-not-null-column",
            "error",
            "a NOT NULL column without a server default cannot be added to a table "
            "that has rows, and old code inserting rows without it fails",
            "add it nullable (or with a server_default), backfill, then make it NOT "
            "NULL in a later revision",
        ),
        Rule(
            "set-not-null",
            "error",
            "SET NOT NULL scans the whole table under a lock that blocks reads and "
            "writes, and fails if any row is NULL",
            "on PostgreSQL add a CHECK (col IS NOT NULL) NOT VALID, validate it, then "
            "SET NOT NULL (no scan from PostgreSQL 12); elsewhere backfill first",
        ),
        Rule(
            "volatile-default",
            "error",
            "a volatile or time-of-day server default is computed for every existing "
            "row when the column is added: a table rewrite under lock, or rows stamped "
            "with the migration's time",
            "add the column without a default (or a constant one), set the default "
            "afterwards, and backfill old rows in batches",
        ),
        Rule(
            "create-index-not-concurrently",
            "error",
            "CREATE INDEX blocks writes to the table for as long as the index takes "
            "to build",
            "pass postgresql_concurrently=True inside "
            "'with op.get_context().autocommit_block():'",
            _PG,
        ),
        Rule(
            "drop-index-not-concurrently",
            "warning",
            "DROP INDEX takes a lock that blocks reads and writes of the table, and "
            "waits behind every running query",
            "pass postgresql_concurrently=True inside "
            "'with op.get_context().autocommit_block():'",
            _PG,
        ),
        Rule(
            "concurrently-outside-autocommit",
            "error",
            "CREATE/DROP INDEX CONCURRENTLY cannot run inside a transaction block, and "
            "every revision runs in one",
            "put the operation in 'with op.get_context().autocommit_block():'",
            _PG,
        ),
        Rule(
            "constraint-not-valid",
            "error",
            "adding a foreign key or check constraint validates every row while "
            "holding a lock that blocks writes",
            "add it with postgresql_not_valid=True, then run VALIDATE CONSTRAINT in a "
            "later revision",
            _PG,
        ),
        Rule(
            "add-unique-constraint",
            "error",
            "adding a unique constraint builds its index while blocking writes to the "
            "table",
            "create a unique index concurrently, then ADD CONSTRAINT ... UNIQUE USING "
            "INDEX",
            _PG,
        ),
        Rule(
            "unnamed-constraint",
            "warning",
            "the database picks the name of an unnamed constraint, so a later revision "
            "cannot reliably name it to drop or alter it",
            "name it, or set a naming_convention on the models' MetaData",
        ),
        Rule(
            "raw-sql-without-downgrade",
            "warning",
            "no downgrade undoes the SQL, so the revision cannot be rolled back",
            "write the reverse SQL in downgrade(), or raise NotImplementedError there "
            "to say it cannot be undone",
        ),
        Rule(
            "backfill-with-ddl",
            "warning",
            "it runs in the schema changes' transaction and holds their locks for as "
            "long as it takes (and MySQL commits the schema changes even when the "
            "backfill fails)",
            "change the schema in one revision and backfill in the next, in batches",
        ),
        Rule(
            "backfill-outside-autocommit",
            "error",
            "backfill() commits each batch on its own and refuses to run inside the "
            "revision's transaction: the upgrade fails",
            "call it inside 'with op.get_context().autocommit_block():'",
        ),
        Rule(
            "sql-not-judged",
            "warning",
            "lint could not read the SQL, so it can't tell whether it locks tables or "
            "breaks running code",
            "install flask-schemaver[sql] (pglast, sqlglot) so that raw SQL is read, "
            "or review the SQL by hand and ignore the finding",
        ),
        Rule(
            "opaque-code",
            "warning",
            "the revision runs code lint cannot follow without a database (it reads "
            "the database, for one): operations after that point are not checked",
            "review the revision by hand, or compute what it needs without reading "
            "the database",
        ),
    )
}


def resolve_levels(configured: object) -> dict[str, str]:
    """Each rule's level: its default, or what ``SCHEMAVER_LINT`` sets it to."""
    if not isinstance(configured, Mapping):
        raise ConfigError(
            "SCHEMAVER_LINT must be a dict of rule id to 'off', 'warning' or 'error', "
            f"not {type(configured).__name__}"
        )
    unknown = sorted(str(key) for key in configured if key not in RULES)
    if unknown:
        raise ConfigError(
            f"SCHEMAVER_LINT names unknown rule(s) {', '.join(unknown)}; known rules: "
            f"{', '.join(RULES)}"
        )
    levels = {rule.id: rule.level for rule in RULES.values()}
    for key, level in configured.items():
        if level not in LEVELS:
            raise ConfigError(
                f"SCHEMAVER_LINT[{key!r}] must be 'off', 'warning' or 'error', "
                f"not {level!r}"
            )
        levels[key] = level
    return levels
