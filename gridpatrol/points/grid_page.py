"""What points tell the grid page: the grid leader's points this month, by rule, with links to the ledger and
the monthly table. Registered with grids in `register()` (points.init_app)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridpatrol.accounts.models import User
from gridpatrol.core.roles import Role
from gridpatrol.core.time import month_of
from gridpatrol.grids import sections
from gridpatrol.grids.models import Grid
from gridpatrol.points.models import PointsEntry
from gridpatrol.points.rules import RULE_LABELS


def section(session: Session, user: User, grid: Grid, now: dt.datetime):
    """The current leader's points at the grid's site this month, for supervisors and admins of the site and for
    the leader themself (the points pages' own rule); None for anybody else or a grid without a leader."""
    leader = grid.leader
    if leader is None:
        return None
    manager = user.has_any_role(Role.SUPERVISOR, Role.ADMIN, site_id=grid.site_id)
    if not manager and user.id != leader.id:
        return None
    month = month_of(now, grid.site.timezone)
    rows = session.execute(
        select(PointsEntry.rule_code, func.count(), func.sum(PointsEntry.points))
        .where(PointsEntry.site_id == grid.site_id, PointsEntry.month == month, PointsEntry.user_id == leader.id)
        .group_by(PointsEntry.rule_code).order_by(PointsEntry.rule_code)).all()
    by_rule = [{"label": str(RULE_LABELS[code]) if code in RULE_LABELS else "",  # never the code
                "entries": int(count), "points": int(points or 0)}
               for code, count, points in rows]
    return {"leader": leader, "month": month, "by_rule": by_rule, "total": sum(r["points"] for r in by_rule),
            "manager": manager}


def register() -> None:
    sections.register_section(sections.Section("points", 30, section, "points/_grid_section.html"))
