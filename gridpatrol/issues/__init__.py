"""Issues (问题隐患) and the rectification queue (整改): from a found problem to a verified close."""

from flask import Blueprint, Flask
from flask_babel import lazy_gettext as _l

bp = Blueprint("issues", __name__, template_folder="templates")


def init_app(app: Flask) -> None:
    from gridpatrol.core import navigation
    from gridpatrol.core.roles import Role
    from gridpatrol.issues import deadlines, grid_page, jobs, models, patrol_page, services, views  # noqa: F401
    from gridpatrol.issues.labels import issue_labels

    app.register_blueprint(bp)
    app.jinja_env.globals["issue_labels"] = issue_labels
    services.connect_signals()
    deadlines.connect_signals()  # open deadlines follow an imported official calendar
    grid_page.register()  # the map's facts and the grid page's section of issues (grids/status.py, sections.py)
    patrol_page.register()  # the issues raised from a patrol's failed items (patrols/followups.py)
    jobs.register_jobs()
    navigation.register("issues.report", _l("Report a problem"), order=5)
    navigation.register("issues.mine", _l("My work"), (Role.RECTIFIER,), order=6)
    navigation.register("issues.index", _l("Issues"), order=20)
    navigation.register("issues.time_limits", _l("Time limits"), (Role.ADMIN, Role.SUPERVISOR), order=45)
    navigation.register("issues.metrics_page", _l("Metrics"), (Role.ADMIN, Role.SUPERVISOR), order=25)
