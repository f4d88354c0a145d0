"""Translated names of issue states and severities, looked up once per request.

A queue page shows a state, a severity and a category on each of its rows; translating each one there cost
more than the page's queries. Templates call `issue_labels()` and index the plain dicts it returns.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import g
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from gridpatrol.core.categories import Category
from gridpatrol.issues.models import IssueState, Severity

STATE_LABELS = {
    IssueState.REPORTED: _l("To accept"),
    IssueState.DISPATCHED: _l("Dispatched"),
    IssueState.IN_PROGRESS: _l("Being fixed"),
    IssueState.AWAITING_VERIFICATION: _l("Awaiting verification"),
    IssueState.CLOSED: _l("Closed"),
    IssueState.REJECTED: _l("Rejected"),
}
SEVERITY_LABELS = {
    Severity.MINOR: _l("Minor"),
    Severity.MAJOR: _l("Major"),
    Severity.CRITICAL: _l("Critical"),
}
OVERDUE_LABEL = _l("Overdue")


@dataclass(frozen=True)
class IssueLabels:
    state: dict[str, str]
    severity: dict[str, str]
    category: dict[str, str]
    overdue: str


def issue_labels() -> IssueLabels:
    """The labels in the current request's language (computed on first use, then kept on `g`)."""
    locale = str(get_locale())
    cached = g.get("issue_labels")
    if cached is None or cached[0] != locale:
        cached = g.issue_labels = (locale, IssueLabels(
            state={state.value: str(label) for state, label in STATE_LABELS.items()},
            severity={severity.value: str(label) for severity, label in SEVERITY_LABELS.items()},
            category={category.value: category.label for category in Category},
            overdue=str(OVERDUE_LABEL)))
    return cached[1]
