"""What issues tell the grid pages: the map's facts (open and overdue issues per grid) and the grid page's section
of open and recent issues. Registered with grids in `register()` (issues.init_app)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, case, false, func, or_, select
from sqlalchemy.orm import Session

from gridpatrol.accounts.models import User
from gridpatrol.core.roles import Role
from gridpatrol.grids import sections, status
from gridpatrol.grids import services as grids
from gridpatrol.grids.models import Grid
from gridpatrol.issues.models import CLOCK_STATES, OPEN_STATES, Issue, IssueState

OPEN_SHOWN = 20
RECENT_SHOWN = 10


def overdue_condition(now: dt.datetime):
    """Open and past its deadline (as Issue.overdue_at says; overdue is derived, never stored)."""
    return and_(Issue.state.in_(CLOCK_STATES), Issue.deadline.is_not(None), Issue.deadline < now)


def status_facts(session: Session, query: status.FactsQuery) -> dict[int, status.GridFacts]:
    """open_issues and overdue_issues for every grid of the query, in one grouped query."""
    rows = session.execute(
        select(Issue.grid_id, func.count(), func.sum(case((overdue_condition(query.now), 1), else_=0)))
        .where(Issue.site_id == query.site.id, Issue.state.in_(OPEN_STATES), Issue.grid_id.in_(query.grid_ids))
        .group_by(Issue.grid_id)).all()
    return {grid_id: status.GridFacts(open_issues=int(count), overdue_issues=int(overdue or 0))
            for grid_id, count, overdue in rows}


def visible_condition(session: Session, user: User, grid: Grid):
    """SQL condition: the issues of `grid` this user may see (issues.services.can_view for one grid), or None for
    all of them."""
    site_id = grid.site_id
    if user.has_any_role(Role.SUPERVISOR, Role.ADMIN, site_id=site_id):
        return None
    if user.has_role(Role.GRID_LEADER, site_id=site_id) and grids.is_responsible_for(session, user, grid):
        return None
    mine = [Issue.reporter_id == user.id]
    if user.has_role(Role.RECTIFIER, site_id=site_id):
        mine.append(Issue.assignee_id == user.id)
        team_ids = [t.id for t in user.teams]
        mine.append(Issue.team_id.in_(team_ids) if team_ids else false())
    return or_(*mine)


def section(session: Session, user: User, grid: Grid, now: dt.datetime):
    """Open issues of the grid (soonest deadline first) and the last closed or rejected ones, for those who may
    see them; None for someone who may see none of the grid's issues and has none of their own there."""
    visible = visible_condition(session, user, grid)
    base = select(Issue.id, Issue.state, Issue.severity, Issue.category, Issue.title, Issue.reported_at,
                  Issue.deadline, Issue.closed_at, Issue.rejected_at).where(
        Issue.site_id == grid.site_id, Issue.grid_id == grid.id)
    if visible is not None:
        base = base.where(visible)
    open_rows = session.execute(
        base.where(Issue.state.in_(OPEN_STATES))
        .order_by(case((Issue.deadline.is_(None), 0), else_=1), Issue.deadline, Issue.id).limit(OPEN_SHOWN)).all()
    ended = func.coalesce(Issue.closed_at, Issue.rejected_at)
    recent_rows = session.execute(
        base.where(Issue.state.in_([IssueState.CLOSED.value, IssueState.REJECTED.value]))
        .order_by(ended.desc(), Issue.id.desc()).limit(RECENT_SHOWN)).all()
    open_total = len(open_rows)
    if open_total == OPEN_SHOWN:
        open_total = session.scalar(base.where(Issue.state.in_(OPEN_STATES)).with_only_columns(func.count())
                                    .order_by(None)) or 0
    if visible is not None and not open_rows and not recent_rows:
        return None

    def row(r):
        return {"id": r.id, "state": r.state, "severity": r.severity, "category": r.category, "title": r.title,
                "reported_at": r.reported_at, "deadline": r.deadline, "ended_at": r.closed_at or r.rejected_at,
                "overdue": r.state in CLOCK_STATES and r.deadline is not None and now > r.deadline}

    return {"open_issues": [row(r) for r in open_rows], "open_total": open_total,
            "recent_issues": [row(r) for r in recent_rows]}


def register() -> None:
    status.register_status_facts("issues", status_facts)
    sections.register_section(sections.Section("issues", 10, section, "issues/_grid_section.html"))
