"""The workday calendar: China's official holidays and make-up days (调休), with per-site overrides."""

from flask import Blueprint, Flask

bp = Blueprint("workdays", __name__, template_folder="templates", url_prefix="/admin/calendar")


def init_app(app: Flask) -> None:
    from gridpatrol.workdays import models, views  # noqa: F401

    app.register_blueprint(bp)
