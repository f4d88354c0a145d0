"""The points ledger: writing entries as events happen, closing months, appeals, rules, rebuilding.

Entries are only ever inserted (a `before_flush` guard refuses updates and deletes). Each is written in
the transaction of the event that earns it. A closed month takes nothing new: an entry whose event falls
in a closed month goes to the next open month, and its reason says so.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass
from typing import Optional

from blinker import Namespace
from flask_babel import gettext as _
from sqlalchemy import bindparam, event, func, select
from sqlalchemy.orm import Session

from gridpatrol.accounts.models import User
from gridpatrol.audit import services as audit
from gridpatrol.core.db import chunked, insert_ignoring_conflicts, lock_key
from gridpatrol.core.errors import DomainError
from gridpatrol.core.time import month_bounds, month_of, next_month, utcnow
from gridpatrol.grids import services as grids
from gridpatrol.grids.models import AssignmentRole, Site
from gridpatrol.points import rules as earning_rules
from gridpatrol.points.models import Appeal, AppealState, MonthClose, PointsEntry, RuleSet, SourceType

signals = Namespace()
appeal_decided = signals.signal("appeal-decided")
"""Sent by `decide_appeal` in the deciding transaction, after the decision (and any correction) is flushed, with
named arguments:

* sender: the SQLAlchemy session;
* appeal: the `Appeal`, decided (its state, decided_by, decided_at and decision_note set);
* overturned: True if the entry was cancelled, False if it stands;
* correction: the correcting `PointsEntry` when overturned (else None);
* actor: the `User` who decided;
* now: the aware datetime of the decision.
"""

# --- months -------------------------------------------------------------------------------------------
# month_of and next_month are gridpatrol.core.time's (imported above; callers still find them here).
def parse_month(text: str) -> dt.date:
    try:
        year, month = (int(part) for part in text.split("-"))
        return dt.date(year, month, 1)
    except (ValueError, TypeError):
        raise DomainError(_("A month is written YYYY-MM.")) from None


def is_closed(session: Session, site_id: int, month: dt.date) -> bool:
    return session.get(MonthClose, (site_id, month)) is not None


# Both run on every booking (every patrol submission): built once, columns only.
_CLOSED_FROM = select(MonthClose.month).where(MonthClose.site_id == bindparam("site_id"),
                                             MonthClose.month >= bindparam("month"))
_RULES_IN_FORCE = select(RuleSet.version, RuleSet.rules).where(
    RuleSet.site_id == bindparam("site_id"), RuleSet.effective_from <= bindparam("month")) \
    .order_by(RuleSet.effective_from.desc()).limit(1)


def open_month_from(session: Session, site_id: int, month: dt.date) -> dt.date:
    closed = set(session.scalars(_CLOSED_FROM, {"site_id": site_id, "month": month}))
    while month in closed:
        month = next_month(month)
    return month


def close_month(session: Session, site: Site, month: dt.date, *, actor: Optional[User],
                now: Optional[dt.datetime] = None) -> bool:
    """月度锁定. Returns False if it was closed already (closing twice does nothing).

    Serialised with the site's bookings (`lock_months`), so an entry is either committed before the close or
    sees it and goes to the next open month."""
    now = now or utcnow()
    lock_months(session, site.id)
    current = month_of(now, site.timezone)
    if month >= current:
        raise DomainError(_("Only a month that has ended can be closed."))
    inserted = insert_ignoring_conflicts(session, MonthClose.__table__, [{
        "site_id": site.id, "month": month, "closed_at": now, "closed_by_id": getattr(actor, "id", None)}],
        ["site_id", "month"])
    if inserted:
        audit.record(session, "points.month_closed", actor=actor, target=site, detail={"month": f"{month:%Y-%m}"})
    return bool(inserted)


# --- rules ----------------------------------------------------------------------------------------------
def rules_for(session: Session, site_id: int, month: dt.date) -> tuple[int, dict[str, int]]:
    """The rule set in force in a month: (version, rules). Version 1 is the default set."""
    row = session.execute(_RULES_IN_FORCE, {"site_id": site_id, "month": month}).first()
    if row is None:
        return 1, dict(earning_rules.DEFAULT_RULES)
    return row.version, {**earning_rules.DEFAULT_RULES, **row.rules}


def set_rules(session: Session, site: Site, effective_from: dt.date, rules: dict[str, int], *, actor: User,
              note: Optional[str] = None) -> RuleSet:
    """A new rule-set version, applying from an open month on (closed months keep the rules they had)."""
    if effective_from.day != 1:
        raise DomainError(_("Rules change from the first day of a month."))
    if is_closed(session, site.id, effective_from):
        raise DomainError(_("That month is closed; choose an open month."))
    unknown = set(rules) - set(earning_rules.DEFAULT_RULES)
    if unknown:
        raise DomainError(_("Unknown rules: %(rules)s.", rules=", ".join(sorted(unknown))))
    if any(not isinstance(v, int) or isinstance(v, bool) or not -100 <= v <= 100 for v in rules.values()):
        raise DomainError(_("Points are whole numbers from -100 to 100."))
    later = session.scalar(select(func.count()).select_from(RuleSet).where(
        RuleSet.site_id == site.id, RuleSet.effective_from > effective_from))
    if later:
        raise DomainError(_("A later rule set exists; change that one instead."))
    current_version = session.scalar(select(func.max(RuleSet.version)).where(RuleSet.site_id == site.id)) or 1
    existing = session.scalar(select(RuleSet).where(RuleSet.site_id == site.id,
                                                    RuleSet.effective_from == effective_from))
    if existing is not None:
        # Same month again: a new version replaces it only if nothing was computed under it yet.
        used = session.scalar(select(func.count()).select_from(PointsEntry).where(
            PointsEntry.site_id == site.id, PointsEntry.rule_version == existing.version))
        if used:
            raise DomainError(_("Entries were already computed under that rule set; choose a later month."))
        session.delete(existing)
        session.flush()
    row = RuleSet(site_id=site.id, version=current_version + 1, effective_from=effective_from,
                  rules={**earning_rules.DEFAULT_RULES, **rules}, note=note, created_by_id=actor.id)
    session.add(row)
    session.flush()
    audit.record(session, "points.rules_changed", actor=actor, target=site,
                 detail={"version": row.version, "from": f"{effective_from:%Y-%m}", "rules": row.rules})
    return row


# --- writing the ledger --------------------------------------------------------------------------------
# The zone alone: loading the Site would decode its boundary for nothing (this runs on every submission).
_SITE_TIMEZONE = select(Site.timezone).where(Site.id == bindparam("site_id"))


# PostgreSQL: the same, taking the site's month lock in the same statement (no extra round trip per booking).
_SITE_TIMEZONE_LOCKED = select(Site.timezone, func.pg_advisory_xact_lock(bindparam("key"))) \
    .where(Site.id == bindparam("site_id"))


def _site_tz(session: Session, site_id: int) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(session.scalar(_SITE_TIMEZONE, {"site_id": site_id}))


def _months_lock_key(site_id: int) -> int:
    return lock_key(f"points-months:{site_id}")


def lock_months(session: Session, site_id: int) -> zoneinfo.ZoneInfo:
    """Serialise this transaction with every other that books into or closes the site's months, until it
    ends; returns the site's zone. Bookings and `close_month` take it before reading which months are closed.

    PostgreSQL: a transaction-scoped advisory lock per site. SQLite needs nothing: writes run in a BEGIN
    IMMEDIATE transaction, which holds the database's only write lock from its start, so a booking and a close
    never interleave (and a deferred transaction that read before a close committed cannot write after it:
    SQLite refuses to upgrade a stale snapshot)."""
    if session.get_bind().dialect.name == "postgresql":
        timezone = session.execute(_SITE_TIMEZONE_LOCKED, {"site_id": site_id, "key": _months_lock_key(site_id)}
                                   ).first()[0]
        return zoneinfo.ZoneInfo(timezone)
    return _site_tz(session, site_id)


# What a booking reads, in one statement (run on every patrol submission and issue decision): the site's zone, the
# rule set in force in `month` (as `_RULES_IN_FORCE` picks it) and whether `month` is closed.
_RULE_SET_IN_FORCE = select(RuleSet.id).where(
    RuleSet.site_id == bindparam("site_id"), RuleSet.effective_from <= bindparam("month")) \
    .order_by(RuleSet.effective_from.desc()).limit(1).scalar_subquery()
_BOOKING_FACTS = select(
    Site.timezone, RuleSet.version, RuleSet.rules,
    select(MonthClose.month).where(MonthClose.site_id == bindparam("site_id"),
                                   MonthClose.month == bindparam("month")).exists().label("closed"),
).select_from(Site).outerjoin(RuleSet, RuleSet.id == _RULE_SET_IN_FORCE).where(Site.id == bindparam("site_id"))

# Each site's zone as last read, to guess the month of an event before reading the zone in the same statement as
# the month's facts. Only a guess: a wrong one (a site whose zone changed, ids of another database) is seen and read
# again, so it can never book into a wrong month.
_zone_seen: dict[int, str] = {}


def _booking_facts(session: Session, site_id: int, when: dt.datetime, event_month: Optional[dt.date],
                   zone: Optional[zoneinfo.ZoneInfo]):
    """(event month, rule-set version, rules, target month) for an earning at `when` (or in `event_month`)."""
    month = event_month or month_of(when, zone or _zone_seen.get(site_id, "UTC"))
    facts = session.execute(_BOOKING_FACTS, {"site_id": site_id, "month": month}).one()
    _zone_seen[site_id] = facts.timezone
    if event_month is None and month_of(when, facts.timezone) != month:  # guessed with another zone: read again
        month = month_of(when, facts.timezone)
        facts = session.execute(_BOOKING_FACTS, {"site_id": site_id, "month": month}).one()
    if facts.version is None:
        version, rules = 1, dict(earning_rules.DEFAULT_RULES)
    else:
        version, rules = facts.version, {**earning_rules.DEFAULT_RULES, **facts.rules}
    target = open_month_from(session, site_id, month) if facts.closed else month
    return month, version, rules, target


def book(session: Session, site_id: int, earning: earning_rules.Earning, *, points: Optional[int] = None,
         corrects: Optional[PointsEntry] = None, event_month: Optional[dt.date] = None) -> Optional[int]:
    """Insert one entry unless this (rule, source, person) was booked already. Returns the new entry's id or None
    (the id, not the row: most callers only count, and loading the row back is another query).

    Two statements when the month is open: what the booking needs to know (`_BOOKING_FACTS`) and the INSERT; on
    PostgreSQL the months lock is taken by a statement of its own first (a statement's snapshot is taken when it
    starts: the months must be read by a statement that starts once the lock is held)."""
    zone = lock_months(session, site_id) if session.get_bind().dialect.name == "postgresql" else None
    event_month, version, rules, target = _booking_facts(session, site_id, earning.when, event_month, zone)
    value = points if points is not None else rules[earning.rule_code]
    reason = earning.reason
    if target != event_month:
        reason += f"; booked in {target:%Y-%m} because {event_month:%Y-%m} is closed"
    ids = insert_ignoring_conflicts(session, PointsEntry.__table__, [{
        "site_id": site_id, "user_id": earning.user_id, "month": target, "event_month": event_month,
        "rule_code": earning.rule_code, "rule_version": version, "points": value,
        "source_type": earning.source_type, "source_id": earning.source_id, "reason": reason[:500],
        "corrects_id": corrects.id if corrects else None, "created_at": utcnow()}],
        ["rule_code", "source_type", "source_id", "user_id"])
    return ids[0] if ids else None


def on_patrol_submitted(session: Session, *, patrol, was_missed: bool = True, **_kwargs) -> None:
    for earning in earning_rules.patrol_earnings(patrol):
        book(session, patrol.site_id, earning)
    if not was_missed:
        return
    # A submission queued offline may arrive after the patrol was marked missed: reverse that entry.
    missed = session.scalar(select(PointsEntry).where(
        PointsEntry.rule_code == "patrol_missed", PointsEntry.source_type == "patrol",
        PointsEntry.source_id == patrol.id))
    if missed is not None:
        book(session, patrol.site_id, earning_rules.Earning(
            missed.user_id, "patrol_missed_reversed", "patrol", patrol.id, patrol.window_start,
            f"corrects entry {missed.id}: patrol {patrol.id} was done in time, its submission arrived late"),
            points=-missed.points, corrects=missed, event_month=missed.event_month)


def on_patrols_missed(session: Session, *, patrol_ids: list[int], **_kwargs) -> None:
    """Book the missed-patrol penalties in bulk: a catch-up after downtime can miss thousands at once."""
    from gridpatrol.patrols.models import Patrol

    by_site: dict[int, list[earning_rules.Earning]] = defaultdict(list)
    for batch in chunked(patrol_ids):
        for patrol in session.scalars(select(Patrol).where(Patrol.id.in_(batch))):
            by_site[patrol.site_id].extend(earning_rules.patrol_earnings(patrol))
    for site_id, earnings in by_site.items():
        book_many(session, site_id, earnings)


def book_many(session: Session, site_id: int, earnings: list[earning_rules.Earning]) -> int:
    """Like `book` for many earnings at once (rules and month routing looked up once per month)."""
    tz = lock_months(session, site_id)
    per_month: dict[dt.date, tuple[int, dict[str, int], dt.date]] = {}
    rows = []
    for earning in earnings:
        event_month = month_of(earning.when, tz)
        if event_month not in per_month:
            version, rules = rules_for(session, site_id, event_month)
            per_month[event_month] = (version, rules, open_month_from(session, site_id, event_month))
        version, rules, target = per_month[event_month]
        reason = earning.reason
        if target != event_month:
            reason += f"; booked in {target:%Y-%m} because {event_month:%Y-%m} is closed"
        rows.append({"site_id": site_id, "user_id": earning.user_id, "month": target, "event_month": event_month,
                     "rule_code": earning.rule_code, "rule_version": version, "points": rules[earning.rule_code],
                     "source_type": earning.source_type, "source_id": earning.source_id, "reason": reason[:500],
                     "corrects_id": None, "created_at": utcnow()})
    booked = 0
    for batch in chunked(rows, 2000):
        booked += len(insert_ignoring_conflicts(session, PointsEntry.__table__, batch,
                                                ["rule_code", "source_type", "source_id", "user_id"]))
    return booked


def _responsible_ids(issue) -> tuple[Optional[int], Optional[int]]:
    """The grid's leader and deputy when the issue was reported (from the grid's assignment history)."""
    if issue.grid is None:
        return None, None
    leader = grids.responsible_at(issue.grid, AssignmentRole.LEADER, issue.reported_at)
    deputy = grids.responsible_at(issue.grid, AssignmentRole.DEPUTY, issue.reported_at)
    return (leader.id if leader else None), (deputy.id if deputy else None)


def accepted_severity(issue) -> Optional[str]:
    """The severity the issue was accepted with (stored on the issue at its first dispatch), or None while it
    has not been accepted (a rejected report never is)."""
    from gridpatrol.issues.models import IssueState, Severity

    if issue.accepted_severity is None or IssueState(issue.state) is IssueState.REJECTED:
        return None
    return Severity(issue.accepted_severity).value


def on_issue_decided(session: Session, *, issue, **facts) -> None:
    """Subscriber of `issue_accepted` (whose `accepted_severity` argument says what the finder earns) and of
    `issue_rejected`."""
    from gridpatrol.issues.models import Severity

    decided = facts.get("accepted_severity")
    severity = Severity(decided).value if decided is not None else accepted_severity(issue)
    leader_id, deputy_id = _responsible_ids(issue)
    for earning in earning_rules.issue_earnings(issue, accepted_severity=severity,
                                                grid_leader_id=leader_id, grid_deputy_id=deputy_id):
        book(session, issue.site_id, earning)


def connect_signals() -> None:
    from gridpatrol.issues import services as issues
    from gridpatrol.patrols import services as patrols

    patrols.patrol_submitted.connect(on_patrol_submitted)
    patrols.patrols_missed.connect(on_patrols_missed)
    issues.issue_accepted.connect(on_issue_decided)
    issues.issue_rejected.connect(on_issue_decided)


@event.listens_for(Session, "before_flush")
def _ledger_is_append_only(session: Session, _context, _instances) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, PointsEntry) and (obj in session.deleted or session.is_modified(obj)):
            raise RuntimeError("the points ledger is append-only: write a correcting entry instead")


# --- appeals --------------------------------------------------------------------------------------------
def file_appeal(session: Session, entry: PointsEntry, user: User, reason: str, *,
                now: Optional[dt.datetime] = None) -> Appeal:
    if entry.user_id != user.id:
        raise DomainError(_("You can only appeal your own entries."))
    if entry.rule_code in earning_rules.CORRECTION_RULES:
        raise DomainError(_("A correction cannot be appealed."))
    if session.scalar(select(Appeal).where(Appeal.entry_id == entry.id)) is not None:
        raise DomainError(_("This entry has been appealed already."))
    if not (reason or "").strip():
        raise DomainError(_("Say why the entry is wrong."))
    appeal = Appeal(entry=entry, user_id=user.id, reason=reason.strip()[:2000], state=AppealState.OPEN.value,
                    created_at=now or utcnow())
    session.add(appeal)
    session.flush()
    audit.record(session, "points.appeal_filed", actor=user, target=appeal, detail={"entry": entry.id})
    return appeal


def decide_appeal(session: Session, appeal: Appeal, actor: User, *, overturn: bool, note: str,
                  now: Optional[dt.datetime] = None) -> Optional[PointsEntry]:
    """Uphold (the entry stands) or overturn (a correcting entry cancels it in the next open month)."""
    now = now or utcnow()
    if appeal.state != AppealState.OPEN.value:
        raise DomainError(_("This appeal has been decided already."))
    if actor.id == appeal.user_id:
        raise DomainError(_("Nobody decides their own appeal."))
    if not (note or "").strip():
        raise DomainError(_("Give the reason for the decision."))
    appeal.state = (AppealState.OVERTURNED if overturn else AppealState.UPHELD).value
    appeal.decided_by_id, appeal.decided_at, appeal.decision_note = actor.id, now, note.strip()
    correction = None
    if overturn:
        entry = appeal.entry
        tz = _site_tz(session, entry.site_id)
        correction_id = book(session, entry.site_id, earning_rules.Earning(
            entry.user_id, "appeal_overturned", "appeal", appeal.id, now,
            f"corrects entry {entry.id} ({entry.rule_code}, {entry.month:%Y-%m}): appeal {appeal.id} upheld"),
            points=-entry.points, corrects=entry, event_month=month_of(now, tz))
        appeal.correction_id = correction_id
        correction = session.get(PointsEntry, correction_id) if correction_id else None
    session.flush()
    audit.record(session, "points.appeal_overturned" if overturn else "points.appeal_upheld", actor=actor,
                 target=appeal, detail={"entry": appeal.entry_id, "note": note.strip()})
    appeal_decided.send(session, appeal=appeal, overturned=overturn, correction=correction, actor=actor, now=now)
    return correction


# --- reading and rebuilding -----------------------------------------------------------------------------
def entries(session: Session, site_id: int, month: dt.date, user_id: Optional[int] = None) -> list[PointsEntry]:
    query = select(PointsEntry).where(PointsEntry.site_id == site_id, PointsEntry.month == month)
    if user_id is not None:
        query = query.where(PointsEntry.user_id == user_id)
    return list(session.scalars(query.order_by(PointsEntry.user_id, PointsEntry.id)))


def totals(session: Session, site_id: int, month: dt.date) -> dict[int, int]:
    return dict(session.execute(select(PointsEntry.user_id, func.sum(PointsEntry.points)).where(
        PointsEntry.site_id == site_id, PointsEntry.month == month).group_by(PointsEntry.user_id)).all())


@dataclass(frozen=True)
class Difference:
    user_id: int
    source_type: str
    source_id: int
    expected: int
    booked: int


def expected_points(session: Session, site: Site, month: dt.date) -> dict[tuple[int, str, int], int]:
    """Net points per (person, source) that the events of `month` should have earned, from scratch."""
    from gridpatrol.patrols.models import Patrol

    start, end = month_bounds(month, site.timezone)
    expected: dict[tuple[int, str, int], int] = defaultdict(int)
    version, rules = rules_for(session, site.id, month)
    for patrol in session.scalars(select(Patrol).where(Patrol.site_id == site.id, Patrol.window_start >= start,
                                                       Patrol.window_start < end)):
        for e in earning_rules.patrol_earnings(patrol):
            expected[(e.user_id, e.source_type, e.source_id)] += rules[e.rule_code]
    for issue in session.scalars(_issues_of(site, start, end)):
        leader_id, deputy_id = _responsible_ids(issue)
        for e in earning_rules.issue_earnings(issue, accepted_severity=accepted_severity(issue),
                                              grid_leader_id=leader_id, grid_deputy_id=deputy_id):
            expected[(e.user_id, e.source_type, e.source_id)] += rules[e.rule_code]
    # An overturned appeal cancels the entry it names.
    for appeal in session.scalars(select(Appeal).join(PointsEntry, Appeal.entry_id == PointsEntry.id).where(
            PointsEntry.site_id == site.id, PointsEntry.event_month == month,
            Appeal.state == AppealState.OVERTURNED.value)):
        entry = appeal.entry
        expected[(entry.user_id, entry.source_type, entry.source_id)] -= entry.points
    return {k: v for k, v in expected.items()}


def _issues_of(site: Site, start: dt.datetime, end: dt.datetime):
    """A month's issues with what their earnings need (grid history) loaded in a few queries; the accepted
    severity is a column of the issue, so no events are loaded."""
    from sqlalchemy.orm import selectinload

    from gridpatrol.grids.models import Grid
    from gridpatrol.issues.models import Issue

    return select(Issue).where(Issue.site_id == site.id, Issue.reported_at >= start, Issue.reported_at < end) \
        .options(selectinload(Issue.grid).selectinload(Grid.assignments))


def check_month(session: Session, site: Site, month: dt.date) -> list[Difference]:
    """Recompute `month` from its events and list every (person, source) where the ledger differs.

    Booked points are the ledger's entries for events of the month (wherever they were booked, since a
    closed month sends late ones on), plus appeal corrections of those entries (booked later).
    """
    from sqlalchemy.orm import aliased

    expected = expected_points(session, site, month)
    booked: dict[tuple[int, str, int], int] = defaultdict(int)
    for user_id, source_type, source_id, points in session.execute(
            select(PointsEntry.user_id, PointsEntry.source_type, PointsEntry.source_id, PointsEntry.points).where(
                PointsEntry.site_id == site.id, PointsEntry.event_month == month,
                PointsEntry.source_type != SourceType.APPEAL.value)):
        booked[(user_id, source_type, source_id)] += points
    original = aliased(PointsEntry)
    for user_id, source_type, source_id, points in session.execute(
            select(original.user_id, original.source_type, original.source_id, PointsEntry.points)
            .join(original, PointsEntry.corrects_id == original.id).where(
                PointsEntry.site_id == site.id, PointsEntry.source_type == SourceType.APPEAL.value,
                original.event_month == month)):
        booked[(user_id, source_type, source_id)] += points
    keys = set(expected) | set(booked)
    return [Difference(k[0], k[1], k[2], expected.get(k, 0), booked.get(k, 0)) for k in sorted(keys)
            if expected.get(k, 0) != booked.get(k, 0)]


def rebuild_missing(session: Session, site: Site, month: dt.date) -> int:
    """Book every earning of the month's events that the ledger lacks (e.g. after a restore). Returns count."""
    from gridpatrol.patrols.models import Patrol

    start, end = month_bounds(month, site.timezone)
    count = 0
    for patrol in session.scalars(select(Patrol).where(Patrol.site_id == site.id, Patrol.window_start >= start,
                                                       Patrol.window_start < end)):
        count += sum(1 for e in earning_rules.patrol_earnings(patrol) if book(session, site.id, e))
    for issue in session.scalars(_issues_of(site, start, end)):
        leader_id, deputy_id = _responsible_ids(issue)
        count += sum(1 for e in earning_rules.issue_earnings(
            issue, accepted_severity=accepted_severity(issue), grid_leader_id=leader_id, grid_deputy_id=deputy_id)
            if book(session, site.id, e))
    return count
