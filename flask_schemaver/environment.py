"""The in-memory Alembic environment of one bind.

This is the only module that knows how Alembic is wired: it builds the ``Config`` and
``ScriptDirectory`` for a bind, runs the bundled ``env.py`` through :func:`run_env`, and
turns Alembic's and the database's errors into flask_schemaver's own.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import traceback
import warnings
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from typing import TextIO
from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic.config import Config
from alembic.operations import ops
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import revision as revision_errors
from alembic.script import ScriptDirectory
from alembic.util import CommandError

from . import quick
from . import serials
from .exceptions import DatabaseError
from .exceptions import MigrationError
from .exceptions import MultipleHeads
from .exceptions import UnknownRevision

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationInfo

    from .binds import Bind
    from .settings import Settings

#: Alembic's script location: holds the bundled env.py and script.py.mako.
SCRIPT_LOCATION = Path(__file__).parent / "alembic_env"

_BIND = "schemaver.bind"
_CONNECTION = "schemaver.connection"
_ON_APPLY = "schemaver.on_version_apply"
_ON_START = "schemaver.on_step_start"
_SKIP_EMPTY = "schemaver.skip_empty"


def _escape(value: object) -> str:
    # Config values go through configparser interpolation.
    return str(value).replace("%", "%%")


def make_config(
    bind: Bind,
    settings: Settings,
    *,
    x_args: Sequence[str] = (),
    autogenerate: bool = False,
    output_buffer: TextIO | None = None,
    connection: sa.Connection | None = None,
    on_version_apply: Callable[..., None] | None = None,
    on_step_start: Callable[[MigrationInfo], None] | None = None,
) -> Config:
    """Build the Alembic ``Config`` for one bind, without any file."""
    config = Config(
        output_buffer=output_buffer,
        stdout=io.StringIO(),
        cmd_opts=argparse.Namespace(
            quiet=True, x=list(x_args), autogenerate=autogenerate
        ),
    )
    config.set_main_option("script_location", _escape(SCRIPT_LOCATION))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", _escape(bind.directory))
    config.set_main_option("file_template", _escape(settings.file_template))
    if settings.timezone:
        config.set_main_option("timezone", _escape(settings.timezone))
    if settings.truncate_slug_length is not None:
        config.set_main_option(
            "truncate_slug_length", str(settings.truncate_slug_length)
        )
    if settings.post_write_hooks:
        names = [hook["name"] for hook in settings.post_write_hooks]
        config.set_section_option("post_write_hooks", "hooks", ", ".join(names))
        for hook in settings.post_write_hooks:
            for key, value in hook.items():
                if key != "name":
                    config.set_section_option(
                        "post_write_hooks", f"{hook['name']}.{key}", _escape(value)
                    )
    config.attributes[_BIND] = bind
    config.attributes[_SKIP_EMPTY] = settings.skip_empty
    config.attributes[_CONNECTION] = connection
    config.attributes[_ON_APPLY] = on_version_apply
    config.attributes[_ON_START] = on_step_start
    return config


def script_directory(config: Config) -> ScriptDirectory:
    """The ``ScriptDirectory`` of the bind ``config`` was made for."""
    return ScriptDirectory.from_config(config)


#: Per revision folder: the files' fingerprint and the ScriptDirectory that imported them.
_imported: dict[Path, tuple[tuple[tuple[str, str], ...], ScriptDirectory]] = {}


def imported_scripts(config: Config) -> ScriptDirectory:
    """The bind's ``ScriptDirectory``, its revision files imported once per process.

    Alembic imports every revision file each time a command makes its
    ``ScriptDirectory``. A process that migrates a bind again and again, such as a test
    session or the pytest plugin's stairway, would import the whole chain at every step.
    The files are imported again as soon as one is added, removed, renamed or edited:
    their names and content hashes are compared at every call.
    """
    from . import revfiles

    bind: Bind = config.attributes[_BIND]
    folder = bind.directory.resolve()
    files = revfiles.fingerprint(folder)
    cached = _imported.get(folder)
    if cached is not None and cached[0] == files:
        return cached[1]
    scripts = script_directory(config)
    _imported[folder] = (files, scripts)
    return scripts


def run_online(
    alembic_command: Callable[..., None], config: Config, revision: str, **kwargs: Any
) -> None:
    """Run an Alembic command against the database; ``upgrade`` and ``downgrade`` as
    Alembic's commands do, on the revision files :func:`imported_scripts` keeps."""
    verb = alembic_command.__name__
    if verb not in ("upgrade", "downgrade"):
        alembic_command(config, revision, sql=False, **kwargs)
        return
    scripts = imported_scripts(config)
    steps = scripts._upgrade_revs if verb == "upgrade" else scripts._downgrade_revs

    def migrations(heads: Any, context: MigrationContext) -> Any:
        return steps(revision, heads)

    with EnvironmentContext(
        config,
        scripts,
        fn=migrations,
        destination_rev=revision,
        tag=kwargs.get("tag"),
    ):
        scripts.run_env()


