"""The home page each role lands on, and the health check."""

from flask import Blueprint, Flask
from flask_babel import lazy_gettext as _l

bp = Blueprint("home", __name__, template_folder="templates")


def init_app(app: Flask) -> None:
    from gridpatrol.core import navigation
    from gridpatrol.home import views  # noqa: F401  (routes)

    app.register_blueprint(bp)
    navigation.register("home.index", _l("Home"), order=0)
