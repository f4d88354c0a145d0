"""When a plan's patrols happen: pure date arithmetic, no database, so it is easy to test with frozen time.

Rules:
- A plan occurs on a local date by its recurrence; its window starts at `window_start` wall-clock time in
  the site's zone on that date and lasts `window_minutes` (it may run past midnight).
- monthly: `month_day` 1..31; a day the month does not have means its last day (31 → 30 April, 28/29
  February); -1 always means the last day.
- every_n_days: counted from `starts_on` (day 0).
- workdays: the Chinese official calendar with 调休 and the site's overrides (gridpatrol.workdays).
- A patrol submitted after the window but within `grace_minutes` is late; after that it is missed.
"""

from __future__ import annotations

import calendar
import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Iterator, Optional, Sequence

from gridpatrol.workdays.services import WorkdayCalendar


@dataclass(frozen=True)
class PlanRule:
    recurrence: str
    window_start: dt.time
    window_minutes: int
    grace_minutes: int
    starts_on: dt.date
    ends_on: Optional[dt.date] = None
    weekdays: Sequence[int] = ()
    month_day: Optional[int] = None
    interval_days: Optional[int] = None

    @classmethod
    def of(cls, plan) -> "PlanRule":
        return cls(plan.recurrence, plan.window_start, plan.window_minutes, plan.grace_minutes, plan.starts_on,
                   plan.ends_on, tuple(plan.weekdays or ()), plan.month_day, plan.interval_days)


@dataclass(frozen=True)
class Window:
    start: dt.datetime  # UTC
    due: dt.datetime  # UTC: the end of the window
    grace_until: dt.datetime  # UTC: after this the patrol is missed


def occurs_on(rule: PlanRule, day: dt.date, workdays: WorkdayCalendar) -> bool:
    if day < rule.starts_on or (rule.ends_on is not None and day > rule.ends_on):
        return False
    if rule.recurrence == "daily":
        return True
    if rule.recurrence == "workdays":
        return workdays.is_workday(day)
    if rule.recurrence == "weekdays":
        return day.weekday() in rule.weekdays
    if rule.recurrence == "monthly":
        last = calendar.monthrange(day.year, day.month)[1]
        wanted = last if rule.month_day in (None, -1) else min(rule.month_day, last)
        return day.day == wanted
    if rule.recurrence == "every_n_days":
        return (day - rule.starts_on).days % max(rule.interval_days or 1, 1) == 0
    raise ValueError(f"unknown recurrence {rule.recurrence!r}")


def window_on(rule: PlanRule, day: dt.date, tz: zoneinfo.ZoneInfo) -> Window:
    start = dt.datetime.combine(day, rule.window_start, tzinfo=tz).astimezone(dt.timezone.utc)
    due = start + dt.timedelta(minutes=rule.window_minutes)
    return Window(start, due, due + dt.timedelta(minutes=rule.grace_minutes))


def windows(rule: PlanRule, tz: zoneinfo.ZoneInfo, start: dt.datetime, end: dt.datetime,
            workdays: WorkdayCalendar) -> Iterator[Window]:
    """Windows whose start lies in [start, end), in order."""
    first = start.astimezone(tz).date() - dt.timedelta(days=1)
    last = end.astimezone(tz).date() + dt.timedelta(days=1)
    day = max(first, rule.starts_on)
    while day <= last and (rule.ends_on is None or day <= rule.ends_on):
        if occurs_on(rule, day, workdays):
            window = window_on(rule, day, tz)
            if start <= window.start < end:
                yield window
        day += dt.timedelta(days=1)


def next_windows(rule: PlanRule, tz: zoneinfo.ZoneInfo, after: dt.datetime, workdays: WorkdayCalendar,
                 count: int = 10, search_days: int = 800) -> list[Window]:
    """The next `count` windows starting at or after `after` (for the plan editor's preview)."""
    found: list[Window] = []
    for window in windows(rule, tz, after, after + dt.timedelta(days=search_days), workdays):
        found.append(window)
        if len(found) == count:
            break
    return found
