"""The built-in migration checks of the pytest plugin, run on one bind of a
:class:`~flask_schemaver.testing.MigrationRunner`. The schema snapshots that tell
whether a downgrade left something behind are in :mod:`.snapshots`.

Each check returns when the bind is sound and raises :class:`CheckFailed` otherwise,
with a message that names the bind and, where there is one, the revision.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..exceptions import SchemaVerError
from ..options import RunOptions
from ..runtime import environment
from ..tenants import Fleet
from ..tenants import throwaway
from ..verbs import looks
from ..verbs import runs
from ..verbs import walks
from ..verbs.walks import Move
from .snapshots import compare as compare
from .snapshots import Key as Key
from .snapshots import Outside
from .snapshots import Snapshot as Snapshot
from .snapshots import snapshot as snapshot
from .snapshots import Snapshots

if TYPE_CHECKING:
    from ..binds import Bind
    from ..results import Revision
    from .runner import MigrationRunner
#: A check: runner, bind name, revision ids (or prefixes) whose downgrade to leave out.
Check = Callable[["MigrationRunner", str, Collection[str]], None]


class CheckFailed(AssertionError):
    """A check found a problem; the message says which bind, which revision, and what."""


def single_head(runner: MigrationRunner, bind: str, skip: Collection[str] = ()) -> None:
    """The bind's revisions end in one head."""
    heads = looks.heads(runner.bind(bind), runner.settings)
    if len(heads) > 1:
        raise CheckFailed(
            f"[{bind}] {len(heads)} heads: {', '.join(map(_name, heads))}; join them "
            f"with 'flask db merge --bind {bind}', or point one at the other"
        )


def upgrade(runner: MigrationRunner, bind: str, skip: Collection[str] = ()) -> None:
    """The bind upgrades from an empty database to its heads. A tenant in a schema
    upgrades one revision at a time, and no revision changes anything outside the
    tenant's schema; then a second tenant in the same database upgrades too."""
    host = runner.tenant_host(bind)
    if host is None:
        _upgrade_to_heads(runner, bind)
    else:
        _upgrade_in_schema(runner, bind, host)
    current, heads = runner.current(bind), runner.heads(bind)
    if set(current) != set(heads):
        raise CheckFailed(
            f"[{_label(runner, bind)}] upgrade from an empty database ended at "
            f"{', '.join(current) or 'base'}, not at the heads {', '.join(heads)}"
        )
    if host is not None:
        _second_tenant(runner, bind, host)


def models_match(
    runner: MigrationRunner, bind: str, skip: Collection[str] = ()
) -> None:
    """What the bind's migrations build is what its models describe."""
    _upgrade_to_heads(runner, bind)
    b = runner.view(bind)
    try:
        changes = environment.compare_models(b)
    except SchemaVerError as exc:
        raise CheckFailed(
            f"[{_label(runner, bind)}] comparing the models failed: {exc.message}"
        ) from exc
    if changes.is_empty():
        return
    code = textwrap.dedent("\n".join(environment.render_operations(b, changes)))
    lines = textwrap.indent(code, "    ")
    at = ", ".join(runner.current(bind)) or "base"
    raise CheckFailed(
        f"[{_label(runner, bind)}] the models differ from what the migrations build "
        f"(at {at}); a new "
        f"revision needs:\n{lines}\nwrite it with 'flask db migrate --bind {bind}'"
    )


def stairway(runner: MigrationRunner, bind: str, skip: Collection[str] = ()) -> None:
    """Each revision upgrades, downgrades and upgrades again, oldest first."""
    _walk(runner, bind, skip)


def clean_downgrade(
    runner: MigrationRunner, bind: str, skip: Collection[str] = ()
) -> None:
    """Each revision's downgrade leaves the schema as it was before its upgrade."""
    snapshots = Snapshots(runner.view(bind))
    before: Snapshot = {}

    def look(revision: Revision, stage: str) -> None:
        nonlocal before
        if stage == "before":
            before = snapshots.take()
            return
        problems = compare(before, snapshots.take())
        if problems:
            listed = "\n".join("    " + line for line in problems)
            raise CheckFailed(
                f"[{_label(runner, bind)}] the downgrade of revision {_name(revision)} "
                f"does not undo its upgrade:\n{listed}"
            )

    _walk(runner, bind, skip, look)


def split_multidb(
    runner: MigrationRunner, bind: str, skip: Collection[str] = ()
) -> None:
    """A bind converted by ``flask db split-multidb`` builds what Flask-Migrate's
    multidb chain (kept as the backup) built for it. Collected only for a converted
    project."""
    from .multidb import check_bind

    try:
        check_bind(runner, bind)
    except SchemaVerError as exc:
        raise CheckFailed(f"[{bind}] {exc.message}") from exc


#: The checks in the order they run, by the name their test items carry.
CHECKS: dict[str, Check] = {
    "single-head": single_head,
    "upgrade": upgrade,
    "models-match": models_match,
    "stairway": stairway,
    "clean-downgrade": clean_downgrade,
}

