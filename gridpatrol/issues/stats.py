"""Issue counts for the supervisor's screens, counted in the database in one pass per question.

Live figures, by the issue's state now (the queue's words): open (reported, dispatched, in progress, awaiting
verification, deferred), 待受理 (reported), 待复核 (awaiting verification), overdue (open with a deadline before
now, its clock running — the queue's "overdue"; a deferred issue 缓办 is never overdue), due today (the same, with
a deadline within the given day). Figures of a period [start, end):
*found* = reported in the period and not rejected (不予受理 reports are not problems found), *closed* = closed
in the period. The rates of the 通报 (结案率, 按期结案率, 返工率, 平均处置时长) are not here: they are
`issues.metrics` (its `period_figures` for several periods at once).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from sqlalchemy import and_, bindparam, case, func, literal_column, or_, select
from sqlalchemy.orm import Session

from gridpatrol.grids.models import Grid, Site
from gridpatrol.issues.models import CLOCK_STATES, OPEN_STATES, Issue, IssueState

FOUND_STATES = tuple(s.value for s in IssueState if s is not IssueState.REJECTED)  # the queue's states of "found"
# The queue's states of metrics' "due to close" (应结案): dispatched at some time, never rejected, and not deferred
# (缓办) now — a deferred issue leaves 应结案数 while it is deferred (issues.metrics).
DUE_STATES = tuple(s.value for s in IssueState
                   if s not in (IssueState.REPORTED, IssueState.REJECTED, IssueState.DEFERRED))


@dataclass
class IssueCounts:
    """Counts of one group (a category, a severity, or all): the live figures and, per period name, found and
    closed."""

    open: int = 0
    reported: int = 0
    awaiting_verification: int = 0
    overdue: int = 0
    due_today: int = 0
    found: dict[str, int] = field(default_factory=dict)
    closed: dict[str, int] = field(default_factory=dict)


@dataclass
class IssueSummary:
    total: IssueCounts
    by_category: dict[str, IssueCounts]
    by_severity: dict[str, IssueCounts]


def _segment(column, cuts: list):
    """Which of the segments [cuts[i], cuts[i + 1]) `column` falls in, as a SQL CASE; -1 outside them all
    (or NULL)."""
    whens = [(column < cuts[0], literal_column("-1"))]
    whens += [(column < cut, literal_column(str(index))) for index, cut in enumerate(cuts[1:])]
    return case(*whens, else_=literal_column("-1"))


def _segments(periods: Mapping[str, tuple[dt.datetime, dt.datetime]]):
    """The periods' bounds in order, and for each period the segments it covers."""
    bounds = sorted({instant for period in periods.values() for instant in period})
    return bounds, {name: range(bounds.index(start), bounds.index(end)) for name, (start, end) in periods.items()}


def summary(session: Session, site: Site, now: dt.datetime, today: tuple[dt.datetime, dt.datetime],
            found_periods: Mapping[str, tuple[dt.datetime, dt.datetime]],
            closed_periods: Mapping[str, tuple[dt.datetime, dt.datetime]]) -> IssueSummary:
    """The site's issue counts (module docstring), summed here into per-category, per-severity and overall
    counts from one statement. The database counts the issues per category, severity, state, overdue or not,
    due today or not, and the segments of the periods' time line their report and close fall in (one count per
    group); each period adds up its segments. Reads the open issues and those reported or closed since the
    earliest period's start, not the whole history."""
    found_bounds, found_covers = _segments(found_periods)
    closed_bounds, closed_covers = _segments(closed_periods)
    params = {"site_id": site.id, "now": now, "today_start": today[0], "today_end": today[1],
              **{f"f{i}": bound for i, bound in enumerate(found_bounds)},
              **{f"c{i}": bound for i, bound in enumerate(closed_bounds)}}
    total = IssueCounts(found={name: 0 for name in found_periods}, closed={name: 0 for name in closed_periods})
    by_category: dict[str, IssueCounts] = {}
    by_severity: dict[str, IssueCounts] = {}
    # which periods each segment belongs to
    found_in = {index: [name for name, covers in found_covers.items() if index in covers]
                for index in range(len(found_bounds))}
    closed_in = {index: [name for name, covers in closed_covers.items() if index in covers]
                 for index in range(len(closed_bounds))}
    statement = _summary_statement(len(found_bounds), len(closed_bounds))
    for category, severity, state, overdue, due_today, found, closed, n in session.execute(statement, params):
        if category not in by_category:
            by_category[category] = IssueCounts(found=dict.fromkeys(found_periods, 0),
                                                closed=dict.fromkeys(closed_periods, 0))
        if severity not in by_severity:
            by_severity[severity] = IssueCounts(found=dict.fromkeys(found_periods, 0),
                                                closed=dict.fromkeys(closed_periods, 0))
        for target in (total, by_category[category], by_severity[severity]):
            if state in OPEN_STATES:
                target.open += n
            if state == IssueState.REPORTED.value:
                target.reported += n
            elif state == IssueState.AWAITING_VERIFICATION.value:
                target.awaiting_verification += n
            target.overdue += n * int(overdue)
            target.due_today += n * int(due_today)
            for name in found_in.get(int(found), ()):
                target.found[name] += n
            for name in closed_in.get(int(closed), ()):
                target.closed[name] += n
    return IssueSummary(total, dict(by_category), dict(by_severity))


