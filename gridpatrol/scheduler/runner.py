"""`gridpatrol scheduler run`: APScheduler's blocking scheduler running every registered job, in its own process.

The jobs are read from the registry when the scheduler is built, after create_app, so every domain's jobs
(registered by its init_app) are there.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from gridpatrol.scheduler import jobs

log = logging.getLogger("gridpatrol.scheduler")

# Explicit defaults: a job that fell behind runs once (not once per missed tick), never twice at a time,
# and a tick late by up to 10 minutes still runs. One worker thread: jobs run one after another.
JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 600}


def build(app: Flask) -> BlockingScheduler:
    scheduler = BlockingScheduler(timezone=dt.timezone.utc, job_defaults=JOB_DEFAULTS,
                                  executors={"default": ThreadPoolExecutor(max_workers=1)})
    now = dt.datetime.now(dt.timezone.utc)
    for position, name in enumerate(jobs.startup_order()):
        job = jobs.JOBS[name]
        # First run at once, to catch up, in the startup order (a millisecond apart: the one worker thread runs
        # them in turn), so a month is closed only after its last patrols were made and marked missed.
        scheduler.add_job(_run_in_app, "interval", seconds=job.every_seconds, args=(app, job.name),
                          id=job.name, name=job.description,
                          next_run_time=now + dt.timedelta(milliseconds=position))
    return scheduler


def _run_in_app(app: Flask, name: str) -> None:
    with app.app_context():
        try:
            result = jobs.run_job(name)
        except Exception:
            log.exception("job %s failed", name, extra={"job": name, "ok": False})
            return
    (log.info if result.ok else log.warning)("job %s: %s", name, result.summary,
                                             extra={"job": name, "ok": result.ok, "summary": result.summary})


def run(app: Flask) -> None:
    scheduler = build(app)

    def stop(signum, _frame):
        log.info("signal %s: stopping after the running job", signum)
        scheduler.shutdown(wait=True)

    signal.signal(signal.SIGTERM, stop)
    log.info("scheduler started with jobs: %s", ", ".join(jobs.JOBS))
    scheduler.start()
