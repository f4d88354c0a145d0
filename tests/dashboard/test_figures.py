"""Every figure of the dashboard against the same figure worked out here from the rows, by the definitions (patrol
states by `patrols.services.display_state`, the 通报 rates by the issues.metrics docstring), on a history made
through the services (tests/dashboard/builders.py)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from statistics import mean

import pytest
import sqlalchemy as sa

from gridpatrol.extensions import db
from gridpatrol.grids.models import Grid, GridAssignment, Site
from gridpatrol.accounts.models import User
from gridpatrol.issues import metrics
from gridpatrol.issues import services as issue_services
from gridpatrol.issues.models import OPEN_STATES, Issue
from gridpatrol.patrols import services as patrol_services
from gridpatrol.patrols.models import Patrol
from gridpatrol.points import table as points_table
from gridpatrol.points.models import PointsEntry
from tests.dashboard.builders import NOW, SHANGHAI
from tests.dashboard.conftest import client_of
from tests.issues.builders import jpeg

TODAY = NOW.astimezone(SHANGHAI).date()
MONTH = (dt.date(2026, 11, 1), dt.date(2026, 12, 1))
LAST_MONTH = (dt.date(2026, 10, 1), dt.date(2026, 11, 1))
YEAR = (dt.date(2026, 1, 1), dt.date(2027, 1, 1))
QUARTER = (dt.date(2026, 10, 1), dt.date(2027, 1, 1))
MONDAY = TODAY - dt.timedelta(days=TODAY.weekday())
WEEKS = [(MONDAY - dt.timedelta(weeks=11 - i), MONDAY - dt.timedelta(weeks=10 - i)) for i in range(12)]
PERIODS = {"month": MONTH, "last_month": LAST_MONTH, "year": YEAR}


def local(when: dt.datetime | None) -> dt.date | None:
    return None if when is None else when.astimezone(SHANGHAI).date()


def within(when, period) -> bool:
    day = local(when)
    return day is not None and period[0] <= day < period[1]


def instant(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=SHANGHAI)


def _rows(app, code: str):
    with app.app_context():
        site_id = db.session.scalar(sa.select(Site.id).where(Site.code == code))
        patrols = [(p, patrol_services.display_state(p, NOW)) for p in db.session.scalars(
            sa.select(Patrol).where(Patrol.site_id == site_id))]
        issues = list(db.session.scalars(sa.select(Issue).where(Issue.site_id == site_id)))
        for patrol, _state in patrols:
            db.session.expunge(patrol)
        for issue in issues:
            db.session.expunge(issue)
        return site_id, patrols, issues


def expected_patrols(patrols, period) -> dict:
    states = Counter(state for patrol, state in patrols if within(patrol.window_start, period))
    decided = states["done"] + states["done_late"] + states["missed"]
    return {"total": sum(states.values()), **{s: states[s] for s in patrol_services_states()}, "decided": decided,
            "completion_rate": (states["done"] + states["done_late"]) / decided if decided else None,
            "on_time_rate": states["done"] / decided if decided else None,
            "missed_rate": states["missed"] / decided if decided else None}


def patrol_services_states():
    return ("upcoming", "due", "in_progress", "late", "missed", "done", "done_late")


def expected_closing(issues, period) -> dict:
    """As of now, or of the period's end when it has ended (last month), as the metrics page takes it."""
    start, end = instant(period[0]), instant(period[1])
    as_of = min(end, NOW)
    due = [i for i in issues if i.dispatched_at is not None and i.dispatched_at <= as_of and i.deadline is not None
           and start <= i.deadline < end and i.state != "rejected" and i.rejected_at is None]
    closed = [i for i in due if i.closed_at is not None and i.closed_at <= as_of]
    on_time = [i for i in closed if i.closed_at <= i.deadline]
    in_period = [i for i in issues if i.state != "rejected" and i.dispatched_at is not None
                 and i.closed_at is not None and start <= i.closed_at < end and i.closed_at <= as_of]
    reworked = [i for i in in_period if i.rework_count > 0]
    hours = [(i.closed_at - i.dispatched_at).total_seconds() / 3600 for i in in_period]
    return {"due": len(due), "closed": len(closed), "closed_on_time": len(on_time), "closed_in_period": len(in_period),
            "reworked": len(reworked), "close_rate": len(closed) / len(due) if due else None,
            "on_time_rate": len(on_time) / len(due) if due else None,
            "rework_rate": len(reworked) / len(in_period) if in_period else None,
            "mean_hours": mean(hours) if hours else None}


