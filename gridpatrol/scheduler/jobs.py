"""The scheduler's job registry and how one job runs. The jobs themselves belong to their domains.

Each domain registers its jobs from its `init_app` (`patrols.jobs`, `issues.jobs`, `points.jobs` call
`register`); this package imports no domain. A job works from database state and is idempotent.

Two kinds of job:
- a whole job, `run(session, now) -> summary`, runs in one transaction;
- a per-site job (`per_site=True`), `run(session, site, now) -> result`, runs once for every site, each site
  in its own transaction: one broken site is rolled back, logged and named in the heartbeat (which is then
  not ok), while the other sites' work commits. `summarize(results)` turns the (site, result) pairs of the
  sites that succeeded into the summary.

The sites are read from the `sites` table through a bare table clause (`SITES`): the list of sites is a fact
of the schema (owned by the migrations), not of the grids package, so the scheduler stays below every domain,
needs nobody to hand it a site source, and every per-site job sees every site. Jobs get a `SiteRef` (id and
code) and load whatever they need of the site themselves.

On PostgreSQL a run first takes an advisory lock named after the job, held for the whole run (across the
per-site transactions) on a connection of its own; a second scheduler that finds the lock taken skips that
run. On SQLite each write transaction begins IMMEDIATE, which serialises them. Either way the unique keys make
a duplicate impossible even if two runs did overlap.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import socket
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional

import sqlalchemy as sa
from flask_babel import force_locale
from sqlalchemy.orm import Session

from gridpatrol.core.db import lock_key, write_intent
from gridpatrol.core.time import utcnow
from gridpatrol.extensions import db
from gridpatrol.scheduler.models import JobHeartbeat

log = logging.getLogger("gridpatrol.scheduler")

SKIPPED = "another scheduler is running this job"

# The sites, read without importing the grids package (see the module docstring).
SITES = sa.table("sites", sa.column("id", sa.Integer), sa.column("code", sa.String))


@dataclass(frozen=True)
class SiteRef:
    id: int
    code: str


@dataclass(frozen=True)
class Job:
    name: str
    every_seconds: int
    run: Callable[..., Any]  # (session, now) -> str; per site: (session, site: SiteRef, now) -> result
    description: str
    per_site: bool = False
    # Per-site jobs: the summary of [(site, result), …] for the sites that succeeded (in site code order).
    summarize: Optional[Callable[[list[tuple[SiteRef, Any]]], str]] = None
    # What the scheduler page calls the job, in the reader's language (a lazy string); the description (English,
    # for the process's log) when none is given.
    title: Any = None
    # With `explain`, `summarize` (a per-site job) or `run` (a whole job) returns the run's facts (JSON-safe; kept in
    # the heartbeat) and `explain(facts)` words them in the current locale: the scheduler page's reader, English
    # for the log and the command line.
    explain: Optional[Callable[[Any], str]] = None
    # Where the job's first run comes when a scheduler starts (all are due at once after downtime): lower first.
    # Patrols are marked missed and made before anything settles on them (closing a month), the backup last.
    startup_rank: int = 50


JOBS: dict[str, Job] = {}


def register(job: Job) -> None:
    """Add (or replace) a job. Domains call this from their `register_jobs()`, run by their init_app."""
    JOBS[job.name] = job


# Warnings other domains want beside the jobs' heartbeats (`gridpatrol scheduler status`, the scheduler page):
# each provider returns lines in words, e.g. the workday calendar of a coming year still being provisional.
STATUS_NOTES: list[Callable[[Session, dt.datetime], list[str]]] = []


def register_status_note(provider: Callable[[Session, dt.datetime], list[str]]) -> None:
    if provider not in STATUS_NOTES:
        STATUS_NOTES.append(provider)


def status_notes(session: Session, now: dt.datetime) -> list[str]:
    return [line for provider in STATUS_NOTES for line in provider(session, now)]


def names() -> list[str]:
    return sorted(JOBS)


def startup_order() -> list[str]:
    """The jobs in the order a starting scheduler runs them first (by `startup_rank`, then name)."""
    return [job.name for job in sorted(JOBS.values(), key=lambda job: (job.startup_rank, job.name))]


@dataclass(frozen=True)
class RunResult:
    job: str
    ran: bool
    summary: str
    ok: bool = True  # False when a site failed (the others' work is committed)


def run_job(name: str, now: dt.datetime | None = None) -> RunResult:
    """Run one job once (needs an app context). The heartbeat commits with a whole job's work, or after the
    sites of a per-site job. A whole job that fails rolls back, records a failed heartbeat and re-raises."""
    job = JOBS[name]
    started = utcnow()
    now = now or started
    with _job_lock(name) as got:
        if not got:
            return RunResult(name, False, SKIPPED)
        if job.per_site:
            return _run_per_site(job, started, now)
        return _run_whole(job, started, now)


def _run_whole(job: Job, started: dt.datetime, now: dt.datetime) -> RunResult:
    session = db.session
    with write_intent():
        try:
            result = job.run(session, now)
            summary, facts = result, None
            if job.explain is not None:  # the run's facts, worded in English for the log and when read
                with force_locale("en"):
                    summary, facts = str(job.explain(result)), {"result": result}
            _beat(session, job.name, started, ok=True, summary=summary, facts=facts)
            session.commit()
            return RunResult(job.name, True, summary)
        except BaseException as exc:
            session.rollback()
            if isinstance(exc, Exception):
                error = f"{type(exc).__name__}: {exc}"
                _beat(session, job.name, started, ok=False, summary=error, facts={"error": error})
                session.commit()
            raise


def _run_per_site(job: Job, started: dt.datetime, now: dt.datetime) -> RunResult:
    session = db.session
    sites = site_refs(session)
    session.rollback()  # end the read: each site gets a write transaction of its own
    results: list[tuple[SiteRef, Any]] = []
    failures: list[tuple[SiteRef, Exception]] = []
    for site in sites:
        with write_intent():
            try:
                result = job.run(session, site, now)
                session.commit()
            except Exception as exc:
                session.rollback()
                log.exception("job %s failed for site %s", job.name, site.code)
                failures.append((site, exc))
                continue
            except BaseException:
                session.rollback()  # interrupted: the sites done so far stay done, no heartbeat
                raise
        results.append((site, result))
    summary, facts = _summary(job, results)
    failed = [[site.code, f"{type(exc).__name__}: {exc}"] for site, exc in failures]
    if failed:
        summary += "; FAILED " + "; ".join(f"{code}: {error}" for code, error in failed)
    with write_intent():
        try:
            _beat(session, job.name, started, ok=not failures, summary=summary,
                  facts={"result": facts, "failed": failed} if job.explain or failed else None)
            session.commit()
        except BaseException:
            session.rollback()
            raise
    return RunResult(job.name, True, summary, ok=not failures)


def _summary(job: Job, results: list[tuple[SiteRef, Any]]) -> tuple[str, Any]:
    """The English line of a per-site run and, for a job that explains itself, its facts."""
    if job.summarize is None:
        return "; ".join(f"{site.code}: {result}" for site, result in results) or "no site", None
    facts = job.summarize(results)
    if job.explain is None:
        return str(facts), None
    with force_locale("en"):
        return str(job.explain(facts)), facts


@dataclass(frozen=True)
class ResultInWords:
    text: Optional[str]             # what the run did, in the current locale (None: nothing to say)
    failed: list[tuple[str, str]]   # (site code, error) of the sites that failed
    error: Optional[str] = None     # a whole job's failure


def result_in_words(beat: JobHeartbeat) -> ResultInWords:
    """The last run of a job for the scheduler page, in the reader's language where the job explains its
    facts; the stored English line for a job that does not (or a heartbeat older than the facts)."""
    job, facts = JOBS.get(beat.job), beat.last_facts
    if not facts:
        return ResultInWords(beat.last_result, [])
    if "error" in facts:
        return ResultInWords(None, [], facts["error"])
    if job is None or job.explain is None:
        return ResultInWords(beat.last_result, [])
    text = job.explain(facts["result"]) if facts.get("result") is not None else None
    return ResultInWords(text, [(code, error) for code, error in facts.get("failed", [])])


def site_refs(session: Session) -> list[SiteRef]:
    return [SiteRef(id, code) for id, code in session.execute(
        sa.select(SITES.c.id, SITES.c.code).order_by(SITES.c.code))]


@contextlib.contextmanager
def _job_lock(name: str) -> Iterator[bool]:
    """PostgreSQL: try the job's advisory lock on a connection of its own, held until the run ends (a
    session-level lock, so it outlasts the per-site commits; it dies with the connection if the process
    does). Yields whether this run may go. SQLite: always yes (BEGIN IMMEDIATE serialises the writers)."""
    engine = db.session.get_bind()
    if engine.dialect.name != "postgresql":
        yield True
        return
    key = lock_key("scheduler-job:" + name)
    with engine.connect() as conn:
        got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
        conn.commit()  # not idle in a transaction while the job runs; the lock is the session's
        try:
            yield bool(got)
        finally:
            if got:
                try:
                    conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()
                except Exception:
                    conn.invalidate()  # closing the connection releases the lock
                    log.exception("could not release the lock of job %s; connection dropped", name)


def _beat(session: Session, name: str, started: dt.datetime, *, ok: bool, summary: str,
          facts: Optional[dict[str, Any]]) -> None:
    beat = session.get(JobHeartbeat, name) or JobHeartbeat(job=name, runs=0)
    session.add(beat)
    beat.last_started_at, beat.last_finished_at = started, utcnow()
    beat.last_ok, beat.last_result, beat.last_facts = ok, summary[:2000], facts
    beat.host, beat.pid = socket.gethostname()[:120], os.getpid()
    beat.runs = (beat.runs or 0) + 1
    session.flush()


def heartbeats(session: Session) -> list[JobHeartbeat]:
    return list(session.scalars(sa.select(JobHeartbeat).order_by(JobHeartbeat.job)))
