"""Roles, and the checks views use to refuse what a user may not do.

Every refusal raises `NotAllowed` (`deny` does so for views); the error adapter (core/errors.py) sends its
`permission_denied` signal (the audit log listens) and answers 403, so no denial goes unrecorded.
"""

from __future__ import annotations

import enum
import functools
from typing import Callable, TypeVar

from flask_babel import lazy_gettext as _l
from flask_login import current_user

from gridpatrol.core.errors import NotAllowed

F = TypeVar("F", bound=Callable)


class Role(str, enum.Enum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    GRID_LEADER = "grid_leader"
    RECTIFIER = "rectifier"
    STAFF = "staff"

    @property
    def label(self) -> str:
        return str(ROLE_LABELS[self])


ROLE_LABELS = {
    Role.ADMIN: _l("Administrator"),
    Role.SUPERVISOR: _l("Supervisor"),
    Role.GRID_LEADER: _l("Grid leader"),
    Role.RECTIFIER: _l("Rectifier"),
    Role.STAFF: _l("Staff"),
}


CURRENT_SITE = object()  # "the site of the request being served": the default site of a role check


def current_site_id() -> int | None:
    """The id of the site whose pages this request serves (g.site), or None outside a site's pages."""
    from flask import g, has_request_context

    if not has_request_context():
        return None
    site = g.get("site")
    return site.id if site is not None else None


def deny(reason: str):
    """Refuse: the error adapter records the denial (via the signal) and answers 403."""
    raise NotAllowed(reason)


def roles_required(*roles: Role) -> Callable[[F], F]:
    """The view needs a logged-in user holding at least one of `roles`."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            from gridpatrol.extensions import login_manager

            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.has_any_role(*roles):
                deny("role required: " + ", ".join(r.value for r in roles))
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator
