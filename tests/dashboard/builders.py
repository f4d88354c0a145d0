"""A history for the dashboard tests, made through the services day by day as the app would live it.

Site TEST (four grids, a daily 08:00 plan since 2026-08-20) and a smaller site OTHER, up to NOW (a Wednesday
morning). Each day the plans are materialised, most patrols submitted on time, some late, some never (then
marked missed at the day's end); failed items become issues, and staff file quick reports; each issue is walked
through dispatch, fix, rework and close with seeded delays, stopping wherever NOW falls, some reports rejected.
Today has one patrol in every state a supervisor sees. Deterministic for a seed.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from gridpatrol.accounts import services as accounts
from gridpatrol.accounts.models import Team, TeamKind, User
from gridpatrol.core.roles import Role
from gridpatrol.core.transaction import job_transaction
from gridpatrol.grids import services as grids
from gridpatrol.grids.models import Grid, Site
from gridpatrol.issues import services as issues
from gridpatrol.issues.models import Issue, IssueState
from gridpatrol.patrols import services as patrols
from gridpatrol.patrols.models import Patrol, PlanKind, Recurrence
from gridpatrol.standards.models import ChecklistTemplate, TemplateItem, TemplateVersion
from tests import helpers
from tests.grids import builders as grid_builders
from tests.issues.builders import jpeg

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2026, 11, 18, 10, 30, tzinfo=SHANGHAI)
HISTORY_FROM = dt.date(2026, 8, 20)
CATEGORIES = ("water_power", "equipment", "fire_safety", "sanitation", "assets")

# username → (roles, site code or None for all sites)
PEOPLE = {
    "boss_t": (("supervisor",), "TEST"), "boss_o": (("supervisor",), "OTHER"),
    "province": (("supervisor",), None), "root": (("admin",), None), "root_t": (("admin",), "TEST"),
    "leader0": (("grid_leader", "staff"), "TEST"), "leader1": (("grid_leader", "staff"), "TEST"),
    "leader2": (("grid_leader", "staff"), "TEST"), "leader3": (("grid_leader", "staff"), "TEST"),
    "leader_o": (("grid_leader", "staff"), "OTHER"),
    "fixer": (("rectifier",), None), "clerk": (("staff",), "TEST"), "clerk_o": (("staff",), "OTHER"),
}


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


@dataclass(frozen=True)
class World:
    site_ids: dict[str, int]
    now: dt.datetime


def _user(session, username: str) -> User:
    return session.scalar(sa.select(User).where(User.username == username))


def _template(session) -> ChecklistTemplate:
    template = ChecklistTemplate(code="DASH", name="看板测试标准", active=True)
    version = TemplateVersion(template=template, number=1, status="published",
                              published_at=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    for i, category in enumerate(CATEGORIES):
        version.items.append(TemplateItem(position=i, code=f"D-{i + 1:02d}", category=category, text=f"检查项 {i + 1}",
                                          weight=1, allow_na=True, critical=i == 2, photo_on_fail=False))
    session.add(template)
    session.flush()
    return template


def _plan(session, site: Site, codes, *, window: str, minutes: int, grace: int, starts_on: dt.date,
          name: str = "每日巡查") -> None:
    grid_rows = {g.code: g for g in session.scalars(sa.select(Grid).where(Grid.site_id == site.id))}
    patrols.save_plan(session, site, patrols.PlanInput(
        name=name, kind=PlanKind.ROUTINE, template=session.scalar(sa.select(ChecklistTemplate)),
        recurrence=Recurrence.DAILY, window_start=dt.time.fromisoformat(window), window_minutes=minutes,
        grace_minutes=grace, starts_on=starts_on, grids=[grid_rows[c] for c in codes], patroller_grids={}),
        actor=None, now=dt.datetime.combine(HISTORY_FROM, dt.time(0), tzinfo=SHANGHAI) - dt.timedelta(days=1))


def build(app, *, seed: int = 11, history_from: dt.date = HISTORY_FROM, now: dt.datetime = NOW) -> World:
    site_ids = {"TEST": grid_builders.make_site(app, "TEST"), "OTHER": grid_builders.make_site(app, "OTHER")}
    with app.app_context(), job_transaction() as session:
        for username, (roles, code) in PEOPLE.items():
            accounts.create_user(session, username=username, display_name=f"{username}名",
                                 password=helpers.DEFAULT_PASSWORD,
                                 roles=[(Role(r), site_ids[code] if code else None) for r in roles])
        team = accounts.save_team(session, None, name="维修班组", kind=TeamKind.MAINTENANCE, phone=None, active=True,
                                  actor=None)
        fixer = _user(session, "fixer")
        fixer.teams.append(team)
        _template(session)
        session.flush()
    with app.app_context(), job_transaction() as session:
        test = session.get(Site, site_ids["TEST"])
        other = session.get(Site, site_ids["OTHER"])
        grids.import_grids(session, test, grid_builders.two_by_two(
            A01={"leader": "leader0"}, A02={"leader": "leader1"}, A03={"leader": "leader2"}, A04={"leader": "leader3"}),
            at=grid_builders.ASSIGNED_AT)
        grids.import_grids(session, other, grid_builders.two_by_two(A01={"leader": "leader_o"}),
                           at=grid_builders.ASSIGNED_AT)
        _plan(session, test, ("A01", "A02", "A03", "A04"), window="08:00", minutes=120, grace=60,
              starts_on=history_from)
        _plan(session, other, ("A01",), window="08:00", minutes=120, grace=60, starts_on=now.date() - dt.timedelta(days=20))
        today = now.astimezone(SHANGHAI).date()
        # Today only: an early round (missed or done by 10:30), a round open now and one this afternoon.
        _plan(session, test, ("A01", "A02"), window="06:00", minutes=60, grace=30, starts_on=today, name="早巡")
        _plan(session, test, ("A03",), window="10:00", minutes=120, grace=60, starts_on=today, name="上午巡")
        _plan(session, test, ("A04",), window="15:00", minutes=60, grace=30, starts_on=today, name="下午巡")
        _live(session, random.Random(seed), history_from, now, [test, other])
    return World(site_ids, now)


def _live(session, rng: random.Random, first: dt.date, now: dt.datetime, sites: list[Site]) -> None:
    team = session.scalar(sa.select(Team))
    boss = {site.id: _user(session, "boss_t" if site.code == "TEST" else "boss_o") for site in sites}
    fixer = _user(session, "fixer")
    today = now.astimezone(SHANGHAI).date()
    day = first
    while day <= today:
        midnight = dt.datetime.combine(day, dt.time(0), tzinfo=SHANGHAI)
        patrols.materialize(session, min(midnight, now))
        if day == today:
            patrols.materialize(session, now)
        day_patrols = list(session.scalars(sa.select(Patrol).where(
            Patrol.window_start >= midnight, Patrol.window_start < midnight + dt.timedelta(days=1))
            .order_by(Patrol.site_id, Patrol.window_start, Patrol.grid_id)))
        for patrol in day_patrols:
            if day == today:
                _today(session, patrol, now)
                continue
            roll = rng.random()
            if roll < 0.78:
                done = patrol.window_start + dt.timedelta(minutes=rng.randint(10, 110))
            elif roll < 0.88:
                done = patrol.due_at + dt.timedelta(minutes=rng.randint(1, 55))
            else:
                continue
            results = ["fail" if rng.random() < 0.07 else "pass" for _ in CATEGORIES]
            _submit(session, patrol, done, results)
        for site in sites:
            if day < today and rng.random() < 0.35:
                when = midnight + dt.timedelta(hours=rng.randint(9, 16), minutes=rng.randint(0, 59))
                reporter = _user(session, "clerk" if site.code == "TEST" else "clerk_o")
                issue = issues.report(session, reporter, site, lon=grid_builders.LON0 + 0.0005 + 0.001 * rng.randint(0, 1),
                                      lat=grid_builders.LAT0 - 0.0005 - 0.001 * rng.randint(0, 1), level=0,
                                      category=rng.choice(CATEGORIES), severity=rng.choice(("minor", "minor", "major")),
                                      description="随手拍：发现问题", photos={"p1": jpeg()}, now=when)
                _walk(session, issue, rng, now, boss[site.id], fixer, team, may_reject=True)
        for issue in session.scalars(sa.select(Issue).where(Issue.reported_at >= midnight,
                                                            Issue.reported_at < midnight + dt.timedelta(days=1),
                                                            Issue.source == "patrol")).all():
            _walk(session, issue, rng, now, boss[issue.site_id], fixer, team, may_reject=False)
        end = midnight + dt.timedelta(days=1)
        patrols.mark_missed(session, min(end, now))
        day += dt.timedelta(days=1)


def _submit(session, patrol: Patrol, done: dt.datetime, results) -> None:
    items = sorted(session.scalars(sa.select(TemplateItem).where(TemplateItem.version_id == patrol.template_version_id)),
                   key=lambda i: i.position)
    body = {"client_uuid": str(uuid.uuid4()), "completed_at": done.isoformat(),
            "answers": [{"item_id": item.id, "result": result} for item, result in zip(items, results)]}
    patrols.submit(session, patrol, session.get(User, patrol.assignee_id), body, {},
                   now=done + dt.timedelta(minutes=1))


def _today(session, patrol: Patrol, now: dt.datetime) -> None:
    """Today, as of 10:30: 06:00 round — A01 done, A02 missed (grace over, not yet marked); 08:00 round — A01 done,
    A02 done late, A03 and A04 late (in grace); 10:00 round — A03 in progress; 15:00 round — A04 upcoming."""
    code = session.get(Grid, patrol.grid_id).code
    start = patrol.window_start.astimezone(SHANGHAI).time()
    if start == dt.time(6) and code == "A01":
        _submit(session, patrol, patrol.window_start + dt.timedelta(minutes=30), ["pass"] * len(CATEGORIES))
    elif start == dt.time(8) and code == "A01" and patrol.site_id == session.scalar(
            sa.select(Site.id).where(Site.code == "TEST")):
        _submit(session, patrol, patrol.window_start + dt.timedelta(minutes=40), ["pass", "fail", "pass", "pass", "pass"])
    elif start == dt.time(8) and code == "A02":
        _submit(session, patrol, patrol.due_at + dt.timedelta(minutes=10), ["pass"] * len(CATEGORIES))
    elif start == dt.time(10) and code == "A03":
        patrols.start(session, patrol, session.get(User, patrol.assignee_id), now - dt.timedelta(minutes=10))


def _walk(session, issue: Issue, rng: random.Random, now: dt.datetime, boss: User, fixer: User, team: Team, *,
          may_reject: bool) -> None:
    """Dispatch, start, fix, verify (sometimes failing first) with seeded delays; stops where `now` falls."""
    t = issue.reported_at
    if may_reject and rng.random() < 0.12:
        t += dt.timedelta(hours=rng.uniform(0.5, 6))
        if t < now:
            issues.reject(session, issue, boss, reason="invalid", note="不属实", now=t)
        return
    steps = [("dispatch", rng.uniform(0.5, 20))]
    if rng.random() < 0.1:  # stalled after dispatch: overdue sooner or later
        steps.append(("stall", 0))
    steps.append(("start", rng.uniform(0.5, 30)))
    steps.append(("fix", rng.uniform(1, 90)))
    if rng.random() < 0.2:
        steps += [("fail", rng.uniform(1, 20)), ("fix", rng.uniform(2, 40))]
    steps.append(("pass", rng.uniform(1, 30)))
    for action, hours in steps:
        t += dt.timedelta(hours=hours)
        if t >= now or action == "stall":
            return
        if action == "dispatch":
            issues.dispatch(session, issue, boss, team=team, now=t)
        elif action == "start":
            issues.start(session, issue, fixer, now=t)
        elif action == "fix":
            issues.report_fix(session, issue, fixer, note="已处理", photos={"a1": jpeg((20, 200, 20))}, now=t)
        elif action == "fail":
            issues.verify(session, issue, boss, passed=False, note="未修好", now=t)
        else:
            issues.verify(session, issue, boss, passed=True, now=t)
    assert issue.state == IssueState.CLOSED.value

