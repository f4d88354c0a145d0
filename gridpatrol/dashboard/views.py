from __future__ import annotations

from flask import g, render_template

from gridpatrol.core.roles import Role, roles_required
from gridpatrol.dashboard import bp


@bp.get("/s/<site>/dashboard")
@roles_required(Role.SUPERVISOR, Role.ADMIN)
def site():
    """The site's dashboard (placeholder until the read model lands)."""
    return render_template("dashboard/site.html", site=g.site)
