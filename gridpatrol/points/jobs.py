"""Scheduler job: close last month's points (月度锁定) once the close day has come.

From day `POINTS_CLOSE_DAY` (config, default 5) of a month on, in each site's own time zone, the previous month
is closed if it is still open. Until then supervisors may still settle appeals and late submissions of last
month in last month. Closing is idempotent (`services.close_month` does nothing for a closed month), so an
hourly run, a catch-up after downtime or a second scheduler change nothing twice.

Registered with `register_jobs()`, called from `gridpatrol.points.init_app`.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Optional

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridpatrol.core.time import local_day, month_start, previous_month  # previous_month: points.views imports it here
from gridpatrol.grids.models import Site
from gridpatrol.points import services

if TYPE_CHECKING:
    from gridpatrol.scheduler.jobs import SiteRef

EVERY_SECONDS = 3600


def close_months(session: Session, now: dt.datetime, *, close_day: int | None = None,
                 site: Optional[Site] = None) -> list[tuple[str, dt.date]]:
    """Close the previous month of `site` (else of every site) if its local date is on or after the close day.
    Returns the (site code, month) pairs closed by this run."""
    close_day = close_day if close_day is not None else int(current_app.config["POINTS_CLOSE_DAY"])
    sites = [site] if site is not None else list(session.scalars(select(Site).order_by(Site.code)))
    closed = []
    for each in sites:
        today = local_day(now, each.timezone)
        if today.day < close_day:
            continue
        month = previous_month(month_start(today))
        if services.is_closed(session, each.id, month):
            continue
        if services.close_month(session, each, month, actor=None, now=now):
            closed.append((each.code, month))
    return closed


def _run(session: Session, site: SiteRef, now: dt.datetime) -> list[tuple[str, dt.date]]:
    return close_months(session, now, site=session.get(Site, site.id))


def _summary(results: list[tuple[SiteRef, list[tuple[str, dt.date]]]]) -> str:
    closed = [pair for _site, pairs in results for pair in pairs]
    if not closed:
        return "no month to close"
    return "closed " + ", ".join(f"{code} {month:%Y-%m}" for code, month in closed)


def register_jobs() -> None:
    from gridpatrol.scheduler.jobs import Job, register

    register(Job("close_month", EVERY_SECONDS, _run,
                 "close last month's points from the configured day of the month (POINTS_CLOSE_DAY)",
                 per_site=True, summarize=_summary))
