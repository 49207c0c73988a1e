"""PostgreSQL serial columns for autogenerate, found with one query instead of one each.

When autogenerate reflects a PostgreSQL table, Alembic asks the server, for every integer
column whose default is ``nextval('...'::regclass)``, which column owns that sequence.
A sequence owned by the column itself makes the column a ``SERIAL``, and its default is
dropped from the comparison. That is one round trip per such column: on a schema of a
thousand tables, most of the time ``flask db check`` spends. Here the same question is
asked once for every sequence in the database, and each column is answered from that.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from sqlalchemy.dialects.postgresql import BIGINT
from sqlalchemy.dialects.postgresql import INTEGER

_NEXTVAL = re.compile(r"nextval\('(.+?)'::regclass\)")

# Alembic's own query for one sequence, for all of them: each sequence, as the server
# spells it in a column default, and the column that owns it.
_OWNERS = sa.text(
    "SELECT c.oid::regclass::text AS sequence, a.attname AS owner "
    "FROM pg_class AS c "
    "JOIN pg_depend AS d ON d.objid = c.oid "
    "AND d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass "
    "JOIN pg_class AS t ON t.oid = d.refobjid "
    "JOIN pg_attribute AS a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid "
    "WHERE c.relkind = 'S'"
)


def answer_in_bulk(context: MigrationContext) -> None:
    """Make ``context``'s autogenerate find serial columns with a single query.

    Only this context changes; on other databases nothing does.
    """
    impl = context.impl
    if impl.dialect.name != "postgresql" or context.connection is None:
        return
    connection = context.connection
    owners: dict[str, str] | None = None

    def autogen_column_reflect(
        inspector: Any, table: sa.Table, column_info: dict[str, Any]
    ) -> None:
        nonlocal owners
        default = column_info.get("default")
        if not default or not isinstance(column_info["type"], (INTEGER, BIGINT)):
            return
        match = _NEXTVAL.match(default)
        if match is None:
            return
        if owners is None:
            owners = {seq: owner for seq, owner in connection.execute(_OWNERS)}
        if owners.get(match.group(1)) == column_info["name"]:
            del column_info["default"]

    impl.autogen_column_reflect = autogen_column_reflect  # type: ignore[method-assign]
