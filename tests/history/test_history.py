"""The demo's history: played through the services, deterministic for a seed, and shaped like a real year."""

from __future__ import annotations

import datetime as dt
import shutil
import zoneinfo

import pytest
import sqlalchemy as sa

from gridpatrol.core.time import local_day, month_start, next_month, utcnow
from gridpatrol.core.transaction import job_transaction
from gridpatrol.demo import services as demo
from gridpatrol.extensions import db
from gridpatrol.grids.models import Site
from gridpatrol.history import services as history
from gridpatrol.issues.models import OPEN_STATES, Issue, IssueDeferral, IssueExtension, IssueState
from gridpatrol.patrols.models import Patrol, PatrolPlan, PatrolStatus
from gridpatrol.points.models import Appeal, AppealState, MonthClose, PointsEntry
from gridpatrol.standards.models import TemplateItem

ZONE = "Asia/Shanghai"
sqlite_only = pytest.mark.parametrize("database_backend", ["sqlite"], indirect=True)


def _play(app, *, seed: int, days: int | None = None, months: int | None = None):
    with app.app_context(), job_transaction() as session:
        now = utcnow()
        start = history.days_before(now, days, ZONE) if days is not None else history.history_start(now, months, ZONE)
        demo.load_demo(session, history_start=start)
        session.commit()
        report = history.play(session, start=start, end=now, seed=seed)
    return start, now, report


def _signature(app) -> dict:
    """What a history holds, in terms that do not depend on database ids."""
    with app.app_context():
        session = db.session
        return {
            "patrols": dict(session.execute(sa.select(Patrol.status, sa.func.count()).group_by(Patrol.status)).all()),
            "issues": dict(session.execute(sa.select(Issue.state, sa.func.count()).group_by(Issue.state)).all()),
            "titles": [t for (t,) in session.execute(sa.select(Issue.title).order_by(Issue.reported_at, Issue.title))],
            "points": session.scalar(sa.select(sa.func.sum(PointsEntry.points))),
            "rework": session.scalar(sa.select(sa.func.sum(Issue.rework_count))),
        }


def _app_on_copy(template, path):
    from gridpatrol import create_app

    shutil.copyfile(template, path)
    return create_app({"DATABASE_URL": f"sqlite:///{path}"})


@sqlite_only
def test_same_seed_same_history_other_seed_another(database_backend, tmp_path):
    _backend, template = database_backend
    signatures = []
    for name, seed in (("a", 11), ("b", 11), ("c", 12)):
        app = _app_on_copy(template, tmp_path / f"{name}.sqlite")
        _play(app, seed=seed, days=12)
        signatures.append(_signature(app))
        with app.app_context():
            db.engine.dispose()
    first, again, other = signatures
    assert first["titles"], "twelve days of patrols and reports find something"
    assert sum(first["patrols"].values()) > 400
    assert first == again
    assert other != first and other["titles"] != first["titles"]


