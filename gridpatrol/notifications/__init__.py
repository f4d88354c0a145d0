"""Notifications: a kind, its parameters and a target, written when the domains announce something (their
signals, see `subscribers.py`), rendered when read in the reader's language, and mailed when MAIL_SERVER is set.

Layering: this package sits above issues, points and patrols and listens to them; none of them imports it."""

from flask import Blueprint, Flask
from flask_babel import lazy_gettext as _l

bp = Blueprint("notifications", __name__, template_folder="templates", url_prefix="/notifications")


def init_app(app: Flask) -> None:
    from flask import has_request_context, request
    from flask_login import current_user

    from gridpatrol.accounts import services as accounts
    from gridpatrol.core import navigation
    from gridpatrol.extensions import db
    from gridpatrol.notifications import mail, models, services, subscribers, views  # noqa: F401

    app.register_blueprint(bp)
    subscribers.connect_signals()
    mail.install()
    navigation.register("notifications.index", _l("Notifications"), order=95)

    # Every page's header shows the unread count: on a GET it comes with the user, in the user loader's statement.
    accounts.load_with_user(accounts.LoadedWithUser(
        "unread_notifications", add=lambda statement: statement.add_columns(services.UNREAD_OF_LOADED_USER),
        wanted=lambda: {} if has_request_context() and request.method in ("GET", "HEAD") else None))

    @app.context_processor
    def unread_notifications():
        def count() -> int:
            if not current_user.is_authenticated:
                return 0
            loaded = accounts.loaded_with_user("unread_notifications")
            return services.unread_count(db.session, current_user.id) if loaded is accounts.NOT_LOADED else loaded
        return {"unread_notifications": count}
