"""Deadline reminders and escalation of overdue issues, run as scheduler jobs with a frozen `now`.

Both are idempotent per issue and deadline: a re-run sends nothing new, a new deadline is announced again.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from gridpatrol.accounts.models import User, UserRole
from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.issues import jobs as issue_jobs
from gridpatrol.issues import services
from gridpatrol.issues.models import Issue
from gridpatrol.notifications import services as notifications
from gridpatrol.notifications.models import Notification
from gridpatrol.scheduler import jobs
from gridpatrol.scheduler.models import JobHeartbeat
from tests import helpers
from tests.issues import builders
from tests.issues.builders import user

HOUR = dt.timedelta(hours=1)


@pytest.fixture
def registered(monkeypatch):
    """The issue jobs registered on a copy of the scheduler's job table, restored after the test."""
    from gridpatrol.patrols import jobs as patrol_jobs

    monkeypatch.setattr(jobs, "JOBS", dict(jobs.JOBS))
    patrol_jobs.register_jobs()  # also when no app was built before this test (run alone)
    issue_jobs.register_jobs()
    return jobs.JOBS


@pytest.fixture
def world(app, registered):
    builders.world(app)


def run(app, name: str, now: dt.datetime) -> jobs.RunResult:
    with app.app_context():
        result = jobs.run_job(name, now)
    assert result.ran
    return result


def dispatched(app, state: str = "dispatched", **report) -> tuple[int, dt.datetime]:
    """A reported issue in grid A01 walked to `state` (dispatched to 维修班组 on 11-18 10:00); its deadline."""
    issue_id = builders.file_report(app, **report)
    builders.advance(app, issue_id, state)
    with app.app_context():
        return issue_id, db.session.get(Issue, issue_id).deadline


def notices(app, kind: str) -> list[tuple[str, str]]:
    """(username, key) of every notification of this kind, sorted."""
    with app.app_context():
        return sorted(db.session.execute(sa.select(User.username, Notification.key)
                                         .join(User, User.id == Notification.user_id)
                                         .where(Notification.kind == kind)).all())


def test_both_jobs_are_registered_every_five_minutes(registered):
    assert registered["issue_reminders"].every_seconds == 300
    assert registered["escalate_overdue"].every_seconds == 300
    assert "materialize" in registered  # the scheduler's own jobs are still there


def test_jobs_registered_by_a_test_do_not_leak(registered):
    assert jobs.JOBS is registered


def test_reminder_before_the_deadline_reaches_the_team_once(app, world):
    issue_id, deadline = dispatched(app)
    key = f"issue-due:{issue_id}:{deadline.astimezone(dt.timezone.utc).isoformat()}"
    assert run(app, "issue_reminders", deadline - 5 * HOUR).summary == "0 issue reminders sent"
    # 4 hours before: every active member of the dispatched team, nobody else
    assert run(app, "issue_reminders", deadline - 4 * HOUR).summary == "2 issue reminders sent"
    assert notices(app, "issue_due") == [("fixer", key), ("fixer2", key)]
    assert run(app, "issue_reminders", deadline - 2 * HOUR).summary == "0 issue reminders sent"
    assert run(app, "issue_reminders", deadline - 1 * HOUR).summary == "0 issue reminders sent"
    assert len(notices(app, "issue_due")) == 2
    # once the deadline has passed, escalation takes over: no reminder
    assert run(app, "issue_reminders", deadline + HOUR).summary == "0 issue reminders sent"
    with app.app_context():
        note = db.session.scalar(sa.select(Notification).where(Notification.kind == "issue_due").limit(1))
        shown = notifications.render(db.session, note)
        assert shown.url.endswith(f"/issues/{issue_id}") and f"#{issue_id}" in shown.text


def test_reminder_goes_to_the_assignee_or_the_active_team_members(app, world):
    first, deadline = dispatched(app, "in_progress")
    second = builders.file_report(app, lon=120.1515, lat=30.2795, when="2026-11-18 09:00")  # A02
    with app.app_context(), job_transaction() as session:
        # the second is sent to fixer2 in person, at the same moment: the same deadline
        services.dispatch(session, session.get(Issue, second), user(session, "boss"),
                          assignee=user(session, "fixer2"), now=builders.at("2026-11-18 10:00"))
        user(session, "fixer").active = False  # gone: not reminded any more
    assert run(app, "issue_reminders", deadline - HOUR).summary == "2 issue reminders sent"
    assert [name for name, _key in notices(app, "issue_due")] == ["fixer2", "fixer2"]
    assert {key.split(":")[1] for _name, key in notices(app, "issue_due")} == {str(first), str(second)}


