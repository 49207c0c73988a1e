"""Options and arguments shared by the ``flask db`` commands."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any
from typing import TypeVar

import click
from click.shell_completion import CompletionItem

from ..options import EVERY_TENANT
from ..options import parse_shard
from ..options import Shard

F = TypeVar("F", bound=Callable[..., Any])

_NEGATIVE = re.compile(r"-\d+")
_MINUS = "\0"


class RelativeRevisionCommand(click.Command):
    """A command whose revision argument may be negative, e.g. ``downgrade -2``.

    click would read ``-2`` as an option; it is passed through masked and unmasked by
    :func:`unmask`, so that a mistyped option still fails as an unknown option.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        masked = [_MINUS + a[1:] if _NEGATIVE.fullmatch(a) else a for a in args]
        return super().parse_args(ctx, masked)


def unmask(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """The revision argument as typed, ``-2`` included; never empty."""
    if value is None:
        return None
    revision: str = not_empty(ctx, param, value.replace(_MINUS, "-"))
    return revision


def not_empty(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Refuse an empty revision, as an unset shell variable gives
    (``flask db upgrade "$REV"``)."""
    values = value if isinstance(value, tuple) else (value,)
    if any(isinstance(v, str) and not v.strip() for v in values):
        raise click.BadParameter(
            "is empty; give a revision id, or a name such as 'heads' or 'base'"
        )
    return value


def complete_binds(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """The app's bind names that start with what was typed, for shell completion."""
    from flask.cli import ScriptInfo

    try:
        app = ctx.ensure_object(ScriptInfo).load_app()
        with app.app_context():
            names = list(app.extensions["schemaver"].extension.binds)
    except Exception:  # no app to load yet: nothing to offer
        return []
    return [CompletionItem(name) for name in names if name.startswith(incomplete)]


def bind_option(func: F) -> F:
    return click.option(
        "--bind",
        "bind",
        multiple=True,
        metavar="NAME",
        shell_complete=complete_binds,
        help="Work on this bind only; repeat for several. Default: every bind.",
    )(func)


def shard_value(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> Shard | None:
    """``--shard K/N`` as a :class:`~flask_schemaver.Shard`; a bad one is refused."""
    from ..exceptions import UsageError

    try:
        return parse_shard(value)
    except UsageError:
        raise click.BadParameter(
            f"{value!r}: give K/N, the K-th of N shares, with N 1 or more and K from "
            "1 to N (e.g. 2/4)"
        ) from None


def tenant_option(func: F) -> F:
    """``--tenant`` (repeatable, shell-style patterns), ``--all-tenants`` and
    ``--shard``, given to the command as a ``tenant`` argument (the names and
    patterns, ``*`` for every tenant, or None when neither is given: the
    command's default) and a ``shard`` one.

    A shard that holds no tenant of a bind is said on stderr, one line per bind: a
    CI matrix job with nothing to do reports it and succeeds.
    """

    @functools.wraps(func)
    def combined(
        *args: Any,
        tenant: tuple[str, ...],
        all_tenants: bool,
        shard: Shard | None,
        **kwargs: Any,
    ) -> Any:
        chosen = (*tenant, EVERY_TENANT) if all_tenants else tenant
        if shard is not None:
            say_empty_shards(kwargs.get("bind"), chosen or None, shard)
        return func(*args, tenant=chosen or None, shard=shard, **kwargs)

    options = [
        click.option(
            "--tenant",
            "tenant",
            multiple=True,
            metavar="NAME",
            help="Work on this tenant of a tenanted bind only; repeatable; shell-style "
            "patterns allowed. Leaves out the binds without tenants.",
        ),
        click.option(
            "--all-tenants",
            is_flag=True,
            help="Work on every tenant of the tenanted binds (what downgrade, stamp "
            "and resolve need to be told).",
        ),
        click.option(
            "--shard",
            metavar="K/N",
            callback=shard_value,
            help="Of the tenants selected, work on the K-th of N shares only (e.g. "
            "2/4), one share per CI job; a tenant's share depends on its name "
            "alone. Leaves out the binds without tenants.",
        ),
    ]
    for option in reversed(options):
        combined = option(combined)
    return combined  # type: ignore[return-value]


def say_empty_shards(
    bind: tuple[str, ...] | None, tenant: tuple[str, ...] | None, shard: Shard
) -> None:
    """One line on stderr for each tenanted bind of which ``shard`` holds no tenant."""
    from . import extension
    from . import output

    for name, names in extension().tenant_names(bind, tenant, shard=shard).items():
        if not names:
            output.echo(f"shard {shard} of bind {name}: no tenants", err=True)


def run_options(func: F) -> F:
    for option in reversed(
        [
            click.option(
                "--sql",
                is_flag=True,
                help="Print the SQL instead of running it (offline).",
            ),
            click.option(
                "--tag", help="Arbitrary tag passed to the migration scripts."
            ),
            x_option,
            click.option(
                "--fail-fast",
                is_flag=True,
                help="Stop at the first bind that fails; the rest are skipped.",
            ),
            click.option(
                "-j",
                "--jobs",
                type=click.IntRange(min=1),
                help="Databases to migrate at once (default: SCHEMAVER_JOBS, 1).",
            ),
        ]
    ):
        func = option(func)
    return func


#: ``-x key=value``: read in revisions with ``context.get_x_argument()``.
x_option = click.option(
    "-x",
    "x_args",
    multiple=True,
    metavar="KEY=VALUE",
    help="Extra argument for the migration scripts (context.get_x_argument()); repeatable.",
)


def plan_options(func: F) -> F:
    func = click.option(
        "--json", "as_json", is_flag=True, help="With --plan: print JSON for tools."
    )(func)
    return click.option(
        "--plan",
        is_flag=True,
        help="Show the revisions and operations that would run; run nothing.",
    )(func)


def yes_option(func: F) -> F:
    return click.option(
        "--yes",
        is_flag=True,
        help="Confirm the change on protected binds without asking.",
    )(func)


def all_binds_option(func: F) -> F:
    return click.option(
        "--all-binds",
        is_flag=True,
        help="Allow the change on every bind when the app has several.",
    )(func)


def json_option(func: F) -> F:
    return click.option(
        "--json", "as_json", is_flag=True, help="Print JSON for tools."
    )(func)


def rename_options(func: F) -> F:
    """``--rename``, ``--no-input`` and ``--allow-drop-all`` of autogenerate."""
    for option in reversed(
        [
            click.option(
                "--rename",
                "rename",
                multiple=True,
                metavar="TABLE.OLD:NEW|OLD:NEW",
                help="Write this drop + add as a rename: a column (TABLE.OLD:NEW, also "
                "an ENUM value TYPE.OLD:NEW) or a table (OLD_TABLE:NEW_TABLE); "
                "repeatable.",
            ),
            click.option(
                "--no-input",
                is_flag=True,
                help="Never ask whether a drop + add is a rename; only --rename says so.",
            ),
            click.option(
                "--allow-drop-all",
                is_flag=True,
                help="Write the revision even when a bind without models would drop "
                "every table.",
            ),
        ]
    ):
        func = option(func)
    return func
