from __future__ import annotations

from flask import jsonify, render_template
from flask_login import current_user, login_required

from gridpatrol.core.time import display_timezone, utcnow
from gridpatrol.extensions import csrf, db, talisman
from gridpatrol.home import bp, services


@bp.get("/")
@login_required
def index():
    return render_template("home/index.html", now=utcnow(), timezone=display_timezone(), roles=current_user.roles)


@bp.get("/healthz")
@csrf.exempt
@talisman(force_https=False)  # load balancers probe gunicorn directly over plain HTTP
def healthz():
    """For load balancers and monitoring: 200 when this worker can reach its database."""
    ok = services.database_ok(db.session)
    return jsonify(status="ok" if ok else "database unreachable"), (200 if ok else 503)
