"""Failed-login limits that slow guessing without letting a stranger lock the owner out.

Every password check (the login page's, and the current password on the password page) is a row of
`login_attempts`, so every gunicorn worker on every host counts the same failures. A failure counts against
places (the "keys" below); a place that has reached its limit is *locked*, and a locked place is refused without
checking the password, even the right one.

The places a failure counts against:

* **this account from this address** (`LOGIN_MAX_FAILURES_PER_PLACE`, 5): the low limit; the owner's own typos
  count here, and a successful login from the same address clears it;
* **this account from a known device** (the same limit) instead, when the browser shows the signed cookie a
  successful login of this account set there (`KNOWN_DEVICE_DAYS`); a successful login there clears it. Nobody
  else can add to this count: the cookie is signed with the app's secret, bound to the user id and to the
  current password hash (a new password makes every known device unknown until it logs in again);
* **this account from all unknown places together** (`LOGIN_MAX_FAILURES_PER_ACCOUNT`, 20): what stops guessing
  from many addresses. A known device is not held by this lock and does not add to it, so anonymous guesses
  from elsewhere can never lock the owner out of the device they use. A success does not clear it (the owner
  logging in does not give the guesser a fresh start);
* **this address, all accounts together, from unknown places** (`LOGIN_MAX_FAILURES_PER_ADDRESS`, 50): one
  address trying many accounts. Known devices are not held by it either (a shared office address).

Locks grow: once a place has reached its limit L, each further failure locks it for LOGIN_LOCK_MINUTES (1) after
that failure, doubled for each further L failures (the 2L-th failure on: 2 minutes, 3L: 4 minutes …), at most
LOGIN_LOCK_MAX_MINUTES (60). Failures older than LOGIN_FAILURE_WINDOW_MINUTES (24 h) are forgotten, and so are
the failures of an account before an administrator unlocked it or reset its password (`users.unlocked_at`).
Because a lock runs from the last failure and only lengthens as failures add up, a failure leaving the window can
shorten a lock but never start one.

Every check takes, in this order, a transaction-scoped lock on the account's name and one on the address
(`serialize_writers`: an advisory lock on PostgreSQL, the single write lock on SQLite), reads the counts and
writes its own attempt in the same transaction, so N+k simultaneous attempts on several workers let exactly N
through. The caller commits the attempt: the login page answers a wrong password with 200.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import secrets
from dataclasses import dataclass
from typing import Optional

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session, aliased

from gridpatrol.accounts.models import LoginAttempt, User
from gridpatrol.core.db import serialize_writers

KNOWN_DEVICE_COOKIE = "gp_known_device"
_KNOWN_DEVICE_SALT = "gridpatrol.known-device"
# A shared tablet may be known for several accounts; the most recent ones are kept.
MAX_KNOWN_ACCOUNTS_PER_BROWSER = 10


class LockScope(str, enum.Enum):
    PLACE = "place"  # this account from this address, or from this known device
    ACCOUNT = "account"  # this account from every unknown place
    ADDRESS = "address"  # this address, every account


@dataclass(frozen=True)
class Lock:
    scope: LockScope
    until: dt.datetime

    @property
    def shown_until(self) -> dt.datetime:
        """`until` rounded up to the minute, as pages show it: "locked until 10:15" is then never early."""
        whole = self.until.replace(second=0, microsecond=0)
        return whole if whole == self.until else whole + dt.timedelta(minutes=1)


@dataclass(frozen=True)
class Place:
    """Where a password check comes from: the account's (normalised) username, the client address, and the known
    device id when the browser is a known device of that account."""

    username: str
    address: Optional[str]
    device: Optional[str] = None


# --- the rule ----------------------------------------------------------------------------------------------------
def lock_minutes(failures: int, limit: int) -> Optional[float]:
    """How long the last of `failures` counted failures locks its place: None under the limit, else the first lock
    doubled for each further limit's worth of failures, at most the longest."""
    if failures < limit:
        return None
    cfg = current_app.config
    doublings = min(failures // limit - 1, 32)
    return min(cfg["LOGIN_LOCK_MINUTES"] * 2 ** doublings, cfg["LOGIN_LOCK_MAX_MINUTES"])


def _lock(scope: LockScope, failures: int, last: Optional[dt.datetime], limit: int, now: dt.datetime) -> Optional[Lock]:
    minutes = lock_minutes(failures, limit)
    if minutes is None or last is None:
        return None
    until = last + dt.timedelta(minutes=minutes)
    return Lock(scope, until) if until > now else None


# --- counting ----------------------------------------------------------------------------------------------------
_later = aliased(LoginAttempt)


def _failed(since: dt.datetime):
    return [LoginAttempt.succeeded.is_(False), LoginAttempt.at > since]


def _address_is(column, address: Optional[str]):
    return column.is_(None) if address is None else column == address


def _not_cleared_by_success(*same_place):
    """No successful check from the same place after this failure (a success clears its place's count)."""
    return ~exists().where(_later.succeeded.is_(True), _later.at > LoginAttempt.at, *same_place)


def _count(session: Session, *where) -> tuple[int, Optional[dt.datetime]]:
    n, last = session.execute(select(func.count(), func.max(LoginAttempt.at)).where(*where)).one()
    return n or 0, last


def _since(now: dt.datetime, unlocked_at: Optional[dt.datetime]) -> dt.datetime:
    start = now - dt.timedelta(minutes=current_app.config["LOGIN_FAILURE_WINDOW_MINUTES"])
    return max(start, unlocked_at) if unlocked_at is not None else start


def _place_filter(place: Place):
    if place.device is not None:
        return [LoginAttempt.username == place.username, LoginAttempt.device == place.device,
                _not_cleared_by_success(_later.username == LoginAttempt.username, _later.device == LoginAttempt.device)]
    return [LoginAttempt.username == place.username, _address_is(LoginAttempt.address, place.address),
            LoginAttempt.device.is_(None),
            _not_cleared_by_success(_later.username == LoginAttempt.username, _later.device.is_(None),
                                    _address_is(_later.address, place.address))]


def serialize(session: Session, place: Place) -> None:
    """Run this check after every other check of the same account or address (always in this order: no deadlock)."""
    serialize_writers(session, "login-account:" + place.username)
    if place.address is not None:
        serialize_writers(session, "login-address:" + place.address)


def current_lock(session: Session, place: Place, *, unlocked_at: Optional[dt.datetime], now: dt.datetime
                 ) -> Optional[Lock]:
    """The lock that holds this place now (the one lasting longest when several do), or None. Call after
    `serialize` in the same transaction that records the attempt."""
    cfg = current_app.config
    since = _since(now, unlocked_at)
    locks = [_lock(LockScope.PLACE, *_count(session, *_failed(since), *_place_filter(place)),
                   cfg["LOGIN_MAX_FAILURES_PER_PLACE"], now)]
    if place.device is None:
        locks.append(_lock(LockScope.ACCOUNT, *_count(
            session, *_failed(since), LoginAttempt.username == place.username, LoginAttempt.device.is_(None)),
            cfg["LOGIN_MAX_FAILURES_PER_ACCOUNT"], now))
        if place.address is not None:
            # An address's count is not the account's: an unlock does not clear it, only the window does.
            locks.append(_lock(LockScope.ADDRESS, *_count(
                session, *_failed(_since(now, None)), LoginAttempt.address == place.address,
                LoginAttempt.device.is_(None)), cfg["LOGIN_MAX_FAILURES_PER_ADDRESS"], now))
    found = [lock for lock in locks if lock is not None]
    return max(found, key=lambda lock: lock.until) if found else None


def record(session: Session, place: Place, *, succeeded: bool, now: dt.datetime) -> None:
    session.add(LoginAttempt(at=now, username=place.username, address=place.address, device=place.device,
                             succeeded=succeeded))
    session.flush()


def locked_accounts(session: Session, now: dt.datetime) -> dict[int, Lock]:
    """user id → the lock lasting longest among the account's own places (from every unknown place, or from
    some addresses or known devices), for the users page. Address locks are not an account's."""
    cfg = current_app.config
    window_start = now - dt.timedelta(minutes=cfg["LOGIN_FAILURE_WINDOW_MINUTES"])
    counted = [*_failed(window_start), LoginAttempt.username == User.username,
               (User.unlocked_at.is_(None)) | (LoginAttempt.at > User.unlocked_at)]
    n, last = func.count().label("n"), func.max(LoginAttempt.at).label("last")
    rows = []
    everywhere = select(User.id, n, last).where(*counted, LoginAttempt.device.is_(None)).group_by(User.id)
    rows += [(LockScope.ACCOUNT, *row) for row in session.execute(everywhere)]
    by_address = (select(User.id, n, last).where(
        *counted, LoginAttempt.device.is_(None),
        _not_cleared_by_success(_later.username == LoginAttempt.username, _later.device.is_(None),
                                ((_later.address == LoginAttempt.address)
                                 | and_(_later.address.is_(None), LoginAttempt.address.is_(None)))))
        .group_by(User.id, LoginAttempt.address))
    rows += [(LockScope.PLACE, *row) for row in session.execute(by_address)]
    by_device = (select(User.id, n, last).where(
        *counted, LoginAttempt.device.is_not(None),
        _not_cleared_by_success(_later.username == LoginAttempt.username, _later.device == LoginAttempt.device))
        .group_by(User.id, LoginAttempt.device))
    rows += [(LockScope.PLACE, *row) for row in session.execute(by_device)]
    limits = {LockScope.ACCOUNT: cfg["LOGIN_MAX_FAILURES_PER_ACCOUNT"], LockScope.PLACE: cfg["LOGIN_MAX_FAILURES_PER_PLACE"]}
    locks: dict[int, Lock] = {}
    for scope, user_id, failures, latest in rows:
        lock = _lock(scope, failures, latest, limits[scope], now)
        if lock is not None and (user_id not in locks or lock.until > locks[user_id].until):
            locks[user_id] = lock
    return locks


# --- known devices -----------------------------------------------------------------------------------------------
def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt=_KNOWN_DEVICE_SALT)


