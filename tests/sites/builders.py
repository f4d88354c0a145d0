"""Two compounds in one installation, each with its own people, grids, plan, patrols, issues and points, and a
provincial supervisor and an administrator for both: the world in which every page must keep to its site."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from gridpatrol.accounts import services as accounts
from gridpatrol.accounts.models import Team, TeamKind, User
from gridpatrol.core.roles import Role
from gridpatrol.core.transaction import job_transaction
from gridpatrol.grids.models import Grid, Site
from gridpatrol.issues import services as issues
from gridpatrol.patrols import services as patrols
from gridpatrol.patrols.models import Patrol, PlanKind, Recurrence
from gridpatrol.points.models import PointsEntry
from tests import helpers
from tests.grids import builders as grid_builders
from tests.issues.builders import jpeg
from tests.patrols.builders import make_template

SITES = ("TEST", "OTHER")
SHANGHAI = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2026, 11, 18, 10, 0, tzinfo=SHANGHAI)

# username → (roles, the site they are given for or None for all sites)
PEOPLE = {
    "boss_a": (("supervisor",), "TEST"), "boss_b": (("supervisor",), "OTHER"),
    "province": (("supervisor",), None), "root": (("admin",), None),
    "leader_a": (("grid_leader", "staff"), "TEST"), "leader_b": (("grid_leader", "staff"), "OTHER"),
    "fixer_a": (("rectifier",), "TEST"), "fixer_b": (("rectifier",), "OTHER"),
    "clerk_a": (("staff",), "TEST"), "clerk_b": (("staff",), "OTHER"),
}


@dataclass(frozen=True)
class SiteObjects:
    code: str
    site_id: int
    issue_id: int
    patrol_id: int
    plan_id: int
    grid_id: int
    entry_id: int


def two_sites(app) -> dict[str, SiteObjects]:
    site_ids = {}
    for code in SITES:
        site_ids[code] = grid_builders.make_site(app, code)
    with app.app_context(), job_transaction() as session:
        for username, (roles, site_code) in PEOPLE.items():
            site_id = site_ids[site_code] if site_code else None
            accounts.create_user(session, username=username, display_name=username.title(),
                                 password=helpers.DEFAULT_PASSWORD, roles=[(Role(r), site_id) for r in roles])
        for code, team_name, fixer in (("TEST", "维修班组", "fixer_a"), ("OTHER", "物业公司", "fixer_b")):
            team = accounts.save_team(session, None, name=team_name, kind=TeamKind.MAINTENANCE, phone=None,
                                      active=True, actor=None)
            member = _user(session, fixer)
            member.teams.append(team)
        make_template(session)
        session.flush()
    world = {}
    for code, suffix in (("TEST", "a"), ("OTHER", "b")):
        with app.app_context(), job_transaction() as session:
            site = session.get(Site, site_ids[code])
            from gridpatrol.grids import services as grids

            grids.import_grids(session, site, grid_builders.two_by_two(A01={"leader": f"leader_{suffix}"}),
                               at=grid_builders.ASSIGNED_AT)
            world[code] = _fill_site(session, site, suffix)
    return world


def _fill_site(session, site: Site, suffix: str) -> SiteObjects:
    from gridpatrol.standards.models import ChecklistTemplate

    grid = session.scalar(sa.select(Grid).where(Grid.site_id == site.id, Grid.code == "A01"))
    plan = patrols.save_plan(session, site, patrols.PlanInput(
        name="每日巡查", kind=PlanKind.ROUTINE, template=session.scalar(sa.select(ChecklistTemplate)),
        recurrence=Recurrence.DAILY, window_start=dt.time(8), window_minutes=120, grace_minutes=60,
        starts_on=dt.date(2026, 11, 17), grids=[grid], patroller_grids={}), actor=None,
        now=dt.datetime(2026, 11, 16, tzinfo=SHANGHAI))
    patrols.materialize(session, NOW, site=site)
    patrol = session.scalar(sa.select(Patrol).where(Patrol.site_id == site.id).order_by(Patrol.window_start))
    issue = issues.report(session, _user(session, f"clerk_{suffix}"), site, lon=grid_builders.LON0 + 0.0005,
                          lat=grid_builders.LAT0 - 0.0005, level=0, category="water_power",
                          description=f"{site.code} 水龙头漏水", photos={"p1": jpeg()}, now=NOW)
    team = session.scalar(sa.select(Team).where(Team.name == ("维修班组" if suffix == "a" else "物业公司")))
    issues.dispatch(session, issue, _user(session, f"boss_{suffix}"), team=team, now=NOW)
    session.flush()
    entry = session.scalar(sa.select(PointsEntry).where(PointsEntry.site_id == site.id))
    return SiteObjects(site.code, site.id, issue.id, patrol.id, plan.id, grid.id, entry.id if entry else 0)


def _user(session, username: str) -> User:
    return session.scalar(sa.select(User).where(User.username == username))
