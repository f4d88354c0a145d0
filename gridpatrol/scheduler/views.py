from __future__ import annotations

from flask import render_template

from gridpatrol.core.roles import Role, roles_required
from gridpatrol.core.time import utcnow
from gridpatrol.extensions import db
from gridpatrol.scheduler import bp, jobs


@bp.get("/")
@roles_required(Role.ADMIN, Role.SUPERVISOR)
def status():
    """When each job last ran: a stale heartbeat means the scheduler process is down."""
    beats = {b.job: b for b in jobs.heartbeats(db.session)}
    now = utcnow()
    rows = []
    for job in jobs.JOBS.values():
        beat = beats.get(job.name)
        stale = beat is None or beat.last_finished_at is None or \
            (now - beat.last_finished_at).total_seconds() > 3 * job.every_seconds
        rows.append({"job": job, "beat": beat, "stale": stale,
                     "result": jobs.result_in_words(beat) if beat else None})
    return render_template("scheduler/status.html", rows=rows, notes=jobs.status_notes(db.session, now))
