"""Points (积分): the month's points table, its ledger, and a period's sum of the monthly tables.

The table is `points.table.monthly_table`, the very function the ranking page, the workbook and the CSV call: the
same rows, ranks (并列, pinyin), points per grid and columns. Who may see what is the pages' rule
(points/views.py): the table and the periods are for the supervisors and admins of the site; the ledger is theirs
in full, and a grid leader's own entries only (their `/points/me`); anybody else is refused (403, audited). Each
ledger entry says why it was booked in the caller's language (`points.reasons.describe`), never by its rule code
alone.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Optional

import marshmallow as ma
from flask import g, url_for
from flask.views import MethodView
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import validate
from sqlalchemy import func, select

from gridpatrol.accounts.models import User
from gridpatrol.api.auth import authenticate
from gridpatrol.api.pagination import Page, PageQuery, page_of
from gridpatrol.api.schemas import Person, clean_text
from gridpatrol.api.spec import ApiBlueprint
from gridpatrol.core.errors import DomainError
from gridpatrol.core.roles import Role, deny
from gridpatrol.core.time import Period, month_bounds, month_of, period_label, to_local, utcnow, zone
from gridpatrol.extensions import db
from gridpatrol.grids.models import Site
from gridpatrol.points import reasons
from gridpatrol.points import table as tables
from gridpatrol.points.models import PointsEntry
from gridpatrol.points.rules import RULE_LABELS

blp = ApiBlueprint("api_points", __name__, url_prefix="/api/v1",
                   description="Points (积分): the month's points table, its ledger and a period's sum")
blp.before_request(authenticate)

MANAGERS = (Role.SUPERVISOR, Role.ADMIN)

# Years 1970 to 2999: a month the calendar functions can bound in any zone (and a typo like 0202 is refused).
MONTH_PATTERN = r"^(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])$"
PERIOD_PATTERN = r"^(19[7-9][0-9]|2[0-9]{3})(-Q[1-4]|-H[12])?$"


class Month(ma.fields.String):
    """A month written YYYY-MM, loaded as its first day (the pattern is in the document, so a client knows it)."""

    default_error_messages = {"month": "a month is written YYYY-MM (1970-01 to 2999-12)"}

    def _deserialize(self, value, attr, data, **kwargs) -> dt.date:
        text = super()._deserialize(value, attr, data, **kwargs)
        if _MONTH.match(text) is None:
            raise self.make_error("month")
        year, month = text.strip().split("-")
        return dt.date(int(year), int(month), 1)


_MONTH = re.compile(MONTH_PATTERN)


def month_field(description: str) -> Month:
    return Month(metadata={"description": description, "pattern": MONTH_PATTERN, "example": "2026-11"})


class MonthQuery(ma.Schema):
    month = month_field("the month, YYYY-MM; the site's current month by default")


class LedgerQuery(PageQuery):
    month = month_field("the month the entries are booked in, YYYY-MM; the site's current month by default")
    user = ma.fields.String(validate=[validate.Length(min=1, max=80), clean_text], metadata={
        "description": "only this person's entries (a username); a grid leader may name only themselves"})


class PeriodQuery(ma.Schema):
    period = ma.fields.String(required=True, validate=validate.Regexp(
        PERIOD_PATTERN, error="a period is written YYYY-Qn, YYYY-Hn or YYYY"), metadata={
        "description": "a quarter (2026-Q4), a half-year (2026-H2) or a year (2026)", "example": "2026-H2"})


# --- responses ------------------------------------------------------------------------------------------------
class Figures(ma.Schema):
    """The columns of a row of the points table (《网格长巡查情况积分表》)."""

    patrols_due = ma.fields.Integer(required=True, metadata={"description": "应巡: due by the table's as-of"})
    patrols_done = ma.fields.Integer(required=True, metadata={"description": "已巡"})
    on_time = ma.fields.Integer(required=True)
    late = ma.fields.Integer(required=True)
    missed = ma.fields.Integer(required=True)
    patrols_open = ma.fields.Integer(required=True, metadata={"description": "due, neither done nor missed"})
    pass_rate = ma.fields.Float(required=True, allow_none=True, metadata={
        "description": "巡查合格率: the average score (0–100, two decimals) of the submitted patrols; "
                       "null without one"})
    found_minor = ma.fields.Integer(required=True)
    found_major = ma.fields.Integer(required=True)
    found_critical = ma.fields.Integer(required=True)
    found_total = ma.fields.Integer(required=True)
    issues_closed = ma.fields.Integer(required=True)
    points = ma.fields.Integer(required=True)


class LeaderRowOut(Figures):
    rank = ma.fields.Integer(required=True, metadata={"description": "by points per grid; equal values share it"})
    user_id = ma.fields.Integer(required=True)
    username = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    grids = ma.fields.List(ma.fields.String(), required=True, metadata={"description": "the grids held as leader"})
    points_per_grid = ma.fields.Float(required=True, metadata={
        "description": "points ÷ grids held, two decimals (the rank compares the exact values)"})


class PointsTableOut(ma.Schema):
    site = ma.fields.String(required=True)
    month = ma.fields.String(required=True, metadata={"example": "2026-11"})
    closed = ma.fields.Boolean(required=True, metadata={"description": "closed (月度锁定): it takes no new entries"})
    closed_at = ma.fields.DateTime(required=True, allow_none=True)
    ended = ma.fields.Boolean(required=True, metadata={"description": "the month is over"})
    as_of = ma.fields.DateTime(required=True, metadata={
        "description": "what the figures count up to: now for the current month, its end for an ended one, its "
                       "close for a closed one"})
    rule_version = ma.fields.Integer(required=True)
    rows = ma.fields.List(ma.fields.Nested(LeaderRowOut), required=True, metadata={
        "description": "one row per person who led a grid in the month, in rank order"})
    totals = ma.fields.Nested(Figures, required=True)
    others_entries = ma.fields.Integer(required=True, metadata={
        "description": "ledger entries of the month of people who led no grid"})
    others_points = ma.fields.Integer(required=True)
    ledger = ma.fields.String(required=True, metadata={"description": "the month's ledger (this API)"})


class PersonOut(Person):
    id = ma.fields.Integer(required=True)


class SourceOut(ma.Schema):
    type = ma.fields.String(required=True, metadata={"description": "patrol, issue, appeal or manual"})
    id = ma.fields.Integer(required=True)


class EntryOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    user = ma.fields.Nested(PersonOut, required=True)
    rule = ma.fields.String(required=True, metadata={"description": "the rule's stable code"})
    rule_label = ma.fields.String(required=True, metadata={"description": "the rule, in the caller's language"})
    rule_version = ma.fields.Integer(required=True)
    points = ma.fields.Integer(required=True)
    month = ma.fields.String(required=True, metadata={"description": "booked in (YYYY-MM)"})
    event_month = ma.fields.String(required=True, metadata={
        "description": "the month of the event (earlier than `month` when that month was closed)"})
    source = ma.fields.Nested(SourceOut, required=True)
    corrects = ma.fields.Integer(required=True, allow_none=True, metadata={"description": "the entry it corrects"})
    reason = ma.fields.String(required=True, metadata={"description": "why it was booked, in the caller's language"})


class LedgerPage(Page):
    items = ma.fields.List(ma.fields.Nested(EntryOut), required=True)


class PeriodRowOut(LeaderRowOut):
    monthly_points = ma.fields.List(ma.fields.Integer(allow_none=True), required=True, metadata={
        "description": "points month by month (the period's months so far); null where the person led no grid"})


class PeriodOut(ma.Schema):
    site = ma.fields.String(required=True)
    period = ma.fields.String(required=True, metadata={"example": "2026-H2"})
    kind = ma.fields.String(required=True, validate=validate.OneOf(("quarter", "half", "year")))
    label = ma.fields.String(required=True, metadata={"description": "the period, in the caller's language"})
    months = ma.fields.List(ma.fields.String(), required=True, metadata={
        "description": "the months summed: the period's months begun so far"})
    rows = ma.fields.List(ma.fields.Nested(PeriodRowOut), required=True, metadata={
        "description": "one row per person who led a grid in any of the months, in rank order of the period's "
                       "points per grid (the sum of the months' points per grid)"})
    totals = ma.fields.Nested(Figures, required=True)
    monthly_totals = ma.fields.List(ma.fields.Integer(), required=True)


# --- helpers -------------------------------------------------------------------------------------------------
def _current_month(site: Site) -> dt.date:
    return month_of(utcnow(), site.timezone)


def _reader_locale() -> str:
    return "en" if str(get_locale()).startswith("en") else "zh"


def _local(instant: Optional[dt.datetime], site: Site) -> Optional[dt.datetime]:
    return to_local(instant, zone(site.timezone)) if instant is not None else None


def _figures(row: tables.LeaderRow) -> dict:
    return {"patrols_due": row.patrols_due, "patrols_done": row.patrols_done, "on_time": row.on_time,
            "late": row.late, "missed": row.missed, "patrols_open": row.patrols_open, "pass_rate": row.average_score,
            "found_minor": row.found_minor, "found_major": row.found_major, "found_critical": row.found_critical,
            "found_total": row.found_total, "issues_closed": row.issues_closed, "points": row.points}


def _row(row: tables.LeaderRow) -> dict:
    return {**_figures(row), "rank": row.rank, "user_id": row.user_id, "username": row.username, "name": row.name,
            "grids": list(row.grids), "points_per_grid": row.points_per_grid}


def _rule_label(code: str) -> str:
    label = RULE_LABELS.get(code)
    return str(label) if label is not None else ""


def _managers_only(what: str) -> None:
    if not current_user.has_any_role(*MANAGERS):
        deny(f"{what} is for supervisors and admins")


# --- the month's table ---------------------------------------------------------------------------------------
@blp.route("/sites/<site>/points", tags=["points"])
class PointsTable(MethodView):
    @blp.arguments(MonthQuery, location="query", as_kwargs=True)
    @blp.response(200, PointsTableOut)
    def get(self, month: Optional[dt.date] = None):
        """The month's points table (supervisors and admins of the site): the ranking page's rows and columns"""
        _managers_only("the points table")
        site = g.site
        current = _current_month(site)
        month = month or current
        table = tables.monthly_table(db.session, site, month)
        return {"site": site.code, "month": table.label, "closed": table.closed,
                "closed_at": _local(table.closed_at, site), "ended": month < current,
                "as_of": _local(min(table.as_of, month_bounds(month, site.timezone)[1]), site),
                "rule_version": table.rule_version, "rows": [_row(r) for r in table.rows],
                "totals": _figures(table.totals), "others_entries": table.others_entries,
                "others_points": table.others_points,
                "ledger": url_for("api_points.Ledger", site=site.code, month=table.label)}


# --- the month's ledger --------------------------------------------------------------------------------------
@blp.route("/sites/<site>/points/ledger", tags=["points"])
class Ledger(MethodView):
    @blp.arguments(LedgerQuery, location="query", as_kwargs=True)
    @blp.response(200, LedgerPage)
    def get(self, page: int, per_page: int, month: Optional[dt.date] = None, user: Optional[str] = None):
        """The month's ledger entries in booking order, each with why it was booked, in the caller's language

        Supervisors and admins see everyone's entries (`user` picks one person's); a grid leader sees their own."""
        site = g.site
        month = month or _current_month(site)
        where = [PointsEntry.site_id == site.id, PointsEntry.month == month]
        if not current_user.has_any_role(*MANAGERS):
            if not current_user.has_role(Role.GRID_LEADER):
                deny("points are for grid leaders")
            if user is not None and user != current_user.username:
                deny("points of another person")
            where.append(PointsEntry.user_id == current_user.id)
        elif user is not None:
            where.append(PointsEntry.user_id == select(User.id).where(User.username == user).scalar_subquery())
        total = db.session.scalar(select(func.count()).select_from(PointsEntry).where(*where))
        rows = db.session.execute(
            select(PointsEntry, User.username, User.display_name).join(User, User.id == PointsEntry.user_id)
            .where(*where).order_by(PointsEntry.id).limit(per_page).offset((page - 1) * per_page)).all()
        facts = reasons.load_facts(db.session, PointsEntry.id.in_([e.id for e, *_ in rows]),
                                   timezone=site.timezone) if rows else {}
        locale = _reader_locale()
        items = [{"id": e.id, "user": {"id": e.user_id, "username": username, "name": name},
                  "rule": e.rule_code, "rule_label": _rule_label(e.rule_code), "rule_version": e.rule_version,
                  "points": e.points, "month": f"{e.month:%Y-%m}", "event_month": f"{e.event_month:%Y-%m}",
                  "source": {"type": e.source_type, "id": e.source_id}, "corrects": e.corrects_id,
                  "reason": reasons.describe(facts[e.id], locale) if e.id in facts else ""}
                 for e, username, name in rows]
        return page_of(items, page=page, per_page=per_page, total=total)


# --- a period: quarter, half-year, year ----------------------------------------------------------------------
class PeriodNotBegun(DomainError):
    status_code = 422
    code = "period_not_begun"


@blp.route("/sites/<site>/points/period", tags=["points"])
class PointsPeriod(MethodView):
    @blp.arguments(PeriodQuery, location="query", as_kwargs=True)
    @blp.response(200, PeriodOut)
    def get(self, period: str):
        """A quarter's, half-year's or year's sum of the monthly tables (the 考核; supervisors and admins)

        The period page's figures: the months begun so far, added up person by person, ranked by the sum of the
        months' points per grid. A period that has not begun is refused (422, `period_not_begun`)."""
        _managers_only("the points of a period")
        site = g.site
        chosen = Period.parse(period.strip())
        months = tables.period_tables(db.session, site, chosen, until=_current_month(site))
        if not months:
            raise PeriodNotBegun(_("%(period)s has not begun yet: its figures can be shown from %(start)s on.",
                                   period=period_label(chosen), start=f"{chosen.first:%Y-%m-%d}"))
        summary = tables.period_summary(months, chosen)
        return {"site": site.code, "period": chosen.key, "kind": chosen.kind, "label": period_label(chosen),
                "months": [f"{m:%Y-%m}" for m in summary.months],
                "rows": [{**_row(r.total), "monthly_points": list(r.monthly_points)} for r in summary.rows],
                "totals": _figures(summary.totals), "monthly_totals": list(summary.monthly_totals)}
