"""The app's extensions, created unbound so that ``create_app`` can set them up per app."""

from __future__ import annotations

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase

from flask_schemaver import SchemaVer


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
schemaver = SchemaVer()
