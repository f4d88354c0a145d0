"""What patrols tell the grid pages: the map's facts (missed today, last patrolled) and the grid page's section of
the last patrols with their scores and failed items. Registered with grids in `register()` (patrols.init_app)."""

from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from gridpatrol.accounts.models import User
from gridpatrol.core.roles import Role
from gridpatrol.grids import sections, status
from gridpatrol.grids import services as grids
from gridpatrol.grids.models import Grid
from gridpatrol.patrols import board
from gridpatrol.patrols.models import Patrol, PatrolAnswer, PatrolPlan, PatrolStatus
from gridpatrol.standards.models import TemplateItem

LAST_PATROLS = 10
# A patrol is finished at most its window (≤ 7 days) plus its grace (≤ 7 days) after its window starts: patrols
# finished since `covered_since` started at most this long before it (patrols/services.py _validate_plan).
LONGEST_PATROL = dt.timedelta(days=14)


def status_facts(session: Session, query: status.FactsQuery) -> dict[int, status.GridFacts]:
    """missed_today and last_patrolled_at for every grid of the query, in one grouped query."""
    finished = func.coalesce(Patrol.completed_at, Patrol.submitted_at)
    covered = case((Patrol.status == PatrolStatus.SUBMITTED.value, finished))
    today_missed = case(((Patrol.window_start >= query.day_start) & (Patrol.window_start < query.day_end)
                         & board.state_condition(("missed",), query.now), 1), else_=0)
    rows = session.execute(
        select(Patrol.grid_id, func.max(covered), func.sum(today_missed))
        .where(Patrol.site_id == query.site.id, Patrol.grid_id.in_(query.grid_ids),
               Patrol.window_start >= min(query.covered_since - LONGEST_PATROL, query.day_start),
               Patrol.window_start < query.day_end)
        .group_by(Patrol.grid_id)).all()
    facts = {}
    for grid_id, last, missed in rows:
        last = _aware(last)
        facts[grid_id] = status.GridFacts(
            missed_today=int(missed or 0),
            last_patrolled_at=last if last is not None and last >= query.covered_since else None)
    return facts


def _aware(value) -> Optional[dt.datetime]:
    """max() over a timestamp column comes back untyped on SQLite (a string): read it as UTC."""
    if value is None or isinstance(value, dt.datetime):
        return value.replace(tzinfo=dt.timezone.utc) if value is not None and value.tzinfo is None else value
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed.replace(tzinfo=dt.timezone.utc) if parsed.tzinfo is None else parsed


def visible_condition(session: Session, user: User, grid: Grid):
    """SQL condition: the patrols of `grid` this user may see (patrols.services.can_view for one grid), or None
    for all of them."""
    if user.has_any_role(Role.SUPERVISOR, Role.ADMIN, site_id=grid.site_id):
        return None
    if user.has_role(Role.GRID_LEADER, site_id=grid.site_id) and grids.is_responsible_for(session, user, grid):
        return None
    return Patrol.assignee_id == user.id


def section(session: Session, user: User, grid: Grid, now: dt.datetime):
    """The last patrols of the grid (window started), for those who may see them; None for anybody else."""
    visible = visible_condition(session, user, grid)
    query = (select(Patrol.id, Patrol.window_start, Patrol.due_at, PatrolPlan.name, User.display_name,
                    Patrol.score, Patrol.failed_critical, board.state_expression(now))
             .join(PatrolPlan, PatrolPlan.id == Patrol.plan_id)
             .outerjoin(User, User.id == func.coalesce(Patrol.submitted_by_id, Patrol.assignee_id))
             .where(Patrol.site_id == grid.site_id, Patrol.grid_id == grid.id, Patrol.window_start <= now)
             .order_by(Patrol.window_start.desc(), Patrol.id.desc()).limit(LAST_PATROLS))
    if visible is not None:
        query = query.where(visible)
    rows = session.execute(query).all()
    if visible is not None and not rows:
        return None  # someone who only sees patrols assigned to them, and has none here
    failed: dict[int, list[str]] = {}
    if rows:
        for patrol_id, text in session.execute(
                select(PatrolAnswer.patrol_id, TemplateItem.text).join(TemplateItem, TemplateItem.id == PatrolAnswer.item_id)
                .where(PatrolAnswer.patrol_id.in_([r[0] for r in rows]), PatrolAnswer.result == "fail")
                .order_by(PatrolAnswer.patrol_id, TemplateItem.position)):
            failed.setdefault(patrol_id, []).append(text)
    patrols = [{"id": r[0], "window_start": r[1], "due_at": r[2], "plan": r[3], "patroller": r[4], "score": r[5],
                "failed_critical": r[6], "state": r[7], "failed_items": failed.get(r[0], [])} for r in rows]
    return {"patrols": patrols, "labels": board.STATE_LABELS,
            "may_board": user.has_any_role(Role.SUPERVISOR, Role.ADMIN, site_id=grid.site_id)}


def register() -> None:
    status.register_status_facts("patrols", status_facts)
    sections.register_section(sections.Section("patrols", 20, section, "patrols/_grid_section.html"))
