"""A small compound with every role, and issues in any state, for the rectification tests."""

from __future__ import annotations

import datetime as dt
import io

import sqlalchemy as sa
from PIL import Image

from gridpatrol.accounts import services as accounts
from gridpatrol.accounts.models import Team, TeamKind, User
from gridpatrol.core.transaction import job_transaction
from gridpatrol.grids.models import Site
from gridpatrol.issues import services
from gridpatrol.issues.models import Issue
from tests import helpers
from tests.grids import builders as grid_builders

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
USERS = {
    "boss": ("supervisor",), "boss2": ("supervisor",), "root": ("admin",),
    "leader0": ("grid_leader", "staff"), "leader1": ("grid_leader", "staff"),
    "fixer": ("rectifier",), "fixer2": ("rectifier",), "outsider": ("rectifier",),
    "clerk": ("staff",), "clerk2": ("staff",),
}


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def jpeg(color=(40, 120, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buffer, "JPEG")
    return buffer.getvalue()


def world(app) -> None:
    for username, roles in USERS.items():
        helpers.make_user(app, username, roles=roles)
    grid_builders.make_site(app, grids=grid_builders.two_by_two(A01={"leader": "leader0"}, A02={"leader": "leader1"}))
    with app.app_context(), job_transaction() as session:
        team = accounts.save_team(session, None, name="维修班组", kind=TeamKind.MAINTENANCE, phone=None, active=True,
                                  actor=None)
        members = [user(session, name) for name in ("fixer", "fixer2")]
        for member in members:
            member.teams.append(team)
        session.flush()


def user(session, username: str) -> User:
    return session.scalar(sa.select(User).where(User.username == username))


def team(session) -> Team:
    return session.scalar(sa.select(Team))


def file_report(app, reporter="clerk", *, lon=120.1505, lat=30.2795, category="water_power", when="2026-11-18 09:00",
                description="三楼卫生间水龙头漏水") -> int:
    with app.app_context(), job_transaction() as session:
        issue = services.report(session, user(session, reporter), session.scalar(sa.select(Site)), lon=lon, lat=lat,
                                level=0, category=category, description=description, photos={"p1": jpeg()},
                                now=at(when))
        return issue.id


def advance(app, issue_id: int, to: str, *, when="2026-11-18 10:00") -> None:
    """Walk an issue through the happy path up to state `to` ("deferred": dispatched, then deferred by boss)."""
    if to == "deferred":
        advance(app, issue_id, "dispatched", when=when)
        with app.app_context(), job_transaction() as session:
            services.defer(session, session.get(Issue, issue_id), user(session, "boss"), note="等待预算",
                           now=at(when))
        return
    path = ["reported", "dispatched", "in_progress", "awaiting_verification", "closed"]
    with app.app_context(), job_transaction() as session:
        issue = session.get(Issue, issue_id)
        now = at(when)
        for state in path[path.index(issue.state) + 1: path.index(to) + 1]:
            if state == "dispatched":
                services.dispatch(session, issue, user(session, "boss"), team=team(session), now=now)
            elif state == "in_progress":
                services.start(session, issue, user(session, "fixer"), now=now)
            elif state == "awaiting_verification":
                services.report_fix(session, issue, user(session, "fixer"), note="已更换阀芯",
                                    photos={"a1": jpeg((20, 200, 20))}, now=now)
            elif state == "closed":
                services.verify(session, issue, user(session, "boss"), passed=True, now=now)
