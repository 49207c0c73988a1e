"""Binds: one database each, with its own revision chain, version table and options."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any
from typing import TYPE_CHECKING

import sqlalchemy as sa

from .exceptions import ConfigError
from .exceptions import UnknownBind
from .settings import Settings

if TYPE_CHECKING:
    from flask import Flask
    from flask_sqlalchemy import SQLAlchemy

#: The name of the bind that holds Flask-SQLAlchemy's default database.
DEFAULT = "default"

#: The version table Flask-Migrate keeps, in every database of a ``--multidb`` project.
FLASK_MIGRATE_TABLE = "alembic_version"

#: One bind name, several, or None for every bind.
BindNames = str | Iterable[str] | None

#: Context options that flask_schemaver sets itself for every bind.
_RESERVED_CONTEXT = frozenset(
    {
        "connection",
        "url",
        "dialect_name",
        "target_metadata",
        "version_table",
        "version_table_schema",
        "as_sql",
        "fn",
        "output_buffer",
        "literal_binds",
        "dialect_opts",
        "dont_mutate",
    }
)


@dataclass(eq=False)
class Bind:
    """One database of the app and everything flask_schemaver knows about it."""

    name: str
    #: Flask-SQLAlchemy's bind key: ``None`` for the default database.
    key: str | None
    engine: sa.Engine
    metadata: sa.MetaData
    #: Folder holding this bind's revision files.
    directory: Path
    version_table: str
    version_table_schema: str | None
    #: Options for Alembic's ``EnvironmentContext.configure``, defaults included.
    context_options: dict[str, Any] = field(default_factory=dict)
    #: Whether upgrade, downgrade and stamp take the bind's migration lock.
    lock: bool = True
    #: Whether applied revisions are recorded in the history table (with checksums).
    history: bool = True
    #: Whether downgrade, stamp and --purge need an explicit confirmation.
    protected: bool = False
    #: Tables in the same database that belong to other binds; never this bind's concern.
    foreign_tables: frozenset[tuple[str | None, str]] = frozenset()
    #: Secrets the engine was given beside its URL (``connect_args``), to hide.
    secrets: tuple[str, ...] = ()
    #: Seconds to wait for a connection (``SCHEMAVER_CONNECT_TIMEOUT``).
    connect_timeout: float | None = None
    #: The tenant this bind stands for, on a tenanted bind; None otherwise.
    tenant: str | None = None
    #: The schema (on MySQL and MariaDB, the database) the tenant lives in, when it
    #: shares the bind's database with the other tenants; None otherwise.
    tenant_schema: str | None = None

    @property
    def label(self) -> str:
        """The bind's name, and its tenant's: ``shop/acme``."""
        return self.name if self.tenant is None else f"{self.name}/{self.tenant}"

    @property
    def selector(self) -> str:
        """What ``--bind`` takes to name this bind (and its tenant), for hints."""
        if self.tenant is None:
            return self.name
        return f"{self.name} --tenant {self.tenant}"

    @property
    def dialect(self) -> str:
        """Name of the database dialect, e.g. ``"postgresql"``."""
        return self.engine.dialect.name

    @property
    def history_table(self) -> str:
        """The table beside the version table that records applied revisions."""
        return f"{self.version_table}_history"

    @property
    def backfill_table(self) -> str:
        """The table beside the version table that keeps backfills' positions."""
        return f"{self.version_table}_backfill"

    @property
    def transactional_ddl(self) -> bool:
        """Whether a failed migration's DDL is rolled back with its transaction."""
        from . import dialects

        return dialects.of(self).transactional_ddl

    @property
    def safe_url(self) -> str:
        """The database URL with the password hidden, in its place or in the query."""
        from .masking import hide_url_secrets

        return hide_url_secrets(self.engine.url)

    def hide_secrets(self, text: str) -> str:
        """Return ``text`` with this bind's secrets masked: the URL's password, secret
        query parameters and secret ``connect_args``."""
        from .masking import hide_password
        from .masking import url_secrets

        for secret in (*url_secrets(self.engine.url), *self.secrets):
            text = hide_password(text, secret)
        return text

    def include_object(
        self, obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
    ) -> bool:
        """Leave out tables that another bind owns, then ask the user's hook."""
        if type_ == "table" and reflected and compare_to is None:
            schema = getattr(obj, "schema", None)
            if (schema, name) in self.foreign_tables:
                return False
            if (schema, name) == (self.version_table_schema, self.history_table):
                return False
            if (schema, name) == (self.version_table_schema, self.backfill_table):
                return False
            if (schema, name) == (None, FLASK_MIGRATE_TABLE):
                # Flask-Migrate's version table: this bind's own, or the record a
                # --multidb project left in its database; never a model's.
                return False
        user_hook: Callable[..., bool] | None = self.context_options.get(
            "user_include_object"
        )
        if user_hook is not None:
            return user_hook(obj, name, type_, reflected, compare_to)
        return True

    def include_name(
        self, name: str | None, type_: str, parent_names: dict[str, Any]
    ) -> bool:
        """Leave out, before anything about them is read, the tables that
        :meth:`include_object` leaves out and no model of this bind names; then ask
        the user's hook."""
        return self._name_filter(self._not_ours())(name, type_, parent_names)

    def _name_filter(
        self, skipped: set[tuple[str | None, str]]
    ) -> Callable[[str | None, str, dict[str, Any]], bool]:
        user_hook: Callable[..., bool] | None = self.context_options.get(
            "user_include_name"
        )

        def include_name(
            name: str | None, type_: str, parent_names: dict[str, Any]
        ) -> bool:
            if type_ == "table" and (parent_names.get("schema_name"), name) in skipped:
                return False
            return user_hook is None or bool(user_hook(name, type_, parent_names))

        return include_name

    def _not_ours(self) -> set[tuple[str | None, str]]:
        where = self.version_table_schema
        names = {*self.foreign_tables, (where, self.history_table)}
        names |= {(where, self.backfill_table), (None, FLASK_MIGRATE_TABLE)}
        return names - {(t.schema, t.name) for t in self.metadata.tables.values()}

    def configure_options(self) -> dict[str, Any]:
        """Keyword arguments for ``EnvironmentContext.configure`` on this bind."""
        hooks = ("user_include_object", "user_include_name")
        options = {k: v for k, v in self.context_options.items() if k not in hooks}
        options["include_object"] = self.include_object
        options["include_name"] = self._name_filter(self._not_ours())
        options["version_table"] = self.version_table
        options["version_table_schema"] = self.version_table_schema
        return options