def _password_tag(user: User) -> str:
    """Binds a known device to the password it logged in with: a new password (an administrator's reset after a
    theft) makes every known device unknown again."""
    return hashlib.sha256(("known-device:" + user.password_hash).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class KnownDevices:
    """What one browser's cookie says: (user id, device id, password tag, day it was last confirmed) per account."""

    entries: tuple[tuple[int, str, str, int], ...] = ()

    @classmethod
    def from_cookie(cls, value: Optional[str]) -> "KnownDevices":
        if not value:
            return cls()
        try:
            raw = _serializer().loads(value)
            entries = tuple((int(uid), str(device), str(tag), int(day)) for uid, device, tag, day in raw)
        except (BadSignature, TypeError, ValueError):
            return cls()
        return cls(entries[:MAX_KNOWN_ACCOUNTS_PER_BROWSER])

    def device_for(self, user: Optional[User], now: dt.datetime) -> Optional[str]:
        """The device id this browser has for `user`, if it is a known device of that account now."""
        if user is None:
            return None
        oldest = _day(now) - current_app.config["KNOWN_DEVICE_DAYS"]
        for uid, device, tag, day in self.entries:
            if uid == user.id and day >= oldest and secrets.compare_digest(tag, _password_tag(user)):
                return device
        return None

    def remember(self, user: User, now: dt.datetime) -> str:
        """The cookie's new value after a successful login of `user` here (the same device id if it had one)."""
        device = self.device_for(user, now) or secrets.token_urlsafe(12)
        others = [list(e) for e in self.entries if e[0] != user.id]
        entries = [[user.id, device, _password_tag(user), _day(now)]] + others
        return _serializer().dumps(entries[:MAX_KNOWN_ACCOUNTS_PER_BROWSER])


def _day(now: dt.datetime) -> int:
    return now.toordinal()
