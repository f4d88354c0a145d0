"""Issues (问题隐患) and the rectification queue (整改): from a found problem to a verified close."""

from flask import Blueprint, Flask
from flask_babel import lazy_gettext as _l

bp = Blueprint("issues", __name__, template_folder="templates")


def init_app(app: Flask) -> None:
    from gridpatrol.issues import models, services  # noqa: F401

    services.connect_signals()
    # Routes and navigation are added with the pages.
