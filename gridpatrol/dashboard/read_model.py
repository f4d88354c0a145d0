"""The dashboard's read model: every figure of a site's dashboard and of the sites overview, from the domains'
read functions, in a fixed handful of statements whatever the history's length.

Periods are the site's calendar (core/time): today, this month, last month, this year, this quarter and the 12
weeks (Monday to Sunday) ending with the current one. Each figure keeps what its link needs (the period's local
dates, the states), so the page and the JSON say the same thing and every number leads to its list.

Statements for a site's dashboard: patrols by state for all periods (1), the day's patrols past due (1), issue
counts by category and severity (1), the 通报 figures of three periods (1), the quarter's grids (1) and the
month's points ranking (1).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Optional

from flask import current_app
from sqlalchemy.orm import Session

from gridpatrol.core.categories import Category
from gridpatrol.core.time import Period as CalendarPeriod
from gridpatrol.core.time import day_bounds, local_day, month_of, next_month, previous_month
from gridpatrol.grids.models import Site
from gridpatrol.issues import metrics
from gridpatrol.issues import stats as issue_stats
from gridpatrol.issues.models import Severity
from gridpatrol.patrols import stats as patrol_stats
from gridpatrol.points import ranking as points_ranking

WEEKS = 12
TOP_GRIDS = 8
LATE_LIST = 6


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC-aware instants, and the local dates a list's filter takes: `first` to `last` inclusive
    (the patrol board) or `first` to `end_day` exclusive (the queue's from/to)."""

    name: str
    start: dt.datetime
    end: dt.datetime
    first: dt.date
    end_day: dt.date

    @property
    def last(self) -> dt.date:
        return self.end_day - dt.timedelta(days=1)

    @property
    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        return self.start, self.end


def _period(name: str, first: dt.date, end_day: dt.date, tz: str) -> Period:
    return Period(name, day_bounds(first, tz)[0], day_bounds(end_day, tz)[0], first, end_day)


@dataclass(frozen=True)
class Calendar:
    now: dt.datetime
    today: Period
    month: Period
    last_month: Period
    year: Period
    quarter: Period
    weeks: tuple[Period, ...]  # oldest first; the last one is the current week

    @property
    def month_date(self) -> dt.date:
        return self.month.first


def calendar(site: Site, now: dt.datetime) -> Calendar:
    tz = site.timezone
    today = local_day(now, tz)
    month = month_of(now, tz)
    last = previous_month(month)
    quarter, year = CalendarPeriod.of("quarter", month), CalendarPeriod.of("year", month)
    monday = today - dt.timedelta(days=today.weekday())
    weeks = tuple(_period(f"w{i}", monday - dt.timedelta(weeks=WEEKS - 1 - i),
                          monday - dt.timedelta(weeks=WEEKS - 2 - i), tz) for i in range(WEEKS))
    return Calendar(
        now=now, today=_period("today", today, today + dt.timedelta(days=1), tz),
        month=_period("month", month, next_month(month), tz),
        last_month=_period("last_month", last, month, tz),
        year=_period("year", year.first, year.end_day, tz),
        quarter=_period("quarter", quarter.first, quarter.end_day, tz),
        weeks=weeks)


@dataclass(frozen=True)
class SiteDashboard:
    site: Site
    cal: Calendar
    patrols: dict[str, patrol_stats.PatrolCounts]  # by period name (today, month, last_month, year, w0…w11)
    past_due: list[patrol_stats.OpenPastDue]
    issues: issue_stats.IssueSummary
    closing: dict[str, metrics.PeriodFigures]  # month, last_month, year
    top_grids: list[issue_stats.GridCount]
    ranking: list[points_ranking.RankedLeader]

    @property
    def categories(self) -> list[str]:
        """The categories to show: every known one, then any other found in the data."""
        known = [c.value for c in Category]
        return issue_stats.label_order(set(known) | set(self.issues.by_category), known)

    @property
    def severities(self) -> list[str]:
        return [s.value for s in Severity]

    def category_counts(self, code: str) -> issue_stats.IssueCounts:
        return self.issues.by_category.get(code) or _empty(self)

    def severity_counts(self, code: str) -> issue_stats.IssueCounts:
        return self.issues.by_severity.get(code) or _empty(self)

    def week_found(self, code: str) -> list[int]:
        counts = self.category_counts(code)
        return [counts.found.get(w.name, 0) for w in self.cal.weeks]

    def week_closed(self) -> list[int]:
        return [self.issues.total.closed.get(w.name, 0) for w in self.cal.weeks]

    def week_patrols(self) -> list[patrol_stats.PatrolCounts]:
        return [self.patrols[w.name] for w in self.cal.weeks]


def _empty(dashboard: SiteDashboard) -> issue_stats.IssueCounts:
    return issue_stats.IssueCounts(found={k: 0 for k in dashboard.issues.total.found},
                                   closed={k: 0 for k in dashboard.issues.total.closed})


def settled_counts() -> patrol_stats.SettledCounts:
    """This app's store of the patrol counts of days before today (see patrol_stats.SettledCounts): without it
    every view of the dashboard would count the year's patrols again to show today's."""
    return current_app.extensions.setdefault("gridpatrol.dashboard.settled", patrol_stats.SettledCounts())


