"""Points (积分): the append-only ledger for grid leaders and the monthly points table (网格长巡查情况积分表)."""

from flask import Blueprint, Flask
from flask_babel import lazy_gettext as _l

bp = Blueprint("points", __name__, template_folder="templates", url_prefix="/s/<site>/points")


def init_app(app: Flask) -> None:
    from gridpatrol.core import navigation
    from gridpatrol.core.roles import Role
    from gridpatrol.points import grid_page, jobs, models, services, views  # noqa: F401  (models for Alembic, routes)

    services.connect_signals()
    grid_page.register()  # the grid page's section of the leader's points (grids/sections.py)
    app.register_blueprint(bp)
    jobs.register_jobs()
    navigation.register("points.me", _l("My points"), (Role.GRID_LEADER,), order=7)
    navigation.register("points.index", _l("Points"), (Role.SUPERVISOR, Role.ADMIN), order=32)