def test_every_figure_matches_a_direct_count_of_the_rows(app, history):
    site_id, patrols, issues = _rows(app, "TEST")
    _other_id, other_patrols, other_issues = _rows(app, "OTHER")
    assert other_patrols and other_issues  # OTHER has rows of its own that TEST's figures must leave out
    data = client_of(app, "boss_t").get("/s/TEST/dashboard.json").get_json()

    # today: patrols by state; every state occurs (the builder makes each)
    today = expected_patrols(patrols, (TODAY, TODAY + dt.timedelta(days=1)))
    assert data["today"]["patrols"] == today
    assert all(today[s] for s in ("upcoming", "in_progress", "late", "missed", "done", "done_late"))
    # … and the grids still open past due time, with their leaders, earliest due first
    past_due = sorted([(p.due_at, p.grid.code, p.assignee.display_name, state) for p, state in patrols
                       if local(p.window_start) == TODAY and p.status != "submitted" and p.due_at <= NOW])
    assert [(row["grid"], row["leader"], row["state"]) for row in data["today"]["past_due"]] == \
        [(code, leader, state) for _due, code, leader, state in past_due]
    assert len(past_due) == today["late"] + today["missed"]

    # to act on
    open_ = [i for i in issues if i.state in OPEN_STATES]
    assert data["to_act"] == {
        "reported": sum(i.state == "reported" for i in issues),
        "awaiting_verification": sum(i.state == "awaiting_verification" for i in issues),
        "overdue": sum(i.deadline is not None and i.deadline < NOW for i in open_),
        "due_today": sum(local(i.deadline) == TODAY for i in open_),
        "open": len(open_)}
    assert data["to_act"]["overdue"] and data["to_act"]["reported"]

    # this month, last month, this year: patrol rates, the 通报 figures, issues found
    for name, period in PERIODS.items():
        figures = data["periods"][name]
        assert figures["patrols"] == expected_patrols(patrols, period), name
        closing = expected_closing(issues, period)
        got = figures["closing"]
        assert {k: got[k] for k in closing if k != "mean_hours"} == {k: v for k, v in closing.items()
                                                                     if k != "mean_hours"}, name
        assert got["mean_hours"] == pytest.approx(closing["mean_hours"], abs=1e-3), name
        assert figures["found"] == sum(i.state != "rejected" and within(i.reported_at, period) for i in issues)
    assert data["periods"]["month"]["closing"]["reworked"] or data["periods"]["year"]["closing"]["reworked"]
    assert data["periods"]["last_month"]["closing_as_of"] == instant(LAST_MONTH[1]).isoformat()

    # open issues by severity and category
    assert data["open_by_severity"] == {s: sum(i.severity == s for i in open_) for s in ("minor", "major", "critical")}
    assert {c: n for c, n in data["open_by_category"].items() if n} == dict(Counter(i.category for i in open_))

    # trends: 12 weeks of issues found by category, patrol completion, closures
    charts = data["charts"]
    assert charts["weeks"] == [start.isoformat() for start, _ in WEEKS]
    for series in charts["found_by_category"]:
        assert series["values"] == [sum(i.category == series["code"] and i.state != "rejected"
                                        and within(i.reported_at, week) for i in issues) for week in WEEKS]
    assert sum(sum(s["values"]) for s in charts["found_by_category"]) > 50
    weekly = [expected_patrols(patrols, week) for week in WEEKS]
    assert charts["patrols_decided"] == [w["decided"] for w in weekly]
    assert charts["patrols_completed"] == [w["done"] + w["done_late"] for w in weekly]
    assert charts["patrol_completion"] == [None if w["completion_rate"] is None else round(w["completion_rate"] * 100, 2)
                                           for w in weekly]
    assert charts["closed"] == [sum(i.state == "closed" and within(i.closed_at, week) for i in issues)
                                for week in WEEKS]

    # where: the quarter's grids, the month's points ranking
    found_in_quarter = Counter(i.grid_id for i in issues if i.grid_id is not None and i.state != "rejected"
                               and within(i.reported_at, QUARTER))
    with app.app_context():
        codes = dict(db.session.execute(sa.select(Grid.id, Grid.code).where(Grid.site_id == site_id)).all())
        entries = db.session.execute(sa.select(PointsEntry.user_id, PointsEntry.points).where(
            PointsEntry.site_id == site_id, PointsEntry.month == MONTH[0])).all()
        leaders = set(db.session.scalars(sa.select(GridAssignment.user_id).join(Grid).where(
            Grid.site_id == site_id, GridAssignment.role == "leader")))
        site = db.session.get(Site, site_id)
        table = points_table.monthly_table(db.session, site, MONTH[0])
    assert [(g["code"], g["found"]) for g in data["top_grids"]] == \
        sorted(((codes[g], n) for g, n in found_in_quarter.items()), key=lambda t: (-t[1], t[0]))[:8]
    points = Counter()
    for user_id, value in entries:
        points[user_id] += value
    assert {r["user_id"]: r["points"] for r in data["ranking"]} == {u: points[u] for u in leaders}
    # the same people, points and ranks as the monthly points table
    assert [(r["user_id"], r["points"], r["grids"], r["points_per_grid"], r["rank"]) for r in data["ranking"]] == \
        [(r.user_id, r.points, r.grids_held, r.points_per_grid, r.rank) for r in table.rows]


