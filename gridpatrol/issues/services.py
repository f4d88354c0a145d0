"""The rectification workflow (整改): the service functions of the table in `issues/workflow.py`.

Every transition checks, from the table, who may do it from which state and what it needs, refuses a stale
page, writes its event in the same transaction and sends `issue_transitioned`. One function per action, each
registered with `@performs(action)`; `perform` runs the one an action names.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Callable, Iterable, Optional

from blinker import Namespace
from flask_babel import gettext as _
from shapely.geometry import Point
from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from gridpatrol.accounts.models import Team, User, UserRole, team_members
from gridpatrol.core import photos as photo_files
from gridpatrol.core.categories import Category
from gridpatrol.core.errors import ConflictError, DomainError, NotAllowed
from gridpatrol.core.roles import Role
from gridpatrol.core.time import format_local
from gridpatrol.grids import services as grids
from gridpatrol.grids.models import Grid, Site
from gridpatrol.issues import titles, workflow
from gridpatrol.issues.models import (OPEN_STATES, ExtensionState, Issue, IssueComment, IssueDeferral, IssueEvent,
                                      IssueExtension, IssuePhoto, IssueSource, IssueState, RejectReason, Severity,
                                      TimeLimit, WorkingHours)
from gridpatrol.issues.workflow import Action, Need, Transition, Who
from gridpatrol.workdays import services as workdays

signals = Namespace()
# Every signal here is sent inside the transition's transaction, after the change is flushed: a subscriber
# writes in the same commit (points book their ledger entries), and a refusal by a subscriber undoes it all.
issue_transitioned = signals.signal("issue-transitioned")
"""Sent for every row of the workflow table that is carried out (comments included), with named arguments:

