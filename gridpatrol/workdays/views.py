from __future__ import annotations

import datetime as dt

from flask import flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from gridpatrol.core.errors import reshow_on_refusal
from gridpatrol.core.roles import Role, roles_required
from gridpatrol.extensions import db
from gridpatrol.workdays import bp, services
from gridpatrol.workdays.forms import OverrideForm


@bp.route("/", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def index():
    site = g.site
    form = OverrideForm()

    def page():
        this_year = dt.date.today().year
        years = [(y, services.official_calendar_known(y)) for y in range(this_year - 1, this_year + 2)]
        return render_template("workdays/index.html", site=site, form=form,
                               overrides=services.list_overrides(db.session, site), years=years)

    if form.validate_on_submit():
        value = {"off": False, "work": True, "official": None}[form.kind.data]
        reshow_on_refusal(page, field=form.day)
        services.set_override(db.session, site, form.day.data, value, note=form.note.data or None,
                              actor=current_user)
        flash(_("Calendar saved."), "success")
        return redirect(url_for("workdays.index"))
    return page(), (422 if form.is_submitted() else 200)
