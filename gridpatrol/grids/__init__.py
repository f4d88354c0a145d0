"""Grids and the four fixes (四定): sites, grid units, leaders, checkpoints, the map and point location."""

from flask import Blueprint, Flask
from flask_babel import lazy_gettext as _l

bp = Blueprint("grids", __name__, template_folder="templates")


def init_app(app: Flask) -> None:
    from gridpatrol.core import navigation
    from gridpatrol.grids import demo, models, views  # noqa: F401  (demo loader, models for Alembic, routes)

    app.register_blueprint(bp)
    navigation.register("grids.map_default", _l("Map"), order=10)
    navigation.register("grids.index", _l("Grids"), order=11)
