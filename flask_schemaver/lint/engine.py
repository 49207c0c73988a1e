"""Lint a bind's revisions: pick them, record them, run the rules, apply ignores and levels.

Revisions are recorded, never run (see :mod:`flask_schemaver.runtime.recording`): no database is
touched, so lint works in CI without one.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import TYPE_CHECKING

from alembic.operations import ops

from ..exceptions import UnknownRevision
from ..runtime import environment
from ..runtime.errors import translate_errors
from ..runtime.recording import no_database
from ..runtime.recording import record
from ..runtime.recording import RecordedOperation
from . import sql
from .catalog import Finding
from .catalog import RULES
from .facts import Operation
from .facts import RevisionFacts
from .facts import sql_text
from .facts import table_of
from .rules import CHECKS
from .source import read_source
from .source import SourceFacts

if TYPE_CHECKING:
    from alembic.script import Script

    from ..binds import Bind
    from ..settings import Settings

Revisions = str | Sequence[str] | None


def lint(
    binds: Sequence[Bind],
    settings: Settings,
    *,
    since: Revisions = None,
    revisions: Revisions = None,
) -> list[Finding]:
    """The findings in the revisions of ``binds``, each bind's oldest revision first.

    ``since`` names revisions (a bind's own, or ``head`` and the like for every bind);
    only the revisions of a chain that come after them are linted. ``revisions`` limits
    linting to the revisions named. A name that no bind has is an
    :class:`~flask_schemaver.UnknownRevision`.
    """
    levels = {rule.id: rule.level for rule in RULES.values()}
    levels.update(settings.lint)
    loaded = [(bind, _scripts(bind, settings)) for bind in binds]
    skipped = _resolve(loaded, _names(since), ancestry=True)
    wanted = (
        None
        if revisions is None
        else _resolve(loaded, _names(revisions), ancestry=False)
    )
    findings: list[Finding] = []
    for bind, scripts in loaded:
        if scripts is None:
            continue
        with translate_errors(bind):
            chain = list(reversed(list(scripts.walk_revisions())))
            for script in chain:
                if script.revision in skipped[bind.name]:
                    continue
                if wanted is not None and script.revision not in wanted[bind.name]:
                    continue
                findings += lint_revision(bind, script, levels)
    return findings


def _names(value: Revisions) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(dict.fromkeys(value))


def _scripts(bind: Bind, settings: Settings) -> Any:
    if not bind.directory.is_dir():
        return None
    with translate_errors(bind), no_database():
        return environment.script_directory(environment.make_config(bind, settings))


def _resolve(
    loaded: Sequence[tuple[Bind, Any]], names: Iterable[str], *, ancestry: bool
) -> dict[str, set[str]]:
    """Per bind, the ids the names resolve to (with their ancestors, for ``since``)."""
    resolved: dict[str, set[str]] = {bind.name: set() for bind, _ in loaded}
    for name in names:
        first_error: UnknownRevision | None = None
        found = False
        for bind, scripts in loaded:
            if scripts is None:
                continue
            try:
                with translate_errors(bind):
                    targets = [s for s in scripts.get_revisions(name) if s is not None]
                    if ancestry:
                        resolved[bind.name] |= _ancestry(scripts, targets)
            except UnknownRevision as exc:
                first_error = first_error or exc
                continue
            found = True
            resolved[bind.name].update(s.revision for s in targets)
        if not found:
            if len(loaded) == 1 and first_error is not None:
                raise first_error
            raise UnknownRevision(
                f"no bind has revision {name!r}; 'flask db history' lists each bind's "
                "revisions"
            )
    return resolved


def _ancestry(scripts: Any, targets: Iterable[Any]) -> set[str]:
    """The ids of ``targets`` and of every revision they build on or depend on."""
    seen: set[str] = set()
    todo = list(targets)
    while todo:
        script = todo.pop()
        if script.revision in seen:
            continue
        seen.add(script.revision)
        for parent in (*_ids(script.down_revision), *_ids(script.dependencies)):
            todo.extend(s for s in scripts.get_revisions(parent) if s is not None)
    return seen


def _ids(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def lint_revision(
    bind: Bind, script: Script, levels: Mapping[str, str]
) -> list[Finding]:
    """The findings in one revision, in line order."""
    upgrade = record(bind, script, is_upgrade=True)
    downgrade = record(bind, script, is_upgrade=False)
    source = read_source(upgrade.source)
    facts = RevisionFacts(
        dialect=bind.dialect,
        sa_dialect=bind.engine.dialect,
        operations=_operations(bind, upgrade.operations, source),
        source=source,
        downgrade=[r.operation for r in downgrade.operations],
        downgrade_error=downgrade.error,
        error=upgrade.error,
        naming_convention=dict(bind.metadata.naming_convention),
    )
    findings = []
    order = {rule_id: number for number, rule_id in enumerate(RULES)}
    for rule in RULES.values():
        level = levels.get(rule.id, rule.level)
        if level == "off" or not rule.applies_to(bind.dialect):
            continue
        for line, what, reason in CHECKS[rule.id](facts):
            if source.ignored(rule.id, line):
                continue
            findings.append(
                Finding(
                    bind=bind.name,
                    revision=script.revision,
                    path=script.path,
                    line=line,
                    rule=rule.id,
                    level=level,
                    message=f"{what}: {reason or rule.reason}",
                )
            )
    findings.sort(key=lambda f: (f.line, order[f.rule]))
    return findings


def _operations(
    bind: Bind, recorded: Sequence[RecordedOperation], source: SourceFacts
) -> list[Operation]:
    """The recorded operations, each marked with whether its table existed before;
    after each ``op.execute()``, the operations its SQL was read as."""
    created: set[str] = set()
    result = []

    def add(op: Any, line: int, raw: int, **extra: Any) -> None:
        table = table_of(op)
        existing = table is None or table not in created
        if isinstance(op, ops.CreateTableOp):
            created.add(str(op.table_name).lower())
            existing = False
        elif isinstance(op, ops.RenameTableOp) and not existing:
            created.add(str(op.new_table_name).lower())
        result.append(Operation(op, line, raw, existing, **extra))

    for item in recorded:
        op: Any = item.operation
        line = source.statement(item.line)[0] if item.line else 0
        if not isinstance(op, ops.ExecuteSQLOp):
            add(op, line, item.line)
            continue
        text = sql_text(op, bind.engine.dialect)
        reading = (
            sql.read(text, bind.dialect)
            if text
            else sql.Reading(not_judged="a construct that can't be written as SQL")
        )
        add(op, line, item.line, reading=reading)
        for derived in reading.operations:
            add(derived, line, item.line, from_sql=True)
    return result
