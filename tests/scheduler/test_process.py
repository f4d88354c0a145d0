"""The scheduler as its own process (`gridpatrol scheduler run | run-once | status`), on both databases.

These start real processes against the test's database: the catch-up at start, SIGTERM, kill -9 in the
middle of the materialise transaction followed by a restart, two schedulers side by side, and the
operator's `run-once --now` across a week of downtime.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest
import sqlalchemy as sa

from gridpatrol.core.db import lock_key
from gridpatrol.extensions import db
from gridpatrol.notifications.models import Notification
from gridpatrol.patrols.models import Patrol, Recurrence
from gridpatrol.scheduler import jobs
from tests import helpers
from tests.patrols import builders as patrol_builders
from tests.patrols.builders import at
from tests.scheduler import builders

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
TESTING_SETTINGS = REPO_ROOT / "config" / "testing.py"
STARTUP_TIMEOUT = 45.0


def gridpatrol_command() -> list[str]:
    """The installed console script, or the same entry point through this interpreter."""
    script = Path(sys.executable).parent / "gridpatrol"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from gridpatrol.cli import main; sys.exit(main())"]


def scheduler_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDPATROL_")}
    env.update({"GRIDPATROL_SETTINGS": str(TESTING_SETTINGS), "GRIDPATROL_DATABASE_URL": database_url,
                "GRIDPATROL_LOG_LEVEL": "INFO"})  # the runner logs each run (and each skip) at INFO
    return env


def cli(database_url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(gridpatrol_command() + list(args), cwd=REPO_ROOT, env=scheduler_env(database_url),
                          capture_output=True, text=True, timeout=60)


def wait_until(condition: Callable[[], object], what: str, timeout: float = STARTUP_TIMEOUT,
               interval: float = 0.05, describe: Callable[[], str] = lambda: ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}\n{describe()}")


class Scheduler:
    """`gridpatrol scheduler run` in a subprocess, its output in a log file."""

    def __init__(self, database_url: str, log_path: Path):
        self.log_path = log_path
        self._log = open(log_path, "w")
        self.process = subprocess.Popen(gridpatrol_command() + ["scheduler", "run"], cwd=REPO_ROOT,
                                        env=scheduler_env(database_url), stdout=self._log,
                                        stderr=subprocess.STDOUT)
        self.pid = self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def describe(self) -> str:
        return f"--- {self.log_path.name} (pid {self.pid}, exit {self.process.poll()}) ---\n{self.log()}"

    def alive(self) -> bool:
        return self.process.poll() is None

    def runs_logged(self, job: str) -> list[str]:
        """The summaries the runner logged for job: one line per run (or skip) that returned.

        Only the lines in the format `scheduler run` gives the root logger: the same record also comes out
        through Flask's handler on the `gridpatrol` logger, as "[time] INFO in runner: ...".
        """
        return re.findall(rf"^\S+ \S+ INFO job {job}: (.*)$", self.log(), flags=re.M)

    def wait_startup_runs(self, timeout: float = STARTUP_TIMEOUT) -> None:
        """Until every job's first run (the catch-up at start) has returned, ran or skipped."""
        def done():
            assert self.alive(), self.describe()
            assert "Traceback" not in self.log(), self.describe()
            return all(self.runs_logged(job) for job in jobs.JOBS)
        wait_until(done, f"the startup runs of scheduler {self.pid}", timeout, describe=self.describe)

    def terminate(self, timeout: float = 20.0) -> tuple[int, float]:
        """SIGTERM; (exit code, seconds it took to exit)."""
        began = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the scheduler did not exit within {timeout:.0f}s of SIGTERM\n{self.describe()}")
        return code, time.monotonic() - began

    def kill(self) -> int:
        self.process.send_signal(signal.SIGKILL)
        return self.process.wait(timeout=20)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=20)
        self._log.close()


@pytest.fixture
def start_scheduler(database_url, tmp_path):
    started: list[Scheduler] = []

    def start(name: str = "scheduler") -> Scheduler:
        scheduler = Scheduler(database_url, tmp_path / f"{name}-{len(started)}.log")
        started.append(scheduler)
        return scheduler

    yield start
    for scheduler in started:  # only the processes this test started, by their own handles
        scheduler.close()


def wait_heartbeats(app, scheduler: Scheduler, names=None) -> dict:
    """Until every registered job (later capabilities add theirs) has a heartbeat."""
    names = tuple(names or jobs.JOBS)

    def beats():
        assert scheduler.alive(), scheduler.describe()
        found = builders.heartbeats(app)
        return found if all(n in found for n in names) else None
    return wait_until(beats, f"heartbeats of {', '.join(names)}", describe=scheduler.describe)


