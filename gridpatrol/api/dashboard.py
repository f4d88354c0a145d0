"""The site's dashboard figures: what the supervisor's dashboard shows and its charts draw, from the dashboard's one
read model (`dashboard.figures.site_figures`, which `/s/<site>/dashboard.json` answers too, so the two cannot
disagree). For the supervisors and admins of the site, as the page."""

from __future__ import annotations

import marshmallow as ma
from flask import g
from flask.views import MethodView
from flask_login import current_user

from gridpatrol.api.auth import authenticate
from gridpatrol.api.spec import ApiBlueprint
from gridpatrol.core.roles import Role, deny
from gridpatrol.core.time import utcnow
from gridpatrol.dashboard import figures
from gridpatrol.extensions import db

blp = ApiBlueprint("api_dashboard", __name__, url_prefix="/api/v1",
                   description="The supervisor's dashboard: a site's figures of today, the month and the year")
blp.before_request(authenticate)

MANAGERS = (Role.SUPERVISOR, Role.ADMIN)

RATE = "a fraction (0–1); null when there is nothing to divide"


def _rate(description: str = RATE) -> ma.fields.Float:
    return ma.fields.Float(required=True, allow_none=True, metadata={"description": description})


def _count(description: str = "") -> ma.fields.Integer:
    return ma.fields.Integer(required=True, metadata={"description": description} if description else {})


class SiteRef(ma.Schema):
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)


class PatrolCounts(ma.Schema):
    """Patrols whose window starts in the period, by state (the patrol board's states)."""

    total = _count()
    upcoming = _count()
    due = _count("due now")
    in_progress = _count()
    late = _count("past due, still open")
    missed = _count()
    done = _count("done on time")
    done_late = _count()
    decided = _count("done, done late or missed: what the rates divide by")
    completion_rate = _rate("done (on time or late) ÷ decided; null when none is decided")
    on_time_rate = _rate("done on time ÷ decided")
    missed_rate = _rate("missed ÷ decided")


class PastDue(ma.Schema):
    grid = ma.fields.String(required=True)
    grid_name = ma.fields.String(required=True)
    leader = ma.fields.String(required=True, allow_none=True)
    due_at = ma.fields.String(required=True, metadata={"description": "ISO 8601 with its offset"})
    state = ma.fields.String(required=True)


class Today(ma.Schema):
    day = ma.fields.String(required=True, metadata={"description": "the site's local date"})
    patrols = ma.fields.Nested(PatrolCounts, required=True)
    past_due = ma.fields.List(ma.fields.Nested(PastDue), required=True, metadata={
        "description": "today's patrols past their due time and still open (the first few)"})


class ToAct(ma.Schema):
    reported = _count("reports waiting to be accepted")
    awaiting_verification = _count()
    overdue = _count("open issues past their deadline")
    due_today = _count()
    open = _count()


class Closing(ma.Schema):
    """The 通报 figures of issues due in the period (结案率, 按期结案率, 返工率)."""

    due = _count("issues whose deadline falls in the period")
    closed = _count("of those, closed by the period's end (or now)")
    closed_on_time = _count()
    closed_in_period = _count("issues closed in the period, whatever their deadline")
    reworked = _count()
    close_rate = _rate("结案率: closed ÷ due")
    on_time_rate = _rate("按期结案率: closed on time ÷ due")
    rework_rate = _rate("返工率")
    mean_hours = ma.fields.Float(required=True, allow_none=True, metadata={
        "description": "mean hours from report to close of the closed ones; null without one"})


class PeriodFigures(ma.Schema):
    first = ma.fields.String(required=True, metadata={"description": "first local day"})
    last = ma.fields.String(required=True, metadata={"description": "last local day (inclusive)"})
    patrols = ma.fields.Nested(PatrolCounts, required=True)
    closing = ma.fields.Nested(Closing, required=True)
    closing_as_of = ma.fields.String(required=True, metadata={
        "description": "the instant the closing figures are taken at: the period's end, or now while it runs"})
    found = _count("valid issues found in the period")


class Periods(ma.Schema):
    month = ma.fields.Nested(PeriodFigures, required=True)
    last_month = ma.fields.Nested(PeriodFigures, required=True)
    year = ma.fields.Nested(PeriodFigures, required=True)


class TopGrid(ma.Schema):
    grid_id = ma.fields.Integer(required=True)
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    found = _count("issues found this quarter")


class RankedLeader(ma.Schema):
    user_id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    points = ma.fields.Integer(required=True)
    grids = _count("grids held this month")
    points_per_grid = ma.fields.Float(required=True, allow_none=True)
    rank = ma.fields.Integer(required=True)


class CategorySeries(ma.Schema):
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True, metadata={"description": "the category, in the caller's language"})
    values = ma.fields.List(ma.fields.Integer(), required=True, metadata={"description": "one per week"})


class SeriesNames(ma.Schema):
    found = ma.fields.String(required=True)
    completion = ma.fields.String(required=True)
    closed = ma.fields.String(required=True)


class Charts(ma.Schema):
    """The 12 weeks (Monday to Sunday) ending with the current one, oldest first."""

    weeks = ma.fields.List(ma.fields.String(), required=True, metadata={"description": "each week's Monday"})
    week_labels = ma.fields.List(ma.fields.String(), required=True)
    found_by_category = ma.fields.List(ma.fields.Nested(CategorySeries), required=True)
    patrols_completed = ma.fields.List(ma.fields.Integer(), required=True)
    patrols_decided = ma.fields.List(ma.fields.Integer(), required=True)
    patrol_completion = ma.fields.List(ma.fields.Float(allow_none=True), required=True, metadata={
        "description": "percent, two decimals; null for a week with nothing decided"})
    closed = ma.fields.List(ma.fields.Integer(), required=True)
    names = ma.fields.Nested(SeriesNames, required=True, metadata={"description": "the series, in the caller's "
                                                                                  "language"})


class DashboardOut(ma.Schema):
    site = ma.fields.Nested(SiteRef, required=True)
    now = ma.fields.String(required=True, metadata={"description": "the instant the figures are taken at"})
    today = ma.fields.Nested(Today, required=True)
    to_act = ma.fields.Nested(ToAct, required=True)
    periods = ma.fields.Nested(Periods, required=True)
    open_by_severity = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), required=True,
                                      metadata={"description": "open issues by severity code"})
    open_by_category = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), required=True,
                                      metadata={"description": "open issues by category code"})
    top_grids = ma.fields.List(ma.fields.Nested(TopGrid), required=True, metadata={
        "description": "the grids with the most issues found this quarter"})
    ranking = ma.fields.List(ma.fields.Nested(RankedLeader), required=True, metadata={
        "description": "this month's points ranking of the grid leaders (the points table's)"})
    charts = ma.fields.Nested(Charts, required=True)


@blp.route("/sites/<site>/dashboard", tags=["dashboard"])
class Dashboard(MethodView):
    @blp.response(200, DashboardOut)
    def get(self):
        """The site's dashboard figures (supervisors and admins of the site), as the page shows them"""
        if not current_user.has_any_role(*MANAGERS):
            deny("role required: " + ", ".join(r.value for r in MANAGERS))
        return figures.site_figures(db.session, g.site, utcnow())
