"""The Python API, one module per command family, mirroring :mod:`flask_schemaver.cli`.

Each module holds a mixin of :class:`~flask_schemaver.SchemaVer`: :mod:`.files`,
:mod:`.runs`, :mod:`.looks`, :mod:`.checks`, :mod:`.convert` and :mod:`.tenants`, on
the common ground of :mod:`.base`.
The methods find the current app's binds, check their arguments, call
:mod:`flask_schemaver.verbs` per bind, and return data.
"""
