"""How much a request may send, decided before anything reads its body.

* `MAX_CONTENT_LENGTH` (Flask's setting) is the ceiling of every request: a bound below that is higher is cut to it.
* Every request gets its bound from `init_app`'s before_request, which runs before the CSRF check (that one reads a
  form): the view's own (`body_limit`), else its blueprint's (`blueprint_default`: /api/v1's API_MAX_BODY_BYTES,
  Open311's), else `FORM_MAX_BODY_BYTES`, the bound of a page's form that takes no file.
* Werkzeug applies the bound when the body is read (checked against Werkzeug 3.1: `get_input_stream`): a longer
  declared body is refused at once, and a body without a length (chunked; gunicorn then sets
  `wsgi.input_terminated`) is read through a `LimitedStream` that counts it as it streams and raises at the
  bound. Either way a 413, which the error adapter answers with the app's error page or problem+json.
* A view whose body is large (photos) checks the login and the user's right to the object before the body is
  read: `body_limit(n, authorise_first=True)` takes it out of the early CSRF check (the token is in the body),
  and the view calls `authorised()` once it has loaded the object and checked the user's right to act on it;
  that checks the CSRF token, reading the body within its bound. A view that forgets is an error (500, nothing
  saved), never a form taken without its CSRF check.
"""

from __future__ import annotations

import functools
from typing import IO, Callable, Optional, Union

import flask
from flask import Flask, current_app, g, request
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream, get_content_length, get_input_stream

from gridpatrol.core.transaction import SAFE_METHODS

Bound = Union[int, Callable[[dict], int]]  # bytes, or bytes from the app's settings

# Blueprint name → its default bound (bytes or a function of the settings), for the bodies its views take.
_BLUEPRINT_DEFAULTS: dict[str, Bound] = {}


def body_limit(max_bytes: Bound, *, authorise_first: bool = False) -> Callable:
    """Mark a view with its own bound (bytes, or a function of the settings: `lambda config: …`). With
    `authorise_first`, the view reads nothing of the body before it has called `authorised()`."""
    def wrap(view: Callable) -> Callable:
        view.max_body_bytes = max_bytes  # copied by the functools.wraps of the decorators around it
        if not authorise_first:
            return view
        from gridpatrol.extensions import csrf

        @functools.wraps(view)
        def checked(*args, **kwargs):
            answer = flask.make_response(view(*args, **kwargs))
            # A refusal (4xx, rolled back) may come before the body is read; a success may not.
            if request.method not in SAFE_METHODS and not g.get("_body_authorised") and answer.status_code < 400:
                raise RuntimeError(f"{view.__name__} answered a {request.method} without calling "
                                   "bodies.authorised(): its form would have had no CSRF check")
            return answer

        checked.authorise_first = True
        csrf.exempt(checked)  # the CSRF check comes with authorised(), after the view's own checks
        return checked
    return wrap


def blueprint_default(blueprint_name: str, max_bytes: Bound) -> None:
    """The bound of a blueprint's views that do not have their own (the API's, Open311's)."""
    _BLUEPRINT_DEFAULTS[blueprint_name] = max_bytes


def bound() -> int:
    """This request's bound in bytes: the view's, else its blueprint's, else a page form's; at most
    MAX_CONTENT_LENGTH."""
    config = current_app.config
    mark = getattr(_handler(), "max_body_bytes", None)
    if mark is None:
        mark = _BLUEPRINT_DEFAULTS.get(request.blueprint or "", config["FORM_MAX_BODY_BYTES"])
    limit = mark(config) if callable(mark) else mark
    ceiling = config.get("MAX_CONTENT_LENGTH")
    return min(limit, ceiling) if ceiling else limit


def _handler() -> Optional[Callable]:
    """The function that answers this request: a MethodView's method (the API's operations) or the view."""
    view = current_app.view_functions.get(request.endpoint or "")
    return getattr(getattr(view, "view_class", None), request.method.lower(), view)


def refuse_declared_excess() -> None:
    """413 now for a body that says it is longer than the bound (a chunked one is counted as it is read)."""
    limit = request.max_content_length
    if limit is not None and request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge(too_large_message(limit))


def too_large_message(limit: int) -> str:
    return _("The request is too large: at most %(size)s.", size=size_text(limit))


def size_text(n: int) -> str:
    """Bytes for people: 12 MB, 64 KB (binary units, as the settings are written)."""
    if n >= 1024 * 1024:
        return _("%(n)s MB", n=_number(n / (1024 * 1024)))
    if n >= 1024:
        return _("%(n)s KB", n=_number(n / 1024))
    return _("%(n)d bytes", n=n)


def _number(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def authorised() -> None:
    """Called by an `authorise_first` view once the user may act on the object: checks the CSRF token of an
    unsafe request, reading the body (within the request's bound) for it. Before this the body is unread."""
    if request.method not in SAFE_METHODS:
        from gridpatrol.extensions import csrf

        csrf.protect()
    g._body_authorised = True


def _bound_the_body() -> None:
    # Only the bound: a declared longer body is refused by the first read (the CSRF check's, or the view's after
    # its own checks), so an anonymous caller still gets its login page or 401 first.
    request.max_content_length = bound()


class _StrictLimitedStream(LimitedStream):
    """Werkzeug's stream for a body without a length, bounded as a maximum; except that reading all of it when it
    reaches the bound is a 413 too. Werkzeug 3.1's `readall` stops at the bound without saying so, which would make
    a longer chunked body look like a shorter one: a URL-encoded form cut at the bound and then taken, a JSON
    document cut short (so a body exactly as long as the bound is refused as well)."""

    def readall(self) -> bytes:
        data = super().readall()
        if self.is_exhausted:
            self.on_exhausted()  # raises RequestEntityTooLarge
        return data


class Request(flask.Request):
    """Flask's request, with `_StrictLimitedStream` for a body without a length."""

    @cached_property
    def stream(self) -> IO[bytes]:
        limit = self.max_content_length
        if (not self.shallow and limit is not None and "wsgi.input_terminated" in self.environ
                and get_content_length(self.environ) is None):
            return _StrictLimitedStream(self.environ["wsgi.input"], limit, is_max=True)
        if self.shallow:
            raise RuntimeError("This request was created with shallow=True: its body cannot be read.")
        return get_input_stream(self.environ, max_content_length=limit)


def init_app(app: Flask) -> None:
    """Before `csrf.init_app`, so that the bound is set before the CSRF check reads a form."""
    app.request_class = Request
    app.before_request(_bound_the_body)