def assert_exactly_the_expected_patrols(app) -> set:
    expected = builders.expected_keys(app)
    stored = builders.patrol_keys(app)
    assert expected, "the plans owe patrols"
    assert builders.duplicate_keys(app) == []
    assert len(stored) == len(set(stored)) == len(expected)
    assert set(stored) == expected
    return expected


# --- mid-run detection ---------------------------------------------------------------------------------
def _advisory_lock_held(database_url: str, name: str) -> bool:
    key = lock_key(name) & 0xFFFFFFFFFFFFFFFF
    engine = sa.create_engine(helpers.psycopg_url(database_url), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return bool(conn.execute(sa.text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
                " AND classid::bigint = :hi AND objid::bigint = :lo"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"),
                {"hi": key >> 32, "lo": key & 0xFFFFFFFF}).scalar())
    finally:
        engine.dispose()


def _sqlite_path(database_url: str) -> str:
    return database_url[len("sqlite:///"):]


def _sqlite_state(database_url: str) -> tuple[bool, set[str]]:
    """(a writer holds the write lock, jobs with a committed heartbeat)."""
    conn = sqlite3.connect(_sqlite_path(database_url), timeout=0, isolation_level=None)
    try:
        beats = {row[0] for row in conn.execute("SELECT job FROM job_heartbeats")}
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                return True, beats
            raise
        conn.execute("ROLLBACK")
        return False, beats
    finally:
        conn.close()


def wait_materialize_in_flight(database_url: str, scheduler: Scheduler) -> str:
    """Block until the scheduler is inside the materialise job's transaction; say how we know.

    PostgreSQL: the job's transaction-scoped advisory lock is granted (it is taken first and held until the
    commit). SQLite: the first jobs run in order mark_missed, materialize, remind (same start time, ties
    broken by job id, one worker thread); once mark_missed has committed its heartbeat, materialize has not,
    and the write lock is held on several probes in a row, the materialise transaction is open.
    """
    postgres = database_url.startswith("postgresql")
    streak = 0

    def in_flight():
        nonlocal streak
        assert scheduler.alive(), scheduler.describe()
        if postgres:
            return "advisory lock scheduler-job:materialize granted" if _advisory_lock_held(
                database_url, "scheduler-job:materialize") else None
        locked, beats = _sqlite_state(database_url)
        assert "materialize" not in beats, "materialize finished before it could be caught mid-run: " \
                                           "make the data larger"
        streak = streak + 1 if locked and "mark_missed" in beats else 0
        return "SQLite write lock held by the materialise transaction" if streak >= 3 else None

    return wait_until(in_flight, "the materialise job to be mid-transaction", interval=0.02,
                      describe=scheduler.describe)


def big_catch_up(app, *, grids: int, days: int) -> None:
    """grids² grids and a daily plan that began `days` ago: tens of thousands of patrols to make at start."""
    codes = builders.lattice(app, grids)
    patrol_builders.make_plan(app, grids=codes, starts_on=builders.today_in_shanghai() - dt.timedelta(days=days))


# --- tests -----------------------------------------------------------------------------------------------
def test_scheduler_catches_up_at_start_and_stops_on_sigterm(app, start_scheduler):
    patrol_builders.compound(app)
    today = builders.today_in_shanghai()
    daily = patrol_builders.make_plan(app, grids=("A01", "A02", "A03"), starts_on=today - dt.timedelta(days=3))
    workdays = patrol_builders.make_plan(app, grids=("A04",), recurrence=Recurrence.WORKDAYS, window="14:30",
                                         starts_on=today - dt.timedelta(days=10))

    scheduler = start_scheduler()
    beats = wait_heartbeats(app, scheduler)

    assert all(b.last_ok and b.runs == 1 and b.pid == scheduler.pid for b in beats.values()), beats
    expected = assert_exactly_the_expected_patrols(app)
    assert {plan for plan, _grid, _start in expected} == {daily, workdays}
    started = beats["materialize"].last_started_at
    assert builders.materialized_until(app) == {daily: started + dt.timedelta(hours=24),
                                                workdays: started + dt.timedelta(hours=24)}
    with app.app_context():
        stored = db.session.scalars(sa.select(Patrol)).all()
        # Windows already closed when the catch-up ran were made missed; the rest wait to be done.
        assert {p.id for p in stored if p.status == "missed"} == {p.id for p in stored if p.grace_until <= started}
        assert {p.status for p in stored if p.grace_until > started} <= {"scheduled"}
        leaders = {p.grid.code: p.assignee.username if p.assignee else None for p in stored}
    assert leaders == {"A01": "leader0", "A02": "leader1", "A03": None, "A04": None}
    assert "scheduler started with jobs: " in scheduler.log()

    code, took = scheduler.terminate()
    assert code == 0, scheduler.describe()
    assert took < 10, f"took {took:.1f}s to stop"
    assert "stopping after the running job" in scheduler.log()
    assert "Traceback" not in scheduler.log(), scheduler.describe()


def test_kill_9_mid_materialize_commits_nothing_and_a_restart_makes_every_patrol_once(
        app, database_url, start_scheduler):
    big_catch_up(app, grids=20, days=60)  # 24,400 patrols: long enough to be caught mid-transaction

    first = start_scheduler("killed")
    how = wait_materialize_in_flight(database_url, first)
    assert first.kill() == -signal.SIGKILL

    # The transaction never committed: no heartbeat for it, no patrol, no catch-up mark.
    beats = builders.heartbeats(app)
    assert "materialize" not in beats, f"the kill came after the commit ({how})"
    assert builders.patrol_count(app) == 0
    assert set(builders.materialized_until(app).values()) == {None}
    if database_url.startswith("postgresql"):
        # The killed client's backend rolls back and lets go of the job's lock once it notices.
        wait_until(lambda: not _advisory_lock_held(database_url, "scheduler-job:materialize"),
                   "PostgreSQL to release the killed scheduler's advisory lock", timeout=30)

    second = start_scheduler("restarted")
    beats = wait_heartbeats(app, second)
    assert beats["materialize"].last_ok and beats["materialize"].pid == second.pid, second.describe()
    expected = assert_exactly_the_expected_patrols(app)
    assert len(expected) >= 20 * 20 * 60
    started = beats["materialize"].last_started_at
    assert set(builders.materialized_until(app).values()) == {started + dt.timedelta(hours=24)}

    code, _took = second.terminate()
    assert code == 0, second.describe()


def test_sigterm_during_a_run_lets_it_finish_and_commit(app, database_url, start_scheduler):
    big_catch_up(app, grids=15, days=60)

    scheduler = start_scheduler()
    wait_materialize_in_flight(database_url, scheduler)
    code, _took = scheduler.terminate(timeout=60)

    assert code == 0, scheduler.describe()
    beats = builders.heartbeats(app)
    assert beats["materialize"].last_ok, scheduler.describe()
    assert_exactly_the_expected_patrols(app)


def test_two_schedulers_side_by_side_make_every_patrol_once(app, database_url, start_scheduler):
    codes = builders.lattice(app, 10)
    for i in range(4):
        helpers.make_user(app, f"lead{i}", roles=("grid_leader", "staff"))
    _assign_leaders(app, {codes[i]: f"lead{i}" for i in range(4)})
    today = builders.today_in_shanghai()

    def clock(hours: float) -> str:  # a time of day `hours` from now, in the site's zone
        moment = dt.datetime.now(builders.SHANGHAI) + dt.timedelta(hours=hours)
        return moment.time().replace(second=0, microsecond=0).isoformat(timespec="minutes")

    # The three catch-up plans' windows lie 5–7 hours ahead, whatever the time of day the test runs at, so
    # none of them is open or due within the reminder horizon now: only the plan below is reminded.
    patrol_builders.make_plan(app, grids=codes, window=clock(5), starts_on=today - dt.timedelta(days=40))
    patrol_builders.make_plan(app, grids=codes, recurrence=Recurrence.WORKDAYS, window=clock(6),
                              starts_on=today - dt.timedelta(days=40))
    patrol_builders.make_plan(app, grids=codes, recurrence=Recurrence.WEEKDAYS, weekdays=[0, 3], window=clock(7),
                              starts_on=today - dt.timedelta(days=40))
    # A window open right now on the leaders' grids, so the reminder job has work too.
    patrol_builders.make_plan(app, grids=codes[:4], window=clock(-0.5), minutes=120,
                              starts_on=today - dt.timedelta(days=2))

    pair = [start_scheduler("a"), start_scheduler("b")]  # started together: their catch-ups overlap
    for scheduler in pair:
        scheduler.wait_startup_runs()

    assert_exactly_the_expected_patrols(app)
    beats = builders.heartbeats(app)
    assert set(beats) == set(jobs.JOBS) and all(beat.last_ok for beat in beats.values()), beats
    for name in jobs.JOBS:
        # Every startup run either ran (and beat) or, on PostgreSQL, saw the other's lock and skipped.
        skipped = sum(s.runs_logged(name).count("another scheduler is running this job") for s in pair)
        assert beats[name].runs + skipped == 2, (name, beats[name].runs, skipped)
        if not database_url.startswith("postgresql"):
            assert skipped == 0  # SQLite has no advisory lock: the second run waits and then does nothing new
    with app.app_context():
        keys = db.session.execute(sa.select(Notification.user_id, Notification.key)).all()
    assert len(keys) == len(set(keys)) == 4  # one reminder per leader's open patrol, not two

    for scheduler in pair:
        code, _took = scheduler.terminate()
        assert code == 0, scheduler.describe()
    skips = {s.log_path.name: sum(line == "another scheduler is running this job"
                                  for job in jobs.JOBS for line in s.runs_logged(job)) for s in pair}
    print(f"runs skipped through the advisory lock: {skips}")


def _assign_leaders(app, leaders: dict[str, str]) -> None:
    from gridpatrol.accounts.models import User
    from gridpatrol.core.transaction import job_transaction
    from gridpatrol.grids import services as grids
    from gridpatrol.grids.models import AssignmentRole, Grid

    with app.app_context(), job_transaction() as session:
        for code, username in leaders.items():
            grid = session.scalar(sa.select(Grid).where(Grid.code == code))
            user = session.scalar(sa.select(User).where(User.username == username))
            grids.assign(session, grid, user, AssignmentRole.LEADER, actor=None)


def test_run_once_across_a_week_of_downtime_and_status(app, database_url):
    patrol_builders.compound(app)
    plan = patrol_builders.make_plan(app, grids=("A01",), starts_on=dt.date(2026, 11, 2))

    first = cli(database_url, "scheduler", "run-once", "materialize", "--now", "2026-11-02T06:00:00+08:00")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "materialize: 1 plans, 1 patrols created (0 already missed)"

    # Down from the 2nd to the 9th: the windows slept through are made, already missed.
    week = cli(database_url, "scheduler", "run-once", "materialize", "--now", "2026-11-09T09:00:00+08:00")
    assert week.returncode == 0, week.stderr
    assert week.stdout.strip() == "materialize: 1 plans, 8 patrols created (6 already missed)"
    # ...and the one made before the downtime is marked missed (UTC input is accepted too).
    missed = cli(database_url, "scheduler", "run-once", "mark_missed", "--now", "2026-11-09T01:00:00Z")
    assert missed.returncode == 0 and missed.stdout.strip() == "mark_missed: 1 patrols marked missed", missed
    remind = cli(database_url, "scheduler", "run-once", "remind", "--now", "2026-11-09T07:30:00+08:00")
    assert remind.stdout.strip() == "remind: 1 reminders sent", remind

    statuses = {p.window_start.astimezone(builders.SHANGHAI).day: p.status for p in patrol_builders.patrols(app)}
    assert statuses == {**{day: "missed" for day in range(2, 9)}, 9: "scheduled", 10: "scheduled"}
    assert builders.materialized_until(app) == {plan: at("2026-11-10 09:00")}

    status = cli(database_url, "scheduler", "status")
    assert status.returncode == 0, status.stderr
    # (A warning about the coming year's provisional calendar may follow the jobs: workdays/warnings.py.)
    lines = {line.split()[0]: line for line in status.stdout.splitlines() if not line.startswith("WARNING:")}
    assert set(lines) == {"mark_missed", "materialize", "remind"}  # only the jobs that ran
    assert re.match(r"materialize +ok +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d pid \d+ on \S+: "
                    r"1 plans, 8 patrols created \(6 already missed\)$", lines["materialize"]), lines
    assert lines["mark_missed"].endswith(": 1 patrols marked missed")
    beats = builders.heartbeats(app)
    assert beats["materialize"].runs == 2 and f"pid {beats['materialize'].pid} " in lines["materialize"]


def test_run_once_refuses_a_time_without_zone_and_an_unknown_job_and_status_says_never_run(app, database_url):
    naive = cli(database_url, "scheduler", "run-once", "materialize", "--now", "2026-11-09T09:00:00")
    assert naive.returncode == 2 and "give a time zone offset" in naive.stderr
    unknown = cli(database_url, "scheduler", "run-once", "no_such_job")
    assert unknown.returncode == 2 and "no_such_job" in unknown.stderr
    never = cli(database_url, "scheduler", "status")
    assert never.returncode == 0 and never.stdout.splitlines()[0] == "the scheduler has never run", never
    assert builders.heartbeats(app) == {}
