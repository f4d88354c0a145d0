"""The checklist items a patrol is filled against, read once per process and version.

A submission checks every answer against its version's items (~60 in the demo's standards). A version in use
never changes — only a draft may, and a draft is never used by a patrol (standards.models) — so the items of a
published or superseded version are kept here as plain frozen values after the first read: no statement and
no ORM objects on the next submissions of that version.

Kept per engine (a `WeakKeyDictionary`): ids are only unique within one database, and the tests build a new app
(a new engine) over a database emptied between tests, where a new version may get an old id. A draft's items
are read every time and never kept.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from gridpatrol.standards.models import TemplateItem, TemplateVersion, VersionStatus


@dataclass(frozen=True, slots=True)
class ChecklistItem:
    """One item of a version as a value (the columns of `TemplateItem`, same names)."""

    id: int
    version_id: int
    position: int
    code: str
    category: str
    text: str
    weight: int
    allow_na: bool
    critical: bool
    photo_on_fail: bool


_ITEMS = select(TemplateItem.id, TemplateItem.version_id, TemplateItem.position, TemplateItem.code,
                TemplateItem.category, TemplateItem.text, TemplateItem.weight, TemplateItem.allow_na,
                TemplateItem.critical, TemplateItem.photo_on_fail, TemplateVersion.status) \
    .join(TemplateVersion, TemplateVersion.id == TemplateItem.version_id) \
    .where(TemplateItem.version_id == bindparam("version_id")).order_by(TemplateItem.position, TemplateItem.id)

MAX_VERSIONS = 512  # per engine: far more than a deployment's standards ever have in use at once

_lock = threading.Lock()
_kept: "weakref.WeakKeyDictionary[Engine, dict[int, tuple[ChecklistItem, ...]]]" = weakref.WeakKeyDictionary()


def items_of(session: Session, version_id: int) -> tuple[ChecklistItem, ...]:
    """The version's items in checklist order (position)."""
    engine = session.get_bind()
    kept = _kept.get(engine)
    if kept is not None:
        items = kept.get(version_id)
        if items is not None:
            return items
    rows = session.execute(_ITEMS, {"version_id": version_id}).all()
    items = tuple(ChecklistItem(*row[:-1]) for row in rows)
    if rows and rows[0].status != VersionStatus.DRAFT.value:
        with _lock:
            kept = _kept.setdefault(engine, {})
            if len(kept) >= MAX_VERSIONS:
                kept.clear()
            kept[version_id] = items
    return items
