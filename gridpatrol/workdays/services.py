"""Is a day a working day? China's official calendar (with 调休 make-up days) plus a site's own overrides.

The official calendar comes from the `chinesecalendar` package, which follows the State Council's yearly
notice. For a year it does not know yet, Monday to Friday are workdays until the package is updated or
an admin enters the year's holidays as overrides; `official_calendar_known` tells which years are covered.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Optional

import chinese_calendar
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridpatrol.audit import services as audit
from gridpatrol.core.errors import DomainError
from gridpatrol.grids.models import Site
from gridpatrol.workdays.models import WorkdayOverride


def official_calendar_known(year: int) -> bool:
    try:
        chinese_calendar.is_workday(dt.date(year, 6, 1))
        return True
    except NotImplementedError:
        return False


def official_workday(day: dt.date) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return day.weekday() < 5


@dataclass
class WorkdayCalendar:
    """Workdays for one site: the official calendar with the site's overrides on top."""

    overrides: dict[dt.date, bool] = field(default_factory=dict)

    def is_workday(self, day: dt.date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        return official_workday(day)

    def next_workday(self, day: dt.date) -> dt.date:
        """The first workday on or after `day`."""
        for _attempt in range(400):
            if self.is_workday(day):
                return day
            day += dt.timedelta(days=1)
        raise RuntimeError("no workday within 400 days: check the calendar overrides")


def calendar_for(session: Session, site: Site) -> WorkdayCalendar:
    rows = session.execute(select(WorkdayOverride.day, WorkdayOverride.is_workday).where(
        WorkdayOverride.site_id == site.id)).all()
    return WorkdayCalendar({day: is_workday for day, is_workday in rows})


def set_override(session: Session, site: Site, day: dt.date, is_workday: Optional[bool], *, note: Optional[str],
                 actor) -> None:
    """Make `day` a workday or a day off at this site; None removes the override (official calendar again)."""
    if day.year < 2000 or day.year > 2100:
        raise DomainError(_("That date is out of range."))
    existing = session.get(WorkdayOverride, (site.id, day))
    if is_workday is None:
        if existing is not None:
            session.delete(existing)
    elif existing is None:
        session.add(WorkdayOverride(site_id=site.id, day=day, is_workday=is_workday, note=note))
    else:
        existing.is_workday, existing.note = is_workday, note
    session.flush()
    audit.record(session, "calendar.override", actor=actor, target=site,
                 detail={"day": day.isoformat(), "is_workday": is_workday, "note": note})


def list_overrides(session: Session, site: Site) -> list[WorkdayOverride]:
    return list(session.scalars(select(WorkdayOverride).where(WorkdayOverride.site_id == site.id)
                                .order_by(WorkdayOverride.day)))


# --- working time (deadlines) ---------------------------------------------------------------------------
DEFAULT_OFFICE_HOURS = (dt.time(8, 30), dt.time(17, 30))


def add_working_hours(calendar: WorkdayCalendar, tz, start: dt.datetime, hours: float,
                      office: tuple[dt.time, dt.time] = DEFAULT_OFFICE_HOURS) -> dt.datetime:
    """`hours` of office time after `start`, counting only office hours on workdays. Returns UTC.

    Time outside office hours (evenings, weekends, holidays) does not count: a 4-hour limit started on
    Friday at 16:30 ends on Monday at 11:30 (or on the next workday after a holiday, or on a 调休 Saturday).
    """
    remaining = dt.timedelta(hours=hours)
    local = start.astimezone(tz)
    day = local.date()
    for _attempt in range(800):
        if calendar.is_workday(day):
            opens = dt.datetime.combine(day, office[0], tzinfo=tz)
            closes = dt.datetime.combine(day, office[1], tzinfo=tz)
            begin = max(opens, local)
            if begin < closes:
                available = closes - begin
                if remaining <= available:
                    return (begin + remaining).astimezone(dt.timezone.utc)
                remaining -= available
        day += dt.timedelta(days=1)
        local = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
    raise RuntimeError("working time beyond 800 days")


def add_working_days(calendar: WorkdayCalendar, tz, start: dt.datetime, days: int,
                     office: tuple[dt.time, dt.time] = DEFAULT_OFFICE_HOURS) -> dt.datetime:
    """The close of office on the `days`-th workday after the day of `start`. Returns UTC.

    The day it starts on does not count (a limit of 1 working day given on Friday ends Monday at close,
    or on the next workday after a holiday).
    """
    day = start.astimezone(tz).date()
    counted = 0
    for _attempt in range(800):
        day += dt.timedelta(days=1)
        if calendar.is_workday(day):
            counted += 1
            if counted >= days:
                return dt.datetime.combine(day, office[1], tzinfo=tz).astimezone(dt.timezone.utc)
    raise RuntimeError("working days beyond 800 days")
