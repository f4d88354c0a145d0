"""What issues tell the patrol pages: the issues raised from a patrol's failed items, with links to them.

Registered with patrols in `register()` (issues.init_app; see patrols/followups.py): the patrol's page links each
failed item to its issue, and the form's script shows them to the leader right after submitting.
"""

from __future__ import annotations

from flask import url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridpatrol.accounts.models import User
from gridpatrol.issues import services, workflow
from gridpatrol.issues.models import Issue, IssueState
from gridpatrol.patrols import followups
from gridpatrol.patrols.models import Patrol


def issues_of_patrol(session: Session, user: User, patrol: Patrol) -> list[followups.FollowUp]:
    """The issues raised from this patrol's items that the user may see (issues.services.can_view), by item."""
    site = patrol.grid.site.code  # the patrol's site, also where no page has set g.site
    issues = session.scalars(select(Issue).where(Issue.patrol_id == patrol.id, Issue.item_id.is_not(None))
                             .order_by(Issue.id))
    return [followups.FollowUp(kind="issue", item_id=issue.item_id, id=issue.id, title=issue.title,
                               state=issue.state, state_label=str(workflow.STATES[IssueState(issue.state)].label),
                               url=url_for("issues.show", site=site, issue_id=issue.id))
            for issue in issues if services.can_view(session, user, issue)]


def register() -> None:
    followups.register_follow_ups("issue", issues_of_patrol)
