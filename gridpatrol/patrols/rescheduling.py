"""Patrols when a year's official calendar arrives (workdays.official_year_changing).

Patrols are made a day ahead (`services.HORIZON`). Those already made but not started — scheduled, window
still to come — are checked against the plan's windows by the new calendar: a patrol on what is now a day off
is dropped, and a window on what is now a working day (a make-up Saturday) is made by `services.materialize`.
Patrols started, submitted or missed are never touched. A patrol whose window stays is kept as it is (same id:
a leader may have its form open offline).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Optional

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridpatrol.core.time import format_local
from gridpatrol.grids.models import Site
from gridpatrol.patrols import schedule, services
from gridpatrol.patrols.models import Patrol, PatrolPlan, PatrolStatus
from gridpatrol.workdays import services as workdays


def follow_official_year(session: Session, *, year: int, days: dict, now: dt.datetime, actor,
                         apply: bool) -> workdays.CalendarEffect:
    plans = session.scalars(select(PatrolPlan).where(
        PatrolPlan.active.is_(True), PatrolPlan.materialized_until > now).order_by(PatrolPlan.id)).all()
    calendars: dict[int, workdays.WorkdayCalendar] = {}
    dropped: list[Patrol] = []
    added = 0
    for plan in plans:
        site = session.get(Site, plan.site_id)
        if site.id not in calendars:
            calendars[site.id] = workdays.calendar_for(session, site).with_year(year, days)
        tz = zoneinfo.ZoneInfo(site.timezone)
        wanted = {window.start for window in schedule.windows(schedule.PlanRule.of(plan), tz, now,
                                                                plan.materialized_until, calendars[site.id])}
        made = session.scalars(select(Patrol).where(Patrol.plan_id == plan.id, Patrol.window_start > now)).all()
        made_starts = {patrol.window_start for patrol in made}
        dropped += [patrol for patrol in made
                    if patrol.status == PatrolStatus.SCHEDULED.value and patrol.window_start not in wanted]
        added += len(wanted - made_starts) * len(plan.plan_grids)
        if apply:
            plan.materialized_until = now  # materialize() makes the missing windows from now on
    if apply:
        for patrol in dropped:
            session.delete(patrol)
        session.flush()
        services.materialize(session, now)
    details = tuple(_("%(grid)s %(start)s: dropped (now a day off)", grid=patrol.grid.code,
                      start=format_local(patrol.window_start)) for patrol in dropped[:20])
    label = ngettext("%(num)d patrol not yet started is rescheduled", "%(num)d patrols not yet started are "
                     "rescheduled", len(dropped) + added)
    return workdays.CalendarEffect("patrols_rescheduled", label, len(dropped) + added, details)


def _on_official_year_changing(session: Session, **kwargs) -> Optional[workdays.CalendarEffect]:
    return follow_official_year(session, **kwargs)


def connect_signals() -> None:
    workdays.official_year_changing.connect(_on_official_year_changing)
