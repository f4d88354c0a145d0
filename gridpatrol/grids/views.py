from __future__ import annotations

from flask import render_template
from flask_login import login_required

from gridpatrol.grids import bp


@bp.get("/grids")
@login_required
def index():
    return render_template("grids/index.html")
