"""Patrol plans and patrols: planning, materialising, reminding, marking missed, filling and submitting.

Everything here flushes and leaves the commit to the request or job. The scheduler jobs (`patrols.jobs`)
call `materialize`, `mark_missed` and `remind`, site by site; they are idempotent (unique keys,
insert-or-ignore), so a re-run, a restart after downtime or a second scheduler never doubles anything.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import zoneinfo
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from blinker import Namespace
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.orm import Session, lazyload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from gridpatrol.accounts.models import User
from gridpatrol.audit import services as audit
from gridpatrol.core.categories import Category
from gridpatrol.core.db import chunked, insert_ignoring_conflicts, serialize_writers
from gridpatrol.core.errors import ConflictError, DomainError, NotAllowed
from gridpatrol.core.roles import Role
from gridpatrol.core.time import FIRST_DAY, LAST_DAY, to_local, utcnow, zone
from gridpatrol.grids import qr
from gridpatrol.grids import services as grids
from gridpatrol.grids.models import Checkpoint, Grid, Site
from gridpatrol.core import photos as photo_files
from gridpatrol.patrols import checklists, schedule
from gridpatrol.patrols.models import (CheckpointScan, Patrol, PatrolAnswer, PatrolPhoto, PatrolPlan, PatrolStatus,
                                       PlanGrid, PlanKind, Recurrence, RestDayRule, Submission)
from gridpatrol.standards.models import ChecklistTemplate, TemplateItem, TemplateVersion, VersionStatus
from gridpatrol.workdays import services as workdays

signals = Namespace()
patrol_submitted = signals.signal("patrol-submitted")
"""Sent by `submit` inside the submitting transaction (issues, points and notifications subscribe and write in the
same commit), with named arguments: sender (the session), patrol (the `Patrol`, submitted and flushed),
failed_items (the `checklists.ChecklistItem` values answered "fail", in answer order), answers (item id →
(result, note, photo names)), now, was_missed (the patrol had been marked missed before this submission)."""
# Sent inside the job's transaction with the patrols just marked missed.
patrols_missed = signals.signal("patrols-missed")
patrols_due_soon = signals.signal("patrols-due-soon")
"""Sent by `remind` (the `remind` job) in the job's transaction, with named arguments:

* sender: the SQLAlchemy session;
* patrols: list of `DuePatrol`, the scheduled patrols with an assignee whose window starts within the reminder
  period and that are not yet due (sent again on every run while they are: receivers must be idempotent);
* now: the aware datetime of the run.

