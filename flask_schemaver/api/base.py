"""What every part of the Python API stands on: the app's state and its binds."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from typing import Any
from typing import TYPE_CHECKING

from flask import current_app

from ..exceptions import ConfigError
from ..exceptions import UnknownRevision
from ..exceptions import UsageError
from ..settings import Settings

if TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy

    from ..binds import Bind
    from ..binds import BindNames
    from ..extension import SchemaVer
    from ..options import ShardSpec
    from ..options import TenantNames
    from ..tenants import Fleet

#: Where each app keeps its :class:`AppState`: ``app.extensions["schemaver"]``.
EXTENSION_KEY = "schemaver"


class AppState:
    """What SchemaVer keeps for one app, on ``app.extensions["schemaver"]``.

    A plain class rather than a dataclass, which would take longer to make at import.
    """

    def __init__(
        self,
        extension: SchemaVer,
        db: SQLAlchemy,
        settings: Settings,
        notices: list[str] | None = None,
        binds: dict[str, Bind] | None = None,
    ) -> None:
        #: The extension set up on the app; the ``flask db`` commands call it.
        self.extension = extension
        self.db = db
        self.settings = settings
        self.notices = [] if notices is None else notices
        #: The app's binds, resolved on first use.
        self.binds = binds
        #: Bind keys that models use but no engine serves, with their tables.
        self.unconfigured: dict[str, list[str]] = {}


class BindAPI:
    """Finds the current app's state and binds; the base of every API part."""

    def _state(self) -> AppState:
        state = app_state()
        if state.binds is None:
            from ..binds import resolve_binds
            from ..binds import unconfigured_models

            app = current_app._get_current_object()  # type: ignore[attr-defined]
            state.binds = resolve_binds(app, state.db, state.settings)
            state.unconfigured = unconfigured_models(state.db)
        return state

    def _refuse_unconfigured_models(self) -> None:
        """Refuse to compare models with databases when some models have no bind."""
        unconfigured = self._state().unconfigured
        if not unconfigured:
            return
        key, names = next(iter(unconfigured.items()))
        raise ConfigError(
            f"models use the bind key {key!r} (tables {', '.join(names)}), which "
            "SQLALCHEMY_BINDS does not configure, so no bind would migrate them; "
            f"add {key!r} to SQLALCHEMY_BINDS or correct the models' __bind_key__"
        )

    @property
    def binds(self) -> dict[str, Bind]:
        """The current app's binds by name, the default database first."""
        binds = self._state().binds
        assert binds is not None
        return binds

    def select(self, bind: BindNames = None) -> list[Bind]:
        """The binds named by ``bind`` (one name or several); every bind when None.

        :param bind: a bind name, several, or None for every bind.
        :raises UnknownBind: when a name is not one of the app's binds.
        :raises MultidbRevisions: when a bind's folder holds Flask-Migrate
            ``--multidb`` revisions, which hold every bind's work: no command runs,
            shows or compares a chain of the app until ``split-multidb`` converts them.
        """
        from ..binds import select
        from ..script.multidb import refuse_per_engine

        chosen = select(self.binds, bind)
        refuse_per_engine(self.binds.values())
        return chosen

    def _tenant_functions(self) -> dict[str, Callable[[], Any]]:
        """The app's tenanted binds, and the function that lists each one's tenants:
        declared with :meth:`~flask_schemaver.SchemaVer.tenants`, or in
        ``SCHEMAVER_TENANTS``."""
        state = self._state()
        declared: dict[str, Any] = dict(state.extension.tenant_functions)
        for name, function in state.settings.tenants.items():
            if declared.get(name, function) is not function:
                raise ConfigError(
                    f"bind {name!r} lists its tenants both with @schemaver.tenants and "
                    "in SCHEMAVER_TENANTS; keep one"
                )
            declared[name] = function
        unknown = sorted(set(declared) - set(self.binds))
        if unknown:
            raise ConfigError(
                f"tenants are declared for unknown bind(s) {', '.join(unknown)}; the "
                f"app's binds are: {', '.join(self.binds)}"
            )
        return {name: _function(name, f) for name, f in declared.items()}

    def targets(
        self,
        bind: BindNames = None,
        tenant: TenantNames = None,
        *,
        shard: ShardSpec = None,
    ) -> list[Bind]:
        """The binds ``bind`` names, each tenanted bind in the place of the tenants
        ``tenant`` and ``shard`` select: what ``upgrade``, ``status`` and
        ``current`` work on.

        Each tenant is a :class:`~flask_schemaver.Bind` whose ``tenant`` is its name.

        :param bind: a bind name, several, or None for every bind.
        :param tenant: a tenant's name or a shell-style pattern (``eu-*``), several,
            ``"*"`` for every tenant, or None for every tenant too. Naming tenants
            leaves out the binds that have none.
        :param shard: ``"K/N"`` or ``(K, N)``: of the tenants ``tenant`` selects,
            only those in the K-th of N shares (see :class:`~flask_schemaver.Shard`);
            leaves out the binds without tenants too. A share may hold no tenant.
        :raises UsageError: for a name or pattern that selects no tenant, or a
            share that is not one.
        """
        return self._targets(bind, tenant, shard=shard)

    def tenant_names(
        self,
        bind: BindNames = None,
        tenant: TenantNames = None,
        *,
        shard: ShardSpec = None,
    ) -> dict[str, list[str]]:
        """The names of the tenants that ``tenant`` and ``shard`` select, for each
        tenanted bind that ``bind`` names, as for :meth:`targets`.

        :param bind: a bind name, several, or None for every bind.
        :param tenant: the tenants' names or patterns, as for :meth:`targets`.
        :param shard: the share of them, as for :meth:`targets`.
        :return: each tenanted bind's name and its tenants, in the order listed.
        """
        return {
            fleet.bind.name: names
            for _, fleet, names in self._selection(bind, tenant, shard=shard)
            if fleet is not None
        }

    def _fleet(self, bind: Bind) -> Fleet:
        """The tenants of the tenanted bind ``bind``, as its function lists them now."""
        from ..tenants import list_fleet

        return list_fleet(bind, self._tenant_functions()[bind.name])

    def _targets(
        self,
        bind: BindNames = None,
        tenant: TenantNames = None,
        *,
        needed: str | None = None,
        shard: ShardSpec = None,
    ) -> list[Bind]:
        """The binds ``bind`` names, each tenanted one in the place of the tenants
        ``tenant`` selects: every tenant when None, unless the command (``needed``)
        changes versions and must be told which; of those, the ones in ``shard``.

        A tenant selection (or a shard) leaves out the binds that have no tenants;
        naming one of them with it is bad input, as is a pattern that selects no
        tenant.
        """
        found: list[Bind] = []
        for b, tenants in self._expand(bind, tenant, needed=needed, shard=shard):
            found.extend([b] if tenants is None else tenants)
        return found

    def _expand(
        self,
        bind: BindNames,
        tenant: TenantNames,
        *,
        needed: str | None = None,
        shard: ShardSpec = None,
    ) -> list[tuple[Bind, list[Bind] | None]]:
        """Each bind named, with the tenants selected of a tenanted one (None for a
        bind without tenants); see :meth:`_targets`."""
        return [
            (b, None if fleet is None else [fleet.tenant(n) for n in names])
            for b, fleet, names in self._selection(bind, tenant, needed, shard)
        ]

    def _selection(
        self,
        bind: BindNames,
        tenant: TenantNames,
        needed: str | None = None,
        shard: ShardSpec = None,
    ) -> list[tuple[Bind, Fleet | None, list[str]]]:
        """Each bind named, with its fleet and the names of the tenants selected
        when it is tenanted; see :meth:`_targets`."""
        from ..options import bind_names
        from ..options import parse_shard
        from ..options import tenant_patterns
        from ..tenants import choose

        patterns = tenant_patterns(tenant)
        share = parse_shard(shard)
        chosen = self.select(bind)
        functions = self._tenant_functions()
        if patterns or share:
            plain = [b.name for b in chosen if b.name not in functions]
            if plain and bind_names(bind):
                raise UsageError(
                    f"bind {plain[0]!r} has no tenants; --tenant, --all-tenants and "
                    "--shard select the tenants of tenanted binds"
                    + (f" ({', '.join(functions)})" if functions else "")
                )
            chosen = [b for b in chosen if b.name in functions]
            if not chosen:
                raise UsageError(
                    "--tenant, --all-tenants and --shard select the tenants of "
                    "tenanted binds, and the app declares none (see "
                    "@schemaver.tenants)"
                )
        tenanted = [b for b in chosen if b.name in functions]
        if needed and tenanted and not patterns:
            raise UsageError(
                f"{needed} changes each tenant's version: name the tenants of "
                f"{', '.join(b.name for b in tenanted)} with --tenant NAME (patterns "
                "such as 'eu-*' allowed), or pass --all-tenants"
            )
        fleets = [self._fleet(b) for b in tenanted]
        names = choose(fleets, patterns, share)
        selected = {f.bind.name: (f, n) for f, n in zip(fleets, names, strict=True)}
        return [(b, *selected.get(b.name, (None, []))) for b in chosen]

    @contextmanager
    def _once(self, binds: Sequence[Bind]) -> Iterator[None]:
        """Over many tenants, read each folder's revision files once for the
        ``with`` block (see :func:`flask_schemaver.script.files.held`)."""
        if not any(b.tenant is not None for b in binds):
            yield
            return
        from ..script.files import held

        with held():
            yield

    @contextmanager
    def _throwaway(self, bind: Bind) -> Iterator[Bind]:
        """A throwaway tenant of the tenanted bind ``bind``, at its heads, as the
        models are compared with it; dropped after the ``with`` block."""
        from ..options import RunOptions
        from ..tenants import naming
        from ..tenants import throwaway
        from ..verbs import runs

        settings = self._state().settings
        with throwaway(self._fleet(bind)) as made:
            if bind.directory.is_dir():  # else there is nothing to build it from
                with naming(made.tenant):
                    runs.run(made.tenant, settings, RunOptions("upgrade", "heads"))
            yield made.compared

    def _having(
        self, bind: BindNames, binds: list[Bind], targets: Sequence[str]
    ) -> list[Bind]:
        """The binds in which every target resolves, checked before anything changes.

        Revision ids are unique across binds, so when no bind is named, a target such as
        ``1a2b`` or ``label@head`` picks the binds that have it. A named bind that lacks
        it is bad input.
        """
        from ..runtime.targets import uses_names
        from ..verbs import preflight

        settings = self._state().settings
        # The tenants of a bind share its chain: the bind answers for them all.
        unique = list({b.name: b for b in binds}.values())
        if bind:
            for b in unique:
                for target in targets:
                    preflight.validate_target(b, settings, target)
            return binds
        having: list[Bind] = []
        first_error: UnknownRevision | None = None
        for b in unique:
            try:
                for target in targets:
                    preflight.validate_target(b, settings, target)
            except UnknownRevision as exc:
                first_error = first_error or exc
            else:
                having.append(b)
        if not having and first_error is not None:
            if len(unique) == 1:
                raise first_error
            raise UnknownRevision(
                f"no bind has {' or '.join(repr(t) for t in targets)}; "
                "'flask db history' lists each bind's revisions"
            )
        named = [t for t in targets if uses_names(t)]
        if len(having) > 1 and named:
            # An id (or its start, or a label) in two chains: never act on both.
            raise UsageError(
                f"{named[0]!r} names revisions in several binds "
                f"({', '.join(b.name for b in having)}); name the bind with --bind, or "
                "give more of the revision id"
            )
        names = {b.name for b in having}
        return [b for b in binds if b.name in names]


def _function(bind: str, function: Any) -> Callable[[], Any]:
    """A tenant-listing function, imported when configured as ``"module:name"``."""
    if callable(function):
        return function  # type: ignore[no-any-return]
    import importlib

    module, _, name = str(function).partition(":")
    try:
        found = importlib.import_module(module)
        for part in name.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"SCHEMAVER_TENANTS[{bind!r}] names {function!r}, which cannot be "
            f"imported: {exc}"
        ) from None
    if not callable(found):
        raise ConfigError(
            f"SCHEMAVER_TENANTS[{bind!r}] names {function!r}, which is not a function"
        )
    return found


def app_state() -> AppState:
    """The current app's :class:`AppState`; :class:`ConfigError` without SchemaVer."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    state: AppState | None = app.extensions.get(EXTENSION_KEY)
    if state is None:
        raise ConfigError(
            f"SchemaVer is not set up on app {app.name!r}; call schemaver.init_app(app)"
        )
    return state
