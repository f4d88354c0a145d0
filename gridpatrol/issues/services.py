"""The rectification workflow (整改). Every transition checks who may do it from which state, refuses a
stale page, and writes its event in the same transaction.

    reported ─dispatch─▶ dispatched ─start─▶ in_progress ─report_fix─▶ awaiting_verification
        │                    ▲ (re-dispatch)      ▲                             │
        └─reject─▶ rejected                       └───────── rework ◀── fail ───┤
                                                                         pass ──▶ closed
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Iterable, Optional

from blinker import Namespace
from flask_babel import gettext as _
from shapely.geometry import Point
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from gridpatrol.accounts.models import Team, User
from gridpatrol.core import photos as photo_files
from gridpatrol.core.categories import Category
from gridpatrol.core.errors import ConflictError, DomainError, NotAllowed
from gridpatrol.core.roles import Role
from gridpatrol.grids import services as grids
from gridpatrol.grids.models import Grid, Site
from gridpatrol.issues.models import (OPEN_STATES, Issue, IssueComment, IssueEvent, IssuePhoto, IssueSource,
                                      IssueState, RejectReason, Severity, TimeLimit, WorkingHours)
from gridpatrol.workdays import services as workdays

signals = Namespace()
# Sent inside the transition's transaction: points subscribe and write their ledger entries in the same commit.
issue_accepted = signals.signal("issue-accepted")  # first dispatch: the report is valid
issue_rejected = signals.signal("issue-rejected")

NEARBY_METRES = 30.0
DUPLICATE_WINDOW = dt.timedelta(days=30)
MAX_OUTSIDE_METRES = 30.0  # a reported point this close outside a grid is filed under that grid

# Default time limits (处置时限) per severity, used when the site's table has no row for a category.
DEFAULT_LIMITS = {Severity.MINOR: (3, "days"), Severity.MAJOR: (1, "days"), Severity.CRITICAL: (4, "hours")}


# --- who may see and do what ------------------------------------------------------------------------
def _is_grid_responsible(session: Session, user: User, issue: Issue) -> bool:
    return issue.grid is not None and grids.is_responsible_for(session, user, issue.grid)


def _works_on(user: User, issue: Issue) -> bool:
    team_ids = {t.id for t in user.teams}
    return user.has_role(Role.RECTIFIER) and (issue.assignee_id == user.id or
                                              (issue.team_id is not None and issue.team_id in team_ids))


def can_view(session: Session, user: User, issue: Issue) -> bool:
    if user.has_any_role(Role.SUPERVISOR, Role.ADMIN) or issue.reporter_id == user.id:
        return True
    if user.has_role(Role.GRID_LEADER) and _is_grid_responsible(session, user, issue):
        return True
    return _works_on(user, issue)


def allowed_actions(session: Session, user: User, issue: Issue) -> set[str]:
    """The transitions this user may make on the issue now (also drives which buttons a page shows)."""
    state = IssueState(issue.state)
    supervisor = user.has_any_role(Role.SUPERVISOR, Role.ADMIN)
    actions: set[str] = set()
    if state is IssueState.REPORTED and supervisor:
        actions |= {"dispatch", "reject"}
    if state in (IssueState.DISPATCHED, IssueState.IN_PROGRESS) and supervisor:
        actions.add("redispatch")
    if state is IssueState.DISPATCHED and (_works_on(user, issue)):
        actions.add("start")
    if state is IssueState.IN_PROGRESS and _works_on(user, issue):
        actions.add("report_fix")
    if state is IssueState.AWAITING_VERIFICATION and issue.fixed_by_id != user.id and (
            supervisor or (user.has_role(Role.GRID_LEADER) and _is_grid_responsible(session, user, issue))):
        actions |= {"verify_pass", "verify_fail"}
    if can_view(session, user, issue):
        actions.add("comment")
    return actions


def _require(session: Session, user: User, issue: Issue, action: str, expected_version: Optional[int]) -> None:
    if expected_version is not None and expected_version != issue.version:
        raise ConflictError(_("Someone else changed this issue meanwhile; nothing was done. Reload the page."))
    if action not in allowed_actions(session, user, issue):
        if action in _transitions_from(issue.state):
            raise NotAllowed(action)
        raise DomainError(_("This cannot be done while the issue is %(state)s.", state=state_label(issue.state)))


def _transitions_from(state: str) -> set[str]:
    return {
        IssueState.REPORTED.value: {"dispatch", "reject", "comment"},
        IssueState.DISPATCHED.value: {"start", "redispatch", "comment"},
        IssueState.IN_PROGRESS.value: {"report_fix", "redispatch", "comment"},
        IssueState.AWAITING_VERIFICATION.value: {"verify_pass", "verify_fail", "comment"},
        IssueState.CLOSED.value: {"comment"},
        IssueState.REJECTED.value: {"comment"},
    }[state]


def state_label(state: str) -> str:
    return {
        "reported": _("reported"), "dispatched": _("dispatched"), "in_progress": _("in progress"),
        "awaiting_verification": _("awaiting verification"), "closed": _("closed"), "rejected": _("rejected"),
    }[state]


# --- events and photos ---------------------------------------------------------------------------------
def _event(session: Session, issue: Issue, actor: Optional[User], action: str, *, to_state: Optional[str] = None,
           note: Optional[str] = None, data: Optional[dict] = None, at: dt.datetime) -> IssueEvent:
    event = IssueEvent(issue=issue, actor_id=getattr(actor, "id", None), action=action, from_state=issue.state,
                       to_state=to_state or issue.state, note=(note or "").strip() or None, data=data or {}, at=at)
    session.add(event)
    if to_state is not None:
        issue.state = to_state
    return event


def _attach_photos(session: Session, issue: Issue, event: Optional[IssueEvent], kind: str,
                   files: dict[str, bytes]) -> list[IssuePhoto]:
    checked = [photo_files.check_image(data, name) for name, data in sorted(files.items())]
    added = []
    for photo in checked:
        photo_files.store(photo)
        record = IssuePhoto(issue=issue, event=event, kind=kind, sha256=photo.sha256,
                            content_type=photo.content_type, width=photo.width, height=photo.height,
                            size_bytes=len(photo.data))
        session.add(record)
        added.append(record)
    return added


def _flush(session: Session) -> None:
    try:
        session.flush()
    except StaleDataError:
        raise ConflictError(_("Someone else changed this issue meanwhile; nothing was done. Reload the page.")) from None


# --- filing ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReportLocation:
    grid: Optional[Grid]
    distance_m: float


def locate_report(session: Session, site: Site, lon: float, lat: float, level: int) -> ReportLocation:
    answer = grids.locate(session, site, lon, lat, level)
    if answer.inside:
        return ReportLocation(answer.grid, 0.0)
    if answer.nearest is not None and answer.distance_m <= MAX_OUTSIDE_METRES:
        return ReportLocation(answer.nearest, answer.distance_m)
    return ReportLocation(None, answer.distance_m)


def possible_duplicates(session: Session, site: Site, *, grid: Optional[Grid], category: str, lon: float, lat: float,
                        now: dt.datetime) -> list[Issue]:
    """Open issues in the same grid and category, reported recently, within ~30 m: offered before filing."""
    if grid is None:
        return []
    candidates = session.scalars(select(Issue).where(
        Issue.site_id == site.id, Issue.grid_id == grid.id, Issue.category == category,
        Issue.state.in_(OPEN_STATES), Issue.reported_at >= now - DUPLICATE_WINDOW).order_by(Issue.reported_at.desc()))
    projection = grids.locators.get(session, site).projection
    here = projection.to_metres(Point(lon, lat))
    found = []
    for issue in candidates:
        if issue.lon is None or issue.lat is None:
            found.append(issue)  # from a patrol of that grid: no point, same grid and category is enough
        elif projection.to_metres(Point(issue.lon, issue.lat)).distance(here) <= NEARBY_METRES:
            found.append(issue)
    return found[:5]


def report(session: Session, reporter: User, site: Site, *, lon: float, lat: float, level: int, category: str,
           description: str, severity: str = Severity.MINOR.value, photos: dict[str, bytes],
           now: dt.datetime) -> Issue:
    """A quick report (随手拍) by anyone: photo, place, words."""
    if category not in {c.value for c in Category}:
        raise DomainError(_("Choose a category."))
    if severity not in {s.value for s in Severity}:
        raise DomainError(_("Choose a severity."))
    description = (description or "").strip()
    if not description:
        raise DomainError(_("Say what the problem is."))
    if not photos:
        raise DomainError(_("Add at least one photo."))
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise DomainError(_("The position is not valid."))
    where = locate_report(session, site, lon, lat, level)
    issue = Issue(site_id=site.id, grid=where.grid, level=level, lon=lon, lat=lat, category=category,
                  severity=severity, title=description.splitlines()[0][:200], description=description,
                  source=IssueSource.REPORT.value, reporter_id=reporter.id, state=IssueState.REPORTED.value,
                  reported_at=now, rework_count=0)
    session.add(issue)
    event = _event(session, issue, reporter, "reported", to_state=IssueState.REPORTED.value, at=now,
                   data={"grid": where.grid.code if where.grid else None, "outside_m": round(where.distance_m, 1)})
    event.from_state = None
    _attach_photos(session, issue, event, "before", photos)
    session.flush()
    return issue


def issues_from_patrol(session: Session, *, patrol, failed_items, answers, now: dt.datetime,
                       **_kwargs) -> list[Issue]:
    """Each failed checklist item becomes an issue linked to the patrol and item, its photos carried over."""
    from gridpatrol.patrols.models import PatrolPhoto

    if not failed_items:
        return []
    created = []
    for item in failed_items:
        result, note, _names = answers[item.id]
        issue = Issue(site_id=patrol.site_id, grid_id=patrol.grid_id, level=patrol.grid.level,
                      category=item.category, severity=(Severity.MAJOR if item.critical else Severity.MINOR).value,
                      title=item.text[:200], description=note, source=IssueSource.PATROL.value,
                      patrol_id=patrol.id, item_id=item.id, reporter_id=patrol.submitted_by_id,
                      state=IssueState.REPORTED.value, reported_at=now, rework_count=0)
        session.add(issue)
        event = _event(session, issue, patrol.submitted_by, "reported", to_state=IssueState.REPORTED.value, at=now,
                       data={"patrol": patrol.id, "item": item.code})
        event.from_state = None
        for photo in session.scalars(select(PatrolPhoto).where(PatrolPhoto.patrol_id == patrol.id,
                                                               PatrolPhoto.item_id == item.id)):
            session.add(IssuePhoto(issue=issue, event=event, kind="before", sha256=photo.sha256,
                                   content_type=photo.content_type, width=photo.width, height=photo.height,
                                   size_bytes=photo.size_bytes))
        created.append(issue)
    session.flush()
    return created


def _on_patrol_submitted(session: Session, **kwargs) -> None:
    issues_from_patrol(session, **kwargs)


def connect_signals() -> None:
    from gridpatrol.patrols import services as patrols

    patrols.patrol_submitted.connect(_on_patrol_submitted)


# --- deadlines -------------------------------------------------------------------------------------------
def time_limit(session: Session, site: Site, category: str, severity: str) -> tuple[int, str]:
    row = session.scalar(select(TimeLimit).where(TimeLimit.site_id == site.id, TimeLimit.category == category,
                                                 TimeLimit.severity == severity))
    return (row.amount, row.unit) if row else DEFAULT_LIMITS[Severity(severity)]


def office_hours(session: Session, site: Site) -> tuple[dt.time, dt.time]:
    row = session.get(WorkingHours, site.id)
    return (row.starts, row.ends) if row else workdays.DEFAULT_OFFICE_HOURS


def deadline_for(session: Session, site: Site, category: str, severity: str, start: dt.datetime) -> dt.datetime:
    amount, unit = time_limit(session, site, category, severity)
    calendar = workdays.calendar_for(session, site)
    tz = zoneinfo.ZoneInfo(site.timezone)
    office = office_hours(session, site)
    if unit == "hours":
        return workdays.add_working_hours(calendar, tz, start, amount, office)
    return workdays.add_working_days(calendar, tz, start, amount, office)


def set_time_limit(session: Session, site: Site, category: str, severity: str, amount: int, unit: str, *,
                   actor: User) -> None:
    from gridpatrol.audit import services as audit

    if category not in {c.value for c in Category} or severity not in {s.value for s in Severity}:
        raise DomainError(_("Unknown category or severity."))
    if unit not in ("hours", "days") or not (1 <= amount <= (2000 if unit == "hours" else 365)):
        raise DomainError(_("A time limit is 1–2000 working hours or 1–365 working days."))
    row = session.scalar(select(TimeLimit).where(TimeLimit.site_id == site.id, TimeLimit.category == category,
                                                 TimeLimit.severity == severity))
    if row is None:
        row = TimeLimit(site_id=site.id, category=category, severity=severity)
        session.add(row)
    row.amount, row.unit = amount, unit
    session.flush()
    audit.record(session, "issues.time_limit", actor=actor, target=site,
                 detail={"category": category, "severity": severity, "amount": amount, "unit": unit})


# --- transitions -----------------------------------------------------------------------------------------
def dispatch(session: Session, issue: Issue, actor: User, *, team: Optional[Team] = None,
             assignee: Optional[User] = None, severity: Optional[str] = None, note: Optional[str] = None,
             expected_version: Optional[int] = None, now: dt.datetime) -> None:
    """Accept and send to a team or a person (派单); the deadline runs from now. Also re-dispatches."""
    action = "dispatch" if issue.state == IssueState.REPORTED.value else "redispatch"
    _require(session, actor, issue, action, expected_version)
    if team is None and assignee is None:
        raise DomainError(_("Choose a team or a person."))
    if assignee is not None and not (assignee.active and assignee.has_role(Role.RECTIFIER)):
        raise DomainError(_("%(name)s is not an active rectifier.", name=assignee.display_name))
    if team is not None and not team.active:
        raise DomainError(_("The team %(name)s is deactivated.", name=team.name))
    if severity is not None:
        if severity not in {s.value for s in Severity}:
            raise DomainError(_("Choose a severity."))
        issue.severity = severity
    if issue.grid_id is None:
        raise DomainError(_("Set the issue's grid before dispatching it."))
    issue.team_id = team.id if team else None
    issue.assignee_id = assignee.id if assignee else None
    if action == "dispatch":
        issue.dispatched_at = now
        issue.deadline = deadline_for(session, issue.site, issue.category, issue.severity, now)
    _event(session, issue, actor, action, to_state=IssueState.DISPATCHED.value if action == "dispatch" else None,
           note=note, at=now, data={"team": team.name if team else None,
                                     "assignee": assignee.username if assignee else None,
                                     "severity": issue.severity,
                                     "deadline": issue.deadline.isoformat() if issue.deadline else None})
    _flush(session)
    if action == "dispatch":
        issue_accepted.send(session, issue=issue, now=now)


def reject(session: Session, issue: Issue, actor: User, *, reason: str, note: str,
           duplicate_of: Optional[Issue] = None, expected_version: Optional[int] = None, now: dt.datetime) -> None:
    """不予受理: invalid, a duplicate (of which issue) or not ours — always with a reason in words."""
    _require(session, actor, issue, "reject", expected_version)
    if reason not in {r.value for r in RejectReason}:
        raise DomainError(_("Choose why the report is rejected."))
    if not (note or "").strip():
        raise DomainError(_("Say why the report is rejected."))
    if reason == RejectReason.DUPLICATE.value:
        if duplicate_of is None or duplicate_of.id == issue.id or duplicate_of.site_id != issue.site_id:
            raise DomainError(_("Name the issue this one duplicates."))
        issue.duplicate_of_id = duplicate_of.id
    issue.reject_reason, issue.rejected_at = reason, now
    _event(session, issue, actor, "reject", to_state=IssueState.REJECTED.value, note=note, at=now,
           data={"reason": reason, "duplicate_of": duplicate_of.id if duplicate_of else None})
    _flush(session)
    issue_rejected.send(session, issue=issue, now=now)


def start(session: Session, issue: Issue, actor: User, *, note: Optional[str] = None,
          expected_version: Optional[int] = None, now: dt.datetime) -> None:
    _require(session, actor, issue, "start", expected_version)
    _event(session, issue, actor, "start", to_state=IssueState.IN_PROGRESS.value, note=note, at=now)
    _flush(session)


def report_fix(session: Session, issue: Issue, actor: User, *, note: str, photos: dict[str, bytes],
               expected_version: Optional[int] = None, now: dt.datetime) -> None:
    """The rectifier says it is fixed, with after-photos and a note; someone else verifies."""
    _require(session, actor, issue, "report_fix", expected_version)
    if not photos:
        raise DomainError(_("Add at least one photo of the fixed state."))
    if not (note or "").strip():
        raise DomainError(_("Say what was done."))
    issue.fixed_at, issue.fixed_by_id = now, actor.id
    event = _event(session, issue, actor, "report_fix", to_state=IssueState.AWAITING_VERIFICATION.value, note=note,
                   at=now)
    _attach_photos(session, issue, event, "after", photos)
    _flush(session)


def verify(session: Session, issue: Issue, actor: User, *, passed: bool, note: Optional[str] = None,
           expected_version: Optional[int] = None, now: dt.datetime) -> None:
    """核查结案: pass closes; fail sends it back for rework (返工), with a note saying what is wrong."""
    _require(session, actor, issue, "verify_pass" if passed else "verify_fail", expected_version)
    if passed:
        issue.closed_at = now
        _event(session, issue, actor, "verify_pass", to_state=IssueState.CLOSED.value, note=note, at=now)
    else:
        if not (note or "").strip():
            raise DomainError(_("Say what is still wrong."))
        issue.rework_count = (issue.rework_count or 0) + 1
        _event(session, issue, actor, "rework", to_state=IssueState.IN_PROGRESS.value, note=note, at=now)
    _flush(session)


def comment(session: Session, issue: Issue, actor: User, text: str, *, now: dt.datetime) -> IssueComment:
    _require(session, actor, issue, "comment", None)
    text = (text or "").strip()
    if not text:
        raise DomainError(_("A comment cannot be empty."))
    entry = IssueComment(issue=issue, author_id=actor.id, text=text[:4000], at=now)
    session.add(entry)
    session.flush()
    return entry


def bulk_dispatch(session: Session, issues: Iterable[Issue], actor: User, *, team: Optional[Team],
                  assignee: Optional[User], now: dt.datetime) -> int:
    """Dispatch several reported issues at once (from the queue); all or none."""
    count = 0
    for issue in issues:
        dispatch(session, issue, actor, team=team, assignee=assignee, now=now)
        count += 1
    return count
