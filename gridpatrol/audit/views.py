from __future__ import annotations

from flask import render_template, request

from gridpatrol.audit import bp, services
from gridpatrol.core import query
from gridpatrol.core.roles import Role, roles_required
from gridpatrol.extensions import db

PER_PAGE = 50


@bp.get("/")
@roles_required(Role.ADMIN)
def index():
    action = request.args.get("action") or None
    page = query.whole(request.args, "page", minimum=1, default=1)
    rows, total = services.page(db.session, action=action, page=page, per_page=PER_PAGE)
    return render_template(
        "audit/index.html", rows=rows, total=total, page=page, per_page=PER_PAGE,
        action=action, actions=services.actions(db.session),
    )
