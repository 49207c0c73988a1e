"""The Python API for revision files: init, revision, migrate, merge, edit."""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ..exceptions import RunFailed
from ..exceptions import SchemaVerError
from ..exceptions import UsageError
from .base import BindAPI

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ..binds import Bind
    from ..binds import BindNames
    from ..options import RevisionKeywords
    from ..results import Revision
    from ..results import RevisionResult


class FilesAPI(BindAPI):
    """The Python API for revision files."""

    def init(self, bind: BindNames = None) -> dict[str, bool]:
        """Create the revision folders.

        :param bind: a bind name, several, or None for every bind.
        :return: each bind's name, and whether its folder was created (False when it
            existed already).
        """
        from ..binds import select
        from ..verbs import files

        # Creating folders touches no chain: allowed before split-multidb too.
        return {b.name: files.init(b) for b in select(self.binds, bind)}

    def revision(
        self,
        message: str | None = None,
        bind: BindNames = None,
        **options: Unpack[RevisionKeywords],
    ) -> list[RevisionResult]:
        """Write a new revision for each bind named (all binds when autogenerating).

        :param message: the revision's message, also the end of its file name.
        :param bind: a bind name, several, or None for every bind; an empty revision
            is written for one bind at a time.
        :param options: ``autogenerate`` (write the operations that bring the
            database to the models), ``head`` (the revision to build on), ``splice``
            (allow building on a revision that is not a head), ``branch_label``,
            ``depends_on``, ``rev_id`` (instead of a generated one) and ``x_args``
            (for ``context.get_x_argument()``); with ``autogenerate``, ``rename``
            (``TABLE.OLD:NEW`` or ``OLD_TABLE:NEW_TABLE`` values to write as renames),
            ``on_rename`` (asked about each other drop + add that looks like a
            rename) and ``allow_drop_all`` (write a revision that drops every table
            of a bind with no models).
        :return: one result per bind, with the files written.
        :raises RunFailed: when some binds failed; it carries what the others wrote.
        """
        from ..options import check_keywords
        from ..options import RevisionKeywords
        from ..results import RevisionResult
        from ..verbs import files

        check_keywords("revision", options, RevisionKeywords)
        binds = self.select(bind)
        if options.get("autogenerate"):
            self._refuse_unconfigured_models()
            self._check_renames(binds, options.get("rename", ()))
        elif options.get("rename") or options.get("allow_drop_all"):
            raise UsageError("--rename and --allow-drop-all go with --autogenerate")
        rev_id = options.get("rev_id")
        if len(binds) > 1 and not options.get("autogenerate"):
            raise UsageError(
                "an empty revision is written for one bind at a time; name it with "
                f"--bind (binds: {', '.join(self.binds)})"
            )
        if len(binds) > 1 and rev_id:
            raise UsageError("--rev-id names one revision; use it with a single --bind")
        taken = self._taken_ids(rev_id)
        settings = self._state().settings
        tenanted = self._tenant_functions() if options.get("autogenerate") else {}
        results = []
        for b in binds:
            try:
                with self._compared(b, b.name in tenanted) as compared:
                    result = files.revision(
                        compared, settings, message, options, taken, self._models_hint()
                    )
            except SchemaVerError as exc:
                if len(binds) == 1:
                    raise
                # One bind's problem (say, a database behind its heads) does not stop
                # the others, and what they wrote is still reported.
                result = RevisionResult(b.name, [], outcome="failed", error=exc)
            taken.update(r.id for r in result.revisions)
            results.append(result)
        if any(r.error is not None for r in results):
            raise RunFailed("autogenerate", results)
        return results

    def migrate(
        self,
        message: str | None = None,
        bind: BindNames = None,
        **options: Unpack[RevisionKeywords],
    ) -> list[RevisionResult]:
        """Autogenerate one revision per bind whose models differ from its database.

        :param message: the revisions' message.
        :param bind: a bind name, several, or None for every bind.
        :param options: any keyword of :meth:`revision`; ``rev_id`` needs a single
            bind.
        :return: one result per bind; a bind whose models match has no revisions.
        """
        options["autogenerate"] = True
        return self.revision(message, bind, **options)

    def merge(
        self,
        revisions: Sequence[str] = ("heads",),
        bind: BindNames = None,
        *,
        message: str | None = None,
        branch_label: str | None = None,
        rev_id: str | None = None,
    ) -> list[RevisionResult]:
        """Join heads into one revision; binds with a single head are left alone.

        :param revisions: the revisions to join; every head by default.
        :param bind: a bind name, several, or None for every bind.
        :param message: the merge revision's message.
        :param branch_label: a label for the merged branch.
        :param rev_id: the revision id, with a single bind.
        :return: one result per bind.
        """
        from ..verbs import files

        binds = self.select(bind)
        if len(binds) > 1 and (rev_id or list(revisions) != ["heads"]):
            raise UsageError(
                "merging named revisions or --rev-id needs a single --bind"
            )
        taken = self._taken_ids(rev_id)
        results = []
        for b in binds:
            result = files.merge(
                b,
                self._state().settings,
                revisions,
                message=message,
                branch_label=branch_label,
                rev_id=rev_id,
                taken_ids=taken,
            )
            taken.update(r.id for r in result.revisions)
            results.append(result)
        return results

    def edit(self, revision: str = "head", bind: BindNames = None) -> list[Revision]:
        """Open the revision file in the user's editor.

        :param revision: the revision to open; the head by default.
        :param bind: the bind, when the app has several.
        :return: the revisions opened.
        """
        import click

        binds = self.select(bind)
        if len(binds) > 1:
            raise UsageError("edit opens one bind's revision; name it with --bind")
        from ..verbs import looks

        found = looks.show(binds[0], self._state().settings, revision)
        for rev in found:
            click.edit(filename=rev.path)
        return found

    @contextmanager
    def _compared(self, bind: Bind, tenanted: bool) -> Iterator[Bind]:
        """What ``bind``'s models are compared with: its database, or for a tenanted
        bind a throwaway tenant built from its chain (never a customer's)."""
        if not tenanted:
            yield bind
            return
        with self._throwaway(bind) as compared:
            yield compared

    def _check_renames(self, binds: Sequence[Bind], values: Sequence[str]) -> None:
        """Refuse ``--rename`` values of a bad shape, or naming no model."""
        from ..options import parse_renames
        from ..verbs.files import renames_of

        given = parse_renames(values)
        known = [r for b in binds for r in renames_of(b, given)]
        for rename in given:
            if rename in known:
                continue
            if rename.kind == "table":
                what = f"no bind's models have a table {rename.new}"
            else:
                what = (
                    f"no bind's models have a table {rename.table} with a column "
                    f"{rename.new} (nor an ENUM type {rename.table} with that value)"
                )
            raise UsageError(f"--rename {rename.option}: {what}")

    def _models_hint(self) -> str:
        """Where the app's models should be imported, for a message."""
        from flask import current_app

        return (
            f"where the app is created (in {current_app.import_name}, before "
            "schemaver.init_app)"
        )

    def _taken_ids(self, rev_id: str | None) -> set[str]:
        from ..verbs import looks
        from ..verbs.preflight import check_rev_id

        if rev_id is not None:
            check_rev_id(rev_id)

        settings = self._state().settings
        taken: set[str] = set()
        for b in self.binds.values():
            ids = looks.revision_ids(b, settings)
            if rev_id and rev_id in ids:
                raise UsageError(
                    f"revision id {rev_id!r} is already used by bind {b.name!r}; "
                    "choose another --rev-id"
                )
            taken |= ids
        return taken
