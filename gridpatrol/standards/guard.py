"""Defence in depth: a version that a patrol may have used never changes, whoever the caller is.

The services already refuse to edit anything but a draft. This `before_flush` listener checks every flush
of every session as well, so a buggy caller (a raw ORM edit, a forgotten check) cannot alter a published
or superseded version either:

- a TemplateItem may be added, changed or deleted only while the version it belongs to (before and after
  the change) is stored as a draft;
- a stored non-draft TemplateVersion may change in one way only: its status from published to superseded.
  It may not be deleted, moved to another template, renumbered or turned back into a draft.

ORM bulk statements (`session.execute(update(TemplateItem)…)`, `delete(…)`, `insert(…)`) skip the flush, so
they are refused for items and versions altogether; nothing in the application needs them. Raw SQL on the
connection is beyond the reach of an ORM listener (a database trigger would be the next layer).

"Stored" means the row in the database as this transaction sees it, so publishing a draft and then editing
its items in a later flush of the same transaction is refused too. A version inserted in the same flush
(it did not exist before, so no patrol can have used it) may be created with its items in any status.
"""

from __future__ import annotations

from typing import Iterable

from flask_babel import gettext as _
from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from gridpatrol.core.errors import DomainError
from gridpatrol.standards.models import TemplateItem, TemplateVersion, VersionStatus

DRAFT = VersionStatus.DRAFT.value
# The only change a stored non-draft version may undergo.
ALLOWED_TRANSITIONS = {(VersionStatus.PUBLISHED.value, VersionStatus.SUPERSEDED.value)}


class ImmutableVersionError(DomainError):
    """A flush tried to change a checklist version that is no longer a draft."""


def _stored_statuses(session: Session, ids: Iterable[int]) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    # The session is flushing, so this query does not autoflush; it sees the rows as this transaction does.
    rows = session.execute(select(TemplateVersion.id, TemplateVersion.status).where(TemplateVersion.id.in_(ids)))
    return {row.id: row.status for row in rows}


def _item_version_refs(item: TemplateItem) -> set[int]:
    """Ids of the stored versions this item belongs to, before and after the change."""
    state = inspect(item)
    ids: set[int] = set()
    history = state.attrs.version_id.history
    ids.update(v for v in (*history.deleted, *history.unchanged, *history.added) if v is not None)
    for version in state.attrs.version.history.sum():
        if version is None:
            continue
        version_state = inspect(version)
        if version_state.pending or version_state.transient:
            continue  # a version inserted in this same flush
        if version.id is not None:
            ids.add(version.id)
    if state.persistent and not history.has_changes() and not ids:
        ids.add(item.version_id)  # the attribute was expired: load it
    return ids


def _check(session: Session, flush_context, instances) -> None:
    items = [o for o in session.new if isinstance(o, TemplateItem)]
    items += [o for o in session.dirty
              if isinstance(o, TemplateItem) and session.is_modified(o, include_collections=False)]
    items += [o for o in session.deleted if isinstance(o, TemplateItem)]
    versions_changed = [o for o in session.dirty if isinstance(o, TemplateVersion) and inspect(o).persistent]
    versions_deleted = [o for o in session.deleted if isinstance(o, TemplateVersion)]
    if not (items or versions_changed or versions_deleted):
        return

    item_refs = {id(item): _item_version_refs(item) for item in items}
    wanted = set().union(*item_refs.values()) if item_refs else set()
    wanted.update(v.id for v in (*versions_changed, *versions_deleted))
    stored = _stored_statuses(session, wanted)

    for item in items:
        for version_id in item_refs[id(item)]:
            status = stored.get(version_id)
            if status is not None and status != DRAFT:
                raise ImmutableVersionError(_(
                    "Checklist item %(code)s belongs to a %(status)s version, which can no longer change. "
                    "Start a new version to edit the standard.", code=item.code, status=status))

    for version in versions_deleted:
        status = stored.get(version.id)
        if status is not None and status != DRAFT:
            raise ImmutableVersionError(_(
                "Version %(number)s of a checklist standard is %(status)s and cannot be deleted.",
                number=version.number, status=status))

    for version in versions_changed:
        status = stored.get(version.id)
        if status is None or status == DRAFT:
            continue
        state = inspect(version)
        changed = {attr.key for attr in state.attrs if attr.key != "items" and attr.history.has_changes()}
        if not changed:
            continue
        new_status = version.status
        if changed == {"status"} and (status, new_status) in ALLOWED_TRANSITIONS:
            continue
        raise ImmutableVersionError(_(
            "Version %(number)s of a checklist standard is %(status)s and cannot change (%(fields)s).",
            number=version.number, status=status, fields=", ".join(sorted(changed))))


GUARDED_MAPPERS = (TemplateItem, TemplateVersion)


def _refuse_bulk(orm_execute_state) -> None:
    if not (orm_execute_state.is_update or orm_execute_state.is_delete or orm_execute_state.is_insert):
        return
    mappers = {m.class_ for m in orm_execute_state.all_mappers}
    if mappers & set(GUARDED_MAPPERS):
        raise ImmutableVersionError(_(
            "Checklist versions and items are changed one by one through the standards services, "
            "never by bulk statements."))


def install() -> None:
    """Listen on every session (idempotent)."""
    if not event.contains(Session, "before_flush", _check):
        event.listen(Session, "before_flush", _check)
    if not event.contains(Session, "do_orm_execute", _refuse_bulk):
        event.listen(Session, "do_orm_execute", _refuse_bulk)
