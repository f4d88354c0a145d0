from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from gridpatrol.core.time import utcnow
from gridpatrol.extensions import db


class Notification(db.Model):
    """An in-app message for one user. `key` makes a reminder idempotent: the same key is sent once."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(String(500))
    link: Mapped[Optional[str]] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    read_at: Mapped[Optional[dt.datetime]]

    __table_args__ = (
        Index("uq_notifications_user_id_key", "user_id", "key", unique=True),
        Index("ix_notifications_user_id_read_at", "user_id", "read_at"),
    )
