from __future__ import annotations

import datetime as dt
import enum
from typing import Optional

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gridpatrol.accounts.models import User
from gridpatrol.core.time import utcnow
from gridpatrol.extensions import db


class SourceType(str, enum.Enum):
    PATROL = "patrol"
    ISSUE = "issue"
    APPEAL = "appeal"
    MANUAL = "manual"


class RuleSet(db.Model):
    """A site's points rules from a month on. Changing rules adds a version; old entries keep theirs."""

    __tablename__ = "points_rule_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    effective_from: Mapped[dt.date] = mapped_column(Date)  # the first day of a month
    rules: Mapped[dict[str, int]] = mapped_column(JSON)
    note: Mapped[Optional[str]] = mapped_column(String(255))
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("site_id", "version"), UniqueConstraint("site_id", "effective_from"))


class PointsEntry(db.Model):
    """One line of the append-only ledger. Never updated or deleted; mistakes are corrected by new entries."""

    __tablename__ = "points_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    month: Mapped[dt.date] = mapped_column(Date)  # the month it counts in (first day)
    event_month: Mapped[dt.date] = mapped_column(Date)  # the month the earning event happened in
    rule_code: Mapped[str] = mapped_column(String(40))
    rule_version: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(Integer)
    source_type: Mapped[str] = mapped_column(String(10))
    source_id: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(500))
    corrects_id: Mapped[Optional[int]] = mapped_column(ForeignKey("points_entries.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(lazy="joined")
    corrects: Mapped[Optional["PointsEntry"]] = relationship(remote_side=[id])

    __table_args__ = (
        # No event ever earns the same rule twice for the same person.
        UniqueConstraint("rule_code", "source_type", "source_id", "user_id"),
        Index("ix_points_entries_site_id_month", "site_id", "month"),
        Index("ix_points_entries_user_id_month", "user_id", "month"),
        CheckConstraint("source_type IN ('patrol', 'issue', 'appeal', 'manual')", name="source_known"),
    )


class MonthClose(db.Model):
    """月度锁定: a closed month takes no new entries; late events and corrections go to the next open month."""

    __tablename__ = "points_month_closes"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    closed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))


class AppealState(str, enum.Enum):
    OPEN = "open"
    UPHELD = "upheld"  # the entry stands
    OVERTURNED = "overturned"  # a correcting entry cancels it


class Appeal(db.Model):
    __tablename__ = "points_appeals"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("points_entries.id"), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(12), default=AppealState.OPEN.value)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[Optional[dt.datetime]]
    decision_note: Mapped[Optional[str]] = mapped_column(Text)
    correction_id: Mapped[Optional[int]] = mapped_column(ForeignKey("points_entries.id"))

    entry: Mapped[PointsEntry] = relationship(foreign_keys=[entry_id], lazy="joined")
    user: Mapped[User] = relationship(foreign_keys=[user_id])
    decided_by: Mapped[Optional[User]] = relationship(foreign_keys=[decided_by_id])

    __table_args__ = (CheckConstraint("state IN ('open', 'upheld', 'overturned')", name="state_known"),)