* sender: the SQLAlchemy session;
* issue: the `Issue`, already in its new state;
* action: the `workflow.Action` done;
* from_state, to_state: `IssueState` members (equal for a re-dispatch or a comment);
* actor: the `User` who did it;
* note: the note (the comment's text for a comment), or None;
* now: the aware datetime of the transition.
"""
issue_accepted = signals.signal("issue-accepted")
"""The first dispatch: the report is valid. Named arguments: issue; accepted_severity (a `Severity`) and
accepted_at (aware datetime), as stored on the issue; should_have_been_found (应巡未发现, as stored on the issue:
True or False for a quick report, as the supervisor marked it; None for a problem a patrol found); now."""
issue_rejected = signals.signal("issue-rejected")
"""不予受理. Named arguments: issue; reason (a `RejectReason`); now."""
issue_reported = signals.signal("issue-reported")
"""A new issue, from a quick report (随手拍) or a failed checklist item, already flushed (it has its id).
Named arguments: issue; source (an `IssueSource`); now."""

NEARBY_METRES = 30.0
DUPLICATE_WINDOW = dt.timedelta(days=30)
MAX_OUTSIDE_METRES = 30.0  # a reported point this close outside a grid is filed under that grid

# Default time limits (处置时限) per severity, used when the site's table has no row for a category.
DEFAULT_LIMITS = {Severity.MINOR: (3, "days"), Severity.MAJOR: (1, "days"), Severity.CRITICAL: (4, "hours")}


# --- who may see and do what ------------------------------------------------------------------------
def _is_grid_responsible(session: Session, user: User, issue: Issue) -> bool:
    return issue.grid is not None and grids.is_responsible_for(session, user, issue.grid)


def _is_supervisor(session: Session, user: User, issue: Issue) -> bool:
    return user.has_any_role(Role.SUPERVISOR, Role.ADMIN, site_id=issue.site_id)


def _works_on(session: Session, user: User, issue: Issue) -> bool:
    team_ids = {t.id for t in user.teams}
    return user.has_role(Role.RECTIFIER, site_id=issue.site_id) and (issue.assignee_id == user.id or
                                              (issue.team_id is not None and issue.team_id in team_ids))


def _may_verify(session: Session, user: User, issue: Issue) -> bool:
    return issue.fixed_by_id != user.id and (
        _is_supervisor(session, user, issue)
        or (user.has_role(Role.GRID_LEADER, site_id=issue.site_id) and _is_grid_responsible(session, user, issue)))


def can_view(session: Session, user: User, issue: Issue) -> bool:
    if _is_supervisor(session, user, issue) or issue.reporter_id == user.id:
        return True
    if user.has_role(Role.GRID_LEADER, site_id=issue.site_id) and _is_grid_responsible(session, user, issue):
        return True
    return _works_on(session, user, issue)


def can_view_patrol(session: Session, user: User, issue: Issue) -> bool:
    """Whether the issue's patrol (if it came from one) is open to this user: pages link to it only then."""
    from gridpatrol.patrols import services as patrols
    from gridpatrol.patrols.models import Patrol

    if issue.patrol_id is None:
        return False
    patrol = session.get(Patrol, issue.patrol_id)
    return patrol is not None and patrols.can_view(session, user, patrol)


def standard_text(session: Session, issue: Issue) -> Optional[str]:
    """The checklist item's standard a failed-item issue was checked against (对照标准), or None."""
    from gridpatrol.standards.models import TemplateItem

    return session.scalar(select(TemplateItem.text).where(TemplateItem.id == issue.item_id)) \
        if issue.item_id is not None else None


# The predicates the table's `who` names.
WHO: dict[Who, Callable[[Session, User, Issue], bool]] = {
    Who.SUPERVISOR: _is_supervisor,
    Who.RECTIFIER: _works_on,
    Who.VERIFIER: _may_verify,
    Who.VIEWER: can_view,
}


def allowed_transitions(session: Session, user: User, issue: Issue) -> list[Transition]:
    """The table's rows this user may carry out on the issue now, in the table's order."""
    return [t for t in workflow.transitions_from(issue.state) if WHO[t.who](session, user, issue)]


def may_attempt(session: Session, user: User, issue: Issue, action: Action) -> bool:
    """Whether the user is among those who may do `action` to the issue: by its row for the issue's state, or, if
    the action cannot be done in that state (the service says so), by any of its rows. Checked before the form's
    body is read; the service checks again, with the rest."""
    row = workflow.transition(issue.state, action)
    rows = [row] if row is not None else [t for t in workflow.TRANSITIONS if t.action is Action(action)]
    return any(WHO[t.who](session, user, issue) for t in rows)


def allowed_actions(session: Session, user: User, issue: Issue) -> set[Action]:
    """The actions this user may do on the issue now (the issue page shows the forms of these)."""
    return {t.action for t in allowed_transitions(session, user, issue)}


def _require(session: Session, user: User, issue: Issue, action: Action, expected_version: Optional[int],
             **given) -> Transition:
    """The table's row for `action` now, once the page is current, the user may and the row's needs are met."""
    if expected_version is not None and expected_version != issue.version:
        raise ConflictError(_("Someone else changed this issue meanwhile; nothing was done. Reload the page."))
    row = workflow.transition(issue.state, action)
    if row is None:
        raise DomainError(_("This cannot be done while the issue is %(state)s.", state=state_label(issue.state)))
    if not WHO[row.who](session, user, issue):
        raise NotAllowed(action.value)
    for need, refusal in row.needs.items():
        if not _NEED_MET[need](given):
            raise DomainError(str(refusal))
    return row


_NEED_MET: dict[Need, Callable[[dict], bool]] = {
    Need.NOTE: lambda given: bool((given.get("note") or "").strip()),
    Need.TEXT: lambda given: bool((given.get("text") or "").strip()),
    Need.PHOTOS: lambda given: bool(given.get("photos")),
    Need.REASON: lambda given: given.get("reason") in RejectReason._value2member_map_,
    Need.TEAM_OR_ASSIGNEE: lambda given: given.get("team") is not None or given.get("assignee") is not None,
}


def state_label(state: IssueState | str) -> str:
    """The state's name inside a sentence ("… the issue is now dispatched")."""
    return str(workflow.STATES[IssueState(state)].in_sentence)


# --- events and photos ---------------------------------------------------------------------------------
def _event(session: Session, issue: Issue, actor: Optional[User], action: str, *, to_state: Optional[str] = None,
           note: Optional[str] = None, data: Optional[dict] = None, at: dt.datetime) -> IssueEvent:
    event = IssueEvent(issue=issue, actor_id=getattr(actor, "id", None), action=action, from_state=issue.state,
                       to_state=to_state or issue.state, note=(note or "").strip() or None, data=data or {}, at=at)
    session.add(event)
    if to_state is not None:
        issue.state = to_state
    return event


def checked_photos(files: dict[str, bytes]) -> list[photo_files.CheckedPhoto]:
    """The photos of one report or step, refused (DomainError) before anything is written: too many, too many
    bytes together (ISSUE_MAX_PHOTOS, ISSUE_MAX_PHOTOS_BYTES), or one that is not a sane image."""
    photo_files.PhotoLimits.of("issue").check(files)
    return [photo_files.check_image(data, name) for name, data in sorted(files.items())]


def _attach_photos(session: Session, issue: Issue, event: Optional[IssueEvent], kind: str,
                   checked: list[photo_files.CheckedPhoto]) -> list[IssuePhoto]:
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
           now: dt.datetime, photos_required: bool = True) -> Issue:
    """A quick report (随手拍) by anyone: photo, place, words. The page requires a photo; a machine channel that
    has none (Open311, whose `media_url` is only a link) files with `photos_required=False`."""
    if category not in {c.value for c in Category}:
        raise DomainError(_("Choose a category."))
    if severity not in {s.value for s in Severity}:
        raise DomainError(_("Choose a severity."))
    description = (description or "").strip()
    if not description:
        raise DomainError(_("Say what the problem is."))
    if photos_required and not photos:
        raise DomainError(_("Add at least one photo."))
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise DomainError(_("The position is not valid."))
    checked = checked_photos(photos)  # every refusal before anything is added
    where = locate_report(session, site, lon, lat, level)
    issue = Issue(site_id=site.id, grid=where.grid, level=level, lon=lon, lat=lat, category=category,
                  severity=severity, title=titles.cut(description.splitlines()[0].strip(), titles.TITLE_MAX),
                  description=description,
                  source=IssueSource.REPORT.value, reporter_id=reporter.id, state=IssueState.REPORTED.value,
                  reported_at=now, rework_count=0)
    session.add(issue)
    event = _event(session, issue, reporter, "reported", to_state=IssueState.REPORTED.value, at=now,
                   data={"grid": where.grid.code if where.grid else None, "outside_m": round(where.distance_m, 1)})
    event.from_state = None
    _attach_photos(session, issue, event, "before", checked)
    session.flush()
    issue_reported.send(session, issue=issue, source=IssueSource.REPORT, now=now)
    return issue


