"""`run_job` in-process: one transaction per run, the heartbeat commits with the work, failures roll back."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from gridpatrol.core.db import lock_key
from gridpatrol.patrols import jobs as patrol_jobs
from gridpatrol.patrols import services as patrols
from gridpatrol.scheduler import jobs
from tests import helpers
from tests.patrols import builders as patrol_builders
from tests.patrols.builders import at
from tests.scheduler import builders


@pytest.fixture
def plan(app):
    patrol_builders.compound(app)
    return patrol_builders.make_plan(app, grids=("A01", "A02"), starts_on=dt.date(2026, 11, 2))


def run(app, name: str, now: dt.datetime) -> jobs.RunResult:
    with app.app_context():
        return jobs.run_job(name, now)


def test_a_run_commits_its_work_and_its_heartbeat_together(app, plan):
    result = run(app, "materialize", at("2026-11-02 06:00"))
    assert result.ran and result.summary.startswith("1 plans, 2 patrols created")
    beat = builders.heartbeats(app)["materialize"]
    assert beat.last_ok is True and beat.runs == 1 and beat.last_result == result.summary
    assert beat.last_started_at <= beat.last_finished_at
    assert builders.patrol_count(app) == 2
    assert run(app, "materialize", at("2026-11-02 06:05")).summary.startswith("1 plans, 0 patrols created")
    assert builders.heartbeats(app)["materialize"].runs == 2 and builders.patrol_count(app) == 2


def test_a_failing_job_records_a_failed_heartbeat_and_rolls_its_work_back(app, plan, monkeypatch):
    def explode(session, now):
        report = patrols.materialize(session, now)  # real work, flushed into the job's transaction...
        assert report.created == 2
        raise RuntimeError("disk on fire")  # ...then the job fails

    monkeypatch.setitem(jobs.JOBS, "materialize", jobs.Job("materialize", 300, explode, "fails"))
    with pytest.raises(RuntimeError, match="disk on fire"):
        run(app, "materialize", at("2026-11-02 06:00"))

    beat = builders.heartbeats(app)["materialize"]
    assert beat.last_ok is False and beat.last_result == "RuntimeError: disk on fire" and beat.runs == 1
    assert builders.patrol_count(app) == 0  # the patrols were rolled back...
    assert builders.materialized_until(app) == {plan: None}  # ...and so was the catch-up mark

    monkeypatch.undo()  # the real job again: it does the whole work, and the heartbeat turns ok
    assert jobs.JOBS["materialize"].run is patrol_jobs._materialize
    assert run(app, "materialize", at("2026-11-02 06:00")).ran
    beat = builders.heartbeats(app)["materialize"]
    assert beat.last_ok is True and beat.runs == 2 and builders.patrol_count(app) == 2


def test_an_interrupted_job_rolls_back_and_writes_no_heartbeat(app, plan, monkeypatch):
    def interrupted(session, now):
        patrols.materialize(session, now)
        raise KeyboardInterrupt

    monkeypatch.setitem(jobs.JOBS, "materialize", jobs.Job("materialize", 300, interrupted, "interrupted"))
    with pytest.raises(KeyboardInterrupt):
        run(app, "materialize", at("2026-11-02 06:00"))
    assert builders.heartbeats(app) == {} and builders.patrol_count(app) == 0


def test_a_registered_job_runs_like_the_others(app, plan, monkeypatch):
    monkeypatch.setattr(jobs, "JOBS", dict(jobs.JOBS))  # register() mutates the module's dict: restore it
    jobs.register(jobs.Job("noop", 60, lambda session, now: f"nothing at {now.isoformat()}", "does nothing"))
    assert run(app, "noop", at("2026-11-02 06:00")).summary == "nothing at 2026-11-02T06:00:00+08:00"
    assert builders.heartbeats(app)["noop"].last_ok is True


def test_on_postgresql_a_run_is_skipped_while_another_scheduler_holds_the_job(app, plan, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("advisory locks are PostgreSQL's; SQLite serialises runs with BEGIN IMMEDIATE")
    engine = sa.create_engine(helpers.psycopg_url(database_url))
    try:
        with engine.connect() as other:  # another scheduler, mid-run
            other.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key("scheduler-job:materialize")})
            result = run(app, "materialize", at("2026-11-02 06:00"))
            assert not result.ran and result.summary == "another scheduler is running this job"
            assert builders.patrol_count(app) == 0 and builders.heartbeats(app) == {}
            # Other jobs have their own locks.
            assert run(app, "mark_missed", at("2026-11-02 06:00")).ran
            other.rollback()
        assert run(app, "materialize", at("2026-11-02 06:00")).ran
        assert builders.patrol_count(app) == 2
    finally:
        engine.dispose()
