"""``flask db lint``: find operations in revisions that lock tables or break running code.

This package is light to import: the rule catalogue and the finding type live here,
while the engine (:mod:`.engine`) and the checks (:mod:`.rules`) import Alembic and are
loaded only when revisions are linted.
"""

from __future__ import annotations

from .catalog import Finding as Finding
from .catalog import LEVELS as LEVELS
from .catalog import Rule as Rule
from .catalog import RULES as RULES
