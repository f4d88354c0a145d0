"""The metrics report (整改统计) as the page and its CSV show it: which period, taken as of which instant, and the
table's columns with their values written as shown. The figures themselves are `issues.metrics`.

Periods are a month, a quarter, a half-year or a year of the site's calendar (`core.time.Period`), [start, end)
in the site's time zone. The "as of" instant (截至) follows one rule:

* a period that is over is taken as of its end (the last day 24:00): the open, overdue and closed counts are as
  they stood then, so November viewed in March still shows November's open issues, and an issue closed after
  30 November counts as open (and not closed) for November;
* the current period is taken as of now;
* an explicit instant may be asked for, within the period and not in the future: a local date means the end of
  that day (today: now), a local date and time means that minute.

A period that has not begun is refused, as is a malformed key or instant: `DomainError`, a 422 with the reason.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import Callable, Optional

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from gridpatrol.core import spreadsheets
from gridpatrol.core.errors import DomainError
from gridpatrol.core.time import PERIOD_KINDS, Period, day_bounds, end_label, local_day, period_label, zone
from gridpatrol.grids.models import Site
from gridpatrol.issues.metrics import GROUPINGS, MetricRow

KIND_LABELS = {"month": _l("Monthly"), "quarter": _l("Quarterly"), "half": _l("Half-yearly"), "year": _l("Yearly")}
CHOICES_BACK = {"month": 24, "quarter": 12, "half": 6, "year": 5}  # how many periods the picker offers
EARLIEST_YEAR = 2000  # no report before (and no instant a database could not store in UTC)


@dataclass(frozen=True)
class ReportPeriod:
    """The period of a report and the instant it is taken as of (aware datetimes, [start, end))."""

    period: Period
    start: dt.datetime
    end: dt.datetime
    as_of: dt.datetime
    explicit: bool  # the reader chose the instant (else it follows the rule)
    timezone: str

    @property
    def label(self) -> str:
        return period_label(self.period)

    @property
    def as_of_label(self) -> str:
        """"2026-11-30 24:00" for the end of November; the chosen minute otherwise."""
        return end_label(self.as_of, self.timezone)

    @property
    def over(self) -> bool:
        return self.as_of >= self.end


def report_period(site: Site, now: dt.datetime, *, kind: Optional[str] = None, key: Optional[str] = None,
                  as_of: Optional[str] = None) -> ReportPeriod:
    """The period and "as of" a reader asked for, by the rule in the module docstring.

    `kind` is one of PERIOD_KINDS; `key` a period key ("2026-11", "2026-Q4", "2026-H2", "2026"); when both are
    given and differ, the period of `kind` that contains the key's first day is meant (a picker switched from
    month to quarter). Neither: the current month. `as_of` is "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM", local time."""
    kind, key, as_of = (kind or "").strip() or None, (key or "").strip() or None, (as_of or "").strip() or None
    if kind is not None and kind not in PERIOD_KINDS:
        raise DomainError(_("Unknown kind of period: %(kind)s. Choose month, quarter, half-year or year.", kind=kind))
    today = local_day(now, site.timezone)
    if key is None:
        period = Period.of(kind or "month", today)
    else:
        try:
            period = Period.parse(key)
        except ValueError:
            raise DomainError(_("Not a period: %(key)s. Write a month as 2026-11, a quarter as 2026-Q4, a half-year "
                                "as 2026-H2 or a year as 2026.", key=key)) from None
        if kind is not None and kind != period.kind:
            period = Period.of(kind, period.first)
        if period.year < EARLIEST_YEAR:
            raise DomainError(_("Figures are reported from %(year)s on.", year=EARLIEST_YEAR))
    start, end = period.bounds(site.timezone)
    if start > now:
        raise DomainError(_("%(period)s has not begun yet: its figures can be shown from %(start)s on.",
                            period=period_label(period), start=f"{period.first:%Y-%m-%d}"))
    latest = min(end, now)
    if as_of is None:
        return ReportPeriod(period, start, end, latest, False, site.timezone)
    instant = _instant(as_of, site.timezone, now)
    if not start < instant <= latest:
        raise DomainError(_("The figures can be taken as of an instant within %(period)s and not in the future: "
                            "after %(start)s and up to %(end)s.", period=period_label(period),
                            start=f"{period.first:%Y-%m-%d} 00:00",
                            end=end_label(latest, site.timezone)))
    return ReportPeriod(period, start, end, instant, True, site.timezone)


def _instant(text: str, timezone: str, now: dt.datetime) -> dt.datetime:
    """A local date (its end; today's end is now) or a local date and minute, as an aware instant."""
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            end_of_day = day_bounds(day, timezone)[1]
            return now if day == local_day(now, timezone) else end_of_day
        value = dt.datetime.fromisoformat(text.replace(" ", "T"))
    except ValueError:
        raise DomainError(_("Not a date or time: %(value)s. Write it as 2026-11-15 or 2026-11-15T12:00.",
                            value=text)) from None
    if value.tzinfo is not None:
        return value
    return value.replace(tzinfo=zone(timezone))


def period_choices(report: ReportPeriod, now: dt.datetime) -> list[tuple[str, str]]:
    """(key, label) of the periods of the report's kind the picker offers: the current one and those before it,
    newest first, and the report's own period if it lies further back."""
    current = Period.of(report.period.kind, local_day(now, report.timezone))
    periods = [current]
    for _i in range(CHOICES_BACK[report.period.kind] - 1):
        if periods[-1].previous().year < EARLIEST_YEAR:
            break
        periods.append(periods[-1].previous())
    if report.period not in periods:
        periods.append(report.period)
    return [(p.key, period_label(p)) for p in periods]


def neighbours(report: ReportPeriod, now: dt.datetime) -> tuple[Optional[Period], Optional[Period]]:
    """The previous period and the next one; None where there is none to show (the next has not begun)."""
    previous = report.period.previous()
    if previous.year < EARLIEST_YEAR:
        previous = None
    try:
        following = report.period.next()
    except ValueError:
        following = None
    if following is not None and following.first > local_day(now, report.timezone):
        following = None
    return previous, following


# --- the table, as the page and the CSV write it --------------------------------------------------------
def rate(value: Optional[float]) -> str:
    """A rate as a percentage with two decimals ("93.72%"); "—" when nothing was due (no 0 ÷ 0)."""
    return "—" if value is None else f"{value * 100:.2f}%"


def hours(value: Optional[float]) -> str:
    return "—" if value is None else f"{value:.1f}"


@dataclass(frozen=True)
class Column:
    header: object  # a lazy string: rendered in the reader's language
    value: Callable[[MetricRow], object]


# The one list of the table's columns: the page and the CSV both read it.
COLUMNS = (
    Column(_l("Due to close"), lambda row: row.due),
    Column(_l("Closed"), lambda row: row.closed),
    Column(_l("Deferred (out of due)"), lambda row: row.deferred),  # 缓办数 (issues.metrics)
    Column(_l("Extended"), lambda row: row.extended),  # 延期数
    Column(_l("Close rate"), lambda row: rate(row.close_rate)),
    Column(_l("On-time rate"), lambda row: rate(row.on_time_rate)),
    Column(_l("Rework rate"), lambda row: rate(row.rework_rate)),
    Column(_l("Mean handling (h)"), lambda row: hours(row.mean_hours)),
    Column(_l("Reported"), lambda row: row.reported),
    Column(_l("Open"), lambda row: row.open),
    Column(_l("Overdue"), lambda row: row.overdue),
)

GROUP_HEADERS = {"grid": _l("Grid"), "team": _l("Team"), "category": _l("Category")}


def export_csv(report: ReportPeriod, group_by: str, overall: MetricRow, rows: list[MetricRow]) -> str:
    """The page's table as CSV (UTF-8 with BOM, so Excel opens Chinese text): headers in the reader's language,
    values as the page shows them, each row naming the period and its "as of"."""
    if group_by not in GROUPINGS or group_by is None:
        raise ValueError(f"group_by must be one of {GROUPINGS[1:]}, not {group_by!r}")
    out = io.StringIO()
    out.write("\ufeff")
    writer = spreadsheets.csv_writer(out)  # a grid's or team's name that looks like a formula stays text
    writer.writerow([_("Period"), _("As of"), str(GROUP_HEADERS[group_by]), *(str(c.header) for c in COLUMNS)])
    for index, row in enumerate([overall, *rows]):
        label = _("All") if index == 0 else row.label
        writer.writerow([report.label, report.as_of_label, label, *(c.value(row) for c in COLUMNS)])
    return out.getvalue()
