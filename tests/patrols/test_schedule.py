"""When patrols happen: recurrence rules on the Chinese calendar, pure and with frozen dates."""

import datetime as dt
import zoneinfo

import pytest

from gridpatrol.patrols.schedule import PlanRule, next_windows, occurs_on, windows
from gridpatrol.workdays.services import WorkdayCalendar, official_calendar_known

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
OFFICIAL = WorkdayCalendar()


def rule(recurrence, **kw):
    return PlanRule(recurrence, kw.pop("window_start", dt.time(8)), kw.pop("window_minutes", 120),
                    kw.pop("grace_minutes", 60), kw.pop("starts_on", dt.date(2026, 1, 1)), **kw)


def days(r, start, end, cal=OFFICIAL):
    d, out = start, []
    while d <= end:
        if occurs_on(r, d, cal):
            out.append(d)
        d += dt.timedelta(days=1)
    return out


def test_workdays_follow_the_national_day_holiday_and_its_make_up_saturday():
    # 2026: National Day 1–7 October off; Saturday 10 October is a make-up working day (调休).
    assert official_calendar_known(2026)
    got = days(rule("workdays"), dt.date(2026, 9, 28), dt.date(2026, 10, 12))
    assert got == [dt.date(2026, 9, 28), dt.date(2026, 9, 29), dt.date(2026, 9, 30),
                   dt.date(2026, 10, 8), dt.date(2026, 10, 9), dt.date(2026, 10, 10), dt.date(2026, 10, 12)]


def test_workdays_spring_festival_2026():
    got = days(rule("workdays"), dt.date(2026, 2, 14), dt.date(2026, 2, 24))
    assert dt.date(2026, 2, 17) not in got  # 春节
    assert dt.date(2026, 2, 14) in got  # a Saturday worked in exchange (调休)


def test_site_overrides_beat_the_official_calendar():
    cal = WorkdayCalendar({dt.date(2026, 10, 9): False, dt.date(2026, 10, 11): True})
    got = days(rule("workdays"), dt.date(2026, 10, 8), dt.date(2026, 10, 12), cal)
    assert got == [dt.date(2026, 10, 8), dt.date(2026, 10, 10), dt.date(2026, 10, 11), dt.date(2026, 10, 12)]


def test_unknown_year_falls_back_to_monday_to_friday():
    year = 2099
    assert not official_calendar_known(year)
    got = days(rule("workdays"), dt.date(year, 3, 2), dt.date(year, 3, 8))
    assert [d.weekday() for d in got] == [0, 1, 2, 3, 4]


def test_chosen_weekdays():
    got = days(rule("weekdays", weekdays=(0, 3)), dt.date(2026, 11, 2), dt.date(2026, 11, 15))
    assert got == [dt.date(2026, 11, 2), dt.date(2026, 11, 5), dt.date(2026, 11, 9), dt.date(2026, 11, 12)]


@pytest.mark.parametrize("month_day, expected", [
    (31, [dt.date(2026, 1, 31), dt.date(2026, 2, 28), dt.date(2026, 3, 31), dt.date(2026, 4, 30)]),
    (-1, [dt.date(2026, 1, 31), dt.date(2026, 2, 28), dt.date(2026, 3, 31), dt.date(2026, 4, 30)]),
    (30, [dt.date(2026, 1, 30), dt.date(2026, 2, 28), dt.date(2026, 3, 30), dt.date(2026, 4, 30)]),
    (15, [dt.date(2026, 1, 15), dt.date(2026, 2, 15), dt.date(2026, 3, 15), dt.date(2026, 4, 15)]),
])
def test_month_ends_clamp_to_the_last_day(month_day, expected):
    assert days(rule("monthly", month_day=month_day), dt.date(2026, 1, 1), dt.date(2026, 4, 30)) == expected


def test_leap_february():
    assert days(rule("monthly", month_day=30, starts_on=dt.date(2028, 1, 1)),
                dt.date(2028, 2, 1), dt.date(2028, 2, 29)) == [dt.date(2028, 2, 29)]


def test_every_n_days_counts_from_the_first_day():
    got = days(rule("every_n_days", interval_days=3, starts_on=dt.date(2026, 5, 30)),
               dt.date(2026, 5, 28), dt.date(2026, 6, 8))
    assert got == [dt.date(2026, 5, 30), dt.date(2026, 6, 2), dt.date(2026, 6, 5), dt.date(2026, 6, 8)]


def test_plan_bounds():
    r = rule("daily", starts_on=dt.date(2026, 3, 10), ends_on=dt.date(2026, 3, 12))
    assert days(r, dt.date(2026, 3, 1), dt.date(2026, 3, 31)) == [
        dt.date(2026, 3, 10), dt.date(2026, 3, 11), dt.date(2026, 3, 12)]


def test_window_in_site_time_with_grace():
    r = rule("daily", window_start=dt.time(22, 30), window_minutes=120, grace_minutes=30)
    (w,) = windows(r, TZ, dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc),
                   dt.datetime(2026, 6, 2, tzinfo=dt.timezone.utc), OFFICIAL)
    assert w.start == dt.datetime(2026, 6, 1, 14, 30, tzinfo=dt.timezone.utc)  # 22:30 in Shanghai
    assert w.due == dt.datetime(2026, 6, 1, 16, 30, tzinfo=dt.timezone.utc)  # past local midnight
    assert w.grace_until == dt.datetime(2026, 6, 1, 17, 0, tzinfo=dt.timezone.utc)


def test_preview_lists_the_next_windows_across_a_holiday():
    r = rule("workdays", starts_on=dt.date(2026, 9, 1))
    found = next_windows(r, TZ, dt.datetime(2026, 9, 30, 3, tzinfo=dt.timezone.utc), OFFICIAL, count=3)
    assert [w.start.astimezone(TZ).date() for w in found] == [
        dt.date(2026, 10, 8), dt.date(2026, 10, 9), dt.date(2026, 10, 10)]
