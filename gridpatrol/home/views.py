from __future__ import annotations

from flask import g, jsonify, redirect, render_template, url_for
from flask_login import current_user, login_required

from gridpatrol.core.time import display_timezone, utcnow
from gridpatrol.extensions import csrf, db, talisman
from gridpatrol.grids import site_context
from gridpatrol.home import bp, services


@bp.get("/")
@login_required
def root():
    """The user's current site's home page; without any site (a fresh installation) the page without one."""
    site = site_context.home_site()
    if site is not None:
        return redirect(url_for("home.index", site=site.code))
    return render_template("home/index.html", now=utcnow(), timezone=display_timezone(), roles=current_user.roles)


@bp.get("/s/<site>/")
@login_required
def index():
    return render_template("home/index.html", now=utcnow(), timezone=display_timezone(),
                           roles=current_user.roles_at(g.site.id))


@bp.get("/healthz")
@csrf.exempt
@talisman(force_https=False)  # load balancers probe gunicorn directly over plain HTTP
def healthz():
    """For load balancers and monitoring: 200 when this worker can reach its database."""
    ok = services.database_ok(db.session)
    return jsonify(status="ok" if ok else "database unreachable"), (200 if ok else 503)
