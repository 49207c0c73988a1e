"""Models of the example app, spread over three binds.

- default database: ``User`` and ``Post``
- ``analytics`` (its own SQLite file): ``PageView``
- ``audit`` (the same SQLite file as the default database): ``AuditEntry``
"""

from __future__ import annotations

from datetime import datetime
from datetime import timezone

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from .extensions import db


def _now() -> datetime:
    return datetime.now(timezone.utc)


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(80), unique=True)
    email: Mapped[str] = mapped_column(sa.String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=_now)

    posts: Mapped[list[Post]] = relationship(back_populates="author")


class Post(db.Model):
    __tablename__ = "posts"

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text, default="")
    published_at: Mapped[datetime | None]

    author: Mapped[User] = relationship(back_populates="posts")


class PageView(db.Model):
    """One request to a page; kept in a separate database so it can grow freely."""

    __bind_key__ = "analytics"
    __tablename__ = "page_views"

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(sa.String(500), index=True)
    # Another database: a plain id, no foreign key to users.
    user_id: Mapped[int | None]
    referrer: Mapped[str | None] = mapped_column(sa.String(500))
    viewed_at: Mapped[datetime] = mapped_column(default=_now)


class AuditEntry(db.Model):
    """Who did what; a bind of its own, stored in the default database's file."""

    __bind_key__ = "audit"
    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None]
    action: Mapped[str] = mapped_column(sa.String(50))
    target: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(default=_now)
