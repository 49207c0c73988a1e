"""Alembic's and the database's errors, turned into flask_schemaver's own.

Each error names the bind, hides the URL's password, and says how to fix it: an unknown
or ambiguous revision, several heads, a cycle, two files with one id, a revision file
that raised (with its file and line), or what the database said.
"""

from __future__ import annotations

import errno
import os
import re
import traceback
import warnings
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic.script import revision as revision_errors
from alembic.util import CommandError

from ..exceptions import DatabaseError
from ..exceptions import MigrationError
from ..exceptions import MultipleHeads
from ..exceptions import SchemaVerError
from ..exceptions import UnknownRevision

if TYPE_CHECKING:
    from ..binds import Bind


@contextmanager
def translate_errors(
    bind: Bind, running: Callable[[], tuple[str, str] | None] | None = None
) -> Iterator[None]:
    """Turn Alembic's and the database's errors into flask_schemaver's, naming the bind.

    ``running`` tells which revision was running, as its id and a description, so that
    an error can name it.
    """
    try:
        with warnings.catch_warnings():
            # Alembic only warns, then uses one of the two files: refuse instead.
            warnings.filterwarnings(
                "error", message=r"Revision \S+ is present more than once"
            )
            # Alembic warns, then fails with a bare KeyError: say which is missing.
            warnings.filterwarnings(
                "error", message=r"Revision \S+ referenced from .* is not present"
            )
            # A symbolic link to a revision file of the folder is that file, read
            # once (as the text path does); Alembic's advice about version_locations
            # does not apply.
            warnings.filterwarnings("ignore", message=r"File .* loaded twice! ignoring")
            yield
    except UserWarning as exc:
        raise _warned(bind, exc) from exc
    except CommandError as exc:
        cause = exc.__cause__
        if isinstance(cause, revision_errors.RevisionError):
            raise _revision_error(bind, cause) from exc
        raise MigrationError(bind.hide_secrets(str(exc)), bind.name) from exc
    except revision_errors.RevisionError as exc:
        raise _revision_error(bind, exc) from exc
    except SyntaxError as exc:
        raise MigrationError(
            f"{exc.filename}, line {exc.lineno}: {exc.msg}; fix the revision file",
            bind.name,
        ) from exc
    except sa.exc.DBAPIError as exc:
        step = running() if running else None
        revision = step[0] if step else None
        message = _database_message(bind, exc)
        if step:
            message = f"{step[1]} failed: {message}"
            if not bind.transactional_ddl:
                message += ". " + partly_applied(bind, step[0])
        raise DatabaseError(message, bind.name, revision) from exc
    except sa.exc.SQLAlchemyError as exc:
        step = running() if running else None
        detail = bind.hide_secrets(f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
        if step:
            detail = f"{step[1]} failed: {detail}"
        raise DatabaseError(detail, bind.name, step[0] if step else None) from exc
    except (KeyboardInterrupt, GeneratorExit):
        raise
    except OSError as exc:
        error = _from_revision(bind, exc, running() if running else None)
        raise (error or _file_error(bind, exc)) from exc
    except BaseException as exc:
        error = _from_revision(bind, exc, running() if running else None)
        error = error or _unreadable_chain(bind, exc)
        if error is None:
            raise
        raise error from exc


def _unreadable_chain(bind: Bind, exc: BaseException) -> MigrationError | None:
    """A revision file Alembic fails on while reading the chain, before any runs: an
    id that is not a string, a link to nothing."""
    frames = traceback.extract_tb(exc.__traceback__)
    alembic = os.sep + "alembic" + os.sep
    loading = os.sep + os.path.join("alembic", "script") + os.sep
    if not frames or alembic not in frames[-1].filename:
        return None  # raised by other code than Alembic's
    if not any(loading in frame.filename for frame in frames):
        return None
    if isinstance(exc, ImportError):
        return MigrationError(
            f"{exc} in {bind.directory}: a revision file that can't be read (a broken "
            "link?); remove it or restore what it points to",
            bind.name,
        )
    where = _file_in(exc) or str(bind.directory)
    return MigrationError(
        f"{where} can't be read as a revision file ({type(exc).__name__}: {exc}); "
        "check that its revision, down_revision, branch_labels and depends_on are "
        "strings (or tuples of them)",
        bind.name,
    )


def _file_in(exc: BaseException) -> str | None:
    """The revision file Alembic was loading when ``exc`` was raised, if known."""
    tb = exc.__traceback__
    found = None
    while tb is not None:
        code, local = tb.tb_frame.f_code, tb.tb_frame.f_locals
        if code.co_name == "_from_path" and isinstance(local.get("filename"), str):
            found = os.path.join(str(local.get("dir_", "")), local["filename"])
        tb = tb.tb_next
    return found


def partly_applied(bind: Bind, revision: str) -> str:
    """What to do after a revision stopped part way on a database whose DDL commits
    statement by statement."""
    advice = f"{bind.dialect} commits DDL statement by statement: the revision may have left part of its changes behind; check the schema"
    if bind.history:
        return (
            f"{advice}, then record what is there with 'flask db resolve --bind "
            f"{bind.selector} {revision} --applied' (all of it) or '--rolled-back' (none)"
        )
    return f"{advice} before running it again"


def _file_error(bind: Bind, exc: OSError) -> MigrationError:
    """A revision file or folder that cannot be read or written."""
    where = exc.filename or bind.directory
    hint = (
        "check that the file and its folder can be read (and written, to add revisions)"
    )
    if exc.errno == errno.ENAMETOOLONG:
        hint = "lower SCHEMAVER_TRUNCATE_SLUG_LENGTH or give a shorter message"
    return MigrationError(f"{where}: {exc.strerror or exc}; {hint}", bind.name)


def _from_revision(
    bind: Bind, exc: BaseException, step: tuple[str, str] | None
) -> MigrationError | None:
    """The error of a revision file's code that raised ``exc`` (or called
    ``sys.exit``); None when ``exc`` did not come from a revision file."""
    where = _revision_frame(bind, exc)
    if where is None:
        return None
    prefix = f"{step[1]} failed at " if step else ""
    if isinstance(exc, SystemExit) or not isinstance(exc, Exception):
        call = (
            f"sys.exit({exc.code!r})"
            if isinstance(exc, SystemExit)
            else type(exc).__name__
        )
        return MigrationError(
            f"{prefix}{where}: the revision file ends the process ({call}); raise an "
            "exception to fail a revision instead",
            bind.name,
        )
    if isinstance(exc, SchemaVerError):  # said by flask_schemaver's own helpers
        return MigrationError(f"{prefix}{where}: {exc.message}", bind.name)
    detail = bind.hide_secrets(f"{type(exc).__name__}: {exc}")
    return MigrationError(
        f"{prefix}{where}: {detail}; fix the revision file", bind.name
    )


#: Alembic's warning for a parent that no revision has: the parent and who names it.
_MISSING_PARENT = re.compile(r"Revision (\S+) referenced from \w+\('([^']+)'")
#: Alembic's complaint when a downgrade target is not below the current revision.
_NOT_BELOW = re.compile(r"is not an ancestor of revision")


def _warned(bind: Bind, exc: UserWarning) -> MigrationError:
    """The warnings of Alembic's that flask_schemaver refuses to go past."""
    missing = _MISSING_PARENT.search(str(exc))
    if missing:
        parent, child = missing.groups()
        return MigrationError(
            f"revision {child} names {parent} as its down_revision (or depends_on), "
            f"but no revision file in {bind.directory} has it; fix that name in "
            f"{child}'s file, or restore the file of {parent}",
            bind.name,
        )
    return MigrationError(
        f"{exc} in {bind.directory}: two revision files share this id; give one "
        "of them a new 'revision' id (and update the down_revision that names it)",
        bind.name,
    )


def _revision_error(
    bind: Bind, exc: revision_errors.RevisionError
) -> MigrationError | UnknownRevision:
    """Alembic's complaint about the revision graph or a target, in our words."""
    if isinstance(exc, revision_errors.MultipleHeads):
        return MultipleHeads(bind.name, exc.heads)
    if isinstance(exc, revision_errors.ResolutionError):
        return _unknown_revision(bind, exc)
    if isinstance(exc, revision_errors.CycleDetected):
        return _cycle(bind, exc)
    if _NOT_BELOW.search(str(exc)):
        return MigrationError(
            "the target is not below where the database is, so there is nothing to "
            "downgrade to it; 'flask db current' and 'flask db history' show where "
            "the database is (use upgrade to go up)",
            bind.name,
        )
    return MigrationError(bind.hide_secrets(str(exc)), bind.name)


def _cycle(bind: Bind, exc: revision_errors.CycleDetected) -> MigrationError:
    return MigrationError(
        f"{exc} in {bind.directory}; fix the down_revision (or depends_on) of these "
        "revision files so the chain runs one way",
        bind.name,
    )


def _unknown_revision(
    bind: Bind, exc: revision_errors.ResolutionError
) -> UnknownRevision:
    argument = bind.hide_secrets(str(exc.argument))
    if str(exc).startswith("Multiple revisions start with"):
        detail = bind.hide_secrets(str(exc))
        return UnknownRevision(f"{detail}; give more characters of the id", bind.name)
    return UnknownRevision(
        f"unknown revision {argument!r}; 'flask db history --bind {bind.name}' lists "
        "the bind's revisions",
        bind.name,
    )


def _revision_frame(bind: Bind, exc: BaseException) -> str | None:
    """The innermost place in one of the bind's revision files that ``exc`` passed."""
    folder = str(bind.directory.resolve())
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if os.path.abspath(frame.filename).startswith(folder + os.sep):
            return f"{frame.filename}, line {frame.lineno}"
    return None


_DATABASE_HINTS = (
    (
        re.compile(r"database \S+ does not exist|unknown database", re.I),
        "create the database, or correct the bind's URL",
    ),
    (
        re.compile(
            r"connection refused|can't connect|could not connect|timeout expired", re.I
        ),
        "check that the database server is running and the bind's URL is right",
    ),
    (
        re.compile(
            r"permission denied|must be owner|access denied|command denied", re.I
        ),
        "grant the bind's database user the rights it needs, or migrate as a user "
        "that has them",
    ),
    (
        re.compile(r"password authentication failed|authentication failed", re.I),
        "check the user name and password in the bind's URL",
    ),
)


def _database_message(bind: Bind, exc: sa.exc.DBAPIError) -> str:
    detail = " ".join(str(exc.orig).split()) if exc.orig is not None else str(exc)
    message = f"{bind.safe_url}: {detail}"
    for pattern, hint in _DATABASE_HINTS:
        if pattern.search(detail):
            message = f"{message}; {hint}"
            break
    return bind.hide_secrets(message)
