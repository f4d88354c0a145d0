"""Translated names of issue states, severities, actions and events, translated once per language.

A queue page shows a state, a severity and a category on each of its rows; translating each one there cost
more than the page's queries. Templates call `issue_labels()` and index the plain dicts it returns. The words
for states, actions (buttons) and events (the timeline) are the workflow table's (`issues/workflow.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from gridpatrol.core.categories import Category
from gridpatrol.issues import workflow
from gridpatrol.issues.models import Severity

STATE_LABELS = {state: info.label for state, info in workflow.STATES.items()}
# A button per action: an action's rows all carry the same label.
ACTION_LABELS = {t.action: t.label for t in workflow.TRANSITIONS}
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
    action: dict[str, str]  # the button of each action
    event: dict[str, str]  # what the timeline says for each stored event


def issue_labels() -> IssueLabels:
    """The labels in the current request's language: translated once per language and app (the catalogues do not
    change while the app runs), then shared by every request in that language. Read them, never change them."""
    locale = str(get_locale())
    cache = current_app.extensions.setdefault("gridpatrol.issue_labels", {})
    labels = cache.get(locale)
    if labels is None:
        labels = cache[locale] = IssueLabels(
            state={state.value: str(label) for state, label in STATE_LABELS.items()},
            severity={severity.value: str(label) for severity, label in SEVERITY_LABELS.items()},
            category={category.value: category.label for category in Category},
            overdue=str(OVERDUE_LABEL),
            action={action.value: str(label) for action, label in ACTION_LABELS.items()},
            event={event: str(label) for event, label in workflow.EVENT_LABELS.items()})
    return labels
