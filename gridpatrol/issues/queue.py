"""The rectification queue: what each user may see, filtered, sorted by deadline, counted, exported.

Visibility is expressed in SQL so the queue stays fast at tens of thousands of issues:
supervisors and admins see everything; everyone sees their own reports; grid leaders see their
grids; rectifiers see what is dispatched to them or their teams.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from typing import NamedTuple, Optional

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, case, false, func, or_, select
from sqlalchemy.orm import Session

from gridpatrol.accounts.models import Team, User
from gridpatrol.core import spreadsheets
from gridpatrol.core.roles import Role
from gridpatrol.grids.models import Grid, GridAssignment
from gridpatrol.issues.models import CLOCK_STATES, OPEN_STATES, Issue


@dataclass
class QueueFilter:
    site_id: Optional[int] = None
    grid_id: Optional[int] = None
    level: Optional[int] = None
    category: Optional[str] = None
    severity: Optional[str] = None
    states: list[str] = field(default_factory=lambda: list(OPEN_STATES))
    team_id: Optional[int] = None
    overdue: bool = False
    reported_from: Optional[dt.datetime] = None
    reported_to: Optional[dt.datetime] = None
    deadline_from: Optional[dt.datetime] = None  # deadline in [from, to)
    deadline_to: Optional[dt.datetime] = None
    closed_from: Optional[dt.datetime] = None  # closed in [from, to)
    closed_to: Optional[dt.datetime] = None
    on_time: bool = False  # closed no later than the deadline (按期结案)
    reworked: bool = False  # sent back for rework at least once (返工)
    mine: bool = False  # "my work": dispatched to me or my teams


def visible_to(user: User, session: Session | None = None):
    """A SQL condition: the issues this user may see."""
    if user.has_any_role(Role.SUPERVISOR, Role.ADMIN):
        return None
    conditions = [Issue.reporter_id == user.id]
    if user.has_role(Role.GRID_LEADER):
        my_grids = select(GridAssignment.grid_id).where(GridAssignment.user_id == user.id,
                                                        GridAssignment.effective_to.is_(None))
        if session is not None:
            # Resolved first: a literal id list lets the database combine indexes instead of scanning.
            my_grids = list(session.scalars(my_grids))
        conditions.append(Issue.grid_id.in_(my_grids))
    if user.has_role(Role.RECTIFIER):
        conditions.append(Issue.assignee_id == user.id)
        team_ids = [t.id for t in user.teams]
        if team_ids:
            conditions.append(Issue.team_id.in_(team_ids))
    return or_(*conditions)


_RESOLVE = object()  # _query's default: work the visibility condition out itself


def _query(user: User, f: QueueFilter, now: dt.datetime, session: Session | None = None, *,
           visible=_RESOLVE) -> Select:
    query = select(Issue)
    if visible is _RESOLVE:
        visible = visible_to(user, session)
    if visible is not None:
        query = query.where(visible)
    if f.mine:
        team_ids = [t.id for t in user.teams]
        query = query.where(or_(Issue.assignee_id == user.id,
                                Issue.team_id.in_(team_ids) if team_ids else false()))
    for column, value in ((Issue.site_id, f.site_id), (Issue.grid_id, f.grid_id), (Issue.level, f.level),
                          (Issue.category, f.category), (Issue.severity, f.severity), (Issue.team_id, f.team_id)):
        if value is not None and value != "":
            query = query.where(column == value)
    if f.overdue:
        states = [s for s in (f.states or CLOCK_STATES) if s in CLOCK_STATES]  # a deferred issue is never overdue
        query = query.where(Issue.state.in_(states), Issue.deadline < now)
    elif f.states:
        query = query.where(Issue.state.in_(f.states))
    if f.reported_from is not None:
        query = query.where(Issue.reported_at >= f.reported_from)
    if f.reported_to is not None:
        query = query.where(Issue.reported_at < f.reported_to)
    for column, start, end in ((Issue.deadline, f.deadline_from, f.deadline_to),
                               (Issue.closed_at, f.closed_from, f.closed_to)):
        if start is not None:
            query = query.where(column >= start)
        if end is not None:
            query = query.where(column < end)
    if f.on_time:
        query = query.where(Issue.closed_at.is_not(None), Issue.deadline.is_not(None), Issue.closed_at <= Issue.deadline)
    if f.reworked:
        query = query.where(Issue.rework_count > 0)
    return query


class QueueRow(NamedTuple):
    """What a queue row shows: plain columns, so a page of 50 costs no ORM objects or relationship loads."""

    id: int
    state: str
    severity: str
    category: str
    title: str
    reported_at: dt.datetime
    deadline: Optional[dt.datetime]
    grid_code: Optional[str]
    overdue: bool


@dataclass
class QueuePage:
    rows: list[QueueRow]
    total: int
    counts: dict[str, int]


def queue_page(session: Session, user: User, f: QueueFilter, now: dt.datetime, *, page: int = 1,
               per_page: int = 50) -> QueuePage:
    """The queue view: a page of rows, the total under the filter, and the open counts for the tabs.

    The visibility condition is worked out once, and the total comes from the counts when it can."""
    visible = visible_to(user, session)
    counts = _counts(session, _query(user, _counts_filter(f), now, session, visible=visible), now)
    rows, total = _rows(session, _query(user, f, now, session, visible=visible), now, page, per_page,
                        total_from_counts(f, counts))
    return QueuePage(rows, total, counts)


def page(session: Session, user: User, f: QueueFilter, now: dt.datetime, *, page: int = 1,
         per_page: int = 50) -> tuple[list[QueueRow], int]:
    """Sorted by deadline (soonest first; not yet dispatched ones, which have none, come first)."""
    return _rows(session, _query(user, f, now, session), now, page, per_page, None)


def _rows(session: Session, query: Select, now: dt.datetime, page: int, per_page: int,
          total: Optional[int]) -> tuple[list[QueueRow], int]:
    if total is None:
        total = session.scalar(query.with_only_columns(func.count(), maintain_column_froms=True)
                               .order_by(None)) or 0
    ordered = (query.with_only_columns(Issue.id, Issue.state, Issue.severity, Issue.category, Issue.title,
                                       Issue.reported_at, Issue.deadline, Grid.code)
               .outerjoin(Grid, Grid.id == Issue.grid_id)
               .order_by(case((Issue.deadline.is_(None), 0), else_=1), Issue.deadline, Issue.id)
               .offset((page - 1) * per_page).limit(per_page))
    rows = [QueueRow(*row, overdue=row.state in CLOCK_STATES and row.deadline is not None and now > row.deadline)
            for row in session.execute(ordered)]
    return rows, total


def counts_by_state(session: Session, user: User, f: QueueFilter, now: dt.datetime) -> dict[str, int]:
    """Open issues per state under the filter's other conditions (its states aside), how many are overdue,
    and "overdue_<state>" per state, from which `total_from_counts` answers the page total."""
    return _counts(session, _query(user, _counts_filter(f), now, session), now)


def _counts_filter(f: QueueFilter) -> QueueFilter:
    # Open states only: counting the ever-growing closed history on every page view would cost more than the page.
    return QueueFilter(**{**f.__dict__, "states": list(OPEN_STATES), "overdue": False})


def _counts(session: Session, query: Select, now: dt.datetime) -> dict[str, int]:
    overdue = func.sum(case((and_(Issue.state.in_(CLOCK_STATES), Issue.deadline < now), 1), else_=0))
    rows = session.execute(query.with_only_columns(Issue.state, func.count(), overdue, maintain_column_froms=True)
                           .group_by(Issue.state).order_by(None)).all()
    counts = {state: 0 for state in OPEN_STATES} | {f"overdue_{state}": 0 for state in OPEN_STATES}
    for state, count, late in rows:
        counts[state] = count
        counts[f"overdue_{state}"] = int(late or 0)
    counts["overdue"] = sum(counts[f"overdue_{state}"] for state in OPEN_STATES)
    return counts


def total_from_counts(f: QueueFilter, counts: dict[str, int]) -> Optional[int]:
    """The page total when the filter asks only for open states (the counts cover exactly those), else None."""
    if f.overdue:  # the overdue filter keeps only the open states among those asked for (see _query)
        return sum(counts[f"overdue_{state}"] for state in set(f.states or CLOCK_STATES) if state in CLOCK_STATES)
    if not f.states or any(state not in OPEN_STATES for state in f.states):
        return None
    return sum(counts[state] for state in set(f.states))


# The CSV's columns: (key, header in the reader's language). Values are written as the pages show them.
CSV_COLUMNS = (
    ("id", _l("No.")), ("state", _l("State")), ("overdue", _l("Overdue")), ("severity", _l("Severity")),
    ("category", _l("Category")), ("grid", _l("Grid")), ("title", _l("Issue")), ("reported_at", _l("Reported")),
    ("reporter", _l("Reporter")), ("team", _l("Team")), ("assignee", _l("Assignee")),
    ("deadline", _l("Deadline")), ("closed_at", _l("Closed")), ("rework_count", _l("Reworked")),
)


def export_csv(session: Session, user: User, f: QueueFilter, now: dt.datetime, *, tz) -> str:
    """The filtered queue as CSV (UTF-8 with BOM so Excel opens Chinese text correctly), in one Core query; headers
    and values (states, severities, categories, people's names) in the reader's language, never codes."""
    from sqlalchemy.orm import aliased

    from gridpatrol.issues.labels import issue_labels

    labels = issue_labels()
    reporter, assignee = aliased(User), aliased(User)
    visible = _query(user, f, now, session).with_only_columns(Issue.id).order_by(None).subquery()
    rows = session.execute(
        select(Issue.id, Issue.state, Issue.deadline, Issue.severity, Issue.category, Grid.code, Issue.title,
               Issue.reported_at, reporter.display_name, Team.name, assignee.display_name, Issue.closed_at,
               Issue.rework_count)
        .join(visible, visible.c.id == Issue.id)
        .outerjoin(Grid, Grid.id == Issue.grid_id).join(reporter, reporter.id == Issue.reporter_id)
        .outerjoin(Team, Team.id == Issue.team_id).outerjoin(assignee, assignee.id == Issue.assignee_id)
        .order_by(Issue.id).execution_options(yield_per=2000))
    out = io.StringIO()
    out.write("\ufeff")
    writer = spreadsheets.csv_writer(out)  # titles and names are people's text: no cell may run as a formula
    writer.writerow([str(label) for _key, label in CSV_COLUMNS])
    local = lambda value: value.astimezone(tz).strftime("%Y-%m-%d %H:%M") if value else ""  # noqa: E731
    for (issue_id, state, deadline, severity, category, grid_code, title, reported_at, reporter_name, team_name,
         assignee_name, closed_at, rework_count) in rows:
        overdue = state in CLOCK_STATES and deadline is not None and now > deadline
        writer.writerow([issue_id, labels.state.get(state, state), labels.overdue if overdue else "",
                         labels.severity.get(severity, severity), labels.category.get(category, category),
                         grid_code or "", title, local(reported_at), reporter_name, team_name or "",
                         assignee_name or "", local(deadline), local(closed_at), rework_count])
    return out.getvalue()
