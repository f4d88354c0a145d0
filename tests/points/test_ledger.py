"""The points ledger: entries earned by events in the same transaction, month close, appeals, rules."""

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

from gridpatrol.accounts.models import User
from gridpatrol.core.errors import DomainError
from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.grids.models import Site
from gridpatrol.issues import services as issues
from gridpatrol.patrols import services as patrols
from gridpatrol.patrols.models import Patrol
from gridpatrol.points import services as points
from gridpatrol.points.models import PointsEntry
from tests.patrols import builders
from tests.patrols.builders import at

NOV, DEC = dt.date(2026, 11, 1), dt.date(2026, 12, 1)


@pytest.fixture
def site(app):
    data = builders.compound(app, leaders=("leader0", "leader1"))
    from tests import helpers

    helpers.make_user(app, "boss", roles=("supervisor",))
    helpers.make_user(app, "clerk", roles=("staff",))
    builders.make_plan(app, grids=("A01", "A02"), starts_on=dt.date(2026, 11, 2))
    return data


def _user(session, name):
    return session.scalar(sa.select(User).where(User.username == name))


def _submit(app, patrol_id, *, completed="2026-11-02 09:00", now="2026-11-02 09:01"):
    with app.app_context(), job_transaction() as session:
        patrol = session.get(Patrol, patrol_id)
        items = patrol.template_version.items
        body = {"client_uuid": str(uuid.uuid4()), "completed_at": at(completed).isoformat(),
                "answers": [{"item_id": i.id, "result": "pass" if i.position != 2 else "na"} for i in items]}
        body["answers"][1]["result"] = "pass"
        return patrols.submit(session, patrol, session.get(User, patrol.assignee_id), body, {}, now=at(now))


def _patrol_ids(app):
    return {(p.grid.code, p.window_start.astimezone(builders.SHANGHAI).day): p.id for p in builders.patrols(app)}


def _ledger(app):
    with app.app_context():
        return [(e.user.username, e.rule_code, e.points, f"{e.month:%Y-%m}")
                for e in db.session.scalars(sa.select(PointsEntry).order_by(PointsEntry.id))]


def test_patrol_on_time_late_and_missed(app, site):
    builders.materialize(app, at("2026-11-02 06:00"))
    ids = _patrol_ids(app)
    _submit(app, ids[("A01", 2)])
    _submit(app, ids[("A02", 2)], completed="2026-11-02 10:20", now="2026-11-02 10:21")  # late, within grace
    builders.materialize(app, at("2026-11-03 06:00"))
    with app.app_context(), job_transaction() as session:
        patrols.mark_missed(session, at("2026-11-03 12:00"))
    assert sorted(_ledger(app)) == sorted([
        ("leader0", "patrol_on_time", 2, "2026-11"), ("leader1", "patrol_late", 1, "2026-11"),
        ("leader0", "patrol_missed", -3, "2026-11"), ("leader1", "patrol_missed", -3, "2026-11")])


def test_replaying_a_submission_earns_nothing_twice(app, site):
    builders.materialize(app, at("2026-11-02 06:00"))
    patrol_id = _patrol_ids(app)[("A01", 2)]
    with app.app_context(), job_transaction() as session:
        patrol = session.get(Patrol, patrol_id)
        body = {"client_uuid": "same-uuid-1234", "completed_at": at("2026-11-02 09:00").isoformat(),
                "answers": [{"item_id": i.id, "result": "pass"} for i in patrol.template_version.items]}
        user = session.get(User, patrol.assignee_id)
        patrols.submit(session, patrol, user, body, {}, now=at("2026-11-02 09:01"))
        patrols.submit(session, patrol, user, body, {}, now=at("2026-11-02 09:05"))
    assert _ledger(app) == [("leader0", "patrol_on_time", 2, "2026-11")]


