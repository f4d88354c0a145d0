"""The supervisor's screens: a site's dashboard (page and JSON, from one read model; the JSON is built by
`figures`, which the API calls too) and the sites overview.

Who sees what: a site's dashboard is for the supervisors and admins of that site (a role there or at all sites;
`site_context` refuses other sites with 403 before the view, `roles_required` refuses other roles at this
site). The overview lists only the sites where the user is a supervisor or admin.
"""

from __future__ import annotations

import re
from urllib.parse import quote_plus

from flask import g, jsonify, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import defer

from gridpatrol.core.roles import Role, deny, roles_required
from gridpatrol.core.time import utcnow
from gridpatrol.dashboard import bp, figures
from gridpatrol.dashboard import read_model as model
from gridpatrol.extensions import db
from gridpatrol.grids.models import Site
from gridpatrol.home.views import oversees_several_sites
from gridpatrol.issues.labels import issue_labels
from gridpatrol.issues.stats import DUE_STATES, FOUND_STATES

MANAGERS = (Role.SUPERVISOR, Role.ADMIN)


@bp.get("/s/<site>/dashboard")
@roles_required(*MANAGERS)
def site():
    dashboard = model.site_dashboard(db.session, g.site, utcnow())
    return render_template("dashboard/site.html", d=dashboard, links=Links(dashboard.cal),
                           data=figures.as_json(dashboard), rate=model.rate_text, hours=model.hours_text,
                           labels=issue_labels(),
                           patrol_labels=patrol_state_labels(), show_overview_link=oversees_several_sites(),
                           figure=figure, ratio=ratio)


@bp.get("/s/<site>/dashboard.json")
@roles_required(*MANAGERS)
def site_json():
    return jsonify(figures.site_figures(db.session, g.site, utcnow()))


@bp.get("/dashboard")
@login_required
def sites():
    """The sites overview: one row per site the user supervises or administers, sortable by any column."""
    visible = managed_sites()
    if not visible:
        deny("the sites overview is for supervisors and admins")
    sort = request.args.get("sort", "code")
    sort = sort if sort in model.SORT_KEYS else "code"
    descending = request.args.get("dir") == "desc"
    rows = model.sites_overview(db.session, visible, utcnow(), sort=sort, descending=descending)
    return render_template("dashboard/sites.html", rows=rows, sort=sort, descending=descending,
                           rate=model.rate_text)


def managed_sites() -> list[Site]:
    """The sites where the current user is a supervisor or an admin (every site for such a role at all sites)."""
    grants = [(role, site_id) for role, site_id in current_user.roles_granted() if role in MANAGERS]
    if not grants:
        return []
    query = select(Site).options(defer(Site.boundary)).order_by(Site.code)  # the outline is not shown here
    if all(site_id is not None for _, site_id in grants):
        query = query.where(Site.id.in_(sorted({site_id for _, site_id in grants})))
    return list(db.session.scalars(query))


def patrol_state_labels() -> dict[str, str]:
    """The words of patrols/_state.html, for the dashboard's figures."""
    return {"upcoming": _("Upcoming"), "due": _("Due now"), "in_progress": _("In progress"), "late": _("Late"),
            "missed": _("Missed"), "done": _("Done"), "done_late": _("Done late")}


class Links:
    """The list behind each figure: the queue (issues.index), the patrol board (patrols.board) and the points
    table, with the filters that give that figure's rows."""

    def __init__(self, cal: model.Calendar) -> None:
        self.cal = cal
        # Each address built once; a page has some 200 figures, and url_for for each cost more than the queries.
        self._queue = url_for("issues.index")
        self._board = url_for("patrols.board")

    def queue(self, **params) -> str:
        return _with_query(self._queue, params)

    def board(self, period: model.Period, *states: str) -> str:
        """The patrol board over the period's days (patrols/board.py documents its address)."""
        params: dict = {"state": list(states)} if states else {}
        if period.name == "today":
            params["day"] = period.first.isoformat()
        else:
            params.update({"from": period.first.isoformat(), "to": period.last.isoformat()})
        return _with_query(self._board, params)

    def points(self) -> str:
        return url_for("points.index", month=f"{self.cal.month_date:%Y-%m}")

    # --- issues of a period -----------------------------------------------------------------------------
    def found(self, period: model.Period, **params) -> str:
        return self.queue(state=list(FOUND_STATES), **{"from": period.first.isoformat(),
                                                        "to": period.end_day.isoformat()}, **params)

    def due_to_close(self, period: model.Period, **params) -> str:
        return self.queue(state=list(DUE_STATES), due_from=period.first.isoformat(),
                          due_to=period.end_day.isoformat(), **params)

    def closed_of_due(self, period: model.Period, **params) -> str:
        if period.end <= self.cal.today.start:  # an ended period is taken as of its end (read_model.closing_figures)
            params["closed_to"] = period.end_day.isoformat()
        return self.queue(state="closed", due_from=period.first.isoformat(), due_to=period.end_day.isoformat(),
                          **params)

    def closed_in(self, period: model.Period, **params) -> str:
        return self.queue(state="closed", closed_from=period.first.isoformat(),
                          closed_to=period.end_day.isoformat(), **params)


def _with_query(path: str, params: dict) -> str:
    """`path` with `params` as its query (a list is a repeated parameter), as url_for would write them. The values
    are the dashboard's own (dates, states, codes, ids): quoted only when they need it, which none do today."""
    if not params:
        return path
    pairs = []
    for key, value in params.items():
        for item in (value if isinstance(value, (list, tuple)) else (value,)):
            text = str(item)
            pairs.append(f"{key}={text if _PLAIN.fullmatch(text) else quote_plus(text)}")
    return f"{path}?{'&'.join(pairs)}"


_PLAIN = re.compile(r"[A-Za-z0-9_.-]*")


def figure(value, href: str | None, cls: str = "") -> Markup:
    """A figure as the link to the list behind it (a Python function: some 200 per page, cheaper than a macro)."""
    cls = escape(f"figure-link {cls}".strip())
    if href:
        return Markup(f'<a class="{cls}" href="{escape(href)}">{escape(value)}</a>')
    return Markup(f'<span class="{cls}">{escape(value)}</span>')


def ratio(rate_value, part, whole, part_href: str | None, whole_href: str | None) -> Markup:
    """A rate with the two counts it divides, each linked."""
    return Markup(f'<span class="rate">{escape(model.rate_text(rate_value))}</span> '
                  f'<span class="ratio">{figure(part, part_href)}/{figure(whole, whole_href)}</span>')
