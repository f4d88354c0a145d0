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


# --- periods ------------------------------------------------------------------------------------------
def test_add_months_across_year_ends_both_ways():
    assert t.add_months(dt.date(2026, 11, 1), 2) == dt.date(2027, 1, 1)
    assert t.add_months(dt.date(2026, 1, 1), -1) == dt.date(2025, 12, 1)
    assert t.add_months(dt.date(2026, 6, 1), -18) == dt.date(2024, 12, 1)
    assert t.add_months(dt.date(2026, 6, 17), 0) == dt.date(2026, 6, 1)  # any day names its month
    for count in range(-30, 31):
        month = t.add_months(dt.date(2026, 5, 1), count)
        assert t.add_months(month, -count) == dt.date(2026, 5, 1)
    assert t.add_months(dt.date(2026, 5, 1), 1) == t.next_month(dt.date(2026, 5, 1))


@pytest.mark.parametrize("day, quarter, half", [
    (dt.date(2026, 1, 1), dt.date(2026, 1, 1), dt.date(2026, 1, 1)),
    (dt.date(2026, 3, 31), dt.date(2026, 1, 1), dt.date(2026, 1, 1)),
    (dt.date(2026, 4, 1), dt.date(2026, 4, 1), dt.date(2026, 1, 1)),
    (dt.date(2026, 6, 30), dt.date(2026, 4, 1), dt.date(2026, 1, 1)),
    (dt.date(2026, 7, 1), dt.date(2026, 7, 1), dt.date(2026, 7, 1)),
    (dt.date(2026, 9, 30), dt.date(2026, 7, 1), dt.date(2026, 7, 1)),
    (dt.date(2026, 10, 1), dt.date(2026, 10, 1), dt.date(2026, 7, 1)),
    (dt.date(2026, 12, 31), dt.date(2026, 10, 1), dt.date(2026, 7, 1)),
])
def test_quarter_and_half_year_starts(day, quarter, half):
    assert t.quarter_start(day) == quarter == t.Period.of("quarter", day).first
    assert t.half_year_start(day) == half == t.Period.of("half", day).first


@pytest.mark.parametrize("key, kind, first, end_day, months", [
    ("2026-11", "month", dt.date(2026, 11, 1), dt.date(2026, 12, 1), 1),
    ("2026-12", "month", dt.date(2026, 12, 1), dt.date(2027, 1, 1), 1),
    ("2026-Q1", "quarter", dt.date(2026, 1, 1), dt.date(2026, 4, 1), 3),
    ("2026-Q4", "quarter", dt.date(2026, 10, 1), dt.date(2027, 1, 1), 3),
    ("2026-H1", "half", dt.date(2026, 1, 1), dt.date(2026, 7, 1), 6),
    ("2026-H2", "half", dt.date(2026, 7, 1), dt.date(2027, 1, 1), 6),
    ("2026", "year", dt.date(2026, 1, 1), dt.date(2027, 1, 1), 12),
])
def test_period_keys_read_back_and_cover_their_months(key, kind, first, end_day, months):
    period = t.Period.parse(key)
    assert (period.kind, period.first, period.end_day) == (kind, first, end_day)
    assert period.key == key and t.Period.parse(key.lower()) == period
    assert len(period.months) == months and period.months[0] == first
    assert t.next_month(period.months[-1]) == end_day and period.last_day == end_day - dt.timedelta(days=1)
    # the periods of a kind tile the calendar: next and previous meet without a gap
    assert period.next().first == period.end_day and period.previous().end_day == period.first
    assert period.next().previous() == period
    assert period.contains(first) and period.contains(period.last_day) and not period.contains(end_day)
    assert all(t.Period.of(kind, month) == period for month in period.months)


@pytest.mark.parametrize("key", ["2026-13", "2026-00", "2026-Q0", "2026-Q5", "2026-H0", "2026-H3", "0000",
                                 "26-11", "2026-1", "2026-Q", "2026-11-01", "2026-11x", "", "month", "２０２６"])
def test_a_bad_period_key_is_refused(key):
    with pytest.raises(ValueError):
        t.Period.parse(key)


def test_a_period_must_start_where_its_kind_starts():
    with pytest.raises(ValueError):
        t.Period("quarter", dt.date(2026, 2, 1))
    with pytest.raises(ValueError):
        t.Period("week", dt.date(2026, 2, 1))
    with pytest.raises(ValueError):
        t.Period.of("fortnight", dt.date(2026, 2, 1))


def test_period_bounds_are_local_midnights():
    start, end = t.Period.parse("2026-Q4").bounds("Asia/Shanghai")
    assert start.astimezone(UTC) == dt.datetime(2026, 9, 30, 16, 0, tzinfo=UTC)
    assert end.astimezone(UTC) == dt.datetime(2026, 12, 31, 16, 0, tzinfo=UTC)
    assert t.Period.parse("2026-11").bounds(SHANGHAI) == t.month_bounds(dt.date(2026, 11, 1), SHANGHAI)


def test_the_end_of_a_day_is_written_24_00_of_that_day():
    assert t.end_label(dt.datetime(2026, 12, 1, tzinfo=SHANGHAI), SHANGHAI) == "2026-11-30 24:00"
    assert t.end_label(dt.datetime(2026, 11, 30, 16, 0, tzinfo=UTC), "Asia/Shanghai") == "2026-11-30 24:00"
    assert t.end_label(dt.datetime(2026, 11, 15, 9, 30, tzinfo=SHANGHAI), SHANGHAI) == "2026-11-15 09:30"