def test_offline_submission_after_missed_reverses_the_penalty(app, site):
    builders.materialize(app, at("2026-11-02 06:00"))
    patrol_id = _patrol_ids(app)[("A01", 2)]
    with app.app_context(), job_transaction() as session:
        patrols.mark_missed(session, at("2026-11-02 12:00"))
    _submit(app, patrol_id, completed="2026-11-02 09:30", now="2026-11-02 18:00")
    ledger = _ledger(app)
    assert ("leader0", "patrol_missed", -3, "2026-11") in ledger
    assert ("leader0", "patrol_missed_reversed", 3, "2026-11") in ledger
    assert ("leader0", "patrol_on_time", 2, "2026-11") in ledger
    with app.app_context():
        totals = points.totals(db.session, db.session.scalar(sa.select(Site.id)), NOV)
        leader0 = db.session.scalar(sa.select(User.id).where(User.username == "leader0"))
        assert totals[leader0] == 2  # −3 + 3 + 2 (A02's patrol was missed too, by leader1)


def test_closed_month_takes_nothing_and_the_late_event_goes_to_the_next_month(app, site):
    builders.materialize(app, at("2026-11-30 06:00"))
    patrol_id = _patrol_ids(app)[("A01", 30)]
    with app.app_context(), job_transaction() as session:
        site_row = session.scalar(sa.select(Site))
        with pytest.raises(DomainError):
            points.close_month(session, site_row, NOV, actor=None, now=at("2026-11-30 20:00"))  # not over yet
        assert points.close_month(session, site_row, NOV, actor=None, now=at("2026-12-01 00:10"))
        assert not points.close_month(session, site_row, NOV, actor=None, now=at("2026-12-01 00:20"))  # no-op
    with app.app_context(), job_transaction() as session:
        patrols.mark_missed(session, at("2026-12-01 00:30"))  # the 30 Nov evening window... closed already
    # the 30 November patrols (window 08:00–10:00, grace to 11:00) were missed; November is closed
    ledger = _ledger(app)
    assert ("leader0", "patrol_missed", -3, "2026-12") in ledger
    with app.app_context():
        entry = db.session.scalar(sa.select(PointsEntry).where(PointsEntry.source_id == patrol_id))
        assert entry.event_month == NOV and entry.month == DEC and "2026-11 is closed" in entry.reason


def _issue_world(app):
    """Issue found in A01 by the clerk and accepted as major, marked 应巡未发现; another rejected."""
    from tests.issues.builders import jpeg

    with app.app_context(), job_transaction() as session:
        site_row = session.scalar(sa.select(Site))
        clerk, boss = _user(session, "clerk"), _user(session, "boss")
        found = issues.report(session, clerk, site_row, lon=120.1505, lat=30.2795, level=0, category="fire_safety",
                              description="灭火器过期", photos={"p": jpeg()}, now=at("2026-11-05 09:00"))
        bogus = issues.report(session, clerk, site_row, lon=120.1505, lat=30.2795, level=0, category="greening",
                              description="草太绿", photos={"p": jpeg()}, now=at("2026-11-05 09:10"))
        from gridpatrol.accounts.models import TeamKind
        from gridpatrol.accounts import services as accounts

        team = accounts.save_team(session, None, name="班组", kind=TeamKind.MAINTENANCE, phone=None, active=True,
                                  actor=None)
        from gridpatrol.core.roles import Role
        from tests.helpers import DEFAULT_PASSWORD

        accounts.create_user(session, username="fixer", display_name="fixer", password=DEFAULT_PASSWORD,
                             roles=[Role.RECTIFIER], teams=[team], actor=None)  # a team with nobody is refused
        issues.dispatch(session, found, boss, team=team, severity="major", should_have_been_found=True,
                        now=at("2026-11-05 10:00"))
        issues.reject(session, bogus, boss, reason="invalid", note="不是问题", now=at("2026-11-05 10:05"))
        return found.id, bogus.id


def test_issue_found_by_someone_else_costs_the_grid_leader(app, site):
    _issue_world(app)
    assert sorted(_ledger(app)) == sorted([
        ("clerk", "issue_found_major", 3, "2026-11"), ("leader0", "missed_in_own_grid", -1, "2026-11"),
        ("clerk", "report_rejected", 0, "2026-11")])


