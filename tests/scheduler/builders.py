"""Builders for the scheduler tests: a large lattice of grids, and the patrols a plan should have made."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import sqlalchemy as sa
from shapely.geometry import box

from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.grids.models import Site
from gridpatrol.patrols import schedule
from gridpatrol.patrols.models import Patrol, PatrolPlan
from gridpatrol.scheduler.models import JobHeartbeat
from gridpatrol.workdays import services as workdays
from tests.grids import builders as grid_builders
from tests.patrols import builders as patrol_builders

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def codes(n: int) -> list[str]:
    return [f"L{row:02d}{col:02d}" for row in range(n) for col in range(n)]


def lattice(app, n: int) -> list[str]:
    """A site of n × n square grids (codes L0000…) inside its boundary, and a published 4-item template."""
    features = [grid_builders.feature(code, grid_builders.cell(i % n, i // n)) for i, code in enumerate(codes(n))]
    step = grid_builders.STEP
    grid_builders.make_site(app, boundary=box(grid_builders.LON0, grid_builders.LAT0 - n * step,
                                              grid_builders.LON0 + n * step, grid_builders.LAT0),
                            grids=grid_builders.collection(*features))
    with app.app_context(), job_transaction() as session:
        patrol_builders.make_template(session)
    return codes(n)


def today_in_shanghai() -> dt.date:
    return dt.datetime.now(SHANGHAI).date()


Key = tuple[int, int, dt.datetime]  # (plan_id, grid_id, window_start in UTC)


def expected_keys(app) -> set[Key]:
    """Every (plan, grid, window) a plan owes: windows from its first day up to its `materialized_until`."""
    keys: set[Key] = set()
    with app.app_context():
        session = db.session
        for plan in session.scalars(sa.select(PatrolPlan)):
            if plan.materialized_until is None:
                continue
            site = session.get(Site, plan.site_id)
            tz = zoneinfo.ZoneInfo(site.timezone)
            first = dt.datetime.combine(plan.starts_on, dt.time(0), tzinfo=tz)
            for window in schedule.windows(schedule.PlanRule.of(plan), tz, first, plan.materialized_until,
                                           workdays.calendar_for(session, site)):
                keys.update((plan.id, pg.grid_id, window.start) for pg in plan.plan_grids)
    return keys


def patrol_keys(app) -> list[Key]:
    """The (plan, grid, window) of every stored patrol, duplicates included (a list, not a set)."""
    with app.app_context():
        return [tuple(row) for row in db.session.execute(
            sa.select(Patrol.plan_id, Patrol.grid_id, Patrol.window_start))]


def duplicate_keys(app) -> list[tuple]:
    with app.app_context():
        return list(db.session.execute(
            sa.select(Patrol.plan_id, Patrol.grid_id, Patrol.window_start, sa.func.count())
            .group_by(Patrol.plan_id, Patrol.grid_id, Patrol.window_start).having(sa.func.count() > 1)))


def patrol_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Patrol))


def heartbeats(app) -> dict[str, JobHeartbeat]:
    with app.app_context():
        beats = {b.job: b for b in db.session.scalars(sa.select(JobHeartbeat))}
        db.session.expunge_all()
        return beats


def materialized_until(app) -> dict[int, dt.datetime | None]:
    with app.app_context():
        return dict(db.session.execute(sa.select(PatrolPlan.id, PatrolPlan.materialized_until)).all())


def second_site(app, code: str = "OTHER", *, grids=("A01", "A02"), starts_on: dt.date = dt.date(2026, 11, 2)) -> int:
    """Another 2×2 site (no leaders) with a daily 08:00 plan on `grids`, using the first template. Returns the
    plan's id. The site code sorts before TEST, so per-site jobs reach it first."""
    from gridpatrol.grids.models import Grid
    from gridpatrol.patrols import services as patrol_services
    from gridpatrol.patrols.models import PlanKind, Recurrence
    from gridpatrol.standards.models import ChecklistTemplate

    site_id = grid_builders.make_site(app, code, grids=grid_builders.two_by_two())
    with app.app_context(), job_transaction() as session:
        site = session.get(Site, site_id)
        rows = {g.code: g for g in session.scalars(sa.select(Grid).where(Grid.site_id == site_id))}
        data = patrol_services.PlanInput(
            name="每日巡查", kind=PlanKind.ROUTINE,
            template=session.scalar(sa.select(ChecklistTemplate).order_by(ChecklistTemplate.id)),
            recurrence=Recurrence.DAILY, window_start=dt.time(8), window_minutes=120, grace_minutes=60,
            starts_on=starts_on, grids=[rows[c] for c in grids], patroller_grids={})
        return patrol_services.save_plan(session, site, data, actor=None,
                                         now=patrol_builders.at("2026-09-30 00:00")).id


def patrols_per_site(app) -> dict[str, int]:
    with app.app_context():
        return dict(db.session.execute(
            sa.select(Site.code, sa.func.count(Patrol.id)).join(Patrol, Patrol.site_id == Site.id)
            .group_by(Site.code)).all())