_LOCAL_HOSTS = {None, "", "localhost", "127.0.0.1", "::1"}


def database_identity(engine: sa.Engine) -> tuple[Any, ...]:
    """Which database a URL names, with the local host and default port spelled one way.

    Two binds whose identities match share a database: they must not touch each other's
    tables or version tables.
    """
    from . import dialects

    url = engine.url
    kind = dialects.named(url.get_backend_name())
    host = "local" if url.host in _LOCAL_HOSTS else url.host
    port = (
        url.port or getattr(engine.dialect, "default_port", None) or kind.default_port
    )
    backend = kind.family
    database = url.database
    if backend == "sqlite" and database and not database.startswith((":", "file:")):
        database = os.path.realpath(database)
    return (backend, host, port, database)


def default_version_table(name: str) -> str:
    """The version table a bind uses unless configured otherwise."""
    if name == DEFAULT:
        # Flask-Migrate's table name, so a database it migrated is recognised.
        return FLASK_MIGRATE_TABLE
    return "alembic_version_" + re.sub(r"\W", "_", name)


def resolve_binds(app: Flask, db: SQLAlchemy, settings: Settings) -> dict[str, Bind]:
    """Build one :class:`Bind` per Flask-SQLAlchemy database, in config order.

    Must run inside an app context of ``app``.
    """
    try:
        engines = db.engines
    except RuntimeError:
        raise ConfigError(
            f"Flask-SQLAlchemy is not set up on app {app.name!r}: call db.init_app(app)"
        ) from None
    keys: list[str | None] = [None] if None in engines else []
    user_keys = list(app.config.get("SQLALCHEMY_BINDS") or {})
    keys += [k for k in user_keys if k in engines]
    keys += [k for k in engines if k not in keys]
    if DEFAULT in keys:
        raise ConfigError(
            f"SQLALCHEMY_BINDS has a bind named {DEFAULT!r}, the name flask_schemaver "
            "gives the default database; rename that bind"
        )
    names = {key: DEFAULT if key is None else key for key in keys}
    unknown = set(settings.binds) - set(names.values())
    if unknown:
        raise ConfigError(
            f"SCHEMAVER_BINDS names unknown bind(s) {', '.join(sorted(unknown))}; "
            f"the app's binds are: {', '.join(names.values())}"
        )

    binds: dict[str, Bind] = {}
    # Tables of excluded binds still belong to someone else when they share a database.
    excluded: list[tuple[sa.Engine, sa.MetaData]] = []
    for key in keys:
        name = names[key]
        overrides = settings.binds.get(name, {})
        engine = engines[key]
        metadata = db.metadatas.get(key) or sa.MetaData()
        if overrides.get("exclude"):
            excluded.append((engine, metadata))
            continue
        binds[name] = Bind(
            name=name,
            key=key,
            engine=engine,
            metadata=metadata,
            directory=_directory(settings, name, overrides.get("directory")),
            version_table=overrides.get("version_table") or default_version_table(name),
            version_table_schema=overrides.get("version_table_schema"),
            context_options=_context_options(engine, settings, name, overrides),
            lock=bool(overrides.get("lock", settings.lock)),
            history=bool(overrides.get("history", settings.history)),
            protected=bool(overrides.get("protected", False)),
            secrets=_connect_secrets(app, key),
            connect_timeout=settings.connect_timeout,
        )
        _check_names(binds[name], overrides)
    if not binds:
        raise ConfigError(
            "every bind is excluded in SCHEMAVER_BINDS; there is nothing to migrate"
        )
    _check_distinct(binds.values())
    _mark_foreign_tables(binds.values(), excluded)
    return binds


