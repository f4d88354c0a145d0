from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from gridpatrol.core.time import utcnow
from gridpatrol.extensions import db


class AuditEvent(db.Model):
    """One security-relevant fact. Rows are only ever inserted."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Kept as text so the record stays readable if the account is renamed.
    actor_name: Mapped[Optional[str]] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(60))
    target_type: Mapped[Optional[str]] = mapped_column(String(40))
    target_id: Mapped[Optional[str]] = mapped_column(String(80))
    address: Mapped[Optional[str]] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (Index("ix_audit_events_action_at", "action", "at"),)
