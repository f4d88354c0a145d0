"""Scheduler jobs of the rectification queue: deadline reminders and escalation of overdue issues.

Both run site by site (each site in its own transaction) and work from database state. They find the issues
due soon or overdue and announce them (`issues_due_soon`, `issues_overdue`); the notifications package, which
listens, decides who is told and keeps it idempotent: each message's key names the issue and its deadline
and (user, key) is unique, so a re-run, a catch-up after downtime or a second scheduler sends nothing twice,
while a re-dispatch with a new deadline is a new key and is announced again. Overdue is derived (open and
deadline passed), never stored as a state.

Register them with `register_jobs()` (called from `gridpatrol.issues.init_app`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from blinker import Namespace
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridpatrol.grids.models import Grid, Site
from gridpatrol.issues.models import CLOCK_STATES, Issue, IssueState

if TYPE_CHECKING:
    from gridpatrol.scheduler.jobs import SiteRef

REMIND_BEFORE = dt.timedelta(hours=4)  # remind the rectifier this long before the deadline
EVERY_SECONDS = 300
# The rectifier's part is open in these states; once the fix is reported it waits on the verifier.
REMIND_STATES = (IssueState.DISPATCHED.value, IssueState.IN_PROGRESS.value)


signals = Namespace()
issues_due_soon = signals.signal("issues-due-soon")
"""Sent by `remind_due` (the `issue_reminders` job) in the job's transaction, with named arguments:

* sender: the SQLAlchemy session;
* issues: list of `DueIssue`, the dispatched or in-progress issues whose deadline falls within the reminder
  period (sent again on every run while they do: receivers must be idempotent);
* now: the aware datetime of the run.

A receiver returns how many reminders it sent (an int); `remind_due` returns the sum, which the job reports.
"""
issues_overdue = signals.signal("issues-overdue")
"""Sent by `escalate_overdue` (the `escalate_overdue` job) like `issues_due_soon`, with the open issues whose
deadline has passed; receivers return how many notices they sent."""


@dataclass(frozen=True)
class DueIssue:
    """An issue a reminder or an escalation is about (a signal's argument: named fields, a public contract)."""

    id: int
    site_id: int
    grid_id: Optional[int]
    grid_code: Optional[str]
    title: str
    deadline: dt.datetime
    assignee_id: Optional[int]
    team_id: Optional[int]


def _announce(signal, session: Session, query, now: dt.datetime) -> int:
    issues = [DueIssue(*row) for row in session.execute(query).all()]
    if not issues:
        return 0
    return sum(count for _receiver, count in signal.send(session, issues=issues, now=now) if isinstance(count, int))


def _due_issues(*conditions, site: Optional[Site]):
    query = select(Issue.id, Issue.site_id, Issue.grid_id, Grid.code, Issue.title, Issue.deadline, Issue.assignee_id,
                   Issue.team_id).outerjoin(Grid, Grid.id == Issue.grid_id) \
        .where(Issue.deadline.is_not(None), *conditions).order_by(Issue.id)
    return query if site is None else query.where(Issue.site_id == site.id)


def remind_due(session: Session, now: dt.datetime, *, before: dt.timedelta = REMIND_BEFORE,
               site: Optional[Site] = None) -> int:
    """Announce (`issues_due_soon`) the dispatched or in-progress issues (of `site`, else of every site) that
    fall due within `before`; the notifications package reminds their assignee, or else their team's active
    members, once per issue and deadline. Returns the reminders sent."""
    return _announce(issues_due_soon, session, _due_issues(
        Issue.state.in_(REMIND_STATES), Issue.deadline > now, Issue.deadline <= now + before, site=site), now)


def escalate_overdue(session: Session, now: dt.datetime, *, site: Optional[Site] = None) -> int:
    """Announce (`issues_overdue`) the open issues (of `site`, else of every site) past their deadline; the
    notifications package tells the site's supervisors and the grid's current leader, once per issue and
    deadline. Returns the notices sent."""
    return _announce(issues_overdue, session, _due_issues(
        Issue.state.in_(CLOCK_STATES), Issue.deadline < now, site=site), now)


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
                 title=_l("Remind rectifiers of issues due within 4 hours"), per_site=True, summarize=_total,
                 explain=lambda count: _("%(count)d issue reminders sent", count=count)))
    register(Job("escalate_overdue", EVERY_SECONDS, _escalate_overdue,
                 "tell supervisors and the grid leader about overdue issues",
                 title=_l("Tell supervisors and grid leaders about overdue issues"), per_site=True,
                 summarize=_total, explain=lambda count: _("%(count)d overdue notices sent", count=count)))