def unconfigured_models(db: SQLAlchemy) -> dict[str, list[str]]:
    """Bind keys that models name (``__bind_key__``) but no engine serves, with their
    tables: a typo there would leave the models out of every bind's migrations.

    Must run inside an app context.
    """
    engines = db.engines
    return {
        str(key): sorted(metadata.tables)
        for key, metadata in db.metadatas.items()
        if key not in engines and metadata.tables
    }


def _directory(settings: Settings, name: str, configured: Any) -> Path:
    root = Path(settings.directory)
    if configured:
        return root / Path(configured)
    return root / ("versions" if name == DEFAULT else name)


def _context_options(
    engine: sa.Engine, settings: Settings, name: str, overrides: Mapping[str, Any]
) -> dict[str, Any]:
    per_bind = overrides.get("context") or {}
    if not isinstance(per_bind, Mapping):
        raise ConfigError(f"SCHEMAVER_BINDS[{name!r}]['context'] must be a dict")
    for where, given in (
        ("SCHEMAVER_CONTEXT", settings.context),
        (f"SCHEMAVER_BINDS[{name!r}]", per_bind),
    ):
        reserved = _RESERVED_CONTEXT.intersection(given)
        if reserved:
            hint = (
                "; use the bind options version_table and version_table_schema"
                if reserved & {"version_table", "version_table_schema"}
                else "; remove it"
            )
            raise ConfigError(
                f"{where} sets {', '.join(sorted(reserved))}, which flask_schemaver "
                f"sets itself{hint}"
            )
    options: dict[str, Any] = {
        "compare_type": True,
        "render_as_batch": engine.dialect.name == "sqlite",
        "transaction_per_migration": True,
    }
    options.update(settings.context)
    options.update(per_bind)
    for hook in ("include_object", "include_name"):
        if hook in options:
            options[f"user_{hook}"] = options.pop(hook)
    return options


def _connect_secrets(app: Flask, key: str | None) -> tuple[str, ...]:
    """Secret values among the ``connect_args`` Flask-SQLAlchemy gives the bind."""
    from .masking import is_secret_key

    options: dict[str, Any] = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if key is not None:
        configured = (app.config.get("SQLALCHEMY_BINDS") or {}).get(key)
        if isinstance(configured, Mapping):
            options.update(configured)
    args = options.get("connect_args")
    if not isinstance(args, Mapping):
        return ()
    return tuple(str(v) for k, v in args.items() if is_secret_key(str(k)) and v)


