"""Patrol plans, the patrols they make, and the checklist form leaders fill on their tablets."""

from flask import Blueprint, Flask
from flask_babel import lazy_gettext as _l

bp = Blueprint("patrols", __name__, template_folder="templates")


def init_app(app: Flask) -> None:
    from gridpatrol.core import navigation
    from gridpatrol.core.roles import Role
    from gridpatrol.patrols import demo, grid_page, jobs, models, rescheduling, services, views  # noqa: F401

    app.register_blueprint(bp)
    services.connect_signals()
    rescheduling.connect_signals()  # patrols not yet started follow an imported official calendar
    jobs.register_jobs()
    navigation.register("patrols.today", _l("Today"), (Role.GRID_LEADER,), order=1)
    navigation.register("patrols.plans", _l("Patrol plans"), (Role.SUPERVISOR, Role.ADMIN), order=30)
    navigation.register("patrols.board", _l("Patrol board"), (Role.SUPERVISOR, Role.ADMIN), order=12)
    grid_page.register()  # the map's facts and the grid page's section of patrols (grids/status.py, sections.py)
