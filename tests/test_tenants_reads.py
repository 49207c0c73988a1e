"""A tenant's run reads its version table once under its lock, and Alembic starts from
what was read: no second probe and read of the table for each tenant of a fleet."""

from __future__ import annotations

from typing import Any

import pytest

from helpers import AppMaker
from helpers import MakeDatabase
from tenant_helpers import Counter
from tenant_helpers import make_schemas
from tenant_helpers import tenanted_app


@pytest.mark.postgresql
def test_a_tenant_behind_has_its_version_read_once_under_its_lock(
    make_app: AppMaker, postgresql_db: MakeDatabase
) -> None:
    url = postgresql_db()
    names = ["acme", "beta"]
    outside = make_schemas(url, names)
    app = tenanted_app(make_app, url, lambda: names)
    with app.app_context():
        make_app.schemaver.upgrade("r1", bind="shop")
        engine = make_app.db.engines["shop"]
        with Counter(engine) as counted:
            results = make_app.schemaver.upgrade(bind="shop")
    outside.dispose()
    assert [(r.tenant, r.after) for r in results] == [
        ("acme", ("r2",)),
        ("beta", ("r2",)),
    ]
    for name in names:
        own = [s for s in counted.statements if f"{name}.alembic_version_shop" in s]
        reads = [s for s in own if s.startswith("SELECT") and "version_num" in s]
        assert reads == [f"SELECT version_num FROM {name}.alembic_version_shop"]
        # The history table probed, the version read, and one write of both.
        assert len(own) == 3 and own[-1].startswith("WITH schemaver_history AS ("), own
    # The version table is looked for once a tenant (by the read under the lock),
    # not a second time by Alembic.
    probes = [s for s in counted.statements if "pg_catalog.pg_class.relname" in s]
    assert len(probes) == len(names), probes


@pytest.mark.parametrize("schema", [None, "acme", "Mixed Case", "select"])
def test_the_history_row_insert_is_the_one_sqlalchemy_compiles(
    schema: str | None,
) -> None:
    """Compiled once per kind of dialect and put in each tenant's schema: the same
    statement SQLAlchemy compiles for that schema's table."""
    import types

    import sqlalchemy as sa
    from sqlalchemy.dialects import postgresql

    from flask_schemaver.runtime import history
    from flask_schemaver.runtime import riding

    dialect = postgresql.dialect()
    bind: Any = types.SimpleNamespace(
        history_table="alembic_version_shop_history", version_table_schema=schema
    )
    given = [c for c in history.columns() if c.name != "id"]
    table = sa.Table(bind.history_table, sa.MetaData(), *given, schema=schema)
    assert riding._insert(bind, dialect) == riding._compile(table, dialect)
