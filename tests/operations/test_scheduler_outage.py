"""The scheduler stopped for 48 hours across a month end, then restarted: its catch-up (every job's first run, in
the order the runner gives them) makes exactly one patrol per window slept through and books each missed patrol in the
month it belongs to; the month is closed once, in the same catch-up, after its last patrols were made and marked
missed (close_month's first run comes after the patrol jobs').

Frozen time through `jobs.run_job(name, now)`, what `gridpatrol scheduler run-once JOB --now …` runs (the command
itself, across a week of downtime, is tested in tests/scheduler/test_process.py), with POINTS_CLOSE_DAY = 1 so the
month is due to close during the outage. Months missed in one outage are tested in tests/points/test_month_close.py.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from gridpatrol.extensions import db
from gridpatrol.patrols.models import Patrol
from gridpatrol.points.models import MonthClose, PointsEntry
from gridpatrol.scheduler import jobs
from tests.patrols import builders as patrol_builders
from tests.patrols.builders import at
from tests.scheduler import builders

STOPPED = at("2026-11-29 23:00")
RESTARTED = at("2026-12-01 23:00")  # 48 hours later
NEXT_TICK = at("2026-12-02 00:00")  # the hourly close_month's next run
NOV, DEC = dt.date(2026, 11, 1), dt.date(2026, 12, 1)


def startup_order() -> list[str]:
    """The order of a starting scheduler's first runs (runner.build: a millisecond apart, one worker thread):
    the patrol jobs first, close_month after them."""
    order = jobs.startup_order()
    assert order.index("close_month") > max(order.index("mark_missed"), order.index("materialize"))
    return order


def run_every_job(app, now: dt.datetime) -> dict[str, str]:
    with app.app_context():
        results = {name: jobs.run_job(name, now) for name in startup_order()}
    assert all(r.ran and r.ok for r in results.values()), results
    return {name: r.summary for name, r in results.items()}


def test_a_48_hour_outage_across_a_month_end_catches_up_once_and_closes_the_month_once(app):
    app.config["POINTS_CLOSE_DAY"] = 1
    patrol_builders.compound(app)  # leader0 on A01, leader1 on A02
    plan = patrol_builders.make_plan(app, grids=("A01", "A02"), starts_on=dt.date(2026, 11, 26), window="08:00",
                                     minutes=120, grace=60)

    before = run_every_job(app, STOPPED)
    assert before["materialize"] == "1 plans, 10 patrols created (8 already missed)"
    assert before["close_month"] == "no month to close"
    # Stopped here; the 30 November and 1 December windows pass unseen.

    after = run_every_job(app, RESTARTED)
    # 1 and 2 December. (Its "already missed" count also takes in 30 November's two, which mark_missed marked
    # missed just before at the same frozen `now`: the statuses are checked below instead.)
    assert after["materialize"].startswith("1 plans, 4 patrols created")
    assert after["mark_missed"] == "2 patrols marked missed"  # 30 November's, made before the outage
    # close_month runs after them: November is settled, and closed in the same catch-up.
    assert after["close_month"] == "closed TEST 2026-11"

    # The next tick closes nothing more.
    again = run_every_job(app, NEXT_TICK)
    assert again["close_month"] == "no month to close" and again["mark_missed"] == "0 patrols marked missed"
    assert again["materialize"] == "1 plans, 0 patrols created (0 already missed)"
    with app.app_context():
        assert jobs.run_job("close_month", NEXT_TICK + dt.timedelta(hours=1)).summary == "no month to close"

    # One patrol per (grid, window): 26 November to 2 December, two grids.
    expected = builders.expected_keys(app)
    assert builders.duplicate_keys(app) == [] and sorted(builders.patrol_keys(app)) == sorted(expected)
    assert len(expected) == 7 * 2 and builders.materialized_until(app) == {plan: NEXT_TICK + dt.timedelta(hours=24)}
    with app.app_context():
        session = db.session
        statuses = {(p.grid.code, p.window_start.astimezone(patrol_builders.SHANGHAI).day): p.status
                    for p in session.scalars(sa.select(Patrol))}
        assert statuses == {**{(g, d): "missed" for g in ("A01", "A02") for d in (26, 27, 28, 29, 30, 1)},
                            ("A01", 2): "scheduled", ("A02", 2): "scheduled"}
        assert session.scalars(sa.select(MonthClose.month)).all() == [NOV]
        # Each missed patrol is booked once, in the month it belongs to: November's in November (closed after
        # them), 1 December's in December.
        entries = session.execute(sa.select(PointsEntry.source_id, PointsEntry.month, PointsEntry.event_month,
                                            PointsEntry.rule_code)).all()
        assert len(entries) == len({source for source, *_rest in entries}) == 12
        assert {rule for *_rest, rule in entries} == {"patrol_missed"}
        assert sorted((month, event) for _source, month, event, _rule in entries) == [(NOV, NOV)] * 10 + [(DEC, DEC)] * 2
