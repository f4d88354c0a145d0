"""Scheduler job: close the points of every month that has ended (月度锁定), site by site.

For each site, in its own time zone and its own transaction, every past month still open is closed, oldest
first: from the first month with any points entry or patrol of the site (or the month after the last closed
one) up to the month before the current one. The month just ended waits until day `POINTS_CLOSE_DAY` (config,
default 5), so supervisors may still settle its appeals and late submissions in it; older months (left open by
an outage across month ends) are closed at once. A month is closed only once every patrol of it was submitted
or marked missed: after an outage the catch-up runs close_month first (the jobs' first runs are ordered by name),
and a month closed before its last patrols were marked missed would book their points in the next month. Closing is idempotent (`services.close_month` does nothing for
a closed month), so an hourly run, a catch-up after downtime or a second scheduler change nothing twice; and
it is serialised with bookings per site (see `services.close_month`), so no entry lands in a closed month.

Registered with `register_jobs()`, called from `gridpatrol.points.init_app`.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import TYPE_CHECKING, Optional

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridpatrol.core.time import (
    local_day,
    month_of,
    month_start,
    next_month,
    previous_month,  # noqa: F401  (points.views imports it from here)
)
from gridpatrol.grids.models import Site
from gridpatrol.patrols.models import Patrol, PatrolStatus
from gridpatrol.points import services
from gridpatrol.points.models import MonthClose, PointsEntry

if TYPE_CHECKING:
    from gridpatrol.scheduler.jobs import SiteRef

EVERY_SECONDS = 3600


def months_to_close(session: Session, site: Site, now: dt.datetime, *, close_day: int) -> list[dt.date]:
    """The site's past months still open that may be closed at `now`, oldest first."""
    today = local_day(now, site.timezone)
    last = previous_month(month_start(today))  # the month just ended...
    if today.day < close_day:
        last = previous_month(last)  # ...waits for the close day; the ones before it do not
    last_closed = session.scalar(select(func.max(MonthClose.month)).where(MonthClose.site_id == site.id))
    first = next_month(last_closed) if last_closed is not None else _first_active_month(session, site)
    months = []
    while first is not None and first <= last and _settled(session, site, first):
        months.append(first)
        first = next_month(first)
    return months


def _settled(session: Session, site: Site, month: dt.date) -> bool:
    """Every patrol of the site in the month (or before) was submitted or marked missed: none is left whose
    outcome would book points in it. One left open past its grace is marked missed by mark_missed's next run."""
    end = dt.datetime.combine(next_month(month), dt.time(0), tzinfo=zoneinfo.ZoneInfo(site.timezone))
    return session.scalar(select(Patrol.id).where(
        Patrol.site_id == site.id, Patrol.window_start < end,
        Patrol.status.in_([PatrolStatus.SCHEDULED.value, PatrolStatus.IN_PROGRESS.value])).limit(1)) is None


def _first_active_month(session: Session, site: Site) -> Optional[dt.date]:
    """The first month with any points entry or patrol of the site (None if it has neither)."""
    booked, happened = session.execute(select(func.min(PointsEntry.month), func.min(PointsEntry.event_month))
                                       .where(PointsEntry.site_id == site.id)).one()
    first_patrol = session.scalar(select(func.min(Patrol.window_start)).where(Patrol.site_id == site.id))
    candidates = [m for m in (booked, happened) if m is not None]
    if first_patrol is not None:
        candidates.append(month_of(first_patrol, site.timezone))
    return min(candidates, default=None)


def close_months(session: Session, now: dt.datetime, *, close_day: int | None = None,
                 site: Optional[Site] = None) -> list[tuple[str, dt.date]]:
    """Close every past month still open (see the module docstring) of `site`, else of every site.
    Returns the (site code, month) pairs closed by this run, oldest first per site."""
    close_day = close_day if close_day is not None else int(current_app.config["POINTS_CLOSE_DAY"])
    sites = [site] if site is not None else list(session.scalars(select(Site).order_by(Site.code)))
    closed = []
    for each in sites:
        for month in months_to_close(session, each, now, close_day=close_day):
            if services.close_month(session, each, month, actor=None, now=now):
                closed.append((each.code, month))
    return closed


def _run(session: Session, site: SiteRef, now: dt.datetime) -> list[tuple[str, dt.date]]:
    return close_months(session, now, site=session.get(Site, site.id))


def _summary(results: list[tuple[SiteRef, list[tuple[str, dt.date]]]]) -> list[list[str]]:
    return [[code, f"{month:%Y-%m}"] for _site, pairs in results for code, month in pairs]


def _explain(closed: list[list[str]]) -> str:
    if not closed:
        return _("no month to close")
    return _("closed %(months)s", months=", ".join(f"{code} {month}" for code, month in closed))


def register_jobs() -> None:
    from gridpatrol.scheduler.jobs import Job, register

    register(Job("close_month", EVERY_SECONDS, _run,
                 "close every ended month's points (the last one from the day POINTS_CLOSE_DAY on)",
                 title=_l("Close the points of every ended month"), per_site=True, summarize=_summary,
                 explain=_explain, startup_rank=90))  # after the patrol jobs have settled the month