def site_dashboard(session: Session, site: Site, now: dt.datetime) -> SiteDashboard:
    cal = calendar(site, now)
    patrol_periods = {p.name: p.bounds for p in (cal.today, cal.month, cal.last_month, cal.year, *cal.weeks)}
    found_periods = {p.name: p.bounds for p in (cal.month, cal.last_month, cal.year, *cal.weeks)}
    return SiteDashboard(
        site=site, cal=cal,
        patrols=patrol_stats.counts_by_period(session, site, patrol_periods, now, settled=settled_counts(),
                                              settled_before=cal.today.start),
        past_due=patrol_stats.open_past_due(session, site, *cal.today.bounds, now, limit=LATE_LIST),
        issues=issue_stats.summary(session, site, now, cal.today.bounds, found_periods,
                                   {w.name: w.bounds for w in cal.weeks}),
        closing=closing_figures(session, site, cal, now),
        top_grids=issue_stats.grids_with_most_found(session, site, *cal.quarter.bounds, limit=TOP_GRIDS),
        ranking=points_ranking.month_ranking(session, site, cal.month_date))


def closing_figures(session: Session, site: Site, cal: Calendar, now: dt.datetime) -> dict[str, metrics.PeriodFigures]:
    """结案率 and the rest for this month and this year as of now, and for last month as of its end, as the metrics
    page takes an ended month (an issue closed after the month's end does not raise that month's rate later)."""
    figures = {name: f for (_site, name), f in metrics.period_figures(
        session, [site.id], {p.name: p.bounds for p in (cal.month, cal.year)}, as_of=now).items()}
    figures.update({name: f for (_site, name), f in metrics.period_figures(
        session, [site.id], {cal.last_month.name: cal.last_month.bounds}, as_of=min(cal.last_month.end, now)).items()})
    return figures


# --- the sites overview ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class SiteRow:
    site: Site
    today: patrol_stats.PatrolCounts
    overdue: int
    month: metrics.PeriodFigures
    month_date: dt.date

    def sort_value(self, key: str):
        value = {"code": self.site.code, "name": self.site.name, "completion": self.today.completion_rate,
                 "overdue": self.overdue, "close_rate": self.month.close_rate,
                 "on_time_rate": self.month.on_time_rate}[key]
        return value


SORT_KEYS = ("code", "name", "completion", "overdue", "close_rate", "on_time_rate")


def sites_overview(session: Session, sites: list[Site], now: dt.datetime, *, sort: str = "code",
                   descending: bool = False) -> list[SiteRow]:
    """One row per site: today's patrols, open issues overdue, this month's 结案率 and 按期结案率 — in a statement
    per distinct time zone for the patrols, one for the overdue issues and one for the month's figures."""
    if not sites:
        return []
    by_zone: dict[str, list[Site]] = {}
    for site in sites:
        by_zone.setdefault(site.timezone, []).append(site)
    today: dict[int, patrol_stats.PatrolCounts] = {}
    months: dict[str, tuple[dt.datetime, dt.datetime]] = {}
    month_dates: dict[int, dt.date] = {}
    for zone_name, zone_sites in by_zone.items():
        cal = calendar(zone_sites[0], now)
        counts = patrol_stats.counts_by_site_and_period(session, [s.id for s in zone_sites],
                                                        {"today": cal.today.bounds}, now)
        today.update({site_id: by_period["today"] for site_id, by_period in counts.items()})
        months[zone_name] = cal.month.bounds
        month_dates.update({s.id: cal.month_date for s in zone_sites})
    overdue = issue_stats.overdue_by_site(session, [s.id for s in sites], now)
    figures: dict[int, metrics.PeriodFigures] = {}
    if len(months) == 1:
        (month,) = months.values()
        figures = {site_id: f for (site_id, _), f in metrics.period_figures(
            session, [s.id for s in sites], {"month": month}, as_of=now).items()}
    else:  # sites in several zones: one statement per zone (their months start at different instants)
        for zone_name, zone_sites in by_zone.items():
            figures.update({site_id: f for (site_id, _), f in metrics.period_figures(
                session, [s.id for s in zone_sites], {"month": months[zone_name]}, as_of=now).items()})
    rows = [SiteRow(site, today[site.id], overdue[site.id], figures[site.id], month_dates[site.id]) for site in sites]
    key = sort if sort in SORT_KEYS else "code"

    def order(row: SiteRow):
        value = row.sort_value(key)
        return (value is None, value if value is not None else 0, row.site.code)

    rows.sort(key=order)
    if descending:
        known = [r for r in rows if r.sort_value(key) is not None]
        rows = list(reversed(known)) + [r for r in rows if r.sort_value(key) is None]
    return rows


def rate_text(value: Optional[float]) -> str:
    """A rate as the 通报 print it: a percentage with two decimals; a dash when there is nothing to divide."""
    return "—" if value is None else f"{value * 100:.2f}%"


def hours_text(value: Optional[float]) -> str:
    return "—" if value is None else f"{value:.2f}"
