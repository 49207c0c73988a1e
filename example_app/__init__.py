"""A small Flask app with three databases, migrated with flask_schemaver.

Run ``flask --app example_app db upgrade`` from the repository root.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask import request

from . import models
from .extensions import db
from .extensions import schemaver

__all__ = ["create_app", "db", "models", "schemaver"]


def _sqlite(path: str) -> str:
    return "sqlite:///" + path


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app; ``test_config`` overrides any configuration key.

    The ``audit`` bind uses the default database's URL unless ``SQLALCHEMY_BINDS``
    names it, so overriding ``SQLALCHEMY_DATABASE_URI`` moves both together.
    """
    # Keep the instance folder (SQLite files, optional config.py) inside the package;
    # Flask would otherwise put it next to the package, at the repository root.
    app = Flask(
        __name__,
        instance_path=os.path.join(
            os.path.dirname(os.path.abspath(__file__)), "instance"
        ),
        instance_relative_config=True,
    )
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(
        SQLALCHEMY_DATABASE_URI=_sqlite(os.path.join(app.instance_path, "example.db")),
        SCHEMAVER_DIRECTORY=os.path.join(app.root_path, "migrations"),
    )
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
    else:
        app.config.from_mapping(test_config)

    binds = dict(app.config.get("SQLALCHEMY_BINDS") or {})
    binds.setdefault(
        "analytics", _sqlite(os.path.join(app.instance_path, "analytics.db"))
    )
    binds.setdefault("audit", app.config["SQLALCHEMY_DATABASE_URI"])
    app.config["SQLALCHEMY_BINDS"] = binds

    db.init_app(app)
    schemaver.init_app(app, db)

    @app.get("/")
    def index() -> dict[str, Any]:
        db.session.add(models.PageView(path=request.path))
        db.session.commit()
        posts = db.session.scalars(db.select(models.Post).order_by(models.Post.id))
        return {"posts": [post.title for post in posts]}

    return app
