"""Provisioning a tenant (its schema or database made, then brought to the heads), and
listing a fleet's tenants with where each is."""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from ..exceptions import LockTimeout
from ..exceptions import SchemaVerError
from ..options import RunOptions
from ..places import Place
from ..results import RunResult
from ..results import TenantInfo
from ..results import TenantResult
from ..runtime import connections
from ..runtime import fleet as fleet_versions
from ..runtime import locking
from ..runtime.errors import partly_applied
from ..script import chain
from ..tenants import naming
from . import quick
from . import runs

if TYPE_CHECKING:
    from ..binds import Bind
    from ..options import WaitCallback
    from ..settings import Settings
    from ..tenants import Fleet


#: Alembic's ``op`` and ``context`` are one per process: threads of a web worker that
#: create tenants at once run their revisions one after another.
_one_at_a_time = threading.Lock()


def create(
    fleet: Fleet,
    name: str,
    settings: Settings,
    *,
    on_wait: WaitCallback | None = None,
) -> TenantResult:
    """Make tenant ``name``'s schema or database unless it exists, and bring it to the
    heads under its lock. When the upgrade fails, a schema or database this call made
    is dropped again, so that nothing half made is left and a new call starts afresh.
    """
    place = Place(fleet, name)
    tenant = place.tenant
    with naming(tenant):
        # The common case of a call repeated: no lock, no Alembic. (A SQLite file
        # is not read before it exists: connecting would make it.)
        if place.file is None or os.path.exists(place.file):
            current = quick.at_heads(tenant)
            if current:  # () could be a schema not made yet
                done = RunResult(
                    tenant.name, current, current, note="nothing to do", tenant=name
                )
                return _result(place, False, done)
        if place.kind == "schema":
            # The schema's lock is on the bind's database: held from before the
            # schema is made until it is dropped again if the upgrade fails.
            with _locked(fleet.bind, tenant, settings, on_wait):
                made = place.make()
                return _result(place, made, _upgrade(place, made, settings))
        # A database can only be locked once it exists.
        made = place.make()
        try:
            with _locked(tenant, tenant, settings, on_wait):
                done = _upgrade(place, False, settings)
        except SchemaVerError as exc:
            if made:
                _undo(place, exc)
            raise
        return _result(place, made, done)


def _upgrade(place: Place, made: bool, settings: Settings) -> RunResult:
    """Bring the tenant to the heads, its lock held by the caller; on failure, drop
    the place when ``made``."""
    tenant = place.tenant
    if not tenant.directory.is_dir():  # no revisions yet: nothing to run
        return RunResult(tenant.name, (), (), note="no revisions", tenant=place.name)
    # The lock is held already: the run must not wait for it a second time.
    unlocked = dataclasses.replace(tenant, lock=False)
    try:
        with _one_at_a_time:
            done = runs.run(unlocked, settings, RunOptions("upgrade", "heads"))
    except SchemaVerError as exc:
        if made:
            _undo(place, exc)
        raise
    done.tenant = place.name
    return done


def _undo(place: Place, error: SchemaVerError) -> None:
    """Drop the place this call made, as its upgrade failed; say so in ``error``."""
    what = f"the {place.noun} made for it"
    if isinstance(error, LockTimeout):
        # Another process holds the tenant's lock: it is working on the tenant.
        note = f"{what} is left to the process holding the tenant's lock"
    else:
        try:
            place.drop()
        except SchemaVerError as exc:
            note = f"{what} could not be dropped again: {exc.message}; drop it by hand"
        else:
            note = f"{what} was dropped again; create the tenant again once fixed"
            _forget_leftovers(place, error)
    error.message += f" ({note})"
    error.args = (error.message,)


def _forget_leftovers(place: Place, error: SchemaVerError) -> None:
    """Take out of ``error`` the advice about what a revision left part way (on MySQL
    and MariaDB): the database it would be about is gone."""
    revision = getattr(error, "revision", None)
    if revision is None or place.tenant.transactional_ddl:
        return
    advice = partly_applied(place.tenant, revision)
    for joined in (". " + advice, "; " + advice):
        error.message = error.message.replace(joined, "")


@contextmanager
def _locked(
    server: Bind, tenant: Bind, settings: Settings, on_wait: WaitCallback | None
) -> Iterator[None]:
    """Hold ``tenant``'s migration lock on a connection to ``server``'s database."""
    if not tenant.lock:
        yield
        return
    with (
        connections.connect(server) as connection,
        locking.hold(
            tenant, connection, timeout=settings.lock_timeout, on_wait=on_wait
        ),
    ):
        yield


def _result(place: Place, made: bool, done: RunResult) -> TenantResult:
    return TenantResult(**place.fields(), created=made, run=done)


def listing(fleets: list[Fleet]) -> list[TenantInfo]:
    """Each tenant of ``fleets``, where it lives, and whether it is at the heads.

    Reads every version table of tenants in schemas of one database in a couple of
    statements (as a no-op ``upgrade`` does), and makes no missing SQLite file.
    """
    places = [Place(f, name) for f in fleets for name in f.places]
    present = _present(places)
    readable = [
        p.tenant for p, there in zip(places, present, strict=True) if there is not False
    ]
    versions = iter(fleet_versions.read_versions(readable))
    judged: dict[tuple[Path, tuple[str, ...]], bool | None] = {}
    found = []
    for place, there in zip(places, present, strict=True):
        current = None if there is False else next(versions)
        up_to_date = None
        if current is not None:
            key = (place.tenant.directory, current)
            if key not in judged:
                judged[key] = chain.up_to_date(place.tenant.directory, current)
            up_to_date = judged[key]
        found.append(
            TenantInfo(
                **place.fields(), exists=there, current=current, up_to_date=up_to_date
            )
        )
    return found


def _present(places: list[Place]) -> list[bool | None]:
    """Whether each place is there: False for a missing SQLite file or schema, None
    where only reading it tells (a database on a server)."""
    schemas: dict[int, set[str] | None] = {}
    found: list[bool | None] = []
    for place in places:
        if place.file is not None:
            found.append(Path(place.file).exists())
        elif place.kind == "schema":
            key = id(place.tenant.engine.pool)
            if key not in schemas:
                schemas[key] = _schema_names(place.tenant)
            names = schemas[key]
            found.append(None if names is None else place.tenant.tenant_schema in names)
        else:
            found.append(None)
    return found


def _schema_names(tenant: Bind) -> set[str] | None:
    """The schemas of the tenant's database, in one query; None when unreadable."""
    import sqlalchemy as sa

    try:
        with connections.connect(tenant) as connection:
            return set(sa.inspect(connection).get_schema_names())
    except sa.exc.SQLAlchemyError:
        return None
