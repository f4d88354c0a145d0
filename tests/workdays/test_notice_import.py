"""The State Council's notice entered in one step: parsed whole or refused whole, previewed, then applied; open
deadlines move only later, each with an event; nothing closed is recomputed; patrols not started follow."""

import datetime as dt

import pytest
import sqlalchemy as sa
import time_machine

from gridpatrol.core.errors import NotAllowed
from gridpatrol.core.transaction import job_transaction
from gridpatrol.issues import services as issues
from gridpatrol.issues.models import Issue, IssueEvent
from gridpatrol.points.models import PointsEntry
from gridpatrol.workdays import notice, services
from gridpatrol.workdays.models import OfficialCalendarDay, OfficialCalendarYear
from tests import helpers
from tests.issues import builders

# A 2027 notice as the office would type it: 春节 off 5–12 February with two make-up days, one a Saturday.
NOTICE_2027 = """
year = 2027
notice = "国办发明电〔2026〕12号"

[[holiday]]
name = "元旦"
from = 2027-01-01
to = 2027-01-03

[[holiday]]
name = "春节"
from = 2027-02-05
to = 2027-02-12
workdays = [2027-02-14, 2027-02-20]

[[holiday]]
name = "清明节"
from = 2027-04-03
to = 2027-04-05

[[holiday]]
name = "劳动节"
from = 2027-05-01
to = 2027-05-05
workdays = [2027-04-25, 2027-05-08]

[[holiday]]
name = "端午节"
from = 2027-06-09
to = 2027-06-11

[[holiday]]
name = "中秋节"
from = 2027-09-15
to = 2027-09-17

[[holiday]]
name = "国庆节"
from = 2027-10-01
to = 2027-10-07
workdays = [2027-09-26, 2027-10-09]
"""


def test_the_file_parses_into_days_off_and_make_up_days():
    parsed = notice.parse(NOTICE_2027)
    days = parsed.days()
    assert parsed.year == 2027 and parsed.reference == "国办发明电〔2026〕12号" and len(parsed.holidays) == 7
    assert days[dt.date(2027, 2, 12)] == (False, "春节") and days[dt.date(2027, 2, 20)] == (True, "春节")
    assert sum(1 for worked, _name in days.values() if worked) == 6


@pytest.mark.parametrize("text, expected", [
    ("year = 2027\n[[holiday]]\nname = '春节'\nfrom = 2027-02-05\nto = 2027-02-12\nworkdays = [2027-02-15]\n",
     "is not a Saturday or a Sunday"),
    ("year = 2027\n[[holiday]]\nname = '春节'\nfrom = 2026-02-05\nto = 2027-02-12\n", "are not in 2027"),
    ("year = 2027\n[[holiday]]\nname = '春节'\nfrom = 2027-02-12\nto = 2027-02-05\n", "comes before the first"),
    ("year = 2027\n[[holiday]]\nname = '春节'\nfrom = 2027-02-05\nto = 2027-02-08\n"
     "[[holiday]]\nname = '别的'\nfrom = 2027-02-08\n", "is given twice"),
    ("year = 2027\nholidays = 1\n", "Unknown key"),
    ("year = 1999\n", "2000 to 2100"),
    ("year = 2027\n[[holiday]\n", "not valid TOML"),
    ("year = 2027\n", "lists no holiday"),
    ("year = 2027\n[[holiday]]\nname = '春节'\nfrom = '2027-02-05'\n", "as dates"),
    (b"\xff\xfe", "not UTF-8"),
    ("x" * 30_000, "larger than"),
])
def test_a_bad_file_is_refused_with_its_reason(text, expected):
    with pytest.raises(notice.NoticeRefused) as refused:
        notice.parse(text)
    assert any(expected in problem for problem in refused.value.problems), refused.value.problems


@pytest.fixture
def compound(app, no_official_2027):
    builders.world(app)
    return app


def _accepted_issue(app, when: str) -> int:
    issue_id = builders.file_report(app, when=when, category="water_power")
    builders.advance(app, issue_id, "dispatched", when=when)
    return issue_id


