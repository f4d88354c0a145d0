"""Property: for any sequence of events, the ledger equals a rebuild from the events, and no event ever
earns the same rule twice — through the real services and database, with replays, month closes and late
offline submissions mixed in."""

import datetime as dt
import uuid
from collections import Counter

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridpatrol.accounts.models import User
from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.grids.models import Site
from gridpatrol.issues import services as issues
from gridpatrol.issues.models import Issue
from gridpatrol.patrols import services as patrols
from gridpatrol.patrols.models import Patrol
from gridpatrol.points import services as points
from gridpatrol.points.models import PointsEntry
from tests import helpers
from tests.issues.builders import jpeg
from tests.patrols import builders
from tests.patrols.builders import at

DAYS = 6  # patrols on 28 Nov – 3 Dec: the month boundary is inside
EVENT = st.one_of(
    st.tuples(st.just("submit"), st.integers(0, DAYS - 1), st.sampled_from(["A01", "A02"]),
              st.sampled_from(["on_time", "late", "offline_late_arrival"]), st.booleans()),
    st.tuples(st.just("miss"), st.integers(0, DAYS - 1)),
    st.tuples(st.just("report"), st.integers(0, DAYS - 1), st.sampled_from(["clerk", "leader0", "leader1"]),
              st.sampled_from(["A01", "A02"]), st.sampled_from(["accept_minor", "accept_critical", "reject", "leave"])),
    st.tuples(st.just("close_november"),),
    st.tuples(st.just("appeal"), st.integers(0, 50), st.booleans()),
)


def _day(i):
    return dt.date(2026, 11, 28) + dt.timedelta(days=i)


def _apply(app, event, state):
    kind = event[0]
    with app.app_context(), job_transaction() as session:
        site = session.scalar(sa.select(Site))
        users = {u.username: u for u in session.scalars(sa.select(User))}
        if kind == "submit":
            _, i, grid, timing, replay = event
            day = _day(i)
            patrol = session.scalar(sa.select(Patrol).join(Patrol.grid).where(
                Patrol.window_start == at(f"{day} 08:00"), Patrol.grid.has(code=grid)))
            if patrol is None or patrol.status == "submitted":
                return
            completed = {"on_time": f"{day} 09:00", "late": f"{day} 10:30", "offline_late_arrival": f"{day} 09:30"}[timing]
            now = at(f"{day} 18:00") if timing == "offline_late_arrival" else at(completed) + dt.timedelta(minutes=1)
            if patrol.status == "missed" and timing != "offline_late_arrival":
                return
            body = {"client_uuid": str(uuid.uuid4()), "completed_at": at(completed).isoformat(),
                    "answers": [{"item_id": it.id, "result": "pass"} for it in patrol.template_version.items]}
            user = session.get(User, patrol.assignee_id)
            patrols.submit(session, patrol, user, body, {}, now=now)
            if replay:
                patrols.submit(session, patrol, user, body, {}, now=now + dt.timedelta(minutes=5))
        elif kind == "miss":
            patrols.mark_missed(session, at(f"{_day(event[1])} 12:00"))
        elif kind == "report":
            _, i, who, grid, decision = event
            lon = 120.1505 if grid == "A01" else 120.1515
            issue = issues.report(session, users[who], site, lon=lon, lat=30.2795, level=0, category="fire_safety",
                                  description="隐患", photos={"p": jpeg()}, now=at(f"{_day(i)} 09:00"))
            if decision.startswith("accept"):
                issues.dispatch(session, issue, users["boss"], team=state["team"], severity=decision.split("_")[1],
                                now=at(f"{_day(i)} 10:00"))
            elif decision == "reject":
                issues.reject(session, issue, users["boss"], reason="invalid", note="无效", now=at(f"{_day(i)} 10:00"))
        elif kind == "close_november":
            points.close_month(session, site, dt.date(2026, 11, 1), actor=None, now=at("2026-12-01 00:05"))
        elif kind == "appeal":
            _, index, overturn = event
            entries = session.scalars(sa.select(PointsEntry).where(
                PointsEntry.rule_code.not_in(["patrol_missed_reversed", "appeal_overturned"])).order_by(PointsEntry.id)).all()
            if not entries:
                return
            entry = entries[index % len(entries)]
            if session.scalar(sa.select(sa.func.count()).select_from(points.Appeal).where(
                    points.Appeal.entry_id == entry.id)):
                return
            appeal = points.file_appeal(session, entry, entry.user, "申诉")
            points.decide_appeal(session, appeal, users["boss"], overturn=overturn, note="决定",
                                 now=at("2026-12-03 12:00"))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(events=st.lists(EVENT, min_size=1, max_size=14))
