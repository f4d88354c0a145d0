"""A compound of six grids in every map status at a chosen `now`, built through the services (patrols submitted
with explicit times, issues reported and moved through the workflow), for the map, grid page and browser tests.

At `now` (the site's N = 7 days):
* A01 red: an issue dispatched 10 days ago, past its deadline; never patrolled (red wins over grey);
* A02 amber: patrolled yesterday with item 3 failed (an open issue from the patrol) and a quick report an hour ago;
* A03 amber: patrolled yesterday, today's patrol (00:00, one minute, no grace) missed;
* A04 grey: last patrolled 10 days ago;
* A05 green: patrolled yesterday, its one issue closed;
* A06 no leader and never patrolled: grey, with the no-leader mark.
"""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from shapely.geometry import box

from gridpatrol.accounts import services as accounts
from gridpatrol.accounts.models import TeamKind, User
from gridpatrol.core.time import day_bounds, local_day
from gridpatrol.core.transaction import job_transaction
from gridpatrol.grids.models import Grid, Site
from gridpatrol.issues import services as issues
from gridpatrol.issues.models import Issue
from gridpatrol.patrols import services as patrols
from gridpatrol.patrols.models import Patrol, PlanKind, Recurrence
from gridpatrol.standards.models import ChecklistTemplate, TemplateItem
from tests import helpers
from tests.grids import builders as grid_builders
from tests.issues.builders import jpeg
from tests.patrols.builders import make_template

TZ = "Asia/Shanghai"
CODES = ("A01", "A02", "A03", "A04", "A05", "A06")
LEADERS = {"A01": "lead1", "A02": "lead2", "A03": "lead3", "A04": "lead4", "A05": "lead5"}
EXPECTED = {"A01": "overdue", "A02": "attention", "A03": "attention", "A04": "uncovered", "A05": "ok",
            "A06": "uncovered"}
FAILED_ITEM_TEXT = "检查项 3"
NOW = dt.datetime(2026, 11, 18, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))  # the tests' usual moment


def six_grids() -> str:
    """A01..A06 in a 3×2 block (west→east, north→south), A06 without a leader."""
    return grid_builders.collection(*(
        grid_builders.feature(code, grid_builders.cell(i % 3, i // 3),
                              **({"leader": LEADERS[code]} if code in LEADERS else {}))
        for i, code in enumerate(CODES)))


def _local(day: dt.date, hh: int, mm: int = 0, ss: int = 0) -> dt.datetime:
    return day_bounds(day, TZ)[0] + dt.timedelta(hours=hh, minutes=mm, seconds=ss)


def _user(session, username: str) -> User:
    return session.scalar(sa.select(User).where(User.username == username))


def _plan(session, site, name, codes, *, window: dt.time, minutes: int, grace: int, starts_on, ends_on):
    grids = [session.scalar(sa.select(Grid).where(Grid.site_id == site.id, Grid.code == c)) for c in codes]
    return patrols.save_plan(session, site, patrols.PlanInput(
        name=name, kind=PlanKind.ROUTINE, template=session.scalar(sa.select(ChecklistTemplate)),
        recurrence=Recurrence.DAILY, window_start=window, window_minutes=minutes, grace_minutes=grace,
        starts_on=starts_on, ends_on=ends_on, grids=grids), actor=None, now=_local(starts_on, 0) - dt.timedelta(days=1))


def _submit(session, site, code: str, day: dt.date, at: dt.datetime, *, fail: tuple[int, ...] = ()) -> Patrol:
    start, end = day_bounds(day, TZ)
    patrol = session.scalar(sa.select(Patrol).join(Grid).where(
        Grid.site_id == site.id, Grid.code == code, Patrol.window_start >= start, Patrol.window_start < end))
    items = session.scalars(sa.select(TemplateItem).where(TemplateItem.version_id == patrol.template_version_id)
                            .order_by(TemplateItem.position)).all()
    payload = {"client_uuid": str(uuid.uuid4()),
               "answers": [{"item_id": item.id, "result": "fail" if n in fail else "pass", "note": ""}
                           for n, item in enumerate(items)]}
    patrols.submit(session, patrol, session.get(User, patrol.assignee_id), payload, {}, now=at)
    return patrol


def _report(session, site, code: str, text: str, at: dt.datetime) -> Issue:
    grid = session.scalar(sa.select(Grid).where(Grid.site_id == site.id, Grid.code == code))
    point = grid.geometry.representative_point()
    return issues.report(session, _user(session, "clerk"), site, lon=point.x, lat=point.y, level=0,
                         category="water_power", description=text, photos={"p": jpeg()}, now=at)


def build(app, now: dt.datetime, *, site_code: str = "TEST") -> dict[str, int]:
    """The world at `now`; returns grid code → id."""
    for username, roles in (("boss", ("supervisor",)), ("fixer", ("rectifier",)), ("clerk", ("staff",)),
                            *((name, ("grid_leader", "staff")) for name in LEADERS.values())):
        helpers.make_user(app, username, roles=roles)
    grid_builders.make_site(app, site_code, grids=six_grids(), at=now - dt.timedelta(days=60),
                            boundary=box(grid_builders.LON0, grid_builders.LAT0 - 2 * grid_builders.STEP,
                                         grid_builders.LON0 + 3 * grid_builders.STEP, grid_builders.LAT0))
    today = local_day(now, TZ)
    day = lambda n: today - dt.timedelta(days=n)  # noqa: E731
    with app.app_context(), job_transaction() as session:
        site = session.scalar(sa.select(Site).where(Site.code == site_code))
        team = accounts.save_team(session, None, name="维修班组", kind=TeamKind.MAINTENANCE, phone=None, active=True,
                                  actor=None)
        fixer = _user(session, "fixer")
        fixer.teams.append(team)
        make_template(session)
        _plan(session, site, "零点巡查", ["A03"], window=dt.time(0), minutes=1, grace=0, starts_on=day(1), ends_on=None)
        _plan(session, site, "每日巡查", ["A02", "A05"], window=dt.time(8), minutes=120, grace=60, starts_on=day(3),
              ends_on=day(1))
        _plan(session, site, "旧巡查", ["A04"], window=dt.time(8), minutes=120, grace=60, starts_on=day(12),
              ends_on=day(10))
        patrols.materialize(session, now, site=site)
        _submit(session, site, "A03", day(1), _local(day(1), 0, 0, 30))
        _submit(session, site, "A02", day(1), _local(day(1), 8, 30), fail=(2,))
        _submit(session, site, "A05", day(1), _local(day(1), 8, 40))
        _submit(session, site, "A04", day(10), _local(day(10), 8, 30))

        boss = _user(session, "boss")
        overdue = _report(session, site, "A01", "A01 配电箱门损坏", now - dt.timedelta(days=10))
        issues.dispatch(session, overdue, boss, team=team, now=now - dt.timedelta(days=10))
        _report(session, site, "A02", "A02 水龙头漏水", now - dt.timedelta(hours=1))
        closed = _report(session, site, "A05", "A05 灯不亮", now - dt.timedelta(days=5))
        issues.dispatch(session, closed, boss, team=team, now=now - dt.timedelta(days=5))
        issues.start(session, closed, fixer, now=now - dt.timedelta(days=5))
        issues.report_fix(session, closed, fixer, note="已更换灯管", photos={"a": jpeg((20, 200, 20))},
                          now=now - dt.timedelta(days=4))
        issues.verify(session, closed, boss, passed=True, now=now - dt.timedelta(days=4))
        return dict(session.execute(sa.select(Grid.code, Grid.id).where(Grid.site_id == site.id)).all())

