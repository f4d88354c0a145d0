from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from gridpatrol.core import bodies
from gridpatrol.core import query
from gridpatrol.core.errors import reshow_on_refusal
from gridpatrol.core.roles import Role, roles_required
from gridpatrol.core.time import local_day, utcnow
from gridpatrol.extensions import db
from gridpatrol.workdays import bp, notice, services
from gridpatrol.workdays.forms import NoticeForm, OverrideForm
from gridpatrol.workdays.sources import DaySource

EXAMPLE = """year = 2027
notice = "国办发明电〔2026〕12号"

[[holiday]]
name = "元旦"
from = 2027-01-01
to = 2027-01-03

[[holiday]]
name = "春节"
from = 2027-02-05
to = 2027-02-12
workdays = [2027-02-14, 2027-02-20]
"""


def _year_asked(default: int) -> int:
    year = query.year(request.args, "year")
    return year if year is not None else default


@bp.route("/", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def index():
    site = g.site
    form = OverrideForm()

    def page():
        today = local_day(utcnow(), site.timezone)
        calendar = services.calendar_for(db.session, site)
        shown = _year_asked(services.provisional_warning(calendar, today) or today.year)
        years = [(year, calendar.year_source(year)) for year in range(today.year - 1, today.year + 3)]
        return render_template("workdays/index.html", site=site, form=form, years=years, shown=shown,
                               listing=services.year_listing(calendar, shown), sources=DaySource,
                               imported={row.year: row for row in services.imported_years(db.session)},
                               overrides=services.list_overrides(db.session, site))

    if form.validate_on_submit():
        value = {"off": False, "work": True, "official": None}[form.kind.data]
        reshow_on_refusal(page, field=form.day)
        services.set_override(db.session, site, form.day.data, value, note=form.note.data or None,
                              actor=current_user)
        flash(_("Calendar saved."), "success")
        return redirect(url_for("workdays.index"))
    return page(), (422 if form.is_submitted() else 200)


@bp.route("/import", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
@bodies.body_limit(256 * 1024)  # the notice as a file and as text (20,000 characters: up to 60 KB in UTF-8)
def import_notice():
    """Enter the State Council's notice for a year: preview first, then apply exactly what was previewed."""
    form = NoticeForm()

    def page(preview=None):
        return render_template("workdays/import.html", form=form, preview=preview, example=EXAMPLE)

    if not form.validate_on_submit():
        return page(), (422 if form.is_submitted() else 200)
    reshow_on_refusal(page, page_shows_it=True)
    upload = form.file.data
    data = upload.read(notice.MAX_BYTES + 1) if upload and upload.filename else (form.text.data or "")
    parsed = notice.parse(data)
    if isinstance(data, bytes):
        form.text.data = data.decode("utf-8-sig")  # the preview carries the text to the apply step
    if request.form.get("step") == "apply":
        result = services.import_notice(db.session, parsed, actor=current_user, now=utcnow())
        flash(_("The official calendar of %(year)d was entered.", year=parsed.year) + " " +
              " ".join(f"{effect.label}." for effect in result.effects), "success")
        return redirect(url_for("workdays.index", year=parsed.year))
    return page(services.preview_notice(db.session, parsed, actor=current_user, now=utcnow()))
