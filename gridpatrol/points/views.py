"""Points pages: a leader's own points and appeals, the supervisor's ranking (export, close, appeals, check),
and the rules.

Who sees what: a grid leader sees their own entries only (`/points/me`); supervisors and admins see everyone's
(the ranking, and `/points/me?user=ID` read-only); anybody else is refused (403, recorded via `deny`).
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Optional

from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select

from gridpatrol.accounts.models import User
from gridpatrol.core import query
from gridpatrol.core.access import load
from gridpatrol.core.errors import DomainError, reshow_on_refusal
from gridpatrol.core.forms import choices
from gridpatrol.core.roles import Role, deny, roles_required
from gridpatrol.core.time import (PERIOD_KINDS, Period, end_label, month_bounds, month_of, next_month, period_label,
                                  previous_month, utcnow)
from gridpatrol.extensions import db
from gridpatrol.grids import services as grids
from gridpatrol.grids.models import Site
from gridpatrol.points import bp, reasons, services
from gridpatrol.points import export as exporting
from gridpatrol.points import table as tables
from gridpatrol.points.forms import AppealForm, CloseMonthForm, DecideAppealForm, rules_form
from gridpatrol.points.models import Appeal, AppealState, MonthClose, PointsEntry, RuleSet
from gridpatrol.points.rules import CORRECTION_RULES, DEFAULT_RULES, RULE_LABELS

INVALID = 422
MANAGERS = (Role.SUPERVISOR, Role.ADMIN)
KINDS = {"month": _l("Monthly"), "quarter": _l("Quarterly"), "half": _l("Half-yearly"), "year": _l("Yearly")}


# --- helpers ------------------------------------------------------------------------------------------
def _is_manager() -> bool:
    return current_user.has_any_role(*MANAGERS)


def _current_month(site: Site) -> dt.date:
    return month_of(utcnow(), site.timezone)


def _month(site: Site, text: Optional[str] = None) -> dt.date:
    if text is None:  # the page's address: a month it cannot read is a 400 (core/query.py)
        return query.month(request.args, "month") or _current_month(site)
    return services.parse_month(text) if text else _current_month(site)


def _period(site: Site) -> Period:
    """The period picked by `kind` (month by default) and `month` (any month of it; the current one by default)."""
    kind = request.args.get("kind") or "month"
    if kind not in PERIOD_KINDS:
        raise DomainError(_("Unknown kind of period: %(kind)s. Choose month, quarter, half-year or year.", kind=kind))
    return Period.of(kind, _month(site))


def _reader_locale() -> str:
    return "en" if str(get_locale()).startswith("en") else "zh"


def _refuse(message: str, status: int = INVALID):
    return render_template("errors/error.html", code=status, error=None, message=message), status


def _rule_label(code: str) -> str:
    """A rule's label; never its code (a rule the labels do not know reads as an empty label)."""
    label = RULE_LABELS.get(code)
    return str(label) if label is not None else ""


def _source_url(entry: PointsEntry) -> Optional[str]:
    if entry.source_type == "patrol":
        return url_for("patrols.show", patrol_id=entry.source_id)
    if entry.source_type == "issue":
        return url_for("issues.show", issue_id=entry.source_id)
    return None


def _month_nav(month: dt.date) -> dict:
    return {"previous": f"{previous_month(month):%Y-%m}", "next": f"{next_month(month):%Y-%m}"}


# --- a leader's own points ----------------------------------------------------------------------------
@bp.get("/me")
@login_required
def me():
    person = current_user
    wanted = query.whole(request.args, "user", minimum=1)
    if wanted is not None and wanted != current_user.id:
        person = load(User, wanted, may=lambda _person: _is_manager(), refusal="points of another person")
    elif not current_user.has_any_role(Role.GRID_LEADER, *MANAGERS):
        deny("points are for grid leaders")
    return _me_page(person)


