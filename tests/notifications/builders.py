"""Readers of notifications: who got which kind, what their page shows them and whether its link opens.

The people are those of tests/issues/builders.world (boss and boss2 supervise, leader0 leads A01, leader1 A02,
fixer and fixer2 make up the 维修班组 team, clerk reports). `readers` gives some of them English.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Optional

import sqlalchemy as sa

from gridpatrol.accounts.models import User
from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.notifications.models import Notification
from tests import helpers

_ITEM = re.compile(r'<li class="patrol-card[^"]*"><a href="([^"]+)">\s*<span class="patrol-grid">(.*?)</span>', re.S)


def people(app, **settings: dict) -> None:
    """Set locale and email per username: people(app, fixer2={"locale": "en", "email": "f2@example.org"})."""
    with app.app_context(), job_transaction() as session:
        for username, values in settings.items():
            person = session.scalar(sa.select(User).where(User.username == username))
            for name, value in values.items():
                setattr(person, name, value)


def recipients(app, kind: str) -> list[str]:
    """Usernames that got a notification of this kind, sorted."""
    with app.app_context():
        return sorted(db.session.scalars(sa.select(User.username).join(Notification, Notification.user_id == User.id)
                                         .where(Notification.kind == kind)))


def unread(app, kind: str) -> list[str]:
    with app.app_context():
        return sorted(db.session.scalars(sa.select(User.username).join(Notification, Notification.user_id == User.id)
                                         .where(Notification.kind == kind, Notification.read_at.is_(None))))


def client_for(app, username: str):
    client = app.test_client()
    assert helpers.login(client, helpers.Credentials(0, username, helpers.DEFAULT_PASSWORD)).status_code == 302
    return client


@dataclass
class Seen:
    text: str
    url: str
    opens: int  # the status of GET url for this reader


def seen_by(app, username: str) -> list[Seen]:
    """The reader's notifications page: each item's words and link, and what the link answers them."""
    client = client_for(app, username)
    page = client.get("/notifications/")
    assert page.status_code == 200
    items = [(html.unescape(url), html.unescape(re.sub(r"\s+", " ", text)).strip())
             for url, text in _ITEM.findall(page.get_data(as_text=True))]
    return [Seen(text, url, client.get(url).status_code) for url, text in items]


def only(app, username: str, fragment: Optional[str] = None) -> Seen:
    """The reader's single notification (containing `fragment`, when given); its link must open for them."""
    shown = [s for s in seen_by(app, username) if fragment is None or fragment in s.text]
    assert len(shown) == 1, (username, fragment, shown)
    assert shown[0].opens == 200, (username, shown[0])
    return shown[0]