def revision_graph(bind: Bind, settings: Settings) -> Any:
    """The bind's revisions for reading: heads, history, targets, what is applied.

    Read from the files' text when possible (see :mod:`flask_schemaver.graph`), else by
    Alembic, which imports every file. Both offer ``walk_revisions``, ``get_revisions``,
    ``get_heads`` and ``iterate_revisions``.
    """
    from . import graph

    try:
        return graph.load(bind.directory)
    except graph.Dynamic:
        return script_directory(make_config(bind, settings))


def run_env(context: EnvironmentContext) -> None:
    """Run migrations for the bind named in the config; called by the bundled env.py."""
    config = context.config
    bind: Bind = config.attributes[_BIND]
    options = bind.configure_options()
    options["process_revision_directives"] = _revision_directives_hook(
        options.get("process_revision_directives"),
        skip_empty=config.attributes[_SKIP_EMPTY]
        and getattr(config.cmd_opts, "autogenerate", False),
    )
    on_apply = config.attributes[_ON_APPLY]
    if on_apply is not None:
        options["on_version_apply"] = [*options.get("on_version_apply", ()), on_apply]

    if context.is_offline_mode():
        context.configure(
            url=bind.engine.url,
            target_metadata=bind.metadata,
            literal_binds=True,
            dialect_opts={"paramstyle": "named"},
            **options,
        )
        _watch_steps(context, config.attributes[_ON_START])
        with context.begin_transaction():
            context.run_migrations()
        return

    if getattr(config.cmd_opts, "autogenerate", False):
        # Comparing models must leave the database as it found it.
        options["dont_mutate"] = True
    connection: sa.Connection | None = config.attributes[_CONNECTION]
    if connection is not None:
        _run_online(context, connection, bind, options)
    else:
        with bind.engine.connect() as connection:
            _run_online(context, connection, bind, options)


def _run_online(
    context: EnvironmentContext,
    connection: sa.Connection,
    bind: Bind,
    options: dict[str, Any],
) -> None:
    context.configure(connection=connection, target_metadata=bind.metadata, **options)
    if options.get("dont_mutate"):  # autogenerate
        serials.answer_in_bulk(context.get_context())
    _watch_steps(context, context.config.attributes[_ON_START])
    with context.begin_transaction():
        context.run_migrations()


def _watch_steps(
    context: EnvironmentContext, on_start: Callable[[MigrationInfo], None] | None
) -> None:
    """Report each migration step just before it runs.

    Alembic only reports steps after they succeed (``on_version_apply``); knowing the step
    that is about to run lets a failure name its revision and a step be timed exactly.
    """
    if on_start is None:
        return
    migration_context = context.get_context()
    produce_steps = migration_context._migrations_fn
    if produce_steps is None:
        return

    def watched(heads: Any, ctx: MigrationContext) -> Iterator[Any]:
        for step in produce_steps(heads, ctx):
            on_start(step.info)
            yield step

    migration_context._migrations_fn = watched


def _revision_directives_hook(
    user_hook: Callable[..., None] | None, *, skip_empty: bool
) -> Callable[..., None]:
    def process_revision_directives(
        context: MigrationContext, revision: Any, directives: list[ops.MigrationScript]
    ) -> None:
        if user_hook is not None:
            user_hook(context, revision, directives)
        if skip_empty and all(
            upgrade_ops.is_empty()
            for script in directives
            for upgrade_ops in script.upgrade_ops_list
        ):
            directives[:] = []

    return process_revision_directives


