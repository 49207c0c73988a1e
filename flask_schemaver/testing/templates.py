"""Template databases: each database of an app migrated to its heads once, then copied
for every test that asks for it.

Building a database by running every revision is what makes migration tests slow;
copying a built one is not. A template is built per database (the binds that share a
database share it) and keyed by a fingerprint of what it is built from: the revision
files, the models, the binds' settings, the kind and version of the server, and the
versions of flask_schemaver, Alembic and SQLAlchemy. A copy is made the fastest way
each kind of database allows that carries everything (see
:meth:`~flask_schemaver.dialects.base.Dialect.copier`): ``CREATE DATABASE ...
TEMPLATE`` on PostgreSQL, SQLite's backup of the file, a replay of the template's own
definitions and rows on MySQL/MariaDB. Where a template cannot be copied faithfully,
every copy is built by upgrading instead.

Templates last for the test session and are dropped at its end, unless they are kept:
a kept template is named after its fingerprint, found again by the next session while
nothing it was built from changed, and replaced (the old one dropped) once something
did.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import sqlite3
import uuid
from collections import deque
from collections.abc import Callable
from collections.abc import Sequence
from concurrent.futures import Future
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from .. import dialects
from ..binds import Bind
from ..exceptions import SchemaVerError
from ..options import RunOptions
from ..settings import Settings
from ..tenants import naming
from ..verbs import runs
from .databases import _server_key
from .databases import ThrowawayDatabases
from .fingerprints import fingerprint
from .tenanted import on_engine

if TYPE_CHECKING:
    from ..dialects.base import Dialect

#: The names kept templates start with.
KEEP_PREFIX = "schemaver_keep_"
#: Copies made ahead of the tests that will ask for them, at most, per template.
_AHEAD = 3


@dataclass
class _Template:
    """One built template and how to copy it."""

    #: The template database's name, or its file for SQLite.
    name: str
    #: A URL on the template's server; None for SQLite.
    server: sa.URL | None = None
    #: Makes a copy with the given name; None to build each copy by upgrading.
    copier: Callable[[str], None] | None = None
    #: Copies being made ahead of the next tests that ask, once the template serves
    #: more than one test.
    spares: deque[Future[str]] = field(default_factory=deque)
    uses: int = 0
    #: Why it could not be built, said again to every test that asks.
    error: SchemaVerError | None = None
    copies: list[str] = field(default_factory=list)


class TemplateDatabases:
    """Databases at head for tests: built once, copied for each test.

    :param databases: the session's :class:`~.databases.ThrowawayDatabases`, whose
        server connections and names are used.
    :param folder: where SQLite templates of this session go.
    :param keep: keep the templates after the session, and use those kept by an
        earlier one while their fingerprint is unchanged.
    :param keep_folder: where kept SQLite templates go (the pytest cache).
    """

    def __init__(
        self,
        databases: ThrowawayDatabases,
        folder: Path,
        *,
        keep: bool = False,
        keep_folder: Path | None = None,
    ) -> None:
        self.databases = databases
        self.folder = folder
        self.keep = keep
        self.keep_folder = keep_folder or folder
        self._templates: dict[str, _Template] = {}
        #: Server copies handed out: URL rendered without the password -> template.
        self._lent: dict[str, tuple[sa.URL, _Template | None]] = {}
        self._numbers = itertools.count(1)
        #: Copies made ahead, and dropped, while tests run.
        self._background = ThreadPoolExecutor(_AHEAD, thread_name_prefix="schemaver")
        #: Fingerprints computed, and templates built, in this session: what the
        #: tests of the plugin count.
        self.built = 0

    # -- lending copies -------------------------------------------------------------

    def acquire(
        self, binds: Sequence[Bind], settings: Settings, sqlite_file: Path
    ) -> sa.URL:
        """The URL of a fresh copy of the database of ``binds`` (binds sharing one
        database), every bind at its heads."""
        url = binds[0].engine.url
        backend = url.get_backend_name()
        if backend == "sqlite":
            return self._sqlite_copy(binds, settings, sqlite_file)
        kind = dialects.named(backend)
        admin = self.databases.server(url, binds[0].name)
        key = fingerprint(binds, settings, _server_identity(admin, url))
        template = self._server_template(binds, settings, admin, key)
        if template.copier is None:  # built from empty, as the template was
            copy = self.databases.acquire(url, sqlite_file, binds[0].name)
            _upgrade(binds, settings, copy)
            self._lent[_rendered(copy)] = (copy, None)
            return copy
        name = self._copy(template, kind, admin)
        copy = url.set(database=name)
        self._lent[_rendered(copy)] = (copy, template)
        return copy

    def release(self, url: sa.URL) -> None:
        """Drop a copy from :meth:`acquire` (in the background: no test waits)."""
        if url.get_backend_name() == "sqlite":
            return
        copy, template = self._lent.pop(_rendered(url), (url, None))
        if template is None:
            self.databases.release(copy)
            return
        template.copies.remove(str(copy.database))
        self._background.submit(self._drop, copy, str(copy.database))

    def close(self) -> None:
        """Drop every copy, and every template that is not kept."""
        self._background.shutdown(wait=True)
        for copy, _ in list(self._lent.values()):
            self.release(copy)
        for template in self._templates.values():
            if template.server is None:
                if template.name and not self.keep:
                    Path(template.name).unlink(missing_ok=True)
                continue
            for name in template.copies:
                self._drop(template.server, name)
            if not self.keep:
                self._drop(template.server, template.name)
        self._templates.clear()

    # -- SQLite: files ----------------------------------------------------------------

    def _sqlite_copy(
        self, binds: Sequence[Bind], settings: Settings, sqlite_file: Path
    ) -> sa.URL:
        key = fingerprint(binds, settings, f"sqlite {sqlite3.sqlite_version}")
        template = self._templates.get(key)
        if template is None:
            template = self._templates[key] = _Template("")
            try:
                template.name = self._sqlite_template(binds, settings, key)
            except SchemaVerError as exc:
                template.error = exc
        if template.error is not None:
            raise template.error
        sqlite_file.unlink(missing_ok=True)
        source = sqlite3.connect(template.name)
        target = sqlite3.connect(sqlite_file)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        return binds[0].engine.url.set(database=str(sqlite_file), query={})

    def _sqlite_template(
        self, binds: Sequence[Bind], settings: Settings, key: str
    ) -> str:
        folder = self.keep_folder if self.keep else self.folder
        folder.mkdir(parents=True, exist_ok=True)
        prefix = f"{_project(binds)}-" if self.keep else "template-"
        final = folder / f"{prefix}{key[:16]}.db"
        if self.keep and final.exists():
            return str(final)
        building = folder / f".building-{uuid.uuid4().hex[:8]}.db"
        try:
            url = binds[0].engine.url.set(database=str(building), query={})
            _upgrade(binds, settings, url)
            os.replace(building, final)
        finally:
            building.unlink(missing_ok=True)
        self.built += 1
        if self.keep:
            for stale in folder.glob(f"{prefix}*.db"):
                if stale != final:
                    stale.unlink(missing_ok=True)
        return str(final)

    # -- server databases -------------------------------------------------------------

    def _server_template(
        self, binds: Sequence[Bind], settings: Settings, admin: sa.Engine, key: str
    ) -> _Template:
        template = self._templates.get(key)
        if template is None:
            kind = dialects.named(admin.dialect.name)
            if self.keep:
                name = f"{KEEP_PREFIX}{_project(binds)}_{key[:16]}"
            else:
                name = f"schemaver_{self.databases.token}_t{next(self._numbers)}"
            template = self._templates[key] = _Template(name, binds[0].engine.url)
            try:
                self._build(binds, settings, admin, kind, template, key)
            except SchemaVerError as exc:
                template.error = exc
        if template.error is not None:
            raise template.error
        return template

    def _build(
        self,
        binds: Sequence[Bind],
        settings: Settings,
        admin: sa.Engine,
        kind: Dialect,
        template: _Template,
        key: str,
    ) -> None:
        url = binds[0].engine.url.set(database=template.name)
        mark = f"schemaver template {key}"
        with kind.server_lock(admin, template.name):
            if not (self.keep and kind.marked(admin, template.name) == mark):
                self._drop(url, template.name)
                with admin.connect() as connection:
                    kind.create_database(connection, template.name)
                try:
                    _upgrade(binds, settings, url)
                except BaseException:
                    self._drop(url, template.name)
                    raise
                if self.keep:
                    kind.mark(admin, template.name, mark)
                self.built += 1
            template.copier = kind.copier(admin, template.name)
            kind.seal(admin, template.name)
        if self.keep:
            prefix = f"{KEEP_PREFIX}{_project(binds)}_"
            for stale in kind.database_names(admin, prefix):
                if stale != template.name:
                    self._drop(url, stale)

    def _copy(self, template: _Template, kind: Dialect, admin: sa.Engine) -> str:
        """A copy's name: one made ahead if there is one, else one made now; and once
        the template serves a second test, the next ones are made ahead."""
        assert template.copier is not None
        template.uses += 1
        name: str | None = None
        if template.spares:
            with contextlib.suppress(Exception):  # made again below, and said so
                name = template.spares.popleft().result()
        if name is None:
            name = self._make_copy(template)
        while template.uses > 1 and len(template.spares) < _AHEAD:
            template.spares.append(self._background.submit(self._make_copy, template))
        return name

    def _make_copy(self, template: _Template) -> str:
        assert template.copier is not None
        name = f"schemaver_{self.databases.token}_c{next(self._numbers)}"
        template.copies.append(name)
        try:
            template.copier(name)
        except BaseException:
            template.copies.remove(name)
            raise
        return name

    def _drop(self, url: sa.URL, name: str) -> None:
        admin = self.databases.server(url, "")
        kind = dialects.named(admin.dialect.name)
        with contextlib.suppress(sa.exc.DBAPIError), admin.connect() as connection:
            kind.drop_database(connection, name)


# -- building and fingerprints --------------------------------------------------------


def _upgrade(binds: Sequence[Bind], settings: Settings, url: sa.URL) -> None:
    """Upgrade every bind of one database at ``url`` to its heads, as ``flask db
    upgrade`` does; a throwaway tenant in a schema, in its schema."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        for bind in binds:
            options = RunOptions("upgrade", "heads", (bind.name,))
            target = on_engine(bind, engine)
            with naming(target):
                runs.run(target, settings, options)
    finally:
        engine.dispose()


def _project(binds: Sequence[Bind]) -> str:
    """Which database of which project a kept template is for, in 8 characters."""
    url = binds[0].engine.url
    database = url.database or ""
    if url.get_backend_name() == "sqlite":  # a test's own file: only its name counts
        database = os.path.basename(database)
    parts = [url.get_backend_name(), database]
    parts += [f"{b.name}:{b.directory.resolve()}" for b in binds]
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:8]


def _server_identity(admin: sa.Engine, url: sa.URL) -> str:
    info = admin.dialect.server_version_info
    if info is None:  # known once connected
        with admin.connect() as connection:
            info = connection.dialect.server_version_info
    return f"{_server_key(url.set(password=None))} {info}"


def _rendered(url: sa.URL) -> str:
    return url.render_as_string(hide_password=False)
