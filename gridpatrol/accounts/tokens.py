"""Personal API tokens: a program (the repair hotline's bridge, a script, the city's 12345 connector) acting as one
user through `/api/v1` and Open311, with that user's roles at that user's sites and nothing more.

A token is `gp_` and 43 random URL-safe characters, shown once when it is made; the database keeps its SHA-256
(`ApiToken.token_hash`) and its first characters (to tell tokens apart in a list). A request presents it as
`Authorization: Bearer <token>` (Open311: `api_key`); `user_for_token` answers the user only while the token is
neither revoked nor expired and its user active, so a revocation holds from the next request on. Made and revoked
from `gridpatrol tokens …` or the user's own account page; both are in the audit log (never the token itself).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Optional

from flask_babel import gettext as _
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from gridpatrol.accounts.models import ApiToken, User
from gridpatrol.audit import services as audit
from gridpatrol.core.errors import DomainError, NotAllowed
from gridpatrol.core.roles import Role

PREFIX = "gp_"
SHOWN_CHARS = 10  # "gp_" and 7 more: enough to recognise a token, far too few to guess it
MAX_NAME = 80
MAX_LIVE_PER_USER = 20
MAX_DAYS = 3650
# `last_used_at` is written at most this often per token: a program calling every second must not turn every
# read into a write.
USE_RECORDED_EVERY = dt.timedelta(minutes=10)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def looks_like_token(value: str) -> bool:
    return value.startswith(PREFIX) and 20 <= len(value) <= 100


def create(session: Session, user: User, *, name: str, expires_days: Optional[int], now: dt.datetime,
           actor: Optional[User] = None) -> tuple[ApiToken, str]:
    """Make a token for `user` (by themselves, or by an admin from the shell: `actor` None). Returns the row and
    the token, which exists nowhere else: show it once."""
    name = (name or "").strip()
    if not name:
        raise DomainError(_("Give the token a name that says what uses it."))
    if len(name) > MAX_NAME:
        raise DomainError(_("The name may be at most %(n)d characters.", n=MAX_NAME))
    if expires_days is not None and not 1 <= expires_days <= MAX_DAYS:
        raise DomainError(_("A token lasts from 1 to %(n)d days.", n=MAX_DAYS))
    if not user.active:
        raise DomainError(_("%(name)s is deactivated: a token would not work.", name=user.username))
    if len(live(session, user, now)) >= MAX_LIVE_PER_USER:
        raise DomainError(_("%(name)s already has %(n)d live tokens: revoke one first.", name=user.username,
                            n=MAX_LIVE_PER_USER))
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name, token_hash=hash_token(token), prefix=token[:SHOWN_CHARS],
                   created_at=now, expires_at=now + dt.timedelta(days=expires_days) if expires_days else None)
    session.add(row)
    session.flush()
    audit.record(session, "api_token.created", actor=actor or user, target=row,
                 detail={"user": user.username, "name": name, "days": expires_days})
    return row, token


def live(session: Session, user: User, now: dt.datetime) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(
        ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None),
        or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now)).order_by(ApiToken.created_at, ApiToken.id)))


def of_user(session: Session, user: User) -> list[ApiToken]:
    """Every token of `user`, newest first (revoked and expired ones too: the account page shows what ended)."""
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)
                                .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def find_by_prefix(session: Session, user: User, prefix: str) -> ApiToken:
    """For the shell: the token of `user` whose shown characters start with `prefix`, or whose id it is."""
    rows = [t for t in of_user(session, user) if t.prefix.startswith(prefix) or str(t.id) == prefix]
    if len(rows) != 1:
        raise DomainError(_("No single token of %(name)s matches “%(prefix)s”.", name=user.username, prefix=prefix))
    return rows[0]


def revoke(session: Session, row: ApiToken, *, now: dt.datetime, actor: Optional[User] = None) -> bool:
    """End the token now (idempotent: False when it had ended already)."""
    if actor is not None and actor.id != row.user_id and not actor.has_role(Role.ADMIN, None):
        raise NotAllowed("revoking another user's token")
    if row.revoked_at is not None:
        return False
    row.revoked_at = now
    session.flush()
    audit.record(session, "api_token.revoked", actor=actor or row.user, target=row,
                 detail={"user": row.user.username, "name": row.name})
    return True


def note_use(session: Session, token_id: int, now: dt.datetime) -> None:
    """Record when the token was last used (at most every USE_RECORDED_EVERY)."""
    session.execute(update(ApiToken).where(
        ApiToken.id == token_id,
        or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now - USE_RECORDED_EVERY))
        .values(last_used_at=now))


# --- authenticating a request --------------------------------------------------------------------------------
# The blueprints that take a bearer token (the API packages register theirs); pages never do, so a token cannot
# be used to browse as its user.
_TOKEN_BLUEPRINTS: set[str] = set()


def accept_tokens_on(*blueprint_names: str) -> None:
    _TOKEN_BLUEPRINTS.update(blueprint_names)


def bearer(request) -> Optional[str]:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def presents_token(request) -> bool:
    """A bearer token sent to a blueprint that takes tokens: the token decides who calls, not a session cookie that
    came along (a revoked token is refused even from a logged-in browser)."""
    return bool(_TOKEN_BLUEPRINTS.intersection(request.blueprints)) and bearer(request) is not None


def user_for_request(request) -> Optional[User]:
    """Flask-Login's request loader (asked only when no browser session is logged in): the user of a live bearer
    token on a blueprint that takes tokens. `g.authenticated_by` says "token" (a caller with no CSRF token to
    show), `g.token_refused` that a token was presented but is not live (answered 401 by the API)."""
    if not _TOKEN_BLUEPRINTS.intersection(request.blueprints):
        return None
    token = bearer(request)
    return user_for_token(token) if token is not None else None


def user_for_token(token: str) -> Optional[User]:
    """The active user of a live token, or None (unknown, revoked, expired, user deactivated: `g.token_refused`).
    Notes the token's use (at most every USE_RECORDED_EVERY, in a transaction of its own)."""
    from flask import g

    from gridpatrol.accounts import services
    from gridpatrol.core.time import utcnow
    from gridpatrol.core.transaction import record_despite_rollback

    now = utcnow()
    found = services.user_for_api_token(hash_token(token), now) if looks_like_token(token) else None
    if found is None:
        g.token_refused = True
        return None
    user, token_id, last_used_at = found
    g.authenticated_by, g.api_token_id = "token", token_id
    if last_used_at is None or last_used_at < now - USE_RECORDED_EVERY:
        record_despite_rollback(lambda session: note_use(session, token_id, now))
    return user
