"""Time: stored in UTC, shown in the site's time zone (Asia/Shanghai unless configured otherwise), and the one
calendar arithmetic (months, quarters, half-years and years, their bounds in a zone, a site's local day) that every
domain uses."""

from __future__ import annotations

import datetime as dt
import functools
import re
import zoneinfo
from dataclasses import dataclass

from flask import current_app, g

# The days the app reads from its users (a filter's dates, a device's clock): wide enough for any record of the
# compound, and narrow enough that every such day has bounds in every zone (year 1 and year 9999 have none).
FIRST_DAY, LAST_DAY = dt.date(2000, 1, 1), dt.date(2999, 12, 31)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def display_timezone() -> zoneinfo.ZoneInfo:
    """The zone pages show times in: the site being viewed (set by later modules in g), else the default."""
    return _zone(g.get("site_timezone") or current_app.config["DEFAULT_TIMEZONE"])


@functools.lru_cache(maxsize=64)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    # ZoneInfo keeps its own cache, but reaching it costs more than the conversion (a page converts ~100 times).
    return zoneinfo.ZoneInfo(name)


def to_local(value: dt.datetime, tz: zoneinfo.ZoneInfo | None = None) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime: cannot tell which zone it is in")
    return value.astimezone(tz or display_timezone())


def format_local(value: dt.datetime | str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Jinja filter `localtime`: a UTC timestamp (or its ISO text, as events store it) as wall-clock time in the
    display zone."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return to_local(value).strftime(fmt)


# --- calendar arithmetic --------------------------------------------------------------------------------
# The one place months and local days are computed. A month is written as the date of its first day.
# `tz` is a zone or its IANA name. No domain imports here.
def zone(tz: dt.tzinfo | str) -> dt.tzinfo:
    """A zone from a zone or its IANA name (names are cached)."""
    return _zone(tz) if isinstance(tz, str) else tz


def local_day(when: dt.datetime, tz: dt.tzinfo | str) -> dt.date:
    """The date on the wall calendar in `tz` at the instant `when` (e.g. a site's today)."""
    if when.tzinfo is None:
        raise ValueError("naive datetime: cannot tell which zone it is in")
    return when.astimezone(zone(tz)).date()


def day_bounds(day: dt.date, tz: dt.tzinfo | str) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a day on the wall calendar of `tz`: 00:00 to the next day's 00:00, as aware datetimes."""
    start = dt.datetime.combine(day, dt.time(0), tzinfo=zone(tz))
    return start, dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=zone(tz))


def month_start(day: dt.date) -> dt.date:
    """The month a date falls in: its first day."""
    return dt.date(day.year, day.month, 1)


def month_of(when: dt.datetime, tz: dt.tzinfo | str) -> dt.date:
    """The month (its first day) that the instant `when` falls in, on the calendar of `tz`."""
    return month_start(local_day(when, tz))


def next_month(month: dt.date) -> dt.date:
    return dt.date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def previous_month(month: dt.date) -> dt.date:
    return dt.date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)


