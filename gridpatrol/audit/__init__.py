"""Audit log: logins, permission denials and every administrative change."""

from flask import Blueprint, Flask
from flask_babel import lazy_gettext as _l

bp = Blueprint("audit", __name__, template_folder="templates", url_prefix="/admin/audit")


def init_app(app: Flask) -> None:
    from gridpatrol.audit import services, views  # noqa: F401  (routes)
    from gridpatrol.core import navigation
    from gridpatrol.core.roles import Role

    app.register_blueprint(bp)
    services.connect_signals()
    navigation.register("audit.index", _l("Audit log"), (Role.ADMIN,), order=90)
