"""The supervisor's dashboard: a consumer on the top floor.

It composes the domains' read functions (patrols, issues, points, grids) into the figures a supervisor opens
each morning, per site, and the sites overview for those who oversee several. No domain imports it.
"""

from flask import Blueprint, Flask
from flask_babel import lazy_gettext as _l

from gridpatrol.core.roles import Role

bp = Blueprint("dashboard", __name__, template_folder="templates")


def init_app(app: Flask) -> None:
    from gridpatrol.core import navigation
    from gridpatrol.dashboard import views  # noqa: F401  (routes)

    app.register_blueprint(bp)
    navigation.register("dashboard.site", _l("Dashboard"), roles=(Role.SUPERVISOR, Role.ADMIN), order=1)
