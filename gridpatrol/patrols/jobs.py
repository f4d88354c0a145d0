"""Scheduler jobs of patrols: make the patrols plans owe, mark the ones whose grace ended missed, remind leaders.

All three run site by site (each site in its own transaction) and are idempotent: one patrol per (plan, grid,
window start), one reminder per (user, patrol), and a patrol is marked missed once. A re-run, a catch-up after
downtime or a second scheduler changes nothing twice.

Registered with `register_jobs()`, called from `gridpatrol.patrols.init_app`.
"""

from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from gridpatrol.grids.models import Site
from gridpatrol.patrols import services
from gridpatrol.scheduler.jobs import Job, SiteRef, register


def _materialize(session: Session, site: SiteRef, now: dt.datetime) -> services.MaterializeReport:
    return services.materialize(session, now, site=session.get(Site, site.id))


def _materialize_summary(results: list[tuple[SiteRef, services.MaterializeReport]]) -> dict:
    reports = [report for _site, report in results]
    return {"plans": sum(r.plans for r in reports), "created": sum(r.created for r in reports),
            "missed": sum(r.created_missed for r in reports),
            "skipped": [name for report in reports for name in report.skipped_plans]}


def _explain_materialize(facts: dict) -> str:
    line = _("%(plans)d plans, %(created)d patrols created (%(missed)d already missed)",
             plans=facts["plans"], created=facts["created"], missed=facts["missed"])
    if facts["skipped"]:
        line += _("; skipped plans without a published standard: %(plans)s", plans=", ".join(facts["skipped"]))
    return line


def _mark_missed(session: Session, site: SiteRef, now: dt.datetime) -> int:
    return len(services.mark_missed(session, now, site=session.get(Site, site.id)))


def _remind(session: Session, site: SiteRef, now: dt.datetime) -> int:
    return services.remind(session, now, site=session.get(Site, site.id))


def _total(results: list[tuple[SiteRef, int]]) -> int:
    return sum(count for _site, count in results)


def register_jobs() -> None:
    """Add the three jobs to the scheduler (idempotent: registering again replaces them)."""
    register(Job("materialize", 300, _materialize, "make the patrols whose window starts within 24 hours",
                 title=_l("Make the patrols of the next 24 hours"), per_site=True, summarize=_materialize_summary,
                 explain=_explain_materialize, startup_rank=20))
    register(Job("mark_missed", 60, _mark_missed, "mark patrols missed when their grace period has ended",
                 title=_l("Mark patrols missed after their grace period"), per_site=True, summarize=_total,
                 explain=lambda count: _("%(count)d patrols marked missed", count=count), startup_rank=10))
    register(Job("remind", 300, _remind, "remind leaders of patrols due within the hour",
                 title=_l("Remind grid leaders of patrols due within the hour"), per_site=True, summarize=_total,
                 explain=lambda count: _("%(count)d reminders sent", count=count), startup_rank=30))
