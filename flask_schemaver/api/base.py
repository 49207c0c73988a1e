"""What every part of the Python API stands on: the app's state and its binds."""

from __future__ import annotations

from collections.abc import Sequence
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
        if bind:
            for b in binds:
                for target in targets:
                    preflight.validate_target(b, settings, target)
            return binds
        having: list[Bind] = []
        first_error: UnknownRevision | None = None
        for b in binds:
            try:
                for target in targets:
                    preflight.validate_target(b, settings, target)
            except UnknownRevision as exc:
                first_error = first_error or exc
            else:
                having.append(b)
        if not having and first_error is not None:
            if len(binds) == 1:
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
        return having


def app_state() -> AppState:
    """The current app's :class:`AppState`; :class:`ConfigError` without SchemaVer."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    state: AppState | None = app.extensions.get(EXTENSION_KEY)
    if state is None:
        raise ConfigError(
            f"SchemaVer is not set up on app {app.name!r}; call schemaver.init_app(app)"
        )
    return state
