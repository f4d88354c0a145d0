from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from gridpatrol.core.time import utcnow
from gridpatrol.extensions import db


class Notification(db.Model):
    """A message for one user: its kind, the parameters its message needs and the object it is about.

    It holds no text: `gridpatrol.notifications.kinds` renders it when read, in the reader's language, with a
    link built then. `key` makes it idempotent: the same (user, key) is written once.
    """

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(40))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    target_type: Mapped[Optional[str]] = mapped_column(String(20))  # "issue", "patrol", "appeal"
    target_id: Mapped[Optional[int]]
    site_id: Mapped[Optional[int]] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    read_at: Mapped[Optional[dt.datetime]]

    __table_args__ = (
        Index("uq_notifications_user_id_key", "user_id", "key", unique=True),
        Index("ix_notifications_user_id_read_at", "user_id", "read_at"),
        Index("ix_notifications_target", "target_type", "target_id"),
    )
