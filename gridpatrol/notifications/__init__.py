"""In-app notifications: reminders of patrols due soon, and later escalations."""

from flask import Blueprint, Flask

bp = Blueprint("notifications", __name__, template_folder="templates", url_prefix="/notifications")


def init_app(app: Flask) -> None:
    from gridpatrol.notifications import models, views  # noqa: F401

    app.register_blueprint(bp)
