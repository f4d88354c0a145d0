"""Points (积分): the append-only ledger for grid leaders and the monthly points table (网格长巡查情况积分表)."""

from flask import Blueprint, Flask
from flask_babel import lazy_gettext as _l

bp = Blueprint("points", __name__, template_folder="templates", url_prefix="/points")


def init_app(app: Flask) -> None:
    from gridpatrol.points import models, services  # noqa: F401

    services.connect_signals()
