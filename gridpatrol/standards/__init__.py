"""Checklist standards (检查标准, 定标准): versioned templates of weighted checks."""

from flask import Blueprint, Flask
from flask_babel import lazy_gettext as _l

bp = Blueprint("standards", __name__, template_folder="templates", url_prefix="/standards")


def init_app(app: Flask) -> None:
    from gridpatrol.core import navigation
    from gridpatrol.core.roles import Role
    from gridpatrol.standards import demo, guard, models, views  # noqa: F401  (demo loader, models, routes)

    guard.install()  # a version in use never changes, whatever code flushes
    app.register_blueprint(bp)
    navigation.register("standards.index", _l("Standards"), (Role.ADMIN, Role.SUPERVISOR), order=40)
