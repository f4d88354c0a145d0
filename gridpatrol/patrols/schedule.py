"""When a plan's patrols happen: pure date arithmetic, no database, so it is easy to test with frozen time.

Rules:
- A plan occurs on a local date by its recurrence; its window starts at `window_start` wall-clock time in
  the site's zone on that date and lasts `window_minutes` (it may run past midnight).
- monthly: `month_day` 1..31; a day the month does not have means its last day (31 → 30 April, 28/29
  February); -1 always means the last day.
- every_n_days: counted from `starts_on` (day 0).
- workdays: the Chinese official calendar with 调休 and the site's overrides (gridpatrol.workdays).
- A patrol submitted after the window but within `grace_minutes` is late; after that it is missed.

Rest days (`on_rest_day`, the plan's 遇休息日 rule). A rest day is a day that is not a working day by the site's
calendar (`WorkdayCalendar.is_workday`: the site's overrides, then the official calendar). The day the recurrence
names is the *nominal* day; where the patrol then happens is its *day*:
- the rule applies to monthly, weekdays and every_n_days plans. A daily plan means every day, rest days included;
  a workdays plan never names a rest day; for both the rule is ignored.
- 'next': a nominal rest day moves to the next working day; 'previous': to the previous working day; 'skip': the
  occurrence does not happen; 'keep': it happens on the rest day anyway (e.g. a weekend guard round).
- A moved occurrence keeps its window time on its new day. It may cross a month boundary: a monthly plan on the
  31st whose 31st is a Saturday happens on the next month's first working day, 'previous' of a Sunday 1st on the
  previous month's last working day; the month keeps its own occurrence too (the nominal day is what counts).
- Occurrences that land on one day (a weekly plan on Saturday and Monday moved 'next'; every-N-days moved onto
  a day that has its own occurrence) make one window, as the patrols' unique key (plan, grid, window start) wants.
- The plan's first and last day bound both days: an occurrence whose nominal day lies outside
  [starts_on, ends_on] does not exist, and one moved outside that span is dropped (no patrol before the plan's
  first day or after its last).
- The search for a working day is bounded by `MAX_SHIFT` days (the longest run of rest days in the official
  calendar is about 9 days, at the Spring Festival or National Day); an occurrence with no working day within
  reach is dropped, as a skipped one is. `windows` therefore looks at nominal days up to `MAX_SHIFT` days
  before and after the range it is asked about, so it finds an occurrence moved into the range from outside.
"""

from __future__ import annotations

import calendar
import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Iterator, Optional, Sequence

from gridpatrol.workdays.services import WorkdayCalendar

REST_DAY_RULES = ("next", "previous", "skip", "keep")
# Recurrences the rest-day rule applies to (daily means every day; workdays never names a rest day).
MOVABLE = frozenset({"monthly", "weekdays", "every_n_days"})
MAX_SHIFT = 31  # days searched for a working day before an occurrence is given up


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
    on_rest_day: str = "next"

    def __post_init__(self):
        if self.on_rest_day not in REST_DAY_RULES:
            raise ValueError(f"unknown rest-day rule {self.on_rest_day!r}")

    @classmethod
    def of(cls, plan) -> "PlanRule":
        return cls(plan.recurrence, plan.window_start, plan.window_minutes, plan.grace_minutes, plan.starts_on,
                   plan.ends_on, tuple(plan.weekdays or ()), plan.month_day, plan.interval_days,
                   plan.on_rest_day or "next")

    @property
    def moves(self) -> bool:
        """Whether an occurrence on a rest day goes elsewhere (moved or skipped)."""
        return self.recurrence in MOVABLE and self.on_rest_day != "keep"


@dataclass(frozen=True)
class Window:
    start: dt.datetime  # UTC
    due: dt.datetime  # UTC: the end of the window
    grace_until: dt.datetime  # UTC: after this the patrol is missed


@dataclass(frozen=True)
class Occurrence:
    """One day the plan names or happens on (for the editor's preview).

    `day` is where it happens, `window` its window, `nominal` the days the recurrence names that land there
    (usually just `day`; a rest day moved here, possibly several). A skipped occurrence has `window` None and
    `day` = its nominal day."""

    day: dt.date
    window: Optional[Window]
    nominal: tuple[dt.date, ...]

    @property
    def skipped(self) -> bool:
        return self.window is None

    @property
    def moved_from(self) -> tuple[dt.date, ...]:
        """The nominal days moved onto `day` (empty when it happens where the recurrence put it)."""
        return () if self.skipped else tuple(d for d in self.nominal if d != self.day)


def _in_span(rule: PlanRule, day: dt.date) -> bool:
    return day >= rule.starts_on and (rule.ends_on is None or day <= rule.ends_on)


