"""Who is told what: every notification reaches the right people (and nobody else), reads in each reader's
language (zh by default, en by choice) on their notifications page, and links to a page that opens for them."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.issues import jobs as issue_jobs
from gridpatrol.issues import services as issues
from gridpatrol.issues.models import Issue
from gridpatrol.patrols import services as patrols
from gridpatrol.patrols.models import Patrol
from gridpatrol.points import rules as earning_rules
from gridpatrol.points import services as points
from gridpatrol.points.models import PointsEntry
from tests import helpers
from tests.issues import builders as issue_builders
from tests.issues.builders import at, jpeg, user
from tests.notifications.builders import only, people, recipients, unread
from tests.patrols import builders as patrol_builders

TITLE = "三楼卫生间水龙头漏水"
HOUR = dt.timedelta(hours=1)


@pytest.fixture
def world(app):
    issue_builders.world(app)
    people(app, boss2={"locale": "en"}, fixer2={"locale": "en"}, leader1={"locale": "en"})


def _walk(app, issue_id: int, action, who: str, when="2026-11-18 11:00", **given) -> None:
    with app.app_context(), job_transaction() as session:
        issues.perform(session, session.get(Issue, issue_id), user(session, who), action, now=at(when), **given)


# --- the rectification workflow ------------------------------------------------------------------------
def test_report_in_a_grid_tells_its_leader_and_the_supervisors(app, world):
    people(app, leader0={"locale": "en"})
    issue_id = issue_builders.file_report(app)  # clerk, in A01
    assert recipients(app, "issue_reported") == ["boss", "boss2", "leader0"]
    assert only(app, "boss").text == f"网格 A01 新上报问题 #{issue_id}：{TITLE}"
    assert only(app, "leader0").text == f"New issue #{issue_id} in grid A01: {TITLE}"
    only(app, "boss2", "New issue")


def test_dispatch_to_a_team_tells_its_active_members(app, world):
    issue_id = issue_builders.file_report(app)
    issue_builders.advance(app, issue_id, "dispatched")  # boss → 维修班组, deadline 3 working days on
    assert recipients(app, "issue_dispatched") == ["fixer", "fixer2"]
    zh, en = only(app, "fixer"), only(app, "fixer2")
    assert zh.text.startswith(f"问题 #{issue_id} {TITLE} 已派给您整改，请于 2026-11-") and zh.url.endswith(f"/issues/{issue_id}")
    assert en.text.startswith(f"Issue #{issue_id} {TITLE} is yours to fix by 2026-11-")


def test_dispatch_to_a_person_tells_only_them_and_a_redispatch_tells_the_next(app, world):
    issue_id = issue_builders.file_report(app)
    with app.app_context(), job_transaction() as session:
        issues.dispatch(session, session.get(Issue, issue_id), user(session, "boss"),
                        assignee=user(session, "fixer2"), now=at("2026-11-18 10:00"))
    assert recipients(app, "issue_dispatched") == ["fixer2"]
    with app.app_context(), job_transaction() as session:
        issues.dispatch(session, session.get(Issue, issue_id), user(session, "boss"),
                        assignee=user(session, "fixer"), now=at("2026-11-18 10:30"))
    assert recipients(app, "issue_dispatched") == ["fixer", "fixer2"]
    only(app, "fixer", "已派给您整改")


def test_fix_reported_tells_who_may_verify_but_not_the_fixer(app, world):
    issue_id = issue_builders.file_report(app)
    issue_builders.advance(app, issue_id, "awaiting_verification")  # fixer reports the fix
    assert recipients(app, "issue_fix_reported") == ["boss", "boss2", "leader0"]
    assert only(app, "boss", "待复核").text == f"问题 #{issue_id} {TITLE} 已整改完成，待复核。"
    assert only(app, "boss2", "awaits").text == f"The fix of issue #{issue_id} {TITLE} awaits verification."
    only(app, "leader0", "待复核")


def test_a_supervisor_who_reports_the_fix_is_not_asked_to_verify_it(app, world):
    helpers.make_user(app, "chief", roles=("supervisor", "rectifier"))
    issue_id = issue_builders.file_report(app)
    with app.app_context(), job_transaction() as session:
        issues.dispatch(session, session.get(Issue, issue_id), user(session, "boss"),
                        assignee=user(session, "chief"), now=at("2026-11-18 10:00"))
    _walk(app, issue_id, "start", "chief")
    _walk(app, issue_id, "report_fix", "chief", note="已更换阀芯", photos={"a1": jpeg()})
    assert recipients(app, "issue_fix_reported") == ["boss", "boss2", "leader0"]


@pytest.mark.parametrize("locale, expected", [
    (None, "问题 #{id} " + TITLE + " 复核未通过，需返工：仍在滴水"),
    ("en", "Issue #{id} " + TITLE + " was sent back for rework: 仍在滴水"),
])
def test_rework_tells_the_fixer(app, world, locale, expected):
    people(app, fixer={"locale": locale})
    issue_id = issue_builders.file_report(app)
    issue_builders.advance(app, issue_id, "awaiting_verification")
    _walk(app, issue_id, "verify_fail", "leader0", note="仍在滴水")
    assert recipients(app, "issue_rework") == ["fixer"]
    assert only(app, "fixer", "仍在滴水").text == expected.format(id=issue_id)


@pytest.mark.parametrize("locale, expected", [
    (None, "您上报的问题 #{id} " + TITLE + " 已核查结案。"),
    ("en", "Your report #{id} " + TITLE + " was verified and closed."),
])
def test_closing_tells_the_reporter(app, world, locale, expected):
    people(app, clerk={"locale": locale})
    issue_id = issue_builders.file_report(app)
    issue_builders.advance(app, issue_id, "closed")  # verified by boss
    assert recipients(app, "issue_closed") == ["clerk"]
    assert only(app, "clerk").text == expected.format(id=issue_id)


@pytest.mark.parametrize("locale, expected", [
    (None, "您上报的问题 #{id} " + TITLE + " 不予受理：无效上报。"),
    ("en", "Your report #{id} " + TITLE + " was not accepted: Invalid report."),
])
def test_rejection_tells_the_reporter_why(app, world, locale, expected):
    people(app, clerk={"locale": locale})
    issue_id = issue_builders.file_report(app)
    _walk(app, issue_id, "reject", "boss", reason="invalid", note="不是问题")
    assert recipients(app, "issue_rejected") == ["clerk"]
    assert only(app, "clerk").text == expected.format(id=issue_id)


def test_deferral_and_resume_tell_who_works_on_it_and_the_grid_leader(app, world):
    """缓办 stops the clock and 恢复办理 starts it again: the team fixing it and the grid's leader hear both, in
    their own language; the supervisor who did it hears nothing."""
    issue_id = issue_builders.file_report(app)
    issue_builders.advance(app, issue_id, "deferred", when="2026-11-18 10:00")  # boss: 等待预算
    assert recipients(app, "issue_deferred") == ["fixer", "fixer2", "leader0"]
    assert only(app, "fixer", "缓办").text == f"问题 #{issue_id} {TITLE} 已缓办，恢复办理前不计处置期限。等待预算"
    assert only(app, "fixer2", "deferred").text.startswith(f"Issue #{issue_id} {TITLE} is deferred")
    _walk(app, issue_id, "resume", "boss2", when="2026-11-20 09:00", deadline=dt.date(2026, 11, 27))
    assert recipients(app, "issue_resumed") == ["fixer", "fixer2", "leader0"]
    assert only(app, "fixer", "已恢复办理").text == f"问题 #{issue_id} {TITLE} 已恢复办理，请于 2026-11-27 17:30 前整改完毕。"
    assert only(app, "fixer2", "fix it by").url.endswith(f"/issues/{issue_id}")


def test_starting_and_comments_tell_nobody(app, world):
    issue_id = issue_builders.file_report(app)
    issue_builders.advance(app, issue_id, "in_progress")
    with app.app_context(), job_transaction() as session:
        issues.comment(session, session.get(Issue, issue_id), user(session, "boss"), "请尽快", now=at("2026-11-18 10:05"))
        kinds = set(session.scalars(sa.text("SELECT DISTINCT kind FROM notifications")))
    assert kinds - {"issue_reported"} == {"issue_dispatched"}


# --- points --------------------------------------------------------------------------------------------
def _appeal(app, leader="leader0"):
    with app.app_context(), job_transaction() as session:
        person = user(session, leader)
        site_id = session.scalar(sa.text("SELECT id FROM sites"))
        entry_id = points.book(session, site_id, earning_rules.Earning(
            person.id, "patrol_missed", "patrol", 1, at("2026-11-10 12:00"), "patrol missed"))
        return points.file_appeal(session, session.get(PointsEntry, entry_id), person, "那天在开会").id


@pytest.mark.parametrize("overturn, locale, expected", [
    (True, None, "您对“漏巡”（2026-11）的申诉已获支持，该积分记录已撤销。核实属实"),
    (False, "en", "Your appeal against “Patrol missed” (2026-11) was not granted: the entry stands. 维持"),
])
def test_a_decided_appeal_tells_the_leader_who_appealed(app, world, overturn, locale, expected):
    people(app, leader0={"locale": locale})
    appeal_id = _appeal(app)
    from gridpatrol.points.models import Appeal

    with app.app_context(), job_transaction() as session:
        points.decide_appeal(session, session.get(Appeal, appeal_id), user(session, "boss"), overturn=overturn,
                             note="核实属实" if overturn else "维持", now=at("2026-11-20 10:00"))
    assert recipients(app, "appeal_decided") == ["leader0"]
    shown = only(app, "leader0", "2026-11")
    assert shown.text == expected
    assert "month=2026-11" in shown.url


# --- reminders -----------------------------------------------------------------------------------------
def _due_issue(app) -> tuple[int, dt.datetime]:
    issue_id = issue_builders.file_report(app)
    issue_builders.advance(app, issue_id, "dispatched")
    with app.app_context():
        return issue_id, db.session.get(Issue, issue_id).deadline


def test_issue_due_soon_reminds_the_team(app, world):
    issue_id, deadline = _due_issue(app)
    with app.app_context(), job_transaction() as session:
        assert issue_jobs.remind_due(session, deadline - HOUR) == 2
    with app.app_context(), job_transaction() as session:
        assert issue_jobs.remind_due(session, deadline - HOUR / 2) == 0  # once
    assert recipients(app, "issue_due") == ["fixer", "fixer2"]
    local = deadline.astimezone(issue_builders.SHANGHAI).strftime("%Y-%m-%d %H:%M")
    assert only(app, "fixer", "处置期限").text == f"问题 #{issue_id} {TITLE} 的处置期限为 {local}。"
    assert only(app, "fixer2", "is due at").text == f"Issue #{issue_id} {TITLE} is due at {local}."


def test_overdue_issue_tells_the_supervisors_and_the_grid_leader(app, world):
    issue_id, deadline = _due_issue(app)
    with app.app_context(), job_transaction() as session:
        assert issue_jobs.escalate_overdue(session, deadline + HOUR) == 3
    assert recipients(app, "issue_overdue") == ["boss", "boss2", "leader0"]
    local = deadline.astimezone(issue_builders.SHANGHAI).strftime("%Y-%m-%d %H:%M")
    assert only(app, "boss", "逾期").text == f"问题 #{issue_id} {TITLE}（网格 A01）已逾期：处置期限为 {local}。"
    assert only(app, "boss2", "overdue").text == (
        f"Issue #{issue_id} {TITLE} (grid A01) is overdue: its deadline was {local}.")
    only(app, "leader0", "逾期")


@pytest.fixture
def patrol_world(app):
    patrol_builders.compound(app)  # leader0 on A01, leader1 on A02
    people(app, leader1={"locale": "en"})
    patrol_builders.make_plan(app, grids=("A01", "A02"), starts_on=dt.date(2026, 11, 2))  # 08:00–10:00
    patrol_builders.materialize(app, patrol_builders.at("2026-11-02 06:00"))


def _submit(app, grid_code: str, now="2026-11-02 09:00") -> None:
    with app.app_context(), job_transaction() as session:
        patrol = session.scalar(sa.select(Patrol).join(Patrol.grid).where(sa.text("grids.code = :code"))
                                .params(code=grid_code))
        body = {"client_uuid": str(uuid.uuid4()), "completed_at": patrol_builders.at(now).isoformat(),
                "answers": [{"item_id": i.id, "result": "pass"} for i in patrol.template_version.items]}
        patrols.submit(session, patrol, session.get(type(user(session, "leader0")), patrol.assignee_id), body, {},
                       now=patrol_builders.at(now))


def test_patrol_due_soon_reminds_its_leader_and_submitting_marks_it_done(app, patrol_world):
    with app.app_context(), job_transaction() as session:
        assert patrols.remind(session, patrol_builders.at("2026-11-02 07:30")) == 2
    assert recipients(app, "patrol_due") == ["leader0", "leader1"]
    assert only(app, "leader0").text.startswith("网格 A01 ")
    assert only(app, "leader1").text.startswith("Patrol of grid A02 ")
    _submit(app, "A01")
    assert unread(app, "patrol_due") == ["leader1"]  # done: A01's patrol is submitted
    with app.app_context(), job_transaction() as session:  # and a later run does not remind again
        assert patrols.remind(session, patrol_builders.at("2026-11-02 07:40")) == 0


def test_the_sites_supervisors_are_those_holding_the_role_there_or_at_all_sites(app, world):
    from gridpatrol.accounts import services as accounts
    from gridpatrol.accounts.models import User
    from gridpatrol.core.roles import Role
    from gridpatrol.grids.models import Site
    from gridpatrol.notifications import recipients as who
    from tests.grids import builders as grid_builders

    far_site = grid_builders.make_site(app, code="FAR")
    with app.app_context(), job_transaction() as session:
        here = session.scalar(sa.select(Site.id).where(Site.code == "TEST"))
        for name, site_id in (("near", here), ("far", far_site)):
            accounts.create_user(session, username=name, display_name=name, password=helpers.DEFAULT_PASSWORD,
                                 roles=[(Role.SUPERVISOR, site_id)], locale=None)
        names = {person.id: person.username for person in session.scalars(sa.select(User))}
        assert sorted(names[i] for i in who.supervisors_of_site(session, here)) == ["boss", "boss2", "near"]
        assert sorted(names[i] for i in who.supervisors_of_site(session, far_site)) == ["boss", "boss2", "far"]
    issue_id, deadline = _due_issue(app)
    with app.app_context(), job_transaction() as session:
        issue_jobs.escalate_overdue(session, deadline + HOUR)
    assert recipients(app, "issue_overdue") == ["boss", "boss2", "leader0", "near"]
