"""Time: stored in UTC, shown in the site's time zone (Asia/Shanghai unless configured otherwise)."""

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


def format_local(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Jinja filter `localtime`: a UTC timestamp as wall-clock time in the display zone."""
    if value is None:
        return ""
    return to_local(value).strftime(fmt)
