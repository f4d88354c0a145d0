"""The checklist items a patrol is filled against, read once per process and version.

A submission checks every answer against its version's items (~60 in the demo's standards). A version in use
never changes — only a draft may, and a draft is never used by a patrol (standards.models) — so the items of a
published or superseded version are kept here as plain frozen values after the first read: no statement and
no ORM objects on the next submissions of that version.

Kept per engine (a `WeakKeyDictionary`): ids are only unique within one database, and the tests build a new app
(a new engine) over a database emptied between tests, where a new version may get an old id. A draft's items
are read every time and never kept.

Which of them a patrol covers (定责任 → 定标准): a patrol holds the checklist categories it covers
(`Patrol.categories`), fixed when it is scheduled (`patrol_categories`: the plan's own choice for a special
inspection, else the grid's responsibility categories at that moment; a later change of the grid's categories does
not change a form a leader already has open offline). `items_for_patrol` gives the version's items of those
categories in checklist order, and every place that lists, checks or scores a patrol's items uses it.

When that selection is empty — a standard with none of the grid's categories, e.g. a fire-safety-only standard on a
green belt — the patrol covers every item of its version. The plan sent the leader there with that standard on
purpose; an empty checklist could not be scored and would count a patrol as done with nothing checked. The same
holds for a patrol with no categories (None: its grid had none when it was scheduled).
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Optional, Sequence, TypeVar

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from gridpatrol.standards.models import TemplateItem, TemplateVersion, VersionStatus

if TYPE_CHECKING:
    from gridpatrol.patrols.models import Patrol


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


def patrol_categories(plan_categories: Optional[Iterable[str]], grid_categories: Optional[Iterable[str]]) \
        -> Optional[list[str]]:
    """The categories a new patrol covers: the plan's, if it chose some (a special inspection), else the grid's
    responsibility categories; None (every item) when neither has any. Sorted, without repeats."""
    chosen = sorted(set(plan_categories or ())) or sorted(set(grid_categories or ()))
    return chosen or None


_Item = TypeVar("_Item")


def select_items(items: Sequence[_Item], categories: Optional[Iterable[str]]) -> Sequence[_Item]:
    """The items (anything with a `category`) of `categories`, in their order; all of them when `categories` is
    None or empty, or when none of the items is of those categories (see the module docstring)."""
    if not categories:
        return items
    wanted = frozenset(categories)
    chosen = tuple(item for item in items if item.category in wanted)  # type: ignore[attr-defined]
    return chosen or items


def items_for_patrol(session: Session, patrol: "Patrol") -> tuple[ChecklistItem, ...]:
    """The items the patrol covers, in checklist order: its version's items of its categories (from the kept
    items: no statement once the version has been read)."""
    return tuple(select_items(items_of(session, patrol.template_version_id), patrol.categories))