A receiver returns how many reminders it sent (an int); `remind` returns the sum, which the job reports.
"""

HORIZON = dt.timedelta(hours=24)
REMIND_BEFORE = dt.timedelta(minutes=60)
REPEAT_SCAN_SECONDS = 60
CLOCK_SKEW = dt.timedelta(minutes=10)
# A submission's body at most (the payload and its photos, downscaled by the tablet): refused before it is read.
MAX_SUBMISSION_BYTES = 64 * 1024 * 1024


# --- plans ------------------------------------------------------------------------------------------
@dataclass
class PlanInput:
    name: str
    kind: PlanKind
    template: ChecklistTemplate
    recurrence: Recurrence
    window_start: dt.time
    window_minutes: int
    grace_minutes: int
    starts_on: dt.date
    grids: list[Grid]
    ends_on: Optional[dt.date] = None
    weekdays: list[int] = field(default_factory=list)
    month_day: Optional[int] = None
    interval_days: Optional[int] = None
    # For a cross-check (互检): grid id → the grid whose leader patrols it.
    patroller_grids: dict[int, Grid] = field(default_factory=dict)
    # 遇休息日: where a monthly, weekly or every-N-days occurrence on a rest day goes (ignored for daily/workdays).
    on_rest_day: RestDayRule = RestDayRule.NEXT
    # The checklist categories its patrols cover (a special inspection); None = each grid's own categories.
    categories: Optional[list[str]] = None


def _validate_plan(data: PlanInput, site: Site) -> None:
    if not data.name.strip():
        raise DomainError(_("A plan needs a name."))
    if not data.grids:
        raise DomainError(_("Choose at least one grid."))
    if any(g.site_id != site.id for g in data.grids):
        raise DomainError(_("Every grid must belong to the plan's site."))
    if data.template.published is None:
        raise DomainError(_("The checklist standard %(name)s has no published version.", name=data.template.name))
    if not 1 <= data.window_minutes <= 7 * 24 * 60:
        raise DomainError(_("A window lasts between 1 minute and 7 days."))
    if not 0 <= data.grace_minutes <= 7 * 24 * 60:
        raise DomainError(_("The grace period lasts at most 7 days."))
    if data.ends_on is not None and data.ends_on < data.starts_on:
        raise DomainError(_("The plan ends before it starts."))
    if data.recurrence is Recurrence.WEEKDAYS and not (data.weekdays and set(data.weekdays) <= set(range(7))):
        raise DomainError(_("Choose the days of the week."))
    if data.recurrence is Recurrence.MONTHLY and data.month_day not in (*range(1, 32), -1):
        raise DomainError(_("Choose a day of the month (1 to 31, or the last day)."))
    if data.recurrence is Recurrence.EVERY_N_DAYS and not (data.interval_days and 1 <= data.interval_days <= 366):
        raise DomainError(_("Choose every how many days (1 to 366)."))
    if not isinstance(data.on_rest_day, RestDayRule):
        raise DomainError(_("Choose what happens when the plan's day is a rest day."))
    if data.categories is not None:
        if not data.categories:
            raise DomainError(_("Choose at least one category to check, or let each grid's own categories decide."))
        try:
            [Category(c) for c in data.categories]
        except ValueError:
            raise DomainError(_("An unknown checklist category was chosen.")) from None
    if data.kind is PlanKind.CROSS_CHECK:
        for grid in data.grids:
            other = data.patroller_grids.get(grid.id)
            if other is None or other.id == grid.id or other.site_id != site.id:
                raise DomainError(_("A cross-check needs, for grid %(code)s, another grid whose leader patrols it.",
                                    code=grid.code))


def _rest_day_rule(data: PlanInput) -> RestDayRule:
    """The rule stored: the one chosen where it applies; the default for daily and workdays plans, which it does
    not concern (a form without script still sends the field)."""
    return data.on_rest_day if data.recurrence.value in schedule.MOVABLE else RestDayRule.NEXT


def save_plan(session: Session, site: Site, data: PlanInput, *, plan: Optional[PatrolPlan] = None,
              actor: Optional[User], now: Optional[dt.datetime] = None) -> PatrolPlan:
    """Create or edit a plan. Editing drops its not-yet-started future patrols; the scheduler remakes them."""
    _validate_plan(data, site)
    now = now or utcnow()
    created = plan is None
    if plan is None:
        plan = PatrolPlan(site_id=site.id, created_by_id=getattr(actor, "id", None), active=True)
        session.add(plan)
    plan.name = data.name.strip()
    plan.kind = data.kind.value
    plan.template_id = data.template.id
    plan.recurrence = data.recurrence.value
    plan.weekdays = sorted(set(data.weekdays)) if data.recurrence is Recurrence.WEEKDAYS else []
    plan.month_day = data.month_day if data.recurrence is Recurrence.MONTHLY else None
    plan.interval_days = data.interval_days if data.recurrence is Recurrence.EVERY_N_DAYS else None
    plan.window_start, plan.window_minutes, plan.grace_minutes = data.window_start, data.window_minutes, data.grace_minutes
    plan.starts_on, plan.ends_on = data.starts_on, data.ends_on
    plan.on_rest_day = _rest_day_rule(data).value
    plan.categories = sorted({Category(c).value for c in data.categories}) if data.categories is not None else None
    wanted = {g.id: (data.patroller_grids[g.id].id if data.kind is PlanKind.CROSS_CHECK else None)
              for g in data.grids}
    plan.plan_grids = [PlanGrid(grid_id=gid, patroller_grid_id=pid) for gid, pid in sorted(wanted.items())]
    session.flush()
    if not created:
        _drop_future_patrols(session, plan, now)
    audit.record(session, "plan.created" if created else "plan.updated", actor=actor, target=plan,
                 detail={"name": plan.name, "recurrence": plan.recurrence, "grids": len(wanted),
                         "categories": plan.categories, "on_rest_day": plan.on_rest_day})
    return plan


def _drop_future_patrols(session: Session, plan: PatrolPlan, now: dt.datetime) -> None:
    future = session.scalars(select(Patrol).where(
        Patrol.plan_id == plan.id, Patrol.window_start > now, Patrol.status == PatrolStatus.SCHEDULED.value))
    for patrol in future:
        session.delete(patrol)
    plan.materialized_until = min(plan.materialized_until or now, now)
    session.flush()


def set_plan_active(session: Session, plan: PatrolPlan, active: bool, *, actor: Optional[User],
                    now: Optional[dt.datetime] = None) -> None:
    """Pause or resume. A paused plan makes no patrols; on resume it starts from now, not from the pause."""
    now = now or utcnow()
    if plan.active == active:
        return
    plan.active = active
    if not active:
        _drop_future_patrols(session, plan, now)
    plan.materialized_until = now
    session.flush()
    audit.record(session, "plan.resumed" if active else "plan.paused", actor=actor, target=plan)


@dataclass(frozen=True)
class PreviewEntry:
    """One line of the plan editor's preview: a window the plan would make, or an occurrence it skips."""

    day: dt.date  # where it happens; for a skipped one the day the recurrence names
    window: Optional[schedule.Window]  # None: skipped (on_rest_day 'skip', or no working day within reach)
    moved_from: tuple[dt.date, ...]  # rest days whose occurrence moved onto `day`
    provisional: bool  # a day involved is judged by a provisional calendar (暂定日历), not the official one