#: Checks collected, after :data:`CHECKS`, only for a project converted from
#: Flask-Migrate's ``--multidb`` mode (its backup folder is there).
CONVERTED_CHECKS: dict[str, Check] = {"split-multidb": split_multidb}


def skipped(revision: str, skip: Collection[str]) -> bool:
    """Whether ``revision`` is one of ``skip``, given as ids or unique prefixes."""
    return any(revision.startswith(prefix) for prefix in skip)


def _name(revision: Revision) -> str:
    return f"{revision.id} ({revision.message!r})" if revision.message else revision.id


def _label(runner: MigrationRunner, bind: str) -> str:
    """The bind, and its throwaway tenant: ``shop/schemaver_tmp_tenant``."""
    return runner.bind(bind).label


def _upgrade_to_heads(runner: MigrationRunner, bind: str) -> None:
    try:
        runner.upgrade("heads", bind)
    except SchemaVerError as exc:
        raise CheckFailed(
            f"[{_label(runner, bind)}] upgrade from an empty database failed: "
            f"{exc.message}"
        ) from exc


def _upgrade_in_schema(runner: MigrationRunner, bind: str, host: Bind) -> None:
    """Upgrade the bind's throwaway tenant one revision at a time, in one run,
    looking after each at the database outside the tenants' schemas."""
    label = _label(runner, bind)
    outside = Outside(host)
    before = outside.take()
    revisions = runner.revisions(bind)
    where: list[Revision | None] = [None]

    def moves() -> Iterator[Move]:
        for revision in revisions:
            where[0] = revision
            yield Move(revision.id, is_upgrade=True)
            changed = compare(before, outside.take(), added="appeared", removed="went")
            if changed:
                listed = "\n".join("    " + line for line in changed)
                raise CheckFailed(
                    f"[{label}] revision {_name(revision)} changes the database "
                    f"outside the tenant's schema:\n{listed}\na tenanted bind's "
                    "revisions name no schema (op.execute text and schema= "
                    "arguments included): each tenant's schema takes its place"
                )

    try:
        walks.walk(runner.bind(bind), runner.settings, moves())
    except SchemaVerError as exc:
        at = f" at revision {_name(where[0])}" if where[0] is not None else ""
        raise CheckFailed(
            f"[{label}] upgrade from an empty tenant failed{at}: {exc.message}"
        ) from exc


def _second_tenant(runner: MigrationRunner, bind: str, host: Bind) -> None:
    """A second throwaway tenant in the same database upgrades to the heads too: no
    revision makes what a database holds once (an extension, a role, a name
    outside the schema) as if it were the tenant's."""
    label = _label(runner, bind)
    options = RunOptions("upgrade", "heads", (bind,))
    try:
        with throwaway(Fleet(host, "schema", {})) as second:
            runs.run(second.tenant, runner.settings, options)
    except SchemaVerError as exc:
        raise CheckFailed(
            f"[{label}] a second tenant in the same database does not upgrade, "
            f"though the first did: {exc.message}; a revision makes something the "
            "database holds once, not each tenant's schema"
        ) from exc


def _walk(
    runner: MigrationRunner,
    bind: str,
    skip: Collection[str],
    look: Callable[[Revision, str], None] | None = None,
) -> None:
    """Take each revision up, down and up again, oldest first.

    ``look(revision, "before")`` is called just before the revision's first upgrade,
    and ``look(revision, "after")`` just after its downgrade, each time with what came
    before committed. No revision is ever downgraded but the one being walked, so a
    revision left out stays applied, and what a downgrade leaves behind is pinned on
    the revision that left it.

    The walk is one run (see :mod:`flask_schemaver.verbs.walks`): one lock, one
    connection, the revision files read once, each move a single step. It starts from
    an empty database: a bind that is not empty is first downgraded to base.
    """
    revisions = runner.revisions(bind)
    if not revisions:
        return
    if runner.current(bind):
        _empty(runner, bind, revisions[0])
    where = [(revisions[0], "upgrading")]

    def moves() -> Iterator[Move]:
        for revision in revisions:
            if look is not None:
                look(revision, "before")
            where[0] = (revision, "upgrading")
            yield Move(revision.id, is_upgrade=True)
            if skipped(revision.id, skip):
                continue
            down = revision.down_revisions[0] if revision.down_revisions else "base"
            where[0] = (revision, f"downgrading to {down}")
            yield Move(revision.id, is_upgrade=False)
            if look is not None:
                look(revision, "after")
            where[0] = (revision, "upgrading again")
            yield Move(revision.id, is_upgrade=True)

    try:
        walks.walk(runner.bind(bind), runner.settings, moves())
    except SchemaVerError as exc:
        revision, doing = where[0]
        raise CheckFailed(
            f"[{_label(runner, bind)}] at revision {_name(revision)}, {doing}: "
            f"{exc.message}"
        ) from exc


def _empty(runner: MigrationRunner, bind: str, first: Revision) -> None:
    try:
        runner.downgrade("base", bind)
    except SchemaVerError as exc:
        raise CheckFailed(
            f"[{_label(runner, bind)}] at revision {_name(first)}, emptying the "
            f"database: {exc.message}"
        ) from exc