def test_ledger_equals_rebuild_for_any_event_sequence(app, events):
    # One database per test function; each example cleans up after itself.
    with app.app_context():
        if db.session.scalar(sa.select(sa.func.count()).select_from(Site)) == 0:
            _world(app)
    state = {}
    with app.app_context():
        from gridpatrol.accounts.models import Team

        state["team"] = db.session.scalar(sa.select(Team))
    try:
        builders.materialize(app, at("2026-12-03 06:00"))
        for event in events:
            _apply(app, event, state)
        with app.app_context():
            site = db.session.scalar(sa.select(Site))
            rows = db.session.execute(sa.select(PointsEntry.rule_code, PointsEntry.source_type,
                                                PointsEntry.source_id, PointsEntry.user_id)).all()
            assert max(Counter(rows).values(), default=1) == 1  # never the same rule twice
            for month in (dt.date(2026, 11, 1), dt.date(2026, 12, 1)):
                assert points.check_month(db.session, site, month) == [], (month, events)
            ledger_total = db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(PointsEntry.points), 0)))
            rebuilt = sum(sum(points.expected_points(db.session, site, m).values())
                          for m in (dt.date(2026, 11, 1), dt.date(2026, 12, 1)))
            assert ledger_total == rebuilt
    finally:
        _reset(app)


def _world(app):
    builders.compound(app, leaders=("leader0", "leader1"))
    helpers.make_user(app, "boss", roles=("supervisor",))
    helpers.make_user(app, "clerk", roles=("staff",))
    builders.make_plan(app, grids=("A01", "A02"), starts_on=dt.date(2026, 11, 28))
    from gridpatrol.accounts import services as accounts
    from gridpatrol.accounts.models import TeamKind

    with app.app_context(), job_transaction() as session:
        team = accounts.save_team(session, None, name="班组", kind=TeamKind.MAINTENANCE, phone=None, active=True,
                                  actor=None)
        from gridpatrol.core.roles import Role
        from tests.helpers import DEFAULT_PASSWORD

        accounts.create_user(session, username="fixer", display_name="fixer", password=DEFAULT_PASSWORD,
                             roles=[Role.RECTIFIER], teams=[team], actor=None)  # a team with nobody is refused


def _reset(app):
    """Remove what one example made (patrol runs, issues, points), keeping the world."""
    from gridpatrol.issues.models import IssueComment, IssueEvent, IssuePhoto
    from gridpatrol.notifications.models import Notification
    from gridpatrol.patrols.models import CheckpointScan, PatrolAnswer, PatrolPhoto, PatrolPlan, Submission
    from gridpatrol.points.models import Appeal, MonthClose

    with app.app_context(), job_transaction() as session:
        for model in (Appeal,):
            session.execute(sa.delete(model))
        session.execute(sa.text("DELETE FROM points_entries"))  # the guard watches the ORM, not a test reset
        for model in (MonthClose, IssuePhoto, IssueComment, IssueEvent, Issue, Submission, PatrolAnswer, PatrolPhoto,
                      CheckpointScan, Patrol, Notification):
            session.execute(sa.delete(model))
        session.execute(sa.update(PatrolPlan).values(materialized_until=None))