def test_a_short_history_runs_through_the_services(app):
    start, now, report = _play(app, seed=3, days=10)
    with app.app_context():
        session = db.session
        assert session.scalar(sa.select(sa.func.min(Patrol.window_start))) >= start
        by_status = dict(session.execute(sa.select(Patrol.status, sa.func.count()).group_by(Patrol.status)).all())
        assert by_status[PatrolStatus.SUBMITTED.value] > 300 and by_status[PatrolStatus.MISSED.value] > 0
        # Every submitted patrol was booked by the points subscriber, every missed one too.
        booked = session.scalar(sa.select(sa.func.count()).select_from(PointsEntry).where(
            PointsEntry.source_type == "patrol"))
        assert booked == by_status[PatrolStatus.SUBMITTED.value] + by_status[PatrolStatus.MISSED.value]
        assert session.scalar(sa.select(sa.func.count()).select_from(Issue)) == report.problems
        # The demo's plans began with the history: the routine patrol on working days.
        routine = session.scalar(sa.select(PatrolPlan).where(PatrolPlan.name == "网格日常巡查",
                                                              PatrolPlan.kind == "routine").limit(1))
        assert routine.recurrence == "workdays"
        assert routine.starts_on == local_day(start, ZONE)
        # Problems found on patrols are titled with the fault the leader wrote (or the item's name and 不合格),
        # never with the standard the item states; the mark 应巡未发现 belongs to quick reports only.
        found = session.execute(sa.select(Issue.title, Issue.description, TemplateItem.text, Issue.should_have_been_found)
                                .join(TemplateItem, TemplateItem.id == Issue.item_id)).all()
        assert found, "ten days of patrols find something"
        for title, note, standard, marked in found:
            assert title != standard and marked is None
            assert title == (note.splitlines()[0].strip() if note else title) and (note or title.endswith(" 不合格"))
        accepted = session.execute(sa.select(Issue.should_have_been_found).where(
            Issue.source == "report", Issue.accepted_at.is_not(None))).scalars().all()
        assert all(marked in (True, False) for marked in accepted)
        # Where the scheduler takes over: today's later windows are still to do.
        assert session.scalar(sa.select(sa.func.count()).select_from(Patrol).where(
            Patrol.status == PatrolStatus.SCHEDULED.value, Patrol.window_start > now)) > 0


def test_without_history_the_demo_starts_today(app):
    with app.app_context(), job_transaction() as session:
        demo.load_demo(session)
    with app.app_context():
        session = db.session
        today_start = dt.datetime.combine(local_day(utcnow(), ZONE), dt.time(0), tzinfo=zoneinfo.ZoneInfo(ZONE))
        first = session.scalar(sa.select(sa.func.min(Patrol.window_start)))
        assert first is not None and first >= today_start, "no past patrols, only today's"
        assert session.scalar(sa.select(sa.func.count()).select_from(Issue)) == 0
        assert session.scalar(sa.select(sa.func.count()).select_from(MonthClose)) == 0
        assert {p.starts_on for p in session.scalars(sa.select(PatrolPlan))} == {local_day(utcnow(), ZONE)}


