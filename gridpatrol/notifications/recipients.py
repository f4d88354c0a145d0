"""Who is told: the people a notification goes to, worked out from the database at the moment it is sent.

Every function returns user ids of active users only, in a stable order.
"""

from __future__ import annotations

from typing import Iterable, Optional

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from gridpatrol.accounts.models import User, UserRole, team_members
from gridpatrol.core.roles import Role
from gridpatrol.grids.models import AssignmentRole, GridAssignment


# The statements run on almost every transition of the rectification workflow: built once, with bound parameters
# (building a statement and its cache key cost about as much as running it).
def _supervisors(site_rule):
    return select(User.id).join(UserRole, UserRole.user_id == User.id) \
        .where(UserRole.role == Role.SUPERVISOR.value, site_rule, User.active.is_(True)).distinct().order_by(User.id)


_SUPERVISORS_OF_SITE = _supervisors(or_(UserRole.site_id.is_(None), UserRole.site_id == bindparam("site_id")))
_SUPERVISORS_OF_ALL_SITES = _supervisors(UserRole.site_id.is_(None))
_GRID_LEADERS = select(GridAssignment.grid_id, GridAssignment.user_id).join(User, User.id == GridAssignment.user_id) \
    .where(GridAssignment.grid_id.in_(bindparam("grid_ids", expanding=True)),
           GridAssignment.role == AssignmentRole.LEADER.value, GridAssignment.effective_to.is_(None),
           User.active.is_(True))
_ACTIVE = select(User.id).where(User.id.in_(bindparam("user_ids", expanding=True)), User.active.is_(True)) \
    .order_by(User.id)
_ACTIVE_MEMBERS = select(team_members.c.team_id, team_members.c.user_id).join(User, User.id == team_members.c.user_id) \
    .where(team_members.c.team_id.in_(bindparam("team_ids", expanding=True)), User.active.is_(True)) \
    .order_by(team_members.c.user_id)


def supervisors_of_site(session: Session, site_id: Optional[int]) -> list[int]:
    """The supervisors (主管/督查) of a site: active users holding the supervisor role at that site or at all
    sites (a role row without a site). Every notification "to the site's supervisors" asks here."""
    if site_id is None:
        return list(session.scalars(_SUPERVISORS_OF_ALL_SITES))
    return list(session.scalars(_SUPERVISORS_OF_SITE, {"site_id": site_id}))


def grid_leaders(session: Session, grid_ids: Iterable[Optional[int]]) -> dict[int, int]:
    """grid id → its current leader (网格长), for the grids that have an active one."""
    wanted = sorted({g for g in grid_ids if g is not None})
    if not wanted:
        return {}
    return dict(session.execute(_GRID_LEADERS, {"grid_ids": wanted}).all())


def grid_leader(session: Session, grid_id: Optional[int]) -> list[int]:
    leader = grid_leaders(session, [grid_id]).get(grid_id) if grid_id is not None else None
    return [leader] if leader is not None else []


def rectifiers(session: Session, assignments: Iterable[tuple[Optional[int], Optional[int]]]
               ) -> dict[tuple[Optional[int], Optional[int]], list[int]]:
    """(assignee id, team id) → who works on it: the assignee if active, else every active member of the team."""
    assignments = set(assignments)
    assignees = sorted({a for a, _t in assignments if a is not None})
    teams = sorted({t for _a, t in assignments if t is not None})
    active = set(session.scalars(_ACTIVE, {"user_ids": assignees})) if assignees else set()
    members: dict[int, list[int]] = {}
    if teams:
        for team_id, user_id in session.execute(_ACTIVE_MEMBERS, {"team_ids": teams}):
            members.setdefault(team_id, []).append(user_id)
    return {(assignee, team): ([assignee] if assignee in active else list(members.get(team, [])))
            for assignee, team in assignments}


def active(session: Session, user_ids: Iterable[Optional[int]]) -> list[int]:
    wanted = sorted({u for u in user_ids if u is not None})
    if not wanted:
        return []
    return list(session.scalars(_ACTIVE, {"user_ids": wanted}))