def test_import_moves_an_open_deadline_later_with_an_event_and_leaves_the_rest(compound):
    app = compound
    later = _accepted_issue(app, "2027-02-04 10:00")  # minor: 3 working days
    earlier = _accepted_issue(app, "2027-02-19 10:00")  # the make-up Saturday would bring it forward
    closed = _accepted_issue(app, "2027-02-04 10:30")
    builders.advance(app, closed, "closed", when="2027-02-04 11:00")
    with app.app_context():
        session = app.extensions["sqlalchemy"].session
        before = {i.id: (i.deadline, i.version) for i in session.scalars(sa.select(Issue))}
        points_before = session.execute(sa.select(PointsEntry.id, PointsEntry.points)).all()
    # Provisional: 5–10 February off, so 11, 12 and 15 February count.
    assert before[later][0] == builders.at("2027-02-15 17:30")
    assert before[earlier][0] == builders.at("2027-02-24 17:30")  # 22, 23 and 24 February
    with app.app_context(), job_transaction() as session:
        result = services.import_notice(session, notice.parse(NOTICE_2027), actor=None, now=builders.at("2027-02-04 12:00"))
    effects = {effect.kind: effect.count for effect in result.effects}
    assert effects["deadlines_moved"] == 1
    with app.app_context():
        session = app.extensions["sqlalchemy"].session
        moved = session.get(Issue, later)
        # Official: 5–12 February off; Sunday 14 (make-up), 15 and 16 February count.
        assert moved.deadline == builders.at("2027-02-16 17:30")
        event = session.scalars(sa.select(IssueEvent).where(IssueEvent.issue_id == later,
                                                            IssueEvent.action == "deadline_moved")).one()
        assert dt.datetime.fromisoformat(event.data["from"]) == builders.at("2027-02-15 17:30")
        assert dt.datetime.fromisoformat(event.data["to"]) == builders.at("2027-02-16 17:30")
        assert event.from_state == event.to_state == "dispatched"
        assert session.get(Issue, earlier).deadline == before[earlier][0]  # never brought forward
        assert (session.get(Issue, closed).deadline, session.get(Issue, closed).version) == before[closed]
        assert session.scalar(sa.select(sa.func.count()).select_from(IssueEvent).where(
            IssueEvent.action == "deadline_moved")) == 1
        assert session.execute(sa.select(PointsEntry.id, PointsEntry.points)).all() == points_before
        assert session.get(OfficialCalendarYear, 2027).notice == "国办发明电〔2026〕12号"
        assert not services.calendar_for(session, None).is_provisional(dt.date(2027, 2, 20))
        # A new acceptance counts on the official calendar: the make-up Saturday is a working day.
        fresh = session.get(Issue, earlier)
        assert issues.deadline_from(session, fresh.site, 1, "days", builders.at("2027-02-19 10:00")) == \
            builders.at("2027-02-20 17:30")


def test_a_preview_changes_nothing_and_says_what_would(compound):
    app = compound
    later = _accepted_issue(app, "2027-02-04 10:00")
    with app.app_context():
        session = app.extensions["sqlalchemy"].session
        preview = services.preview_notice(session, notice.parse(NOTICE_2027), actor=None,
                                          now=builders.at("2027-02-04 12:00"))
        session.rollback()
        assert {effect.kind: effect.count for effect in preview.effects}["deadlines_moved"] == 1
        changed = {change.after.day: change.after.is_workday for change in preview.changes}
        assert changed[dt.date(2027, 2, 12)] is False and changed[dt.date(2027, 2, 20)] is True
        assert preview.missing_holidays == ()
        assert session.get(Issue, later).deadline == builders.at("2027-02-15 17:30")
        assert session.scalar(sa.select(sa.func.count()).select_from(OfficialCalendarDay)) == 0


def test_reimporting_replaces_the_year_and_a_package_year_is_refused(compound):
    app = compound
    with app.app_context(), job_transaction() as session:
        services.import_notice(session, notice.parse(NOTICE_2027), actor=None, now=builders.at("2026-12-02 12:00"))
    shorter = NOTICE_2027.replace("to = 2027-02-12", "to = 2027-02-11")
    with app.app_context(), job_transaction() as session:
        result = services.import_notice(session, notice.parse(shorter), actor=None, now=builders.at("2026-12-02 13:00"))
        assert result.replaces_import
        assert services.calendar_for(session, None).is_workday(dt.date(2027, 2, 12))
    with app.app_context(), job_transaction() as session, pytest.raises(services.DomainError):
        services.import_notice(session, notice.parse(NOTICE_2027.replace("2027", "2026")), actor=None,
                               now=builders.at("2026-12-02 13:00"))


def test_only_an_admin_of_every_site_may_enter_the_national_calendar(compound):
    app = compound
    with app.app_context():
        session = app.extensions["sqlalchemy"].session
        with pytest.raises(NotAllowed):
            services.preview_notice(session, notice.parse(NOTICE_2027), actor=builders.user(session, "boss"),
                                    now=builders.at("2026-12-02 12:00"))


def _login(app, username):
    client = app.test_client()
    with app.app_context():
        user = builders.user(app.extensions["sqlalchemy"].session, username)
        creds = helpers.Credentials(user.id, user.username, helpers.DEFAULT_PASSWORD)
    helpers.login(client, creds)
    return client


