"""What became of a patrol's failed items, as the domains above patrols tell it (the issues raised from them).

Patrols cannot import issues: issues is a higher floor and subscribes to `patrol_submitted` to raise an issue
for each failed item. To show the leader where those went — on the patrol's page, and in the answer the form's
script gets after submitting — the domain that raised them registers a *provider* here (in its `init_app`):
`fn(session, user, patrol) -> list[FollowUp]`, the follow-ups of that patrol the user may see (each domain applies
its own per-object rules). The patrol pages ask every provider and group the answers by checklist item.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from sqlalchemy.orm import Session

from gridpatrol.accounts.models import User
from gridpatrol.patrols.models import Patrol


@dataclass(frozen=True)
class FollowUp:
    """One thing raised from a patrol's checklist item, e.g. issue #12 (整改中) from item SD-01."""

    kind: str  # what it is, e.g. "issue" (the provider's name)
    item_id: int
    id: int
    title: str
    state: str  # the code of its state, for the CSS class
    state_label: str  # its state in the reader's language
    url: str

    def as_json(self) -> dict:
        return {"kind": self.kind, "item_id": self.item_id, "id": self.id, "title": self.title,
                "state": self.state, "state_label": self.state_label, "url": self.url}


Provider = Callable[[Session, User, Patrol], list[FollowUp]]
_providers: dict[str, Provider] = {}


def register_follow_ups(name: str, provider: Provider) -> None:
    """Register (or replace, on a second app) a domain's provider of follow-ups, by its name."""
    _providers[name] = provider


def follow_ups(session: Session, user: User, patrol: Patrol) -> dict[int, list[FollowUp]]:
    """The follow-ups of this patrol that this user may see, by checklist item id (in provider name order)."""
    by_item: dict[int, list[FollowUp]] = {}
    for name in sorted(_providers):
        for follow_up in _providers[name](session, user, patrol):
            by_item.setdefault(follow_up.item_id, []).append(follow_up)
    return by_item
