"""The scheduler's fixed jobs. Each runs in one transaction, from database state, and is idempotent.

On PostgreSQL a job first takes a transaction-scoped advisory lock; a second scheduler that finds the
lock taken skips that run. On SQLite the write transaction (BEGIN IMMEDIATE) serialises them. Either
way the unique keys make a duplicate impossible even if two runs did overlap.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import text
from sqlalchemy.orm import Session

from gridpatrol.core.db import lock_key, write_intent
from gridpatrol.core.time import utcnow
from gridpatrol.extensions import db
from gridpatrol.patrols import services as patrols
from gridpatrol.scheduler.models import JobHeartbeat


@dataclass(frozen=True)
class Job:
    name: str
    every_seconds: int
    run: Callable[[Session, dt.datetime], str]
    description: str


def _materialize(session: Session, now: dt.datetime) -> str:
    report = patrols.materialize(session, now)
    return (f"{report.plans} plans, {report.created} patrols created ({report.created_missed} already missed)"
            + (f"; skipped plans without a published standard: {', '.join(report.skipped_plans)}"
               if report.skipped_plans else ""))


def _mark_missed(session: Session, now: dt.datetime) -> str:
    return f"{len(patrols.mark_missed(session, now))} patrols marked missed"


def _remind(session: Session, now: dt.datetime) -> str:
    return f"{patrols.remind(session, now)} reminders sent"


JOBS: dict[str, Job] = {job.name: job for job in (
    Job("materialize", 300, _materialize, "make the patrols whose window starts within 24 hours"),
    Job("mark_missed", 60, _mark_missed, "mark patrols missed when their grace period has ended"),
    Job("remind", 300, _remind, "remind leaders of patrols due within the hour"),
)}


def register(job: Job) -> None:
    """Later capabilities (escalation, month close) add their jobs here."""
    JOBS[job.name] = job


@dataclass(frozen=True)
class RunResult:
    job: str
    ran: bool
    summary: str


def run_job(name: str, now: dt.datetime | None = None) -> RunResult:
    """Run one job once in its own transaction (needs an app context). The heartbeat commits with it."""
    job = JOBS[name]
    started = utcnow()
    now = now or started
    session = db.session
    with write_intent():
        try:
            if session.get_bind().dialect.name == "postgresql":
                got = session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"),
                                      {"k": lock_key("scheduler-job:" + name)}).scalar()
                if not got:
                    session.rollback()
                    return RunResult(name, False, "another scheduler is running this job")
            summary = job.run(session, now)
            _beat(session, name, started, ok=True, summary=summary)
            session.commit()
            return RunResult(name, True, summary)
        except BaseException as exc:
            session.rollback()
            if isinstance(exc, Exception):
                _beat(session, name, started, ok=False, summary=f"{type(exc).__name__}: {exc}")
                session.commit()
            raise


def _beat(session: Session, name: str, started: dt.datetime, *, ok: bool, summary: str) -> None:
    beat = session.get(JobHeartbeat, name) or JobHeartbeat(job=name, runs=0)
    session.add(beat)
    beat.last_started_at, beat.last_finished_at = started, utcnow()
    beat.last_ok, beat.last_result = ok, summary[:2000]
    beat.host, beat.pid = socket.gethostname()[:120], os.getpid()
    beat.runs = (beat.runs or 0) + 1
    session.flush()


def heartbeats(session: Session) -> list[JobHeartbeat]:
    from sqlalchemy import select

    return list(session.scalars(select(JobHeartbeat).order_by(JobHeartbeat.job)))
