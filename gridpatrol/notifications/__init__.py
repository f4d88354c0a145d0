"""Notifications: a kind, its parameters and a target, written when the domains announce something (their
signals, see `subscribers.py`), rendered when read in the reader's language, and mailed when MAIL_SERVER is set.

Layering: this package sits above issues, points and patrols and listens to them; none of them imports it."""

from flask import Blueprint, Flask
from flask_babel import lazy_gettext as _l

bp = Blueprint("notifications", __name__, template_folder="templates", url_prefix="/notifications")


def init_app(app: Flask) -> None:
    from flask_login import current_user

    from gridpatrol.core import navigation
    from gridpatrol.extensions import db
    from gridpatrol.notifications import mail, models, services, subscribers, views  # noqa: F401

    app.register_blueprint(bp)
    subscribers.connect_signals()
    mail.install()
    navigation.register("notifications.index", _l("Notifications"), order=95)

    @app.context_processor
    def unread_notifications():
        def count() -> int:
            return services.unread_count(db.session, current_user.id) if current_user.is_authenticated else 0
        return {"unread_notifications": count}
