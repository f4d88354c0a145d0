"""In-app notifications: reminders of patrols due soon, and later escalations."""

from flask import Blueprint, Flask
from flask_babel import lazy_gettext as _l

bp = Blueprint("notifications", __name__, template_folder="templates", url_prefix="/notifications")


def init_app(app: Flask) -> None:
    from flask_login import current_user

    from gridpatrol.core import navigation
    from gridpatrol.extensions import db
    from gridpatrol.notifications import models, services, views  # noqa: F401

    app.register_blueprint(bp)
    navigation.register("notifications.index", _l("Notifications"), order=95)

    @app.context_processor
    def unread_notifications():
        def count() -> int:
            return services.unread_count(db.session, current_user.id) if current_user.is_authenticated else 0
        return {"unread_notifications": count}
