"""The audit log in words: each recorded action, the kinds of object, and the detail keys, in the reader's language.

One table for every action any domain records (`audit.record(session, "<action>", …)`); a test reads the sources
and fails when an action is recorded without its words here. A detail is shown as "label: value" pairs, never as
escaped JSON; a key without a label is shown as it is stored.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import lazy_gettext as _l

ACTION_LABELS = {
    "login.succeeded": _l("Logged in"),
    "login.failed": _l("Login failed"),
    "login.throttled": _l("Login refused: too many attempts"),
    "logout": _l("Logged out"),
    "password.changed": _l("Changed own password"),
    "permission.denied": _l("Access refused"),
    "user.created": _l("User created"),
    "user.updated": _l("User changed"),
    "user.activated": _l("User activated"),
    "user.deactivated": _l("User deactivated"),
    "user.password_reset": _l("Password reset by an administrator"),
    "user.unlocked": _l("Account unlocked after failed logins"),
    "password.current_wrong": _l("Wrong current password on the password page"),
    "team.created": _l("Team created"),
    "team.updated": _l("Team changed"),
    "site.created": _l("Site created"),
    "site.uncovered_after_days": _l("Days before a grid shows as not patrolled changed"),
    "site.issuing_unit": _l("Issuing unit of the printed points table changed"),
    "grids.imported": _l("Grids imported"),
    "grid.categories_changed": _l("Grid responsibility categories changed"),
    "grid.leader_assigned": _l("Grid leader assigned"),
    "grid.deputy_assigned": _l("Deputy grid leader assigned"),
    "grid.deputy_removed": _l("Deputy grid leader removed"),
    "checkpoint.created": _l("Checkpoint created"),
    "standard.created": _l("Checklist standard created"),
    "standard.updated": _l("Checklist standard changed"),
    "standard.imported": _l("Checklist standard imported"),
    "standard.version_started": _l("New draft version of a standard"),
    "standard.draft_discarded": _l("Draft version discarded"),
    "standard.published": _l("Standard version published"),
    "standard.item_added": _l("Checklist item added"),
    "standard.item_updated": _l("Checklist item changed"),
    "standard.item_moved": _l("Checklist item moved"),
    "standard.item_removed": _l("Checklist item removed"),
    "calendar.override": _l("Site calendar day set"),
    "calendar.imported": _l("Official holiday notice imported"),
    "plan.created": _l("Patrol plan created"),
    "plan.updated": _l("Patrol plan changed"),
    "plan.paused": _l("Patrol plan paused"),
    "plan.resumed": _l("Patrol plan resumed"),
    "issues.time_limit": _l("Time limit changed"),
    "points.rules_changed": _l("Points rules changed"),
    "points.month_closed": _l("Points month closed"),
    "points.appeal_filed": _l("Points appeal filed"),
    "points.appeal_upheld": _l("Points appeal upheld"),
    "points.appeal_overturned": _l("Points appeal overturned"),
    "api_token.created": _l("API token created"),
    "api_token.revoked": _l("API token revoked"),
}

TARGET_LABELS = {
    "User": _l("User"), "Team": _l("Team"), "Site": _l("Site"), "Grid": _l("Grid"), "Checkpoint": _l("Checkpoint"),
    "ChecklistTemplate": _l("Checklist standard"), "TemplateVersion": _l("Standard version"),
    "TemplateItem": _l("Checklist item"), "PatrolPlan": _l("Patrol plan"), "Patrol": _l("Patrol"),
    "Issue": _l("Issue"), "PointsEntry": _l("Points entry"), "PointsAppeal": _l("Appeal"),
    "PointsRuleSet": _l("Points rules"), "PointsMonthClose": _l("Month close"), "ApiToken": _l("API token"),
}

DETAIL_LABELS = {
    "username": _l("Username"), "name": _l("Name"), "code": _l("Code"), "reason": _l("Reason"),
    "note": _l("Note"), "day": _l("Date"), "is_workday": _l("Working day"), "year": _l("Year"),
    "notice": _l("Notice"), "days": _l("Days"), "replaced": _l("Replaces an earlier import"),
    "effects": _l("Effects"), "roles": _l("Roles"), "month": _l("Month"), "points": _l("Points"),
    "grids": _l("Grids"), "categories": _l("Categories"), "recurrence": _l("Repeats"),
    "on_rest_day": _l("On a rest day"), "path": _l("Path"), "method": _l("Method"), "endpoint": _l("Page"),
    "category": _l("Category"), "severity": _l("Severity"), "amount": _l("Amount"), "unit": _l("Unit"),
    "version": _l("Version"), "user": _l("User"), "previous": _l("Before"),
    "before": _l("Before"), "after": _l("After"), "count": _l("Count"), "active": _l("Active"), "site": _l("Site"),
    "known_device": _l("From a known device"), "limit": _l("Limit reached"), "until": _l("Locked until"),
    "password_page": _l("On the password page"),
}


def action_label(action: str) -> str:
    label = ACTION_LABELS.get(action)
    return str(label) if label is not None else action


def target_label(target_type: str | None) -> str:
    if not target_type:
        return ""
    label = TARGET_LABELS.get(target_type)
    return str(label) if label is not None else target_type


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if value is None:
        return "—"
    if isinstance(value, (list, tuple)):
        return "、".join(_value(v) for v in value)
    if isinstance(value, dict):
        return "；".join(f"{_key(k)}：{_value(v)}" for k, v in value.items())
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def _key(key: str) -> str:
    label = DETAIL_LABELS.get(key)
    return str(label) if label is not None else key


def detail_lines(detail: dict[str, Any] | None) -> list[tuple[str, str]]:
    """A detail as (label, value) pairs, readable: Chinese stays Chinese, lists are joined, booleans are marks."""
    return [(_key(key), _value(value)) for key, value in (detail or {}).items()]
