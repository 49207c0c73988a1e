"""Checks made before anything changes: arguments, revision targets, the starting point.

Every check here either passes or raises; none of them writes to a folder or a database.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from ..exceptions import ConfigError
from ..exceptions import MigrationError
from ..exceptions import SchemaVerError
from ..exceptions import UnknownRevision
from ..exceptions import UsageError
from ..runtime import environment
from ..runtime import targets
from ..runtime import versions
from ..runtime.errors import translate_errors

if TYPE_CHECKING:
    from ..binds import Bind
    from ..options import RunOptions
    from ..script.graph import RevisionGraph
    from ..settings import Settings

_REV_ID = re.compile(r"[A-Za-z0-9_]+")
#: The length of the version table's column (Alembic's ``version_num``).
_REV_ID_LENGTH = 32
_LABEL = re.compile(r"[A-Za-z_][\w-]*")
#: Words that Alembic reads as targets, never as a revision id or label.
_RESERVED = frozenset({"base", "head", "heads", "current"})


def _relative(revision: str) -> bool:
    return revision[:1] in ("+", "-") and revision[1:].isdigit()


def preflight(bind: Bind, settings: Settings, options: RunOptions) -> None:
    """Refuse a run on ``bind`` that is bad input, before any bind changes.

    Only usage errors are raised here; an operational problem (a server that is down)
    is left for the run itself to report, in that bind's own result.
    """
    check_arguments(bind, settings, options)
    if options.sql:
        return
    try:
        scripts = environment.revision_graph(bind, settings)
        check_start(bind, scripts, options, environment.current_heads(bind))
    except UsageError:
        raise
    except SchemaVerError:
        pass


def check_arguments(bind: Bind, settings: Settings, options: RunOptions) -> None:
    """What can be told wrong from the arguments and the folders alone."""
    verb, revision, sql, purge = (
        options.verb,
        options.revision,
        options.sql,
        options.purge,
    )
    if not os.path.isdir(settings.directory):
        raise MigrationError(
            f"there is no migrations folder at {settings.directory}; write revisions "
            "with 'flask db migrate' (it makes the folder), or point "
            "SCHEMAVER_DIRECTORY (or -d) at the existing folder",
            bind.name,
        )
    if sql and purge:
        raise UsageError(
            "--purge needs the live database; it cannot be used with --sql", bind.name
        )
    if sql and verb == "downgrade" and ":" not in revision:
        raise UsageError(
            "offline downgrade needs the revision to start from: give FROM:TO, "
            "e.g. 'head:base'",
            bind.name,
        )
    if sql and _relative(revision):
        raise UsageError(
            f"offline SQL cannot count {revision} from the database's revision: "
            "give FROM:TO revision ids instead",
            bind.name,
        )


def check_start(
    bind: Bind, scripts: RevisionGraph, options: RunOptions, current: tuple[str, ...]
) -> None:
    """What can be told wrong from where the bind's database is.

    ``scripts`` is the bind's :func:`~flask_schemaver.runtime.environment.revision_graph`.
    """
    verb, revision = options.verb, options.revision
    _check_flask_migrate(bind, options, current)
    with translate_errors(bind):
        _check_known(bind, scripts, options, current)
        if verb == "stamp" or not _relative(revision):
            return
        if len(current) > 1:
            raise MigrationError(
                f"the database is at several heads ({', '.join(current)}), so "
                f"'{verb} {revision}' is ambiguous; name the branch to move, "
                f"e.g. '{current[0]}@{revision}'",
                bind.name,
            )
        steps = int(revision[1:])
        if verb == "downgrade" and current:
            applied = len(list(scripts.iterate_revisions(current[0], "base")))
            if steps > applied:
                raise UsageError(
                    f"'downgrade {revision}' goes below base: only {applied} "
                    "revision(s) are applied; downgrade to 'base' to undo them all",
                    bind.name,
                )
        heads = scripts.get_heads()
        if verb == "upgrade" and len(heads) == 1:
            ahead = len(list(scripts.iterate_revisions(heads[0], current or "base")))
            if steps > ahead:
                raise UsageError(
                    f"'upgrade {revision}' goes past the head: only {ahead} "
                    "revision(s) are left to apply; upgrade to 'heads' to apply them all",
                    bind.name,
                )


def _check_flask_migrate(
    bind: Bind, options: RunOptions, current: tuple[str, ...]
) -> None:
    """Refuse to run a bind's chain from its start on a database that a Flask-Migrate
    ``--multidb`` chain migrated: its version is still in Flask-Migrate's table."""
    if current or options.verb == "stamp":
        return
    old = versions.flask_migrate_or_none(bind)
    if old:
        raise MigrationError(
            f"the database holds Flask-Migrate's alembic_version at {', '.join(old)}, "
            "from a --multidb chain, and nothing in the bind's own version table: "
            f"{options.verb} from the start would run revisions it already has; "
            "record its place in the bind's chain first with 'flask db split-multidb "
            "--stamp'",
            bind.name,
        )


def _check_known(
    bind: Bind, scripts: RevisionGraph, options: RunOptions, current: tuple[str, ...]
) -> None:
    """Refuse to start from revisions that no file has, unless purging."""
    known = {s.revision for s in scripts.walk_revisions()}
    missing = [rev for rev in current if rev not in known]
    if not missing or options.purge:
        return
    stamp = f"'flask db stamp --bind {bind.name} --purge REVISION'"
    fix = (
        f"run {stamp}"
        if options.verb == "stamp"
        else f"restore the file, or record where the database really is with {stamp}"
    )
    raise MigrationError(
        f"the database is at {', '.join(missing)}, which no revision file in "
        f"{bind.directory} has; if that is not the project's migrations folder, run "
        f"from the project's root or pass -d; else {fix}",
        bind.name,
    )


def at_target(
    bind: Bind, scripts: RevisionGraph, options: RunOptions, current: tuple[str, ...]
) -> bool:
    """Whether the run would take no step from ``current``.

    The steps are Alembic's own, computed on ``scripts`` as its command would: every
    kind of target means what it means to Alembic, and a target Alembic refuses from
    here is refused now, with Alembic's reason, before any lock is taken.
    """
    if options.purge or ":" in options.revision:
        return False
    with translate_errors(bind):
        return not targets.takes_steps(
            scripts, options.verb, options.revision, tuple(current)
        )


def validate_target(bind: Bind, settings: Settings, revision: str) -> None:
    """Raise :class:`UnknownRevision` when ``revision`` uses a name (a revision id, the
    start of one, a branch label) that names nothing in the bind.

    Only the names are checked: whether the target makes sense from where the database
    is (``+3`` past the head, ``-1`` from nothing) is Alembic's to judge, in the run.
    """
    if not targets.uses_names(revision):
        return
    scripts = environment.revision_graph(bind, settings)
    try:
        with translate_errors(bind):
            targets.check_names(scripts, revision)
    except UnknownRevision:
        raise
    except SchemaVerError:
        return  # not a problem with the argument; the run itself will report it


def check_run_target(revision: str) -> None:
    """Refuse a target of upgrade, downgrade or stamp that Alembic would read only in
    part, such as ``+1.5`` (read as ``+1``)."""
    rest = targets.unread(revision)
    if rest:
        raise UsageError(
            f"{revision!r} is not a revision target: Alembic would read it as "
            f"{revision[: -len(rest)]!r} and ignore {rest!r}"
        )


def check_rev_id(rev_id: str) -> None:
    """Refuse a revision id that cannot be part of a file name or a revision target."""
    if not _REV_ID.fullmatch(rev_id):
        raise UsageError(
            f"--rev-id {rev_id!r} may only hold letters, digits and underscores"
        )
    if len(rev_id) > _REV_ID_LENGTH:
        raise UsageError(
            f"--rev-id {rev_id!r} is longer than the {_REV_ID_LENGTH} characters a "
            "version table holds; choose a shorter id"
        )
    if rev_id in _RESERVED:
        raise UsageError(
            f"--rev-id {rev_id!r} is a word Alembic reads as a target; choose another id"
        )


def check_branch_label(bind: Bind, scripts: RevisionGraph, label: str) -> None:
    """Refuse a branch label that cannot be used as a target, or is taken."""
    if not _LABEL.fullmatch(label) or label in _RESERVED:
        raise UsageError(
            f"--branch-label {label!r} must start with a letter or '_' and hold only "
            "letters, digits, '_' and '-', and not be base, head, heads or current",
            bind.name,
        )
    owner = environment.label_owner(scripts, label)
    if owner is not None:
        raise UsageError(
            f"branch label {label!r} is already used by revision {owner}; "
            "choose another --branch-label",
            bind.name,
        )


def check_script_template(settings: Settings) -> None:
    """Refuse to write a revision from a template that is not there."""
    path = settings.script_template
    if path is not None and not os.path.isfile(path):
        raise ConfigError(
            f"SCHEMAVER_SCRIPT_TEMPLATE {path!r} is not a file; point it at a Mako "
            "template such as migrations/script.py.mako, or remove the setting to use "
            "flask_schemaver's own"
        )
