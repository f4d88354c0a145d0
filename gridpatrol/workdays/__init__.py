"""The workday calendar: China's official holidays and make-up days (调休), with per-site overrides."""

from flask import Blueprint, Flask
from flask_babel import lazy_gettext as _l

bp = Blueprint("workdays", __name__, template_folder="templates", url_prefix="/s/<site>/admin/calendar")


def init_app(app: Flask) -> None:
    from gridpatrol.core import navigation
    from gridpatrol.core.roles import Role
    from gridpatrol.workdays import models, views  # noqa: F401

    app.register_blueprint(bp)
    navigation.register("workdays.index", _l("Calendar"), (Role.ADMIN,), order=85)
