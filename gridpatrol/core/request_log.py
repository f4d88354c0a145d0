"""Request ids and structured logs.

Every request has an id: the one a proxy sent in `X-Request-Id` when it looks like one (nginx's `$request_id`),
else a new one. It goes back in the `X-Request-Id` header, is shown on error pages (a user who reads it out lets an
operator find the request) and is attached to every log line written while the request is served.

`LOG_FORMAT = "json"` writes the log as JSON lines (one object per line: time, level, logger, message, process,
and the request id or the scheduler job where there is one), for a log collector; "text" (the default) writes
plain lines. `LOG_REQUESTS` adds one line per request: method, path (never the query string, which may carry an
`api_key`), status, duration, user and address. The web workers and the scheduler process both log this way.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
import time
import uuid
from typing import Any, Callable, Iterable

from flask import Flask, Response, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-Id"
_INCOMING_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_STARTED = "gridpatrol.started"
request_log = logging.getLogger("gridpatrol.request")

# What a record may carry beyond the standard attributes, in the order a JSON line lists them.
EXTRA_FIELDS = ("request_id", "method", "path", "status", "duration_ms", "user_id", "address", "job", "ok", "summary")


def request_id() -> str:
    """This request's id (made on first use)."""
    if "request_id" not in g:
        offered = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = offered if _INCOMING_ID.match(offered) else uuid.uuid4().hex
    return g.request_id


class RequestIdFilter(logging.Filter):
    """Attach the request id to every record written while a request is served."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id") and has_request_context():
            record.request_id = request_id()
        return True


class JsonLinesFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        for name in EXTRA_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        rid = getattr(record, "request_id", None)
        return f"{text} [request {rid}]" if rid else text


def configure_logging(config: dict) -> None:
    """One handler on the root logger, to stderr, in the configured format (web workers and the scheduler)."""
    from flask.logging import default_handler

    logging.getLogger("gridpatrol").removeHandler(default_handler)  # the app's logger: the root writes each line once
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLinesFormatter() if config["LOG_FORMAT"] == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_gridpatrol", False)]:
        root.removeHandler(old)
    handler._gridpatrol = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    level = getattr(logging, str(config["LOG_LEVEL"]).upper(), logging.INFO)
    root.setLevel(level)
    logging.getLogger("gridpatrol").setLevel(level)


class _StampStart:
    """WSGI: note when the request arrived, before any of the app's own work (a URL's site is loaded before
    Flask's before_request functions run, and may answer 404 on its own)."""

    def __init__(self, wsgi_app: Callable) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        environ[_STARTED] = time.perf_counter()
        return self.wsgi_app(environ, start_response)


def init_app(app: Flask) -> None:
    if not app.testing or app.config["LOG_FORMAT"] == "json":  # tests keep pytest's capture unless asked
        configure_logging(app.config)
    app.wsgi_app = _StampStart(app.wsgi_app)  # type: ignore[method-assign]
    log_requests = app.config["LOG_REQUESTS"]

    @app.after_request
    def _tell_request_id(response: Response) -> Response:
        # Registered before the transaction's boundary, so it runs after the commit: the duration includes it.
        response.headers[REQUEST_ID_HEADER] = request_id()
        if log_requests:
            started = request.environ.get(_STARTED)
            login = g.get("_login_user")  # only if this request loaded its user: logging never loads one
            request_log.info(
                "%s %s %s", request.method, request.path, response.status_code,
                extra={"method": request.method, "path": request.path, "status": response.status_code,
                       "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
                       "user_id": getattr(login, "id", None), "address": request.remote_addr},
            )
        return response

    app.jinja_env.globals["request_id"] = request_id