def _me_page(person: User, *, site: Optional[Site] = None, month: Optional[dt.date] = None,
             errors: Optional[dict[int, str]] = None, forms: Optional[dict] = None, status: int = 200):
    site = site or g.site
    month = month or _month(site)
    own = person.id == current_user.id
    may_appeal = own and current_user.has_role(Role.GRID_LEADER)
    entries = services.entries(db.session, site.id, month, user_id=person.id)
    facts = reasons.load_facts(db.session, PointsEntry.site_id == site.id, PointsEntry.month == month,
                               PointsEntry.user_id == person.id, timezone=site.timezone) if entries else {}
    appeals = list(db.session.scalars(
        select(Appeal).join(PointsEntry, Appeal.entry_id == PointsEntry.id)
        .where(Appeal.user_id == person.id, PointsEntry.site_id == site.id)
        .order_by(Appeal.created_at.desc(), Appeal.id.desc()).limit(200)))
    appealed = set(db.session.scalars(select(Appeal.entry_id).where(
        Appeal.entry_id.in_([e.id for e in entries])))) if entries else set()
    forms = forms or {}
    rows = []
    for entry in entries:
        can_appeal = may_appeal and entry.rule_code not in CORRECTION_RULES and entry.id not in appealed
        rows.append({"entry": entry, "label": _rule_label(entry.rule_code), "source_url": _source_url(entry),
                     "reason": reasons.describe(facts[entry.id]) if entry.id in facts else "",
                     "appealed": entry.id in appealed,
                     "form": (forms.get(entry.id) or AppealForm(prefix=f"e{entry.id}")) if can_appeal else None,
                     "error": (errors or {}).get(entry.id)})
    grid_codes = [gr.code for gr in grids.grids_of_user(db.session, person)]
    return render_template(
        "points/me.html", person=person, own=own, site=site, month=month, rows=rows,
        total=sum(e.points for e in entries), appeals=appeals, rule_label=_rule_label, nav=_month_nav(month),
        closed=services.is_closed(db.session, site.id, month), grid_codes=grid_codes,
        ), status


@bp.post("/entries/<int:entry_id>/appeal")
@login_required
def appeal(entry_id: int):
    if not current_user.has_role(Role.GRID_LEADER):
        deny("appeals are for grid leaders")
    entry = load(PointsEntry, entry_id, may=lambda e: e.user_id == current_user.id,
                 refusal="appeal of another person's entry")
    site = g.site
    form = AppealForm(prefix=f"e{entry.id}")
    if not form.validate_on_submit():
        return _me_page(current_user, site=site, month=entry.month, forms={entry.id: form},
                        errors={entry.id: _("Say why the entry is wrong.")}, status=INVALID)
    reshow_on_refusal(lambda: _me_page(current_user, site=site, month=entry.month, forms={entry.id: form},
                                       errors={entry.id: str(g.refused)}), page_shows_it=True)
    services.file_appeal(db.session, entry, current_user, form.reason.data)
    flash(_("Your appeal has been filed; a supervisor will decide on it."), "success")
    return redirect(url_for("points.me", month=f"{entry.month:%Y-%m}"))


# --- the supervisor's ranking -------------------------------------------------------------------------
@bp.get("/")
@roles_required(*MANAGERS)
def index():
    period = _period(g.site)
    if period.kind != "month":
        return _period_page(g.site, period)
    return _index_page(g.site, period.first)


def _period_tables(site: Site, period: Period) -> list[tables.MonthlyTable]:
    months = tables.period_tables(db.session, site, period, until=_current_month(site))
    if not months:
        raise DomainError(_("%(period)s has not begun yet: its figures can be shown from %(start)s on.",
                            period=period_label(period), start=f"{period.first:%Y-%m-%d}"))
    return months


def _period_page(site: Site, period: Period):
    """A quarter's, half-year's or year's sum of the monthly tables (the 考核), with its months' points."""
    months = _period_tables(site, period)
    summary = tables.period_summary(months, period)
    return render_template("points/period.html", site=site, period=period, label=period_label(period),
                           summary=summary, months=months, kinds=KINDS, month=period.first,
                           previous=period.previous(), following=period.next(),
                           as_of=end_label(min(months[-1].as_of, period.bounds(site.timezone)[1]), site.timezone))


