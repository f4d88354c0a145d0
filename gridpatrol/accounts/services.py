"""Account operations. Every function flushes and leaves the commit to the request or job."""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Callable, Iterable, Optional, Union

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, g
from flask_babel import gettext as _
from flask_login import AnonymousUserMixin
from sqlalchemy import Select, String, bindparam, cast, column, func, or_, select, table, update
from sqlalchemy.orm import Session, selectinload

from gridpatrol.accounts import login_limits
from gridpatrol.accounts.models import ApiToken, Team, TeamKind, User, UserRole, UserSession
from gridpatrol.accounts.passwords import check_new_password
from gridpatrol.audit import services as audit
from gridpatrol.core.errors import DomainError
from gridpatrol.core.roles import Role
from gridpatrol.core.time import utcnow
from gridpatrol.extensions import db

# Audit actions of this module (audit/labels.py has their words).
USER_UNLOCKED = "user.unlocked"
CURRENT_PASSWORD_WRONG = "password.current_wrong"

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,39}$")


class AnonymousUser(AnonymousUserMixin):
    locale = None
    roles: set[Role] = set()

    def has_role(self, role: Role, site_id=None) -> bool:
        return False

    def has_any_role(self, *roles: Role, site_id=None) -> bool:
        return False

    def site_ids(self):
        return set()

    def may_enter_site(self, site_id: int) -> bool:
        return False


# A role given to a user: a Role for all sites, or (Role, site id) for one site.
RoleGrant = Union[Role, tuple[Role, Optional[int]]]


def _grants(roles: Iterable[RoleGrant]) -> list[tuple[Role, Optional[int]]]:
    grants = {(r, None) if isinstance(r, Role) else (Role(r[0]), r[1]) for r in roles}
    return sorted(grants, key=lambda g: (g[0].value, g[1] or 0))


def _role_rows(user: User, grants: list[tuple[Role, Optional[int]]]) -> list[UserRole]:
    existing = {(Role(r.role), r.site_id): r for r in user.role_rows}
    return [existing.get(g) or UserRole(role=g[0].value, site_id=g[1]) for g in grants]


# --- passwords -------------------------------------------------------------------------------------
def _hasher() -> PasswordHasher:
    cfg = current_app.config
    key = (cfg["ARGON2_TIME_COST"], cfg["ARGON2_MEMORY_COST_KIB"], cfg["ARGON2_PARALLELISM"])
    cache = current_app.extensions.setdefault("gridpatrol_hashers", {})
    if key not in cache:
        cache[key] = PasswordHasher(time_cost=key[0], memory_cost=key[1], parallelism=key[2])
    return cache[key]


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def _verify_password(user: Optional[User], password: str) -> bool:
    if user is None:
        # Spend the same time as a real check, so timing does not reveal which usernames exist.
        _hasher().hash(password)
        return False
    try:
        return _hasher().verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# --- users -----------------------------------------------------------------------------------------
def normalise_username(username: str) -> str:
    return username.strip().lower()


def get_user_by_username(session: Session, username: str) -> Optional[User]:
    return session.scalar(select(User).where(User.username == normalise_username(username)))


def create_user(
    session: Session,
    *,
    username: str,
    display_name: str,
    password: str,
    roles: Iterable[RoleGrant],
    phone: Optional[str] = None,
    locale: Optional[str] = None,
    teams: Iterable[Team] = (),
    actor: Optional[User] = None,
    email: Optional[str] = None,
    password_hash: Optional[str] = None,
) -> User:
    """A new active user. `password_hash`: the hash of `password` when the caller has it already (the demo's
    accounts share one public password: hashing it once saves ~170 ms per account).

    The password is not judged here: a caller taking it from a person (the admin's form, `gridpatrol users
    create`) checks it with `passwords.check_new_password` first; the demo and the test builders choose their own."""
    username = normalise_username(username)
    if not USERNAME_RE.match(username):
        raise DomainError(_("A username has 2 to 40 letters, digits, dots, dashes or underscores."))
    if get_user_by_username(session, username) is not None:
        raise DomainError(_("The username %(name)s is taken.", name=username))
    grants = _grants(roles)
    if not grants:
        raise DomainError(_("A user needs at least one role."))
    user = User(
        username=username, display_name=display_name.strip(), phone=(phone or None), email=_email(email),
        password_hash=password_hash or hash_password(password), locale=locale or None, active=True,
    )
    user.role_rows = _role_rows(user, grants)
    user.teams = list(teams)
    session.add(user)
    session.flush()
    audit.record(session, "user.created", actor=actor, target=user,
                 detail={"username": username, "roles": _role_names(user),
                         "teams": [t.name for t in user.teams]})
    return user