def month_bounds(month: dt.date, tz: dt.tzinfo | str) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of the month containing `month`: its first day 00:00 to the next month's first day 00:00
    in `tz`, as aware datetimes."""
    first = month_start(month)
    zone_ = zone(tz)
    return (dt.datetime.combine(first, dt.time(0), tzinfo=zone_),
            dt.datetime.combine(next_month(first), dt.time(0), tzinfo=zone_))


# --- periods: a month, a quarter, a half-year or a year ------------------------------------------------
# The periods reports are made for (the metrics page, the points table's 考核 sums). A period is written as its
# kind and the first day of its first month; its key in a URL is "2026-11", "2026-Q4", "2026-H2" or "2026".
PERIOD_KINDS = ("month", "quarter", "half", "year")
_PERIOD_MONTHS = {"month": 1, "quarter": 3, "half": 6, "year": 12}
_PERIOD_KEY = re.compile(r"(?P<year>[0-9]{4})(?:-(?:(?P<letter>[QH])(?P<qh>[0-9])|(?P<month>[0-9]{2})))?")


def add_months(month: dt.date, count: int) -> dt.date:
    """The month (its first day) `count` months after the month of `month` (before it when negative)."""
    index = month.year * 12 + month.month - 1 + count
    return dt.date(index // 12, index % 12 + 1, 1)


def quarter_start(day: dt.date) -> dt.date:
    """The first day of the quarter (Jan–Mar, Apr–Jun, Jul–Sep, Oct–Dec) a date falls in."""
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def half_year_start(day: dt.date) -> dt.date:
    """The first day of the half-year (上半年 Jan–Jun, 下半年 Jul–Dec) a date falls in."""
    return dt.date(day.year, 1 if day.month <= 6 else 7, 1)


@dataclass(frozen=True, order=True)
class Period:
    """A month, quarter, half-year or year on the wall calendar: `kind` and `first`, the first day of its first
    month. Build one with `Period.of(kind, day)` or `Period.parse(key)`; its instants with `bounds(tz)`."""

    kind: str
    first: dt.date

    def __post_init__(self) -> None:
        length = _PERIOD_MONTHS.get(self.kind)
        if length is None:
            raise ValueError(f"unknown period kind {self.kind!r}")
        if self.first.day != 1 or (self.first.month - 1) % length:
            raise ValueError(f"{self.first} does not start a {self.kind}")

    @staticmethod
    def of(kind: str, day: dt.date) -> "Period":
        """The period of `kind` that `day` falls in."""
        length = _PERIOD_MONTHS.get(kind)
        if length is None:
            raise ValueError(f"unknown period kind {kind!r}")
        return Period(kind, dt.date(day.year, length * ((day.month - 1) // length) + 1, 1))

    @staticmethod
    def parse(key: str) -> "Period":
        """The period of a key: "2026-11" (month), "2026-Q4" (quarter), "2026-H2" (half-year) or "2026" (year).
        ValueError for anything else."""
        match = _PERIOD_KEY.fullmatch((key or "").strip().upper())
        if match is None:
            raise ValueError(f"not a period: {key!r}")
        year, letter = int(match["year"]), match["letter"]
        if letter:
            kind, count, number = ("quarter", 4, match["qh"]) if letter == "Q" else ("half", 2, match["qh"])
        elif match["month"]:
            kind, count, number = "month", 12, match["month"]
        else:
            kind, count, number = "year", 1, "1"
        # Year 9999 has no next period's first day to end on (bounds, end_day): not a period either.
        if not 1 <= year <= 9998 or not 1 <= int(number) <= count:
            raise ValueError(f"not a period: {key!r}")
        return Period(kind, dt.date(year, (int(number) - 1) * _PERIOD_MONTHS[kind] + 1, 1))

    @property
    def key(self) -> str:
        """What `parse` reads back: "2026-11", "2026-Q4", "2026-H2" or "2026"."""
        return {"month": f"{self.year:04d}-{self.first.month:02d}", "quarter": f"{self.year:04d}-Q{self.number}",
                "half": f"{self.year:04d}-H{self.number}", "year": f"{self.year:04d}"}[self.kind]

    @property
    def year(self) -> int:
        return self.first.year

    @property
    def number(self) -> int:
        """Its place in its year: the month 1–12, the quarter 1–4, the half 1–2, or 1 for a year."""
        return (self.first.month - 1) // _PERIOD_MONTHS[self.kind] + 1

    @property
    def end_day(self) -> dt.date:
        """The first day after the period (the next period's first day)."""
        return add_months(self.first, _PERIOD_MONTHS[self.kind])

    @property
    def last_day(self) -> dt.date:
        return self.end_day - dt.timedelta(days=1)

    @property
    def months(self) -> tuple[dt.date, ...]:
        """Its months (their first days), in order."""
        return tuple(add_months(self.first, i) for i in range(_PERIOD_MONTHS[self.kind]))

    def next(self) -> "Period":
        return Period.of(self.kind, self.end_day)

    def previous(self) -> "Period":
        return Period.of(self.kind, add_months(self.first, -_PERIOD_MONTHS[self.kind]))

    def contains(self, day: dt.date) -> bool:
        return self.first <= day < self.end_day

    def bounds(self, tz: dt.tzinfo | str) -> tuple[dt.datetime, dt.datetime]:
        """[start, end) in `tz`: the first day 00:00 to the next period's first day 00:00, as aware datetimes."""
        return day_bounds(self.first, tz)[0], day_bounds(self.end_day, tz)[0]


def period_label(period: Period) -> str:
    """The period in the reader's language: 2026年11月, 2026年四季度, 2026年上半年, 2026年."""
    from flask_babel import gettext

    year = period.year
    if period.kind == "month":
        return gettext("%(month)s/%(year)s", month=period.first.month, year=year)
    if period.kind == "quarter":
        return [gettext("Q1 %(year)s", year=year), gettext("Q2 %(year)s", year=year),
                gettext("Q3 %(year)s", year=year), gettext("Q4 %(year)s", year=year)][period.number - 1]
    if period.kind == "half":
        return (gettext("First half of %(year)s", year=year) if period.number == 1
                else gettext("Second half of %(year)s", year=year))
    return gettext("Year %(year)s", year=year)


def end_label(instant: dt.datetime, tz: dt.tzinfo | str) -> str:
    """An instant as the office writes a report's "as of": wall-clock time in `tz`, a midnight written as the
    previous day's 24:00 (the end of November is "2026-11-30 24:00", not "2026-12-01 00:00")."""
    local = to_local(instant, zone(tz))
    if local.time() == dt.time(0):
        return f"{local.date() - dt.timedelta(days=1):%Y-%m-%d} 24:00"
    return local.strftime("%Y-%m-%d %H:%M")