def issues_from_patrol(session: Session, *, patrol, failed_items, answers, now: dt.datetime,
                       **_kwargs) -> list[Issue]:
    """Each failed checklist item becomes an issue linked to the patrol and item, its photos carried over. Its
    title is the fault: the leader's note, or the item's short name and 不合格 (`issues.titles`)."""
    from gridpatrol.patrols.models import PatrolPhoto

    if not failed_items:
        return []
    created = []
    for item in failed_items:
        result, note, _names = answers[item.id]
        issue = Issue(site_id=patrol.site_id, grid_id=patrol.grid_id, level=patrol.grid.level,
                      category=item.category, severity=(Severity.MAJOR if item.critical else Severity.MINOR).value,
                      title=titles.finding_title(category=item.category, item_text=item.text, note=note),
                      description=note, source=IssueSource.PATROL.value,
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
    for issue in created:
        issue_reported.send(session, issue=issue, source=IssueSource.PATROL, now=now)
    return created


def _on_patrol_submitted(session: Session, **kwargs) -> None:
    issues_from_patrol(session, **kwargs)


def connect_signals() -> None:
    from gridpatrol.patrols import services as patrols

    patrols.patrol_submitted.connect(_on_patrol_submitted)


# --- deadlines -------------------------------------------------------------------------------------------
# Read on every acceptance (and, for the office hours, by the history's clock): built once, columns only.
_TIME_LIMIT = select(TimeLimit.amount, TimeLimit.unit).where(
    TimeLimit.site_id == bindparam("site_id"), TimeLimit.category == bindparam("category"),
    TimeLimit.severity == bindparam("severity"))
_OFFICE_HOURS = select(WorkingHours.starts, WorkingHours.ends).where(WorkingHours.site_id == bindparam("site_id"))


def time_limit(session: Session, site: Site, category: str, severity: str) -> tuple[int, str]:
    row = session.execute(_TIME_LIMIT, {"site_id": site.id, "category": category, "severity": severity}).first()
    return (row.amount, row.unit) if row else DEFAULT_LIMITS[Severity(severity)]


def office_hours(session: Session, site: Site) -> tuple[dt.time, dt.time]:
    row = session.execute(_OFFICE_HOURS, {"site_id": site.id}).first()
    return (row.starts, row.ends) if row else workdays.DEFAULT_OFFICE_HOURS


def deadline_for(session: Session, site: Site, category: str, severity: str, start: dt.datetime) -> dt.datetime:
    amount, unit = time_limit(session, site, category, severity)
    return deadline_from(session, site, amount, unit, start)


def deadline_from(session: Session, site: Site, amount: int, unit: str, start: dt.datetime, *,
                  calendar: Optional[workdays.WorkdayCalendar] = None) -> dt.datetime:
    """`amount` working hours or days after `start` at `site` (by `calendar`, else the site's own)."""
    calendar = calendar or workdays.calendar_for(session, site)
    tz = zoneinfo.ZoneInfo(site.timezone)
    office = office_hours(session, site)
    if unit == "hours":
        return workdays.add_working_hours(calendar, tz, start, amount, office)
    return workdays.add_working_days(calendar, tz, start, amount, office)


MAX_NEW_DEADLINE = dt.timedelta(days=180)  # how far ahead an extension or a resume may set a deadline


def deadline_on_day(session: Session, site: Site, day: dt.date) -> dt.datetime:
    """A deadline given as a date (延期, resume): the close of office that day in the site's zone, as UTC."""
    tz = zoneinfo.ZoneInfo(site.timezone)
    return dt.datetime.combine(day, office_hours(session, site)[1], tzinfo=tz).astimezone(dt.timezone.utc)


def check_new_deadline(deadline: dt.datetime, *, after: dt.datetime, now: dt.datetime) -> None:
    """A deadline given by a person: later than `after`, and no further than `MAX_NEW_DEADLINE` from now."""
    if deadline <= after:
        raise DomainError(_("The new deadline must be later than %(when)s.", when=format_local(after)))
    if deadline > now + MAX_NEW_DEADLINE:
        raise DomainError(_("The new deadline may be at most %(days)d days ahead.", days=MAX_NEW_DEADLINE.days))


def working_hours_between(session: Session, site: Site, start: dt.datetime, end: dt.datetime) -> float:
    """The office hours on workdays between `start` and `end` at `site` (0 when `end` is not later): what was left
    of an issue's time when it was deferred."""
    if end <= start:
        return 0.0
    calendar = workdays.calendar_for(session, site)
    tz = zoneinfo.ZoneInfo(site.timezone)
    opens_at, closes_at = office_hours(session, site)
    start, end = start.astimezone(tz), end.astimezone(tz)
    total = dt.timedelta()
    day = start.date()
    while day <= end.date():
        if calendar.is_workday(day):
            begin = max(dt.datetime.combine(day, opens_at, tzinfo=tz), start)
            finish = min(dt.datetime.combine(day, closes_at, tzinfo=tz), end)
            if finish > begin:
                total += finish - begin
        day += dt.timedelta(days=1)
    return round(total.total_seconds() / 3600.0, 4)


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
_PERFORMERS: dict[Action, Callable[..., object]] = {}


def performs(action: Action):
    """Register the service function that carries out `action` (one per action of the workflow table)."""
    def register(function):
        assert action not in _PERFORMERS, f"{action} has a service function already"
        _PERFORMERS[action] = function
        return function
    return register


def perform(session: Session, issue: Issue, actor: User, action: Action | str, *, now: dt.datetime,
            expected_version: Optional[int] = None, **given):
    """Carry out `action` with the inputs its form gave (the issue page's one entry point)."""
    if not workflow.is_action(action):
        raise DomainError(_("This cannot be done while the issue is %(state)s.", state=state_label(issue.state)))
    return _PERFORMERS[Action(action)](session, issue, actor, expected_version=expected_version, now=now, **given)


def _done(session: Session, issue: Issue, row: Transition, actor: User, *, note: Optional[str], now: dt.datetime,
          data: Optional[dict] = None, photos: Optional[dict[str, bytes]] = None) -> IssueEvent:
    """The table's new state, the event (and its photos), flushed; then `issue_transitioned`."""
    checked = checked_photos(photos) if photos else []
    event = _event(session, issue, actor, row.event, to_state=row.to_state.value, note=note, at=now, data=data)
    if checked:
        _attach_photos(session, issue, event, "after", checked)
    _flush(session)
    _announce(session, issue, row, actor, note=event.note, now=now)
    return event


def _announce(session: Session, issue: Issue, row: Transition, actor: User, *, note: Optional[str],
              now: dt.datetime) -> None:
    issue_transitioned.send(session, issue=issue, action=row.action, from_state=row.from_state,
                            to_state=row.to_state, actor=actor, note=note, now=now)


def _team_can_act(session: Session, team: Team, site_id: int) -> bool:
    """Whether someone in the team can work on an issue of the site: an active member holding the rectifier role
    there (or at every site)."""
    return session.scalar(
        select(User.id).join(team_members, team_members.c.user_id == User.id).join(UserRole, UserRole.user_id == User.id)
        .where(team_members.c.team_id == team.id, User.active.is_(True), UserRole.role == Role.RECTIFIER.value,
               or_(UserRole.site_id.is_(None), UserRole.site_id == site_id))
        .limit(1)) is not None


def _check_recipient(session: Session, site_id: int, team: Optional[Team], assignee: Optional[User]) -> None:
    """Refuse a recipient that cannot work on the site's issues (a team without anyone who can: by name)."""
    if assignee is not None and not (assignee.active and assignee.has_role(Role.RECTIFIER, site_id=site_id)):
        raise DomainError(_("%(name)s is not an active rectifier.", name=assignee.display_name))
    if team is not None and not team.active:
        raise DomainError(_("The team %(name)s is deactivated.", name=team.name))
    if team is not None and assignee is None and not _team_can_act(session, team, site_id):
        raise DomainError(_("Nobody in the team %(name)s can work on issues: it has no active rectifier.",
                            name=team.name))


def _send_to(session: Session, issue: Issue, actor: User, action: Action, *, team: Optional[Team],
             assignee: Optional[User], severity: Optional[str], note: Optional[str],
             expected_version: Optional[int], now: dt.datetime, should_have_been_found: Optional[bool] = None) -> None:
    row = _require(session, actor, issue, action, expected_version, team=team, assignee=assignee)
    _check_recipient(session, issue.site_id, team, assignee)
    accepting = row.action is Action.DISPATCH
    if accepting:
        should_have_been_found = _missed_by_patrols(issue, should_have_been_found)
    if severity is not None:
        if severity not in Severity._value2member_map_:
            raise DomainError(_("Choose a severity."))
        issue.severity = Severity(severity).value
    if issue.grid_id is None:
        raise DomainError(_("Set the issue's grid before dispatching it."))
    issue.team_id = team.id if team else None
    issue.assignee_id = assignee.id if assignee else None
    if accepting:
        issue.dispatched_at = now
        issue.should_have_been_found = should_have_been_found
        limit = time_limit(session, issue.site, issue.category, issue.severity)
        issue.deadline = deadline_from(session, issue.site, *limit, now)
        issue.accepted_severity, issue.accepted_at = issue.severity, now
    _done(session, issue, row, actor, note=note, now=now, data={
        "team": team.name if team else None, "assignee": assignee.username if assignee else None,
        "severity": issue.severity, "deadline": issue.deadline.isoformat() if issue.deadline else None,
        # The limit the deadline was counted with: a later official calendar recounts it (issues.deadlines).
        **({"time_limit": list(limit)} if accepting else {}),
        **({"should_have_been_found": should_have_been_found} if should_have_been_found is not None else {})})
    if accepting:
        issue_accepted.send(session, issue=issue, accepted_severity=Severity(issue.accepted_severity),
                            accepted_at=issue.accepted_at, should_have_been_found=issue.should_have_been_found,
                            now=now)


def _missed_by_patrols(issue: Issue, marked: Optional[bool]) -> Optional[bool]:
    """应巡未发现 as stored at acceptance: for a quick report, whether the supervisor marked that a patrol should
    have found it (unmarked: False); for a problem a patrol found, None (there is nothing to mark)."""
    if issue.source == IssueSource.PATROL.value:
        if marked:
            raise DomainError(_("A patrol found this problem: only a quick report can be marked as one a patrol "
                                "should have found."))
        return None
    return bool(marked)


@performs(Action.DISPATCH)
def accept(session: Session, issue: Issue, actor: User, *, team: Optional[Team] = None,
           assignee: Optional[User] = None, severity: Optional[str] = None, note: Optional[str] = None,
           should_have_been_found: Optional[bool] = None, expected_version: Optional[int] = None,
           now: dt.datetime) -> None:
    """受理 and 派单: the report is valid; send it to a team or a person. The deadline runs from now, and the
    severity it is accepted with is stored on the issue (`accepted_severity`, `accepted_at`), with, for a quick
    report, whether a patrol should have found it (`should_have_been_found`, 应巡未发现: only then does it cost
    the grid's leader; unmarked means no)."""
    _send_to(session, issue, actor, Action.DISPATCH, team=team, assignee=assignee, severity=severity, note=note,
             expected_version=expected_version, now=now, should_have_been_found=should_have_been_found)


@performs(Action.REDISPATCH)
def redispatch(session: Session, issue: Issue, actor: User, *, team: Optional[Team] = None,
               assignee: Optional[User] = None, severity: Optional[str] = None, note: Optional[str] = None,
               expected_version: Optional[int] = None, now: dt.datetime) -> None:
    """改派: another team or person; the state, the deadline and the accepted severity stay."""
    _send_to(session, issue, actor, Action.REDISPATCH, team=team, assignee=assignee, severity=severity, note=note,
             expected_version=expected_version, now=now)


def dispatch(session: Session, issue: Issue, actor: User, **kwargs) -> None:
    """Accept a reported issue, or re-dispatch one already dispatched (for callers that do either)."""
    (accept if IssueState(issue.state) is IssueState.REPORTED else redispatch)(session, issue, actor, **kwargs)


@performs(Action.REJECT)
def reject(session: Session, issue: Issue, actor: User, *, reason: str, note: Optional[str],
           duplicate_of: Optional[Issue] = None, expected_version: Optional[int] = None, now: dt.datetime) -> None:
    """不予受理: invalid, a duplicate (of which issue) or not ours — always with a reason in words."""
    row = _require(session, actor, issue, Action.REJECT, expected_version, reason=reason, note=note)
    reason = RejectReason(reason)
    if reason is RejectReason.DUPLICATE:
        if duplicate_of is None or duplicate_of.id == issue.id or duplicate_of.site_id != issue.site_id:
            raise DomainError(_("Name the issue this one duplicates."))
        issue.duplicate_of_id = duplicate_of.id
    issue.reject_reason, issue.rejected_at = reason.value, now
    _done(session, issue, row, actor, note=note, now=now,
          data={"reason": reason.value, "duplicate_of": duplicate_of.id if duplicate_of else None})
    issue_rejected.send(session, issue=issue, reason=reason, now=now)


@performs(Action.START)
def start(session: Session, issue: Issue, actor: User, *, note: Optional[str] = None,
          expected_version: Optional[int] = None, now: dt.datetime) -> None:
    row = _require(session, actor, issue, Action.START, expected_version, note=note)
    _done(session, issue, row, actor, note=note, now=now)


@performs(Action.REPORT_FIX)
def report_fix(session: Session, issue: Issue, actor: User, *, note: Optional[str], photos: dict[str, bytes],
               expected_version: Optional[int] = None, now: dt.datetime) -> None:
    """The rectifier says it is fixed, with after-photos and a note; someone else verifies."""
    row = _require(session, actor, issue, Action.REPORT_FIX, expected_version, note=note, photos=photos)
    issue.fixed_at, issue.fixed_by_id = now, actor.id
    _done(session, issue, row, actor, note=note, now=now, photos=photos)


@performs(Action.VERIFY_PASS)
def verify_pass(session: Session, issue: Issue, actor: User, *, note: Optional[str] = None,
                expected_version: Optional[int] = None, now: dt.datetime) -> None:
    """核查结案: it is fixed; the issue is closed."""
    row = _require(session, actor, issue, Action.VERIFY_PASS, expected_version, note=note)
    issue.closed_at = now
    _done(session, issue, row, actor, note=note, now=now)


@performs(Action.VERIFY_FAIL)
def verify_fail(session: Session, issue: Issue, actor: User, *, note: Optional[str],
                expected_version: Optional[int] = None, now: dt.datetime) -> None:
    """Not fixed: back for rework (返工), with a note saying what is wrong."""
    row = _require(session, actor, issue, Action.VERIFY_FAIL, expected_version, note=note)
    issue.rework_count = (issue.rework_count or 0) + 1
    _done(session, issue, row, actor, note=note, now=now)


def verify(session: Session, issue: Issue, actor: User, *, passed: bool, note: Optional[str] = None,
           expected_version: Optional[int] = None, now: dt.datetime) -> None:
    """核查: `verify_pass` or `verify_fail`."""
    (verify_pass if passed else verify_fail)(session, issue, actor, note=note, expected_version=expected_version,
                                             now=now)


@performs(Action.DEFER)
def defer(session: Session, issue: Issue, actor: User, *, note: Optional[str],
          expected_version: Optional[int] = None, now: dt.datetime) -> IssueDeferral:
    """缓办: a supervisor sets the issue aside with a reason (e.g. waiting for a budget). Its clock stops: never
    overdue, out of 应结案数 while deferred. The working time left to its deadline is kept for the resume; a
    pending request for a later deadline lapses (the resume sets the deadline anyway)."""
    row = _require(session, actor, issue, Action.DEFER, expected_version, note=note)
    remaining = working_hours_between(session, issue.site, now, issue.deadline) if issue.deadline else 0.0
    deferral = IssueDeferral(issue=issue, deferred_at=now, deferred_by_id=actor.id, reason=note.strip(),
                             from_state=issue.state, deadline_before=issue.deadline, remaining_hours=remaining)
    session.add(deferral)
    for pending in session.scalars(select(IssueExtension).where(IssueExtension.issue_id == issue.id,
                                                                IssueExtension.state == ExtensionState.PENDING.value)):
        pending.state, pending.decided_at, pending.decided_by_id = ExtensionState.LAPSED.value, now, actor.id
        _event(session, issue, actor, "extension_lapsed", at=now, data={"extension": pending.id})
    _done(session, issue, row, actor, note=note, now=now, data={"remaining_hours": remaining})
    return deferral


def open_deferral(session: Session, issue: Issue) -> Optional[IssueDeferral]:
    """The deferral the issue is in now, or None."""
    return session.scalar(select(IssueDeferral).where(IssueDeferral.issue_id == issue.id,
                                                      IssueDeferral.resumed_at.is_(None)))


@performs(Action.RESUME)
def resume(session: Session, issue: Issue, actor: User, *, deadline: Optional[dt.date] = None,
           note: Optional[str] = None, expected_version: Optional[int] = None, now: dt.datetime) -> None:
    """恢复办理: back to `dispatched` (the rectifier starts again) with a new deadline: the close of office on the
    day the supervisor gives, else the working time that was left when it was deferred, counted from now."""
    row = _require(session, actor, issue, Action.RESUME, expected_version, note=note)
    deferral = open_deferral(session, issue)
    if deadline is not None:
        new_deadline = deadline_on_day(session, issue.site, deadline)
        check_new_deadline(new_deadline, after=now, now=now)
    elif deferral is not None and deferral.remaining_hours > 0:
        new_deadline = deadline_from(session, issue.site, deferral.remaining_hours, "hours", now)
    else:
        raise DomainError(_("No working time was left when the issue was deferred: give the new deadline."))
    old = issue.deadline
    issue.deadline = new_deadline
    if deferral is not None:
        deferral.resumed_at, deferral.resumed_by_id, deferral.deadline_after = now, actor.id, new_deadline
    _done(session, issue, row, actor, note=note, now=now,
          data={"from": old.isoformat() if old else None, "to": new_deadline.isoformat(),
                "given": deadline is not None})


@performs(Action.COMMENT)
def comment(session: Session, issue: Issue, actor: User, text: str, *, now: dt.datetime,
            expected_version: Optional[int] = None) -> IssueComment:
    """A comment by anyone who can view the issue. A comment is never stale: no version is checked."""
    row = _require(session, actor, issue, Action.COMMENT, None, text=text)
    entry = IssueComment(issue=issue, author_id=actor.id, text=text.strip()[:4000], at=now)
    session.add(entry)
    session.flush()
    _announce(session, issue, row, actor, note=entry.text, now=now)
    return entry


assert set(_PERFORMERS) == {t.action for t in workflow.TRANSITIONS}, "one service function per action"


def bulk_dispatch(session: Session, issues: Iterable[Issue], actor: User, *, team: Optional[Team],
                  assignee: Optional[User], now: dt.datetime, should_have_been_found: bool = False) -> int:
    """Dispatch several reported issues at once (from the queue); all or none. `should_have_been_found`
    (应巡未发现) marks the quick reports among them; problems found by patrols are not marked."""
    issues = list(issues)
    for site_id in sorted({issue.site_id for issue in issues}):
        _check_recipient(session, site_id, team, assignee)  # refused before any is changed
    count = 0
    for issue in issues:
        if IssueState(issue.state) is IssueState.REPORTED:
            accept(session, issue, actor, team=team, assignee=assignee, now=now, should_have_been_found=(
                should_have_been_found if issue.source == IssueSource.REPORT.value else None))
        else:
            redispatch(session, issue, actor, team=team, assignee=assignee, now=now)
        count += 1
    return count
