"""Reading and acknowledging in-app notifications (they are written by jobs, e.g. patrol reminders)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from gridpatrol.notifications.models import Notification


# Every page shows the count: the statement is built once.
_UNREAD_COUNT = select(func.count()).select_from(Notification).where(
    Notification.user_id == bindparam("user_id"), Notification.read_at.is_(None))


def unread_count(session: Session, user_id: int) -> int:
    return session.scalar(_UNREAD_COUNT, {"user_id": user_id}) or 0


def recent(session: Session, user_id: int, limit: int = 100) -> list[Notification]:
    return list(session.scalars(select(Notification).where(Notification.user_id == user_id)
                                .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)))


def mark_all_read(session: Session, user_id: int, now: dt.datetime) -> None:
    session.execute(update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
                    .values(read_at=now))