def update_user(
    session: Session,
    user: User,
    *,
    display_name: str,
    phone: Optional[str],
    locale: Optional[str],
    roles: Iterable[RoleGrant],
    teams: Iterable[Team],
    actor: Optional[User],
    email: Optional[str] = None,
) -> None:
    grants = _grants(roles)
    if not grants:
        raise DomainError(_("A user needs at least one role."))
    if actor is not None and actor.id == user.id and (Role.ADMIN, None) in _grants(user.roles_granted()) \
            and (Role.ADMIN, None) not in grants:
        raise DomainError(_("You cannot remove your own administrator role."))
    before = _user_snapshot(user)
    user.display_name = display_name.strip()
    user.phone = phone or None
    user.email = _email(email)
    user.locale = locale or None
    user.role_rows = _role_rows(user, grants)
    user.teams = list(teams)
    session.flush()
    after = _user_snapshot(user)
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if changes:
        audit.record(session, "user.updated", actor=actor, target=user, detail={"changes": changes})


EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(address: Optional[str]) -> Optional[str]:
    """An address for notifications by mail, or None. Checked for its shape only: the mail server says the rest."""
    address = (address or "").strip()
    if not address:
        return None
    if len(address) > 254 or not EMAIL_RE.match(address):
        raise DomainError(_("%(address)s is not an email address.", address=address))
    return address


def _user_snapshot(user: User) -> dict:
    return {
        "display_name": user.display_name, "phone": user.phone, "email": user.email, "locale": user.locale,
        "roles": _role_names(user), "teams": sorted(t.name for t in user.teams),
    }


def _role_names(user: User) -> list[str]:
    """For the audit log: `supervisor` for all sites, `supervisor@3` for site 3."""
    return sorted(r.role + (f"@{r.site_id}" if r.site_id is not None else "") for r in user.role_rows)


def set_active(session: Session, user: User, active: bool, *, actor: Optional[User]) -> None:
    if actor is not None and actor.id == user.id and not active:
        raise DomainError(_("You cannot deactivate your own account."))
    if user.active == active:
        return
    user.active = active
    if not active:
        revoke_all_sessions(session, user)
    session.flush()
    audit.record(session, "user.activated" if active else "user.deactivated", actor=actor, target=user)


def change_password(session: Session, user: User, *, new_password: str, actor: Optional[User]) -> None:
    """Set a password a person chose (the user on the password page, after `check_current_password`, or an
    administrator's reset), end every existing login of that user (the caller opens a fresh one) and unlock the
    account: failed logins before the new password no longer count."""
    check_new_password(new_password, username=user.username, display_name=user.display_name)
    user.password_hash = hash_password(new_password)
    user.unlocked_at = utcnow()
    revoke_all_sessions(session, user)
    session.flush()
    action = audit.PASSWORD_CHANGED if actor is not None and actor.id == user.id else "user.password_reset"
    audit.record(session, action, actor=actor, target=user)


def unlock(session: Session, user: User, *, actor: Optional[User]) -> None:
    """An administrator unlocks an account: its failed logins so far no longer count, from anywhere (an address's
    own count, across accounts, is not the account's and stays)."""
    user.unlocked_at = utcnow()
    session.flush()
    audit.record(session, USER_UNLOCKED, actor=actor, target=user)


