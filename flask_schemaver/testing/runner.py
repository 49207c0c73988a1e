"""A runner that migrates an app's binds on throwaway databases and moves rows across
revisions. The checks built on it are in :mod:`.checks`.

Only tests import this module: the pytest plugin loads it when a fixture runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from contextlib import contextmanager
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ..binds import Bind
from ..binds import database_identity
from ..binds import resolve_binds
from ..exceptions import ConfigError
from ..exceptions import UnknownBind
from ..exceptions import UnknownRevision
from ..exceptions import UsageError
from ..options import RunOptions
from ..results import Revision
from ..results import RunResult
from ..script.multidb import refuse_per_engine
from ..tenants import naming
from ..verbs import looks
from ..verbs import runs
from . import tenanted
from .databases import ThrowawayDatabases

if TYPE_CHECKING:
    from flask import Flask

    from ..results import Verb
    from ..settings import Settings
    from ..tenants import Kind
    from .templates import TemplateDatabases

_KEYWORDS = frozenset({"head", "heads", "base"})


class MigrationRunner:
    """Migrates an app's binds on throwaway databases.

    Every bind of ``app`` gets an empty database of the kind its URL names, or, with
    ``templates``, a fresh copy of a database already at its heads; binds that share a
    database in the app's configuration share one here too. The app's own
    engines (and ``db.session``) are left alone: reach the throwaway databases through
    the runner.

    A tenanted bind gets a throwaway tenant in place of the
    tenants its app lists, whose function is never called: with a schema per tenant,
    a schema of the throwaway database, reached as ``flask db upgrade`` reaches a
    customer's; with a database per tenant, a throwaway database of its own.
    ``tenants`` says which a bind has (``{"shop": "database"}``) where the default
    is not right: schemas on PostgreSQL and MySQL/MariaDB, databases elsewhere.

    Methods that take ``bind`` pick the bind themselves when the app has one, or when
    the revision or table given belongs to one bind only.
    """

    def __init__(
        self,
        app: Flask,
        databases: ThrowawayDatabases,
        folder: Path,
        *,
        templates: TemplateDatabases | None = None,
        tenants: Mapping[str, str] | None = None,
    ) -> None:
        state = app.extensions.get("schemaver")
        if state is None:
            raise ConfigError(
                f"SchemaVer is not set up on app {app.name!r}; the app fixture must "
                "return an app that schemaver.init_app(app) was called on"
            )
        self.app = app
        #: The app's settings.
        self.settings: Settings = state.settings
        with app.app_context():
            configured = resolve_binds(app, state.db, state.settings)
        # A Flask-Migrate --multidb chain holds every bind's work: never run as is.
        refuse_per_engine(configured.values())
        self._kinds: dict[str, Kind] = tenanted.kinds(state, configured, tenants)
        self._databases = databases
        self._templates = templates
        self._urls: list[sa.URL] = []
        self._engines: list[sa.Engine] = []
        self._stack = ExitStack()
        #: The app's binds by name, each pointed at its throwaway database; a
        #: tenanted bind's is its throwaway tenant.
        self.binds: dict[str, Bind] = {}
        self._views: dict[str, Bind] = {}
        self._hosts: dict[str, Bind] = {}
        self._user_engines: dict[str, sa.Engine] = {}
        groups: dict[tuple[Any, ...], list[Bind]] = {}
        for bind in configured.values():
            where = database_identity(bind.engine)
            if self._kinds.get(bind.name) == "database":
                where = ("tenant", bind.name)  # a database of its own, as in production
            groups.setdefault(where, []).append(bind)
        try:
            for group in groups.values():
                self._set_up(group, folder / f"{group[0].name}.db")
            self.binds = {name: self.binds[name] for name in configured}
        except BaseException:
            self.close()
            raise

    def _set_up(self, group: list[Bind], sqlite_file: Path) -> None:
        """Point ``group``, binds that share a database, at a throwaway database."""
        kinds = [self._kinds.get(b.name) for b in group]
        pairs = list(zip(group, kinds, strict=True))
        templates = self._templates
        if templates is not None and all(tenanted.copied(b, k) for b, k in pairs):
            built = [b if k is None else tenanted.as_tenant(b, k) for b, k in pairs]
            url = templates.acquire(built, self.settings, sqlite_file)
        else:
            first = group[0]
            url = self._databases.acquire(first.engine.url, sqlite_file, first.name)
        self._urls.append(url)
        engine = sa.create_engine(url)
        self._engines.append(engine)
        for bind, kind in pairs:
            migrated, seen = tenanted.place(bind, kind, engine, self._stack)
            self.binds[bind.name], self._views[bind.name] = migrated, seen
            if kind == "schema":
                self._hosts[bind.name] = dataclasses.replace(bind, engine=engine)
        if templates is not None and not all(tenanted.copied(b, k) for b, k in pairs):
            for bind in group:  # built from empty, as the template would have been
                self._run("upgrade", self.binds[bind.name], "heads")

    def close(self) -> None:
        """Close the connections, drop the throwaway tenants that are not in a
        throwaway database, and hand the databases back."""
        for engine in self._engines:
            engine.dispose()
        self._engines.clear()
        self._stack.close()
        release = self._databases.release
        if self._templates is not None:
            release = self._templates.release
        for url in self._urls:
            release(url)
        self._urls.clear()

    # -- binds and revisions ----------------------------------------------------------

    @property
    def tenant_kinds(self) -> dict[str, str]:
        """How each tenanted bind keeps its throwaway tenant: ``"schema"`` or
        ``"database"``."""
        return dict(self._kinds)

    def bind(self, name: str | None = None) -> Bind:
        """The bind named, pointed at its throwaway database: for a tenanted bind,
        its throwaway tenant, as migrations reach it (its ``tenant`` and
        ``tenant_schema`` name it)."""
        return self._pick(name)

    def view(self, bind: str | None = None) -> Bind:
        """The bind as tests and the models see it: the same as :meth:`bind`, but for
        a tenant in a schema, whose schema is the default one of this bind's
        connections (and its version table is found there)."""
        return self._views[self._pick(bind).name]

    def tenant_host(self, bind: str | None = None) -> Bind | None:
        """For a bind with a schema per tenant, the throwaway database its tenant's
        schema is in, as a plain bind; None for other binds."""
        return self._hosts.get(self._pick(bind).name)

    def engine(self, bind: str | None = None) -> sa.Engine:
        """The engine of the bind's throwaway database. For a tenant in a schema, its
        connections have the tenant's schema as their default one, and
        ``schema_translate_map`` puts the models' tables there, as the app does in
        its requests."""
        name = self._pick(bind).name
        if name not in self._user_engines:
            engine = self._views[name].engine
            schema = self.binds[name].tenant_schema
            if schema is not None:
                engine = engine.execution_options(schema_translate_map={None: schema})
            self._user_engines[name] = engine
        return self._user_engines[name]

    @contextmanager
    def connect(self, bind: str | None = None) -> Iterator[sa.Connection]:
        """A connection to the bind's throwaway database (see :meth:`engine`),
        committed at the end."""
        with self.engine(bind).begin() as connection:
            yield connection

    def revisions(self, bind: str | None = None) -> list[Revision]:
        """The bind's revisions in an order they can be applied: each after the
        revisions it builds on or depends on."""
        history = list(reversed(looks.history(self._pick(bind), self.settings)))
        known = {r.id for r in history}
        placed: set[str] = set()
        ordered: list[Revision] = []
        while len(ordered) < len(history):
            for revision in history:
                needs = {*revision.down_revisions, *revision.depends_on} & known
                if revision.id not in placed and needs <= placed:
                    ordered.append(revision)
                    placed.add(revision.id)
                    break
            else:  # pragma: no cover - Alembic refuses cycles before this
                raise UsageError("the revisions depend on each other in a cycle")
        return ordered

    def heads(self, bind: str | None = None) -> tuple[str, ...]:
        """The ids of the bind's head revisions."""
        return tuple(r.id for r in looks.heads(self._pick(bind), self.settings))

    def current(self, bind: str | None = None) -> tuple[str, ...]:
        """The revisions the bind's throwaway database is at."""
        return looks.current(self._pick(bind))

    def schema(self, bind: str | None = None) -> dict[tuple[str, str], str]:
        """What the bind's throwaway database holds: tables, columns, indexes,
        constraints, views, sequences and types, without version tables and the
        tables of other binds."""
        from .snapshots import snapshot

        return snapshot(self.view(bind))

    # -- migrating --------------------------------------------------------------------

    def upgrade(
        self, revision: str = "heads", bind: str | None = None
    ) -> list[RunResult]:
        """Upgrade to ``revision``: every bind for ``heads``, else the bind that has it."""
        return [
            self._run("upgrade", b, revision) for b in self._targets(revision, bind)
        ]

    def downgrade(self, revision: str, bind: str | None = None) -> list[RunResult]:
        """Downgrade to ``revision``: every bind for ``base``, else the bind that has it."""
        return [
            self._run("downgrade", b, revision) for b in self._targets(revision, bind)
        ]

    def stamp(
        self, revision: str, bind: str | None = None, *, purge: bool = False
    ) -> RunResult:
        """Set the bind's version table to ``revision`` without running migrations;
        ``purge`` first empties it."""
        b = self._pick(bind, revision=revision)
        return self._run("stamp", b, revision, purge=purge)

    def migrate_to(self, revision: str, bind: str | None = None) -> RunResult | None:
        """Upgrade or downgrade the bind, whichever brings it to ``revision``."""
        b = self._pick(bind, revision=revision)
        if revision in ("head", "heads"):
            return self._run("upgrade", b, "heads")
        if revision == "base":
            return self._run("downgrade", b, "base")
        found = looks.show(b, self.settings, revision)
        target = found[0].id
        state = looks.status(b, self.settings)
        if target in state.current:
            return None
        applied = {s.revision.id for s in state.revisions if s.applied}
        if target in applied:
            return self._run("downgrade", b, target)
        return self._run("upgrade", b, target)

    def _run(
        self, verb: Verb, bind: Bind, revision: str, *, purge: bool = False
    ) -> RunResult:
        options = RunOptions(verb, revision, (bind.name,), purge=purge)
        with naming(bind):
            return runs.run(bind, self.settings, options)

    # -- rows -------------------------------------------------------------------------

    def table(
        self, name: str, *, bind: str | None = None, schema: str | None = None
    ) -> sa.Table:
        """The table as it is in the bind's throwaway database now."""
        b = self._pick(bind, table=name, schema=schema)
        engine = self.engine(b.name)
        try:
            return sa.Table(name, sa.MetaData(), schema=schema, autoload_with=engine)
        except sa.exc.NoSuchTableError:
            at = ", ".join(self.current(b.name)) or "base"
            raise UsageError(
                f"there is no table {name!r} in the database at revision {at}", b.name
            ) from None

    def insert(
        self,
        table: str,
        rows: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        *,
        revision: str | None = None,
        bind: str | None = None,
        schema: str | None = None,
    ) -> None:
        """Insert rows into ``table`` as it is at ``revision`` (migrating there first),
        or as it is now."""
        b = self._at(revision, bind, table, schema)
        reflected = self.table(table, bind=b.name, schema=schema)
        values = [rows] if isinstance(rows, Mapping) else list(rows)
        with self.connect(b.name) as connection:
            connection.execute(reflected.insert(), [dict(v) for v in values])

    def rows(
        self,
        table: str,
        *,
        revision: str | None = None,
        bind: str | None = None,
        schema: str | None = None,
    ) -> list[dict[str, Any]]:
        """The rows of ``table`` at ``revision`` (migrating there first), or now;
        ordered by primary key."""
        b = self._at(revision, bind, table, schema)
        reflected = self.table(table, bind=b.name, schema=schema)
        query = sa.select(reflected).order_by(*reflected.primary_key.columns)
        with self.engine(b.name).connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]

    # -- picking binds ----------------------------------------------------------------

    def _at(
        self, revision: str | None, bind: str | None, table: str, schema: str | None
    ) -> Bind:
        if revision is None:
            return self._pick(bind, table=table, schema=schema)
        b = self._pick(bind, revision=revision)
        self.migrate_to(revision, b.name)
        return b

    def _targets(self, revision: str, bind: str | None) -> list[Bind]:
        if bind is None and revision in _KEYWORDS:
            return list(self.binds.values())
        return [self._pick(bind, revision=revision)]

    def _pick(
        self,
        bind: str | None,
        *,
        revision: str | None = None,
        table: str | None = None,
        schema: str | None = None,
    ) -> Bind:
        if bind is not None:
            if bind not in self.binds:
                raise UnknownBind(bind, self.binds)
            return self.binds[bind]
        if len(self.binds) == 1:
            return next(iter(self.binds.values()))
        if revision is not None and revision not in _KEYWORDS:
            having = [b for b in self.binds.values() if self._has(b, revision)]
            if len(having) == 1:
                return having[0]
            if not having:
                raise UnknownRevision(
                    f"no bind has revision {revision!r}; the binds are: "
                    f"{', '.join(self.binds)}"
                )
        elif table is not None:
            found = [
                b
                for b in self.binds.values()
                if sa.inspect(self.engine(b.name)).has_table(table, schema=schema)
            ]
            if not found:
                raise UsageError(
                    f"no bind's database has a table {table!r} at the revision it is "
                    "at; pass revision= to migrate there first, or bind="
                )
            owners = [b for b in found if _owns(b, table, schema)] or found
            if len({id(b.engine) for b in found}) == 1:
                return owners[0]
        raise UsageError(
            f"the app has several binds ({', '.join(self.binds)}); name one with bind="
        )

    def _has(self, bind: Bind, revision: str) -> bool:
        try:
            return bool(looks.show(bind, self.settings, revision))
        except UnknownRevision:
            return False


def _owns(bind: Bind, table: str, schema: str | None) -> bool:
    return any(
        t.name == table and t.schema == schema for t in bind.metadata.tables.values()
    )
