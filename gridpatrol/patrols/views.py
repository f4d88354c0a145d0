from flask import render_template
from flask_login import login_required

from gridpatrol.core.roles import Role, roles_required
from gridpatrol.patrols import bp


@bp.get("/today")
@roles_required(Role.GRID_LEADER)
def today():
    return render_template("base.html")


@bp.get("/plans")
@roles_required(Role.SUPERVISOR, Role.ADMIN)
def plans():
    return render_template("base.html")
