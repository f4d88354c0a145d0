"""The monthly points table (月度积分表, 《网格长巡查情况积分表》): one row per grid leader, plus the ledger detail.

Everything is computed with a handful of grouped SQL queries over one month (independent of how many years
of history the database holds, given the indexes on patrols (site, window start), issues (reported at),
points entries (site, month)):

- **rows**: every person who held a grid of the site as its *leader* (网格长) at some moment of the month,
  from the assignment history (a handover mid-month gives both people a row; each lists the grids they held).
- **patrols due / done / on time / late / missed**: patrols *assigned* to the person whose window starts in the
  month (site time). Due (应巡) = those whose due time has come by the table's "as of" instant, or that were done
  by then (a mid-month table does not count tomorrow's patrols); done = submitted by "as of"; late = finished
  (device time, else arrival) after the due time, as `Patrol.late`; missed = marked missed. Patrols past their
  due time and still open are due but neither done nor missed.
- **巡查合格率 (pass rate)**: the average score (0–100, the share of applicable checklist items that passed) of
  the person's submitted patrols — the condition of their grids, not a measure of the leader (a leader who finds
  problems lowers it). Two decimals.
- **issues found (minor / major / critical)**: issues the person reported in the month that were accepted
  (dispatched, not rejected), by the severity they were accepted with (`Issue.accepted_severity`, stored at the
  first dispatch; a later re-dispatch does not change it), as points are.
- **issues closed**: issues of a grid closed in the month, counted for whoever led that grid when it closed.
- **points**: the sum of the ledger entries booked in the month (`PointsEntry.month`), so corrections booked
  into this month count here, and late events of a closed month count in the month they were booked into.
- **points per grid**: points divided by the number of grids held (`grids`); **rank** by points per grid,
  equal values share a rank (并列: 1, 1, 3), a tie listed by the pinyin of the name (`points.ranking`, the one
  ranking, which the dashboard uses too).

"As of" (`as_of`): the instant the table is computed for — now for an open month (or the given instant), the
close for a closed month.

A closed month's table is frozen at its close (月度锁定), so what was printed and signed can be printed again:
events that arrive after the close (an offline submission of a missed patrol, a report accepted late) count
only where the ledger booked them, in a later month's points; the closed month still shows that patrol as
missed and that issue as not (yet) accepted, as its points do. Closed issues and assignment history do not
change after the fact, and a closed month takes no new entries.

`entries` lists every ledger entry booked in the month (everyone's, not only the rows'), each with the facts its
reason is told from (`points.reasons`); the points of people without a row (staff who reported problems, a former
leader's correction) are summed in `others_points`.

Periods (quarter, half-year, year: the half-year 考核): `period_tables` gives the period's monthly tables and
`period_summary` adds them up, person by person; a period's points are the sum of its months' points.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Optional

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from gridpatrol.accounts.models import User
from gridpatrol.core.time import Period, month_bounds, month_of, month_start, utcnow
from gridpatrol.grids.models import AssignmentRole, Grid, GridAssignment, Site
from gridpatrol.points import ranking, reasons, services
from gridpatrol.points.models import MonthClose, PointsEntry
from gridpatrol.points.rules import RULE_LABELS

SEVERITIES = ("minor", "major", "critical")


def round_score(value: Optional[float]) -> Optional[float]:
    """Two decimals, halves rounded up (what people do by hand), so a printed 87.33 is what they compute."""
    if value is None:
        return None
    return float(Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class LeaderRow:
    user_id: int
    username: str
    name: str
    grids: tuple[str, ...]
    patrols_due: int = 0
    patrols_done: int = 0
    on_time: int = 0
    late: int = 0
    missed: int = 0
    score_sum: float = 0.0
    scored: int = 0
    found_minor: int = 0
    found_major: int = 0
    found_critical: int = 0
    issues_closed: int = 0
    points: int = 0
    rank: int = 0
    per_grid_sum: Optional[Fraction] = None  # a period's row: the sum of its months' points per grid

    @property
    def average_score(self) -> Optional[float]:
        """巡查合格率: the average score of the submitted patrols (see the module docstring)."""
        return round_score(self.score_sum / self.scored) if self.scored else None

    pass_rate = average_score

    @property
    def grids_held(self) -> int:
        return len(self.grids)

    @property
    def per_grid_exact(self) -> Fraction:
        """What the rank compares: points ÷ grids held; for a period, the sum of its months' values."""
        if self.per_grid_sum is not None:
            return self.per_grid_sum
        return ranking.per_grid(self.points, self.grids_held)

    @property
    def points_per_grid(self) -> Optional[float]:
        """Points per grid held, two decimals (the rank compares them exactly); None for a totals row."""
        return ranking.per_grid_display(self.per_grid_exact) if self.grids else None

    @property
    def patrols_open(self) -> int:
        return self.patrols_due - self.patrols_done - self.missed

    @property
    def found_total(self) -> int:
        return self.found_minor + self.found_major + self.found_critical


