"""The in-memory Alembic environment of one bind.

This is the module that knows how Alembic is wired: it builds the ``Config`` and
``ScriptDirectory`` for a bind and runs the bundled ``env.py`` through :func:`run_env`.
Alembic's errors become flask_schemaver's in :mod:`.errors`.
"""

from __future__ import annotations

import argparse
import io
import os
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from typing import TextIO
from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic.config import Config
from alembic.operations import ops
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from .. import dialects
from ..script import files as revision_files
from . import autogen
from . import backfill
from . import connections
from . import versions
from .collecting import fewer_collections
from .errors import translate_errors

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationInfo

    from ..binds import Bind
    from ..script.graph import RevisionGraph
    from ..settings import Settings

#: Alembic's script location: holds the bundled env.py and script.py.mako.
SCRIPT_LOCATION = Path(__file__).parent / "alembic_env"

_BIND = "schemaver.bind"
_CONNECTION = "schemaver.connection"
_ON_APPLY = "schemaver.on_version_apply"
_ON_START = "schemaver.on_step_start"
_SKIP_EMPTY = "schemaver.skip_empty"
_KNOWN_HEADS = "schemaver.known_heads"
#: A list that autogenerate's operations are added to, one UpgradeOps per revision.
DETECTED = "schemaver.detected"
#: Read by the bundled script.py.mako, which hands over to this template when set.
_SCRIPT_TEMPLATE = "schemaver.script_template"


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
    on_progress: Callable[..., None] | None = None,
    known_heads: tuple[str, ...] | None = None,
) -> Config:
    """Build the Alembic ``Config`` for one bind, without any file.

    ``known_heads`` is what the version table holds, just read on ``connection``
    under the bind's lock: Alembic starts from it instead of reading it again.
    """
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
    config.attributes[_SCRIPT_TEMPLATE] = settings.script_template
    config.attributes[_CONNECTION] = connection
    config.attributes[_KNOWN_HEADS] = known_heads
    config.attributes[_ON_APPLY] = on_version_apply
    config.attributes[_ON_START] = on_step_start
    config.attributes[backfill.ON_PROGRESS] = on_progress
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
    bind: Bind = config.attributes[_BIND]
    folder = bind.directory.resolve()
    files = revision_files.fingerprint(folder)
    # As Alembic names the files: its version location made absolute, and the name.
    _digests[os.path.abspath(bind.directory)] = dict(files)
    cached = _imported.get(folder)
    if cached is not None and cached[0] == files:
        return cached[1]
    scripts = script_directory(config)
    _imported[folder] = (files, scripts)
    return scripts


#: Per revision folder: each file's SHA-256, as :func:`imported_scripts` last read it.
_digests: dict[str, dict[str, str]] = {}


def known_digest(path: str) -> str | None:
    """The SHA-256 of the revision file at ``path`` (as Alembic's script names it) as
    it was read when the folder's files were last imported: the content that runs;
    None if not known."""
    folder, name = os.path.split(path)
    return _digests.get(folder, {}).get(name)


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


def revision_graph(bind: Bind, settings: Settings) -> RevisionGraph:
    """The bind's revisions for reading: heads, history, targets, what is applied.

    Read from the files' text when possible (see :mod:`flask_schemaver.script.graph`),
    else by Alembic, which imports every file.
    """
    from ..script import graph

    try:
        with translate_errors(bind):  # a file that can't be read, say
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
        detected=config.attributes.get(DETECTED),
        request=config.attributes.get(autogen.REQUEST),
    )
    on_apply = config.attributes[_ON_APPLY]
    if on_apply is not None:
        options["on_version_apply"] = [*options.get("on_version_apply", ()), on_apply]
    options["on_version_apply"] = [
        *options.get("on_version_apply", ()),
        backfill.forget_finished,
    ]

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
        with connections.connect(bind) as connection:
            _run_online(context, connection, bind, options)


def _run_online(
    context: EnvironmentContext,
    connection: sa.Connection,
    bind: Bind,
    options: dict[str, Any],
) -> None:
    context.configure(connection=connection, target_metadata=bind.metadata, **options)
    known = context.config.attributes.get(_KNOWN_HEADS)
    if known is not None:
        _start_from(context.get_context(), known)
    if options.get("dont_mutate"):  # autogenerate
        dialects.of(bind).prepare_autogenerate(context.get_context())
    _watch_steps(context, context.config.attributes[_ON_START])
    with context.begin_transaction():
        context.run_migrations()


def _start_from(migration_context: MigrationContext, heads: tuple[str, ...]) -> None:
    """Hand Alembic's first read of the version table ``heads``, read a moment ago on
    the same connection under the lock: for each tenant of a fleet, a table probe and
    a query fewer. Later reads (a revision asking, say) go to the database."""

    def first_read() -> tuple[str, ...]:
        del migration_context.get_current_heads  # the class's method from now on
        return heads

    migration_context.get_current_heads = first_read  # type: ignore[method-assign]


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
    user_hook: Callable[..., None] | None,
    *,
    skip_empty: bool,
    detected: list[ops.UpgradeOps] | None,
    request: autogen.Request | None = None,
) -> Callable[..., None]:
    def process_revision_directives(
        context: MigrationContext, revision: Any, directives: list[ops.MigrationScript]
    ) -> None:
        if user_hook is not None:
            user_hook(context, revision, directives)
        if request is not None:
            autogen.finish(context, directives, request)
        if detected is not None:
            detected.extend(
                upgrade_ops
                for script in directives
                for upgrade_ops in script.upgrade_ops_list
            )
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


def label_owner(scripts: RevisionGraph, label: str) -> str | None:
    """The revision whose file declares branch label ``label``, if any.

    Alembic also lists a label on every revision of its branch; only the declaring
    revision's own labels count here.
    """
    for script in scripts.walk_revisions():
        if label in getattr(script, "_orig_branch_labels", ()):
            return str(script.revision)
    return None


def current_heads(
    bind: Bind, connection: sa.Connection | None = None, *, strict: bool = True
) -> tuple[str, ...]:
    """The revisions the bind's version table names; empty for a new database.

    Bad rows (empty, or one revision twice) are refused unless ``strict`` is off, for
    ``stamp --purge``, which replaces them.
    """
    with translate_errors(bind):
        if connection is None:
            with connections.connect(bind) as own:
                return versions.read(bind, own, strict=strict)
        heads = versions.read(bind, connection, strict=strict)
        connection.commit()  # end the read so migrations start on a clean session
        return heads


def compare_models(bind: Bind) -> ops.UpgradeOps:
    """What autogenerate would write for the bind: its models against its database."""
    from alembic.autogenerate import produce_migrations

    with (
        fewer_collections(),
        translate_errors(bind),
        connections.connect(bind) as connection,
    ):
        options = bind.configure_options()
        options["target_metadata"] = bind.metadata
        context = MigrationContext.configure(connection, opts=options)
        dialects.of(bind).prepare_autogenerate(context)
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
