"""A site's dashboard figures as plain JSON: what the page's charts draw (`/s/<site>/dashboard.json`, and the data
island of the page) and what the API answers (`/api/v1/sites/<site>/dashboard`), from the one read model. The
dashboard never imports the API; the API calls `site_figures`."""

from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from gridpatrol.dashboard import read_model as model
from gridpatrol.grids.models import Site
from gridpatrol.issues.labels import issue_labels
from gridpatrol.patrols import stats as patrol_stats


def site_figures(session: Session, site: Site, now: dt.datetime) -> dict:
    """The site's dashboard as of `now`, as JSON."""
    return as_json(model.site_dashboard(session, site, now))


def as_json(d: model.SiteDashboard) -> dict:
    """What the charts draw and what the page shows, as plain JSON (rates as fractions, None when undefined;
    names of categories and series in the reader's language)."""
    labels = issue_labels()
    cal = d.cal

    def patrols(counts):
        return {"total": counts.total, **{s: getattr(counts, s) for s in patrol_stats.STATES},
                "decided": counts.decided, "completion_rate": counts.completion_rate,
                "on_time_rate": counts.on_time_rate, "missed_rate": counts.missed_rate}

    def closing(f):
        return {"due": f.due, "closed": f.closed, "closed_on_time": f.closed_on_time,
                "closed_in_period": f.closed_in_period, "reworked": f.reworked, "close_rate": f.close_rate,
                "on_time_rate": f.on_time_rate, "rework_rate": f.rework_rate, "mean_hours": f.mean_hours}

    total = d.issues.total
    weeks = d.week_patrols()
    return {
        "site": {"code": d.site.code, "name": d.site.name},
        "now": d.cal.now.isoformat(),
        "today": {"day": cal.today.first.isoformat(), "patrols": patrols(d.patrols["today"]),
                  "past_due": [{"grid": p.grid_code, "grid_name": p.grid_name, "leader": p.leader,
                                "due_at": p.due_at.isoformat(), "state": p.state} for p in d.past_due]},
        "to_act": {"reported": total.reported, "awaiting_verification": total.awaiting_verification,
                   "overdue": total.overdue, "due_today": total.due_today, "open": total.open},
        "periods": {p.name: {"first": p.first.isoformat(), "last": p.last.isoformat(),
                             "patrols": patrols(d.patrols[p.name]), "closing": closing(d.closing[p.name]),
                             "closing_as_of": min(p.end, cal.now).isoformat(),
                             "found": total.found[p.name]}
                    for p in (cal.month, cal.last_month, cal.year)},
        "open_by_severity": {s: d.severity_counts(s).open for s in d.severities},
        "open_by_category": {c: d.category_counts(c).open for c in d.categories},
        "top_grids": [{"grid_id": g.grid_id, "code": g.code, "name": g.name, "found": g.found} for g in d.top_grids],
        "ranking": [{"user_id": r.user_id, "name": r.name, "points": r.points, "grids": r.grids_held,
                     "points_per_grid": r.points_per_grid, "rank": r.rank} for r in d.ranking],
        "charts": {
            "weeks": [w.first.isoformat() for w in cal.weeks],
            "week_labels": [f"{w.first:%m-%d}" for w in cal.weeks],
            "found_by_category": [{"code": c, "name": labels.category.get(c, c), "values": d.week_found(c)}
                                  for c in d.categories],
            "patrols_completed": [w.completed for w in weeks],
            "patrols_decided": [w.decided for w in weeks],
            "patrol_completion": [None if w.completion_rate is None else round(w.completion_rate * 100, 2)
                                  for w in weeks],
            "closed": d.week_closed(),
            "names": {"found": _("Issues found"), "completion": _("Patrol completion (%)"),
                      "closed": _("Issues closed")},
        },
    }