def locked_accounts(session: Session) -> dict[int, login_limits.Lock]:
    """user id → the lock that holds the account (from everywhere unknown, or from some places), for admins."""
    return login_limits.locked_accounts(session, utcnow())


def set_locale(session: Session, user: User, locale: str) -> None:
    user.locale = locale
    session.flush()


# Sites belong to grids, a floor above accounts; accounts reads the table, never the model.
_SITES = table("sites", column("id"), column("code"), column("name"))


def site_choices(session: Session) -> list[tuple[int, str, str]]:
    """(id, code, name) of every site, by code: where a role may be given."""
    return [tuple(row) for row in session.execute(select(_SITES.c.id, _SITES.c.code, _SITES.c.name)
                                                  .order_by(_SITES.c.code))]


def site_id_for_code(session: Session, code: str) -> int:
    site_id = session.scalar(select(_SITES.c.id).where(_SITES.c.code == code.strip().upper()))
    if site_id is None:
        raise DomainError(_("There is no site with the code %(code)s.", code=code))
    return site_id


def users_with_role(session: Session, role: Role, *, site_id: Optional[int] = None) -> list[User]:
    """Active users holding `role` (at `site_id`: given for that site or for all sites), by username
    (for pickers: grid leaders, rectifiers)."""
    query = select(User).join(UserRole).where(UserRole.role == role.value, User.active.is_(True))
    if site_id is not None:
        query = query.where(or_(UserRole.site_id.is_(None), UserRole.site_id == site_id))
    return list(session.scalars(query.distinct().order_by(User.username)))


def person_label(user: User) -> str:
    return f"{user.display_name} ({user.username})"


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).options(selectinload(User.role_rows), selectinload(User.teams))
                                .order_by(User.active.desc(), User.username)))


# --- teams -----------------------------------------------------------------------------------------
# Option lists on busy pages (the queue): plain (id, name) rows from a statement built once.
_ACTIVE_TEAM_CHOICES = select(Team.id, Team.name).where(Team.active.is_(True)).order_by(Team.name)


def team_choices(session: Session) -> list:
    """(id, name) of the active teams, by name: for option lists, no members loaded."""
    return session.execute(_ACTIVE_TEAM_CHOICES).all()


def list_teams(session: Session, *, active_only: bool = False) -> list[Team]:
    query = select(Team).order_by(Team.name)
    if active_only:
        query = query.where(Team.active.is_(True))
    return list(session.scalars(query))


def save_team(
    session: Session, team: Optional[Team], *, name: str, kind: TeamKind, phone: Optional[str], active: bool,
    actor: Optional[User],
) -> Team:
    name = name.strip()
    clash = session.scalar(select(Team).where(Team.name == name))
    if clash is not None and clash is not team:
        raise DomainError(_("A team named %(name)s exists already.", name=name))
    created = team is None
    if team is None:
        team = Team()
        session.add(team)
    before = {"name": team.name, "kind": team.kind, "phone": team.phone, "active": team.active}
    team.name, team.kind, team.phone, team.active = name, kind.value, phone or None, active
    session.flush()
    after = {"name": team.name, "kind": team.kind, "phone": team.phone, "active": team.active}
    if created:
        audit.record(session, "team.created", actor=actor, target=team, detail=after)
    elif before != after:
        audit.record(session, "team.updated", actor=actor, target=team,
                     detail={"changes": {k: [before[k], after[k]] for k in after if before[k] != after[k]}})
    return team


# --- logging in --------------------------------------------------------------------------------------
class LoginOutcome(enum.Enum):
    OK = "ok"
    BAD_CREDENTIALS = "bad_credentials"
    LOCKED = "locked"


@dataclass
class LoginResult:
    outcome: LoginOutcome
    user: Optional[User] = None
    lock: Optional[login_limits.Lock] = None  # when LOCKED: what holds it, and until when


