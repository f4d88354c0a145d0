"""Patrol figures for the supervisor's screens, counted in the database: how many of a period's patrols are in each
state a leader sees (`services.display_state`), for several periods in one statement, and the patrols of a day
still open past their due time.

A patrol belongs to the period its window starts in. Its state is taken at `now`, as `display_state` would
give it (`board.state_expression`, the one SQL copy of that function, which the patrol board filters by):

- done (on time) / done_late: submitted, finished (device time, else arrival) no later / later than due;
- missed: marked missed, or not submitted when its grace period ended;
- upcoming (window not yet open), due (open, not started), in_progress, late (past due, within grace).

Rates are over the *decided* patrols (done, done late or missed), so a window still open does not count
against anyone: completion = (done + done late) ÷ decided, on time = done ÷ decided, missed = missed ÷ decided
(on time + late + missed = 100 %). None when nothing is decided yet.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from gridpatrol.accounts.models import User
from gridpatrol.grids.models import Grid, Site
from gridpatrol.patrols.board import state_expression
from gridpatrol.patrols.models import Patrol, PatrolStatus

STATES = ("upcoming", "due", "in_progress", "late", "missed", "done", "done_late")
DONE_STATES = ("done", "done_late")
DECIDED_STATES = ("done", "done_late", "missed")
OPEN_PAST_DUE_STATES = ("late", "missed")  # not submitted, due time passed


@dataclass(frozen=True)
class PatrolCounts:
    """A period's patrols by state (see the module docstring)."""

    upcoming: int = 0
    due: int = 0
    in_progress: int = 0
    late: int = 0
    missed: int = 0
    done: int = 0
    done_late: int = 0

    @property
    def total(self) -> int:
        return sum(getattr(self, state) for state in STATES)

    @property
    def completed(self) -> int:
        return self.done + self.done_late

    @property
    def decided(self) -> int:
        return self.done + self.done_late + self.missed

    @property
    def open_now(self) -> int:
        """The window is open and the patrol not yet submitted (due or in progress)."""
        return self.due + self.in_progress

    @property
    def completion_rate(self) -> Optional[float]:
        return self.completed / self.decided if self.decided else None

    @property
    def on_time_rate(self) -> Optional[float]:
        return self.done / self.decided if self.decided else None

    @property
    def missed_rate(self) -> Optional[float]:
        return self.missed / self.decided if self.decided else None


def counts_by_period(session: Session, site: Site, periods: Mapping[str, tuple[dt.datetime, dt.datetime]],
                     now: dt.datetime) -> dict[str, PatrolCounts]:
    """The site's patrols by state for each period (name → [start, end) of window starts), in one statement
    that reads only the patrols whose window starts between the earliest start and the latest end (the index on
    (site, window start))."""
    return counts_by_site_and_period(session, [site.id], periods, now)[site.id]


def counts_by_site_and_period(session: Session, site_ids: Sequence[int],
                              periods: Mapping[str, tuple[dt.datetime, dt.datetime]],
                              now: dt.datetime) -> dict[int, dict[str, PatrolCounts]]:
    """`counts_by_period` for several sites at once (the periods are the same instants for all of them)."""
    if not site_ids or not periods:
        return {site_id: {name: PatrolCounts() for name in periods} for site_id in site_ids}
    first = min(start for start, _ in periods.values())
    last = max(end for _, end in periods.values())
    inner = (select(Patrol.site_id.label("site_id"), Patrol.window_start.label("window_start"),
                    state_expression(now).label("state"))
             .where(Patrol.site_id == site_ids[0] if len(site_ids) == 1 else Patrol.site_id.in_(sorted(site_ids)),
                    Patrol.window_start >= first, Patrol.window_start < last)
             .subquery())
    sums = [func.coalesce(func.sum(case((and_(inner.c.window_start >= start, inner.c.window_start < end), 1),
                                        else_=0)), 0)
            for start, end in periods.values()]
    found: dict[int, dict[str, dict[str, int]]] = {}
    for site_id, state, *values in session.execute(
            select(inner.c.site_id, inner.c.state, *sums).group_by(inner.c.site_id, inner.c.state)):
        by_period = found.setdefault(site_id, {})
        for name, value in zip(periods, values):
            by_period.setdefault(name, {})[state] = int(value)
    return {site_id: {name: PatrolCounts(**found.get(site_id, {}).get(name, {})) for name in periods}
            for site_id in site_ids}


@dataclass(frozen=True)
class OpenPastDue:
    """A patrol of the day not submitted although its due time has passed."""

    patrol_id: int
    grid_id: int
    grid_code: str
    grid_name: str
    leader: Optional[str]  # the assignee's name
    due_at: dt.datetime
    state: str  # late (within grace) or missed


def open_past_due(session: Session, site: Site, start: dt.datetime, end: dt.datetime, now: dt.datetime, *,
                  limit: int = 10) -> list[OpenPastDue]:
    """The patrols whose window starts in [start, end) (a day) that are still not submitted past their due time,
    earliest due first, at most `limit`, with the grid and the leader's name."""
    state = state_expression(now)
    rows = session.execute(
        select(Patrol.id, Grid.id, Grid.code, Grid.name, User.display_name, Patrol.due_at, state)
        .join(Grid, Grid.id == Patrol.grid_id).outerjoin(User, User.id == Patrol.assignee_id)
        .where(Patrol.site_id == site.id, Patrol.window_start >= start, Patrol.window_start < end,
               Patrol.status != PatrolStatus.SUBMITTED.value, Patrol.due_at <= now)
        .order_by(Patrol.due_at, Grid.code, Patrol.id).limit(limit))
    return [OpenPastDue(*row) for row in rows]
