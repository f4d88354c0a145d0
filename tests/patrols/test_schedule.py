"""When patrols happen: recurrence rules on the Chinese calendar, pure and with frozen dates."""

import datetime as dt
import zoneinfo

import pytest

from gridpatrol.patrols.schedule import PlanRule, next_occurrences, next_windows, occurs_on, windows
from gridpatrol.workdays.services import WorkdayCalendar
from gridpatrol.workdays.sources import package_covers

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
    assert package_covers(2026)
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


def test_a_year_without_an_official_calendar_is_provisional_and_works_monday_to_friday():
    year = 2099
    assert not package_covers(year) and OFFICIAL.is_provisional(dt.date(year, 3, 2))
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
    r = rule("monthly", month_day=month_day, on_rest_day="keep")  # the days as named, rest days included
    assert days(r, dt.date(2026, 1, 1), dt.date(2026, 4, 30)) == expected


def test_leap_february():
    assert days(rule("monthly", month_day=30, starts_on=dt.date(2028, 1, 1)),
                dt.date(2028, 2, 1), dt.date(2028, 2, 29)) == [dt.date(2028, 2, 29)]


def test_every_n_days_counts_from_the_first_day():
    got = days(rule("every_n_days", interval_days=3, starts_on=dt.date(2026, 5, 30), on_rest_day="keep"),
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


# --- rest days (on_rest_day, 遇休息日) ----------------------------------------------------------------------
D = dt.date


def local_starts(found):
    return [w.start.astimezone(TZ).replace(tzinfo=None) for w in found]


def test_the_calendar_facts_these_tests_rest_on():
    # Sunday 15 November; 2026 Spring Festival 15–23 February, Saturday 14 February worked (调休);
    # National Day 1–7 October; Saturday 31 October, Sunday 1 November.
    rest = [D(2026, 11, 15), D(2026, 2, 15), D(2026, 2, 23), D(2026, 10, 1), D(2026, 10, 5), D(2026, 10, 7),
            D(2026, 10, 31), D(2026, 11, 1), D(2026, 11, 7), D(2026, 11, 8)]
    work = [D(2026, 11, 16), D(2026, 11, 13), D(2026, 2, 14), D(2026, 2, 24), D(2026, 9, 30), D(2026, 10, 8),
            D(2026, 10, 30), D(2026, 11, 2), D(2026, 11, 9)]
    assert not any(OFFICIAL.is_workday(d) for d in rest)
    assert all(OFFICIAL.is_workday(d) for d in work)


@pytest.mark.parametrize("on_rest_day, expected", [
    ("next", [D(2026, 10, 15), D(2026, 11, 16), D(2026, 12, 15)]),  # Sunday 15 November → Monday 16th
    ("previous", [D(2026, 10, 15), D(2026, 11, 13), D(2026, 12, 15)]),  # → Friday 13th
    ("skip", [D(2026, 10, 15), D(2026, 12, 15)]),
    ("keep", [D(2026, 10, 15), D(2026, 11, 15), D(2026, 12, 15)]),
])
def test_a_monthly_plan_on_a_weekend(on_rest_day, expected):
    r = rule("monthly", month_day=15, on_rest_day=on_rest_day)
    assert days(r, D(2026, 10, 1), D(2026, 12, 31)) == expected


@pytest.mark.parametrize("on_rest_day, expected", [
    ("next", D(2026, 2, 24)),  # after the nine days of the Spring Festival
    ("previous", D(2026, 2, 14)),  # the Saturday worked in exchange (调休)
    ("skip", None),
    ("keep", D(2026, 2, 15)),
])
def test_a_monthly_plan_in_the_spring_festival(on_rest_day, expected):
    r = rule("monthly", month_day=15, on_rest_day=on_rest_day)
    got = days(r, D(2026, 2, 1), D(2026, 2, 28))
    assert got == ([expected] if expected else [])


@pytest.mark.parametrize("on_rest_day, expected", [
    ("next", [D(2026, 9, 1), D(2026, 10, 8), D(2026, 11, 2)]),  # National Day; Sunday 1 November → Monday 2nd
    ("previous", [D(2026, 9, 1), D(2026, 9, 30), D(2026, 10, 30)]),  # the 1st moved into the month before
    ("skip", [D(2026, 9, 1)]),
    ("keep", [D(2026, 9, 1), D(2026, 10, 1), D(2026, 11, 1)]),
])
def test_a_monthly_plan_on_the_1st_across_national_day_and_month_ends(on_rest_day, expected):
    r = rule("monthly", month_day=1, on_rest_day=on_rest_day)
    assert days(r, D(2026, 8, 25), D(2026, 11, 10)) == expected


def test_the_31st_moved_next_lands_in_the_next_month_which_keeps_its_own_occurrence():
    r = rule("monthly", month_day=31, on_rest_day="next")
    # Saturday 31 October → Monday 2 November; November's own (the 30th, a Monday) still happens.
    assert days(r, D(2026, 10, 20), D(2026, 11, 30)) == [D(2026, 11, 2), D(2026, 11, 30)]


def test_a_weekly_plan_on_a_holiday_monday():
    r = rule("weekdays", weekdays=(0,), on_rest_day="next")
    # Monday 5 October (National Day) → Thursday 8 October, the first working day.
    assert days(r, D(2026, 9, 28), D(2026, 10, 19)) == [D(2026, 9, 28), D(2026, 10, 8), D(2026, 10, 12),
                                                         D(2026, 10, 19)]
    assert days(rule("weekdays", weekdays=(0,), on_rest_day="skip"), D(2026, 9, 28), D(2026, 10, 19)) == [
        D(2026, 9, 28), D(2026, 10, 12), D(2026, 10, 19)]


def test_occurrences_moved_onto_a_day_with_its_own_make_one_window():
    # Every 2 days from Saturday 7 November: the 7th moves to Monday 9th, which is an occurrence itself.
    r = rule("every_n_days", interval_days=2, starts_on=D(2026, 11, 7), on_rest_day="next")
    found = list(windows(r, TZ, dt.datetime(2026, 11, 6, tzinfo=TZ), dt.datetime(2026, 11, 12, tzinfo=TZ), OFFICIAL))
    assert local_starts(found) == [dt.datetime(2026, 11, 9, 8), dt.datetime(2026, 11, 11, 8)]
    # Thursday 1 October and Monday 5 October both move to Thursday 8 October, a Thursday itself: one window.
    weekly = rule("weekdays", weekdays=(0, 3), on_rest_day="next", starts_on=D(2026, 9, 1))
    (occurrence,) = [o for o in next_occurrences(weekly, TZ, dt.datetime(2026, 9, 30, 12, tzinfo=TZ), OFFICIAL,
                                                 count=1)]
    assert occurrence.day == D(2026, 10, 8)
    assert occurrence.moved_from == (D(2026, 10, 1), D(2026, 10, 5))


def test_a_moved_window_keeps_its_time_of_day():
    r = rule("monthly", month_day=15, window_start=dt.time(22, 30), window_minutes=120, grace_minutes=30)
    (w,) = windows(r, TZ, dt.datetime(2026, 11, 1, tzinfo=TZ), dt.datetime(2026, 12, 1, tzinfo=TZ), OFFICIAL)
    assert w.start == dt.datetime(2026, 11, 16, 22, 30, tzinfo=TZ)
    assert w.due == dt.datetime(2026, 11, 17, 0, 30, tzinfo=TZ) and w.grace_until == dt.datetime(2026, 11, 17, 1,
                                                                                                  tzinfo=TZ)


def test_windows_find_an_occurrence_moved_in_from_before_the_range():
    r = rule("monthly", month_day=15, window_start=dt.time(9))
    # Asked about Monday 16 November only: its window comes from Sunday the 15th.
    found = list(windows(r, TZ, dt.datetime(2026, 11, 16, tzinfo=TZ), dt.datetime(2026, 11, 17, tzinfo=TZ), OFFICIAL))
    assert local_starts(found) == [dt.datetime(2026, 11, 16, 9)]
    # Nine days back: the Spring Festival's 15 February happens on 24 February.
    found = list(windows(r, TZ, dt.datetime(2026, 2, 24, tzinfo=TZ), dt.datetime(2026, 2, 25, tzinfo=TZ), OFFICIAL))
    assert local_starts(found) == [dt.datetime(2026, 2, 24, 9)]
    # And 'previous' from after the range: Sunday 1 November happens on Friday 30 October.
    before = rule("monthly", month_day=1, window_start=dt.time(9), on_rest_day="previous")
    found = list(windows(before, TZ, dt.datetime(2026, 10, 30, tzinfo=TZ), dt.datetime(2026, 10, 31, tzinfo=TZ),
                         OFFICIAL))
    assert local_starts(found) == [dt.datetime(2026, 10, 30, 9)]


def test_windows_over_consecutive_ranges_make_each_window_once():
    # The materialiser asks range after range: a moved occurrence must come out of exactly one of them.
    r = rule("weekdays", weekdays=(0, 3, 5), on_rest_day="previous", starts_on=D(2026, 9, 1))
    edges = [dt.datetime(2026, 9, 20, tzinfo=TZ) + dt.timedelta(hours=7 * i) for i in range(200)]
    pieces = [w for a, b in zip(edges, edges[1:]) for w in windows(r, TZ, a, b, OFFICIAL)]
    whole = list(windows(r, TZ, edges[0], edges[-1], OFFICIAL))
    assert pieces == whole and len({w.start for w in whole}) == len(whole)
    assert all(OFFICIAL.is_workday(w.start.astimezone(TZ).date()) for w in whole)


def test_the_plan_span_bounds_moved_occurrences():
    # The plan starts on Sunday 1 November: 'previous' would put it on 30 October, before the plan: dropped.
    r = rule("monthly", month_day=1, on_rest_day="previous", starts_on=D(2026, 11, 1))
    assert days(r, D(2026, 10, 1), D(2026, 12, 30)) == [D(2026, 12, 1)]
    # It ends on Sunday 15 November: 'next' would put the 15th after its last day.
    r = rule("monthly", month_day=15, starts_on=D(2026, 10, 1), ends_on=D(2026, 11, 15))
    assert days(r, D(2026, 10, 1), D(2026, 12, 31)) == [D(2026, 10, 15)]


def test_a_site_closed_longer_than_the_search_drops_the_occurrence():
    closed = WorkdayCalendar({D(2026, 7, 1) + dt.timedelta(days=i): False for i in range(60)})
    r = rule("monthly", month_day=15, on_rest_day="next")
    assert days(r, D(2026, 7, 1), D(2026, 8, 31), closed) == [D(2026, 8, 31)]  # 15 July gets no working day in reach


def test_daily_and_workdays_plans_ignore_the_rule():
    for on_rest_day in ("next", "previous", "skip", "keep"):
        assert days(rule("daily", on_rest_day=on_rest_day), D(2026, 11, 13), D(2026, 11, 16)) == [
            D(2026, 11, 13), D(2026, 11, 14), D(2026, 11, 15), D(2026, 11, 16)]
        assert days(rule("workdays", on_rest_day=on_rest_day), D(2026, 11, 13), D(2026, 11, 16)) == [
            D(2026, 11, 13), D(2026, 11, 16)]
    with pytest.raises(ValueError):
        rule("monthly", month_day=15, on_rest_day="later")


def test_the_preview_shows_moves_and_skips():
    after = dt.datetime(2026, 11, 1, tzinfo=TZ)
    moved = next_occurrences(rule("monthly", month_day=15), TZ, after, OFFICIAL, count=2)
    assert [(o.day, o.moved_from) for o in moved] == [(D(2026, 11, 16), (D(2026, 11, 15),)), (D(2026, 12, 15), ())]
    skipped = next_occurrences(rule("monthly", month_day=15, on_rest_day="skip"), TZ, after, OFFICIAL, count=2)
    assert [(o.day, o.skipped) for o in skipped] == [(D(2026, 11, 15), True), (D(2026, 12, 15), False),
                                                     (D(2027, 1, 15), False)]
    assert [w.start for w in next_windows(rule("monthly", month_day=15, on_rest_day="skip"), TZ, after, OFFICIAL,
                                          count=2)] == [o.window.start for o in skipped[1:]]
