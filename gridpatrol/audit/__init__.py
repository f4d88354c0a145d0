"""Audit log: logins, permission denials and every administrative change."""

from flask import Blueprint, Flask
from flask_babel import lazy_gettext as _l

bp = Blueprint("audit", __name__, template_folder="templates", url_prefix="/admin/audit")


def init_app(app: Flask) -> None:
    from gridpatrol.audit import labels, services, views  # noqa: F401  (routes)
    from gridpatrol.core import navigation
    from gridpatrol.core.roles import Role

    app.register_blueprint(bp)
    app.jinja_env.globals.update(audit_action_label=labels.action_label, audit_target_label=labels.target_label,
                                 audit_detail=labels.detail_lines)
    services.connect_signals()
    navigation.register("audit.index", _l("Audit log"), (Role.ADMIN,), order=90)
