"""The Python API that converts a Flask-Migrate ``--multidb`` project: split_multidb."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ..exceptions import ProtectedBind
from ..exceptions import UsageError
from .base import BindAPI

if TYPE_CHECKING:
    from ..options import WaitCallback
    from ..results import SplitResult


class ConvertAPI(BindAPI):
    """The Python API that converts a Flask-Migrate ``--multidb`` project."""

    def split_multidb(
        self,
        *,
        write: bool = False,
        stamp: bool = False,
        verify: bool = False,
        engines: Mapping[str, str | None] | None = None,
        confirm: bool = False,
        on_wait: WaitCallback | None = None,
    ) -> SplitResult:
        """Split a Flask-Migrate ``--multidb`` chain into one chain per bind.

        Without ``write``, ``stamp`` or ``verify``, a dry run: the plan, with what was
        decided for each bind; nothing is changed. Each step runs only when the one
        before it succeeded, in this order: ``verify``, ``write``, ``stamp``.

        :param write: rewrite the folders: the default bind's revisions reduced to its
            own functions (ids kept), every other bind's in a folder of its own; the
            multidb folder is kept beside the default bind's as a backup.
        :param stamp: record in each bind's database its place in its new chain,
            worked out from Flask-Migrate's ``alembic_version`` there, under the
            bind's migration lock and with a history row; then remove that record.
            Needs the converted folder (this call's ``write``, or one shipped).
        :param verify: build the old layout (as Flask-Migrate would) and the new
            chains on throwaway databases of each bind's kind, and compare each
            bind's schema; a difference raises
            :class:`~flask_schemaver.MigrationError` naming the table and column.
        :param engines: engine names of the revisions' ``upgrade_<engine>()``
            functions and the bind each belongs to, where the names differ from the
            bind names (``""`` is the default bind); None as a bind leaves that
            engine's functions out.
        :param confirm: allow stamping protected binds.
        :param on_wait: called while waiting for a bind's migration lock.
        :return: the plan, and what was written, stamped and verified.
        """
        from ..verbs import convert
        from ..verbs import convert_stamp

        binds = self.binds
        settings = self._state().settings
        engines = dict(engines or {})
        conversion = convert.split_multidb(binds, engines)
        if write and conversion.converted:
            raise UsageError(
                "the folder is converted already; its multidb revisions are kept in "
                f"{conversion.backup}"
            )
        protected = [b.name for b in binds.values() if b.protected]
        if stamp and protected and not confirm:
            raise ProtectedBind("split-multidb --stamp", protected)
        verified = None
        if verify:
            from ..testing.multidb import verify as verify_layouts

            verified = verify_layouts(conversion, binds, settings)
        converted = conversion
        if write:
            convert.write(conversion, Path(settings.directory))
            converted = convert.split_multidb(binds, engines)
        stamps = (
            convert_stamp.stamp(converted, binds, settings, on_wait) if stamp else None
        )
        return convert.result(
            conversion, written=write, stamps=stamps, verified=verified
        )
