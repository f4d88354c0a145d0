"""The workday calendar: the official schedule (package or imported notice), a provisional calendar for years
nobody has given yet, and per-site overrides."""

from flask import Blueprint, Flask
from flask_babel import lazy_gettext as _l

bp = Blueprint("workdays", __name__, template_folder="templates", url_prefix="/s/<site>/admin/calendar")


def init_app(app: Flask) -> None:
    from gridpatrol.core import navigation
    from gridpatrol.core.roles import Role
    from gridpatrol.scheduler import jobs
    from gridpatrol.workdays import models, views, warnings  # noqa: F401

    app.register_blueprint(bp)
    app.jinja_env.globals["calendar_warning"] = warnings.warning_for_page
    jobs.register_status_note(warnings.scheduler_status_notes)
    navigation.register("workdays.index", _l("Calendar"), (Role.ADMIN,), order=85)