def test_last_month_is_taken_as_of_its_end(app, history):
    """An issue due last month and closed today raises this year's closed count, not last month's: an ended month
    is taken as of its end, as the metrics page takes it, and the link behind the figure says so."""
    client = client_of(app, "boss_t")
    before = client.get("/s/TEST/dashboard.json").get_json()["periods"]
    with app.app_context():
        late = db.session.scalars(sa.select(Issue).join(Site).where(
            Site.code == "TEST", Issue.state == "dispatched", Issue.deadline >= instant(LAST_MONTH[0]),
            Issue.deadline < instant(LAST_MONTH[1])).order_by(Issue.id)).first()
        assert late is not None  # the history leaves stalled issues of last month open
        boss, fixer = (db.session.scalar(sa.select(User).where(User.username == name)) for name in ("boss_t", "fixer"))
        issue_services.start(db.session, late, fixer, now=NOW - dt.timedelta(minutes=30))
        issue_services.report_fix(db.session, late, fixer, note="已处理", photos={"a1": jpeg((20, 200, 20))},
                                  now=NOW - dt.timedelta(minutes=20))
        issue_services.verify(db.session, late, boss, passed=True, now=NOW - dt.timedelta(minutes=10))
        db.session.commit()
    after = client.get("/s/TEST/dashboard.json").get_json()["periods"]
    assert after["last_month"]["closing"] == before["last_month"]["closing"]
    assert after["year"]["closing"]["closed"] == before["year"]["closing"]["closed"] + 1
    page = client.get("/s/TEST/dashboard").get_data(as_text=True)
    assert "closed_to=2026-11-01" in page and "截至月末" in page


def test_the_closing_figures_are_those_of_the_metrics_report(app, history):
    """period_figures (several periods in one statement) gives what metrics() gives for each period alone."""
    with app.app_context():
        site = db.session.scalar(sa.select(Site).where(Site.code == "TEST"))
        periods = {name: (instant(a), instant(b)) for name, (a, b) in PERIODS.items()}
        several = metrics.period_figures(db.session, [site.id], periods, as_of=NOW)
        for name, (start, end) in periods.items():
            (row,) = metrics.metrics(db.session, site, start, end, as_of=NOW)
            figures = several[site.id, name]
            assert (figures.due, figures.closed, figures.closed_on_time, figures.closed_in_period, figures.reworked,
                    figures.mean_hours) == (row.due, row.closed, row.closed_on_time, row.closed_in_period,
                                            row.reworked, row.mean_hours)
            assert (figures.close_rate, figures.on_time_rate, figures.rework_rate) == \
                (row.close_rate, row.on_time_rate, row.rework_rate)
            assert figures.due and figures.closed


def test_the_page_prints_the_rates_with_two_decimals(app, history):
    data = client_of(app, "boss_t").get("/s/TEST/dashboard.json").get_json()
    page = client_of(app, "boss_t").get("/s/TEST/dashboard").get_data(as_text=True)
    month = data["periods"]["month"]["closing"]
    assert f"{month['close_rate'] * 100:.2f}%" in page
    assert f"{month['on_time_rate'] * 100:.2f}%" in page
    assert f"{data['periods']['last_month']['closing']['mean_hours']:.2f}" in page
    assert "结案率" in page and "按期结案率" in page and "返工率" in page