def preview(session: Session, site: Site, data: PlanInput, *, now: Optional[dt.datetime] = None,
            count: int = 10) -> list[PreviewEntry]:
    """The next windows the plan would make, shown before saving, with the occurrences moved or skipped because
    their day is a rest day."""
    now = now or utcnow()
    rule = schedule.PlanRule(data.recurrence.value, data.window_start, data.window_minutes, data.grace_minutes,
                             data.starts_on, data.ends_on, tuple(data.weekdays), data.month_day, data.interval_days,
                             _rest_day_rule(data).value)
    calendar = workdays.calendar_for(session, site)
    entries = []
    for occurrence in schedule.next_occurrences(rule, zoneinfo.ZoneInfo(site.timezone), now, calendar, count=count):
        days = (occurrence.day, *occurrence.nominal)
        entries.append(PreviewEntry(occurrence.day, occurrence.window, occurrence.moved_from,
                                    any(calendar.is_provisional(d) for d in days)))
    return entries


def list_plans(session: Session, site: Optional[Site] = None) -> list[PatrolPlan]:
    query = select(PatrolPlan).order_by(PatrolPlan.active.desc(), PatrolPlan.name)
    if site is not None:
        query = query.where(PatrolPlan.site_id == site.id)
    return list(session.scalars(query))


# --- the scheduler's work ----------------------------------------------------------------------------
@dataclass
class MaterializeReport:
    plans: int = 0
    created: int = 0
    created_missed: int = 0
    skipped_plans: list[str] = field(default_factory=list)


def materialize(session: Session, now: dt.datetime, *, horizon: dt.timedelta = HORIZON,
                site: Optional[Site] = None) -> MaterializeReport:
    """Create the patrols of every active plan (of `site`, else of every site) whose window starts before
    now + horizon.

    Starts where the plan's previous run stopped (`materialized_until`), so after downtime every window
    slept through is made too; windows already closed are created as missed.
    """
    report = MaterializeReport()
    until = now + horizon
    query = select(PatrolPlan).where(
        PatrolPlan.active.is_(True),
        or_(PatrolPlan.materialized_until.is_(None), PatrolPlan.materialized_until < until),
    )
    if site is not None:
        query = query.where(PatrolPlan.site_id == site.id)
    plans = session.scalars(query.options(selectinload(PatrolPlan.plan_grids).options(
        lazyload(PlanGrid.grid), lazyload(PlanGrid.patroller_grid)))).all()  # only grid ids: no geometry loaded
    # Only the published versions' ids (plan.template.published would load every version with its items).
    published = dict(session.execute(select(TemplateVersion.template_id, TemplateVersion.id).where(
        TemplateVersion.template_id.in_({plan.template_id for plan in plans}),
        TemplateVersion.status == VersionStatus.PUBLISHED.value)).all()) if plans else {}
    leaders = _current_leaders(session, site)
    # Each grid's responsibility categories now: fixed on the patrols made now (checklists.patrol_categories).
    grid_categories = _grid_categories(session, site) if plans else {}
    calendars: dict[int, workdays.WorkdayCalendar] = {}
    sites: dict[int, Site] = {}
    patrols_table = Patrol.__table__
    missed_ids: list[int] = []
    for plan in plans:
        version_id = published.get(plan.template_id)
        if version_id is None:
            report.skipped_plans.append(plan.name)
            continue
        plan_site = sites.get(plan.site_id) or session.get(Site, plan.site_id)
        sites[plan.site_id] = plan_site
        if plan.site_id not in calendars:
            calendars[plan.site_id] = workdays.calendar_for(session, plan_site)
        tz = zoneinfo.ZoneInfo(plan_site.timezone)
        start = plan.materialized_until or dt.datetime.combine(plan.starts_on, dt.time(0), tzinfo=tz)
        rows = []
        for window in schedule.windows(schedule.PlanRule.of(plan), tz, start, until, calendars[plan.site_id]):
            missed = window.grace_until <= now
            for pg in plan.plan_grids:
                rows.append({
                    "plan_id": plan.id, "grid_id": pg.grid_id, "site_id": plan.site_id,
                    "template_version_id": version_id, "kind": plan.kind,
                    "categories": checklists.patrol_categories(plan.categories, grid_categories.get(pg.grid_id)),
                    "window_start": window.start, "due_at": window.due, "grace_until": window.grace_until,
                    "assignee_id": leaders.get(pg.patroller_grid_id or pg.grid_id),
                    "status": PatrolStatus.MISSED.value if missed else PatrolStatus.SCHEDULED.value,
                    "missed_at": now if missed else None, "failed_critical": False, "created_at": now,
                })
        inserted = 0
        for batch in chunked(rows, 2000):  # each row binds ~15 parameters
            inserted += len(insert_ignoring_conflicts(session, patrols_table, batch,
                                                      ["plan_id", "grid_id", "window_start"]))
        report.created += inserted
        if inserted and any(r["status"] == PatrolStatus.MISSED.value for r in rows):
            # Made missed by this very run: the only rows of the plan with this missed_at.
            missed_now = list(session.scalars(select(Patrol.id).where(
                Patrol.plan_id == plan.id, Patrol.status == PatrolStatus.MISSED.value, Patrol.missed_at == now)))
            report.created_missed += len(missed_now)
            missed_ids.extend(missed_now)
        plan.materialized_until = until
        report.plans += 1
    session.flush()
    if missed_ids:
        # Windows slept through count as missed like any other (points, notifications).
        patrols_missed.send(session, patrol_ids=missed_ids, now=now)
    return report


