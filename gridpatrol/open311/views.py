"""The routes of GeoReport v2 and the blueprint's error handlers.

Each view reads its arguments (`params.Params`), finds the site (`access.site_for`), checks the api_key where one
is needed (`access.acting_user`), calls a domain service or read function and renders the answer in the format
of its extension. Every refusal — ours (`Open311Error`), a domain's (`DomainError` → 400, `NotAllowed` → 403),
an HTTP error (unknown path or format 404, wrong method 405, body too large 413) or a crash (500) — is answered
here in the spec's error format, in the requested format, never as an HTML page: the handlers are the
blueprint's, so they win over the app's. The transaction is the app's (one commit, or a rollback on refusal).
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Optional

from flask import current_app, request, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from gridpatrol.core.bodies import refuse_declared_excess
from gridpatrol.core.errors import ConflictError, DomainError, NotAllowed
from gridpatrol.core.time import utcnow
from gridpatrol.core.transaction import roll_back_request
from gridpatrol.extensions import db
from gridpatrol.issues import services as issues
from gridpatrol.issues.models import Issue
from gridpatrol.open311 import access, bp, catalogue, reading, submission
from gridpatrol.open311.formats import FORMATS, answer_format, errors, render
from gridpatrol.open311.params import MAX_BODY_BYTES, Open311Error, Params, shown

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-12-02T00:00:00Z"  # when this server's endpoints last changed (service discovery)
MAX_ID_CHARS = 18  # a request number fits a 64-bit integer
_ID = re.compile(r"\d{1,%d}" % MAX_ID_CHARS)


@bp.before_request
def _refuse_a_declared_excess() -> None:
    # The bound (MAX_BODY_BYTES, core/bodies.py, set in init_app) is set for every request; a chunked body is
    # counted as it is read. A longer declared body is refused before anything else.
    refuse_declared_excess()


def _format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise Open311Error(404, _("Unknown format: ask for .json or .xml."))
    return fmt


# --- service discovery and services ------------------------------------------------------------------------
@bp.get("/discovery.<fmt>")
def discovery(fmt: str):
    fmt = _format(fmt)
    endpoint = url_for("open311.services", fmt="xml", _external=True).rsplit("/", 1)[0]
    return render(fmt, {
        "changeset": CHANGESET,
        "contact": _("The compound's logistics centre, which runs GridPatrol."),
        "key_service": _("A personal API token, made by an administrator with `gridpatrol tokens create` or by "
                         "the user on their account page."),
        "endpoints": [{"specification": SPECIFICATION, "url": endpoint, "changeset": CHANGESET, "type": "production",
                       "formats": ["text/xml", "application/json"]}],
    }, root="discovery")


@bp.get("/v2/services.<fmt>")
def services(fmt: str):
    fmt = _format(fmt)
    site = access.site_for(Params.of_request())
    return render(fmt, catalogue.services(db.session, site), root="services")


@bp.get("/v2/services/<service_code>.<fmt>")
def service_definition(service_code: str, fmt: str):
    fmt = _format(fmt)
    site = access.site_for(Params.of_request())
    if service_code not in catalogue.service_codes():
        raise Open311Error(404, _("service_code %(code)s was not found.", code=shown(service_code)))
    return render(fmt, catalogue.definition(db.session, site, service_code), root="service_definition")


# --- service requests ------------------------------------------------------------------------------------
@bp.post("/v2/requests.<fmt>")
def create_request(fmt: str):
    fmt = _format(fmt)
    params = Params.of_request()
    site = access.site_for(params)
    user = access.acting_user(params, site)
    record = submission.submit(db.session, site, user, params, utcnow())
    return render(fmt, [record], root="service_requests")


@bp.get("/v2/requests.<fmt>")
def list_requests(fmt: str):
    fmt = _format(fmt)
    params = Params.of_request()
    site = access.site_for(params)
    user = access.acting_user(params, site)
    now = utcnow()
    ids = _request_ids(params)
    if ids is not None:  # "This overrides all other arguments."
        records = reading.service_requests(db.session, site, now, viewer=user, ids=ids)
    else:
        start, end = _window(params, zoneinfo.ZoneInfo(site.timezone), now)
        records = reading.service_requests(db.session, site, now, viewer=user, codes=_service_codes(params),
                                           start=start, end=end, statuses=_statuses(params))
    return render(fmt, records, root="service_requests")


@bp.get("/v2/requests/<request_id>.<fmt>")
def show_request(request_id: str, fmt: str):
    fmt = _format(fmt)
    params = Params.of_request()
    site = access.site_for(params)
    user = access.acting_user(params, site)
    issue = db.session.get(Issue, int(request_id)) if _ID.fullmatch(request_id) else None
    if issue is None or issue.site_id != site.id:
        raise Open311Error(404, _("Request %(id)s was not found.", id=shown(request_id)))
    if not issues.can_view(db.session, user, issue):
        access.deny(user, f"open311: request {issue.id} not visible to this user")
        raise Open311Error(403, _("The api_key's user may not see request %(id)s.", id=issue.id))
    return render(fmt, reading.service_requests(db.session, site, utcnow(), viewer=None, ids=[issue.id]),
                  root="service_requests")


def _request_ids(params: Params) -> Optional[list[int]]:
    text = params.text("service_request_id", max_chars=reading.LIMIT * (MAX_ID_CHARS + 2))
    if text is None:
        return None
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts or len(parts) > reading.LIMIT or not all(_ID.fullmatch(part) for part in parts):
        raise Open311Error(400, _("service_request_id takes request numbers, comma separated (at most %(n)d).",
                                  n=reading.LIMIT))
    return sorted({int(part) for part in parts})


def _service_codes(params: Params) -> Optional[set[str]]:
    text = params.text("service_code", max_chars=400)
    if text is None:
        return None
    codes = {part.strip() for part in text.split(",") if part.strip()}
    for code in sorted(codes - catalogue.service_codes()):
        raise Open311Error(400, _("service_code %(code)s was not found.", code=shown(code)))
    return codes or None


def _statuses(params: Params) -> Optional[set[str]]:
    text = params.text("status", max_chars=40)
    if text is None:
        return None
    statuses = {part.strip().lower() for part in text.split(",") if part.strip()}
    if not statuses or not statuses <= {reading.OPEN, reading.CLOSED}:
        raise Open311Error(400, _("status takes open, closed or both, comma separated."))
    return statuses


def _window(params: Params, tz: dt.tzinfo, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """[start, end] by requested_datetime: the spec's last 90 days by default; a given pair may span 90 days."""
    start, end = _when(params, "start_date", tz), _when(params, "end_date", tz)
    try:
        if start is None and end is None:
            start, end = now - reading.WINDOW, now
        elif start is None:
            start = end - reading.WINDOW
        elif end is None:
            end = start + reading.WINDOW
    except OverflowError:  # a date at the very edge of the calendar
        raise Open311Error(400, _("%(name)s must be a W3C date and time, e.g. 2026-11-18T09:00:00+08:00.",
                                  name="start_date" if end is None else "end_date")) from None
    if end < start:
        raise Open311Error(400, _("end_date is before start_date."))
    if end - start > reading.WINDOW:
        raise Open311Error(400, _("start_date and end_date may span at most %(days)d days.",
                                  days=reading.WINDOW.days))
    return start, end


