"""Deadlines when a year's official calendar arrives (workdays.official_year_changing).

An open issue's deadline was counted in working time, possibly over days of a provisional calendar. When the
State Council's notice for that year is imported, the deadline is counted again from its start (the acceptance)
with the same time limit (stored in the acceptance event; the site's current limit for older issues) by the new
calendar. It only ever moves later — the notice must not make anyone overdue by surprise — and each move writes
an event on the issue. Closed and rejected issues, and issues whose deadline the year does not touch, are not
recomputed.
"""

from __future__ import annotations

import datetime as dt
from typing import Optional

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridpatrol.core.time import format_local, local_day
from gridpatrol.grids.models import Site
from gridpatrol.issues import services
from gridpatrol.issues.models import CLOCK_STATES, Issue, IssueEvent
from gridpatrol.workdays import services as workdays

SHOWN = 20  # issues named in a preview; the count says the rest


def _limit(session: Session, issue: Issue) -> tuple[int, str]:
    stored = session.scalar(select(IssueEvent.data).where(
        IssueEvent.issue_id == issue.id, IssueEvent.action == "dispatch").order_by(IssueEvent.id).limit(1))
    limit = (stored or {}).get("time_limit")
    if isinstance(limit, list) and len(limit) == 2:
        return int(limit[0]), str(limit[1])
    return services.time_limit(session, issue.site, issue.category, issue.accepted_severity or issue.severity)


def follow_official_year(session: Session, *, year: int, days: dict, now: dt.datetime, actor,
                         apply: bool) -> workdays.CalendarEffect:
    # Issues whose span from acceptance to deadline may touch the year, in any zone (a day's margin each side).
    first = dt.datetime(year - 1, 12, 31, tzinfo=dt.timezone.utc)
    last = dt.datetime(year + 1, 1, 2, tzinfo=dt.timezone.utc)
    issues = session.scalars(select(Issue).where(
        Issue.state.in_(CLOCK_STATES), Issue.deadline.is_not(None), Issue.accepted_at.is_not(None),
        Issue.deadline >= first, Issue.accepted_at < last).order_by(Issue.id)).all()
    calendars: dict[int, workdays.WorkdayCalendar] = {}
    moved: list[tuple[Issue, dt.datetime, dt.datetime]] = []
    for issue in issues:
        site: Site = issue.site
        if site.id not in calendars:
            calendars[site.id] = workdays.calendar_for(session, site).with_year(year, days)
        new = services.deadline_from(session, site, *_limit(session, issue), issue.accepted_at,
                                     calendar=calendars[site.id])
        if new > issue.deadline:
            moved.append((issue, issue.deadline, new))
    if apply:
        for issue, old, new in moved:
            issue.deadline = new
            session.add(IssueEvent(issue=issue, actor_id=getattr(actor, "id", None), action="deadline_moved",
                                   from_state=issue.state, to_state=issue.state, at=now,
                                   data={"from": old.isoformat(), "to": new.isoformat(), "year": year}))
        session.flush()
    details = tuple(_("#%(id)d %(title)s: %(old)s → %(new)s", id=issue.id, title=issue.title,
                      old=format_local(old), new=format_local(new)) for issue, old, new in moved[:SHOWN])
    return workdays.CalendarEffect(
        "deadlines_moved", ngettext("%(num)d open issue's deadline moves later",
                                    "%(num)d open issues' deadlines move later", len(moved)),
        len(moved), details)


def rests_on_provisional(session: Session, issue: Issue,
                         calendar: Optional[workdays.WorkdayCalendar] = None) -> bool:
    """Was the issue's deadline counted over days of a provisional calendar (a year not yet official)?"""
    if issue.deadline is None:
        return False
    calendar = calendar or workdays.calendar_for(session, issue.site)
    start = local_day(issue.accepted_at or issue.deadline, issue.site.timezone)
    return calendar.rests_on_provisional(start, local_day(issue.deadline, issue.site.timezone))


def provisional_deadlines(session: Session, site: Site, rows) -> set[int]:
    """The ids of a page's rows (with `id` and `deadline`) whose deadline falls in a provisional year."""
    calendar = workdays.calendar_for(session, site)
    return {row.id for row in rows if row.deadline is not None and
            calendar.is_provisional(local_day(row.deadline, site.timezone))}


def _on_official_year_changing(session: Session, **kwargs) -> Optional[workdays.CalendarEffect]:
    return follow_official_year(session, **kwargs)


def connect_signals() -> None:
    workdays.official_year_changing.connect(_on_official_year_changing)
