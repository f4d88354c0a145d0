"""Who calls the API: a bearer token (accounts.tokens, through Flask-Login's request loader), or the browser's login
session, whose unsafe requests must then carry the CSRF token (the API blueprints are exempt from the form check
because a token caller has none)."""

from __future__ import annotations

from flask import g, request
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import Unauthorized

from gridpatrol.core.transaction import SAFE_METHODS


class Unauthenticated(Unauthorized):
    def get_headers(self, environ=None, scope=None):
        return [*super().get_headers(environ, scope), ("WWW-Authenticate", 'Bearer realm="gridpatrol"')]


def authenticate() -> None:
    """before_request of every API blueprint: a live token or a logged-in session, else 401."""
    if not current_user.is_authenticated:
        if g.get("token_refused"):
            raise Unauthenticated(_("The token is unknown, expired or revoked."))
        raise Unauthenticated(_("Send a personal API token (Authorization: Bearer …) or log in."))
    if g.get("authenticated_by") != "token" and request.method not in SAFE_METHODS:
        from gridpatrol.extensions import csrf

        csrf.protect()
