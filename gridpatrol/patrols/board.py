"""The patrol board (巡查看板): every patrol of a site on a day (or a range of days), filtered by state, level,
plan and leader, with counts per state — what supervisors check at 10:00.

A patrol's state on the board is `services.display_state` at `now`. Since that depends on `now`, the board asks
the database for it: `state_expression(now)` is display_state written as one SQL CASE, branch for branch, so a
filter, a count per state and the rows all agree with what the patrol's own page says (a test checks every state
on both databases). The grid status on the map counts today's missed patrols with the same expression.

The address is a contract other pages link to (the dashboard): `day=YYYY-MM-DD`, or `from=YYYY-MM-DD&to=YYYY-MM-DD`
(the site's local dates, inclusive; default today), `state=` repeatable (the display states), `level=`, `plan=`
(plan id), `leader=` (assignee user id), `page=`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import NamedTuple, Optional

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, case, func, or_, select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from gridpatrol.accounts.models import User
from gridpatrol.core.time import FIRST_DAY, LAST_DAY, day_bounds, local_day
from gridpatrol.grids.models import Grid, Site
from gridpatrol.patrols.models import Patrol, PatrolPlan, PatrolStatus

# In the order a supervisor reads them: what is coming, what is running, what went wrong, what is done.
STATES = ("upcoming", "due", "in_progress", "late", "missed", "done", "done_late")
STATE_LABELS = {
    "upcoming": _l("Upcoming"), "due": _l("Due now"), "in_progress": _l("In progress"), "late": _l("Late"),
    "missed": _l("Missed"), "done": _l("Done"), "done_late": _l("Done late"),
}
PER_PAGE = 100
MAX_DAYS = 366


def state_expression(now: dt.datetime):
    """`services.display_state(patrol, now)` as a SQL expression over the patrols table, branch for branch."""
    finished = func.coalesce(Patrol.completed_at, Patrol.submitted_at)
    return case(
        (Patrol.status == PatrolStatus.SUBMITTED.value, case((finished > Patrol.due_at, "done_late"), else_="done")),
        (or_(Patrol.status == PatrolStatus.MISSED.value, Patrol.grace_until <= now), "missed"),
        (Patrol.window_start > now, "upcoming"),
        (Patrol.due_at <= now, "late"),
        (Patrol.status == PatrolStatus.IN_PROGRESS.value, "in_progress"),
        else_="due",
    )


def state_condition(states, now: dt.datetime):
    """SQL condition: the patrol's display state at `now` is one of `states`."""
    return state_expression(now).in_(list(states))


class BadFilter(ValueError):
    """A filter value the board cannot read (answered 400)."""


@dataclass(frozen=True)
class BoardFilter:
    first_day: dt.date
    last_day: dt.date  # inclusive
    states: tuple[str, ...] = ()  # empty: every state
    level: Optional[int] = None
    plan_id: Optional[int] = None
    leader_id: Optional[int] = None
    page: int = 1

    def bounds(self, tz: str) -> tuple[dt.datetime, dt.datetime]:
        return day_bounds(self.first_day, tz)[0], day_bounds(self.last_day, tz)[1]

    def args(self, **changes) -> dict:
        """The board's address for this filter (with `changes`), as url_for arguments."""
        values = {"states": self.states, "level": self.level, "plan_id": self.plan_id,
                  "leader_id": self.leader_id, "page": 1, **changes}
        out: dict = {}
        if self.first_day == self.last_day:
            out["day"] = self.first_day.isoformat()
        else:
            out["from"], out["to"] = self.first_day.isoformat(), self.last_day.isoformat()
        if values["states"]:
            out["state"] = list(values["states"])
        for key, name in (("level", "level"), ("plan_id", "plan"), ("leader_id", "leader")):
            if values[key] is not None:
                out[name] = values[key]
        if values["page"] != 1:
            out["page"] = values["page"]
        return out


def _date(value: str, name: str) -> dt.date:
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise BadFilter(_("%(name)s is not a date (YYYY-MM-DD)", name=name)) from None
    if not FIRST_DAY <= day <= LAST_DAY:  # a day the site's zone can bound (year 9999 cannot)
        raise BadFilter(_("%(name)s is not between %(first)s and %(last)s", name=name, first=FIRST_DAY.isoformat(),
                          last=LAST_DAY.isoformat()))
    return day


