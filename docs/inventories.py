"""Write the small intersphinx inventories in _inventories/, for offline builds.

conf.py looks each project up at its documentation site first; these files are the
fallback when the site can't be reached (CI has no network). Each lists only the
objects these docs refer to, at the page and anchor where that project documents
them, so that an offline build links exactly where an online one does. The pages were
checked against each project's published inventory.

Run from anywhere: ``python docs/inventories.py`` writes the files, ``--check`` exits
1 when a committed file differs from what this script writes.
"""

from __future__ import annotations

import sys
import zlib
from pathlib import Path

#: Each project: its name in conf.py's intersphinx_mapping, then each object as
#: (name, domain:role, page#anchor relative to the project's documentation root).
OBJECTS: dict[str, list[tuple[str, str, str]]] = {
    "python": [
        ("collections.abc.Callable", "py:class", "library/collections.abc.html"),
        ("collections.abc.Iterable", "py:class", "library/collections.abc.html"),
        ("collections.abc.Iterator", "py:class", "library/collections.abc.html"),
        ("collections.abc.Mapping", "py:class", "library/collections.abc.html"),
        ("collections.abc.Sequence", "py:class", "library/collections.abc.html"),
        ("pathlib.Path", "py:class", "library/pathlib.html"),
        ("typing.Literal", "py:data", "library/typing.html"),
        ("typing.TypedDict", "py:class", "library/typing.html"),
        ("None", "py:data", "library/constants.html"),
        ("AssertionError", "py:exception", "library/exceptions.html"),
        ("Exception", "py:exception", "library/exceptions.html"),
        ("KeyboardInterrupt", "py:exception", "library/exceptions.html"),
        ("TypeError", "py:exception", "library/exceptions.html"),
    ],
    "flask": [
        ("flask.Flask", "py:class", "api.html"),
        ("flask.Flask.extensions", "py:attribute", "api.html"),
        ("flask.Flask.test_cli_runner", "py:method", "api.html"),
    ],
    "click": [
        ("click.ClickException", "py:exception", "api.html"),
        ("click.UsageError", "py:exception", "api.html"),
    ],
    "sqlalchemy": [
        ("sqlalchemy.engine.Connection", "py:class", "core/connections.html"),
        ("sqlalchemy.engine.Engine", "py:class", "core/connections.html"),
        ("sqlalchemy.engine.URL", "py:class", "core/engines.html"),
        ("sqlalchemy.schema.MetaData", "py:class", "core/metadata.html"),
        ("sqlalchemy.schema.Table", "py:class", "core/metadata.html"),
    ],
    "alembic": [
        (
            "alembic.runtime.environment.EnvironmentContext",
            "py:class",
            "api/runtime.html",
        ),
        (
            "alembic.runtime.environment.EnvironmentContext.get_tag_argument",
            "py:method",
            "api/runtime.html",
        ),
        (
            "alembic.runtime.environment.EnvironmentContext.get_x_argument",
            "py:method",
            "api/runtime.html",
        ),
    ],
    "flask_sqlalchemy": [
        ("flask_sqlalchemy.SQLAlchemy", "py:class", "api.html"),
    ],
}

HERE = Path(__file__).parent / "_inventories"


def render(project: str, objects: list[tuple[str, str, str]]) -> bytes:
    """One inventory in Sphinx's version 2 format: a plain header, then one zlib
    compressed line per object, anchored at the object's full name."""
    header = (
        "# Sphinx inventory version 2\n"
        f"# Project: {project}\n"
        "# Version: \n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    lines = "".join(
        f"{name} {role} 1 {page}#{name} -\n" for name, role, page in sorted(objects)
    )
    return header.encode() + zlib.compress(lines.encode(), 9)


def main(argv: list[str]) -> int:
    check = argv == ["--check"]
    stale = []
    for project, objects in OBJECTS.items():
        path = HERE / f"{project}.inv"
        data = render(project, objects)
        if check:
            if not path.is_file() or path.read_bytes() != data:
                stale.append(path.name)
        else:
            HERE.mkdir(exist_ok=True)
            path.write_bytes(data)
    if stale:
        print(
            f"out of date: {', '.join(stale)}; run python docs/inventories.py",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
