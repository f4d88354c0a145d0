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
import time
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

from sqlalchemy import bindparam, case, func, literal_column, select
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
                     now: dt.datetime, **settled) -> dict[str, PatrolCounts]:
    """The site's patrols by state for each period (name → [start, end) of window starts), in one statement
    that reads only the patrols whose window starts between the earliest start and the latest end (the index on
    (site, window start)); `settled` as in `counts_by_site_and_period`."""
    return counts_by_site_and_period(session, [site.id], periods, now, **settled)[site.id]


class SettledCounts:
    """Counts of the segments that ended before the site's today, kept for `ttl` seconds by a reader that shows
    them again and again (the dashboard): a past week's patrols are decided, and only an offline submission
    arriving late or an edit by hand changes them, which a reader then sees within `ttl`. One per app."""

    def __init__(self, ttl: float = 300.0, max_entries: int = 50_000) -> None:
        self.ttl, self.max_entries = ttl, max_entries
        self._entries: dict[tuple, tuple[float, dict[str, int]]] = {}

    def get(self, key: tuple) -> Optional[dict[str, int]]:
        entry = self._entries.get(key)
        return entry[1] if entry is not None and entry[0] > time.monotonic() else None

    def put(self, key: tuple, counts: dict[str, int]) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()  # a crude bound: rebuilt by the next views
        self._entries[key] = (time.monotonic() + self.ttl, counts)


def counts_by_site_and_period(session: Session, site_ids: Sequence[int],
                              periods: Mapping[str, tuple[dt.datetime, dt.datetime]],
                              now: dt.datetime, *, settled: Optional[SettledCounts] = None,
                              settled_before: Optional[dt.datetime] = None) -> dict[int, dict[str, PatrolCounts]]:
    """`counts_by_period` for several sites at once (the periods are the same instants for all of them).

    The periods' bounds cut the time line into disjoint segments; the database counts the patrols per site,
    state and segment (one count per group, not one sum per period and row), and each period adds up its
    segments here. With `settled` and `settled_before`, the segments ending by `settled_before` are taken from
    `settled` when it has them all, and the database counts only the rest (then a year to date reads today's
    patrols, not the year's)."""
    if not site_ids or not periods:
        return {site_id: {name: PatrolCounts() for name in periods} for site_id in site_ids}
    bounds = sorted({instant for period in periods.values() for instant in period})
    # Segments [bounds[i], bounds[i + 1]) with i < first_open ended by settled_before.
    first_open = sum(1 for end in bounds[1:] if settled_before is not None and end <= settled_before)
    counts: dict[tuple[int, int], dict[str, int]] = {}
    cached = False
    if settled is not None and first_open:
        known = {(site_id, index): settled.get((site_id, bounds[index], bounds[index + 1]))
                 for site_id in site_ids for index in range(first_open)}
        if all(value is not None for value in known.values()):
            counts.update(known)
            cached = True
    skip = first_open if cached else 0
    asked = bounds[skip:]
    params: dict = {"now": now, **{f"b{index}": bound for index, bound in enumerate(asked)}}
    if len(site_ids) == 1:
        params["site_id"] = site_ids[0]
    else:
        params["site_ids"] = sorted(site_ids)
    if len(asked) > 1:
        for site_id, state, index, count in session.execute(
                _counts_statement(len(asked), len(site_ids) > 1), params):
            counts.setdefault((site_id, skip + int(index)), {})[state] = int(count)
    if settled is not None and not cached:
        for site_id in site_ids:
            for index in range(first_open):
                settled.put((site_id, bounds[index], bounds[index + 1]), counts.get((site_id, index), {}))
    # segment i is [bounds[i], bounds[i + 1]); a period covers the segments between its bounds
    covers = {name: range(bounds.index(start), bounds.index(end)) for name, (start, end) in periods.items()}
    result: dict[int, dict[str, PatrolCounts]] = {}
    for site_id in site_ids:
        result[site_id] = {}
        for name, segments in covers.items():
            total: dict[str, int] = {}
            for index in segments:
                for state, count in counts.get((site_id, index), {}).items():
                    total[state] = total.get(state, 0) + count
            result[site_id][name] = PatrolCounts(**total)
    return result


_COUNT_STATEMENTS: dict[tuple[int, bool], object] = {}


def _counts_statement(bounds: int, several_sites: bool):
    """The counting statement for `bounds` instants b0 < b1 < … (bound parameters, with `now` and the site or
    sites), built once: building its CASEs anew on every dashboard view cost more than running it."""
    key = (bounds, several_sites)
    statement = _COUNT_STATEMENTS.get(key)
    if statement is None:
        instant = Patrol.__table__.c.window_start.type
        cuts = [bindparam(f"b{index}", type_=instant) for index in range(bounds)]
        inner_cuts = cuts[1:-1]
        segment = case(*((Patrol.window_start < cut, literal_column(str(index)))
                         for index, cut in enumerate(inner_cuts)),
                       else_=literal_column(str(len(inner_cuts)))) if inner_cuts else literal_column("0")
        site = (Patrol.site_id.in_(bindparam("site_ids", expanding=True)) if several_sites
                else Patrol.site_id == bindparam("site_id"))
        inner = (select(Patrol.site_id.label("site_id"),
                        state_expression(bindparam("now", type_=instant)).label("state"), segment.label("segment"))
                 .where(site, Patrol.window_start >= cuts[0], Patrol.window_start < cuts[-1])
                 .subquery())
        statement = _COUNT_STATEMENTS[key] = (select(inner.c.site_id, inner.c.state, inner.c.segment, func.count())
                                              .group_by(inner.c.site_id, inner.c.state, inner.c.segment))
    return statement


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