def migration_path(
    scripts: ScriptDirectory, target: str, current: tuple[str, ...], *, is_upgrade: bool
) -> list[Any]:
    """The revision scripts an upgrade or downgrade to ``target`` would run, in order."""
    if is_upgrade:
        steps = scripts._upgrade_revs(target, current)  # type: ignore[arg-type]
    else:
        steps = scripts._downgrade_revs(target, current)  # type: ignore[arg-type]
    return [step.revision for step in steps]


def label_owner(scripts: Any, label: str) -> str | None:
    """The revision whose file declares branch label ``label``, if any.

    Alembic also lists a label on every revision of its branch; only the declaring
    revision's own labels count here.
    """
    for script in scripts.walk_revisions():
        if label in getattr(script, "_orig_branch_labels", ()):
            return str(script.revision)
    return None


def current_heads(
    bind: Bind, connection: sa.Connection | None = None
) -> tuple[str, ...]:
    """The revisions the bind's version table names; empty for a new database."""
    with translate_errors(bind):
        if connection is None:
            with bind.engine.connect() as own:
                return quick.read_versions(bind, own)
        heads = quick.read_versions(bind, connection)
        connection.commit()  # end the read so migrations start on a clean session
        return heads




def compare_models(bind: Bind) -> ops.UpgradeOps:
    """What autogenerate would write for the bind: its models against its database."""
    from alembic.autogenerate import produce_migrations

    with translate_errors(bind), bind.engine.connect() as connection:
        options = bind.configure_options()
        options["target_metadata"] = bind.metadata
        context = MigrationContext.configure(connection, opts=options)
        serials.answer_in_bulk(context)
        script = produce_migrations(context, bind.metadata)
        assert script.upgrade_ops is not None
        return script.upgrade_ops


def render_operations(bind: Bind, upgrade_ops: ops.UpgradeOps) -> list[str]:
    """Alembic's rendering of ``upgrade_ops`` as lines of Python, comments left out."""
    from alembic.autogenerate import render_python_code

    code = render_python_code(
        upgrade_ops,
        render_as_batch=bool(bind.context_options.get("render_as_batch")),
        user_module_prefix=bind.context_options.get("user_module_prefix"),
    )
    return [
        line
        for line in (raw.rstrip() for raw in code.splitlines())
        if line.strip() and not line.strip().startswith("#")
    ]


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
            yield
    except UserWarning as exc:
        raise MigrationError(
            f"{exc} in {bind.directory}: two revision files share this id; give one "
            "of them a new 'revision' id (and update the down_revision that names it)",
            bind.name,
        ) from exc
    except CommandError as exc:
        cause = exc.__cause__
        message = bind.hide_secrets(str(exc))
        if isinstance(cause, revision_errors.MultipleHeads):
            raise MultipleHeads(bind.name, cause.heads) from exc
        if isinstance(cause, revision_errors.ResolutionError):
            raise _unknown_revision(bind, cause) from exc
        if isinstance(cause, revision_errors.CycleDetected):
            raise _cycle(bind, cause) from exc
        raise MigrationError(message, bind.name) from exc
    except revision_errors.MultipleHeads as exc:
        raise MultipleHeads(bind.name, exc.heads) from exc
    except revision_errors.ResolutionError as exc:
        raise _unknown_revision(bind, exc) from exc
    except revision_errors.CycleDetected as exc:
        raise _cycle(bind, exc) from exc
    except revision_errors.RevisionError as exc:
        raise MigrationError(bind.hide_secrets(str(exc)), bind.name) from exc
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
                message += (
                    f". {bind.dialect} commits DDL statement by statement: the revision "
                    "may have left part of its changes behind; check the schema before "
                    "running it again"
                )
        raise DatabaseError(message, bind.name, revision) from exc
    except sa.exc.SQLAlchemyError as exc:
        raise DatabaseError(
            bind.hide_secrets(str(exc).splitlines()[0]), bind.name
        ) from exc
    except Exception as exc:
        where = _revision_frame(bind, exc)
        if where is None:
            raise
        detail = bind.hide_secrets(f"{type(exc).__name__}: {exc}")
        step = running() if running else None
        prefix = f"{step[1]} failed at " if step else ""
        raise MigrationError(
            f"{prefix}{where}: {detail}; fix the revision file", bind.name
        ) from exc


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