def _grid_categories(session: Session, site: Optional[Site] = None) -> dict[int, list[str]]:
    """Grid id → its responsibility categories (of `site`, else of every site); no geometry loaded."""
    query = select(Grid.id, Grid.categories)
    if site is not None:
        query = query.where(Grid.site_id == site.id)
    return dict(session.execute(query).all())


def _current_leaders(session: Session, site: Optional[Site] = None) -> dict[int, int]:
    from gridpatrol.grids.models import AssignmentRole, GridAssignment

    query = select(GridAssignment.grid_id, GridAssignment.user_id).where(
        GridAssignment.role == AssignmentRole.LEADER.value, GridAssignment.effective_to.is_(None))
    if site is not None:
        query = query.join(Grid, Grid.id == GridAssignment.grid_id).where(Grid.site_id == site.id)
    return dict(session.execute(query).all())


def mark_missed(session: Session, now: dt.datetime, *, site: Optional[Site] = None) -> list[int]:
    """Patrols (of `site`, else of every site) whose grace period has ended unsubmitted become missed.
    Returns their ids."""
    query = select(Patrol.id).where(
        Patrol.status.in_([PatrolStatus.SCHEDULED.value, PatrolStatus.IN_PROGRESS.value]),
        Patrol.grace_until <= now)
    if site is not None:
        query = query.where(Patrol.site_id == site.id)
    candidates = list(session.scalars(query))
    ids: list[int] = []
    for batch in chunked(candidates):
        # Only the rows this UPDATE changed: a submission that locked a patrol and committed in the meantime leaves
        # it submitted (PostgreSQL re-checks the status once the row lock is free), and it must not be booked −3.
        ids.extend(session.scalars(update(Patrol).where(Patrol.id.in_(batch), Patrol.status.in_(
            [PatrolStatus.SCHEDULED.value, PatrolStatus.IN_PROGRESS.value])).values(
            status=PatrolStatus.MISSED.value, missed_at=now).returning(Patrol.id)))
    ids.sort()
    if ids:
        session.flush()
        patrols_missed.send(session, patrol_ids=ids, now=now)
    return ids


@dataclass(frozen=True)
class DuePatrol:
    """A patrol a reminder is about (a signal's argument: named fields, a public contract)."""

    id: int
    site_id: int
    grid_id: int
    grid_code: str
    grid_name: str
    assignee_id: int
    window_start: dt.datetime
    due_at: dt.datetime


def remind(session: Session, now: dt.datetime, *, before: dt.timedelta = REMIND_BEFORE,
           site: Optional[Site] = None) -> int:
    """Announce (`patrols_due_soon`) the patrols (of `site`, else of every site) whose window starts within
    `before`; the notifications package reminds their assignee, once per patrol. Returns the reminders sent."""
    query = select(Patrol.id, Patrol.site_id, Patrol.grid_id, Grid.code, Grid.name, Patrol.assignee_id,
                   Patrol.window_start, Patrol.due_at) \
        .join(Grid, Grid.id == Patrol.grid_id).where(
            Patrol.status == PatrolStatus.SCHEDULED.value, Patrol.assignee_id.is_not(None),
            Patrol.window_start <= now + before, Patrol.due_at > now).order_by(Patrol.id)
    if site is not None:
        query = query.where(Patrol.site_id == site.id)
    due_soon = [DuePatrol(*row) for row in session.execute(query).all()]
    if not due_soon:
        return 0
    return sum(count for _receiver, count in patrols_due_soon.send(session, patrols=due_soon, now=now)
               if isinstance(count, int))


