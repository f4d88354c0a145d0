"""Scheduler jobs of the rectification queue: deadline reminders and escalation of overdue issues.

Both run site by site (each site in its own transaction), work from database state and are idempotent:
each message has a notification key naming the issue and its deadline, and (user, key) is unique, so a
re-run, a catch-up after downtime or a second scheduler sends nothing twice, while a re-dispatch with a
new deadline is a new key and is announced again. Overdue is derived (open and deadline passed), never
stored as a state.

Register them with `register_jobs()` (called from `gridpatrol.issues.init_app`).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import TYPE_CHECKING, Optional

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridpatrol.accounts.models import User, UserRole, team_members
from gridpatrol.core.db import insert_ignoring_conflicts
from gridpatrol.core.roles import Role
from gridpatrol.grids.models import AssignmentRole, Grid, GridAssignment, Site
from gridpatrol.issues.models import OPEN_STATES, Issue, IssueState
from gridpatrol.notifications.models import Notification

if TYPE_CHECKING:
    from gridpatrol.scheduler.jobs import SiteRef

REMIND_BEFORE = dt.timedelta(hours=4)  # remind the rectifier this long before the deadline
EVERY_SECONDS = 300
# The rectifier's part is open in these states; once the fix is reported it waits on the verifier.
REMIND_STATES = (IssueState.DISPATCHED.value, IssueState.IN_PROGRESS.value)


def due_key(issue_id: int, deadline: dt.datetime) -> str:
    return f"issue-due:{issue_id}:{_stamp(deadline)}"


def overdue_key(issue_id: int, deadline: dt.datetime) -> str:
    return f"issue-overdue:{issue_id}:{_stamp(deadline)}"


def _stamp(deadline: dt.datetime) -> str:
    return deadline.astimezone(dt.timezone.utc).isoformat()


def _local(deadline: dt.datetime, timezone: str) -> str:
    return deadline.astimezone(zoneinfo.ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


def _link(issue_id: int) -> str:
    return f"/issues/{issue_id}"


def remind_due(session: Session, now: dt.datetime, *, before: dt.timedelta = REMIND_BEFORE,
               site: Optional[Site] = None) -> int:
    """One reminder per issue and deadline when an open, dispatched or in-progress issue (of `site`, else of
    every site) falls due within `before`: to its assignee if it has an active one, else to every active
    member of its team. Returns the notifications written."""
    query = select(Issue.id, Issue.title, Issue.deadline, Issue.assignee_id, Issue.team_id, Site.timezone) \
        .join(Site, Site.id == Issue.site_id) \
        .where(Issue.state.in_(REMIND_STATES), Issue.deadline.is_not(None), Issue.deadline > now,
               Issue.deadline <= now + before)
    if site is not None:
        query = query.where(Issue.site_id == site.id)
    issues = session.execute(query).all()
    if not issues:
        return 0
    active_assignees = set(session.scalars(select(User.id).where(
        User.id.in_(sorted({i.assignee_id for i in issues if i.assignee_id is not None})), User.active.is_(True))))
    members: dict[int, list[int]] = {}
    for team_id, user_id in session.execute(
            select(team_members.c.team_id, team_members.c.user_id).join(User, User.id == team_members.c.user_id)
            .where(team_members.c.team_id.in_(sorted({i.team_id for i in issues if i.team_id is not None})),
                   User.active.is_(True))):
        members.setdefault(team_id, []).append(user_id)
    rows = {}
    for issue in issues:
        recipients = ([issue.assignee_id] if issue.assignee_id in active_assignees
                      else members.get(issue.team_id, []))
        key = due_key(issue.id, issue.deadline)
        text = _("Issue #%(id)s %(title)s is due at %(deadline)s.", id=issue.id, title=issue.title,
                 deadline=_local(issue.deadline, issue.timezone))
        for user_id in recipients:
            rows[(user_id, key)] = {"user_id": user_id, "key": key, "kind": "issue_due", "text": text[:500],
                                    "link": _link(issue.id), "created_at": now}
    return len(insert_ignoring_conflicts(session, Notification.__table__, list(rows.values()), ["user_id", "key"]))


def escalate_overdue(session: Session, now: dt.datetime, *, site: Optional[Site] = None) -> int:
    """When an open issue (of `site`, else of every site) is past its deadline, tell every active supervisor
    and the grid's current leader, once per issue and deadline. Returns the notifications written."""
    query = select(Issue.id, Issue.title, Issue.deadline, Issue.grid_id, Grid.code, Site.timezone) \
        .join(Site, Site.id == Issue.site_id).outerjoin(Grid, Grid.id == Issue.grid_id) \
        .where(Issue.state.in_(OPEN_STATES), Issue.deadline.is_not(None), Issue.deadline < now)
    if site is not None:
        query = query.where(Issue.site_id == site.id)
    issues = session.execute(query).all()
    if not issues:
        return 0
    supervisors = list(session.scalars(select(User.id).join(UserRole, UserRole.user_id == User.id).where(
        UserRole.role == Role.SUPERVISOR.value, User.active.is_(True)).order_by(User.id)))
    leaders = dict(session.execute(
        select(GridAssignment.grid_id, GridAssignment.user_id).join(User, User.id == GridAssignment.user_id)
        .where(GridAssignment.grid_id.in_(sorted({i.grid_id for i in issues if i.grid_id is not None})),
               GridAssignment.role == AssignmentRole.LEADER.value, GridAssignment.effective_to.is_(None),
               User.active.is_(True))).all())
    rows = {}
    for issue in issues:
        recipients = list(supervisors)
        if issue.grid_id in leaders:
            recipients.append(leaders[issue.grid_id])
        key = overdue_key(issue.id, issue.deadline)
        text = _("Issue #%(id)s %(title)s (grid %(grid)s) is overdue: its deadline was %(deadline)s.",
                 id=issue.id, title=issue.title, grid=issue.code or "—",
                 deadline=_local(issue.deadline, issue.timezone))
        for user_id in recipients:
            rows[(user_id, key)] = {"user_id": user_id, "key": key, "kind": "issue_overdue", "text": text[:500],
                                    "link": _link(issue.id), "created_at": now}
    return len(insert_ignoring_conflicts(session, Notification.__table__, list(rows.values()), ["user_id", "key"]))


def _issue_reminders(session: Session, site: SiteRef, now: dt.datetime) -> int:
    return remind_due(session, now, site=session.get(Site, site.id))


def _escalate_overdue(session: Session, site: SiteRef, now: dt.datetime) -> int:
    return escalate_overdue(session, now, site=session.get(Site, site.id))


def _total(results: list[tuple[SiteRef, int]]) -> int:
    return sum(count for _site, count in results)


def register_jobs() -> None:
    """Add the two jobs to the scheduler (idempotent: registering again replaces them)."""
    from gridpatrol.scheduler.jobs import Job, register

    register(Job("issue_reminders", EVERY_SECONDS, _issue_reminders,
                 "remind rectifiers of issues due within 4 hours",
                 per_site=True, summarize=lambda results: f"{_total(results)} issue reminders sent"))
    register(Job("escalate_overdue", EVERY_SECONDS, _escalate_overdue,
                 "tell supervisors and the grid leader about overdue issues",
                 per_site=True, summarize=lambda results: f"{_total(results)} overdue notices sent"))
