"""Is a day a working day? The site's overrides, then the year's official schedule, then a provisional calendar.

In order (`sources.DaySource`): the site's own overrides; the official schedule of the year — the
`chinesecalendar` package where it covers the year, otherwise what an admin imported from the State Council's
notice (`workdays.notice`); and for a year nobody has given, a **provisional** calendar from the statutory rules
(`sources.provisional_rest_days`). The app never guesses silently: a provisional day says so
(`WorkdayCalendar.is_provisional`), deadlines and plans that rest on one are marked, and the pages warn from
1 October of the year before (`provisional_warning`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Optional

from blinker import Namespace
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridpatrol.audit import services as audit
from gridpatrol.core.errors import DomainError, NotAllowed
from gridpatrol.core.roles import Role
from gridpatrol.grids.models import Site
from gridpatrol.workdays import sources
from gridpatrol.workdays.notice import Notice
from gridpatrol.workdays.models import OfficialCalendarDay, OfficialCalendarYear, WorkdayOverride
from gridpatrol.workdays.sources import DaySource

WARN_FROM_MONTH = 10  # from 1 October the coming year's calendar should be official

signals = Namespace()
official_year_changing = signals.signal("official-year-changing")
"""Sent when an official year is previewed (apply=False: say what would change, change nothing) or imported
(apply=True: the year's days are already flushed; change what depends on them). Named arguments: year (int),
days (dict: date → (working day?, holiday name)), now (UTC datetime), actor (User or None), apply (bool).
Each receiver returns a `CalendarEffect` (or None). Receivers never touch what is closed: submitted or missed
patrols, closed issues, closed months."""


@dataclass(frozen=True)
class DayInfo:
    day: dt.date
    is_workday: bool
    source: DaySource
    name: Optional[str] = None  # the holiday (Chinese, as the notice names it) or the override's note

    @property
    def provisional(self) -> bool:
        return self.source is DaySource.PROVISIONAL


@dataclass
class WorkdayCalendar:
    """Workdays for one site: overrides, then the official schedule (package or imported), then provisional."""

    overrides: dict[dt.date, bool] = field(default_factory=dict)
    # Imported years: year → {day: (working day?, name)} for the days that differ from Monday–Friday.
    imported: dict[int, dict[dt.date, tuple[bool, str]]] = field(default_factory=dict)
    override_notes: dict[dt.date, Optional[str]] = field(default_factory=dict)

    def year_source(self, year: int) -> DaySource:
        if sources.package_covers(year):
            return DaySource.PACKAGE
        if year in self.imported:
            return DaySource.IMPORTED
        return DaySource.PROVISIONAL

    def info(self, day: dt.date) -> DayInfo:
        if day in self.overrides:
            return DayInfo(day, self.overrides[day], DaySource.SITE, self.override_notes.get(day))
        source = self.year_source(day.year)
        if source is DaySource.PACKAGE:
            is_workday, name = sources.package_day(day)
            return DayInfo(day, is_workday, DaySource.PACKAGE, name)
        if source is DaySource.IMPORTED:
            entry = self.imported[day.year].get(day)
            if entry is not None:
                return DayInfo(day, entry[0], DaySource.IMPORTED, entry[1])
            return DayInfo(day, day.weekday() < 5, DaySource.IMPORTED)
        is_workday, name = sources.provisional_workday(day)
        return DayInfo(day, is_workday, DaySource.PROVISIONAL, name)

    def is_workday(self, day: dt.date) -> bool:
        return self.info(day).is_workday

    def is_provisional(self, day: dt.date) -> bool:
        """Is whether `day` is worked only computed from the statutory rules (no site override, no official
        schedule)?"""
        return day not in self.overrides and self.year_source(day.year) is DaySource.PROVISIONAL

    def rests_on_provisional(self, first: dt.date, last: dt.date) -> bool:
        """Does a span of days (e.g. from a deadline's start to the deadline) cross a provisional year?"""
        return any(self.year_source(year) is DaySource.PROVISIONAL for year in range(first.year, last.year + 1))

    def with_year(self, year: int, days: dict[dt.date, tuple[bool, str]]) -> "WorkdayCalendar":
        """This calendar with `year` replaced by an official schedule (to preview an import)."""
        return replace(self, imported={**self.imported, year: dict(days)})

    def next_workday(self, day: dt.date) -> dt.date:
        """The first workday on or after `day`."""
        for _attempt in range(400):
            if self.is_workday(day):
                return day
            day += dt.timedelta(days=1)
        raise RuntimeError("no workday within 400 days: check the calendar overrides")

    def previous_workday(self, day: dt.date) -> dt.date:
        """The last workday on or before `day`."""
        for _attempt in range(400):
            if self.is_workday(day):
                return day
            day -= dt.timedelta(days=1)
        raise RuntimeError("no workday within 400 days: check the calendar overrides")


_OVERRIDES = select(WorkdayOverride.day, WorkdayOverride.is_workday, WorkdayOverride.note)
# Every imported year with its days, in one statement (a year with no listed day still comes back once).
_IMPORTED = select(OfficialCalendarYear.year, OfficialCalendarDay.day, OfficialCalendarDay.is_workday,
                   OfficialCalendarDay.name).outerjoin(OfficialCalendarDay,
                                                       OfficialCalendarDay.year == OfficialCalendarYear.year)


def calendar_for(session: Session, site: Optional[Site]) -> WorkdayCalendar:
    """The site's calendar (None: the nationwide calendar, with no site's overrides)."""
    overrides: dict[dt.date, bool] = {}
    notes: dict[dt.date, Optional[str]] = {}
    if site is not None:
        for day, is_workday, note in session.execute(_OVERRIDES.where(WorkdayOverride.site_id == site.id)):
            overrides[day], notes[day] = is_workday, note
    imported: dict[int, dict[dt.date, tuple[bool, str]]] = {}
    for year, day, is_workday, name in session.execute(_IMPORTED):
        days = imported.setdefault(year, {})
        if day is not None:
            days[day] = (is_workday, name)
    return WorkdayCalendar(overrides, imported, notes)


def provisional_warning(calendar: WorkdayCalendar, today: dt.date) -> Optional[int]:
    """The year whose calendar is still provisional and matters now: this year at any time, next year from
    1 October. None when both are official."""
    if calendar.year_source(today.year) is DaySource.PROVISIONAL:
        return today.year
    if today.month >= WARN_FROM_MONTH and calendar.year_source(today.year + 1) is DaySource.PROVISIONAL:
        return today.year + 1
    return None


def year_listing(calendar: WorkdayCalendar, year: int) -> list[DayInfo]:
    """Every non-working day and make-up working day of `year` (a weekday off, a weekend day worked, and the
    named days of holidays), in order, with its source."""
    listed: list[DayInfo] = []
    day = dt.date(year, 1, 1)
    while day.year == year:
        info = calendar.info(day)
        weekend = day.weekday() >= 5
        if info.is_workday == weekend or info.name or info.source is DaySource.SITE:
            listed.append(info)
        day += dt.timedelta(days=1)
    return listed


# --- the State Council's notice, imported ------------------------------------------------------------------
@dataclass(frozen=True)
class CalendarEffect:
    """What an import changes (or would change) in one domain: e.g. "open deadlines moved later: 3"."""

    kind: str  # a stable name for the audit log, e.g. "deadlines_moved"
    label: str  # in the reader's language
    count: int
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class DayChange:
    before: DayInfo
    after: DayInfo


@dataclass(frozen=True)
class NoticeImport:
    notice: Notice
    replaces_import: bool  # the year had been imported before: this replaces it
    changes: tuple[DayChange, ...]  # the days whose working status changes, nationwide
    effects: tuple[CalendarEffect, ...]

    @property
    def missing_holidays(self) -> tuple[str, ...]:
        """Statutory holidays the file does not name (a notice lists all seven): likely a slip, said in the
        preview, not refused (a year may merge two, as 2028's 中秋 and 国庆)."""
        names = [holiday.name for holiday in self.notice.holidays]
        return tuple(statutory for statutory in sources.HOLIDAY_NAMES_ZH
                     if not any(statutory.rstrip("节") in name for name in names))


def _check_importable(notice: Notice, actor) -> None:
    # The official calendar is nationwide: only an admin of every site may change it (the CLI passes no actor).
    if actor is not None and (Role.ADMIN, None) not in actor.roles_granted():
        raise NotAllowed(_("Only an administrator of all sites may enter the official calendar."))
    if sources.package_covers(notice.year):
        raise DomainError(_("The official calendar of %(year)d is already known from the maintained calendar "
                            "package; enter a site's own exceptions as overrides instead.", year=notice.year))


def _changes(session: Session, notice: Notice) -> tuple[DayChange, ...]:
    before = calendar_for(session, None)
    after = before.with_year(notice.year, notice.days())
    changes = []
    day = dt.date(notice.year, 1, 1)
    while day.year == notice.year:
        old, new = before.info(day), after.info(day)
        if old.is_workday != new.is_workday:
            changes.append(DayChange(old, new))
        day += dt.timedelta(days=1)
    return tuple(changes)


def _effects(session: Session, notice: Notice, *, now: dt.datetime, actor, apply: bool) -> tuple[CalendarEffect, ...]:
    replies = official_year_changing.send(session, year=notice.year, days=notice.days(), now=now, actor=actor,
                                          apply=apply)
    return tuple(effect for _receiver, effect in replies if isinstance(effect, CalendarEffect))


def preview_notice(session: Session, notice: Notice, *, actor, now: dt.datetime) -> NoticeImport:
    """What importing `notice` would change; changes nothing."""
    _check_importable(notice, actor)
    return NoticeImport(notice, session.get(OfficialCalendarYear, notice.year) is not None,
                        _changes(session, notice), _effects(session, notice, now=now, actor=None, apply=False))


def import_notice(session: Session, notice: Notice, *, actor, now: dt.datetime) -> NoticeImport:
    """Make `notice` the official calendar of its year (replacing an earlier import of that year), then let
    the domains follow: open deadlines move later where the year gives more days off, patrols not yet started
    are rescheduled. Nothing closed is recomputed."""
    _check_importable(notice, actor)
    changes = _changes(session, notice)
    existing = session.get(OfficialCalendarYear, notice.year)
    if existing is not None:
        session.delete(existing)
        session.flush()
    row = OfficialCalendarYear(year=notice.year, notice=notice.reference, imported_at=now,
                               imported_by_id=getattr(actor, "id", None))
    row.days = [OfficialCalendarDay(day=day, year=notice.year, is_workday=is_workday, name=name)
                for day, (is_workday, name) in notice.days().items()]
    session.add(row)
    session.flush()
    effects = _effects(session, notice, now=now, actor=actor, apply=True)
    audit.record(session, "calendar.imported", actor=actor, target=None,
                 detail={"year": notice.year, "notice": notice.reference, "days": len(row.days),
                         "replaced": existing is not None,
                         "effects": {effect.kind: effect.count for effect in effects}})
    return NoticeImport(notice, existing is not None, changes, effects)


def imported_years(session: Session) -> list[OfficialCalendarYear]:
    return list(session.scalars(select(OfficialCalendarYear).order_by(OfficialCalendarYear.year)))


def set_override(session: Session, site: Site, day: dt.date, is_workday: Optional[bool], *, note: Optional[str],
                 actor) -> None:
    """Make `day` a workday or a day off at this site; None removes the override (official calendar again)."""
    if day.year < 2000 or day.year > 2100:
        raise DomainError(_("That date is out of range."))
    existing = session.get(WorkdayOverride, (site.id, day))
    if is_workday is None:
        if existing is not None:
            session.delete(existing)
    elif existing is None:
        session.add(WorkdayOverride(site_id=site.id, day=day, is_workday=is_workday, note=note))
    else:
        existing.is_workday, existing.note = is_workday, note
    session.flush()
    audit.record(session, "calendar.override", actor=actor, target=site,
                 detail={"day": day.isoformat(), "is_workday": is_workday, "note": note})


def list_overrides(session: Session, site: Site) -> list[WorkdayOverride]:
    return list(session.scalars(select(WorkdayOverride).where(WorkdayOverride.site_id == site.id)
                                .order_by(WorkdayOverride.day)))


# --- working time (deadlines) ---------------------------------------------------------------------------
DEFAULT_OFFICE_HOURS = (dt.time(8, 30), dt.time(17, 30))


def add_working_hours(calendar: WorkdayCalendar, tz, start: dt.datetime, hours: float,
                      office: tuple[dt.time, dt.time] = DEFAULT_OFFICE_HOURS) -> dt.datetime:
    """`hours` of office time after `start`, counting only office hours on workdays. Returns UTC.

    Time outside office hours (evenings, weekends, holidays) does not count: a 4-hour limit started on
    Friday at 16:30 ends on Monday at 11:30 (or on the next workday after a holiday, or on a 调休 Saturday).
    """
    remaining = dt.timedelta(hours=hours)
    local = start.astimezone(tz)
    day = local.date()
    for _attempt in range(800):
        if calendar.is_workday(day):
            opens = dt.datetime.combine(day, office[0], tzinfo=tz)
            closes = dt.datetime.combine(day, office[1], tzinfo=tz)
            begin = max(opens, local)
            if begin < closes:
                available = closes - begin
                if remaining <= available:
                    return (begin + remaining).astimezone(dt.timezone.utc)
                remaining -= available
        day += dt.timedelta(days=1)
        local = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
    raise RuntimeError("working time beyond 800 days")


def add_working_days(calendar: WorkdayCalendar, tz, start: dt.datetime, days: int,
                     office: tuple[dt.time, dt.time] = DEFAULT_OFFICE_HOURS) -> dt.datetime:
    """The close of office on the `days`-th workday after the day of `start`. Returns UTC.

    The day it starts on does not count (a limit of 1 working day given on Friday ends Monday at close,
    or on the next workday after a holiday).
    """
    day = start.astimezone(tz).date()
    counted = 0
    for _attempt in range(800):
        day += dt.timedelta(days=1)
        if calendar.is_workday(day):
            counted += 1
            if counted >= days:
                return dt.datetime.combine(day, office[1], tzinfo=tz).astimezone(dt.timezone.utc)
    raise RuntimeError("working days beyond 800 days")
