"""Oracle: DDL that commits itself, and no migration lock known yet."""

from __future__ import annotations

from .base import Dialect


class Oracle(Dialect):
    # Each DDL statement commits: a failed revision may leave part of its changes.
    transactional_ddl = False


dialect = Oracle("oracle")
