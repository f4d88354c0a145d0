"""What `/healthz` checks, for monitoring: each part of an installation that can fail while the web still answers.

- database: reachable from this worker, and how long `SELECT 1` took;
- migrations: the database's schema revision is the code's head (an upgrade was not forgotten);
- scheduler: every registered job ran recently (its heartbeat is younger than twice its interval plus a slack) and
  its last run did not fail;
- uploads: the photo directory's disk has room left;
- calendar: the working-day calendar of the next 90 days is official (package or imported notice), not
  provisional, for every site.

Each check answers for itself; one that cannot run (the database is down) is failing, never an exception.
"""

from __future__ import annotations

import datetime as dt
import functools
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from alembic.config import Config
from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gridpatrol.core import photos
from gridpatrol.core.time import local_day
from gridpatrol.grids.models import Site
from gridpatrol.scheduler import jobs as scheduler_jobs
from gridpatrol.workdays import services as workdays
from gridpatrol.workdays.sources import DaySource

CALENDAR_DAYS_AHEAD = 90
# A job's heartbeat may be this much older than twice its interval before it counts as stale: a run that waits
# behind a long one (jobs run one at a time) is not a dead scheduler.
SCHEDULER_SLACK = dt.timedelta(minutes=10)


@dataclass
class Check:
    ok: bool
    detail: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, **self.detail}


@dataclass
class Health:
    checks: dict[str, Check]
    checked_at: dt.datetime

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks.values())

    def as_json(self) -> dict[str, Any]:
        return {"status": "ok" if self.ok else "failing", "checked_at": self.checked_at.isoformat(),
                "checks": {name: check.as_json() for name, check in self.checks.items()}}


def check_database(session: Session) -> Check:
    started = time.perf_counter()
    try:
        session.execute(text("SELECT 1"))
    except Exception as error:  # any driver error means: not reachable from here
        session.rollback()
        return Check(False, {"error": type(error).__name__})
    return Check(True, {"latency_ms": round((time.perf_counter() - started) * 1000, 2),
                        "dialect": session.get_bind().dialect.name})


@functools.lru_cache(maxsize=1)
def _head_revisions(migrations_dir: str) -> tuple[str, ...]:
    config = Config()
    config.set_main_option("script_location", migrations_dir)
    return tuple(sorted(ScriptDirectory.from_config(config).get_heads()))


def check_migrations(session: Session) -> Check:
    from gridpatrol import MIGRATIONS_DIR

    heads = _head_revisions(MIGRATIONS_DIR)
    current = tuple(sorted(session.scalars(text("SELECT version_num FROM alembic_version"))))
    return Check(current == heads, {"current": list(current), "head": list(heads)})


def check_scheduler(session: Session, now: dt.datetime) -> Check:
    beats = {beat.job: beat for beat in scheduler_jobs.heartbeats(session)}
    report: dict[str, Any] = {}
    for name in scheduler_jobs.names():
        job = scheduler_jobs.JOBS[name]
        beat = beats.get(name)
        allowed = dt.timedelta(seconds=2 * job.every_seconds) + SCHEDULER_SLACK
        if beat is None or beat.last_started_at is None:
            report[name] = {"ok": False, "age_seconds": None, "every_seconds": job.every_seconds, "last_ok": None}
            continue
        age = now - beat.last_started_at
        ok = age <= allowed and beat.last_ok is not False
        report[name] = {"ok": ok, "age_seconds": int(age.total_seconds()), "every_seconds": job.every_seconds,
                        "last_ok": beat.last_ok}
    return Check(all(job["ok"] for job in report.values()), {"jobs": report})


def check_uploads(min_free_bytes: int, directory: Optional[Path] = None) -> Check:
    """Free space where photos are written: the photo directory's disk. With photos in the database its disk is the
    database server's, which this host cannot see: the check then says so and passes."""
    if directory is None and current_app.config["PHOTO_STORAGE"] == "database":
        return Check(True, {"storage": "database"})
    directory = directory or photos.photo_dir()
    probe = directory
    while not probe.exists() and probe != probe.parent:  # before the first photo: the disk it will be made on
        probe = probe.parent
    try:
        free = shutil.disk_usage(probe).free
    except OSError as error:
        return Check(False, {"error": type(error).__name__})
    return Check(free >= min_free_bytes, {"storage": "directory", "free_bytes": free, "min_free_bytes": min_free_bytes})


def check_calendar(session: Session, now: dt.datetime) -> Check:
    sites = list(session.scalars(select(Site).order_by(Site.code)))
    report: dict[str, Any] = {}
    for site in sites or [None]:
        calendar = workdays.calendar_for(session, site)
        today = local_day(now, site.timezone if site is not None else current_app.config["DEFAULT_TIMEZONE"])
        last = today + dt.timedelta(days=CALENDAR_DAYS_AHEAD)
        provisional = [year for year in range(today.year, last.year + 1)
                       if calendar.year_source(year) is DaySource.PROVISIONAL]
        first = max(today, dt.date(provisional[0], 1, 1)) if provisional else None
        report[site.code if site is not None else "*"] = {
            "ok": not provisional, "covered_until": last.isoformat() if not provisional else None,
            "first_provisional_day": first.isoformat() if first else None,
        }
    return Check(all(entry["ok"] for entry in report.values()), {"sites": report})


def check_all(session: Session, now: dt.datetime) -> Health:
    """Every check; the ones that read the database are skipped (and failing) when it is unreachable."""
    database = check_database(session)
    checks: dict[str, Check] = {"database": database}
    readers: dict[str, Callable[[], Check]] = {
        "migrations": lambda: check_migrations(session),
        "scheduler": lambda: check_scheduler(session, now),
        "calendar": lambda: check_calendar(session, now),
    }
    for name, read in readers.items():
        checks[name] = read() if database.ok else Check(False, {"error": "database unreachable"})
    checks["uploads"] = check_uploads(current_app.config["HEALTH_MIN_FREE_UPLOAD_MB"] * 1024 * 1024)
    return Health(checks, now)
