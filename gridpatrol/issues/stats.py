"""Issue counts for the supervisor's screens, counted in the database in one pass per question.

Live figures, by the issue's state now (the queue's words): open (reported, dispatched, in progress, awaiting
verification), 待受理 (reported), 待复核 (awaiting verification), overdue (open with a deadline before now — the
queue's "overdue"), due today (open with a deadline within the given day). Figures of a period [start, end):
*found* = reported in the period and not rejected (不予受理 reports are not problems found), *closed* = closed
in the period. The rates of the 通报 (结案率, 按期结案率, 返工率, 平均处置时长) are not here: they are
`issues.metrics` (its `period_figures` for several periods at once).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from gridpatrol.grids.models import Grid, Site
from gridpatrol.issues.models import OPEN_STATES, Issue, IssueState

FOUND_STATES = tuple(s.value for s in IssueState if s is not IssueState.REJECTED)  # the queue's states of "found"


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

    def add(self, other: "IssueCounts") -> None:
        for name in ("open", "reported", "awaiting_verification", "overdue", "due_today"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for mine, theirs in ((self.found, other.found), (self.closed, other.closed)):
            for key, value in theirs.items():
                mine[key] = mine.get(key, 0) + value


@dataclass
class IssueSummary:
    total: IssueCounts
    by_category: dict[str, IssueCounts]
    by_severity: dict[str, IssueCounts]


def _count(condition):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def summary(session: Session, site: Site, now: dt.datetime, today: tuple[dt.datetime, dt.datetime],
            found_periods: Mapping[str, tuple[dt.datetime, dt.datetime]],
            closed_periods: Mapping[str, tuple[dt.datetime, dt.datetime]]) -> IssueSummary:
    """The site's issue counts (module docstring) in one statement grouped by category and severity, summed here
    into per-category, per-severity and overall counts. Reads the open issues and those reported or closed since
    the earliest period's start, not the whole history."""
    is_open = Issue.state.in_(OPEN_STATES)
    columns = [_count(is_open), _count(Issue.state == IssueState.REPORTED.value),
               _count(Issue.state == IssueState.AWAITING_VERIFICATION.value),
               _count(and_(is_open, Issue.deadline < now)),
               _count(and_(is_open, Issue.deadline >= today[0], Issue.deadline < today[1]))]
    found = Issue.state != IssueState.REJECTED.value
    columns += [_count(and_(found, Issue.reported_at >= start, Issue.reported_at < end))
                for start, end in found_periods.values()]
    columns += [_count(and_(Issue.state == IssueState.CLOSED.value, Issue.closed_at >= start, Issue.closed_at < end))
                for start, end in closed_periods.values()]
    wanted = [is_open]
    if found_periods:
        wanted.append(Issue.reported_at >= min(start for start, _ in found_periods.values()))
    if closed_periods:
        wanted.append(Issue.closed_at >= min(start for start, _ in closed_periods.values()))
    total = IssueCounts(found={name: 0 for name in found_periods}, closed={name: 0 for name in closed_periods})
    by_category: dict[str, IssueCounts] = defaultdict(IssueCounts)
    by_severity: dict[str, IssueCounts] = defaultdict(IssueCounts)
    for category, severity, *values in session.execute(
            select(Issue.category, Issue.severity, *columns).where(Issue.site_id == site.id, or_(*wanted))
            .group_by(Issue.category, Issue.severity)):
        values = [int(v) for v in values]
        n = len(found_periods)
        counts = IssueCounts(*values[:5], found=dict(zip(found_periods, values[5:5 + n])),
                             closed=dict(zip(closed_periods, values[5 + n:])))
        total.add(counts)
        by_category[category].add(counts)
        by_severity[severity].add(counts)
    return IssueSummary(total, dict(by_category), dict(by_severity))


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
        select(Issue.site_id, func.count()).where(Issue.site_id.in_(sorted(site_ids)), Issue.state.in_(OPEN_STATES),
                                                  Issue.deadline < now).group_by(Issue.site_id)).all())
    return {site_id: int(counts.get(site_id, 0)) for site_id in site_ids}


def label_order(codes: Sequence[str], known: Sequence[str]) -> list[str]:
    """`codes` in the order of `known` (an enum's order), unknown ones last by name."""
    position = {code: i for i, code in enumerate(known)}
    return sorted(codes, key=lambda c: (position.get(c, len(position)), c))