def _index_page(site: Site, month: dt.date, *, decide_forms: Optional[dict] = None,
                errors: Optional[dict[int, str]] = None, status: int = 200):
    table = tables.monthly_table(db.session, site, month)
    current = _current_month(site)
    open_appeals = list(db.session.scalars(
        select(Appeal).join(PointsEntry, Appeal.entry_id == PointsEntry.id)
        .where(PointsEntry.site_id == site.id, Appeal.state == AppealState.OPEN.value)
        .order_by(Appeal.created_at, Appeal.id)))
    decide_forms = decide_forms or {}
    appeal_rows = [{"appeal": a, "label": _rule_label(a.entry.rule_code), "source_url": _source_url(a.entry),
                    "form": decide_forms.get(a.id) or DecideAppealForm(prefix=f"a{a.id}"),
                    "error": (errors or {}).get(a.id)} for a in open_appeals]
    closable = month < current and not table.closed
    close_form = CloseMonthForm(site=site.code, month=f"{month:%Y-%m}") if closable else None
    facts = reasons.load_facts(db.session, PointsEntry.id.in_([a.entry_id for a in open_appeals]),
                               timezone=site.timezone) if open_appeals else {}
    reason_of = {entry_id: reasons.describe(f) for entry_id, f in facts.items()}
    as_of = min(table.as_of, month_bounds(month, site.timezone)[1])
    return render_template(
        "points/index.html", site=site, month=month, table=table,
        appeals=appeal_rows, close_form=close_form, ended=month < current, nav=_month_nav(month),
        period=Period("month", month), rule_label=_rule_label, reason_of=reason_of, kinds=KINDS,
        as_of=end_label(as_of, site.timezone)), status


@bp.post("/appeals/<int:appeal_id>/decide")
@roles_required(*MANAGERS)
def decide(appeal_id: int):
    appeal_row = load(Appeal, appeal_id)
    load(PointsEntry, appeal_row.entry_id)  # an appeal of this site's ledger (404 for another site's)
    site = g.site
    month = _month(site, request.args.get("month") or None)
    form = DecideAppealForm(prefix=f"a{appeal_row.id}")
    if not form.validate_on_submit():
        return _index_page(site, month, decide_forms={appeal_id: form},
                           errors={appeal_id: _("Give the reason for the decision.")}, status=INVALID)
    reshow_on_refusal(lambda: _index_page(site, month, decide_forms={appeal_id: form},
                                          errors={appeal_id: str(g.refused)}), page_shows_it=True)
    correction = services.decide_appeal(db.session, appeal_row, current_user,
                                        overturn=form.decision.data == "overturn", note=form.note.data)
    if correction is not None:
        flash(_("Appeal overturned: a correction of %(points)+d points was booked in %(month)s.",
                points=correction.points, month=f"{correction.month:%Y-%m}"), "success")
    else:
        flash(_("Appeal decided: the entry stands."), "success")
    return redirect(url_for("points.index", month=f"{month:%Y-%m}"))


@bp.post("/close")
@roles_required(*MANAGERS)
def close():
    form = CloseMonthForm()
    if not form.validate_on_submit():
        return _refuse(_("Say which site and month to close."))
    site = g.site
    month = _month(site, form.month.data)
    closed = services.close_month(db.session, site, month, actor=current_user)
    flash(_("%(month)s is closed: it takes no new entries.", month=f"{month:%Y-%m}") if closed
          else _("%(month)s was closed already; nothing changed.", month=f"{month:%Y-%m}"), "success")
    return redirect(url_for("points.index", month=f"{month:%Y-%m}"))


def _locale() -> str:
    return _reader_locale()


