"""Check that configuration.rst documents every SCHEMAVER_* key with its default.

Compares ``flask_schemaver.settings.DEFAULTS`` with the ``py:data`` entries of
configuration.rst (each entry's ``Default:`` line) and with its table of
constructor options. Run from anywhere: ``python docs/check_settings.py``; exits 1
and names each difference.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from flask_schemaver.settings import DEFAULTS

PAGE = Path(__file__).parent / "configuration.rst"


def main() -> int:
    text = PAGE.read_text()
    entries = dict(
        re.findall(
            r"\.\. py:data:: (SCHEMAVER_\w+)\n(.*?)(?=\n\.\. py:data::|\n\S)",
            text,
            re.S,
        )
    )
    table = dict(re.findall(r"``(\w+)``\s+:data:`(SCHEMAVER_\w+)`", text))
    problems = []
    for key, default in DEFAULTS.items():
        body = entries.get(key)
        if body is None:
            problems.append(f"{key} is not documented")
            continue
        found = re.search(r"Default: ``(.*?)``", body)
        shown = found.group(1) if found else None
        expected = repr(default).replace("'", '"')
        if shown != expected:
            problems.append(f"{key}: the docs say {shown!r}, the code has {expected!r}")
        argument = key.removeprefix("SCHEMAVER_").lower()
        if table.get(argument) != key:
            problems.append(f"the constructor options table lacks {argument}")
    problems += [
        f"{key} is documented but is no setting"
        for key in entries.keys() - DEFAULTS.keys()
    ]
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