def follow_handover(session: Session, *, grid: Grid, role, user: User, at: dt.datetime) -> None:
    """A new leader takes over the grid's not-yet-started patrols (and, for cross-checks, those it patrols)."""
    from gridpatrol.grids.models import AssignmentRole

    if role is not AssignmentRole.LEADER:
        return
    own = select(PlanGrid.plan_id, PlanGrid.grid_id).where(
        or_(PlanGrid.patroller_grid_id == grid.id, and_(PlanGrid.patroller_grid_id.is_(None), PlanGrid.grid_id == grid.id)))
    pairs = session.execute(own).all()
    for plan_id, grid_id in pairs:
        session.execute(update(Patrol).where(
            Patrol.plan_id == plan_id, Patrol.grid_id == grid_id, Patrol.status == PatrolStatus.SCHEDULED.value,
            Patrol.window_start >= at).values(assignee_id=user.id))
    session.flush()


def _on_responsible_changed(session: Session, **kwargs) -> None:
    follow_handover(session, **kwargs)


def connect_signals() -> None:
    grids.responsible_changed.connect(_on_responsible_changed)


# --- what a leader sees -----------------------------------------------------------------------------------
def patrols_for_user_on(session: Session, user: User, site: Site, day_start: dt.datetime,
                        day_end: dt.datetime) -> list[Patrol]:
    """Patrols at the site assigned to the user whose window touches the day, plus any still open from before."""
    return list(session.scalars(select(Patrol).where(
        Patrol.assignee_id == user.id, Patrol.site_id == site.id,
        or_(and_(Patrol.window_start < day_end, Patrol.grace_until >= day_start),
            and_(Patrol.status.in_([PatrolStatus.SCHEDULED.value, PatrolStatus.IN_PROGRESS.value]),
                 Patrol.window_start < day_end)),
    ).order_by(Patrol.window_start, Patrol.id)))


def display_state(patrol: Patrol, now: dt.datetime) -> str:
    """What the leader sees: upcoming, due, in progress, late (in grace), missed, done, done late."""
    if patrol.status == PatrolStatus.SUBMITTED.value:
        return "done_late" if patrol.late else "done"
    if patrol.status == PatrolStatus.MISSED.value or now >= patrol.grace_until:
        return "missed"
    if now < patrol.window_start:
        return "upcoming"
    if now >= patrol.due_at:
        return "late"
    return "in_progress" if patrol.status == PatrolStatus.IN_PROGRESS.value else "due"


def can_fill(user: User, patrol: Patrol) -> bool:
    """Only the assigned patroller fills a patrol."""
    return patrol.assignee_id == user.id


def can_view(session: Session, user: User, patrol: Patrol) -> bool:
    if user.has_any_role(Role.SUPERVISOR, Role.ADMIN, site_id=patrol.site_id) or patrol.assignee_id == user.id:
        return True
    return user.has_role(Role.GRID_LEADER, site_id=patrol.site_id) and grids.is_responsible_for(session, user,
                                                                                                 patrol.grid)


def visible_to(session: Session, user: User, site: Site):
    """`can_view` for a list of the site's patrols, as an SQL condition on `Patrol`: None (every patrol) for a
    supervisor or admin of the site; else the patrols assigned to the user and, for a grid leader, those of the
    grids they lead or deputise for."""
    if user.has_any_role(Role.SUPERVISOR, Role.ADMIN, site_id=site.id):
        return None
    condition = Patrol.assignee_id == user.id
    if user.has_role(Role.GRID_LEADER, site_id=site.id):
        led = [g.id for g in grids.grids_of_user(session, user)]
        if led:
            condition = or_(condition, Patrol.grid_id.in_(led))
    return condition


def start(session: Session, patrol: Patrol, user: User, now: dt.datetime) -> None:
    """Opening the form of a scheduled patrol whose window has begun marks it in progress."""
    if patrol.status == PatrolStatus.SCHEDULED.value and patrol.window_start <= now < patrol.grace_until:
        patrol.status = PatrolStatus.IN_PROGRESS.value
        patrol.started_at = now
        session.flush()


# --- submission -------------------------------------------------------------------------------------------
@dataclass
class SubmissionResult:
    body: dict[str, Any]
    replayed: bool = False


def content_hash(payload: dict, files: dict[str, bytes]) -> str:
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode())
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.hexdigest()


def score_of(answers: Iterable[tuple[TemplateItem | checklists.ChecklistItem, str]]) -> tuple[Optional[float], bool]:
    """100 × Σ earned ÷ Σ possible over applicable items; a failed critical item fails the patrol.

    Over the answers given, which `submit` accepts for the patrol's own items only (`checklists.items_for_patrol`,
    every one of them answered): the denominator is the weights of the patrol's categories, not of the version."""
    earned = possible = 0
    failed_critical = False
    for item, result in answers:
        if result == "na":
            continue
        possible += item.weight
        if result == "pass":
            earned += item.weight
        elif item.critical:
            failed_critical = True
    return (round(100.0 * earned / possible, 2) if possible else None), failed_critical


