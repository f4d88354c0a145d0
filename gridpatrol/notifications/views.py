from __future__ import annotations

from flask import redirect, render_template, url_for
from flask_login import current_user, login_required

from gridpatrol.core.time import utcnow
from gridpatrol.extensions import db
from gridpatrol.notifications import bp, services
from gridpatrol.notifications.forms import MarkReadForm


@bp.get("/")
@login_required
def index():
    return render_template("notifications/index.html", items=services.recent_rendered(db.session, current_user.id),
                           form=MarkReadForm())


@bp.post("/read")
@login_required
def mark_read():
    # The form has no fields: CSRFProtect has already checked its token (every POST, before any view; a missing or
    # wrong one is a 400). Building a MarkReadForm here would only sign a fresh token for a page nobody renders.
    services.mark_all_read(db.session, current_user.id, utcnow())
    return redirect(url_for("notifications.index"))
