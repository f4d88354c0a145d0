"""Deadlines in working time on the Chinese calendar: weekends, holidays and 调休 make-up days."""

import datetime as dt
import zoneinfo

import pytest

from gridpatrol.workdays.services import WorkdayCalendar, add_working_days, add_working_hours

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
CAL = WorkdayCalendar()


def local(text):
    return dt.datetime.fromisoformat(text).replace(tzinfo=TZ)


@pytest.mark.parametrize("start, hours, expected", [
    ("2026-11-18 09:00", 4, "2026-11-18 13:00"),  # Wednesday, same day
    ("2026-11-20 16:30", 4, "2026-11-23 11:30"),  # Friday evening → Monday
    ("2026-11-21 10:00", 2, "2026-11-23 10:30"),  # reported on Saturday → counted from Monday 08:30
    ("2026-11-18 19:00", 1, "2026-11-19 09:30"),  # after hours → next morning
    ("2026-09-30 15:30", 8, "2026-10-08 14:30"),  # 2 h on 30 Sep; 1–7 Oct off; 6 h on 8 Oct
    ("2026-10-09 17:00", 1, "2026-10-10 09:00"),  # Saturday 10 Oct is a make-up working day (调休)
    ("2026-11-18 08:30", 9, "2026-11-18 17:30"),  # exactly one office day
])
def test_working_hours(start, hours, expected):
    assert add_working_hours(CAL, TZ, local(start), hours) == local(expected).astimezone(dt.timezone.utc)


@pytest.mark.parametrize("start, days, expected", [
    ("2026-11-18 10:00", 1, "2026-11-19 17:30"),
    ("2026-11-20 10:00", 1, "2026-11-23 17:30"),  # Friday → Monday
    ("2026-11-20 10:00", 3, "2026-11-25 17:30"),
    ("2026-09-29 10:00", 2, "2026-10-08 17:30"),  # 30 Sep, then the holiday, then 8 Oct
    ("2026-10-08 10:00", 2, "2026-10-10 17:30"),  # 9 Oct, then the 调休 Saturday
])
def test_working_days(start, days, expected):
    assert add_working_days(CAL, TZ, local(start), days) == local(expected).astimezone(dt.timezone.utc)


def test_site_override_day_off_is_skipped():
    cal = WorkdayCalendar({dt.date(2026, 11, 19): False})
    assert add_working_days(cal, TZ, local("2026-11-18 10:00"), 1) == local("2026-11-20 17:30").astimezone(dt.timezone.utc)


def test_admin_sets_a_site_day_off_and_plans_follow(app):
    import sqlalchemy as sa

    from gridpatrol.extensions import db
    from gridpatrol.grids.models import Site
    from gridpatrol.workdays.services import calendar_for
    from tests import helpers
    from tests.grids import builders

    builders.make_site(app)
    admin = helpers.make_user(app, "root", roles=("admin",))
    client = app.test_client()
    helpers.login(client, admin)
    response = helpers.post_form(client, "/s/TEST/admin/calendar/", {"day": "2026-11-19", "kind": "off", "note": "院区停电检修"})
    assert response.status_code == 302
    with app.app_context():
        cal = calendar_for(db.session, db.session.scalar(sa.select(Site)))
        assert not cal.is_workday(dt.date(2026, 11, 19)) and cal.is_workday(dt.date(2026, 11, 18))
    helpers.post_form(client, "/s/TEST/admin/calendar/", {"day": "2026-11-19", "kind": "official"})
    with app.app_context():
        assert calendar_for(db.session, db.session.scalar(sa.select(Site))).is_workday(dt.date(2026, 11, 19))
    assert helpers.audit_actions(app, "calendar.override")
    bad = helpers.post_form(client, "/s/TEST/admin/calendar/", {"day": "not a date", "kind": "off"})
    assert bad.status_code == 422
    staff = helpers.make_user(app, "clerk", roles=("staff",))
    other = app.test_client()
    helpers.login(other, staff)
    assert other.get("/s/TEST/admin/calendar/").status_code == 403