#: What a version table may be called: it is also part of a lock file's name.
_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


def _check_names(bind: Bind, overrides: Mapping[str, Any]) -> None:
    """Refuse names that would only fail in the middle of a run."""
    name = bind.name
    if not overrides.get("directory") and (
        name in ("", ".", "..") or "/" in name or "\\" in name
    ):
        raise ConfigError(
            f"bind {name!r} can't name its revision folder; set 'directory' for it "
            "in SCHEMAVER_BINDS"
        )
    if not _TABLE_NAME.fullmatch(bind.version_table):
        raise ConfigError(
            f"SCHEMAVER_BINDS[{name!r}]['version_table'] {bind.version_table!r} must "
            "start with a letter or '_' and hold only letters, digits, '_' and '$'"
        )
    longest = bind.engine.dialect.max_identifier_length
    table = bind.history_table if bind.history else bind.version_table
    if longest and len(table) > longest:
        raise ConfigError(
            f"bind {name!r} would keep its history in {table!r}, longer than the "
            f"{longest} characters {bind.dialect} allows; set a shorter "
            "'version_table' for it in SCHEMAVER_BINDS"
        )


def _check_distinct(binds: Iterable[Bind]) -> None:
    folders: dict[Path, str] = {}
    tables: dict[tuple[Any, ...], tuple[str, str]] = {}
    for bind in binds:
        other = folders.setdefault(bind.directory, bind.name)
        if other != bind.name:
            raise ConfigError(
                f"binds {other!r} and {bind.name!r} would share the folder "
                f"{bind.directory}; set 'directory' for one of them in SCHEMAVER_BINDS"
            )
        here = database_identity(bind.engine) + (bind.version_table_schema,)
        kept = [(bind.version_table, "version")]
        if bind.history:
            kept.append((bind.history_table, "history"))
        for table, kind in kept:
            owner, other_kind = tables.setdefault(here + (table,), (bind.name, kind))
            if owner == bind.name:
                continue
            if kind == other_kind == "version":
                raise ConfigError(
                    f"binds {owner!r} and {bind.name!r} would share the version table "
                    f"{table!r} in one database; set 'version_table' for one of them "
                    "in SCHEMAVER_BINDS"
                )
            raise ConfigError(
                f"binds {owner!r} and {bind.name!r} would both keep {table!r} in one "
                "database (a version table and its history table); set "
                "'version_table' for one of them in SCHEMAVER_BINDS"
            )


def _mark_foreign_tables(
    binds: Iterable[Bind], excluded: Iterable[tuple[sa.Engine, sa.MetaData]]
) -> None:
    binds = list(binds)
    owners: list[tuple[Bind | None, sa.Engine, sa.MetaData]]
    owners = [(b, b.engine, b.metadata) for b in binds]
    owners += [(None, engine, metadata) for engine, metadata in excluded]
    for bind in binds:
        here = database_identity(bind.engine)
        foreign: set[tuple[str | None, str]] = set()
        for owner, engine, metadata in owners:
            if owner is bind or database_identity(engine) != here:
                continue
            foreign.update((t.schema, t.name) for t in metadata.tables.values())
            if owner is not None:
                foreign.add((owner.version_table_schema, owner.version_table))
                foreign.add((owner.version_table_schema, owner.history_table))
                foreign.add((owner.version_table_schema, owner.backfill_table))
        bind.foreign_tables = frozenset(foreign)


def select(binds: Mapping[str, Bind], names: BindNames) -> list[Bind]:
    """Pick binds by name, in the app's order; all of them when ``names`` is empty."""
    if isinstance(names, str):
        names = [names]
    wanted = list(dict.fromkeys(names or ()))
    for name in wanted:
        if name not in binds:
            raise UnknownBind(name, binds)
    if not wanted:
        return list(binds.values())
    return [bind for name, bind in binds.items() if name in wanted]
