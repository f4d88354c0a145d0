from __future__ import annotations

import hmac

from flask import current_app, g, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.exc import SQLAlchemyError

from gridpatrol.accounts import services as accounts
from gridpatrol.core.roles import Role
from gridpatrol.core.time import display_timezone, utcnow
from gridpatrol.extensions import csrf, db, talisman
from gridpatrol.grids import site_context
from gridpatrol.home import bp, health, services


def oversees_several_sites() -> bool:
    """A supervisor or admin of all sites or of several (a provincial supervisor, the admin): their first page is
    the sites overview. No SQL: the roles came with the user."""
    sites = {site_id for role, site_id in current_user.roles_granted() if role in (Role.SUPERVISOR, Role.ADMIN)}
    if None in sites:  # at all sites: are there several? (counted in the user loader's statement on a page)
        count = accounts.loaded_with_user("site_count")
        return count is accounts.NOT_LOADED or count > 1
    return len(sites) > 1


@bp.get("/")
@login_required
def root():
    """The user's current site's home page; without any site (a fresh installation) the page without one."""
    if oversees_several_sites():  # a provincial supervisor, an admin of several sites: the sites overview first
        return redirect(url_for("dashboard.sites"))
    site = site_context.home_site()
    if site is not None:
        return redirect(url_for("home.index", site=site.code))
    return render_template("home/index.html", now=utcnow(), timezone=display_timezone(), roles=current_user.roles)


@bp.get("/s/<site>/")
@login_required
def index():
    if current_user.has_any_role(Role.SUPERVISOR, Role.ADMIN):  # at this site: their home is the site's dashboard
        return redirect(url_for("dashboard.site"))
    return render_template("home/index.html", now=utcnow(), timezone=display_timezone(),
                           roles=current_user.roles_at(g.site.id))


@bp.get("/healthz")
@csrf.exempt
@talisman(force_https=False)  # monitoring probes gunicorn directly over plain HTTP
def healthz():
    """For monitoring: 200 when every part is healthy (database, migrations, scheduler, upload disk, calendar),
    503 when one is not. The parts are told only to an admin of all sites, to a caller with the configured token, or to
    everyone when so configured; anyone else learns the status alone."""
    report = health.check_all(db.session, utcnow())
    body = report.as_json() if _may_see_health_details() else {"status": "ok" if report.ok else "failing"}
    return jsonify(body), (200 if report.ok else 503), {"Cache-Control": "no-store"}


@bp.get("/healthz/live")
@csrf.exempt
@talisman(force_https=False)  # load balancers probe gunicorn directly over plain HTTP
def live():
    """For load balancers: 200 when this worker can reach its database, whatever the scheduler or the calendar."""
    ok = services.database_ok(db.session)
    return jsonify(status="ok" if ok else "database unreachable"), (200 if ok else 503)


def _may_see_health_details() -> bool:
    config = current_app.config
    if config["HEALTH_DETAILS_PUBLIC"]:
        return True
    token = config["HEALTH_DETAILS_TOKEN"]
    offered = request.headers.get("X-Health-Token", "")
    if token and offered:
        return hmac.compare_digest(offered.encode(), token.encode())
    try:  # the user loader reads the database, which may be what is down
        # the admin of the installation: the report names every site
        return current_user.is_authenticated and (Role.ADMIN, None) in current_user.roles_granted()
    except SQLAlchemyError:
        db.session.rollback()
        return False
