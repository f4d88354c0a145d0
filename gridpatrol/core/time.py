"""Time: stored in UTC, shown in the site's time zone (Asia/Shanghai unless configured otherwise), and the one
calendar arithmetic (months, their bounds in a zone, a site's local day) that every domain uses."""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo

from flask import current_app, g


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
