"""The built-in migration checks of the pytest plugin, run on one bind of a
:class:`~flask_schemaver.testing.MigrationRunner`, and the schema snapshots that tell
whether a downgrade left something behind.

Each check returns when the bind is sound and raises :class:`CheckFailed` otherwise,
with a message that names the bind and, where there is one, the revision.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Iterable
from collections.abc import Iterator
from typing import Any
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ..exceptions import SchemaVerError
from ..runtime import environment
from ..verbs import looks

if TYPE_CHECKING:
    from ..binds import Bind
    from ..results import Revision
    from .runner import MigrationRunner

#: An object in a database: the table it belongs to ("" for views, sequences and
#: types) and what it is, e.g. ``("users", "column email")``.
Key = tuple[str, str]
#: A database's schema: each object and its description.
Snapshot = dict[Key, str]
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
    """The bind upgrades from an empty database to its heads."""
    _upgrade_to_heads(runner, bind)
    current, heads = runner.current(bind), runner.heads(bind)
    if set(current) != set(heads):
        raise CheckFailed(
            f"[{bind}] upgrade from an empty database ended at "
            f"{', '.join(current) or 'base'}, not at the heads {', '.join(heads)}"
        )


def models_match(
    runner: MigrationRunner, bind: str, skip: Collection[str] = ()
) -> None:
    """What the bind's migrations build is what its models describe."""
    _upgrade_to_heads(runner, bind)
    b = runner.bind(bind)
    try:
        changes = environment.compare_models(b)
    except SchemaVerError as exc:
        raise CheckFailed(
            f"[{bind}] comparing the models failed: {exc.message}"
        ) from exc
    if changes.is_empty():
        return
    code = textwrap.dedent("\n".join(environment.render_operations(b, changes)))
    lines = textwrap.indent(code, "    ")
    at = ", ".join(runner.current(bind)) or "base"
    raise CheckFailed(
        f"[{bind}] the models differ from what the migrations build (at {at}); a new "
        f"revision needs:\n{lines}\nwrite it with 'flask db migrate --bind {bind}'"
    )


def stairway(runner: MigrationRunner, bind: str, skip: Collection[str] = ()) -> None:
    """Each revision upgrades, downgrades and upgrades again, oldest first."""
    for _ in _walk(runner, bind, skip):
        pass


def clean_downgrade(
    runner: MigrationRunner, bind: str, skip: Collection[str] = ()
) -> None:
    """Each revision's downgrade leaves the schema as it was before its upgrade."""
    b = runner.bind(bind)
    before: Snapshot = {}
    for revision, stage in _walk(runner, bind, skip):
        if stage == "before":
            before = snapshot(b)
            continue
        problems = compare(before, snapshot(b))
        if problems:
            listed = "\n".join("    " + line for line in problems)
            raise CheckFailed(
                f"[{bind}] the downgrade of revision {_name(revision)} does not undo "
                f"its upgrade:\n{listed}"
            )


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


def _upgrade_to_heads(runner: MigrationRunner, bind: str) -> None:
    try:
        runner.upgrade("heads", bind)
    except SchemaVerError as exc:
        raise CheckFailed(
            f"[{bind}] upgrade from an empty database failed: {exc.message}"
        ) from exc


def _walk(
    runner: MigrationRunner, bind: str, skip: Collection[str]
) -> Iterator[tuple[Revision, str]]:
    """Take each revision up, down and up again, oldest first.

    Yields ``(revision, "before")`` just before its first upgrade and
    ``(revision, "after")`` just after its downgrade. No revision is ever downgraded
    but the one being walked, so a revision left out stays applied, and what a
    downgrade leaves behind is pinned on the revision that left it.

    The walk starts from an empty database: a bind that is not empty is first
    downgraded to base.
    """
    revisions = runner.revisions(bind)
    if revisions and runner.current(bind):
        _step(runner, bind, revisions[0], "downgrade", "base", "emptying the database")
    for revision in revisions:
        needs = {*revision.down_revisions, *revision.depends_on}
        # Usually there already; a merge may still lack one of its parents.
        for needed in sorted(needs - set(runner.current(bind))):
            _step(runner, bind, revision, "upgrade", needed, f"upgrading to {needed}")
        yield revision, "before"
        _step(runner, bind, revision, "upgrade", revision.id, "upgrading")
        if skipped(revision.id, skip):
            continue
        _down_alone(runner, bind, revision)
        yield revision, "after"
        _step(runner, bind, revision, "upgrade", revision.id, "upgrading again")


def _down_alone(runner: MigrationRunner, bind: str, revision: Revision) -> None:
    """Downgrade ``revision`` and nothing else.

    Alembic's downgrade to a revision also takes down every other branch built on it,
    and a downgrade to base everything. So the other heads are taken out of the
    version table first (their schema stays), and put back after.
    """
    down = revision.down_revisions[0] if revision.down_revisions else "base"
    doing = f"downgrading to {down}"
    others = [head for head in runner.current(bind) if head != revision.id]
    if others:
        _step(runner, bind, revision, "stamp", revision.id, doing)
    _step(runner, bind, revision, "downgrade", down, doing)
    for head in others:
        _step(runner, bind, revision, "restamp", head, doing)


