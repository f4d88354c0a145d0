"""A history for the demo: a year (or five) of patrols, problems, repairs and points, played day by day.

Nothing is written behind the rules: a simulated clock moves forward one day at a time and, at each moment of
the day, the people of the demo do what the app lets them do, through the services the app uses —
`patrols.services.materialize` makes the day's patrols, leaders fill them in with `patrols.services.submit`
(failed items become issues through its subscribers, points are booked by the points subscribers),
`mark_missed` closes the windows nobody used, staff file quick reports (随手拍) with `issues.services.report`,
supervisors accept, dispatch or reject, rectifiers start and report fixes, leaders and supervisors verify
(sometimes sending work back: 返工), leaders appeal a few entries (`points.services.file_appeal`, decided with
`decide_appeal`) and every month is closed (`points.services.close_month`) on the 5th of the next.

The people behave as the offices' own reports describe them: most patrols done on time, some late within the
grace period, a few missed (the demo's plans keep off rest days: a sweep or cross-check whose day is a rest day
moves to the next working day, `gridpatrol.patrols.demo`); failures by category follow the seasons (`seasons.py`);
repairs are done in working hours, mostly before the deadline, some late, a few stuck waiting for parts (the
rectifier asks for a later deadline, 延期, which the supervisor mostly approves) or for a budget (the supervisor
defers the issue, 缓办, and resumes it when the money comes); the recent problems are still open when the history
ends.

Deterministic for a seed: one `random.Random(seed)` draws everything, in an order that depends only on codes,
usernames and times (never on database ids or set order), so the same seed gives the same history on SQLite and
PostgreSQL. The caller owns the transaction boundary: `commit` is called after every simulated day.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import random
import time
import uuid
import zoneinfo
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from gridpatrol.accounts.models import Team, User, UserRole
from gridpatrol.core.categories import Category
from gridpatrol.core.roles import Role
from gridpatrol.core.time import local_day, month_start, next_month
from gridpatrol.grids import qr
from gridpatrol.grids import services as grids
from gridpatrol.grids.models import Grid, Site
from gridpatrol.history import pictures, seasons
from gridpatrol.issues import extensions as issue_extensions
from gridpatrol.issues import services as issues
from gridpatrol.issues.models import Issue, IssueExtension, IssueSource, IssueState, RejectReason, Severity
from gridpatrol.notifications import services as notifications
from gridpatrol.patrols import checklists
from gridpatrol.patrols import services as patrols
from gridpatrol.patrols.models import Patrol, PatrolPlan, PatrolStatus
from gridpatrol.points import services as points
from gridpatrol.points.models import Appeal, AppealState, PointsEntry
from gridpatrol.standards.models import ChecklistTemplate, TemplateItem, TemplateVersion
from gridpatrol.workdays import services as workdays

DEFAULT_SEED = 2026
# --history: how many whole months before the current one the history covers (it then runs on to now).
SPANS = {"0": 0, "1y": 12, "5y": 60}
CLOSE_DAY = 5  # months are closed on this day of the next month (the scheduler's POINTS_CLOSE_DAY default)

# Who does what in the demo (gridpatrol.demo.services.DEMO_LOGINS): the supervisor of each site, and the
# team each category of problem goes to.
SUPERVISORS = {"DHXZ": "zhuguan", "SSBG": "sishui"}
MAINTENANCE_CREW = "机关后勤维修班组"
PROPERTY_COMPANY = "瑞安物业服务有限公司"
LIFT_VENDOR = "通达电梯维保有限公司"
TEAM_FOR_CATEGORY = {
    Category.WATER_POWER.value: MAINTENANCE_CREW, Category.ASSETS.value: MAINTENANCE_CREW,
    Category.EQUIPMENT.value: MAINTENANCE_CREW, Category.FIRE_SAFETY.value: PROPERTY_COMPANY,
    Category.SANITATION.value: PROPERTY_COMPANY, Category.SECURITY.value: PROPERTY_COMPANY,
    Category.GREENING.value: PROPERTY_COMPANY,
}

# --- the behaviour model ---------------------------------------------------------------------------------
# Probability that an applicable checklist item fails on one patrol, by plan kind, before the season and the
# grid's wear. Tuned so that the 49-grid compound finds about 800 problems a year with its quick reports.
ITEM_FAILURE = {"routine": 0.00064, "cross_check": 0.0028, "safety_sweep": 0.0085, "special": 0.0025}
QUICK_REPORTS_PER_WORKDAY = 0.0165  # per grid of the site (the compound: about 0.8 a working day)
QUICK_REPORTS_PER_REST_DAY = 0.0035
REPORT_INVALID, REPORT_NOT_OURS, REPORT_DUPLICATE = 0.05, 0.03, 0.05
PATROL_FINDING_INVALID = 0.015  # "already fixed on the spot": rejected as invalid
# Share of the accepted quick reports the supervisor marks 应巡未发现 (a patrol should have found it: only those
# cost the grid's leader a point): the things a patrol looks at (a blocked passage, an expired extinguisher, a
# camera knocked askew) more often than the repairs staff ask for (a tap, an air conditioner). About 15 % overall.
MISSED_BY_PATROLS = {
    Category.FIRE_SAFETY.value: 0.35, Category.SECURITY.value: 0.3, Category.SANITATION.value: 0.3,
    Category.GREENING.value: 0.2, Category.ASSETS.value: 0.12, Category.WATER_POWER.value: 0.1,
    Category.EQUIPMENT.value: 0.08,
}
STUCK = 0.02  # waits weeks for parts or a budget
STUCK_ASSETS = 0.06  # building repairs (资产基建) more often wait for a budget to be approved
SLOW = 0.09  # takes a few times longer than usual
VERIFY_FAILS = 0.09  # the first verification finds it not fixed (返工)
VERIFY_FAILS_AGAIN = 0.03
APPEALS_PER_MONTH = 0.45  # chance per site and month that a leader appeals a missed-patrol entry
APPEAL_OVERTURNED = 0.4


@dataclass
class MonthFigures:
    """What one month of the history holds (per all sites), for the progress line and the report."""

    month: dt.date
    patrols: int = 0
    on_time: int = 0
    late: int = 0
    missed: int = 0
    problems: int = 0
    closed: int = 0

    def line(self) -> str:
        share = f" ({100 * self.on_time / self.patrols:.0f}% on time)" if self.patrols else ""
        return (f"{self.month:%Y-%m} … {self.patrols:,} patrols{share}, {self.problems:,} problems, "
                f"{self.closed:,} of them closed")


@dataclass
class HistoryReport:
    start: dt.datetime
    end: dt.datetime
    seed: int
    months: list[MonthFigures] = field(default_factory=list)
    appeals: int = 0
    seconds: dict[str, float] = field(default_factory=dict)  # time spent per kind of step (for measuring the load)

    @property
    def patrols(self) -> int:
        return sum(m.patrols for m in self.months)

    @property
    def problems(self) -> int:
        return sum(m.problems for m in self.months)


def history_start(now: dt.datetime, months: int, timezone: str) -> dt.datetime:
    """The first instant of the history: 00:00 on the first day of the month `months` before the current one."""
    month = month_start(local_day(now, timezone))
    for _ in range(months):
        month = dt.date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)
    return dt.datetime.combine(month, dt.time(0), tzinfo=zoneinfo.ZoneInfo(timezone))


def days_before(now: dt.datetime, days: int, timezone: str) -> dt.datetime:
    """00:00 of the day `days` days before today (a short history, for tests)."""
    day = local_day(now, timezone) - dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(0), tzinfo=zoneinfo.ZoneInfo(timezone))


# --- the world the simulation knows ----------------------------------------------------------------------
@dataclass
class _Grid:
    id: int
    code: str
    name: str
    level: int
    categories: frozenset[str]
    points: list[tuple[float, float]]  # places inside the grid where things are found
    checkpoints: list[str]  # the signed QR payloads of its checkpoints
    wear: float  # how run-down it is: multiplies its failure rates


@dataclass
class _Site:
    site: Site
    tz: zoneinfo.ZoneInfo
    calendar: workdays.WorkdayCalendar
    office: tuple[dt.time, dt.time]
    supervisor: User
    grids: list[_Grid]  # by code
    by_id: dict[int, _Grid]
    reporters: list[User]  # staff who file quick reports, by username


@dataclass
class _Item:
    id: int
    standard: str  # the checklist template's code
    code: str
    category: str
    text: str
    allow_na: bool
    critical: bool
    photo_on_fail: bool


@dataclass
class _Fate:
    """How an accepted issue's repair will go, drawn when it is triaged."""

    start_hours: float
    fix_hours: float
    reworks: int
    verifier: str  # "leader" or "supervisor"
    waits_for: Optional[str] = None  # "parts": 延期 asked for; "budget": 缓办 until the money comes