_SUMMARY_STATEMENTS: dict[tuple[int, int], object] = {}


def _summary_statement(found_bounds: int, closed_bounds: int):
    """`summary`'s statement for so many bounds (bound parameters f0…, c0…, with the site, now and today), built
    once: building its CASEs anew on every dashboard view cost more than running it."""
    key = (found_bounds, closed_bounds)
    statement = _SUMMARY_STATEMENTS.get(key)
    if statement is not None:
        return statement
    instant = Issue.__table__.c.reported_at.type
    now, today_start, today_end = (bindparam(name, type_=instant) for name in ("now", "today_start", "today_end"))
    found_cuts = [bindparam(f"f{i}", type_=instant) for i in range(found_bounds)]
    closed_cuts = [bindparam(f"c{i}", type_=instant) for i in range(closed_bounds)]
    is_open = Issue.state.in_(OPEN_STATES)
    runs = Issue.state.in_(CLOCK_STATES)  # a deferred issue is open but neither overdue nor due today
    flag = lambda condition: case((condition, literal_column("1")), else_=literal_column("0"))  # noqa: E731
    none = literal_column("-1")
    columns = [Issue.category.label("category"), Issue.severity.label("severity"), Issue.state.label("state"),
               flag(and_(runs, Issue.deadline < now)).label("overdue"),
               flag(and_(runs, Issue.deadline >= today_start, Issue.deadline < today_end)).label("due_today"),
               (case((Issue.state == IssueState.REJECTED.value, none), else_=_segment(Issue.reported_at, found_cuts))
                if found_cuts else none).label("found"),
               (case((Issue.state == IssueState.CLOSED.value, _segment(Issue.closed_at, closed_cuts)), else_=none)
                if closed_cuts else none).label("closed")]
    wanted = [is_open]
    if found_cuts:
        wanted.append(Issue.reported_at >= found_cuts[0])
    if closed_cuts:
        wanted.append(Issue.closed_at >= closed_cuts[0])
    inner = select(*columns).where(Issue.site_id == bindparam("site_id"), or_(*wanted)).subquery()
    statement = _SUMMARY_STATEMENTS[key] = select(*inner.c, func.count().label("n")).group_by(*inner.c)
    return statement


@dataclass(frozen=True)
class GridCount:
    grid_id: int
    code: str
    name: str
    found: int


def grids_with_most_found(session: Session, site: Site, start: dt.datetime, end: dt.datetime, *,
                          limit: int = 10) -> list[GridCount]:
    """The grids with most issues found (reported, not rejected) in [start, end), most first (ties by code)."""
    found = func.count(Issue.id)
    rows = session.execute(
        select(Grid.id, Grid.code, Grid.name, found).join(Grid, Grid.id == Issue.grid_id)
        .where(Issue.site_id == site.id, Issue.reported_at >= start, Issue.reported_at < end,
               Issue.state != IssueState.REJECTED.value)
        .group_by(Grid.id, Grid.code, Grid.name).order_by(found.desc(), Grid.code).limit(limit))
    return [GridCount(*row) for row in rows]


def overdue_by_site(session: Session, site_ids: Sequence[int], now: dt.datetime) -> dict[int, int]:
    """Open issues past their deadline per site (every given site present)."""
    if not site_ids:
        return {}
    counts: dict[int, int] = dict(session.execute(
        select(Issue.site_id, func.count()).where(Issue.site_id.in_(sorted(site_ids)), Issue.state.in_(CLOCK_STATES),
                                                  Issue.deadline < now).group_by(Issue.site_id)).all())
    return {site_id: int(counts.get(site_id, 0)) for site_id in site_ids}


def label_order(codes: Sequence[str], known: Sequence[str]) -> list[str]:
    """`codes` in the order of `known` (an enum's order), unknown ones last by name."""
    position = {code: i for i, code in enumerate(known)}
    return sorted(codes, key=lambda c: (position.get(c, len(position)), c))

