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
    """A refusal by domain rules (bad state, invalid input); the message is shown to the user. `code` is the
    stable machine code a program reads (`problem+json`'s `code`), `errors` an optional map of what was wrong
    where (field → messages)."""

    status_code = 422
    code = "refused"

    def __init__(self, *args: Any, code: Optional[str] = None, errors: Optional[dict] = None) -> None:
        super().__init__(*args)
        if code is not None:
            self.code = code
        self.errors = errors


class NotAllowed(PermissionError):
    """This user may not do this to this object: answered 403, and the denial is audited."""

    status_code = 403
    code = "not_allowed"


class ConflictError(DomainError):
    """The request is based on stale state or repeats an earlier one with different content."""

    status_code = 409
    code = "conflict"


def reshow_on_refusal(render: Callable[[], Any], field: Optional[Any] = None, *, page_shows_it: bool = False) -> None:
    """If a service refuses during this request, answer with `render()` (the same form page, which still holds
    the user's input). The refusal is added to `field`'s errors when given, else shown at the top of the page;
    `g.refused` holds the exception for pages that show it themselves (`page_shows_it`: beside a row of a table)
    or show more of it (an import's list of problems)."""
    g._refusal_page = (render, field, page_shows_it)


# Paths under which every answer is JSON (the API): refusals there are problem+json whatever the Accept header
# says, an unknown path or method included.
_JSON_PATHS: list[str] = []


def answer_json_under(path_prefix: str) -> None:
    if path_prefix not in _JSON_PATHS:
        _JSON_PATHS.append(path_prefix)


def under_json_path() -> bool:
    """This request's path is under one of the JSON paths (the API)."""
    return any(request.path.startswith(p) for p in _JSON_PATHS)


def wants_json() -> bool:
    """A JSON body, a view that said its caller is a script (`g.answer_json`), a JSON path, or an Accept header
    preferring JSON."""
    if request.is_json or g.get("answer_json") or under_json_path():
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json", PROBLEM_MEDIA_TYPE])
    return best in ("application/json", PROBLEM_MEDIA_TYPE)


PROBLEM_MEDIA_TYPE = "application/problem+json"

# The machine code of a refusal that is an HTTP error rather than a domain rule.
HTTP_CODES = {400: "bad_request", 401: "unauthenticated", 403: "not_allowed", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
              422: "invalid_request", 429: "too_many_requests", 500: "server_error"}


def problem(status: int, detail: str, *, code: Optional[str] = None, title: Optional[str] = None,
            type: str = "about:blank", errors: Optional[dict] = None, headers: Any = None):
    """A JSON error body in the one format every JSON answer uses (RFC 9457, with a stable machine `code` and,
    for invalid input, `errors`: where → messages). `headers` of the HTTP error are kept (Allow on a 405,
    WWW-Authenticate on a 401)."""
    from werkzeug.http import HTTP_STATUS_CODES

    body: dict[str, Any] = {"type": type, "title": title or HTTP_STATUS_CODES.get(status, "Error"),
                            "status": status, "detail": detail, "code": code or HTTP_CODES.get(status, "error")}
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM_MEDIA_TYPE
    for name, value in headers or ():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def init_app(app: Flask) -> None:
    for code in (400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 500):
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
        return problem(status, message, code=exc.code, errors=exc.errors)
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

        return problem(403, _("You are not allowed to do this. The attempt has been recorded."), code=exc.code)
    return render_template("errors/error.html", code=403, error=None), 403


# A refused CSRF token: the tablet's outbox fetches a fresh token and sends again when it sees this type.
CSRF_PROBLEM = "urn:gridpatrol:problem:csrf"


def _render_http_error(error):
    from flask_wtf.csrf import CSRFError

    code = getattr(error, "code", 500) or 500
    message = None
    if code == 413:  # Werkzeug's own words are English and without the bound
        from gridpatrol.core.bodies import too_large_message

        if isinstance(error, HTTPException) and error.description != type(error).description:
            message = error.description
        elif request.max_content_length:
            message = too_large_message(request.max_content_length)
    if wants_json():
        detail = message or (error.description if isinstance(error, HTTPException) and code != 500 else "")
        headers = error.get_headers() if isinstance(error, HTTPException) else None
        if isinstance(error, CSRFError):
            return problem(code, detail or "", type=CSRF_PROBLEM, code="csrf", headers=headers)
        return problem(code, detail or "", headers=headers)
    return render_template("errors/error.html", code=code, error=error, message=message), code
