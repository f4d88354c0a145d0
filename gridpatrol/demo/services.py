"""Loading the demo data. Every loader goes through the domain services, never raw inserts."""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
from dataclasses import dataclass
from typing import Callable, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from gridpatrol.accounts import services as accounts
from gridpatrol.accounts.models import TeamKind, User
from gridpatrol.core.roles import Role
from gridpatrol.core.time import utcnow

DEMO_PASSWORD = "demo2026"


@functools.cache
def demo_password_hash() -> str:
    """DEMO_PASSWORD hashed once for all the demo's accounts (it is printed for everyone to read anyway)."""
    return accounts.hash_password(DEMO_PASSWORD)


MAINTENANCE_CREW = "机关后勤维修班组"
PROPERTY_COMPANY = "瑞安物业服务有限公司"
LIFT_VENDOR = "通达电梯维保有限公司"

DEMO_TEAMS = (
    (MAINTENANCE_CREW, TeamKind.MAINTENANCE, "0571-8800 1201"),
    (PROPERTY_COMPANY, TeamKind.PROPERTY, "0571-8800 1300"),
    (LIFT_VENDOR, TeamKind.VENDOR, "400-820 1880"),
)


MAIN_SITE = "DHXZ"  # 东湖区行政中心, the 49-grid compound (grids/demo.py)
ANNEX_SITE = "SSBG"  # 泗水办公区, a small annex with its own leaders and supervisor


@dataclass(frozen=True)
class DemoLogin:
    username: str
    display_name: str
    roles: tuple[Role, ...]
    team: Optional[str] = None  # the team (班组 or company) a rectifier works in
    site: Optional[str] = None  # the site (code) the roles are for; None: all sites


# Every team has at least one rectifier: work dispatched to a team nobody in can act is refused.
# The teams serve both sites (the crew and the companies are the centre's contractors), so their rectifiers'
# roles are for all sites; the admin and the provincial supervisor work at all sites too.
DEMO_LOGINS = (
    DemoLogin("admin", "系统管理员", (Role.ADMIN,)),
    DemoLogin("zhuguan", "陈主任", (Role.SUPERVISOR,), site=MAIN_SITE),
    DemoLogin("wangge01", "李建国", (Role.GRID_LEADER, Role.STAFF), site=MAIN_SITE),
    DemoLogin("weixiu", "张师傅", (Role.RECTIFIER,), team=MAINTENANCE_CREW),
    DemoLogin("wuye", "刘师傅", (Role.RECTIFIER,), team=PROPERTY_COMPANY),
    DemoLogin("dianti", "孙工", (Role.RECTIFIER,), team=LIFT_VENDOR),
    DemoLogin("zhigong", "王小红", (Role.STAFF,), site=MAIN_SITE),
    DemoLogin("sishui", "周科长", (Role.SUPERVISOR,), site=ANNEX_SITE),
    DemoLogin("sishui01", "吴海燕", (Role.GRID_LEADER, Role.STAFF), site=ANNEX_SITE),
    DemoLogin("sishui02", "郑建华", (Role.GRID_LEADER, Role.STAFF), site=ANNEX_SITE),
    DemoLogin("shengji", "何处长", (Role.SUPERVISOR,)),
)

# Later capabilities append (name, loader) pairs; loaders receive the session and run once, in order.
LOADERS: list[tuple[str, Callable[[Session], None]]] = []


def register_loader(name: str, loader: Callable[[Session], None], *, before: Optional[str] = None) -> None:
    """Add a loader at the end, or just before the loader named `before` (sites before the accounts that
    are given roles there)."""
    if any(existing == name for existing, _ in LOADERS):
        return
    names = [existing for existing, _ in LOADERS]
    LOADERS.insert(names.index(before) if before in names else len(LOADERS), (name, loader))


def demo_loaded(session: Session) -> bool:
    return session.scalar(select(User.id).where(User.username == DEMO_LOGINS[0].username)) is not None


def load_accounts(session: Session) -> None:
    teams = {
        name: accounts.save_team(session, None, name=name, kind=kind, phone=phone, active=True, actor=None)
        for name, kind, phone in DEMO_TEAMS
    }
    for login in DEMO_LOGINS:
        member_of = [teams[login.team]] if login.team else []
        site_id = accounts.site_id_for_code(session, login.site) if login.site else None
        accounts.create_user(session, username=login.username, display_name=login.display_name,
                             password=DEMO_PASSWORD, password_hash=demo_password_hash(),
                             roles=[(role, site_id) for role in login.roles],
                             teams=member_of, actor=None)


register_loader("accounts", load_accounts)


# When the demo's past begins (set by `load_demo` for its loaders): grids get their leaders from then on and the
# plans start then, so that a history (gridpatrol.history) can be played from that day. None: the demo starts now.
_history_start: contextvars.ContextVar[Optional[dt.datetime]] = contextvars.ContextVar("demo_history_start",
                                                                                       default=None)


def starts_at() -> dt.datetime:
    """The instant the demo world begins: the start of its history, or now when it has none."""
    return _history_start.get() or utcnow()


def has_history() -> bool:
    return _history_start.get() is not None


def load_demo(session: Session, *, history_start: Optional[dt.datetime] = None) -> list[str]:
    """Run every registered loader; returns their names. The caller owns the transaction.

    `history_start`: the world begins then (leaders assigned, plans starting), and no patrol is made yet: the
    caller plays the history from there (gridpatrol.history). Without it the world begins now."""
    token = _history_start.set(history_start)
    try:
        for _name, loader in LOADERS:
            loader(session)
    finally:
        _history_start.reset(token)
    return [name for name, _ in LOADERS]