def _step(
    runner: MigrationRunner,
    bind: str,
    revision: Revision,
    verb: str,
    target: str,
    doing: str,
) -> None:
    try:
        if verb == "upgrade":
            runner.upgrade(target, bind)
        elif verb == "downgrade":
            runner.downgrade(target, bind)
        else:
            runner.stamp(target, bind, purge=verb == "stamp")
    except SchemaVerError as exc:
        raise CheckFailed(
            f"[{bind}] at revision {_name(revision)}, {doing}: {exc.message}"
        ) from exc


# -- schema snapshots -------------------------------------------------------------------


def snapshot(bind: Bind) -> Snapshot:
    """The objects in the bind's database, leaving out its version table and the tables
    of other binds."""
    found: Snapshot = {}
    schemas = {None, bind.version_table_schema}
    schemas.update(t.schema for t in bind.metadata.tables.values())
    with bind.engine.connect() as connection:
        inspector = sa.inspect(connection)
        for schema in sorted(schemas, key=lambda s: (s is not None, s or "")):
            _tables(bind, inspector, schema, found)
            _others(bind, inspector, schema, found)
    return found


def compare(before: Snapshot, after: Snapshot) -> list[str]:
    """What changed from ``before`` to ``after``, one line per object."""
    added = after.keys() - before.keys()
    removed = before.keys() - after.keys()
    new_tables = {table for table, what in added if not what}
    gone_tables = {table for table, what in removed if not what}
    lines = [
        f"{_describe(key)} is left behind"
        for key in sorted(added)
        if not (key[1] and key[0] in new_tables)
    ]
    lines += [
        f"{_describe(key)} is gone (it was there before the upgrade)"
        for key in sorted(removed)
        if not (key[1] and key[0] in gone_tables)
    ]
    lines += [
        f"{_describe(key)} was {before[key]}, is now {after[key]}"
        for key in sorted(before.keys() & after.keys())
        if before[key] != after[key]
    ]
    return lines


def _describe(key: Key) -> str:
    table, what = key
    if not what:
        return f"table {table}"
    return f"{what} of table {table}" if table else what


def _tables(
    bind: Bind, inspector: sa.Inspector, schema: str | None, found: Snapshot
) -> None:
    prefix = f"{schema}." if schema else ""
    for name in inspector.get_table_names(schema=schema):
        if schema == bind.version_table_schema and name in (
            bind.version_table,
            bind.history_table,
        ):
            continue
        stub = sa.Table(name, sa.MetaData(), schema=schema)
        if not bind.include_object(stub, name, "table", True, None):
            continue
        table = prefix + name
        found[(table, "")] = "present"
        for column in inspector.get_columns(name, schema=schema):
            found[(table, f"column {column['name']}")] = _column(column, inspector)
        primary = inspector.get_pk_constraint(name, schema=schema)
        if primary.get("constrained_columns"):
            found[(table, "primary key")] = _list(primary["constrained_columns"])
        for fk in inspector.get_foreign_keys(name, schema=schema):
            columns = _list(fk["constrained_columns"])
            target = f"{fk['referred_schema']}." if fk.get("referred_schema") else ""
            options = "".join(
                f" {k} {v}" for k, v in sorted((fk.get("options") or {}).items())
            )
            found[(table, f"foreign key {fk.get('name') or columns}")] = (
                f"{columns} -> {target}{fk['referred_table']}"
                f"{_list(fk['referred_columns'])}{options}"
            )
        for index in inspector.get_indexes(name, schema=schema):
            expressions = index.get("expressions") or index["column_names"]
            parts = [
                c if c is not None else e
                for c, e in zip(index["column_names"], expressions, strict=False)
            ]
            unique = "unique " if index.get("unique") else ""
            found[(table, f"index {index['name']}")] = unique + _list(parts)
        for constraint in inspector.get_unique_constraints(name, schema=schema):
            columns = _list(constraint["column_names"])
            label = constraint.get("name") or columns
            found[(table, f"unique constraint {label}")] = columns
        try:
            checks = inspector.get_check_constraints(name, schema=schema)
        except NotImplementedError:
            checks = []
        for check in checks:
            text = " ".join(str(check["sqltext"]).split())
            found[(table, f"check constraint {check.get('name') or text}")] = text


def _others(
    bind: Bind, inspector: sa.Inspector, schema: str | None, found: Snapshot
) -> None:
    prefix = f"{schema}." if schema else ""
    for name in inspector.get_view_names(schema=schema):
        found[("", f"view {prefix}{name}")] = "present"
    if inspector.dialect.supports_sequences:
        for name in inspector.get_sequence_names(schema=schema):
            if name.startswith(f"{bind.history_table}_"):
                continue  # the history table's own id sequence
            found[("", f"sequence {prefix}{name}")] = "present"
    get_enums = getattr(inspector, "get_enums", None)
    if get_enums is not None:
        for enum in get_enums(schema=schema):
            where = f"{enum['schema']}." if enum.get("schema") else prefix
            found[("", f"enum type {where}{enum['name']}")] = _list(enum["labels"])


def _column(column: Any, inspector: sa.Inspector) -> str:
    try:
        kind = str(column["type"].compile(dialect=inspector.dialect))
    except sa.exc.SQLAlchemyError:
        kind = repr(column["type"])
    text = f"{kind} {'NULL' if column.get('nullable', True) else 'NOT NULL'}"
    if column.get("default") is not None:
        text += f" DEFAULT {column['default']}"
    if column.get("comment"):
        text += f" COMMENT {column['comment']!r}"
    return text


def _list(items: Iterable[Any]) -> str:
    return "(" + ", ".join(str(item) for item in items) + ")"