def authenticate(session: Session, username: str, password: str, address: Optional[str],
                 known: login_limits.KnownDevices = login_limits.KnownDevices()) -> LoginResult:
    """Check a password within the failed-login limits (accounts/login_limits.py: per account and address or known
    device, per account from unknown places, per address, with locks that grow).

    A locked place is refused without checking the password, even a right one; the caller records the refusal.
    The attempt is written in the same serialised transaction as the counts it was checked against: the caller
    commits it, whatever the outcome.
    """
    username = normalise_username(username)[:80]
    now = utcnow()
    login_limits.serialize(session, login_limits.Place(username, address))
    user = get_user_by_username(session, username)
    place = login_limits.Place(username, address, known.device_for(user, now))
    lock = login_limits.current_lock(session, place, unlocked_at=user.unlocked_at if user else None, now=now)
    if lock is not None:
        return LoginResult(LoginOutcome.LOCKED, lock=lock)

    ok = _verify_password(user, password) and user is not None and user.active
    login_limits.record(session, place, succeeded=ok, now=now)
    if not ok:
        reason = "unknown user" if user is None else ("inactive" if not user.active else "wrong password")
        audit.record(session, audit.LOGIN_FAILED, actor=user, actor_name=username,
                     detail={"reason": reason, "known_device": place.device is not None})
        return LoginResult(LoginOutcome.BAD_CREDENTIALS)
    if _hasher().check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    audit.record(session, audit.LOGIN_SUCCEEDED, actor=user)
    session.flush()
    return LoginResult(LoginOutcome.OK, user)


def check_current_password(session: Session, user: User, password: str, address: Optional[str],
                           known: login_limits.KnownDevices = login_limits.KnownDevices()) -> LoginResult:
    """The current password on the password page, within the same limits as the login page: a wrong one counts
    as a failed login of this account from this address (or this known device), and a locked place is refused
    without a check. A right one is not recorded here: the password change that follows clears the counts."""
    now = utcnow()
    login_limits.serialize(session, login_limits.Place(user.username, address))
    place = login_limits.Place(user.username, address, known.device_for(user, now))
    lock = login_limits.current_lock(session, place, unlocked_at=user.unlocked_at, now=now)
    if lock is not None:
        return LoginResult(LoginOutcome.LOCKED, user, lock=lock)
    if _verify_password(user, password):
        return LoginResult(LoginOutcome.OK, user)
    login_limits.record(session, place, succeeded=False, now=now)
    audit.record(session, CURRENT_PASSWORD_WRONG, actor=user, detail={"known_device": place.device is not None})
    return LoginResult(LoginOutcome.BAD_CREDENTIALS, user)


# --- server-side sessions -----------------------------------------------------------------------------
def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(session: Session, user: User, *, address: Optional[str], user_agent: Optional[str]) -> str:
    token = secrets.token_urlsafe(32)
    hours = current_app.config["SESSION_LIFETIME_HOURS"]
    session.add(UserSession(
        user_id=user.id, token_hash=_token_hash(token), expires_at=utcnow() + dt.timedelta(hours=hours),
        address=address, user_agent=(user_agent or "")[:255] or None,
    ))
    session.flush()
    user.session_token = token
    return token


