"""The registry: every domain's jobs run through `scheduler run-once` and are scheduled by the runner; the
scheduler imports no domain; per-site jobs run each site in its own transaction, so a broken site does not
block the others."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pytest

from gridpatrol.extensions import db
from gridpatrol.patrols import services as patrol_services
from gridpatrol.scheduler import jobs, runner
from gridpatrol.scheduler.cli import scheduler
from tests import helpers
from tests.patrols import builders as patrol_builders
from tests.patrols.builders import at
from tests.scheduler import builders

SCHEDULER_DIR = Path(__file__).resolve().parents[2] / "gridpatrol" / "scheduler"
DOMAINS = ("accounts", "grids", "standards", "workdays", "patrols", "issues", "points", "notifications")
PER_SITE_JOBS = {"materialize", "mark_missed", "remind", "issue_reminders", "escalate_overdue", "close_month"}
EVERY_JOB = PER_SITE_JOBS | {"nightly_backup"}  # the backup is of the whole installation


def cli(app, *args: str):
    return app.test_cli_runner().invoke(scheduler, list(args))


@pytest.fixture
def two_sites(app):
    """TEST (leaders on A01, A02) and OTHER (no leaders), each with a daily 08:00 plan on A01 and A02."""
    patrol_builders.compound(app)
    test_plan = patrol_builders.make_plan(app, grids=("A01", "A02"), starts_on=dt.date(2026, 11, 2))
    other_plan = builders.second_site(app)
    return {"TEST": test_plan, "OTHER": other_plan}


def test_every_domain_registers_its_jobs(app):
    assert set(jobs.JOBS) == EVERY_JOB
    assert {name for name, job in jobs.JOBS.items() if job.per_site} == PER_SITE_JOBS


def test_run_once_accepts_every_registered_job_and_status_lists_them(app, two_sites):
    for name in sorted(jobs.JOBS):
        result = cli(app, "run-once", name, "--now", "2026-11-02T06:00:00+08:00")
        assert result.exit_code == 0, (name, result.output)
        assert result.output.startswith(f"{name}: ")
    assert builders.patrols_per_site(app) == {"TEST": 2, "OTHER": 2}  # materialize reached both sites
    status = cli(app, "status")
    assert status.exit_code == 0
    lines = {line.split()[0]: line.split()[1] for line in status.output.splitlines() if not line.startswith("WARNING:")}
    assert lines == {name: "ok" for name in EVERY_JOB}


def test_run_once_refuses_an_unknown_job_and_lists_the_registered_ones(app):
    result = cli(app, "run-once", "no_such_job")
    assert result.exit_code == 2
    assert "unknown job 'no_such_job'" in result.output
    assert "close_month, escalate_overdue, issue_reminders, mark_missed, materialize, nightly_backup, remind" \
        in result.output
    assert builders.heartbeats(app) == {}


def test_the_runner_schedules_every_registered_job(app):
    built = runner.build(app)
    assert {job.id: job.trigger.interval.total_seconds() for job in built.get_jobs()} == {
        name: job.every_seconds for name, job in jobs.JOBS.items()}


def test_the_scheduler_package_imports_no_domain():
    for path in sorted(SCHEDULER_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            modules = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                       else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for module in modules:
                assert not any(module == f"gridpatrol.{d}" or module.startswith(f"gridpatrol.{d}.")
                               for d in DOMAINS), f"{path.name} imports {module}"


def test_a_broken_site_is_rolled_back_and_reported_while_the_other_site_commits(app, two_sites, monkeypatch):
    real = patrol_services.materialize

    def broken_for_other(session, now, *, site=None, **kwargs):
        report = real(session, now, site=site, **kwargs)  # the work is flushed, then the site turns out broken
        if site.code == "OTHER":
            raise RuntimeError("plan of OTHER is inconsistent")
        return report

    monkeypatch.setattr(patrol_services, "materialize", broken_for_other)
    result = cli(app, "run-once", "materialize", "--now", "2026-11-02T06:00:00+08:00")
    assert result.exit_code == 1, result.output
    summary = "1 plans, 2 patrols created (0 already missed); FAILED OTHER: RuntimeError: plan of OTHER is inconsistent"
    assert result.output.strip() == f"materialize: {summary}"
    # OTHER (first in code order) was rolled back, catch-up mark included; TEST ran after it and committed.
    assert builders.patrols_per_site(app) == {"TEST": 2}
    assert builders.materialized_until(app) == {two_sites["TEST"]: at("2026-11-03 06:00"), two_sites["OTHER"]: None}
    beat = builders.heartbeats(app)["materialize"]
    assert beat.last_ok is False and beat.last_result == summary and beat.runs == 1
    assert "FAILED" in cli(app, "status").output
    # The scheduler page words the same run in the reader's language, the failed site named.
    admin = helpers.make_user(app, "root", roles=("admin",))
    page = app.test_client()
    helpers.login(page, admin)
    html = page.get("/admin/scheduler/").get_data(as_text=True)
    assert "1 个计划，生成巡查 2 次（其中已漏巡 0 次）" in html and "办公区 OTHER 运行失败" in html
    assert "patrols created" not in html and "FAILED" not in html

    monkeypatch.undo()  # OTHER mended: the next run catches it up, and TEST has nothing new
    with app.app_context():
        result = jobs.run_job("materialize", at("2026-11-02 06:05"))
    assert result.ran and result.ok and result.summary == "2 plans, 2 patrols created (0 already missed)"
    assert builders.patrols_per_site(app) == {"TEST": 2, "OTHER": 2}
    beat = builders.heartbeats(app)["materialize"]
    assert beat.last_ok is True and beat.runs == 2


def test_a_per_site_job_gets_each_site_and_summarizes_the_ones_that_succeeded(app, two_sites, monkeypatch):
    monkeypatch.setattr(jobs, "JOBS", dict(jobs.JOBS))
    seen = []

    def count(session, site, now):
        seen.append((site.code, session().in_transaction()))
        if site.code == "TEST":
            raise ValueError("bad data")
        return 3

    jobs.register(jobs.Job("counting", 60, count, "counts", per_site=True,
                           summarize=lambda results: f"{sum(n for _s, n in results)} counted"))
    with app.app_context():
        result = jobs.run_job("counting", at("2026-11-02 06:00"))
    assert seen == [("OTHER", False), ("TEST", False)]  # each site starts a transaction of its own
    assert result.ran and not result.ok and result.summary == "3 counted; FAILED TEST: ValueError: bad data"


def test_an_interrupted_per_site_job_keeps_the_sites_done_and_writes_no_heartbeat(app, two_sites, monkeypatch):
    real = patrol_services.materialize

    def interrupted_at_test(session, now, *, site=None, **kwargs):
        if site.code == "TEST":
            raise KeyboardInterrupt
        return real(session, now, site=site, **kwargs)

    monkeypatch.setattr(patrol_services, "materialize", interrupted_at_test)
    with app.app_context(), pytest.raises(KeyboardInterrupt):
        jobs.run_job("materialize", at("2026-11-02 06:00"))
    assert builders.patrols_per_site(app) == {"OTHER": 2} and builders.heartbeats(app) == {}
    with app.app_context():
        assert not db.session().in_transaction()


def test_a_starting_scheduler_runs_the_patrol_jobs_before_it_closes_a_month(app):
    """After downtime every job is due at once: the patrols are made and marked missed before close_month settles
    the month on them, and the backup comes last."""
    built = runner.build(app)
    first_runs = [job.id for job in sorted(built.get_jobs(), key=lambda job: job.next_run_time)]
    assert first_runs == jobs.startup_order()
    assert first_runs[:3] == ["mark_missed", "materialize", "remind"]
    assert first_runs[-2:] == ["close_month", "nightly_backup"]
