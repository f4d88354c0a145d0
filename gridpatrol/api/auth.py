"""Who calls the API: a bearer token (accounts.tokens, through Flask-Login's request loader), or the browser's login
session, whose unsafe requests must then carry the CSRF token (the API blueprints are exempt from the form check
because a token caller has none). And how much it may send: every body is bounded before it is read
(`API_MAX_BODY_BYTES`, larger for the operations that take photos, `body_limit`); a chunked body is counted as it
streams, and the refusal is a 413 problem."""

from __future__ import annotations

from typing import Callable

from flask import current_app, g, request
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge, Unauthorized

from gridpatrol.core.transaction import SAFE_METHODS


class Unauthenticated(Unauthorized):
    def get_headers(self, environ=None, scope=None):
        return [*super().get_headers(environ, scope), ("WWW-Authenticate", 'Bearer realm="gridpatrol"')]


def authenticate() -> None:
    """before_request of every API blueprint: the body's bound, then a live token or a logged-in session, else
    401 (before anything of the body is read)."""
    limit = _bound()
    request.max_content_length = limit  # counts a chunked body as it is read
    if not current_user.is_authenticated:
        if g.get("token_refused"):
            raise Unauthenticated(_("The token is unknown, expired or revoked."))
        raise Unauthenticated(_("Send a personal API token (Authorization: Bearer …) or log in."))
    if g.get("authenticated_by") != "token" and request.method not in SAFE_METHODS:
        from gridpatrol.extensions import csrf

        csrf.protect()
    _refuse_declared_excess(limit)


def _refuse_declared_excess(limit: int) -> None:
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge(_("The request body is too large: at most %(n)d bytes.", n=limit))


def body_limit(max_bytes: int) -> Callable:
    """A larger bound for one operation (photos in the body): marks the view, whose bound `authenticate` sets
    before anything reads the body (the CSRF check of a session caller's form already does)."""
    def wrap(view: Callable) -> Callable:
        view.max_body_bytes = max_bytes  # copied by the functools.wraps of the decorators around it
        return view
    return wrap


def _bound() -> int:
    """The bound of the operation called: its own (`body_limit`, on a MethodView's method or a plain view), else
    API_MAX_BODY_BYTES."""
    view = current_app.view_functions.get(request.endpoint or "")
    handler = getattr(getattr(view, "view_class", None), request.method.lower(), view)
    return getattr(handler, "max_body_bytes", None) or current_app.config["API_MAX_BODY_BYTES"]


def whole_body() -> bytes:
    """The body, within the request's bound. werkzeug stops a bounded chunked stream at the bound without saying
    so, which would make a too large body look like a shorter (malformed) one: reaching the bound is too large."""
    data = request.get_data(cache=True)
    if request.max_content_length is not None and len(data) >= request.max_content_length:
        raise RequestEntityTooLarge(_("The request body is too large: at most %(n)d bytes.",
                                      n=request.max_content_length))
    return data