def revoke_session(session: Session, token: str) -> None:
    session.execute(
        update(UserSession).where(UserSession.token_hash == _token_hash(token), UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def revoke_all_sessions(session: Session, user: User) -> None:
    session.execute(
        update(UserSession).where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


# Built once: the loader runs on every request, and building the statement cost about as much as running it.
# One statement, one row: the user, with their roles as text ("role:site id" joined by commas; no site id for all
# sites), which costs less than joining the role rows in and building a UserRole object for each. Teams load on
# first use (only rectifiers' pages need them).
_ROLES_AS_TEXT = select(func.aggregate_strings(
    UserRole.role + ":" + func.coalesce(cast(UserRole.site_id, String), ""), ",")
).where(UserRole.user_id == User.id).scalar_subquery()
_LIVE_SESSION_USER = (
    select(User, _ROLES_AS_TEXT).join(UserSession, UserSession.user_id == User.id)
    .where(UserSession.token_hash == bindparam("token_hash"), UserSession.revoked_at.is_(None),
           UserSession.expires_at > bindparam("now", type_=UserSession.expires_at.type), User.active.is_(True))
)


_LIVE_TOKEN_USER = (
    select(User, _ROLES_AS_TEXT, ApiToken.id, ApiToken.last_used_at).join(ApiToken, ApiToken.user_id == User.id)
    .where(ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked_at.is_(None),
           or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > bindparam("now", type_=ApiToken.created_at.type)),
           User.active.is_(True))
)


def _grants_from_text(text: Optional[str]) -> tuple[tuple[Role, Optional[int]], ...]:
    pairs = (grant.split(":") for grant in text.split(",")) if text else ()
    return tuple((Role(role), int(site) if site else None) for role, site in pairs)


# --- what the loader brings along -------------------------------------------------------------------------------
# Most pages need a few things besides the user that packages above this one own: the site named in the URL, the
# unread count in the header. They register them here as one more column of the loader's statement (a correlated
# scalar subquery, or an entity with its outer join), asked for only by the requests that need them, so a page gets
# them in the user's one statement instead of one statement each. A request without a live session (or before the
# loader ran) finds nothing here and asks the database itself.
@dataclass(frozen=True)
class LoadedWithUser:
    name: str
    add: Callable[[Select], Select]  # the loader's statement with this one's column (and join) appended
    wanted: Callable[[], Optional[dict]]  # this request's bind parameters, or None when it does not need it


NOT_LOADED = object()
_loaded_with_user: list[LoadedWithUser] = []
_loader_statements: dict[tuple[str, tuple[str, ...]], Select] = {}


def load_with_user(extra: LoadedWithUser) -> None:
    """Register a column the user loader selects with the user (once per name; init_app may run once per app)."""
    _loaded_with_user[:] = [e for e in _loaded_with_user if e.name != extra.name] + [extra]
    _loader_statements.clear()


def loaded_with_user(name: str):
    """What the user loader brought along under `name` in this request, or NOT_LOADED."""
    return g.get("_loaded_with_user", {}).get(name, NOT_LOADED)


def user_for_session_token(token: str) -> Optional[User]:
    """Flask-Login's user loader: the cookie's token must name a live session of an active user. A request that
    presents an API token is the token's (the request loader's), whatever session came with it."""
    from flask import request

    from gridpatrol.accounts.tokens import presents_token

    if presents_token(request):
        return None
    found = _load_user("session", _LIVE_SESSION_USER, {"token_hash": _token_hash(token), "now": utcnow()})
    if found is None:
        return None
    user, _own = found
    user.session_token = token
    return user


def user_for_api_token(token_hash: str, now: dt.datetime) -> Optional[tuple[User, int, Optional[dt.datetime]]]:
    """The user of a live API token (accounts.tokens), with the token's id and when it was last used: one
    statement, which brings along what the request needs with the user, as a session's does."""
    found = _load_user("token", _LIVE_TOKEN_USER, {"token_hash": token_hash, "now": now})
    if found is None:
        return None
    user, (token_id, last_used_at) = found
    return user, token_id, last_used_at


def _load_user(kind: str, base: Select, params: dict) -> Optional[tuple[User, tuple]]:
    """Run a loader statement (`base`: the user, their roles as text, then columns of its own) with the columns
    registered by `load_with_user` that this request wants; the user with their grants, and the own columns."""
    wanted = [(extra, more) for extra in _loaded_with_user if (more := extra.wanted()) is not None]
    names = tuple(extra.name for extra, _ in wanted)
    statement = _loader_statements.get((kind, names))
    if statement is None:
        statement = base
        for extra, _ in wanted:
            statement = extra.add(statement)
        _loader_statements[(kind, names)] = statement
    for _, more in wanted:
        params.update(more)
    row = db.session.execute(statement, params).one_or_none()
    if row is None:
        return None
    user, roles, *rest = row
    own, extras = tuple(rest[:len(rest) - len(names)]), rest[len(rest) - len(names):]
    user.loaded_grants = _grants_from_text(roles)
    g._loaded_with_user = dict(zip(names, extras))
    return user, own