def test_appeal_overturned_writes_a_correction_in_the_open_month(app, site):
    _issue_world(app)
    with app.app_context(), job_transaction() as session:
        site_row = session.scalar(sa.select(Site))
        points.close_month(session, site_row, NOV, actor=None, now=at("2026-12-02 09:00"))
        penalty = session.scalar(sa.select(PointsEntry).where(PointsEntry.rule_code == "missed_in_own_grid"))
        leader0, boss = _user(session, "leader0"), _user(session, "boss")
        with pytest.raises(DomainError):
            points.file_appeal(session, penalty, boss, "not mine")  # only one's own entries
        appeal = points.file_appeal(session, penalty, leader0, "该灭火器属于物业管理范围")
        with pytest.raises(DomainError):
            points.file_appeal(session, penalty, leader0, "again")
        with pytest.raises(DomainError):
            points.decide_appeal(session, appeal, leader0, overturn=True, note="self", now=at("2026-12-02 10:00"))
        correction = points.decide_appeal(session, appeal, boss, overturn=True, note="核实属实",
                                          now=at("2026-12-02 10:00"))
        assert correction.points == 1 and correction.month == DEC and correction.corrects_id == penalty.id
        assert f"corrects entry {penalty.id}" in correction.reason
        assert points.check_month(session, site_row, NOV) == []


def test_upheld_appeal_changes_nothing(app, site):
    _issue_world(app)
    with app.app_context(), job_transaction() as session:
        penalty = session.scalar(sa.select(PointsEntry).where(PointsEntry.rule_code == "missed_in_own_grid"))
        appeal = points.file_appeal(session, penalty, _user(session, "leader0"), "不服")
        assert points.decide_appeal(session, appeal, _user(session, "boss"), overturn=False, note="维持",
                                    now=at("2026-11-06 10:00")) is None
        assert appeal.state == "upheld"
    assert len(_ledger(app)) == 3


def test_ledger_is_append_only(app, site):
    _issue_world(app)
    with app.app_context():
        entry = db.session.scalar(sa.select(PointsEntry))
        entry.points = 100
        with pytest.raises(RuntimeError, match="append-only"):
            db.session.flush()
        db.session.rollback()
        db.session.delete(db.session.scalar(sa.select(PointsEntry)))
        with pytest.raises(RuntimeError, match="append-only"):
            db.session.flush()
        db.session.rollback()


def test_new_rule_version_applies_from_its_month_and_entries_name_it(app, site):
    from gridpatrol.accounts.models import User as U

    with app.app_context(), job_transaction() as session:
        site_row = session.scalar(sa.select(Site))
        boss = session.scalar(sa.select(U).where(U.username == "boss"))
        with pytest.raises(DomainError):
            points.set_rules(session, site_row, dt.date(2026, 12, 1), {"patrol_on_time": 500}, actor=boss)
        with pytest.raises(DomainError):
            points.set_rules(session, site_row, dt.date(2026, 12, 1), {"coffee": 1}, actor=boss)
        rules = points.set_rules(session, site_row, dt.date(2026, 12, 1), {"patrol_on_time": 3}, actor=boss)
        assert rules.version == 2
    builders.materialize(app, at("2026-11-30 06:00"))
    _submit(app, _patrol_ids(app)[("A01", 30)], completed="2026-11-30 09:00", now="2026-11-30 09:01")
    builders.materialize(app, at("2026-12-01 06:00"))
    _submit(app, _patrol_ids(app)[("A01", 1)], completed="2026-12-01 09:00", now="2026-12-01 09:01")
    with app.app_context():
        got = [(e.points, e.rule_version, f"{e.month:%m}") for e in db.session.scalars(
            sa.select(PointsEntry).where(PointsEntry.rule_code == "patrol_on_time").order_by(PointsEntry.id))]
    assert got == [(2, 1, "11"), (3, 2, "12")]


def test_check_month_finds_a_missing_entry_and_rebuild_books_it(app, site):
    builders.materialize(app, at("2026-11-02 06:00"))
    _submit(app, _patrol_ids(app)[("A01", 2)])
    with app.app_context(), job_transaction() as session:
        site_row = session.scalar(sa.select(Site))
        assert points.check_month(session, site_row, NOV) == []
        # simulate a ledger that lost an entry (e.g. restored from an older backup)
        session.execute(sa.delete(PointsEntry))
        differences = points.check_month(session, site_row, NOV)
        assert [(d.expected, d.booked) for d in differences] == [(2, 0)]
        assert points.rebuild_missing(session, site_row, NOV) == 1
        assert points.check_month(session, site_row, NOV) == []
