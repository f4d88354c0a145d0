"""Demo patrol plans, as a real office runs them: for the compound a routine patrol on working days (the Chinese
official calendar with 调休), a weekly cross-check of the outdoor grids on Wednesday and a monthly safety sweep on
the 15th, both moved to the next working day when their day is a rest day (on_rest_day 'next': a holiday Wednesday,
a 15th on a weekend or in the National Day week); for the annex a routine patrol on working days. No patrol of the
demo falls on a rest day, so nobody is marked missed for a weekend. They start when the demo world begins
(`demo.starts_at`): today without a history, so the demo shows today's patrols rather than a month of misses; the
first day of the history with one, which then makes the patrols day by day (gridpatrol.history)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from gridpatrol.core.time import local_day, utcnow
from gridpatrol.demo import services as demo
from gridpatrol.grids import services as grids
from gridpatrol.patrols import services
from gridpatrol.patrols.models import PlanKind, Recurrence, RestDayRule
from gridpatrol.standards.models import ChecklistTemplate


def load_plans(session: Session) -> None:
    template = {t.code: t for t in session.scalars(select(ChecklistTemplate))}

    def plan(site, name, kind, code, recurrence, start, minutes, chosen, **extra):
        first_day = local_day(demo.starts_at(), site.timezone)
        patrollers = ({g.id: chosen[(i + 1) % len(chosen)] for i, g in enumerate(chosen)}
                      if kind is PlanKind.CROSS_CHECK else {})
        services.save_plan(session, site, services.PlanInput(
            name=name, kind=kind, template=template[code], recurrence=recurrence, window_start=start,
            window_minutes=minutes, grace_minutes=60, starts_on=first_day, grids=chosen, patroller_grids=patrollers,
            **extra), actor=None)

    main = grids.get_site(session, demo.MAIN_SITE)
    every_grid = grids.list_grids(session, main)
    outdoor = [g for g in every_grid if g.level == 0]
    plan(main, "网格日常巡查", PlanKind.ROUTINE, "RCXC", Recurrence.WORKDAYS, dt.time(8, 30), 8 * 60, every_grid)
    plan(main, "室外网格互检", PlanKind.CROSS_CHECK, "HJ", Recurrence.WEEKDAYS, dt.time(14, 0), 180, outdoor,
         weekdays=[2], on_rest_day=RestDayRule.NEXT)
    plan(main, "月度安全大排查", PlanKind.SAFETY_SWEEP, "AQPC", Recurrence.MONTHLY, dt.time(9, 0), 7 * 60, every_grid,
         month_day=15, on_rest_day=RestDayRule.NEXT)
    annex = grids.get_site(session, demo.ANNEX_SITE)
    plan(annex, "网格日常巡查", PlanKind.ROUTINE, "RCXC", Recurrence.WORKDAYS, dt.time(9, 0), 7 * 60,
         grids.list_grids(session, annex))
    if not demo.has_history():
        services.materialize(session, utcnow())


demo.register_loader("plans", load_plans)