def _when(params: Params, name: str, tz: dt.tzinfo) -> Optional[dt.datetime]:
    """A W3C datetime (`2026-11-18T09:00:00+08:00`, `…Z`, or a date); without an offset, the site's time."""
    text = params.text(name, max_chars=40)
    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
        if value.tzinfo is None:
            value = value.replace(tzinfo=tz)
        return value.astimezone(dt.timezone.utc)
    except (ValueError, OverflowError):
        raise Open311Error(400, _("%(name)s must be a W3C date and time, e.g. 2026-11-18T09:00:00+08:00.",
                                  name=name)) from None


# --- anything else under /open311 ---------------------------------------------------------------------------
_EVERY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE"]


@bp.route("/", defaults={"rest": ""}, methods=_EVERY_METHOD)
@bp.route("/<path:rest>", methods=_EVERY_METHOD)
def unknown(rest: str):
    """A path we do not serve (404), or one we serve with other methods (405), answered in the spec's format."""
    allowed = _methods_serving_this_path()
    if allowed:
        raise MethodNotAllowed(valid_methods=allowed)
    raise Open311Error(404, _("There is no such resource here."))


def _methods_serving_this_path() -> list[str]:
    adapter = current_app.create_url_adapter(request)
    allowed = []
    for method in ("GET", "POST"):
        try:
            endpoint, _values = adapter.match(method=method)
        except HTTPException:
            continue
        if endpoint != request.endpoint:
            allowed.append(method)
    return allowed


# --- every refusal in the spec's format ------------------------------------------------------------------------
@bp.errorhandler(Open311Error)
def _refused(exc: Open311Error):
    roll_back_request()
    return errors(answer_format(), exc.status, exc.description)


@bp.errorhandler(DomainError)
def _refused_by_domain(exc: DomainError):
    """A domain rule refused the input (the spec's "general service error"): 400; a conflict stays 409."""
    roll_back_request()
    return errors(answer_format(), 409 if isinstance(exc, ConflictError) else 400, str(exc))


@bp.errorhandler(NotAllowed)
def _not_allowed(exc: NotAllowed):
    roll_back_request()
    access.deny(None, str(exc) or "not allowed")
    return errors(answer_format(), 403, _("You are not allowed to do this. The attempt has been recorded."))


def _http_error(exc: HTTPException):
    roll_back_request()
    code = exc.code or 500
    descriptions = {
        400: lambda: _("The request could not be read."),
        404: lambda: _("There is no such resource here."),
        405: lambda: _("This resource does not take %(method)s.", method=request.method),
        413: lambda: _("The request body is too large: at most %(n)d KiB.", n=MAX_BODY_BYTES // 1024),
        500: lambda: _("Something went wrong on the server; nothing was done."),
    }
    response = errors(answer_format(), code, descriptions[code]() if code in descriptions else exc.description)
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


for _code in (400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 500):
    bp.register_error_handler(_code, _http_error)
bp.register_error_handler(HTTPException, _http_error)
