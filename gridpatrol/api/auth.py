"""Who calls the API: a bearer token (accounts.tokens, through Flask-Login's request loader), or the browser's login
session, whose unsafe requests must then carry the CSRF token (the API blueprints are exempt from the form check
because a token caller has none). And how much it may send: every body is bounded before it is read
(`API_MAX_BODY_BYTES`, larger for the operations that take photos, `body_limit`); a chunked body is counted as it
streams, and the refusal is a 413 problem. The bound is core/bodies.py's, as every request's: the blueprints' default
is API_MAX_BODY_BYTES (`api.init_app`), an operation's own is `body_limit`'s."""

from __future__ import annotations

from flask import g, request
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge, Unauthorized

from gridpatrol.core.bodies import body_limit, refuse_declared_excess, too_large_message
from gridpatrol.core.transaction import SAFE_METHODS

__all__ = ["Unauthenticated", "authenticate", "body_limit", "whole_body"]


class Unauthenticated(Unauthorized):
    def get_headers(self, environ=None, scope=None):
        return [*super().get_headers(environ, scope), ("WWW-Authenticate", 'Bearer realm="gridpatrol"')]


def authenticate() -> None:
    """before_request of every API blueprint: a live token or a logged-in session, else 401, then the body's bound
    (set for every request by core/bodies.py) for a declared length, before anything of the body is read."""
    if not current_user.is_authenticated:
        if g.get("token_refused"):
            raise Unauthenticated(_("The token is unknown, expired or revoked."))
        raise Unauthenticated(_("Send a personal API token (Authorization: Bearer …) or log in."))
    if g.get("authenticated_by") != "token" and request.method not in SAFE_METHODS:
        from gridpatrol.extensions import csrf

        csrf.protect()
    refuse_declared_excess()


def whole_body() -> bytes:
    """The body, within the request's bound. werkzeug stops a bounded chunked stream at the bound without saying
    so, which would make a too large body look like a shorter (malformed) one: reaching the bound is too large."""
    data = request.get_data(cache=True)
    if request.max_content_length is not None and len(data) >= request.max_content_length:
        raise RequestEntityTooLarge(too_large_message(request.max_content_length))
    return data
