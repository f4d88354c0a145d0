"""A year nobody has given: a provisional calendar from the statutory rules, marked as such, never Monday–Friday."""

import datetime as dt
import zoneinfo

from gridpatrol.workdays.services import (WorkdayCalendar, add_working_days, add_working_hours, provisional_warning,
                                          year_listing)
from gridpatrol.workdays.sources import DaySource

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")


def local(text):
    return dt.datetime.fromisoformat(text).replace(tzinfo=TZ)


def test_new_year_and_spring_festival_2027_are_provisional_rest_days(no_official_2027):
    cal = WorkdayCalendar()
    new_year = cal.info(dt.date(2027, 1, 1))  # a Friday
    assert (new_year.is_workday, new_year.source, new_year.name) == (False, DaySource.PROVISIONAL, "元旦")
    assert new_year.provisional and cal.is_provisional(dt.date(2027, 1, 1))
    # 除夕 is Friday 5 February 2027; 初一 to 初三 fall on Saturday to Monday, with days in lieu after them.
    festival = [dt.date(2027, 2, 5) + dt.timedelta(days=n) for n in range(6)]
    assert [cal.is_workday(day) for day in festival] == [False] * 6
    assert cal.is_workday(dt.date(2027, 2, 11))  # the Thursday after: no notice says otherwise yet
    assert cal.is_workday(dt.date(2027, 1, 4)) and not cal.is_workday(dt.date(2027, 1, 9))  # Monday; Saturday
    assert not cal.is_provisional(dt.date(2026, 12, 31))  # 2026 is official
    assert cal.info(dt.date(2026, 10, 1)).source is DaySource.PACKAGE


def test_a_site_override_is_never_provisional(no_official_2027):
    cal = WorkdayCalendar({dt.date(2027, 1, 1): True}, override_notes={dt.date(2027, 1, 1): "值班"})
    info = cal.info(dt.date(2027, 1, 1))
    assert (info.is_workday, info.source, info.name) == (True, DaySource.SITE, "值班")
    assert not cal.is_provisional(dt.date(2027, 1, 1)) and cal.is_provisional(dt.date(2027, 1, 4))


def test_a_critical_deadline_across_new_year_skips_the_provisional_holiday(no_official_2027):
    """Four working hours from 31 December 16:00: 1½ h that day, then not 1 January (元旦) nor the weekend."""
    cal = WorkdayCalendar()
    due = add_working_hours(cal, TZ, local("2026-12-31 16:00"), 4)
    assert due == local("2027-01-04 11:00").astimezone(dt.timezone.utc)
    assert cal.rests_on_provisional(dt.date(2026, 12, 31), due.astimezone(TZ).date())
    assert not cal.rests_on_provisional(dt.date(2026, 12, 1), dt.date(2026, 12, 31))
    # Three working days from Thursday 4 February: 5–10 February are off; 11, 12 and 15 count.
    assert add_working_days(cal, TZ, local("2027-02-04 10:00"), 3) == local("2027-02-15 17:30").astimezone(dt.timezone.utc)


def test_the_year_listing_names_each_day_and_its_source(no_official_2027):
    listing = year_listing(WorkdayCalendar(), 2027)
    assert all(info.source is DaySource.PROVISIONAL for info in listing)
    days = {info.day: info for info in listing}
    assert days[dt.date(2027, 10, 1)].name == "国庆节" and not days[dt.date(2027, 10, 1)].is_workday
    assert dt.date(2027, 1, 9) not in days  # an ordinary Saturday is not listed
    official = year_listing(WorkdayCalendar(), 2026)
    made_up = [info.day for info in official if info.is_workday]
    assert dt.date(2026, 2, 28) in made_up and all(day.weekday() >= 5 for day in made_up)  # 调休 Saturdays/Sundays


def test_the_warning_starts_on_1_october_and_covers_the_current_year(no_official_2027):
    cal = WorkdayCalendar()
    assert provisional_warning(cal, dt.date(2026, 9, 30)) is None
    assert provisional_warning(cal, dt.date(2026, 10, 1)) == 2027
    assert provisional_warning(cal, dt.date(2027, 3, 1)) == 2027  # still not entered in March
    entered = cal.with_year(2027, {dt.date(2027, 1, 1): (False, "元旦")})
    assert provisional_warning(entered, dt.date(2026, 12, 2)) is None
    assert entered.year_source(2027) is DaySource.IMPORTED and not entered.is_workday(dt.date(2027, 1, 1))
    assert entered.is_workday(dt.date(2027, 2, 8))  # the imported year has only what the notice says