@dataclass(frozen=True)
class EntryRow:
    id: int
    user_id: int
    username: str
    name: str
    rule_code: str
    rule_version: int
    points: int
    source_type: str
    source_id: int
    month: dt.date
    event_month: dt.date
    reason: str  # the note stored at booking (for the record; pages and paper tell `reason_text`)
    corrects_id: Optional[int]
    facts: Optional[reasons.Facts] = None

    @property
    def rule_label(self) -> str:
        """In the current locale (wrap in flask_babel.force_locale for another); never the code."""
        label = RULE_LABELS.get(self.rule_code)
        return str(label) if label is not None else ""

    def reason_text(self, locale: Optional[str] = None) -> str:
        """Why it was booked, told from its facts in the current locale, or in `locale` when one is given."""
        return reasons.describe(self.facts, locale) if self.facts is not None else ""


@dataclass(frozen=True)
class MonthlyTable:
    site_id: int
    site_code: str
    site_name: str
    timezone: str
    month: dt.date
    rule_version: int  # the rule set in force for events of the month
    closed_at: Optional[dt.datetime]
    as_of: dt.datetime  # what 应巡 and 已巡 count up to (the close for a closed month)
    rows: list[LeaderRow]
    entries: list[EntryRow]
    others_points: int = 0  # entries of the month of people without a row
    others_entries: int = 0
    totals: LeaderRow = field(default=None)  # type: ignore[assignment]

    @property
    def closed(self) -> bool:
        return self.closed_at is not None

    @property
    def label(self) -> str:
        return f"{self.month:%Y-%m}"

    @property
    def entries_points(self) -> int:
        return sum(e.points for e in self.entries)


def sum_rows(rows: list[LeaderRow], *, name: str = "", grids: tuple[str, ...] = ()) -> LeaderRow:
    """A row adding up `rows` (the average is weighted by the patrols scored)."""
    total = defaultdict(float)
    for row in rows:
        for key in ("patrols_due", "patrols_done", "on_time", "late", "missed", "score_sum", "scored",
                    "found_minor", "found_major", "found_critical", "issues_closed", "points"):
            total[key] += getattr(row, key)
    return LeaderRow(user_id=0, username="", name=name, grids=grids, score_sum=total["score_sum"],
                     **{k: int(v) for k, v in total.items() if k != "score_sum"})