class _Player:
    def __init__(self, session: Session, *, start: dt.datetime, end: dt.datetime, seed: int,
                 commit: Callable[[], None], progress: Callable[[str], None]) -> None:
        self.session, self.start, self.end, self.seed = session, start, end, seed
        self.commit, self.progress = commit, progress
        self.rng = random.Random(seed)
        self.queue: list[tuple[dt.datetime, int, str, tuple]] = []
        self.sequence = itertools.count()
        self.report = HistoryReport(start, end, seed)
        self.open_findings: dict[tuple[int, int], int] = {}  # (grid id, item id) → issue id, while open
        self.open_issues: dict[int, list[int]] = {}  # grid id → open issue ids, in filing order
        self.fates: dict[int, _Fate] = {}
        self._load()

    # --- loading what the simulation needs, in an order independent of ids --------------------------------
    def _load(self) -> None:
        session = self.session
        users = list(session.scalars(select(User).order_by(User.username)))
        self.kept: list[Any] = [*users]  # the session's identity map holds objects weakly: these stay loaded
        self.users = {u.id: u for u in users}
        by_name = {u.username: u for u in users}
        self.teams = {t.name: t for t in session.scalars(select(Team).order_by(Team.name))}
        self.rectifier = {name: sorted((m for m in team.members if m.active), key=lambda u: u.username)[0]
                          for name, team in self.teams.items() if team.members}
        self.items: dict[int, list[_Item]] = {}
        self.item_text: dict[int, str] = {}
        rows = session.execute(
            select(TemplateItem, ChecklistTemplate.code)
            .join(TemplateVersion, TemplateVersion.id == TemplateItem.version_id)
            .join(ChecklistTemplate, ChecklistTemplate.id == TemplateVersion.template_id)
            .order_by(TemplateItem.version_id, TemplateItem.position))
        for item, standard in rows:
            self.kept.append(item)  # every submission reads its checklist's items
            self.item_text[item.id] = item.text
            self.items.setdefault(item.version_id, []).append(_Item(
                item.id, standard, item.code, item.category, item.text, item.allow_na, item.critical,
                item.photo_on_fail))
        self.sites: list[_Site] = []
        for site in session.scalars(select(Site).order_by(Site.code)):
            if site.code not in SUPERVISORS:
                continue
            staff_ids = set(session.scalars(select(UserRole.user_id).where(
                UserRole.role == Role.STAFF.value, UserRole.site_id == site.id)))
            site_grids = []
            for grid in grids.list_grids(session, site):
                self.kept.extend([grid, *grid.checkpoints])  # looked up by id on every submission
                site_grids.append(_Grid(
                    grid.id, grid.code, grid.name, grid.level, frozenset(grid.categories or ()),
                    self._points_in(grid), [qr.checkpoint_payload(cp) for cp in grid.checkpoints if cp.active],
                    round(self.rng.uniform(0.55, 1.7), 3)))
            self.sites.append(_Site(
                site, zoneinfo.ZoneInfo(site.timezone), workdays.calendar_for(session, site),
                issues.office_hours(session, site), by_name[SUPERVISORS[site.code]], site_grids,
                {g.id: g for g in site_grids}, [u for u in users if u.id in staff_ids]))
        self.site_of = {s.site.id: s for s in self.sites}
        # Each leader's habits: how often they are late or miss a patrol.
        self.habits: dict[int, tuple[float, float]] = {}
        for user in users:
            if user.has_role(Role.GRID_LEADER):
                miss = self.rng.choice((0.008, 0.015, 0.02, 0.03, 0.05, 0.08))
                self.habits[user.id] = (miss, self.rng.uniform(0.03, 0.09))
        self.plans = {p.id: p for p in self.session.scalars(select(PatrolPlan))}

    def _points_in(self, grid: Grid) -> list[tuple[float, float]]:
        from shapely.geometry import Point

        shape = grid.geometry
        west, south, east, north = shape.bounds
        found: list[tuple[float, float]] = []
        for _attempt in range(200):
            lon = round(self.rng.uniform(west, east), 7)
            lat = round(self.rng.uniform(south, north), 7)
            if shape.contains(Point(lon, lat)):
                found.append((lon, lat))
                if len(found) == 6:
                    break
        if not found:
            point = shape.representative_point()
            found.append((round(point.x, 7), round(point.y, 7)))
        return found

    # --- the clock ------------------------------------------------------------------------------------------
    def at(self, when: dt.datetime, kind: str, *args: Any) -> None:
        heapq.heappush(self.queue, (when, next(self.sequence), kind, args))

    def _took(self, step: str, began: float) -> None:
        self.report.seconds[step] = self.report.seconds.get(step, 0.0) + time.perf_counter() - began

    def working(self, site: _Site, start: dt.datetime, hours: float) -> dt.datetime:
        """`hours` of office time after `start` at the site (evenings, weekends and holidays do not count)."""
        return workdays.add_working_hours(site.calendar, site.tz, start, hours, site.office)

    def run(self) -> HistoryReport:
        tz = self.sites[0].tz
        day = local_day(self.start, tz)
        month = month_start(day)
        while True:
            day_start = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
            if day_start >= self.end:
                break
            day_end = min(dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=tz), self.end)
            began = time.perf_counter()
            patrols.materialize(self.session, day_start)
            self._took("materialize", began)
            self.todays_patrols: dict[int, Patrol] = {}
            for site in self.sites:
                self._plan_patrols(site, day, day_start)
                self._plan_quick_reports(site, day, day_start)
                self._month_routine(site, day)
            while self.queue and self.queue[0][0] < day_end:
                when, _seq, kind, args = heapq.heappop(self.queue)
                began = time.perf_counter()
                getattr(self, f"_do_{kind}")(when, *args)
                self._took(kind, began)
            began = time.perf_counter()
            patrols.mark_missed(self.session, day_end)
            self._took("mark_missed", began)
            began = time.perf_counter()
            self.commit()
            self._took("commit", began)
            day += dt.timedelta(days=1)
            if month_start(day) != month:
                self._month_done(month)
                month = month_start(day)
        if dt.datetime.combine(month, dt.time(0), tzinfo=tz) < self.end:
            self._month_done(month)
        # Where the scheduler takes over: today's and tomorrow's patrols made, every past month closed.
        patrols.materialize(self.session, self.end)
        patrols.mark_missed(self.session, self.end)
        for site in self.sites:
            self._decide_appeals(site, self.end)
            current = month_start(local_day(self.end, site.tz))
            for past in self._months(current):
                points.close_month(self.session, site.site, past, actor=site.supervisor, now=self.end)
        self.commit()
        return self.report

    def _months(self, before: dt.date) -> list[dt.date]:
        months, month = [], month_start(local_day(self.start, self.sites[0].tz))
        while month < before:
            months.append(month)
            month = next_month(month)
        return months

    # --- patrols ----------------------------------------------------------------------------------------
    def _plan_patrols(self, site: _Site, day: dt.date, day_start: dt.datetime) -> None:
        todays = self.session.scalars(
            select(Patrol)
            .where(Patrol.site_id == site.site.id, Patrol.status == PatrolStatus.SCHEDULED.value,
                   Patrol.window_start >= day_start, Patrol.window_start < day_start + dt.timedelta(days=1))).all()
        rest_day = not site.calendar.is_workday(day)
        for row in sorted(todays, key=lambda r: (r.window_start, self.plans[r.plan_id].name,
                                                 site.by_id[r.grid_id].code)):
            if row.assignee_id is None:
                continue
            miss, late = self.habits.get(row.assignee_id, (0.02, 0.05))
            if rest_day:
                miss = 0.25  # a plan that goes ahead on rest days ('keep'): the duty leaders do most of those
            draw = self.rng.random()
            if draw < miss:
                continue  # nobody comes: mark_missed closes it
            window = row.due_at - row.window_start
            if draw < miss + late:
                grace = (row.grace_until - row.due_at).total_seconds()
                done = row.due_at + dt.timedelta(seconds=self.rng.uniform(60, grace - 60))
            else:
                # Mostly in the morning, some after lunch, a few just before the window closes.
                share = min(self.rng.triangular(0.02, 0.97, 0.12), 0.99)
                done = row.window_start + dt.timedelta(seconds=window.total_seconds() * share)
            self.todays_patrols[row.id] = row
            self.at(done.replace(microsecond=0), "submit", row.id)

    def _do_submit(self, when: dt.datetime, patrol_id: int) -> None:
        patrol = self.todays_patrols.get(patrol_id) or self.session.get(Patrol, patrol_id)
        site = self.site_of[patrol.site_id]
        grid = site.by_id[patrol.grid_id]
        leader = self.users[patrol.assignee_id]
        day = local_day(when, site.tz)
        base = ITEM_FAILURE.get(patrol.kind, 0.002) * grid.wear
        answers, files = [], {}
        # Only the patrol's items (its categories: the grid's, or all of a standard with none of them).
        for item in checklists.select_items(self.items[patrol.template_version_id], patrol.categories):
            if item.category not in grid.categories:  # outside the grid's responsibility: nothing found there
                answers.append({"item_id": item.id, "result": "na" if item.allow_na else "pass"})
                continue
            key = (grid.id, item.id)
            if key not in self.open_findings and self.rng.random() < base * seasons.season(item.category, day):
                name = f"item-{item.code}.png"
                files[name] = self.rng.choice(pictures.before_pictures())
                note = seasons.finding_note(self.rng, item.standard, item.code, item.category)
                answers.append({"item_id": item.id, "result": "fail", "photos": [name],
                                **({"note": note} if note else {})})
            else:
                answers.append({"item_id": item.id, "result": "pass"})
        started = when - dt.timedelta(minutes=self.rng.randint(8, 25))
        scans = [{"code": code, "method": "qr",
                  "scanned_at": (started + dt.timedelta(minutes=3 + 4 * i)).isoformat()}
                 for i, code in enumerate(grid.checkpoints)]
        payload = {"client_uuid": str(uuid.UUID(int=self.rng.getrandbits(128))), "completed_at": when.isoformat(),
                   "answers": answers, "scans": scans}
        if grid.level == 0:  # the tablet has a position fix outdoors; inside the buildings it sends none
            lon, lat = self.rng.choice(grid.points)
            payload["location"] = {"lon": lon, "lat": lat, "accuracy": self.rng.choice((5, 8, 12, 20))}
        result = patrols.submit(self.session, patrol, leader, payload, files, now=when)
        if result.body["failed_items"]:
            for issue in self.session.scalars(select(Issue).where(Issue.patrol_id == patrol.id)
                                              .order_by(Issue.item_id)):
                self._filed(site, issue)
                self.open_findings[(grid.id, issue.item_id)] = issue.id

    # --- quick reports (随手拍) ------------------------------------------------------------------------------
    def _plan_quick_reports(self, site: _Site, day: dt.date, day_start: dt.datetime) -> None:
        workday = site.calendar.is_workday(day)
        rate = (QUICK_REPORTS_PER_WORKDAY if workday else QUICK_REPORTS_PER_REST_DAY) * len(site.grids)
        weights = {c: w * seasons.season(c, day) for c, w in seasons.QUICK_REPORT_WEIGHTS.items()}
        rate *= sum(weights.values())
        count = _poisson(self.rng, rate)
        for _ in range(count):
            category = self.rng.choices(list(weights), weights=list(weights.values()))[0]
            hour = self.rng.uniform(8.2, 17.8) if workday else self.rng.uniform(9, 17)
            self.at(day_start + dt.timedelta(seconds=round(hour * 3600)), "quick_report", site.site.code, category)

    def _do_quick_report(self, when: dt.datetime, site_code: str, category: str) -> None:
        site = next(s for s in self.sites if s.site.code == site_code)
        reporter = self.rng.choice(site.reporters)
        fitting = [g for g in site.grids if category in g.categories] or site.grids
        grid = self.rng.choice(fitting)
        lon, lat = self.rng.choice(grid.points)
        draw = self.rng.random()
        fate, duplicate_of = "valid", None
        if draw < REPORT_INVALID:
            fate = "invalid"
        elif draw < REPORT_INVALID + REPORT_NOT_OURS:
            fate = "not_ours"
        elif draw < REPORT_INVALID + REPORT_NOT_OURS + REPORT_DUPLICATE and self.open_issues.get(grid.id):
            fate, duplicate_of = "duplicate", self.open_issues[grid.id][0]
        if fate == "duplicate":
            original = self.session.get(Issue, duplicate_of)
            description, category = f"{original.title}（又发现一次）", original.category
        elif fate == "not_ours":
            description = self.rng.choice(seasons.NOT_OURS).format(place=grid.name)
        else:
            description = self.rng.choice(seasons.QUICK_REPORTS[category]).format(place=grid.name)
        severity = Severity.MAJOR.value if self.rng.random() < 0.06 else Severity.MINOR.value
        photos = {f"photo-{i + 1}.png": self.rng.choice(pictures.before_pictures())
                  for i in range(self.rng.choice((1, 1, 2)))}
        issue = issues.report(self.session, reporter, site.site, lon=lon, lat=lat, level=grid.level,
                              category=category, description=description, severity=severity, photos=photos,
                              now=when)
        self._filed(site, issue, fate=fate, duplicate_of=duplicate_of)

    # --- the rectification workflow ------------------------------------------------------------------------
    def _filed(self, site: _Site, issue: Issue, *, fate: Optional[str] = None,
               duplicate_of: Optional[int] = None) -> None:
        if fate is None:
            fate = "invalid" if self.rng.random() < PATROL_FINDING_INVALID else "valid"
        if issue.grid_id is not None:
            self.open_issues.setdefault(issue.grid_id, []).append(issue.id)
        urgent = issue.severity != Severity.MINOR.value
        delay = self.rng.uniform(0.1, 0.8) if urgent else self.rng.uniform(0.3, 4.0)
        self.at(self.working(site, issue.reported_at, delay), "triage", issue.id, fate, duplicate_of)

    def _do_triage(self, when: dt.datetime, issue_id: int, fate: str, duplicate_of: Optional[int]) -> None:
        issue = self.session.get(Issue, issue_id)
        site = self.site_of[issue.site_id]
        if fate != "valid":
            note = self.rng.choice(seasons.REJECT_NOTES[fate])
            if fate == "duplicate":
                note = f"{note}（问题 #{duplicate_of}）"
            issues.reject(self.session, issue, site.supervisor, reason=RejectReason(fate).value, note=note,
                          duplicate_of=self.session.get(Issue, duplicate_of) if duplicate_of else None, now=when)
            self._settled(issue)
            return
        lift = "电梯" in issue.title or "电梯" in self.item_text.get(issue.item_id, "")
        team = LIFT_VENDOR if lift else TEAM_FOR_CATEGORY[issue.category]
        severity, missed = None, None
        if issue.source == IssueSource.REPORT.value:
            if issue.severity == Severity.MINOR.value and self.rng.random() < 0.04:
                severity = Severity.MAJOR.value  # the supervisor sees it is worse than reported
            missed = self.rng.random() < MISSED_BY_PATROLS[issue.category]
        issues.accept(self.session, issue, site.supervisor, team=self.teams[team], severity=severity,
                      should_have_been_found=missed, now=when)
        self.fates[issue.id] = self._fate(issue)
        self.at(self.working(site, when, self.fates[issue.id].start_hours), "start", issue.id)

    def _fate(self, issue: Issue) -> _Fate:
        severity = Severity(issue.severity)
        # Typical working hours from start to the fix, by severity (limits: 3 days, 1 day, 4 hours).
        low, high = {Severity.MINOR: (1.0, 16.0), Severity.MAJOR: (0.5, 5.5), Severity.CRITICAL: (0.3, 2.0)}[severity]
        fix = self.rng.uniform(low, high)
        draw = self.rng.random()
        waits_for = None
        if issue.category == Category.ASSETS.value and self.rng.random() < STUCK_ASSETS:
            fix, waits_for = self.rng.uniform(300, 900), "budget"  # months: a budget to approve, a contractor
        elif draw < STUCK:
            fix, waits_for = self.rng.uniform(90, 600), "parts"  # weeks: parts on order
        elif draw < STUCK + SLOW:
            fix *= self.rng.uniform(1.8, 3.5)
        reworks = 0
        if self.rng.random() < VERIFY_FAILS:
            reworks = 2 if self.rng.random() < VERIFY_FAILS_AGAIN / VERIFY_FAILS else 1
        verifier = "leader" if issue.source == IssueSource.PATROL.value and self.rng.random() < 0.7 else (
            "leader" if self.rng.random() < 0.4 else "supervisor")
        start = self.rng.uniform(0.1, 1.0) if severity is not Severity.MINOR else self.rng.uniform(0.2, 4.0)
        return _Fate(start, fix, reworks, verifier, waits_for)

    def _do_start(self, when: dt.datetime, issue_id: int) -> None:
        issue = self.session.get(Issue, issue_id)
        site = self.site_of[issue.site_id]
        fate = self.fates[issue_id]
        issues.start(self.session, issue, self._rectifier(issue), now=when)
        if fate.waits_for == "budget":  # the supervisor sets it aside until the budget is approved
            self.at(self.working(site, when, self.rng.uniform(2, 12)), "defer", issue_id)
            return
        if fate.fix_hours > 60:
            self.at(self.working(site, when, 2), "comment", issue_id, self.rng.choice(seasons.STUCK_NOTES))
        if fate.waits_for == "parts":
            self.at(self.working(site, when, self.rng.uniform(2, 6)), "ask_extension", issue_id)
        self.at(self.working(site, when, fate.fix_hours), "fix", issue_id)

    # --- 延期 and 缓办 -----------------------------------------------------------------------------------
    def _do_ask_extension(self, when: dt.datetime, issue_id: int) -> None:
        """The rectifier asks for the day the parts should arrive (and two days to fit them)."""
        issue = self.session.get(Issue, issue_id)
        site = self.site_of[issue.site_id]
        if issue.state not in (IssueState.DISPATCHED.value, IssueState.IN_PROGRESS.value) or issue.deadline is None:
            return
        expected = self.working(site, when, self.fates[issue_id].fix_hours)
        day = min(local_day(expected, site.tz) + dt.timedelta(days=2), local_day(when, site.tz) + dt.timedelta(days=170))
        if issues.deadline_on_day(self.session, site.site, day) <= max(issue.deadline, when):
            return
        extension = issue_extensions.request(self.session, issue, self._rectifier(issue),
                                             reason=self.rng.choice(seasons.EXTENSION_REASONS), deadline=day, now=when)
        self.at(self.working(site, when, self.rng.uniform(0.5, 6)), "decide_extension", issue_id, extension.id)

    def _do_decide_extension(self, when: dt.datetime, issue_id: int, extension_id: int) -> None:
        issue = self.session.get(Issue, issue_id)
        extension = self.session.get(IssueExtension, extension_id)
        if extension is None or extension.state != "pending" or issue.state not in (
                IssueState.DISPATCHED.value, IssueState.IN_PROGRESS.value):
            return
        approve = self.rng.random() < 0.8
        issue_extensions.decide(self.session, issue, extension, self.site_of[issue.site_id].supervisor,
                                approve=approve, note=None if approve else self.rng.choice(seasons.EXTENSION_REFUSALS),
                                now=when)

    def _do_defer(self, when: dt.datetime, issue_id: int) -> None:
        issue = self.session.get(Issue, issue_id)
        site = self.site_of[issue.site_id]
        issues.defer(self.session, issue, site.supervisor, note=self.rng.choice(seasons.DEFER_REASONS), now=when)
        self.at(self.working(site, when, self.fates[issue_id].fix_hours), "resume", issue_id)

    def _do_resume(self, when: dt.datetime, issue_id: int) -> None:
        """The budget came: back to work with the time that was left, then started and fixed in days."""
        issue = self.session.get(Issue, issue_id)
        site = self.site_of[issue.site_id]
        issues.resume(self.session, issue, site.supervisor, note="预算已批复，恢复办理", now=when)
        fate = self.fates[issue_id]
        fate.waits_for, fate.fix_hours = None, self.rng.uniform(4, 20)
        self.at(self.working(site, when, self.rng.uniform(0.5, 4)), "start", issue_id)

    def _do_comment(self, when: dt.datetime, issue_id: int, text: str) -> None:
        issue = self.session.get(Issue, issue_id)
        issues.comment(self.session, issue, self._rectifier(issue), text, now=when)

    def _do_fix(self, when: dt.datetime, issue_id: int) -> None:
        issue = self.session.get(Issue, issue_id)
        site = self.site_of[issue.site_id]
        photos = {"after.png": self.rng.choice(pictures.after_pictures())}
        issues.report_fix(self.session, issue, self._rectifier(issue), note=self.rng.choice(
            seasons.FIX_NOTES[issue.category]), photos=photos, now=when)
        self.at(self.working(site, when, self.rng.uniform(0.3, 5.0)), "verify", issue_id)

    def _do_verify(self, when: dt.datetime, issue_id: int) -> None:
        issue = self.session.get(Issue, issue_id)
        site = self.site_of[issue.site_id]
        fate = self.fates[issue_id]
        verifier = site.supervisor
        if fate.verifier == "leader" and issue.grid is not None and issue.grid.leader is not None \
                and issue.grid.leader.id != issue.fixed_by_id:
            verifier = issue.grid.leader
        if fate.reworks > issue.rework_count:
            issues.verify_fail(self.session, issue, verifier, note=self.rng.choice(seasons.REWORK_NOTES), now=when)
            self.at(self.working(site, when, self.rng.uniform(1.0, 8.0)), "fix", issue_id)
            return
        issues.verify_pass(self.session, issue, verifier, now=when)
        self._settled(issue)

    def _rectifier(self, issue: Issue) -> User:
        team = next(name for name, t in self.teams.items() if t.id == issue.team_id)
        return self.rectifier[team]

    def _settled(self, issue: Issue) -> None:
        self.fates.pop(issue.id, None)
        if issue.grid_id is not None and issue.id in self.open_issues.get(issue.grid_id, []):
            self.open_issues[issue.grid_id].remove(issue.id)
        if issue.item_id is not None:
            self.open_findings.pop((issue.grid_id, issue.item_id), None)

    # --- points: appeals and closing months ---------------------------------------------------------------
    def _month_routine(self, site: _Site, day: dt.date) -> None:
        morning = dt.datetime.combine(day, dt.time(9, 30), tzinfo=site.tz)
        if day.day == CLOSE_DAY:
            self.at(morning + dt.timedelta(minutes=30), "close", site.site.code, month_start(day))
        if day.day == 20 and self.rng.random() < APPEALS_PER_MONTH:
            self.at(morning + dt.timedelta(hours=self.rng.uniform(0, 7)), "appeal", site.site.code)
        if day.weekday() == 0:  # Monday morning: everyone has read last week's notifications
            self.at(morning - dt.timedelta(minutes=50), "read", site.site.code)

    def _do_appeal(self, when: dt.datetime, site_code: str) -> None:
        site = next(s for s in self.sites if s.site.code == site_code)
        month = month_start(local_day(when, site.tz))
        entries = list(self.session.scalars(select(PointsEntry).where(
            PointsEntry.site_id == site.site.id, PointsEntry.month == month,
            PointsEntry.rule_code == "patrol_missed").order_by(PointsEntry.id)))
        appealed = set(self.session.scalars(select(Appeal.entry_id)))
        entries = [e for e in entries if e.id not in appealed]
        if not entries:
            return
        entry = self.rng.choice(entries)
        reason = self.rng.choice(("当天参加区里组织的培训，已向科室报备", "当天因公外出，已委托副网格长巡查但系统未记录",
                                  "平板故障，巡查已完成但未能提交，有纸质记录"))
        points.file_appeal(self.session, entry, self.users[entry.user_id], reason, now=when)
        self.report.appeals += 1

    def _decide_appeals(self, site: _Site, when: dt.datetime) -> None:
        for appeal in self.session.scalars(select(Appeal).join(PointsEntry, Appeal.entry_id == PointsEntry.id).where(
                PointsEntry.site_id == site.site.id, Appeal.state == AppealState.OPEN.value).order_by(Appeal.id)):
            overturn = self.rng.random() < APPEAL_OVERTURNED
            note = "情况属实，予以撤销扣分" if overturn else "未按规定提前报备，维持原扣分"
            points.decide_appeal(self.session, appeal, site.supervisor, overturn=overturn, note=note, now=when)

    def _do_close(self, when: dt.datetime, site_code: str, this_month: dt.date) -> None:
        site = next(s for s in self.sites if s.site.code == site_code)
        self._decide_appeals(site, when - dt.timedelta(minutes=20))
        previous = dt.date(this_month.year - (this_month.month == 1), (this_month.month - 2) % 12 + 1, 1)
        if previous >= month_start(local_day(self.start, site.tz)):
            points.close_month(self.session, site.site, previous, actor=site.supervisor, now=when)

    def _do_read(self, when: dt.datetime, site_code: str) -> None:
        if site_code != self.sites[0].site.code:
            return  # once for everybody
        for user_id in self.users:
            notifications.mark_all_read(self.session, user_id, when)

    # --- progress --------------------------------------------------------------------------------------
    def _month_done(self, month: dt.date) -> None:
        tz = self.sites[0].tz
        start = dt.datetime.combine(month, dt.time(0), tzinfo=tz)
        end = min(dt.datetime.combine(next_month(month), dt.time(0), tzinfo=tz), self.end)
        figures = MonthFigures(month)
        submitted = Patrol.status == PatrolStatus.SUBMITTED.value
        row = self.session.execute(select(
            func.count(),
            func.sum(case((submitted & (Patrol.completed_at <= Patrol.due_at), 1), else_=0)),
            func.sum(case((submitted & (Patrol.completed_at > Patrol.due_at), 1), else_=0)),
            func.sum(case((Patrol.status == PatrolStatus.MISSED.value, 1), else_=0)),
        ).where(Patrol.window_start >= start, Patrol.window_start < end, Patrol.grace_until <= end)).one()
        figures.patrols, figures.on_time, figures.late, figures.missed = (int(v or 0) for v in row)
        figures.problems, figures.closed = (int(v or 0) for v in self.session.execute(select(
            func.count(), func.sum(case((Issue.state == IssueState.CLOSED.value, 1), else_=0)))
            .where(Issue.reported_at >= start, Issue.reported_at < end)).one())
        self.report.months.append(figures)
        self.progress(figures.line())


def _poisson(rng: random.Random, rate: float) -> int:
    """A Poisson draw (Knuth's method: the rates here are small)."""
    import math

    limit, count, product = math.exp(-rate), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def play(session: Session, *, start: dt.datetime, end: dt.datetime, seed: int = DEFAULT_SEED,
         commit: Optional[Callable[[], None]] = None,
         progress: Optional[Callable[[str], None]] = None) -> HistoryReport:
    """Play the demo's history from `start` to `end` (see the module docstring). The demo must have been loaded
    with `history_start=start` (its plans start then, and no patrol is made yet). `commit` is called after each
    simulated day (default: `session.commit`); `progress` gets one line per month."""
    # Only this process writes while the history plays: objects need not be reloaded after each day's commit.
    target = session.registry() if hasattr(session, "registry") else session
    expire_on_commit, target.expire_on_commit = target.expire_on_commit, False
    try:
        player = _Player(session, start=start, end=end, seed=seed, commit=commit or session.commit,
                         progress=progress or (lambda _line: None))
        return player.run()
    finally:
        target.expire_on_commit = expire_on_commit