def test_no_reminder_once_the_fix_is_reported_nor_when_closed_or_rejected(app, world):
    awaiting, deadline = dispatched(app, "awaiting_verification")
    closed, _ = dispatched(app, "closed")
    rejected = builders.file_report(app)
    with app.app_context(), job_transaction() as session:
        issue = session.get(Issue, rejected)
        services.reject(session, issue, user(session, "boss"), reason="invalid", note="不是问题",
                        now=builders.at("2026-11-18 10:00"))
        issue.deadline = deadline  # as if it had one: still never reminded nor escalated
    assert run(app, "issue_reminders", deadline - HOUR).summary == "0 issue reminders sent"
    # Overdue means open and past the deadline: awaiting verification is still open, so that one escalates.
    assert run(app, "escalate_overdue", deadline + HOUR).summary == "3 overdue notices sent"
    assert {key.split(":")[1] for _name, key in notices(app, "issue_overdue")} == {str(awaiting)}
    assert closed != awaiting


def test_escalation_after_the_deadline_to_supervisors_and_grid_leader_once(app, world):
    helpers.make_user(app, "retired", roles=("supervisor",))
    with app.app_context(), job_transaction() as session:
        user(session, "retired").active = False
    issue_id, deadline = dispatched(app, "in_progress")
    key = f"issue-overdue:{issue_id}:{deadline.astimezone(dt.timezone.utc).isoformat()}"
    assert run(app, "escalate_overdue", deadline - HOUR).summary == "0 overdue notices sent"
    assert run(app, "escalate_overdue", deadline).summary == "0 overdue notices sent"  # due now, not yet late
    result = run(app, "escalate_overdue", deadline + dt.timedelta(minutes=1))
    assert result.summary == "3 overdue notices sent"
    # both active supervisors and A01's leader; not the admin, the rectifiers, A02's leader nor the inactive
    assert notices(app, "issue_overdue") == [("boss", key), ("boss2", key), ("leader0", key)]
    for later in (deadline + HOUR, deadline + dt.timedelta(days=3)):
        assert run(app, "escalate_overdue", later).summary == "0 overdue notices sent"
    assert len(notices(app, "issue_overdue")) == 3
    with app.app_context():
        assert db.session.get(Issue, issue_id).state == "in_progress"  # overdue is derived, not a state
        beat = db.session.get(JobHeartbeat, "escalate_overdue")
        assert beat.runs == 5 and beat.last_ok


def test_a_leader_who_is_also_a_supervisor_is_told_once(app, world):
    with app.app_context(), job_transaction() as session:
        session.add(UserRole(user_id=user(session, "leader0").id, role="supervisor"))
    issue_id, deadline = dispatched(app)
    assert run(app, "escalate_overdue", deadline + HOUR).summary == "3 overdue notices sent"
    assert [name for name, _key in notices(app, "issue_overdue")] == ["boss", "boss2", "leader0"]


def test_a_redispatch_with_a_new_deadline_is_reminded_and_escalated_again(app, world):
    issue_id, deadline = dispatched(app, "in_progress")
    run(app, "issue_reminders", deadline - HOUR)
    run(app, "escalate_overdue", deadline + HOUR)
    assert len(notices(app, "issue_due")) == 2 and len(notices(app, "issue_overdue")) == 3
    new_deadline = deadline + dt.timedelta(days=2)
    with app.app_context(), job_transaction() as session:
        issue = session.get(Issue, issue_id)
        services.dispatch(session, issue, user(session, "boss"), team=builders.team(session),
                          now=deadline + 2 * HOUR)
        issue.deadline = new_deadline  # the re-dispatch grants a new time limit
    # no longer overdue: nothing until the new deadline nears
    assert run(app, "escalate_overdue", deadline + 3 * HOUR).summary == "0 overdue notices sent"
    assert run(app, "issue_reminders", new_deadline - 2 * HOUR).summary == "2 issue reminders sent"
    assert run(app, "issue_reminders", new_deadline - HOUR).summary == "0 issue reminders sent"
    assert run(app, "escalate_overdue", new_deadline + HOUR).summary == "3 overdue notices sent"
    assert run(app, "escalate_overdue", new_deadline + 2 * HOUR).summary == "0 overdue notices sent"
    stamps = {deadline.astimezone(dt.timezone.utc).isoformat(), new_deadline.astimezone(dt.timezone.utc).isoformat()}
    assert {key.split(":", 2)[2] for name, key in notices(app, "issue_overdue") if name == "boss"} == stamps
    assert {key.split(":", 2)[2] for name, key in notices(app, "issue_due") if name == "fixer"} == stamps


def test_a_failed_run_sends_nothing(app, world, monkeypatch):
    issue_id, deadline = dispatched(app)

    def broken(session, now):
        issue_jobs.escalate_overdue(session, now)
        raise RuntimeError("disk full")

    monkeypatch.setitem(jobs.JOBS, "escalate_overdue", jobs.Job("escalate_overdue", 300, broken, "fails"))
    with app.app_context(), pytest.raises(RuntimeError):
        jobs.run_job("escalate_overdue", deadline + HOUR)
    assert notices(app, "issue_overdue") == []
