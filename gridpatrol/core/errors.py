"""Domain refusals and the one adapter that turns them into answers.

Services raise `DomainError` (422), `ConflictError` (409) or `NotAllowed` (403). Views never catch them: the
handlers registered here roll the request's transaction back (through the transaction boundary, so the page
shows the state from before the request), record a denial in the audit log, and answer:

* a JSON request (a JSON body, or one that prefers JSON) gets `application/problem+json` (RFC 9457):
  `{"type": "about:blank", "title": …, "status": …, "detail": <the refusal in the reader's language>}`;
* a form page that said how to show itself again (`reshow_on_refusal`) is rendered again with the user's
  input and the refusal beside the field or at the top of the page;
* anything else gets the error page with the refusal in words.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from blinker import Namespace
from flask import Flask, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException


signals = Namespace()
permission_denied = signals.signal("permission-denied")
"""Sent for every refused request, before the 403 is answered. Named arguments: user (or None), endpoint,
path, method, reason. The audit log keeps each, despite the request's rollback."""


class DomainError(Exception):
    """A refusal by domain rules (bad state, invalid input); the message is shown to the user."""

    status_code = 422


class NotAllowed(PermissionError):
    """This user may not do this to this object: answered 403, and the denial is audited."""

    status_code = 403


class ConflictError(DomainError):
    """The request is based on stale state or repeats an earlier one with different content."""

    status_code = 409


def reshow_on_refusal(render: Callable[[], Any], field: Optional[Any] = None, *, page_shows_it: bool = False) -> None:
    """If a service refuses during this request, answer with `render()` (the same form page, which still holds
    the user's input). The refusal is added to `field`'s errors when given, else shown at the top of the page;
    `g.refused` holds the exception for pages that show it themselves (`page_shows_it`: beside a row of a table)
    or show more of it (an import's list of problems)."""
    g._refusal_page = (render, field, page_shows_it)


def wants_json() -> bool:
    """A JSON body, a view that said its caller is a script (`g.answer_json`), or an Accept header preferring JSON."""
    if request.is_json or g.get("answer_json"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json", "application/problem+json"])
    return best in ("application/json", "application/problem+json")


def problem(status: int, detail: str, *, title: Optional[str] = None, type: str = "about:blank"):
    """A JSON error body in the one format every JSON answer uses."""
    from werkzeug.http import HTTP_STATUS_CODES

    response = jsonify(type=type, title=title or HTTP_STATUS_CODES.get(status, "Error"), status=status,
                       detail=detail)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def init_app(app: Flask) -> None:
    for code in (400, 403, 404, 405, 409, 413, 422, 429, 500):
        app.register_error_handler(code, _render_http_error)
    app.register_error_handler(DomainError, _answer_refusal)
    app.register_error_handler(NotAllowed, _answer_denial)


def _roll_back() -> None:
    from gridpatrol.core.transaction import roll_back_request

    roll_back_request()


def _answer_refusal(exc: DomainError):
    _roll_back()
    status = exc.status_code
    message = str(exc)
    if wants_json():
        return problem(status, message)
    page = g.pop("_refusal_page", None)
    g.refused = exc
    if page is not None:
        render, field, page_shows_it = page
        if field is not None:
            field.errors = list(field.errors or []) + [message]
        elif not page_shows_it:
            g.refusal = message
        response = render()
        if isinstance(response, tuple):
            response = response[0]
        return response, status
    return render_template("errors/error.html", code=status, error=None, message=message), status


def _answer_denial(exc: NotAllowed):
    from flask_login import current_user

    _roll_back()
    permission_denied.send(
        None, user=current_user if current_user.is_authenticated else None,
        endpoint=request.endpoint, path=request.path, method=request.method, reason=str(exc) or "not allowed",
    )
    if wants_json():
        from flask_babel import gettext as _

        return problem(403, _("You are not allowed to do this. The attempt has been recorded."))
    return render_template("errors/error.html", code=403, error=None), 403


# A refused CSRF token: the tablet's outbox fetches a fresh token and sends again when it sees this type.
CSRF_PROBLEM = "urn:gridpatrol:problem:csrf"


def _render_http_error(error):
    from flask_wtf.csrf import CSRFError

    code = getattr(error, "code", 500) or 500
    if wants_json():
        detail = error.description if isinstance(error, HTTPException) and code != 500 else ""
        return problem(code, detail or "", type=CSRF_PROBLEM if isinstance(error, CSRFError) else "about:blank")
    return render_template("errors/error.html", code=code, error=error), code