def monthly_table(session: Session, site: Site, month: dt.date, *,
                  as_of: Optional[dt.datetime] = None) -> MonthlyTable:
    """The month's table as of `as_of` (now by default; a closed month is always as of its close)."""
    from gridpatrol.issues.models import Issue, IssueState
    from gridpatrol.patrols.models import Patrol

    month = month_start(month)
    tz = zoneinfo.ZoneInfo(site.timezone)
    start, end = month_bounds(month, tz)

    # --- who led which grids in the month (assignment history) ----------------------------------------
    held: dict[int, set[str]] = defaultdict(set)
    for user_id, code in session.execute(
            select(GridAssignment.user_id, Grid.code).join(Grid, Grid.id == GridAssignment.grid_id).where(
                Grid.site_id == site.id, GridAssignment.role == AssignmentRole.LEADER.value,
                GridAssignment.effective_from < end,
                or_(GridAssignment.effective_to.is_(None), GridAssignment.effective_to > start))):
        held[user_id].add(code)
    people = {row.id: row for row in session.execute(
        select(User.id, User.username, User.display_name).where(User.id.in_(sorted(held))))} if held else {}

    figures: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))

    closed_at = session.scalar(select(MonthClose.closed_at).where(MonthClose.site_id == site.id,
                                                                  MonthClose.month == month))
    as_of = closed_at if closed_at is not None else (as_of or utcnow())

    # --- patrols assigned to them in the month ------------------------------------------------------------
    done = Patrol.status == "submitted"
    missed = Patrol.status == "missed"
    if closed_at is not None:  # as it stood at the close: a submission that arrived later was a missed patrol
        missed = or_(missed, and_(done, Patrol.submitted_at >= closed_at))
        done = and_(done, Patrol.submitted_at < closed_at)
    else:  # as it stood at "as of": a later submission was still open then
        done = and_(done, Patrol.submitted_at <= as_of)
    missed = and_(missed, Patrol.due_at <= as_of)  # (a patrol is marked missed only once its due time has passed)
    due = or_(Patrol.due_at <= as_of, done)
    finished = func.coalesce(Patrol.completed_at, Patrol.submitted_at)
    for row in session.execute(
            select(Patrol.assignee_id, func.sum(case((due, 1), else_=0)),
                   func.sum(case((done, 1), else_=0)),
                   func.sum(case((and_(done, or_(finished.is_(None), finished <= Patrol.due_at)), 1), else_=0)),
                   func.sum(case((and_(done, finished > Patrol.due_at), 1), else_=0)),
                   func.sum(case((missed, 1), else_=0)),
                   func.sum(case((and_(done, Patrol.score.is_not(None)), Patrol.score), else_=0.0)),
                   func.sum(case((and_(done, Patrol.score.is_not(None)), 1), else_=0)))
            .where(Patrol.site_id == site.id, Patrol.window_start >= start, Patrol.window_start < end,
                   Patrol.assignee_id.in_(sorted(held)))
            .group_by(Patrol.assignee_id)):
        f = figures[row[0]]
        (f["patrols_due"], f["patrols_done"], f["on_time"], f["late"], f["missed"], f["score_sum"],
         f["scored"]) = row[1:]

    # --- valid issues they found, by the severity stored on the issue at its acceptance (the first dispatch) ---
    for reporter_id, accepted, count in session.execute(
            select(Issue.reporter_id, Issue.accepted_severity, func.count())
            .where(Issue.site_id == site.id, Issue.reported_at >= start, Issue.reported_at < end,
                   Issue.state != IssueState.REJECTED.value, Issue.accepted_severity.is_not(None),
                   Issue.reporter_id.in_(sorted(held)),
                   *([Issue.accepted_at < closed_at] if closed_at is not None else []))
            .group_by(Issue.reporter_id, Issue.accepted_severity)):
        if accepted in SEVERITIES:
            figures[reporter_id][f"found_{accepted}"] += count

    # --- issues of their grids closed in the month (whoever led the grid when it closed) -------------------
    for leader_id, count in session.execute(
            select(GridAssignment.user_id, func.count(Issue.id))
            .join(GridAssignment, and_(GridAssignment.grid_id == Issue.grid_id,
                                       GridAssignment.role == AssignmentRole.LEADER.value,
                                       GridAssignment.effective_from <= Issue.closed_at,
                                       or_(GridAssignment.effective_to.is_(None),
                                           GridAssignment.effective_to > Issue.closed_at)))
            .where(Issue.site_id == site.id, Issue.state == IssueState.CLOSED.value, Issue.closed_at >= start,
                   Issue.closed_at < end)
            .group_by(GridAssignment.user_id)):
        if leader_id in held:
            figures[leader_id]["issues_closed"] += count

    # --- the ledger -------------------------------------------------------------------------------------
    facts = reasons.load_facts(session, PointsEntry.site_id == site.id, PointsEntry.month == month,
                               timezone=site.timezone)
    entries = [EntryRow(id=r.id, user_id=r.user_id, username=r.username, name=r.display_name,
                        rule_code=r.rule_code, rule_version=r.rule_version, points=r.points,
                        source_type=r.source_type, source_id=r.source_id, month=r.month, event_month=r.event_month,
                        reason=r.reason, corrects_id=r.corrects_id, facts=facts.get(r.id))
               for r in session.execute(
                   select(PointsEntry.id, PointsEntry.user_id, User.username, User.display_name,
                          PointsEntry.rule_code, PointsEntry.rule_version, PointsEntry.points,
                          PointsEntry.source_type, PointsEntry.source_id, PointsEntry.month,
                          PointsEntry.event_month, PointsEntry.reason, PointsEntry.corrects_id)
                   .join(User, User.id == PointsEntry.user_id)
                   .where(PointsEntry.site_id == site.id, PointsEntry.month == month))]
    points: dict[int, int] = defaultdict(int)
    for e in entries:
        points[e.user_id] += e.points
    entries.sort(key=lambda e: (e.name, e.username, e.user_id, e.id))

    rows = []
    for user_id, codes in held.items():
        person, f = people[user_id], figures.get(user_id, {})
        rows.append(LeaderRow(
            user_id=user_id, username=person.username, name=person.display_name, grids=tuple(sorted(codes)),
            patrols_due=int(f.get("patrols_due") or 0), patrols_done=int(f.get("patrols_done") or 0),
            on_time=int(f.get("on_time") or 0), late=int(f.get("late") or 0), missed=int(f.get("missed") or 0),
            score_sum=float(f.get("score_sum") or 0.0), scored=int(f.get("scored") or 0),
            found_minor=int(f.get("found_minor", 0)), found_major=int(f.get("found_major", 0)),
            found_critical=int(f.get("found_critical", 0)), issues_closed=int(f.get("issues_closed", 0)),
            points=points.get(user_id, 0)))
    rows = ranking.rank(rows)
    others = [e for e in entries if e.user_id not in held]
    version, _rules = services.rules_for(session, site.id, month)
    return MonthlyTable(site_id=site.id, site_code=site.code, site_name=site.name, timezone=site.timezone,
                        month=month, rule_version=version, closed_at=closed_at, as_of=as_of, rows=rows,
                        entries=entries,
                        others_points=sum(e.points for e in others), others_entries=len(others),
                        totals=sum_rows(rows))


