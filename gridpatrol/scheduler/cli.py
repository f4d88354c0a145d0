"""`gridpatrol scheduler run | run-once JOB [--now ISO-8601] | status`."""

from __future__ import annotations

import datetime as dt
import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from gridpatrol.core.time import format_local, utcnow
from gridpatrol.extensions import db
from gridpatrol.scheduler import jobs, runner


@click.group()
def scheduler() -> None:
    """The scheduler process: exactly one per installation."""


@scheduler.command("run")
@with_appcontext
def run() -> None:
    """Run the jobs forever (until SIGTERM/Ctrl+C). Catches up at start."""
    from gridpatrol.core.request_log import configure_logging

    configure_logging(current_app.config)  # LOG_FORMAT: plain lines or JSON lines, as the web workers write
    runner.run(current_app._get_current_object())


def _parse_now(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter("expected ISO-8601, e.g. 2026-11-23T08:00:00+08:00") from None
    if parsed.tzinfo is None:
        raise click.BadParameter("give a time zone offset, e.g. +08:00")
    return parsed.astimezone(dt.timezone.utc)


@scheduler.command("run-once")
@click.argument("job")
@click.option("--now", "now_text", help="Pretend it is this time (ISO-8601 with offset).")
@with_appcontext
def run_once(job: str, now_text: str | None) -> None:
    """Run one job once, for operators and tests. Exit 3 if another scheduler was running it, 1 if a site
    failed (the other sites' work is committed)."""
    # Checked here, not by a click.Choice: the domains register their jobs when the app is created, which
    # for a built-in command group happens after its arguments are parsed (in with_appcontext).
    if job not in jobs.JOBS:
        raise click.BadParameter(f"unknown job {job!r}; the registered jobs are: {', '.join(jobs.names()) or 'none'}",
                                 param_hint="JOB")
    result = jobs.run_job(job, _parse_now(now_text))
    click.echo(f"{job}: {result.summary}")
    if not result.ran:
        sys.exit(3)
    if not result.ok:
        sys.exit(1)


@scheduler.command("status")
@with_appcontext
def status() -> None:
    """When each job last ran (the heartbeat)."""
    beats = jobs.heartbeats(db.session)
    if not beats:
        click.echo("the scheduler has never run")
    width = max((len(beat.job) for beat in beats), default=12)
    for beat in beats:
        state = "ok" if beat.last_ok else "FAILED"
        click.echo(f"{beat.job:<{width}} {state:<6} {format_local(beat.last_finished_at, '%Y-%m-%d %H:%M:%S')} "
                   f"pid {beat.pid} on {beat.host}: {beat.last_result}")
    for note in jobs.status_notes(db.session, utcnow()):
        click.echo(f"WARNING: {note}")
