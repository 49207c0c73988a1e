"""What each command does on one bind, returning data and never printing.

Modules are named after the command families of :mod:`flask_schemaver.cli` and
:mod:`flask_schemaver.api`: :mod:`.files` (init, revision, merge), :mod:`.runs`
(upgrade, downgrade, stamp), :mod:`.looks` (heads, history, status, ...),
:mod:`.checks` (check, acknowledge) and :mod:`.convert` (split-multidb, with
:mod:`.convert_stamp` for its ``--stamp``). Beside them: :mod:`.preflight`, the checks
made before anything changes; :mod:`.plan`, what a run would do; :mod:`.parallel`,
several binds at once; :mod:`.quick`, the answers that need no Alembic.
"""