def _whole(args: MultiDict, name: str, *, minimum: Optional[int] = None) -> Optional[int]:
    value = (args.get(name) or "").strip()
    if not value:
        return None
    try:
        number = int(value)
    except ValueError:
        raise BadFilter(_("%(name)s is not a whole number", name=name)) from None
    if minimum is not None and number < minimum:
        raise BadFilter(_("%(name)s is below %(minimum)d", name=name, minimum=minimum))
    if abs(number) > 2**31 - 1:
        raise BadFilter(_("%(name)s is out of range", name=name))
    return number


def parse_filter(args: MultiDict, site: Site, now: dt.datetime) -> BoardFilter:
    """The filter an address asks for; BadFilter for a value that is not one the board knows."""
    today = local_day(now, site.timezone)
    if args.get("day"):
        first = last = _date(args["day"], "day")
    elif args.get("from") or args.get("to"):
        first = _date(args.get("from") or args["to"], "from")
        last = _date(args.get("to") or args["from"], "to")
    else:
        first = last = today
    if last < first:
        raise BadFilter(_("the last day is before the first"))
    if (last - first).days >= MAX_DAYS:
        raise BadFilter(_("at most %(n)d days at once", n=MAX_DAYS))
    states = tuple(dict.fromkeys(s for s in args.getlist("state") if s))
    unknown = [s for s in states if s not in STATES]
    if unknown:
        raise BadFilter(_("unknown state %(state)s", state=unknown[0]))
    return BoardFilter(first, last, tuple(s for s in STATES if s in states), level=_whole(args, "level"),
                       plan_id=_whole(args, "plan", minimum=1), leader_id=_whole(args, "leader", minimum=1),
                       page=_whole(args, "page", minimum=1) or 1)


class BoardRow(NamedTuple):
    id: int
    grid_code: str
    grid_name: str
    plan_name: str
    window_start: dt.datetime
    due_at: dt.datetime
    leader: Optional[str]
    state: str
    score: Optional[float]
    failed_critical: bool


@dataclass
class Board:
    filter: BoardFilter
    rows: list[BoardRow]
    total: int  # patrols matching the whole filter
    counts: dict[str, int] = field(default_factory=dict)  # per state, under the filter's other conditions
    per_page: int = PER_PAGE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _base(site: Site, f: BoardFilter, among=None) -> Select:
    start, end = f.bounds(site.timezone)
    query = (select(Patrol.id).join(Grid, Grid.id == Patrol.grid_id)
             .where(Patrol.site_id == site.id, Patrol.window_start >= start, Patrol.window_start < end))
    if among is not None:
        query = query.where(among)
    if f.level is not None:
        query = query.where(Grid.level == f.level)
    if f.plan_id is not None:
        query = query.where(Patrol.plan_id == f.plan_id)
    if f.leader_id is not None:
        query = query.where(Patrol.assignee_id == f.leader_id)
    return query


def counts(session: Session, site: Site, f: BoardFilter, now: dt.datetime, *, among=None) -> dict[str, int]:
    """Patrols per display state under the filter's dates, level, plan and leader (its states aside): one query."""
    state = state_expression(now).label("state")
    rows = session.execute(_base(site, f, among).with_only_columns(state, func.count()).group_by(state)).all()
    found = {name: int(count) for name, count in rows}
    return {name: found.get(name, 0) for name in STATES}


def board(session: Session, site: Site, f: BoardFilter, now: dt.datetime, *, per_page: int = PER_PAGE,
          among=None) -> Board:
    """The board's page: the counts per state, the total under the whole filter (from the counts) and a page of
    rows by window start and grid code. `among`: a further SQL condition on the patrols (the API's list: the
    patrols the caller may see, `services.visible_to`, and a grid)."""
    per_state = counts(session, site, f, now, among=among)
    total = sum(per_state[s] for s in (f.states or STATES))
    state = state_expression(now)
    query = _base(site, f, among)
    if f.states:
        query = query.where(state.in_(f.states))
    query = (query.with_only_columns(Patrol.id, Grid.code, Grid.name, PatrolPlan.name, Patrol.window_start,
                                     Patrol.due_at, User.display_name, state, Patrol.score, Patrol.failed_critical)
             .join(PatrolPlan, PatrolPlan.id == Patrol.plan_id)
             .outerjoin(User, User.id == Patrol.assignee_id)
             .order_by(Patrol.window_start, Grid.code, Patrol.id)
             .offset((f.page - 1) * per_page).limit(per_page))
    rows = [BoardRow(*row) for row in session.execute(query)]
    return Board(f, rows, total, per_state, per_page)
