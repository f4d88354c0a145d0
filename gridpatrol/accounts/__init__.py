"""Accounts: users, their roles and teams, logging in and out, and the admin pages that manage them."""

from flask import Blueprint, Flask
from flask_babel import lazy_gettext as _l

bp = Blueprint("accounts", __name__, template_folder="templates")


def init_app(app: Flask) -> None:
    from gridpatrol.accounts import services, tokens, views  # noqa: F401  (routes)
    from gridpatrol.core import navigation
    from gridpatrol.core.roles import Role
    from gridpatrol.extensions import login_manager

    app.register_blueprint(bp)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = _l("Please log in to see this page.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = None  # sessions are server-side records, checked on every request
    login_manager.user_loader(services.user_for_session_token)
    login_manager.request_loader(tokens.user_for_request)  # bearer tokens, on the API's blueprints only
    login_manager.anonymous_user = services.AnonymousUser
    navigation.register("accounts.admin_users", _l("Users"), (Role.ADMIN,), order=80)
    navigation.register("accounts.admin_teams", _l("Teams"), (Role.ADMIN,), order=81)
