"""App-aware database schema migrations for Flask, one revision chain per database."""

from __future__ import annotations

from .exceptions import ConfigError as ConfigError
from .exceptions import DatabaseError as DatabaseError
from .exceptions import LockTimeout as LockTimeout
from .exceptions import MigrationError as MigrationError
from .exceptions import MultipleHeads as MultipleHeads
from .exceptions import ProtectedBind as ProtectedBind
from .exceptions import RunFailed as RunFailed
from .exceptions import SchemaVerError as SchemaVerError
from .exceptions import UnknownBind as UnknownBind
from .exceptions import UnknownRevision as UnknownRevision
from .exceptions import UsageError as UsageError
from .extension import SchemaVer as SchemaVer
