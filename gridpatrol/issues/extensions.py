"""延期: a rectifier asks for a later deadline; a supervisor of the site approves or refuses it.

The rectifier working on an issue (the workflow's RECTIFIER predicate: its assignee or a member of its team) asks
while it is dispatched or in progress, with a reason and the day the work can be done by: the requested deadline
is that day's close of office, later than the deadline in force (and than now) and at most `services.MAX_NEW_DEADLINE` ahead. One
request per issue waits for a decision at a time. A supervisor (or admin) of the issue's site approves or refuses
it, with an optional note, while the issue's clock runs (`CLOCK_STATES`); only an approval moves the deadline.
Each step writes an `IssueEvent` in the same transaction (extension_requested / _approved / _refused; a deferral
closes a pending request as lapsed, see `services.defer`). The requests are rows (`IssueExtension`), so metrics
count 延期数 (issues with an extension approved in a period) and 按期 reads the deadline in force.

Not a row of the workflow table: nothing here changes the issue's state.
"""

from __future__ import annotations

import datetime as dt
from typing import Optional

from blinker import Namespace
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gridpatrol.accounts.models import User
from gridpatrol.core.errors import ConflictError, DomainError, NotAllowed
from gridpatrol.issues import services
from gridpatrol.issues.models import CLOCK_STATES, ExtensionState, Issue, IssueExtension, IssueState
from gridpatrol.issues.workflow import Who

signals = Namespace()
extension_requested = signals.signal("issue-extension-requested")
"""A rectifier asked for a later deadline (flushed). Named arguments: sender (the session); issue; extension (the
`IssueExtension`, pending); actor (who asked); now."""
extension_decided = signals.signal("issue-extension-decided")
"""A supervisor decided a request (flushed; on approval the issue already carries the new deadline). Named
arguments: sender (the session); issue; extension; approved (bool); actor (who decided); now."""

REQUEST_STATES = (IssueState.DISPATCHED.value, IssueState.IN_PROGRESS.value)

def pending(session: Session, issue: Issue) -> Optional[IssueExtension]:
    """The request of this issue waiting for a decision, or None."""
    return session.scalar(select(IssueExtension).where(IssueExtension.issue_id == issue.id,
                                                       IssueExtension.state == ExtensionState.PENDING.value))


def may_request(session: Session, user: User, issue: Issue) -> bool:
    """Whether `user` may ask for a later deadline now (no request pending, issue being worked on, by them)."""
    return (issue.state in REQUEST_STATES and services.WHO[Who.RECTIFIER](session, user, issue)
            and pending(session, issue) is None)


def may_decide(session: Session, user: User, issue: Issue) -> bool:
    """Whether `user` may decide this issue's requests now: a supervisor of its site, while its clock runs."""
    return issue.state in CLOCK_STATES and services.WHO[Who.SUPERVISOR](session, user, issue)


def request(session: Session, issue: Issue, actor: User, *, reason: Optional[str], deadline: Optional[dt.date],
            now: dt.datetime) -> IssueExtension:
    """延期申请: ask for the close of office on `deadline` as the new deadline, saying why."""
    if not services.WHO[Who.RECTIFIER](session, actor, issue):
        raise NotAllowed("extension request by someone not working on the issue")
    if issue.state not in REQUEST_STATES or issue.deadline is None:
        raise DomainError(_("A later deadline can be asked for only while the issue is dispatched or being fixed."))
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Say why more time is needed."))
    if deadline is None:
        raise DomainError(_("Give the new deadline."))
    if pending(session, issue) is not None:
        raise DomainError(_("A request for a later deadline is already waiting for a decision."))
    new_deadline = services.deadline_on_day(session, issue.site, deadline)
    services.check_new_deadline(new_deadline, after=max(issue.deadline, now), now=now)
    extension = IssueExtension(issue=issue, requested_at=now, requested_by_id=actor.id, reason=reason[:2000],
                               deadline_before=issue.deadline, requested_deadline=new_deadline,
                               state=ExtensionState.PENDING.value)
    session.add(extension)
    try:
        with session.begin_nested():  # a request made at the same moment by a team mate: one pending only
            session.flush()
    except IntegrityError:
        raise ConflictError(_("A request for a later deadline is already waiting for a decision.")) from None
    services._event(session, issue, actor, "extension_requested", note=reason, at=now,
                    data={"extension": extension.id, "from": issue.deadline.isoformat(),
                          "to": new_deadline.isoformat()})
    services._flush(session)
    extension_requested.send(session, issue=issue, extension=extension, actor=actor, now=now)
    return extension


def decide(session: Session, issue: Issue, extension: IssueExtension, actor: User, *, approve: bool,
           note: Optional[str] = None, expected_version: Optional[int] = None, now: dt.datetime) -> None:
    """A supervisor's decision: approved moves the deadline to the requested one; refused leaves it."""
    if extension.issue_id != issue.id:
        raise DomainError(_("This request is not about this issue."))
    if not services.WHO[Who.SUPERVISOR](session, actor, issue):
        raise NotAllowed("extension decision by someone not a supervisor of the site")
    if expected_version is not None and expected_version != extension.version:
        raise ConflictError(_("Someone else changed this issue meanwhile; nothing was done. Reload the page."))
    if extension.state != ExtensionState.PENDING.value:
        raise DomainError(_("This request has been decided already."))
    if issue.state not in CLOCK_STATES:
        raise DomainError(_("This cannot be done while the issue is %(state)s.",
                            state=services.state_label(issue.state)))
    if approve and issue.deadline is not None and extension.requested_deadline <= issue.deadline:
        raise DomainError(_("The deadline is already as late as the request asks: refuse it instead."))
    extension.state = (ExtensionState.APPROVED if approve else ExtensionState.REFUSED).value
    extension.decided_at, extension.decided_by_id = now, actor.id
    extension.decision_note = (note or "").strip()[:2000] or None
    old = issue.deadline
    if approve:
        issue.deadline = extension.requested_deadline
    services._event(session, issue, actor, "extension_approved" if approve else "extension_refused",
                    note=note, at=now,
                    data={"extension": extension.id, "from": old.isoformat() if old else None,
                          "to": extension.requested_deadline.isoformat()})
    services._flush(session)
    extension_decided.send(session, issue=issue, extension=extension, approved=approve, actor=actor, now=now)