# --- a period: a quarter, a half-year, a year ----------------------------------------------------------------
@dataclass(frozen=True)
class YearRow:
    """One person's row of a period: its months added up, and points month by month."""

    total: LeaderRow  # the period's figures added up (grids: every grid held in the period)
    monthly_points: tuple[Optional[int], ...]  # per month; None where the person had no row that month


@dataclass(frozen=True)
class YearSummary:
    """A period's sum of the monthly tables (the 考核's quarter, half-year or year; the name is historical)."""

    site_code: str
    site_name: str
    year: int
    months: list[dt.date]
    rows: list[YearRow]  # in rank order of the period's points per grid
    totals: LeaderRow
    monthly_totals: tuple[int, ...]
    period: Optional[Period] = None  # None: the months given (a year by default)

    @property
    def kind(self) -> str:
        return self.period.kind if self.period is not None else "year"


PeriodRow, PeriodSummary = YearRow, YearSummary


def period_tables(session: Session, site: Site, period: Period, *, until: Optional[dt.date] = None,
                  as_of: Optional[dt.datetime] = None) -> list[MonthlyTable]:
    """The monthly tables of a period's months up to `until` (the current month by default): a period still
    running sums the months begun so far."""
    if until is None:
        until = month_of(as_of or utcnow(), site.timezone)
    return [monthly_table(session, site, month, as_of=as_of) for month in period.months if month <= until]


def yearly_tables(session: Session, site: Site, year: int, *, until: Optional[dt.date] = None) -> list[MonthlyTable]:
    """The twelve monthly tables of a year (only months up to `until`, the current month by default)."""
    return period_tables(session, site, Period("year", dt.date(year, 1, 1)), until=until)


def period_summary(tables: list[MonthlyTable], period: Optional[Period] = None) -> YearSummary:
    """One row per person who led a grid in any month given: the months added up (points are the sum of the
    monthly tables' points; grids every grid held in any of them), points month by month. Points per grid are
    the sum of the months' points per grid (each month divided by the grids held that month, so a grid held for
    one month does not halve the rest), and rank like a month (并列, pinyin)."""
    if not tables:
        raise ValueError("no months to sum")
    by_user: dict[int, list[tuple[int, LeaderRow]]] = defaultdict(list)
    for index, table in enumerate(tables):
        for row in table.rows:
            by_user[row.user_id].append((index, row))
    totals = []
    monthly: dict[int, tuple[Optional[int], ...]] = {}
    for user_id, items in by_user.items():
        last = items[-1][1]
        grids = tuple(sorted({g for _, r in items for g in r.grids}))
        totals.append(LeaderRow(**{**sum_rows([r for _, r in items]).__dict__, "user_id": user_id,
                                   "username": last.username, "name": last.name, "grids": grids,
                                   "per_grid_sum": sum((r.per_grid_exact for _, r in items), Fraction(0))}))
        points = {i: r.points for i, r in items}
        monthly[user_id] = tuple(points.get(i) for i in range(len(tables)))
    ranked = ranking.rank(totals)
    first = tables[0]
    return YearSummary(site_code=first.site_code, site_name=first.site_name, year=first.month.year,
                       months=[t.month for t in tables], rows=[YearRow(r, monthly[r.user_id]) for r in ranked],
                       totals=sum_rows(ranked), monthly_totals=tuple(t.totals.points for t in tables), period=period)


def year_summary(tables: list[MonthlyTable]) -> YearSummary:
    """A year's months added up (`period_summary` of the year)."""
    return period_summary(tables, Period("year", dt.date(tables[0].month.year, 1, 1)) if tables else None)
