from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gridpatrol.core.time import utcnow
from gridpatrol.extensions import db


class WorkdayOverride(db.Model):
    """A site's own exception to the official calendar (e.g. a local holiday, an extra duty Saturday)."""

    __tablename__ = "workday_overrides"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    is_workday: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[Optional[str]] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class OfficialCalendarYear(db.Model):
    """A year whose official schedule an admin entered from the State Council's notice (国务院办公厅关于某年部分
    节假日安排的通知), for a year the maintained package does not know yet. Nationwide, not per site."""

    __tablename__ = "official_calendar_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    notice: Mapped[Optional[str]] = mapped_column(String(200))
    imported_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    imported_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))

    days: Mapped[list["OfficialCalendarDay"]] = relationship(back_populates="calendar_year",
                                                             cascade="all, delete-orphan",
                                                             order_by="OfficialCalendarDay.day")


class OfficialCalendarDay(db.Model):
    """One day of an imported year that differs from Monday–Friday: a holiday, or a make-up working day (调休)."""

    __tablename__ = "official_calendar_days"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    year: Mapped[int] = mapped_column(ForeignKey("official_calendar_years.year", ondelete="CASCADE"), index=True)
    is_workday: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str] = mapped_column(String(60))

    calendar_year: Mapped[OfficialCalendarYear] = relationship(back_populates="days")
