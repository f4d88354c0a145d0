"""The one calendar arithmetic (gridpatrol.core.time): months, their bounds in a zone, a site's local day."""

import datetime as dt
import zoneinfo

import pytest

from gridpatrol.core import time as t

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
UTC = dt.timezone.utc


@pytest.mark.parametrize("month, after, before", [
    (dt.date(2026, 12, 1), dt.date(2027, 1, 1), dt.date(2026, 11, 1)),
    (dt.date(2027, 1, 1), dt.date(2027, 2, 1), dt.date(2026, 12, 1)),
    (dt.date(2026, 6, 1), dt.date(2026, 7, 1), dt.date(2026, 5, 1)),
    (dt.date(2028, 2, 1), dt.date(2028, 3, 1), dt.date(2028, 1, 1)),
])
def test_next_and_previous_month_across_the_year_end(month, after, before):
    assert t.next_month(month) == after and t.previous_month(month) == before
    assert t.previous_month(t.next_month(month)) == month == t.next_month(t.previous_month(month))


def test_month_start():
    assert t.month_start(dt.date(2026, 12, 31)) == dt.date(2026, 12, 1)
    assert t.month_start(dt.date(2027, 1, 1)) == dt.date(2027, 1, 1)


def test_the_local_day_turns_at_shanghai_midnight_not_utc_midnight():
    before = dt.datetime(2026, 12, 31, 15, 59, 59, tzinfo=UTC)  # 23:59:59 in Shanghai
    after = dt.datetime(2026, 12, 31, 16, 0, tzinfo=UTC)  # 00:00 on 1 January in Shanghai
    assert t.local_day(before, SHANGHAI) == dt.date(2026, 12, 31)
    assert t.local_day(after, SHANGHAI) == dt.date(2027, 1, 1)
    assert t.local_day(after, "Asia/Shanghai") == dt.date(2027, 1, 1)  # a zone name works too
    assert t.local_day(after, UTC) == dt.date(2026, 12, 31)  # still the old day (and year) in UTC
    with pytest.raises(ValueError):
        t.local_day(dt.datetime(2027, 1, 1), SHANGHAI)


def test_month_of_an_instant_depends_on_the_zone():
    new_year_in_shanghai = dt.datetime(2026, 12, 31, 16, 30, tzinfo=UTC)
    assert t.month_of(new_year_in_shanghai, SHANGHAI) == dt.date(2027, 1, 1)
    assert t.month_of(new_year_in_shanghai, "UTC") == dt.date(2026, 12, 1)
    assert t.month_of(dt.datetime(2026, 12, 1, 0, 0, tzinfo=SHANGHAI), SHANGHAI) == dt.date(2026, 12, 1)


def test_month_bounds_are_local_midnights():
    start, end = t.month_bounds(dt.date(2026, 12, 1), "Asia/Shanghai")
    assert (start, end) == (dt.datetime(2026, 12, 1, tzinfo=SHANGHAI), dt.datetime(2027, 1, 1, tzinfo=SHANGHAI))
    assert start.astimezone(UTC) == dt.datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert end.astimezone(UTC) == dt.datetime(2026, 12, 31, 16, 0, tzinfo=UTC)
    assert t.month_bounds(dt.date(2026, 12, 17), SHANGHAI) == (start, end)  # any day names its month
    feb_start, feb_end = t.month_bounds(dt.date(2028, 2, 1), UTC)
    assert feb_end - feb_start == dt.timedelta(days=29)
    # every instant of the month, and only those, has that month
    for instant in (start, end - dt.timedelta(microseconds=1)):
        assert t.month_of(instant, SHANGHAI) == dt.date(2026, 12, 1)
    assert t.month_of(end, SHANGHAI) == dt.date(2027, 1, 1)
