from flask import render_template

from gridpatrol.core.roles import Role, roles_required
from gridpatrol.standards import bp


@bp.get("/")
@roles_required(Role.ADMIN, Role.SUPERVISOR)
def index():
    return render_template("base.html")
