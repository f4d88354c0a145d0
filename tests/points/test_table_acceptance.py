"""The monthly table counts issues found by the severity stored on the issue at its acceptance.

`Issue.accepted_severity` / `Issue.accepted_at` are set at the first dispatch and never change; a later re-dispatch
may change the issue's severity, not what its finder is credited with. The table and the rebuild read those
columns, never the dispatch events' JSON.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.grids.models import Site
from gridpatrol.issues import services as issues
from gridpatrol.issues.models import Issue, IssueEvent, Severity
from gridpatrol.points import services as points
from gridpatrol.points import table as tables
from gridpatrol.points.models import PointsEntry
from tests.issues import builders
from tests.issues.builders import at

NOV, DEC = dt.date(2026, 11, 1), dt.date(2026, 12, 1)


def _dispatch(app, issue_id: int, severity: str, when: str) -> None:
    with app.app_context(), job_transaction() as session:
        issues.dispatch(session, session.get(Issue, issue_id), builders.user(session, "boss"),
                        team=builders.team(session), severity=severity, now=at(when))


def _reject(app, issue_id: int, when: str) -> None:
    with app.app_context(), job_transaction() as session:
        issues.reject(session, session.get(Issue, issue_id), builders.user(session, "boss"), reason="invalid",
                      note="不是问题", now=at(when))


def _row(app, month: dt.date, username: str = "leader0") -> tables.LeaderRow:
    with app.app_context():
        table = tables.monthly_table(db.session, db.session.scalar(sa.select(Site)), month)
        return next(r for r in table.rows if r.username == username)


def _found(row: tables.LeaderRow) -> tuple[int, int, int]:
    return row.found_minor, row.found_major, row.found_critical


def test_found_issues_count_at_their_accepted_severity(app):
    builders.world(app)
    # leader0 reports in A01, their own grid (no missed_in_own_grid penalty in the way).
    reported = {key: builders.file_report(app, "leader0", when=f"2026-11-{day:02d} 09:00", description=f"问题 {key}")
                for day, key in enumerate(("minor", "major", "critical", "minor_then_critical",
                                           "critical_then_minor", "rejected", "unaccepted"), start=2)}
    _dispatch(app, reported["minor"], "minor", "2026-11-02 10:00")
    _dispatch(app, reported["major"], "major", "2026-11-03 10:00")
    _dispatch(app, reported["critical"], "critical", "2026-11-04 10:00")
    _dispatch(app, reported["minor_then_critical"], "minor", "2026-11-05 10:00")
    _dispatch(app, reported["minor_then_critical"], "critical", "2026-11-06 10:00")  # re-dispatch
    _dispatch(app, reported["critical_then_minor"], "critical", "2026-11-06 11:00")
    _dispatch(app, reported["critical_then_minor"], "minor", "2026-11-07 10:00")  # re-dispatch
    _reject(app, reported["rejected"], "2026-11-07 11:00")

    with app.app_context():
        changed = db.session.get(Issue, reported["minor_then_critical"])
        assert (changed.severity, changed.accepted_severity) == (Severity.CRITICAL.value, Severity.MINOR.value)
        assert changed.accepted_at == at("2026-11-05 10:00")
        changed = db.session.get(Issue, reported["critical_then_minor"])
        assert (changed.severity, changed.accepted_severity) == (Severity.MINOR.value, Severity.CRITICAL.value)
        assert db.session.get(Issue, reported["unaccepted"]).accepted_severity is None
        assert db.session.get(Issue, reported["rejected"]).accepted_severity is None

    row = _row(app, NOV)
    assert _found(row) == (2, 1, 2)
    assert row.found_total == 5
    assert row.points == 1 + 3 + 5 + 1 + 5  # what the ledger booked, at the same severities
    with app.app_context():
        assert sorted(db.session.scalars(sa.select(PointsEntry.rule_code).where(
            PointsEntry.rule_code.like("issue_found_%")))) == sorted(
            ["issue_found_minor", "issue_found_minor", "issue_found_major", "issue_found_critical",
             "issue_found_critical"])

    # The events' JSON is history, not the source: rewriting it changes neither the table nor the rebuild.
    with app.app_context(), job_transaction() as session:
        session.execute(sa.update(IssueEvent).values(data={"severity": Severity.MAJOR.value}))
    assert _found(_row(app, NOV)) == (2, 1, 2)
    with app.app_context():
        site = db.session.scalar(sa.select(Site))
        assert points.check_month(db.session, site, NOV) == []


def test_a_closed_month_keeps_the_accepted_severity_after_a_later_redispatch(app):
    builders.world(app)
    accepted = builders.file_report(app, "leader0", when="2026-11-10 09:00", description="配电箱未上锁")
    late = builders.file_report(app, "leader0", when="2026-11-20 09:00", description="走廊灯不亮")
    _dispatch(app, accepted, "major", "2026-11-10 10:00")
    with app.app_context(), job_transaction() as session:
        assert points.close_month(session, session.scalar(sa.select(Site)), NOV, actor=None,
                                  now=at("2026-12-02 09:00"))
    _dispatch(app, accepted, "critical", "2026-12-03 10:00")  # re-dispatch after the close
    _dispatch(app, late, "minor", "2026-12-03 11:00")  # accepted after the close: not in the closed table

    assert _found(_row(app, NOV)) == (0, 1, 0)
    assert _found(_row(app, DEC)) == (0, 0, 0)  # found in November, whenever accepted