@bp.get("/export.<fmt>")
@roles_required(*MANAGERS)
def download(fmt: str):
    if fmt not in ("xlsx", "csv"):
        abort(404)
    site = g.site
    period = _period(site)
    if period.kind != "month":
        return _download_period(site, period, fmt)
    month = period.first
    table = tables.monthly_table(db.session, site, month)
    buffer = io.BytesIO()
    if fmt == "xlsx":
        exporting.write_xlsx(table, buffer, locale=_locale(), issuing_unit=site.issuing_unit,
                             prepared_by=current_user.display_name)
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        exporting.write_csv(table, buffer, locale=_locale())
        mimetype = "text/csv; charset=utf-8"
    return Response(buffer.getvalue(), mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="points-{site.code}-{month:%Y-%m}.{fmt}"'})


def _download_period(site: Site, period: Period, fmt: str):
    months = _period_tables(site, period)
    buffer = io.BytesIO()
    if fmt == "xlsx":
        exporting.write_period_xlsx(months, buffer, period=period, locale=_locale(), issuing_unit=site.issuing_unit,
                                    prepared_by=current_user.display_name)
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        exporting.write_period_csv(months, buffer, period=period, locale=_locale())
        mimetype = "text/csv; charset=utf-8"
    return Response(buffer.getvalue(), mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="points-{site.code}-{period.key}.{fmt}"'})


@bp.get("/export-year.xlsx")
@roles_required(*MANAGERS)
def download_year():
    site = g.site
    year = query.year(request.args, "year") or _current_month(site).year
    months = tables.yearly_tables(db.session, site, year, until=_current_month(site))
    if not months:
        return _refuse(_("That year has not begun."))
    buffer = io.BytesIO()
    exporting.write_year_xlsx(months, buffer, locale=_locale(), issuing_unit=site.issuing_unit,
                              prepared_by=current_user.display_name)
    return Response(buffer.getvalue(), mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="points-{site.code}-{year}.xlsx"'})


@bp.get("/check")
@roles_required(*MANAGERS)
def check():
    site = g.site
    month = _month(site)
    differences = services.check_month(db.session, site, month)
    names = {u.id: u for u in db.session.scalars(select(User).where(
        User.id.in_(sorted({d.user_id for d in differences}))))} if differences else {}
    return render_template("points/check.html", site=site, month=month, differences=differences, names=names,
                           )


# --- rules ----------------------------------------------------------------------------------------------
def _rules_choices(site: Site, closed: set[dt.date]) -> list[dt.date]:
    """The months a new rule set may start from: this month and the next twelve, unless closed."""
    candidates = [_current_month(site)]
    for _i in range(12):
        candidates.append(next_month(candidates[-1]))
    return [m for m in candidates if m not in closed]


def _in_force(rule_sets: list[RuleSet], month: dt.date) -> tuple[int, dict[str, int]]:
    """The same answer as services.rules_for, from rows already loaded (one query for the whole page)."""
    version, rules = 1, dict(DEFAULT_RULES)
    for row in rule_sets:
        if row.effective_from <= month:
            version, rules = row.version, {**DEFAULT_RULES, **row.rules}
    return version, rules


@bp.route("/rules", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def rules():
    site = g.site
    closed = set(db.session.scalars(select(MonthClose.month).where(MonthClose.site_id == site.id)))
    months = _rules_choices(site, closed)
    _version, current_rules = services.rules_for(db.session, site.id, _current_month(site))
    form = rules_form(**({} if request.method == "POST" else {f"rule_{k}": v for k, v in current_rules.items()}))
    form.effective_from.choices = choices((f"{m:%Y-%m}", f"{m:%Y-%m}") for m in months)
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            reshow_on_refusal(lambda: _rules_page(site, closed, form), field=form.effective_from)
            chosen = services.parse_month(form.effective_from.data)
            values = {code: getattr(form, f"rule_{code}").data for code in DEFAULT_RULES}
            row = services.set_rules(db.session, site, chosen, values, actor=current_user,
                                     note=(form.note.data or "").strip() or None)
            flash(_("Rule set version %(version)d applies from %(month)s.", version=row.version,
                    month=f"{chosen:%Y-%m}"), "success")
            return redirect(url_for("points.rules"))
        status = INVALID
    return _rules_page(site, closed, form), status


def _rules_page(site: Site, closed: set[dt.date], form):
    rule_sets = list(db.session.scalars(select(RuleSet).where(RuleSet.site_id == site.id)
                                        .order_by(RuleSet.effective_from)))
    current = _current_month(site)
    month, end = current, current
    for _i in range(11):
        month = previous_month(month)
    for _i in range(3):
        end = next_month(end)
    end = max([end] + [r.effective_from for r in rule_sets])
    timeline = []
    while month <= end:
        version, values = _in_force(rule_sets, month)
        timeline.append({"month": month, "version": version, "rules": values, "closed": month in closed,
                         "current": month == current})
        month = next_month(month)
    return render_template("points/rules.html", site=site, form=form,
                           rule_sets=rule_sets, timeline=timeline, codes=list(DEFAULT_RULES),
                           rule_label=_rule_label)
