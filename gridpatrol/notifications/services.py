"""Writing, reading and acknowledging notifications.

Only this package writes `Notification` rows: the domains announce what happened through their signals
(`subscribers.py` listens) and `notify` stores a kind, its parameters and a target, once per (user, key).
Reading renders them (`kinds.render`) in the reader's language with links built then. When MAIL_SERVER is set,
`notify` also queues the same notifications for mail, sent after the transaction commits (`mail.py`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from flask import current_app
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from gridpatrol.accounts.models import User
from gridpatrol.core.db import insert_ignoring_conflicts
from gridpatrol.grids.models import Site
from gridpatrol.notifications import kinds, mail
from gridpatrol.notifications.models import Notification


@dataclass(frozen=True)
class Target:
    """What a notification is about: the object's type ("issue", "patrol", "appeal"), id and site."""

    type: str
    id: int
    site_id: Optional[int]


@dataclass(frozen=True)
class Note:
    """One notification to write: `key` makes it idempotent per user (a re-run writes nothing new)."""

    kind: str
    user_id: int
    key: str
    target: Target
    params: dict[str, Any] = field(default_factory=dict)


# --- writing ---------------------------------------------------------------------------------------------
def notify(session: Session, kind: str, user_ids: Iterable[int], *, key: str, target: Target,
           params: dict[str, Any], now: dt.datetime) -> int:
    """One notification of `kind` for each user (once per (user, key)). Returns how many were new."""
    return notify_many(session, [Note(kind, user_id, key, target, params) for user_id in user_ids], now)


def notify_many(session: Session, notes: Iterable[Note], now: dt.datetime) -> int:
    """Write the notes not written before (insert-or-ignore on (user, key)); queue their mail. Returns the
    number written."""
    unique: dict[tuple[int, str], Note] = {}
    for note in notes:
        if note.kind not in kinds.KINDS:
            raise ValueError(f"unknown notification kind {note.kind!r}")
        unique.setdefault((note.user_id, note.key), note)
    if not unique:
        return 0
    rows = [{"user_id": n.user_id, "key": n.key, "kind": n.kind, "params": n.params, "target_type": n.target.type,
             "target_id": n.target.id, "site_id": n.target.site_id, "created_at": now} for n in unique.values()]
    written = _insert_new(session, rows)
    if written and mail.enabled():
        mail.queue(session, [unique[k] for k in written])
    return len(written)


def _insert_new(session: Session, rows: list[dict]) -> list[tuple[int, str]]:
    """INSERT, skipping (user, key) pairs that exist; returns the (user, key) pairs actually inserted."""
    table = Notification.__table__
    return insert_ignoring_conflicts(session, table, rows, ["user_id", "key"],
                                     returning=[table.c.user_id, table.c.key])


# Run on every patrol submission: built once, a Core statement on the table (the ORM synchronised nothing here
# anyway: notification objects already loaded in the session keep their old read_at).
_MARK_DONE = update(Notification.__table__).where(
    Notification.__table__.c.target_type == bindparam("done_type"),
    Notification.__table__.c.target_id == bindparam("done_id"),
    Notification.__table__.c.kind.in_(bindparam("done_kinds", expanding=True)),
    Notification.__table__.c.read_at.is_(None),
).values(read_at=bindparam("done_at", type_=Notification.__table__.c.read_at.type))


def mark_done(session: Session, target_type: str, target_id: int, kinds_done: Iterable[str],
              now: dt.datetime) -> None:
    """Mark the unread notifications of these kinds about this object read: what they asked for is done."""
    session.execute(_MARK_DONE, {"done_type": target_type, "done_id": target_id, "done_kinds": list(kinds_done),
                                 "done_at": now})


# --- reading ---------------------------------------------------------------------------------------------
# Every page shows the count: the statement is built once.
_UNREAD_COUNT = select(func.count()).select_from(Notification).where(
    Notification.user_id == bindparam("user_id"), Notification.read_at.is_(None))


# The same count as a column of the user loader's statement (correlated with its users row).
UNREAD_OF_LOADED_USER = select(func.count()).select_from(Notification).where(
    Notification.user_id == User.id, Notification.read_at.is_(None)).scalar_subquery()


def unread_count(session: Session, user_id: int) -> int:
    return session.scalar(_UNREAD_COUNT, {"user_id": user_id}) or 0


def recent(session: Session, user_id: int, limit: int = 100) -> list[Notification]:
    return list(session.scalars(select(Notification).where(Notification.user_id == user_id)
                                .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)))


@dataclass(frozen=True)
class Shown:
    """A notification as its reader sees it."""

    id: int
    text: str
    url: Optional[str]
    created_at: dt.datetime
    read_at: Optional[dt.datetime]


def recent_rendered(session: Session, user_id: int, limit: int = 100) -> list[Shown]:
    """The user's latest notifications, rendered in the current language (the reader's, in their request)."""
    rows = session.execute(
        select(Notification.id, Notification.kind, Notification.params, Notification.target_id,
               Notification.created_at, Notification.read_at, Site.timezone, Site.code)
        .outerjoin(Site, Site.id == Notification.site_id).where(Notification.user_id == user_id)
        .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)).all()
    default_zone = current_app.config["DEFAULT_TIMEZONE"]
    build = kinds.url_builder()
    shown = []
    for row in rows:
        rendered = kinds.render(row.kind, row.params,
                                kinds.Context(row.target_id, row.timezone or default_zone, row.code), build)
        shown.append(Shown(row.id, rendered.text, rendered.url, row.created_at, row.read_at))
    return shown


def render(session: Session, note: Notification, build_url: Optional[kinds.UrlBuilder] = None) -> kinds.Rendered:
    """One stored notification in the current language."""
    site = session.execute(select(Site.timezone, Site.code).where(Site.id == note.site_id)).first() \
        if note.site_id else None
    return kinds.render(note.kind, note.params,
                        kinds.Context(note.target_id, site.timezone if site else current_app.config["DEFAULT_TIMEZONE"],
                                      site.code if site else None),
                        build_url or kinds.url_builder())


# The cheapest authenticated write (bench_patrols' floor): built once, and a Core statement on the table, so the
# ORM neither evaluates the criteria against objects in the session nor synchronises them. Notification objects
# already loaded in this session keep their old read_at (the view redirects; nothing reads them afterwards).
_MARK_ALL_READ = update(Notification.__table__).where(
    Notification.__table__.c.user_id == bindparam("reader_id"), Notification.__table__.c.read_at.is_(None)
).values(read_at=bindparam("read_now", type_=Notification.__table__.c.read_at.type))


def mark_all_read(session: Session, user_id: int, now: dt.datetime) -> None:
    session.execute(_MARK_ALL_READ, {"reader_id": user_id, "read_now": now})