def named_on(rule: PlanRule, day: dt.date, workdays: WorkdayCalendar) -> bool:
    """Whether the recurrence names `day` (the nominal day, before the rest-day rule), within the plan's span."""
    if not _in_span(rule, day):
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


def placed_on(rule: PlanRule, nominal: dt.date, workdays: WorkdayCalendar) -> Optional[dt.date]:
    """The day an occurrence named on `nominal` happens on, or None when it does not (skipped, no working day
    within `MAX_SHIFT` days, or moved outside the plan's span). `nominal` must be a day the recurrence names."""
    if not rule.moves or workdays.is_workday(nominal):
        return nominal
    if rule.on_rest_day == "skip":
        return None
    step = dt.timedelta(days=1 if rule.on_rest_day == "next" else -1)
    day = nominal
    for _attempt in range(MAX_SHIFT):
        day += step
        if workdays.is_workday(day):
            return day if _in_span(rule, day) else None
    return None


def _placements(rule: PlanRule, first: dt.date, last: dt.date,
                workdays: WorkdayCalendar) -> dict[dt.date, list[dt.date]]:
    """Occurrences happening on a day in [first, last]: day → the nominal days that land on it, in order."""
    reach = dt.timedelta(days=MAX_SHIFT if rule.moves else 0)
    nominal = max(first - reach, rule.starts_on)
    end = last + reach if rule.ends_on is None else min(last + reach, rule.ends_on)
    found: dict[dt.date, list[dt.date]] = {}
    while nominal <= end:
        if named_on(rule, nominal, workdays):
            day = placed_on(rule, nominal, workdays)
            if day is not None and first <= day <= last:
                found.setdefault(day, []).append(nominal)
        nominal += dt.timedelta(days=1)
    return found


def occurs_on(rule: PlanRule, day: dt.date, workdays: WorkdayCalendar) -> bool:
    """Whether the plan has a window on `day` (after the rest-day rule)."""
    return day in _placements(rule, day, day, workdays)


def window_on(rule: PlanRule, day: dt.date, tz: zoneinfo.ZoneInfo) -> Window:
    start = dt.datetime.combine(day, rule.window_start, tzinfo=tz).astimezone(dt.timezone.utc)
    due = start + dt.timedelta(minutes=rule.window_minutes)
    return Window(start, due, due + dt.timedelta(minutes=rule.grace_minutes))


def windows(rule: PlanRule, tz: zoneinfo.ZoneInfo, start: dt.datetime, end: dt.datetime,
            workdays: WorkdayCalendar) -> Iterator[Window]:
    """Windows whose start lies in [start, end), in order; one per day, wherever its nominal day lies."""
    first = start.astimezone(tz).date() - dt.timedelta(days=1)
    last = end.astimezone(tz).date() + dt.timedelta(days=1)
    for day in sorted(_placements(rule, first, last, workdays)):
        window = window_on(rule, day, tz)
        if start <= window.start < end:
            yield window


def next_windows(rule: PlanRule, tz: zoneinfo.ZoneInfo, after: dt.datetime, workdays: WorkdayCalendar,
                 count: int = 10, search_days: int = 800) -> list[Window]:
    """The next `count` windows starting at or after `after`."""
    return [o.window for o in next_occurrences(rule, tz, after, workdays, count, search_days, with_skipped=False)]


def next_occurrences(rule: PlanRule, tz: zoneinfo.ZoneInfo, after: dt.datetime, workdays: WorkdayCalendar,
                     count: int = 10, search_days: int = 800, *, with_skipped: bool = True) -> list[Occurrence]:
    """The plan editor's preview: the next `count` windows starting at or after `after`, each with the nominal
    days that land on it, and (`with_skipped`) the occurrences skipped on the way, which do not count towards
    `count`. Searched a month at a time, up to `search_days` ahead."""
    found: list[Occurrence] = []
    windows_found = 0
    first = after.astimezone(tz).date() - dt.timedelta(days=1)
    limit = after.astimezone(tz).date() + dt.timedelta(days=search_days)
    while first <= limit and windows_found < count:
        last = min(first + dt.timedelta(days=30), limit)
        placed = _placements(rule, first, last, workdays)
        events: list[Occurrence] = [Occurrence(day, window_on(rule, day, tz), tuple(nominals))
                                    for day, nominals in placed.items()]
        if with_skipped and rule.moves:
            day = first
            while day <= last:
                if named_on(rule, day, workdays) and placed_on(rule, day, workdays) is None:
                    events.append(Occurrence(day, None, (day,)))
                day += dt.timedelta(days=1)
        for event in sorted(events, key=lambda o: o.day):
            if event.window is not None and event.window.start < after:
                continue
            if event.window is None and window_on(rule, event.day, tz).start < after:
                continue
            found.append(event)
            if event.window is not None:
                windows_found += 1
                if windows_found == count:
                    break
        first = last + dt.timedelta(days=1)
    return found
