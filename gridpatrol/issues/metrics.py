"""Rectification metrics (整改考核指标) as the digital urban-management standards (数字化城市管理) define them.

A report covers one site, a period ``[start, end)`` (half-open: an instant equal to ``end`` belongs to the
next period) and is taken *as of* an instant ``as_of`` (default: now). Only what had happened by ``as_of``
counts, so a report for a past date is reproducible. Figures, per group (grid, team, category) and overall:

应结案数 ``due``
    Issues dispatched (``dispatched_at <= as_of``) whose ``deadline`` falls within ``[start, end)`` and that
    were not deferred (缓办) at ``as_of``. Rejected issues (不予受理) never count, whatever their timestamps.
    Issues never dispatched have no deadline and are not due. The deadline is the one in force: an approved
    extension (延期) moved it, a resume after a deferral set it anew.
缓办数 ``deferred``
    Issues deferred at ``as_of`` (an ``IssueDeferral`` stretch begun by ``as_of`` and not resumed by then)
    whose deadline when deferred falls within ``[start, end)``: the issues taken out of this period's 应结案数,
    as the standards count them. Once resumed, an issue is due by its new deadline. Read from the deferral's
    own record, so the report is the same before and after the resume.
延期数 ``extended``
    Issues with an extension approved within the period (``start <= decided_at < end``, ``decided_at <=
    as_of``); an issue extended twice in the period counts once.
结案数 ``closed``
    Of the due issues, those closed by ``as_of`` (``closed_at <= as_of``) — an issue due in the period but
    closed after its end (and before ``as_of``) counts as closed.
按期结案数 ``closed_on_time``
    Of the closed due issues, those closed no later than their deadline in force (``closed_at <= deadline``):
    closed by an approved extension's deadline is on time.
结案率 ``close_rate`` = closed ÷ due; 按期结案率 ``on_time_rate`` = closed_on_time ÷ due.
    Fractions in [0, 1]; ``None`` when nothing is due (no 0 ÷ 0).
返工率 ``rework_rate`` = ``reworked`` ÷ ``closed_in_period``
    Over the issues closed within the period (``start <= closed_at < end``, ``closed_at <= as_of``):
    the share that failed verification at least once (``rework_count > 0``). An issue reworked three
    times counts once. ``None`` when nothing was closed in the period.
平均处置时长 ``mean_hours`` (and ``median_hours``)
    Over the same issues closed within the period: ``closed_at − dispatched_at`` in hours (wall-clock
    time, not working time; a re-dispatch does not restart it), to 4 decimals. ``None`` when nothing was
    closed. The median of an even count is the mean of the middle two.
Counts beside the rates:
    ``reported`` issues reported within the period; ``rejected`` rejected within the period;
    ``open`` issues open at ``as_of`` (reported by then, neither closed nor rejected by then);
    ``overdue`` open at ``as_of`` with a deadline before ``as_of``, not deferred then (overdue is derived,
    never stored).

Groups: by grid (``Issue.grid_id``), by team the issue is (now) dispatched to (``Issue.team_id``; issues
sent to a person only, or not dispatched, fall in the "no team" group, key ``None``), by category, or one
overall row. A group appears only when at least one of its figures is not zero; ``overall`` always gives
exactly one row. Every figure is computed in the database with one GROUP BY pass (plus one windowed
query for the median), never by loading the issues. See docs/metrics.md for a worked example.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal, Mapping, Optional, Sequence, Union

from flask_babel import gettext as _
from sqlalchemy import and_, bindparam, case, extract, func, null, or_, select
from sqlalchemy.orm import Session

from gridpatrol.accounts.models import Team
from gridpatrol.core.categories import Category
from gridpatrol.core.time import month_bounds, utcnow
from gridpatrol.grids.models import Grid, Site
from gridpatrol.issues.models import ExtensionState, Issue, IssueDeferral, IssueExtension, IssueState

GroupBy = Optional[Literal["grid", "team", "category"]]
GROUPINGS = (None, "grid", "team", "category")


class _Rates:
    """The three rates, from the counts beside them (None rather than 0 ÷ 0)."""

    due: int
    closed: int
    closed_on_time: int
    closed_in_period: int
    reworked: int

    @property
    def close_rate(self) -> Optional[float]:
        """结案率 = closed ÷ due."""
        return self.closed / self.due if self.due else None

    @property
    def on_time_rate(self) -> Optional[float]:
        """按期结案率 = closed on time ÷ due."""
        return self.closed_on_time / self.due if self.due else None

    @property
    def rework_rate(self) -> Optional[float]:
        """返工率 = issues reworked at least once ÷ issues closed in the period."""
        return self.reworked / self.closed_in_period if self.closed_in_period else None


@dataclass(frozen=True)
class MetricRow(_Rates):
    """The figures of one group. `key` is the grid id, team id or category code (None: no grid / no team,
    or the overall row); `label` is what a page shows."""

    group_by: Optional[str]
    key: Union[int, str, None]
    label: str
    reported: int
    rejected: int
    due: int
    closed: int
    closed_on_time: int
    closed_in_period: int
    reworked: int
    open: int
    overdue: int
    mean_hours: Optional[float]
    median_hours: Optional[float]
    deferred: int = 0  # 缓办数
    extended: int = 0  # 延期数


@dataclass(frozen=True)
class PeriodFigures(_Rates):
    """The closing figures of one site and period (`period_figures`): 应结案, 结案, 按期结案, closed in the period,
    reworked and the mean handling time, defined as in the module docstring; no counts as of, no median."""

    site_id: int
    period: str
    due: int = 0
    closed: int = 0
    closed_on_time: int = 0
    closed_in_period: int = 0
    reworked: int = 0
    mean_hours: Optional[float] = None
    deferred: int = 0  # 缓办数
    extended: int = 0  # 延期数


def month_period(site: Site, year: int, month: int) -> tuple[dt.datetime, dt.datetime]:
    """The calendar month [first day 00:00, next month's first day 00:00) in the site's time zone."""
    return month_bounds(dt.date(year, month, 1), site.timezone)


def _hours(session: Session, later, earlier):
    """(later − earlier) in hours, as a SQL expression on either backend."""
    if session.get_bind().dialect.name == "postgresql":
        return extract("epoch", later - earlier) / 3600.0
    return (func.julianday(later) - func.julianday(earlier)) * 24.0


class _Conditions:
    """The module docstring's definitions for one period [start, end) as of `as_of`, as SQL conditions: the one
    place they are written, read by `metrics` and `period_figures`."""

    def __init__(self, start: dt.datetime, end: dt.datetime, as_of: dt.datetime) -> None:
        def within(column):
            return and_(column >= start, column < end, column <= as_of)

        dispatched = and_(Issue.dispatched_at.is_not(None), Issue.dispatched_at <= as_of,
                          Issue.state != IssueState.REJECTED.value, Issue.rejected_at.is_(None))
        self.deferred_then = deferred_at(as_of)
        self.due = and_(dispatched, Issue.deadline.is_not(None), Issue.deadline >= start, Issue.deadline < end,
                        ~self.deferred_then)
        # By the deadline it had when deferred (a resume sets a new one): the same answer before and after it.
        self.deferred = and_(dispatched, deferred_at(as_of, deadline_within=(start, end)))
        self.extended = select(IssueExtension.id).where(
            IssueExtension.issue_id == Issue.id, IssueExtension.state == ExtensionState.APPROVED.value,
            within(IssueExtension.decided_at)).exists()
        self.closed = and_(self.due, Issue.closed_at.is_not(None), Issue.closed_at <= as_of)
        self.closed_on_time = and_(self.closed, Issue.closed_at <= Issue.deadline)
        self.closed_in_period = and_(Issue.state != IssueState.REJECTED.value, Issue.dispatched_at.is_not(None),
                                     within(Issue.closed_at))
        self.reworked = and_(self.closed_in_period, Issue.rework_count > 0)
        self.reported = within(Issue.reported_at)
        self.rejected = within(Issue.rejected_at)


def deferred_at(as_of, *, deadline_within=None):
    """A SQL condition: the issue was deferred (缓办) at `as_of` — a deferral begun by then and not resumed by
    then; with `deadline_within` (start, end), one whose deadline when deferred fell within [start, end)."""
    condition = [IssueDeferral.issue_id == Issue.id, IssueDeferral.deferred_at <= as_of,
                 or_(IssueDeferral.resumed_at.is_(None), IssueDeferral.resumed_at > as_of)]
    if deadline_within is not None:
        condition += [IssueDeferral.deadline_before >= deadline_within[0],
                      IssueDeferral.deadline_before < deadline_within[1]]
    return select(IssueDeferral.id).where(*condition).exists()


def _flag(condition):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _group_column(group_by: GroupBy):
    return {None: null(), "grid": Issue.grid_id, "team": Issue.team_id, "category": Issue.category}[group_by]


def metrics(session: Session, site: Site, start: dt.datetime, end: dt.datetime, *, group_by: GroupBy = None,
            as_of: Optional[dt.datetime] = None) -> list[MetricRow]:
    """The figures defined in the module docstring for `site` over [start, end), as of `as_of` (default now).

    Rows are ordered by grid code, team name or category order; the None group (no grid / no team) last.
    """
    if group_by not in GROUPINGS:
        raise ValueError(f"group_by must be one of {GROUPINGS}, not {group_by!r}")
    for value in (start, end, as_of):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime: say which zone the period is in")
    if not start < end:
        raise ValueError("the period must end after it starts")
    as_of = as_of or utcnow()
    c = _Conditions(start, end, as_of)
    reported, rejected, due, closed, closed_on_time = c.reported, c.rejected, c.due, c.closed, c.closed_on_time
    closed_in_period = c.closed_in_period
    open_ = and_(Issue.reported_at <= as_of, or_(Issue.closed_at.is_(None), Issue.closed_at > as_of),
                 or_(Issue.rejected_at.is_(None), Issue.rejected_at > as_of))
    overdue = and_(open_, Issue.deadline.is_not(None), Issue.deadline < as_of, ~c.deferred_then)
    hours = _hours(session, Issue.closed_at, Issue.dispatched_at)

    group = _group_column(group_by).label("g")
    statement = (select(group,
                        _flag(reported).label("reported"), _flag(rejected).label("rejected"),
                        _flag(due).label("due"), _flag(closed).label("closed"),
                        _flag(closed_on_time).label("closed_on_time"),
                        _flag(closed_in_period).label("closed_in_period"),
                        _flag(c.reworked).label("reworked"),
                        _flag(open_).label("open"), _flag(overdue).label("overdue"),
                        func.avg(case((closed_in_period, hours), else_=None)).label("mean_hours"),
                        _flag(c.deferred).label("deferred"), _flag(c.extended).label("extended"))
                 .where(Issue.site_id == site.id,
                        or_(reported, rejected, due, closed_in_period, open_, c.deferred, c.extended)))
    if group_by is not None:
        statement = statement.group_by(_group_column(group_by))
    figures = session.execute(statement).all()
    medians = _medians(session, site, group_by, closed_in_period, hours)
    labels = _labels(session, group_by, [row.g for row in figures])

    rows = [MetricRow(group_by=group_by, key=row.g, label=labels[row.g],
                      reported=int(row.reported), rejected=int(row.rejected), due=int(row.due),
                      closed=int(row.closed), closed_on_time=int(row.closed_on_time),
                      closed_in_period=int(row.closed_in_period), reworked=int(row.reworked),
                      open=int(row.open), overdue=int(row.overdue),
                      mean_hours=_round(row.mean_hours),
                      median_hours=medians.get(row.g), deferred=int(row.deferred), extended=int(row.extended))
            for row in figures]
    return sorted(rows, key=_order(group_by))


def _medians(session: Session, site: Site, group_by: GroupBy, condition, hours) -> dict:
    """Median handling hours per group, portably: number the durations within each group and average the
    middle one (odd count) or two (even count): the rows whose 2·rn lies in [n, n + 2]."""
    column = _group_column(group_by)
    partition = {"partition_by": column} if group_by is not None else {}
    ranked = (select(column.label("g"), hours.label("h"),
                     func.row_number().over(order_by=hours, **partition).label("rn"),
                     func.count().over(**partition).label("n"))
              .where(Issue.site_id == site.id, condition).subquery())
    middle = (select(ranked.c.g, func.avg(ranked.c.h))
              .where(2 * ranked.c.rn >= ranked.c.n, 2 * ranked.c.rn <= ranked.c.n + 2).group_by(ranked.c.g))
    return {g: _round(h) for g, h in session.execute(middle).all()}


def _round(hours) -> Optional[float]:
    """Hours to 4 decimals (0.36 s): hides SQLite's julianday float noise so both backends agree."""
    return None if hours is None else round(float(hours), 4)


def _labels(session: Session, group_by: GroupBy, keys: list) -> dict:
    labels: dict = {}
    if group_by is None:
        return {None: _("All")}
    known = [k for k in keys if k is not None]
    if group_by == "grid":
        labels = {g.id: f"{g.code} {g.name}" for g in session.scalars(select(Grid).where(Grid.id.in_(known)))}
        labels[None] = _("No grid")
    elif group_by == "team":
        labels = {t.id: t.name for t in session.scalars(select(Team).where(Team.id.in_(known)))}
        labels[None] = _("No team")
    else:
        for code in known:
            try:
                labels[code] = Category(code).label
            except ValueError:
                labels[code] = code
    return labels


def _order(group_by: GroupBy):
    if group_by == "category":
        position = {c.value: i for i, c in enumerate(Category)}
        return lambda row: (row.key is None, position.get(row.key, len(position)), str(row.key))
    return lambda row: (row.key is None, row.label)  # a grid's label starts with its code


def period_figures(session: Session, site_ids: Sequence[int],
                   periods: Mapping[str, tuple[dt.datetime, dt.datetime]], *,
                   as_of: dt.datetime) -> dict[tuple[int, str], PeriodFigures]:
    """The closing figures of several sites and periods (name → [start, end)) in one statement, as of `as_of`,
    by the same definitions as `metrics` (a dashboard puts this month beside the last and the year; the sites
    overview puts every site's month side by side). Keyed (site id, period name); every pair is present.

    Only the issues due or closed within one of the periods are read (by deadline and closed_at ranges), never
    the site's whole history."""
    if as_of.tzinfo is None or any(v.tzinfo is None for bounds in periods.values() for v in bounds):
        raise ValueError("naive datetime: say which zone the period is in")
    if not site_ids or not periods:
        return {}
    for start, end in periods.values():
        if not start < end:
            raise ValueError("the period must end after it starts")
    params: dict = {"as_of": as_of, "first": min(start for start, _ in periods.values()),
                    "last": max(end for _, end in periods.values())}
    for index, (start, end) in enumerate(periods.values()):
        params[f"start_{index}"], params[f"end_{index}"] = start, end
    if len(site_ids) == 1:
        params["site_id"] = site_ids[0]
    else:
        params["site_ids"] = sorted(site_ids)
    statement = _period_statement(session, len(periods), len(site_ids) > 1)
    rows = {row[0]: row[1:] for row in session.execute(statement, params)}
    figures = {}
    for site_id in site_ids:
        row = rows.get(site_id)
        for index, name in enumerate(periods):
            if row is None:
                figures[site_id, name] = PeriodFigures(site_id=site_id, period=name)
                continue
            due, closed, on_time, closed_in_period, reworked, mean, deferred, extended = \
                row[index * _PER_PERIOD:(index + 1) * _PER_PERIOD]
            figures[site_id, name] = PeriodFigures(
                site_id=site_id, period=name, due=int(due), closed=int(closed), closed_on_time=int(on_time),
                closed_in_period=int(closed_in_period), reworked=int(reworked), mean_hours=_round(mean),
                deferred=int(deferred), extended=int(extended))
    return figures


_PERIOD_STATEMENTS: dict[tuple[str, int, bool], object] = {}
_PER_PERIOD = 8  # the columns of one period in `_period_statement`


def _period_statement(session: Session, periods: int, several_sites: bool):
    """`period_figures`' statement for a number of periods, built once (per dialect) with its instants as bound
    parameters: building the conditions anew on every dashboard view cost more than running them."""
    key = (session.get_bind().dialect.name, periods, several_sites)
    statement = _PERIOD_STATEMENTS.get(key)
    if statement is None:
        instant = Issue.__table__.c.deadline.type
        as_of = bindparam("as_of", type_=instant)
        hours = _hours(session, Issue.closed_at, Issue.dispatched_at)
        columns, wanted = [], []
        for index in range(periods):
            c = _Conditions(bindparam(f"start_{index}", type_=instant), bindparam(f"end_{index}", type_=instant), as_of)
            columns += [_flag(c.due), _flag(c.closed), _flag(c.closed_on_time), _flag(c.closed_in_period),
                        _flag(c.reworked), func.avg(case((c.closed_in_period, hours), else_=None)),
                        _flag(c.deferred), _flag(c.extended)]
            wanted.append(or_(c.due, c.closed_in_period, c.deferred, c.extended))
        site = (Issue.site_id.in_(bindparam("site_ids", expanding=True)) if several_sites
                else Issue.site_id == bindparam("site_id"))
        # Implied by `wanted` (due: deadline within a period; closed in one: closed_at within it), written as two
        # plain ranges the indexes on (site, deadline) and (site, closed_at) answer.
        first, last = bindparam("first", type_=instant), bindparam("last", type_=instant)
        extended = select(IssueExtension.issue_id).where(IssueExtension.state == ExtensionState.APPROVED.value,
                                                         IssueExtension.decided_at >= first,
                                                         IssueExtension.decided_at < last)
        deferred = select(IssueDeferral.issue_id).where(IssueDeferral.deadline_before >= first,
                                                        IssueDeferral.deadline_before < last)
        ranges = or_(and_(Issue.deadline >= first, Issue.deadline < last),
                     and_(Issue.closed_at >= first, Issue.closed_at < last), Issue.id.in_(extended),
                     Issue.id.in_(deferred))
        statement = _PERIOD_STATEMENTS[key] = (select(Issue.site_id, *columns).where(site, ranges, or_(*wanted))
                                               .group_by(Issue.site_id))
    return statement
