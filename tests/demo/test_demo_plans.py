"""The demo's plans are those a real office runs: nobody is asked to patrol on a rest day, the weekly cross-check
and the monthly safety sweep move to the next working day when their day is a rest day."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import sqlalchemy as sa

from gridpatrol.core.transaction import job_transaction
from gridpatrol.demo import services as demo
from gridpatrol.extensions import db
from gridpatrol.grids.models import Site
from gridpatrol.patrols import services as patrols
from gridpatrol.patrols.models import Patrol, PatrolPlan, PatrolStatus
from gridpatrol.workdays import services as workdays

ZONE = zoneinfo.ZoneInfo("Asia/Shanghai")
START = dt.datetime(2026, 9, 1, tzinfo=ZONE)
END = dt.datetime(2026, 12, 1, tzinfo=ZONE)  # September to November: National Day, a Sunday 15th


def test_three_months_of_the_demos_plans_keep_to_working_days(app):
    with app.app_context(), job_transaction() as session:
        demo.load_demo(session, history_start=START)
        # The plans' patrols of three months, made ahead of time (still scheduled: nothing is marked missed).
        patrols.materialize(session, START, horizon=END - START)
    with app.app_context():
        session = db.session
        plans = {p.id: p for p in session.scalars(sa.select(PatrolPlan))}
        calendars = {s.id: workdays.calendar_for(session, s) for s in session.scalars(sa.select(Site))}
        rows = session.execute(sa.select(Patrol.plan_id, Patrol.site_id, Patrol.window_start, Patrol.status)).all()
        assert {status for *_rest, status in rows} == {PatrolStatus.SCHEDULED.value}
        days: dict[str, set[dt.date]] = {}
        for plan_id, site_id, start, _status in rows:
            day = start.astimezone(ZONE).date()
            assert calendars[site_id].is_workday(day), (plans[plan_id].name, day)
            days.setdefault(f"{plans[plan_id].site_id}:{plans[plan_id].kind}", set()).add(day)
        main = session.scalar(sa.select(Site).where(Site.code == demo.MAIN_SITE))
        sweep = days[f"{main.id}:safety_sweep"]
        # 15 September (Tuesday) and 15 October (Thursday) as named; Sunday 15 November on Monday the 16th.
        assert sorted(sweep) == [dt.date(2026, 9, 15), dt.date(2026, 10, 15), dt.date(2026, 11, 16)]
        cross = days[f"{main.id}:cross_check"]
        # Wednesday 7 October is in the National Day holiday: that week's cross-check is on Thursday the 8th.
        assert dt.date(2026, 10, 7) not in cross and dt.date(2026, 10, 8) in cross
        assert len(cross) == 13 and all(d.weekday() == 2 for d in cross - {dt.date(2026, 10, 8)})
        routine = days[f"{main.id}:routine"]
        assert dt.date(2026, 10, 10) in routine, "the make-up Saturday (调休) is worked"
        assert len(routine) == sum(calendars[main.id].is_workday(START.date() + dt.timedelta(days=i))
                                   for i in range((END - START).days))