@time_machine.travel(dt.datetime(2026, 12, 2, 2, tzinfo=dt.timezone.utc))
def test_the_page_previews_then_applies_exactly_what_was_previewed(compound):
    app = compound
    client = _login(app, "root")
    page = client.get("/s/TEST/admin/calendar/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'data-provisional-year="2027"' in html and "元旦" in html
    preview = helpers.post_form(client, "/s/TEST/admin/calendar/import", {"text": NOTICE_2027, "step": "preview"})
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "国办发明电〔2026〕12号" in html and 'value="apply"' in html
    with app.app_context():
        assert app.extensions["sqlalchemy"].session.get(OfficialCalendarYear, 2027) is None
    applied = helpers.post_form(client, "/s/TEST/admin/calendar/import", {"text": NOTICE_2027, "step": "apply"},
                                token_from="/s/TEST/admin/calendar/import")
    assert applied.status_code == 302
    with app.app_context():
        assert app.extensions["sqlalchemy"].session.scalar(
            sa.select(sa.func.count()).select_from(OfficialCalendarDay).where(OfficialCalendarDay.year == 2027)) == 38
    assert 'data-provisional-year' not in client.get("/s/TEST/admin/calendar/").get_data(as_text=True)
    assert [a for a in helpers.audit_actions(app, "calendar.imported")]


@time_machine.travel(dt.datetime(2026, 12, 2, 2, tzinfo=dt.timezone.utc))
def test_a_refused_file_on_the_page_lists_its_problems_and_saves_nothing(compound):
    app = compound
    client = _login(app, "root")
    bad = "year = 2027\n[[holiday]]\nname = '春节'\nfrom = 2027-02-05\nto = 2027-02-12\nworkdays = [2027-02-15]\n"
    answer = helpers.post_form(client, "/s/TEST/admin/calendar/import", {"text": bad, "step": "apply"})
    assert answer.status_code == 422
    assert "2027-02-15" in answer.get_data(as_text=True)
    with app.app_context():
        assert app.extensions["sqlalchemy"].session.get(OfficialCalendarYear, 2027) is None
    supervisor = _login(app, "boss")
    assert helpers.post_form(supervisor, "/s/TEST/admin/calendar/import", {"text": NOTICE_2027, "step": "apply"},
                             token_from="/s/TEST/issues").status_code == 403


def test_the_cli_shows_a_year_with_sources_and_imports_after_a_preview(compound, tmp_path):
    app = compound
    shown = helpers.run_cli(app, ["calendar", "show", "2027"])
    assert shown.exit_code == 0 and "2027: provisional" in shown.output
    assert "2027-01-01 Fri  day off      provisional    元旦" in shown.output
    path = tmp_path / "2027.toml"
    path.write_text(NOTICE_2027, encoding="utf-8")
    declined = helpers.run_cli(app, ["calendar", "import", str(path)], stdin="n\n")
    assert declined.exit_code == 0 and "nothing changed" in declined.output and "2027-02-20 Sat" in declined.output
    assert "2027: provisional" in helpers.run_cli(app, ["calendar", "show", "2027"]).output
    done = helpers.run_cli(app, ["calendar", "import", str(path), "--yes"])
    assert done.exit_code == 0, done.output
    shown = helpers.run_cli(app, ["calendar", "show", "2027", "--site", "TEST"])
    assert "2027: imported (site TEST)" in shown.output and "2027-02-20 Sat  working day  imported" in shown.output
    bad = tmp_path / "bad.toml"
    bad.write_text("year = 2027\n", encoding="utf-8")
    refused = helpers.run_cli(app, ["calendar", "import", str(bad), "--yes"])
    assert refused.exit_code == 2 and "refused:" in refused.output and "[[holiday]]" in refused.output
    assert helpers.run_cli(app, ["calendar", "show", "2027", "--site", "NOPE"]).exit_code == 2


def test_the_issue_page_and_the_queue_say_a_deadline_rests_on_a_provisional_calendar(compound):
    app = compound
    issue_id = _accepted_issue(app, "2027-02-04 10:00")
    official = _accepted_issue(app, "2026-11-18 10:00")
    supervisor = _login(app, "boss")
    page = supervisor.get(f"/s/TEST/issues/{issue_id}").get_data(as_text=True)
    assert "暂定日历" in page and "2027-02-15 17:30" in page
    assert "暂定日历" not in supervisor.get(f"/s/TEST/issues/{official}").get_data(as_text=True)
    queue = supervisor.get("/s/TEST/issues").get_data(as_text=True)
    assert queue.count('title="暂定日历"') == 1
    with app.app_context(), job_transaction() as session:
        services.import_notice(session, notice.parse(NOTICE_2027), actor=None, now=builders.at("2027-02-04 12:00"))
    page = supervisor.get(f"/s/TEST/issues/{issue_id}").get_data(as_text=True)
    assert "暂定日历" not in page and "2027-02-16 17:30" in page
    assert "按官方日历顺延了处置期限: 2027-02-15 17:30 → 2027-02-16 17:30" in page
