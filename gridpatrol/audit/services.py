"""Writing and reading the audit log."""

from __future__ import annotations

from typing import Any, Optional

from flask import has_request_context, request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridpatrol.audit.models import AuditEvent
from gridpatrol.core.errors import permission_denied
from gridpatrol.core.transaction import record_despite_rollback

# Actions, so the list page and the tests use the same words.
LOGIN_SUCCEEDED = "login.succeeded"
LOGIN_FAILED = "login.failed"
LOGIN_THROTTLED = "login.throttled"
LOGOUT = "logout"
PASSWORD_CHANGED = "password.changed"
PERMISSION_DENIED = "permission.denied"


def client_address() -> Optional[str]:
    return request.remote_addr if has_request_context() else None


def record(
    session: Session,
    action: str,
    *,
    actor=None,
    actor_name: Optional[str] = None,
    target=None,
    detail: Optional[dict[str, Any]] = None,
) -> AuditEvent:
    """Append one event (flushes). `target` is a model instance (its class and id are stored)."""
    event = AuditEvent(
        action=action,
        actor_id=getattr(actor, "id", None),
        actor_name=actor_name or getattr(actor, "username", None),
        target_type=type(target).__name__ if target is not None else None,
        target_id=str(target.id) if target is not None else None,
        address=client_address(),
        detail=detail or {},
    )
    session.add(event)
    session.flush()
    return event


def _on_permission_denied(_sender, *, user, endpoint, path, method, reason) -> None:
    actor_id = getattr(user, "id", None)
    actor_name = getattr(user, "username", None)
    address = client_address()

    def write(session: Session) -> None:
        session.add(AuditEvent(
            action=PERMISSION_DENIED, actor_id=actor_id, actor_name=actor_name, address=address,
            detail={"endpoint": endpoint, "path": path, "method": method, "reason": reason},
        ))

    # The request answers 403 and rolls back; the denial itself must still be kept.
    record_despite_rollback(write)


def connect_signals() -> None:
    permission_denied.connect(_on_permission_denied)


def page(session: Session, *, action: Optional[str] = None, page: int = 1, per_page: int = 50):
    query = select(AuditEvent)
    count_query = select(func.count()).select_from(AuditEvent)
    if action:
        query = query.where(AuditEvent.action == action)
        count_query = count_query.where(AuditEvent.action == action)
    total = session.scalar(count_query) or 0
    rows = session.scalars(
        query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).offset((page - 1) * per_page).limit(per_page)
    ).all()
    return rows, total


def actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))
