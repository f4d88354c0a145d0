"""The monthly points table: every figure of every row against hand-computed values and the ledger.

`build_november(app)` makes the month the export, view and CLI tests share (November 2026, site TEST):

- grids A01 (leader0 all year), A02 (leader1 all year), A03 (no leader until leader1 takes it on 20 Nov),
  A04 (leader0 from 1 Oct until 1 Nov 00:00, then leader2: leader0 did not hold it in November);
- a daily plan for A01 and A02 from 2 to 5 November (window 08:00–10:00, grace to 11:00): 8 patrols.
  leader0: 2 Nov on time 100, 3 Nov late 70 (item 3 failed → an issue), 4 Nov missed, 5 Nov on time 100;
  leader1: 2 Nov late 100, 3 Nov on time 80 (item 2 failed → an issue left unaccepted), 4 Nov missed,
  5 Nov on time 100;
- issues: leader0's patrol issue accepted as major (then re-dispatched as critical: the first dispatch counts),
  closed 10 Nov; clerk in A01 (critical, 5 Nov); leader1 in A02 (minor, closed 12 Nov); leader1 in A01 (minor;
  leader0 appeals the −1 and the supervisor overturns it on 20 Nov); leader1 in A02 rejected; clerk in A03 on
  10 Nov (no leader then; closed 15 Nov); clerk in A03 on 21 Nov (leader1's now; closed 25 Nov); leader2 in A04
  (major).
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa
from flask_babel import force_locale
from sqlalchemy import event

from gridpatrol.accounts import services as accounts
from gridpatrol.accounts.models import Team, TeamKind, User
from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.grids import services as grid_services
from gridpatrol.grids.models import AssignmentRole, Grid, Site
from gridpatrol.issues import services as issues
from gridpatrol.issues.models import Issue
from gridpatrol.patrols import services as patrols
from gridpatrol.patrols.models import Patrol
from gridpatrol.points import services as points
from gridpatrol.points import table as tables
from gridpatrol.points.models import Appeal, PointsEntry
from tests import helpers
from tests.issues import builders as issue_builders
from tests.patrols import builders
from tests.patrols.builders import at

NOV, DEC = dt.date(2026, 11, 1), dt.date(2026, 12, 1)
WHERE = {"A01": (120.1505, 30.2795), "A02": (120.1515, 30.2795), "A03": (120.1505, 30.2785),
         "A04": (120.1515, 30.2785)}
USERS = {"leader2": ("grid_leader", "staff"), "boss": ("supervisor",), "boss2": ("supervisor",), "root": ("admin",),
         "clerk": ("staff",), "fixer": ("rectifier",)}

# Hand-computed November figures, per leader, in table order (rank by points per grid, then pinyin of the name).
EXPECTED = {
    # name: (rank, grids, due, done, on time, late, missed, pass rate, minor, major, critical, closed, points,
    #        points per grid)
    "Leader0": (1, ("A01",), 4, 3, 2, 1, 1, 90.0, 0, 1, 0, 1, 4, 4.0),  # (100 + 70 + 100) / 3
    "Leader2": (2, ("A04",), 0, 0, 0, 0, 0, None, 0, 1, 0, 0, 3, 3.0),
    "Leader1": (3, ("A02", "A03"), 4, 3, 2, 1, 1, 93.33, 2, 0, 0, 2, 3, 1.5),  # (100 + 80 + 100) / 3; 3 / 2 grids
}
EXPECTED_TOTALS = (8, 6, 4, 2, 2, 91.67, 2, 2, 0, 3, 10)  # 550 / 6
# leader0 2+1−3+2 (patrols) +3 (found major) −1 −1 (missed in own grid) +1 (appeal overturned) = 4
# leader1 1+2−3+2 (patrols) +1 +1 (found minor) +0 (rejected) −1 (A03, found by the clerk) = 3
# leader2 +3 (found major); clerk (no grid) +5 +1 +1 = 7
EXPECTED_LEDGER = {
    "leader0": sorted(["patrol_on_time", "patrol_late", "patrol_missed", "patrol_on_time", "issue_found_major",
                       "missed_in_own_grid", "missed_in_own_grid", "appeal_overturned"]),
    "leader1": sorted(["patrol_late", "patrol_on_time", "patrol_missed", "patrol_on_time", "issue_found_minor",
                       "issue_found_minor", "report_rejected", "missed_in_own_grid"]),
    "leader2": ["issue_found_major"],
    "clerk": sorted(["issue_found_critical", "issue_found_minor", "issue_found_minor"]),
}


def user(session, name: str) -> User:
    return session.scalar(sa.select(User).where(User.username == name))


def submit(app, grid: str, day: str, *, completed: str, now: str, fail: tuple[int, ...] = ()) -> int:
    with app.app_context(), job_transaction() as session:
        patrol = session.scalar(sa.select(Patrol).join(Grid, Grid.id == Patrol.grid_id).where(
            Grid.code == grid, Patrol.window_start == at(f"{day} 08:00")))
        body = {"client_uuid": str(uuid.uuid4()), "completed_at": at(completed).isoformat(),
                "answers": [{"item_id": i.id, "result": "fail" if i.position in fail else "pass"}
                            for i in patrol.template_version.items]}
        patrols.submit(session, patrol, session.get(User, patrol.assignee_id), body, {}, now=at(now))
        return patrol.id


def report(app, reporter: str, grid: str, when: str, text: str = "消防栓漏水") -> int:
    lon, lat = WHERE[grid]
    return issue_builders.file_report(app, reporter, lon=lon, lat=lat, when=when, description=text)


def dispatch(app, issue_id: int, severity: str, when: str, *, missed_by_patrols: bool = True) -> None:
    """Accept (or re-dispatch) as boss. A quick report accepted here is marked 应巡未发现 unless told otherwise:
    the world's −1 entries for the grids' leaders are those marks."""
    with app.app_context(), job_transaction() as session:
        issue = session.get(Issue, issue_id)
        marked = {"should_have_been_found": missed_by_patrols} \
            if issue.source == "report" and issue.state == "reported" else {}
        issues.dispatch(session, issue, user(session, "boss"), team=session.scalar(sa.select(Team)),
                        severity=severity, now=at(when), **marked)


def build_november(app) -> dict:
    """The shared November world (see the module docstring). Returns ids the tests need."""
    builders.compound(app, leaders=("leader0", "leader1"))
    for name, roles in USERS.items():
        helpers.make_user(app, name, roles=roles)
    with app.app_context(), job_transaction() as session:
        team = accounts.save_team(session, None, name="维修班组", kind=TeamKind.MAINTENANCE, phone=None, active=True,
                                  actor=None)
        fixer = user(session, "fixer")
        fixer.teams.append(team)
        session.flush()
        grid = {g.code: g for g in session.scalars(sa.select(Grid))}
        grid_services.assign(session, grid["A04"], user(session, "leader0"), AssignmentRole.LEADER, actor=None,
                             at=at("2026-10-01 00:00"))
        grid_services.assign(session, grid["A04"], user(session, "leader2"), AssignmentRole.LEADER, actor=None,
                             at=at("2026-11-01 00:00"))
        grid_services.assign(session, grid["A03"], user(session, "leader1"), AssignmentRole.LEADER, actor=None,
                             at=at("2026-11-20 09:00"))
    builders.make_plan(app, grids=("A01", "A02"), starts_on=dt.date(2026, 11, 2), ends_on=dt.date(2026, 11, 5))

    builders.materialize(app, at("2026-11-02 06:00"))
    submit(app, "A01", "2026-11-02", completed="2026-11-02 09:00", now="2026-11-02 09:01")
    submit(app, "A02", "2026-11-02", completed="2026-11-02 10:20", now="2026-11-02 10:21")  # late, in grace
    builders.materialize(app, at("2026-11-03 06:00"))
    patrol_issue = submit(app, "A01", "2026-11-03", completed="2026-11-03 10:30", now="2026-11-03 10:31", fail=(2,))
    unaccepted = submit(app, "A02", "2026-11-03", completed="2026-11-03 09:30", now="2026-11-03 09:31", fail=(1,))
    builders.materialize(app, at("2026-11-04 06:00"))
    with app.app_context(), job_transaction() as session:
        patrols.mark_missed(session, at("2026-11-04 12:00"))
    builders.materialize(app, at("2026-11-05 06:00"))
    submit(app, "A01", "2026-11-05", completed="2026-11-05 09:00", now="2026-11-05 09:01")
    submit(app, "A02", "2026-11-05", completed="2026-11-05 09:10", now="2026-11-05 09:11")

    with app.app_context():
        found_on_patrol = db.session.scalar(sa.select(Issue.id).where(Issue.patrol_id == patrol_issue))
        unaccepted_issue = db.session.scalar(sa.select(Issue.id).where(Issue.patrol_id == unaccepted))
    dispatch(app, found_on_patrol, "major", "2026-11-03 11:00")
    dispatch(app, found_on_patrol, "critical", "2026-11-04 09:00")  # re-dispatch: the first severity counts
    issue_builders.advance(app, found_on_patrol, "closed", when="2026-11-10 10:00")

    clerk_a01 = report(app, "clerk", "A01", "2026-11-05 09:00", "灭火器过期")
    dispatch(app, clerk_a01, "critical", "2026-11-05 10:00")
    leader1_a02 = report(app, "leader1", "A02", "2026-11-06 09:00", "卫生间漏水")
    dispatch(app, leader1_a02, "minor", "2026-11-06 10:00")
    issue_builders.advance(app, leader1_a02, "closed", when="2026-11-12 10:00")
    leader1_a01 = report(app, "leader1", "A01", "2026-11-07 09:00", "走廊灯不亮")
    dispatch(app, leader1_a01, "minor", "2026-11-07 10:00")
    rejected = report(app, "leader1", "A02", "2026-11-08 09:00", "草太绿")
    with app.app_context(), job_transaction() as session:
        issues.reject(session, session.get(Issue, rejected), user(session, "boss"), reason="invalid", note="不是问题",
                      now=at("2026-11-08 10:00"))
    before_leader = report(app, "clerk", "A03", "2026-11-10 09:00", "窗户破损")
    dispatch(app, before_leader, "minor", "2026-11-10 10:00")
    issue_builders.advance(app, before_leader, "closed", when="2026-11-15 10:00")
    after_leader = report(app, "clerk", "A03", "2026-11-21 09:00", "门锁损坏")
    dispatch(app, after_leader, "minor", "2026-11-21 10:00")
    issue_builders.advance(app, after_leader, "closed", when="2026-11-25 10:00")
    leader2_a04 = report(app, "leader2", "A04", "2026-11-21 11:00", "配电箱未上锁")
    dispatch(app, leader2_a04, "major", "2026-11-21 12:00")

    with app.app_context(), job_transaction() as session:
        penalty = session.scalar(sa.select(PointsEntry).where(
            PointsEntry.rule_code == "missed_in_own_grid", PointsEntry.source_id == leader1_a01))
        appeal = points.file_appeal(session, penalty, user(session, "leader0"), "该问题当日已报修")
        points.decide_appeal(session, appeal, user(session, "boss"), overturn=True, note="核实属实",
                             now=at("2026-11-20 10:00"))
    return {"unaccepted_issue": unaccepted_issue, "clerk_a01": clerk_a01, "leader1_a01": leader1_a01,
            "found_on_patrol": found_on_patrol}


@pytest.fixture
def november(app):
    return build_november(app)


def the_site(session) -> Site:
    return session.scalar(sa.select(Site))


def row_figures(row) -> tuple:
    return (row.rank, row.grids, row.patrols_due, row.patrols_done, row.on_time, row.late, row.missed,
            row.average_score, row.found_minor, row.found_major, row.found_critical, row.issues_closed, row.points,
            row.points_per_grid)


def test_every_figure_of_every_row_is_the_hand_computed_one(app, november):
    with app.app_context():
        table = tables.monthly_table(db.session, the_site(db.session), NOV)
    assert [r.name for r in table.rows] == ["Leader0", "Leader2", "Leader1"]
    assert {r.name: row_figures(r) for r in table.rows} == EXPECTED
    t = table.totals
    assert (t.patrols_due, t.patrols_done, t.on_time, t.late, t.missed, t.average_score, t.found_minor,
            t.found_major, t.found_critical, t.issues_closed, t.points) == EXPECTED_TOTALS
    assert (table.others_entries, table.others_points) == (3, 7)
    assert (len(table.entries), table.entries_points) == (20, 17)
    assert table.rule_version == 1 and not table.closed
    assert [r.patrols_open for r in table.rows] == [0, 0, 0]


def test_points_and_detail_equal_the_ledger(app, november):
    with app.app_context():
        site = the_site(db.session)
        table = tables.monthly_table(db.session, site, NOV)
        ledger = points.totals(db.session, site.id, NOV)
        rows = {r.user_id: r for r in table.rows}
        for user_id, row in rows.items():
            assert row.points == ledger[user_id]
        assert table.totals.points + table.others_points == sum(ledger.values())
        stored = {e.id: e for e in points.entries(db.session, site.id, NOV)}
        assert sorted(e.id for e in table.entries) == sorted(stored)
        for e in table.entries:
            s = stored[e.id]
            assert (e.user_id, e.username, e.rule_code, e.rule_version, e.points, e.source_type, e.source_id,
                    e.event_month, e.reason, e.corrects_id) == (
                s.user_id, s.user.username, s.rule_code, s.rule_version, s.points, s.source_type, s.source_id,
                s.event_month, s.reason, s.corrects_id)
        by_person: dict[str, list[str]] = {}
        for e in table.entries:
            by_person.setdefault(e.username, []).append(e.rule_code)
        assert {k: sorted(v) for k, v in by_person.items()} == EXPECTED_LEDGER
        correction = next(e for e in table.entries if e.rule_code == "appeal_overturned")
        appealed = db.session.scalar(sa.select(Appeal)).entry_id
        assert (correction.points, correction.corrects_id, correction.source_type) == (1, appealed, "appeal")
        with force_locale("en"):
            assert correction.rule_label == "Correction: appeal upheld for the leader"
        # the detail is listed person by person (by name), each person's entries in the order they were booked
        keys = [(e.name, e.id) for e in table.entries]
        assert keys == sorted(keys)


def test_a_handover_at_midnight_of_the_first_does_not_give_the_old_leader_the_grid(app, november):
    with app.app_context():
        site = the_site(db.session)
        october = tables.monthly_table(db.session, site, dt.date(2026, 10, 1))
        assert {r.name: r.grids for r in october.rows} == {"Leader0": ("A01", "A04"), "Leader1": ("A02",)}
        december = tables.monthly_table(db.session, site, DEC)
        assert {r.name: r.grids for r in december.rows} == {
            "Leader0": ("A01",), "Leader1": ("A02", "A03"), "Leader2": ("A04",)}
        assert all(r.points == 0 and r.rank == 1 for r in december.rows)  # all tied at 0: rank 1, 1, 1


def test_the_table_costs_a_fixed_number_of_queries(app, november):
    with app.app_context():
        site = the_site(db.session)
        statements = []

        def count(*_args, **_kwargs):
            statements.append(1)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            tables.monthly_table(db.session, site, NOV)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert len(statements) <= 9  # grouped queries, never one per row or per entry


def test_a_closed_month_takes_nothing_new_and_the_late_event_lands_in_the_next_month(app, november):
    with app.app_context(), job_transaction() as session:
        before = tables.monthly_table(session, the_site(session), NOV)
        assert points.close_month(session, the_site(session), NOV, actor=None, now=at("2026-12-02 09:00"))
    # leader1's patrol issue of 3 November is accepted only on 2 December: its month is closed
    dispatch(app, november["unaccepted_issue"], "major", "2026-12-02 10:00")
    # leader0's "missed" patrol of 4 November was done offline; the tablet only reaches the server in December, which
    # a site that accepts offline submissions for up to a month lets in (the default, 24 hours, would refuse it)
    app.config["OFFLINE_SUBMISSION_HOURS"] = 31 * 24
    submit(app, "A01", "2026-11-04", completed="2026-11-04 09:00", now="2026-12-02 11:00")
    with app.app_context():
        site = the_site(db.session)
        entry = db.session.scalar(sa.select(PointsEntry).where(PointsEntry.source_id == november["unaccepted_issue"],
                                                               PointsEntry.source_type == "issue"))
        assert (entry.month, entry.event_month, entry.points) == (DEC, NOV, 3)
        assert "booked in 2026-12 because 2026-11 is closed" in entry.reason
        after = tables.monthly_table(db.session, site, NOV)
        assert after.closed and [row_figures(r) for r in after.rows] == [row_figures(r) for r in before.rows]
        assert after.entries == before.entries
        late = {e.rule_code: (e.month, e.event_month, e.points) for e in db.session.scalars(
            sa.select(PointsEntry).where(PointsEntry.source_type == "patrol", PointsEntry.month == DEC))}
        assert late == {"patrol_on_time": (DEC, NOV, 2), "patrol_missed_reversed": (DEC, NOV, 3)}
        december = {r.name: r for r in tables.monthly_table(db.session, site, DEC).rows}
        assert december["Leader1"].points == 3 and december["Leader0"].points == 5
        assert december["Leader0"].patrols_due == 0  # the patrol is November's
        assert december["Leader1"].found_major == 0  # reported in November
        # November stays as it was closed: the issue was not accepted then (its points are December's)
        assert {r.name: r.found_major for r in after.rows}["Leader1"] == 0


def test_a_year_adds_up_the_months(app, november):
    with app.app_context():
        site = the_site(db.session)
        months = tables.yearly_tables(db.session, site, 2026, until=DEC)
        assert [m.month.month for m in months] == list(range(1, 13))
        summary = tables.year_summary(months)
    rows = {r.total.name: r for r in summary.rows}
    # per grid: the months' values added up (Leader0's October over two grids does not halve November)
    assert [(r.total.name, r.total.points_per_grid) for r in summary.rows] == [
        ("Leader0", 4.0), ("Leader2", 3.0), ("Leader1", 1.5)]
    assert rows["Leader0"].total.grids == ("A01", "A04")  # A04 in October
    assert rows["Leader0"].monthly_points == (0,) * 10 + (4, 0)
    assert rows["Leader2"].monthly_points == (None,) * 10 + (3, 0)
    assert rows["Leader1"].total.patrols_due == 4 and rows["Leader1"].total.average_score == 93.33
    assert [r.total.rank for r in summary.rows] == [1, 2, 3]
    assert summary.totals.points == 10 and summary.monthly_totals == (0,) * 10 + (10, 0)