def _parse_time(value: Any, what: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise DomainError(_("%(what)s is not a date and time.", what=what)) from None
    if parsed.tzinfo is None:
        raise DomainError(_("%(what)s has no time zone.", what=what))
    if not FIRST_DAY <= parsed.date() <= LAST_DAY:  # year 1 or 9999: not a device's clock (and no UTC time)
        raise DomainError(_("%(name)s is not between %(first)s and %(last)s", name=what, first=FIRST_DAY.isoformat(),
                            last=LAST_DAY.isoformat()))
    return parsed.astimezone(dt.timezone.utc)


# Run on every submission: built once, the three columns a replay needs.
_PREVIOUS_SUBMISSION = select(Submission.content_hash, Submission.patrol_id, Submission.result).where(
    Submission.client_uuid == bindparam("client_uuid"))


def submit(session: Session, patrol: Patrol, user: User, payload: dict, files: dict[str, bytes], *,
           now: dt.datetime) -> SubmissionResult:
    """Apply a tablet's submission exactly once.

    The same client UUID with the same content returns the first result again; with other content it is a
    ConflictError (409). Answers, photos, scans, location, score and whatever subscribers of
    `patrol_submitted` write (issues, points) all land in the caller's one transaction.
    """
    client_uuid = str(payload.get("client_uuid") or "").strip().lower()
    if not (8 <= len(client_uuid) <= 36):
        raise DomainError(_("The submission has no client id."))
    fingerprint = content_hash(payload, files)
    # Every decision below reads the patrol as it is now, with its row locked until this transaction ends.
    lock_patrol(session, patrol)
    if not can_fill(user, patrol):
        raise NotAllowed("not the patrol's assignee")
    # One client id sent for two patrols at once (a tablet's bug, a replayed queue): the patrols' row locks do not
    # meet, so the id is serialised too, and the second request sees the first's submission (409, not a 500 on the
    # unique key). SQLite's write lock serialises them already.
    if session.get_bind().dialect.name == "postgresql":
        serialize_writers(session, f"submission:{client_uuid}")
    previous = session.execute(_PREVIOUS_SUBMISSION, {"client_uuid": client_uuid}).first()
    if previous is not None:
        if previous.content_hash == fingerprint and previous.patrol_id == patrol.id:
            return SubmissionResult(previous.result, replayed=True)
        raise ConflictError(_("This submission id was already used for different content."))
    if patrol.status == PatrolStatus.SUBMITTED.value:
        raise ConflictError(_("This patrol has already been submitted."))

    completed_at = _parse_time(payload.get("completed_at") or now.isoformat(), _("The completion time"))
    # A device clock running a little ahead is believed up to now; far ahead, it is not believed at all.
    completed_at = now if completed_at > now + CLOCK_SKEW else min(completed_at, now)
    if patrol.status == PatrolStatus.MISSED.value or now > patrol.grace_until:
        # Queued offline: accepted if it arrives within the offline window after the grace period by the server's
        # clock, and the leader finished within the grace period by the device's clock.
        _check_late_arrival(session, patrol, now)
        if not (patrol.window_start - CLOCK_SKEW <= completed_at <= patrol.grace_until):
            raise ConflictError(_("The window of this patrol has closed; it counts as missed."))
    elif completed_at < patrol.window_start - CLOCK_SKEW:
        raise DomainError(_("The patrol was finished before its window opened."))

    # Only the items the patrol covers (its categories): an answer for any other item is refused.
    items = {item.id: item for item in checklists.items_for_patrol(session, patrol)}
    answers = _check_answers(payload.get("answers"), items, files)
    photo_files.PhotoLimits.of("patrol").check(files)  # PATROL_MAX_PHOTOS, PATROL_MAX_PHOTOS_BYTES
    checked_photos = {name: photo_files.check_image(data, name) for name, data in files.items()}
    scans = _check_scans(session, patrol, payload.get("scans") or [], now)

    # One multi-row INSERT for the answers: a 30-item checklist is the common case on every submission.
    session.execute(PatrolAnswer.__table__.insert(), [
        {"patrol_id": patrol.id, "item_id": item_id, "result": result, "note": note}
        for item_id, (result, note, _photos) in answers.items()])
    for item_id, (result, note, photo_names) in answers.items():
        for name in photo_names:
            photo = checked_photos[name]
            photo_files.store(photo)
            session.add(PatrolPhoto(patrol_id=patrol.id, item_id=item_id, sha256=photo.sha256,
                                    content_type=photo.content_type, width=photo.width, height=photo.height,
                                    size_bytes=len(photo.data)))
    if scans:  # one multi-row INSERT, in scan order, like the answers
        session.execute(CheckpointScan.__table__.insert(), scans)
    stored = _location_stamp(session, patrol, payload.get("location"))

    was_missed = patrol.status == PatrolStatus.MISSED.value
    stored["score"], stored["failed_critical"] = score_of((items[i], a[0]) for i, a in answers.items())
    stored.update(status=PatrolStatus.SUBMITTED.value, submitted_at=now, completed_at=completed_at,
                  submitted_by_id=user.id, started_at=patrol.started_at or completed_at, missed_at=None)
    _store(session, patrol, stored)
    failed = [items[i] for i, a in answers.items() if a[0] == "fail"]
    body = {"patrol_id": patrol.id, "status": patrol.status, "score": patrol.score,
            "failed_critical": patrol.failed_critical, "late": patrol.late, "failed_items": len(failed),
            "scans": len(scans), "location_outside": patrol.location_outside}
    # A Core INSERT: nothing in this transaction reads the Submission as an object (a replay reads its columns).
    session.execute(Submission.__table__.insert(), {
        "client_uuid": client_uuid, "patrol_id": patrol.id, "user_id": user.id, "content_hash": fingerprint,
        "result": body, "created_at": now})
    session.flush()  # the photos, if any, before the subscribers read them
    patrol_submitted.send(session, patrol=patrol, failed_items=failed, answers=answers, now=now,
                          was_missed=was_missed)
    session.flush()
    return SubmissionResult(body)


# The patrol's row, read again and locked (FOR UPDATE on PostgreSQL). Only its own columns: the joined eager loads
# (grid, assignee) would make an outer join, which PostgreSQL does not lock; they load again when read.
_LOCK_PATROL = (select(Patrol).where(Patrol.id == bindparam("locked_patrol_id")).options(lazyload("*"))
                .with_for_update().execution_options(populate_existing=True))


def lock_patrol(session: Session, patrol: Patrol) -> None:
    """Lock the patrol's row until the transaction ends and read it again, so that what is decided about it (its
    status, assignee, window) is what the database holds now and nothing else changes it before the commit.

    The caller loaded the patrol before (to check who may see it); on PostgreSQL another submission, or the job
    marking patrols missed, may have committed since, and a status read from that object would be stale: two
    submissions with different client UUIDs would both see it open, and the second would fail on the answers'
    primary key (a 500) instead of a 409. PostgreSQL: SELECT … FOR UPDATE waits for the other transaction and
    reads what it committed. SQLite has no row locks: a write transaction holds the database's one write lock
    from its first statement (BEGIN IMMEDIATE, `core.db`), so no other writer runs until this one ends;
    `serialize_writers` checks that this is such a transaction.
    """
    if session.get_bind().dialect.name == "sqlite":
        serialize_writers(session, f"patrol:{patrol.id}")
    # The row is read into the patrol object as it is fetched: fetch it.
    session.execute(_LOCK_PATROL, {"locked_patrol_id": patrol.id}).scalar_one()


def offline_deadline(patrol: Patrol) -> dt.datetime:
    """The last moment (server time) a submission of the patrol, kept offline by the tablet, is accepted:
    OFFLINE_SUBMISSION_HOURS after its grace period."""
    return patrol.grace_until + dt.timedelta(hours=current_app.config["OFFLINE_SUBMISSION_HOURS"])


def _check_late_arrival(session: Session, patrol: Patrol, now: dt.datetime) -> None:
    """Refuse a submission arriving after `offline_deadline`, whatever time the device says it was finished at
    (a device clock can be set back): the patrol stays missed (漏巡) and its points do not change."""
    deadline = offline_deadline(patrol)
    if now > deadline:
        site = session.get(Site, patrol.site_id)
        raise ConflictError(_(
            "This patrol's window has closed and a patrol record kept offline is accepted only until %(deadline)s; "
            "this one arrived later, so it is not accepted and the patrol counts as missed.",
            deadline=to_local(deadline, zone(site.timezone)).strftime("%Y-%m-%d %H:%M")), code="offline_too_late")


def _check_answers(raw: Any, items: dict[int, checklists.ChecklistItem], files: dict[str, bytes]):
    if not isinstance(raw, list):
        raise DomainError(_("The submission has no answers."))
    answers: dict[int, tuple[str, Optional[str], list[str]]] = {}
    problems: list[str] = []
    for entry in raw:
        try:
            item_id = int(entry["item_id"])
        except (KeyError, TypeError, ValueError):
            raise DomainError(_("An answer names no checklist item.")) from None
        item = items.get(item_id)
        if item is None:
            raise DomainError(_("An answer is for an item that is not on this checklist."))
        if item_id in answers:
            raise DomainError(_("Item %(code)s is answered twice.", code=item.code))
        result = entry.get("result")
        if result not in ("pass", "fail", "na"):
            problems.append(_("Item %(code)s has no answer.", code=item.code))
            continue
        if result == "na" and not item.allow_na:
            problems.append(_("Item %(code)s cannot be answered N/A.", code=item.code))
        names = [str(n) for n in entry.get("photos") or []]
        missing = [n for n in names if n not in files]
        if missing:
            raise DomainError(_("Photo %(name)s was not uploaded.", name=missing[0]))
        if result == "fail" and item.photo_on_fail and not names:
            problems.append(_("Item %(code)s failed and needs a photo.", code=item.code))
        note = (entry.get("note") or "").strip()[:2000] or None
        answers[item_id] = (result, note, names)
    unanswered = [item.code for item_id, item in items.items() if item_id not in answers]
    if unanswered:
        problems.append(_("Items not answered: %(codes)s.", codes=", ".join(unanswered)))
    if problems:
        raise DomainError(" ".join(problems))
    used = {n for _r, _n, names in answers.values() for n in names}
    if set(files) - used:
        raise DomainError(_("A photo was uploaded that no answer refers to."))
    return answers


def _check_scans(session: Session, patrol: Patrol, raw: list, now: dt.datetime) -> list[dict[str, Any]]:
    """The scans as rows of `checkpoint_scans`, flagged (never refused) when suspicious."""
    if not raw:
        return []
    site_code = session.get(Site, patrol.site_id).code  # the request's site: already loaded, no query
    scans: list[dict[str, Any]] = []
    last_seen: dict[int, dt.datetime] = {}
    for entry in raw:
        checkpoint = resolve_checkpoint(session, site_code, patrol.site_id, entry.get("code", ""))
        scanned_at = _parse_time(entry.get("scanned_at") or now.isoformat(), _("A scan time"))
        flags = []
        if checkpoint.grid_id != patrol.grid_id:
            flags.append("other_grid")
        previous = last_seen.get(checkpoint.id)
        if previous is not None and abs((scanned_at - previous).total_seconds()) < REPEAT_SCAN_SECONDS:
            flags.append("repeated")
        if abs(scanned_at - now) > dt.timedelta(days=2):
            flags.append("clock_skew")
        last_seen[checkpoint.id] = scanned_at
        method = "qr" if entry.get("method") == "qr" else "typed"
        scans.append({"patrol_id": patrol.id, "checkpoint_id": checkpoint.id, "scanned_at": scanned_at,
                      "received_at": now, "method": method, "flags": flags})
    return scans


def resolve_checkpoint(session: Session, site_code: str, site_id: int, code: str) -> Checkpoint:
    """A scanned QR payload (verified signature) or a typed checkpoint code → the checkpoint."""
    code = (code or "").strip()
    if code.upper().startswith("GP"):
        try:
            scan = qr.verify_payload(code.upper())
        except qr.ScanRejected:
            raise DomainError(_("The checkpoint code %(code)s is not genuine.", code=code)) from None
        if scan.site_code != site_code:
            raise DomainError(_("The checkpoint code %(code)s belongs to another site.", code=code))
        checkpoint = session.get(Checkpoint, scan.checkpoint_id)
    else:
        checkpoint = session.scalar(select(Checkpoint).join(Grid).where(
            Grid.site_id == site_id, Checkpoint.code == code))
    if checkpoint is None or not checkpoint.active:
        raise DomainError(_("There is no checkpoint %(code)s.", code=code))
    return checkpoint


# The submitted patrol's row is written by one prebuilt Core UPDATE (`_store`): an ORM flush of the one changed
# object costs about a millisecond of unit-of-work bookkeeping (Patrol has eight relationships), on every submission.
_UPDATE_PATROL = update(Patrol.__table__).where(Patrol.__table__.c.id == bindparam("stored_patrol_id"))


def _store(session: Session, patrol: Patrol, values: dict[str, Any]) -> None:
    """UPDATE the patrol's row with `values` (column → value) and give the loaded object the same values as its
    stored state, so that it reads as if it had been flushed (no pending change is left on these attributes)."""
    session.execute(_UPDATE_PATROL, {"stored_patrol_id": patrol.id, **values})
    for key, value in values.items():
        set_committed_value(patrol, key, value)


def _location_stamp(session: Session, patrol: Patrol, raw: Any) -> dict[str, Any]:
    """The location columns for a submission's position fix (none without one)."""
    if not isinstance(raw, dict):
        return {}
    try:
        lon, lat = float(raw["lon"]), float(raw["lat"])
        accuracy = float(raw["accuracy"]) if raw.get("accuracy") is not None else None
    except (KeyError, TypeError, ValueError):
        raise DomainError(_("The location stamp is not a position.")) from None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise DomainError(_("The location stamp is not a position."))
    site = session.get(Site, patrol.site_id)
    grid = patrol.grid
    # Which grid by code (the locator's key): the grid rows need not be loaded again to compare.
    location = grids.where_is(session, site, lon, lat, grid.level)
    inside = location is not None and location.inside and location.key == grid.code
    stamp = {"location_lon": lon, "location_lat": lat, "location_accuracy_m": accuracy,
             "location_outside": not inside, "location_distance_m": 0.0}
    if not inside:
        from shapely.geometry import Point

        projection = grids.locators.get(session, site).projection
        here = projection.to_metres(Point(lon, lat))
        stamp["location_distance_m"] = round(here.distance(projection.to_metres(grid.geometry)), 1)
    return stamp
