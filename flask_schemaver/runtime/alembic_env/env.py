"""Alembic's entry point for flask_schemaver; the work is done in
flask_schemaver.runtime.environment."""

from alembic import context

from flask_schemaver.runtime.environment import run_env

run_env(context)  # type: ignore[arg-type]  # the module proxies an EnvironmentContext
