"""A bind's revision files: read as text (:mod:`.files`), as a plain line of revisions
(:mod:`.chain`), and as a revision graph (:mod:`.graph`).

Reading a chain this way needs no revision file imported and, outside :mod:`.graph`,
no Alembic at all: the fast answers of a no-op ``upgrade`` and a health check come from
here.

Flask-Migrate ``--multidb`` folders are found and read here too (:mod:`.multidb`, with
:mod:`.dispatch` for the dispatcher shapes), split into one chain per bind as a plan
(:mod:`.split`) and rewritten for one database (:mod:`.rewrite`).
"""
