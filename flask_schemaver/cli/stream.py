"""Writing to the terminal without ever hurting a run.

A reader that went away (``flask db upgrade | head -1``), a stream that cannot encode
an arrow (a latin-1 terminal) or a closed stream never raises into a command: the
migrations go on, and the exit code says what happened to the databases. Arrows and
ellipses fall back to ASCII where the stream cannot encode them.

At a terminal, a progress bar can be pinned below the output (:func:`pin`): each line
printed then goes above it, and the bar is drawn again under it.
"""

from __future__ import annotations

import os
import sys
from typing import Protocol
from typing import TextIO

import click

#: Characters the commands print, and what to print where the stream can't encode them.
_ASCII = str.maketrans({"→": "->", "…": "...", "×": "x"})

#: Whether a line was started in place at a terminal and not yet ended.
_open_line = False
#: How many characters the line started in place shows.
_open_width = 0


class Footer(Protocol):
    """What stays below the lines printed at a terminal: a progress bar."""

    def clear(self) -> None:
        """Blank the footer's line, leaving the cursor at its start."""

    def draw(self) -> None:
        """Draw the footer again, on the line the cursor is on."""


#: The footer pinned below the output, if any.
_footer: Footer | None = None


def pin(footer: Footer | None) -> None:
    """Keep ``footer`` below every line printed from now on; None unpins it."""
    global _footer
    _footer = footer


def color() -> bool | None:
    """False when NO_COLOR is set; else let click decide (colour at a terminal)."""
    return False if os.environ.get("NO_COLOR") else None


def echo(message: str = "", err: bool = False, nl: bool = True) -> None:
    """Print ``message``, dropping colour when NO_COLOR is set or output is not a
    terminal; never raises because of the stream."""
    global _open_line
    if _open_line:
        _open_line = False
        _write("\n", err)
    if _footer is not None:
        _footer.clear()
    _write(message + ("\n" if nl else ""), err)
    if _footer is not None:
        _footer.draw()


def rewrite(message: str, *, final: bool) -> None:
    """Print ``message`` over the line started in place, if any; ``final`` ends it."""
    global _open_line, _open_width
    if _footer is not None:
        # The footer's line is the one rewritten: show only the final line, above.
        if final:
            echo(message)
        return
    width = len(click.unstyle(message))
    if _open_line:
        padding = " " * max(0, _open_width - width)
        _write("\r" + message + padding + ("\n" if final else ""), False)
    else:
        echo(message, nl=final)
    _open_line, _open_width = not final, width


def is_terminal() -> bool:
    """Whether standard output is a terminal, where a line can be rewritten in place."""
    try:
        return sys.stdout.isatty()
    except (ValueError, OSError):
        return False


def write(text: str, err: bool = False) -> None:
    """Write ``text`` as it is, e.g. a progress bar's ``\\r`` and line; never raises
    because of the stream."""
    _write(text, err)


def _write(text: str, err: bool) -> None:
    stream: TextIO = sys.stderr if err else sys.stdout
    try:
        click.echo(text, file=stream, nl=False, color=color())
    except UnicodeEncodeError:
        try:
            click.echo(_encodable(text, stream), file=stream, nl=False, color=color())
        except (OSError, ValueError):
            _silence(stream)
    except (OSError, ValueError):
        # The reader went away or the stream is closed: say nothing more there.
        _silence(stream)


def _encodable(text: str, stream: TextIO) -> str:
    encoding = getattr(stream, "encoding", None) or "ascii"
    ascii_text = text.translate(_ASCII)
    return ascii_text.encode(encoding, "replace").decode(encoding)


def _silence(stream: TextIO) -> None:
    """Send what is still written to ``stream`` to nowhere, so that neither later lines
    nor the flush at exit fail on it."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, stream.fileno())
        finally:
            os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
