"""The in-memory Alembic environment and what runs inside it.

:mod:`.environment` is the one module that knows how Alembic is wired; :mod:`.errors`
turns Alembic's and the database's errors into flask_schemaver's; :mod:`.recording`
runs revisions against an ``op`` that records instead of executing; :mod:`.history`
keeps the applied-revisions table; :mod:`.locking` holds a bind's migration lock;
:mod:`.versions` reads a version table without Alembic, and :mod:`.fleet` those of
many tenants at once; and :mod:`.multidb` runs a
Flask-Migrate ``--multidb`` chain for one database as Flask-Migrate does.
"""
