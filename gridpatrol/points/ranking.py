"""The month's points ranking alone, in one statement: what the dashboard shows beside its figures.

The same people, points and ranks as the monthly table (`points.table.monthly_table`): everyone who held a grid
of the site as its leader at some moment of the month, the sum of their ledger entries booked in the month,
competition ranking by points (1, 2, 2, 4), equal points listed by name. The table computes much more (patrols,
issues, the whole ledger of the month); this reads only the leaders and their month's sums.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from gridpatrol.accounts.models import User
from gridpatrol.core.time import month_bounds, month_start
from gridpatrol.grids.models import AssignmentRole, Grid, GridAssignment, Site
from gridpatrol.points.models import PointsEntry


@dataclass(frozen=True)
class RankedLeader:
    user_id: int
    username: str
    name: str
    points: int
    rank: int


def month_ranking(session: Session, site: Site, month: dt.date) -> list[RankedLeader]:
    """Every leader of the month with their points and rank, best first (see the module docstring)."""
    month = month_start(month)
    start, end = month_bounds(month, site.timezone)
    held = (select(GridAssignment.user_id).join(Grid, Grid.id == GridAssignment.grid_id)
            .where(Grid.site_id == site.id, GridAssignment.role == AssignmentRole.LEADER.value,
                   GridAssignment.effective_from < end,
                   or_(GridAssignment.effective_to.is_(None), GridAssignment.effective_to > start))
            .distinct().subquery())
    rows = session.execute(
        select(User.id, User.username, User.display_name, func.coalesce(func.sum(PointsEntry.points), 0))
        .join(held, held.c.user_id == User.id)
        .outerjoin(PointsEntry, and_(PointsEntry.user_id == User.id, PointsEntry.site_id == site.id,
                                     PointsEntry.month == month))
        .group_by(User.id, User.username, User.display_name)).all()
    ordered = sorted(rows, key=lambda r: (-int(r[3]), r[2], r[1], r[0]))
    ranked: list[RankedLeader] = []
    for index, (user_id, username, name, points) in enumerate(ordered):
        rank = ranked[-1].rank if ranked and ranked[-1].points == int(points) else index + 1
        ranked.append(RankedLeader(user_id, username, name, int(points), rank))
    return ranked