@pytest.mark.slow
@sqlite_only
def test_a_year_of_history_has_the_shape_of_a_real_one(app):
    start, now, report = _play(app, seed=history.DEFAULT_SEED, months=12)
    with app.app_context():
        session = db.session
        sites = {s.code: s for s in session.scalars(sa.select(Site))}
        main = sites[demo.MAIN_SITE]
        year_end = dt.datetime.combine(month_start(local_day(now, ZONE)), dt.time(0), tzinfo=zoneinfo.ZoneInfo(ZONE))

        def issues(*where):
            return session.scalar(sa.select(sa.func.count()).select_from(Issue).where(*where))

        found = issues(Issue.site_id == main.id, Issue.reported_at >= start, Issue.reported_at < year_end)
        assert 600 <= found <= 1100, found
        annex = sites[demo.ANNEX_SITE]
        assert 20 <= issues(Issue.site_id == annex.id) <= found / 4, "the annex has its proportionate share"

        # Patrols: most on time, some late within grace, a few missed.
        closed_windows = sa.select(Patrol).where(Patrol.grace_until <= now).subquery()
        rows = session.execute(sa.select(closed_windows.c.status, closed_windows.c.completed_at,
                                         closed_windows.c.due_at)).all()
        on_time = sum(1 for s, done, due in rows if s == PatrolStatus.SUBMITTED.value and done <= due)
        late = sum(1 for s, done, due in rows if s == PatrolStatus.SUBMITTED.value and done > due)
        missed = sum(1 for s, _d, _u in rows if s == PatrolStatus.MISSED.value)
        assert 0.80 <= on_time / len(rows) <= 0.97, on_time / len(rows)
        assert late > 0 and missed > 0

        # The workflow: rework, rejections, open ones (recent, a few overdue), most closed before the deadline.
        assert issues(Issue.rework_count > 0) > 0
        assert issues(Issue.state == IssueState.REJECTED.value) > 0
        assert {r for (r,) in session.execute(sa.select(Issue.reject_reason).distinct()) if r} == {
            "invalid", "duplicate", "not_ours"}
        assert issues(Issue.state.in_(OPEN_STATES)) > 0
        assert issues(Issue.state.in_(OPEN_STATES), Issue.deadline < now) > 0, "a few overdue"
        closed = issues(Issue.state == IssueState.CLOSED.value)
        in_time = issues(Issue.state == IssueState.CLOSED.value, Issue.closed_at <= Issue.deadline)
        assert 0.75 <= in_time / closed < 1.0
        teams = {name for (name,) in session.execute(sa.text(
            "SELECT DISTINCT teams.name FROM issues JOIN teams ON teams.id = issues.team_id"))}
        assert teams == {history.MAINTENANCE_CREW, history.PROPERTY_COMPANY, history.LIFT_VENDOR}
        # 延期: rectifiers waiting for parts ask for a later deadline, mostly approved; 缓办: building repairs wait
        # for a budget, deferred and resumed by the supervisor, the clock stopped meanwhile.
        decided = dict(session.execute(sa.select(IssueExtension.state, sa.func.count())
                                       .group_by(IssueExtension.state)).all())
        assert decided.get("approved", 0) > decided.get("refused", 0) > 0, decided
        stretches = session.execute(sa.select(IssueDeferral.resumed_at)).scalars().all()
        assert len(stretches) >= 3 and any(resumed is not None for resumed in stretches), stretches
        assert issues(Issue.id.in_(sa.select(IssueDeferral.issue_id).where(IssueDeferral.resumed_at.is_not(None))),
                      Issue.state == IssueState.CLOSED.value) > 0, "a resumed repair was finished"

        # Seasons: water and power fail more in the flood season than in winter and spring, fire safety in winter.
        def per_month(category, months):
            reported = [local_day(at, ZONE).month for (at,) in session.execute(
                sa.select(Issue.reported_at).where(Issue.category == category, Issue.reported_at < year_end))]
            return sum(1 for m in reported if m in months) / len(months)

        assert per_month("water_power", (6, 7, 8, 9)) > 1.5 * per_month("water_power", (1, 2, 3, 4))
        assert per_month("fire_safety", (12, 1, 2)) > 1.3 * per_month("fire_safety", (5, 6, 7, 8))

        # 应巡未发现: a realistic share of the accepted quick reports is marked, and only those cost a leader.
        marks = session.execute(sa.select(Issue.should_have_been_found).where(
            Issue.source == "report", Issue.accepted_at.is_not(None))).scalars().all()
        assert 0.08 <= sum(marks) / len(marks) <= 0.25, sum(marks) / len(marks)
        penalties = session.scalar(sa.select(sa.func.count()).select_from(PointsEntry).where(
            PointsEntry.rule_code == "missed_in_own_grid"))
        assert 0 < penalties <= sum(marks)
        assert issues(Issue.source == "patrol", Issue.should_have_been_found.is_not(None)) == 0
        # The 整改台账 reads like faults: titles of patrol findings are the leaders' notes, a few the item's name.
        unnamed = issues(Issue.source == "patrol", Issue.title.like("% 不合格"))
        assert 0 < unnamed < 0.2 * issues(Issue.source == "patrol")

        # Points: every past month closed at both sites, and appeals filed and decided.
        for site in sites.values():
            month = month_start(local_day(start, ZONE))
            while month < month_start(local_day(now, ZONE)):
                assert session.get(MonthClose, (site.id, month)) is not None, (site.code, month)
                month = next_month(month)
        states = [a.state for a in session.scalars(sa.select(Appeal))]
        assert states and AppealState.OPEN.value not in states
