"""Plans and patrols: the lists, a patrol with its checklist, and what the tablet's form calls — start, submit,
the checkpoint lookups, and a fresh CSRF token for its outbox.

The rules are the pages': plans are for the site's supervisors and admins (the plans page); a patrol is seen by
whoever `services.can_view` lets see it (its list is `services.visible_to` of the board's query, with the board's
filters and order, `patrols/board.py`); only its assignee starts, fills, submits it and looks its checkpoints up
(`services.can_fill`).

The submission is the tablet's payload, the very one its outbox sends: a JSON body, or (with photos) a multipart
body whose `payload` field holds that JSON beside one file per photo named in the answers. `services.submit`
applies it exactly once per client UUID: the same UUID with the same content answers the first result again (200),
with other content 409. The payload is checked against `SubmissionIn` (types, bounds, no unknown field, no NUL) and
then handed to the service as it was sent, so its content hash is the one a retry of the same bytes gets.
"""

from __future__ import annotations

import datetime as dt
import http
import json
from typing import Any, Optional

import marshmallow as ma
from flask import g, request, url_for
from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from marshmallow import validate
from sqlalchemy import and_
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import UnsupportedMediaType

from gridpatrol.api.auth import authenticate, body_limit, whole_body
from gridpatrol.api.pagination import Page, PageQuery, page_of
from gridpatrol.api.schemas import Person, clean_text
from gridpatrol.api.spec import ApiBlueprint, MalformedBody, RequestInvalid
from gridpatrol.core.access import load
from gridpatrol.core.errors import DomainError
from gridpatrol.core.roles import Role, deny
from gridpatrol.core.time import to_local, utcnow, zone
from gridpatrol.extensions import db
from gridpatrol.grids.models import Grid
from gridpatrol.patrols import board as boards
from gridpatrol.patrols import checklists, followups, offline, plan_text, services
from gridpatrol.patrols.models import Patrol

blp = ApiBlueprint("api_patrols", __name__, url_prefix="/api/v1",
                   description="Plans and patrols (巡查): lists, a patrol's checklist, start, submit, checkpoints")
blp.before_request(authenticate)

MAX_ID = 2**31 - 1


class SessionRequired(DomainError):
    """A CSRF token is for a browser session; a token caller needs none."""

    status_code = 403
    code = "session_required"


# --- plans -------------------------------------------------------------------------------------------
class PlanGridOut(ma.Schema):
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    patrolled_by = ma.fields.String(required=True, allow_none=True, metadata={
        "description": "a cross-check (互检): the code of the grid whose leader patrols this one"})


class PlanOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    kind = ma.fields.String(required=True, metadata={"description": "routine, special, cross_check, safety_sweep"})
    kind_label = ma.fields.String(required=True)
    active = ma.fields.Boolean(required=True)
    template = ma.fields.String(required=True, metadata={"description": "the checklist standard's name"})
    recurrence = ma.fields.String(required=True,
                                  metadata={"description": "daily, workdays, weekdays, monthly, every_n_days"})
    recurrence_text = ma.fields.String(required=True)
    rest_day_text = ma.fields.String(required=True, allow_none=True)
    weekdays = ma.fields.List(ma.fields.Integer(), required=True, metadata={"description": "0 = Monday"})
    month_day = ma.fields.Integer(required=True, allow_none=True, metadata={"description": "-1: the last day"})
    interval_days = ma.fields.Integer(required=True, allow_none=True)
    on_rest_day = ma.fields.String(required=True)
    window_start = ma.fields.String(required=True, metadata={"description": "HH:MM in the site's zone"})
    window_minutes = ma.fields.Integer(required=True)
    grace_minutes = ma.fields.Integer(required=True)
    starts_on = ma.fields.Date(required=True)
    ends_on = ma.fields.Date(required=True, allow_none=True)
    categories = ma.fields.List(ma.fields.String(), required=True, allow_none=True, metadata={
        "description": "the checklist categories its patrols cover; null: each grid's own"})
    grids = ma.fields.List(ma.fields.Nested(PlanGridOut), required=True)


class PlanPage(Page):
    items = ma.fields.List(ma.fields.Nested(PlanOut), required=True)


def plan_json(plan) -> dict[str, Any]:
    return {
        "id": plan.id, "name": plan.name, "kind": plan.kind, "kind_label": plan_text.kind_text(plan),
        "active": plan.active, "template": plan.template.name, "recurrence": plan.recurrence,
        "recurrence_text": plan_text.recurrence_text(plan), "rest_day_text": plan_text.rest_day_text(plan),
        "weekdays": list(plan.weekdays or []), "month_day": plan.month_day, "interval_days": plan.interval_days,
        "on_rest_day": plan.on_rest_day, "window_start": plan.window_start.strftime("%H:%M"),
        "window_minutes": plan.window_minutes, "grace_minutes": plan.grace_minutes, "starts_on": plan.starts_on,
        "ends_on": plan.ends_on, "categories": plan.categories,
        "grids": [{"code": pg.grid.code, "name": pg.grid.name,
                   "patrolled_by": pg.patroller_grid.code if pg.patroller_grid is not None else None}
                  for pg in sorted(plan.plan_grids, key=lambda pg: pg.grid.code)],
    }


@blp.route("/sites/<site>/plans", tags=["patrols"], endpoint="plans")
class Plans(MethodView):
    @blp.arguments(PageQuery, location="query", as_kwargs=True)
    @blp.response(200, PlanPage)
    def get(self, page: int, per_page: int):
        """The site's patrol plans (巡查计划), active first, by name: for its supervisors and admins"""
        if not current_user.has_any_role(Role.SUPERVISOR, Role.ADMIN):
            deny("role required: supervisor, admin")
        plans = services.list_plans(db.session, g.site)  # active first, then by name
        plans.sort(key=lambda p: (not p.active, p.name, p.id))
        chosen = plans[(page - 1) * per_page: page * per_page]
        return page_of([plan_json(p) for p in chosen], page=page, per_page=per_page, total=len(plans))


# --- the list of patrols ------------------------------------------------------------------------------------
class PatrolQuery(PageQuery):
    day = ma.fields.Date(metadata={"description": "one day (the site's local date); default today"})
    from_ = ma.fields.Date(data_key="from", metadata={"description": "the first day (inclusive), with `to`"})
    to = ma.fields.Date(metadata={"description": "the last day (inclusive); at most 366 days from the first"})
    state = ma.fields.List(ma.fields.String(validate=validate.OneOf(boards.STATES)), metadata={
        "description": "repeatable: the patrol's state as the board shows it"})
    grid = ma.fields.String(validate=[validate.Length(min=1, max=40), clean_text],
                            metadata={"description": "a grid's code"})
    level = ma.fields.Integer(validate=validate.Range(min=-20, max=200), metadata={"description": "the grid's floor"})
    plan = ma.fields.Integer(validate=validate.Range(min=1, max=MAX_ID), metadata={"description": "a plan's id"})
    leader = ma.fields.Integer(validate=validate.Range(min=1, max=MAX_ID),
                               metadata={"description": "the assignee's user id"})


class PatrolGrid(ma.Schema):
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)


class PatrolRow(ma.Schema):
    id = ma.fields.Integer(required=True)
    grid = ma.fields.Nested(PatrolGrid, required=True)
    plan = ma.fields.String(required=True, metadata={"description": "the plan's name"})
    window_start = ma.fields.DateTime(required=True)
    due_at = ma.fields.DateTime(required=True)
    assignee = ma.fields.String(required=True, allow_none=True, metadata={"description": "the assignee's name"})
    state = ma.fields.String(required=True, validate=validate.OneOf(boards.STATES))
    state_label = ma.fields.String(required=True)
    score = ma.fields.Float(required=True, allow_none=True)
    failed_critical = ma.fields.Boolean(required=True)
    url = ma.fields.String(required=True, metadata={"description": "the patrol in the API"})


class PatrolPage(Page):
    items = ma.fields.List(ma.fields.Nested(PatrolRow), required=True)
    counts = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), required=True, metadata={
        "description": "patrols per state under the other filters (the board's tabs)"})


def _board_filter(args: dict[str, Any], now: dt.datetime) -> boards.BoardFilter:
    """The board's own reading of the filters (its rules: one day or a range of at most 366 days, by default
    today); what it cannot show is a refusal (422 `bad_filter`)."""
    given = MultiDict()
    for key, name in (("day", "day"), ("from_", "from"), ("to", "to")):
        if args.get(key) is not None:
            given[name] = args[key].isoformat()
    for state in args.get("state") or ():
        given.add("state", state)
    for key in ("level", "plan", "leader"):
        if args.get(key) is not None:
            given[key] = str(args[key])
    try:
        return boards.parse_filter(given, g.site, now)
    except boards.BadFilter as refused:
        raise DomainError(_("The list cannot show this: %(reason)s.", reason=str(refused)), code="bad_filter") \
            from None


@blp.route("/sites/<site>/patrols", tags=["patrols"], endpoint="patrols")
class Patrols(MethodView):
    @blp.arguments(PatrolQuery, location="query")
    @blp.response(200, PatrolPage)
    def get(self, args: dict):
        """The site's patrols the caller may see

        A supervisor or admin sees all of them, a grid leader their own and their grids'; by window start and grid
        code, filtered as the patrol board filters them (by default today's)."""
        now = utcnow()
        f = _board_filter(args, now)
        page, per_page = args["page"], args["per_page"]
        f = boards.BoardFilter(f.first_day, f.last_day, f.states, level=f.level, plan_id=f.plan_id,
                               leader_id=f.leader_id, page=page)
        among = services.visible_to(db.session, current_user, g.site)
        if args.get("grid") is not None:
            among = Grid.code == args["grid"] if among is None else and_(among, Grid.code == args["grid"])
        view = boards.board(db.session, g.site, f, now, per_page=per_page, among=among)
        tz = zone(g.site.timezone)
        rows = [{"id": r.id, "grid": {"code": r.grid_code, "name": r.grid_name}, "plan": r.plan_name,
                 "window_start": to_local(r.window_start, tz), "due_at": to_local(r.due_at, tz),
                 "assignee": r.leader, "state": r.state, "state_label": str(boards.STATE_LABELS[r.state]),
                 "score": r.score, "failed_critical": r.failed_critical,
                 "url": url_for("api_patrols.patrol", patrol_id=r.id)} for r in view.rows]
        return {**page_of(rows, page=page, per_page=per_page, total=view.total), "counts": view.counts}


# --- one patrol -------------------------------------------------------------------------------------------
class ChecklistItemOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    code = ma.fields.String(required=True)
    category = ma.fields.String(required=True)
    text = ma.fields.String(required=True)
    weight = ma.fields.Integer(required=True)
    allow_na = ma.fields.Boolean(required=True)
    critical = ma.fields.Boolean(required=True, metadata={"description": "否决项: failing it fails the patrol"})
    photo_on_fail = ma.fields.Boolean(required=True, metadata={"description": "a failed answer needs a photo"})


class PatrolAnswerOut(ma.Schema):
    item_id = ma.fields.Integer(required=True)
    result = ma.fields.String(required=True, validate=validate.OneOf(("pass", "fail", "na")))
    note = ma.fields.String(required=True, allow_none=True)


class CheckpointScanOut(ma.Schema):
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    scanned_at = ma.fields.DateTime(required=True)
    method = ma.fields.String(required=True, metadata={"description": "qr or typed"})
    flags = ma.fields.List(ma.fields.String(), required=True,
                           metadata={"description": "other_grid, repeated, clock_skew"})


class PatrolFollowUpOut(ma.Schema):
    kind = ma.fields.String(required=True, metadata={"description": "what was raised, e.g. issue"})
    item_id = ma.fields.Integer(required=True)
    id = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    state = ma.fields.String(required=True)
    state_label = ma.fields.String(required=True)
    url = ma.fields.String(required=True, metadata={"description": "its page"})


class PatrolLinks(ma.Schema):
    self_ = ma.fields.String(required=True, data_key="self", attribute="self")
    start = ma.fields.String(required=True)
    submission = ma.fields.String(required=True)
    checkpoints = ma.fields.String(required=True)
    checkpoint = ma.fields.String(required=True, metadata={"description": "add ?code= (a scanned or typed code)"})


class PatrolOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    site = ma.fields.String(required=True)
    grid = ma.fields.Nested(PatrolGrid, required=True)
    plan = ma.fields.String(required=True)
    kind = ma.fields.String(required=True)
    template = ma.fields.String(required=True, metadata={"description": "the checklist standard and its version"})
    window_start = ma.fields.DateTime(required=True)
    due_at = ma.fields.DateTime(required=True)
    grace_until = ma.fields.DateTime(required=True)
    status = ma.fields.String(required=True, metadata={"description": "scheduled, in_progress, submitted, missed"})
    state = ma.fields.String(required=True, validate=validate.OneOf(boards.STATES))
    state_label = ma.fields.String(required=True)
    assignee = ma.fields.Nested(Person, required=True, allow_none=True)
    fillable = ma.fields.Boolean(required=True, metadata={
        "description": "the caller is the assignee and may still submit it"})
    started_at = ma.fields.DateTime(required=True, allow_none=True)
    completed_at = ma.fields.DateTime(required=True, allow_none=True, metadata={"description": "by the device"})
    submitted_at = ma.fields.DateTime(required=True, allow_none=True, metadata={"description": "by the server"})
    score = ma.fields.Float(required=True, allow_none=True)
    failed_critical = ma.fields.Boolean(required=True)
    late = ma.fields.Boolean(required=True)
    location_outside = ma.fields.Boolean(required=True, allow_none=True)
    items = ma.fields.List(ma.fields.Nested(ChecklistItemOut), required=True, metadata={
        "description": "the checklist items it covers, in checklist order: every one is answered"})
    answers = ma.fields.List(ma.fields.Nested(PatrolAnswerOut), required=True)
    scans = ma.fields.List(ma.fields.Nested(CheckpointScanOut), required=True)
    follow_ups = ma.fields.List(ma.fields.Nested(PatrolFollowUpOut), required=True, metadata={
        "description": "what its failed items raised (issues) that the caller may see"})
    links = ma.fields.Nested(PatrolLinks, required=True)


def _links(patrol_id: int) -> dict[str, str]:
    return {"self": url_for("api_patrols.patrol", patrol_id=patrol_id),
            "start": url_for("api_patrols.start", patrol_id=patrol_id),
            "submission": url_for("api_patrols.submission", patrol_id=patrol_id),
            "checkpoints": url_for("api_patrols.checkpoints", patrol_id=patrol_id),
            "checkpoint": url_for("api_patrols.checkpoint", patrol_id=patrol_id)}


def _local(value: Optional[dt.datetime], tz) -> Optional[dt.datetime]:
    return to_local(value, tz) if value is not None else None


def _follow_ups(patrol: Patrol) -> list[dict]:
    raised = followups.follow_ups(db.session, current_user, patrol)
    return [f.as_json() for found in raised.values() for f in found]


def patrol_json(patrol: Patrol, now: dt.datetime) -> dict[str, Any]:
    tz = zone(g.site.timezone)
    state = services.display_state(patrol, now)
    assignee = patrol.assignee
    version = patrol.template_version
    return {
        "id": patrol.id, "site": g.site.code, "grid": {"code": patrol.grid.code, "name": patrol.grid.name},
        "plan": patrol.plan.name, "kind": patrol.kind, "template": f"{version.template.name} v{version.number}",
        "window_start": _local(patrol.window_start, tz), "due_at": _local(patrol.due_at, tz),
        "grace_until": _local(patrol.grace_until, tz), "status": patrol.status, "state": state,
        "state_label": str(boards.STATE_LABELS[state]),
        "assignee": {"username": assignee.username, "name": assignee.display_name} if assignee else None,
        "fillable": services.can_fill(current_user, patrol) and patrol.is_open and now < patrol.grace_until,
        "started_at": _local(patrol.started_at, tz), "completed_at": _local(patrol.completed_at, tz),
        "submitted_at": _local(patrol.submitted_at, tz), "score": patrol.score,
        "failed_critical": patrol.failed_critical, "late": patrol.late, "location_outside": patrol.location_outside,
        "items": [{"id": i.id, "code": i.code, "category": i.category, "text": i.text, "weight": i.weight,
                   "allow_na": i.allow_na, "critical": i.critical, "photo_on_fail": i.photo_on_fail}
                  for i in checklists.items_for_patrol(db.session, patrol)],
        "answers": [{"item_id": a.item_id, "result": a.result, "note": a.note}
                    for a in sorted(patrol.answers, key=lambda a: a.item_id)],
        "scans": [{"code": s.checkpoint.code, "name": s.checkpoint.name, "scanned_at": _local(s.scanned_at, tz),
                   "method": s.method, "flags": list(s.flags or [])} for s in patrol.scans],
        "follow_ups": _follow_ups(patrol) if patrol.status == "submitted" else [],
        "links": _links(patrol.id),
    }


def _visible(patrol_id: int) -> Patrol:
    """A patrol of this site the caller may see (404 at another site, 403 audited otherwise)."""
    return load(Patrol, patrol_id, may=lambda p: services.can_view(db.session, current_user, p),
                refusal="patrol of another grid")


def _fillable(patrol_id: int, what: str) -> Patrol:
    return load(Patrol, patrol_id, may=lambda p: services.can_fill(current_user, p),
                refusal=f"{what} a patrol assigned to someone else")


@blp.route("/sites/<site>/patrols/<int:patrol_id>", tags=["patrols"], endpoint="patrol")
class OnePatrol(MethodView):
    @blp.response(200, PatrolOut)
    def get(self, patrol_id: int):
        """A patrol with the checklist items it covers, its answers, scans and what it raised"""
        return patrol_json(_visible(patrol_id), utcnow())


class PatrolStartOut(ma.Schema):
    patrol_id = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True)
    started_at = ma.fields.DateTime(required=True, allow_none=True)


@blp.route("/sites/<site>/patrols/<int:patrol_id>/start", tags=["patrols"], endpoint="start")
class Start(MethodView):
    @blp.response(200, PatrolStartOut)
    def post(self, patrol_id: int):
        """Mark the patrol in progress (opening its form)

        For its assignee: a scheduled patrol whose window has begun is in progress from now; otherwise nothing
        changes."""
        patrol = _fillable(patrol_id, "start")
        services.start(db.session, patrol, current_user, utcnow())
        return {"patrol_id": patrol.id, "status": patrol.status,
                "started_at": _local(patrol.started_at, zone(g.site.timezone))}


# --- the submission --------------------------------------------------------------------------------------
class JsonInteger(ma.fields.Integer):
    """An integer as JSON writes one: 3, or 3.0 (JSON Schema's integer too); not "3", true or 3.5."""

    def _validated(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                (isinstance(value, float) and not value.is_integer()):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


class PatrolAnswerIn(ma.Schema):
    item_id = JsonInteger(required=True, validate=validate.Range(min=1, max=MAX_ID))
    result = ma.fields.String(required=True, validate=validate.OneOf(("pass", "fail", "na")))
    note = ma.fields.String(allow_none=True, validate=[validate.Length(max=100_000), clean_text],
                            metadata={"description": "the first 2,000 characters are kept"})
    photos = ma.fields.List(ma.fields.String(validate=[validate.Length(min=1, max=100), clean_text]),
                            validate=validate.Length(max=50),
                            metadata={"description": "names of the multipart body's photo fields"})


class CheckpointScanIn(ma.Schema):
    code = ma.fields.String(required=True, validate=[validate.Length(min=1, max=2000), clean_text], metadata={
        "description": "a checkpoint's code as typed, or its QR poster's signed text as scanned"})
    scanned_at = ma.fields.String(allow_none=True, validate=[validate.Length(max=64), clean_text],
                                  metadata={"format": "date-time", "description": "the device's clock, with offset"})
    method = ma.fields.String(allow_none=True, validate=validate.OneOf(("qr", "typed")))


class LocationStampIn(ma.Schema):
    lon = ma.fields.Float(required=True, allow_nan=False, validate=validate.Range(min=-180, max=180))
    lat = ma.fields.Float(required=True, allow_nan=False, validate=validate.Range(min=-90, max=90))
    accuracy = ma.fields.Float(allow_none=True, allow_nan=False, validate=validate.Range(min=0, max=1e7),
                               metadata={"description": "metres"})


class SubmissionIn(ma.Schema):
    """The tablet's payload (static/js/patrol-form-submit.js builds it)."""

    client_uuid = ma.fields.String(required=True, validate=[validate.Length(min=8, max=36), clean_text], metadata={
        "description": "made by the client once per submission: a retry with the same content answers the first "
                       "result again; with other content it is refused (409)"})
    completed_at = ma.fields.String(allow_none=True, validate=[validate.Length(max=64), clean_text], metadata={
        "format": "date-time", "description": "when the leader finished, by the device's clock (default: now)"})
    answers = ma.fields.List(ma.fields.Nested(PatrolAnswerIn), required=True, validate=validate.Length(max=1000),
                             metadata={"description": "one per item of the patrol's checklist"})
    scans = ma.fields.List(ma.fields.Nested(CheckpointScanIn), allow_none=True, validate=validate.Length(max=1000))
    location = ma.fields.Nested(LocationStampIn, allow_none=True, metadata={"description": "the location stamp (WGS 84)"})


class SubmissionOut(ma.Schema):
    patrol_id = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True)
    score = ma.fields.Float(required=True, allow_none=True)
    failed_critical = ma.fields.Boolean(required=True)
    late = ma.fields.Boolean(required=True)
    failed_items = ma.fields.Integer(required=True)
    scans = ma.fields.Integer(required=True)
    location_outside = ma.fields.Boolean(required=True, allow_none=True)
    follow_ups = ma.fields.List(ma.fields.Nested(PatrolFollowUpOut), required=True)


MULTIPART_BODY = {
    "type": "object", "required": ["payload"],
    "properties": {"payload": SubmissionIn},
    "additionalProperties": {"type": "string", "format": "binary",
                             "description": "a photo (JPEG, PNG or WebP), under the name an answer's photos give"},
}
SUBMISSION_BODY = {
    "required": True,
    "description": "The payload as the JSON body, or, with photos, as the `payload` field (JSON) of a "
                   "multipart body beside one file per photo.",
    "content": {"application/json": {"schema": SubmissionIn},
                "multipart/form-data": {"schema": MULTIPART_BODY,
                                        "encoding": {"payload": {"contentType": "application/json"}}}},
}


def _load_json(text: bytes | str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # not JSON (or not UTF-8), or nested past what the parser can follow
        raise MalformedBody(_("The body is not valid JSON.")) from None


def _read_submission() -> tuple[dict, dict[str, bytes]]:
    """The payload (checked against SubmissionIn, returned as sent) and the photos by field name."""
    if request.mimetype == "application/json":
        payload, files, where = _load_json(whole_body()), {}, "json"
    elif request.mimetype == "multipart/form-data":
        text = request.form.get("payload")
        if text is None and "payload" in request.files:
            text = request.files["payload"].read()
        if text is None:
            raise RequestInvalid(_("The request is invalid: see errors."),
                                 errors={"form": {"payload": ["Missing data for required field."]}})
        payload, where = _load_json(text), "form"
        files = {name: upload.read() for name, upload in request.files.items() if name != "payload"}
    else:
        raise UnsupportedMediaType(_("Send the submission as application/json or multipart/form-data."))
    if not isinstance(payload, dict):
        raise MalformedBody(_("The submission is not a JSON object."))
    problems = SubmissionIn().validate(payload)
    if problems:
        raise RequestInvalid(_("The request is invalid: see errors."), errors={where: problems})
    return payload, files


@blp.route("/sites/<site>/patrols/<int:patrol_id>/submission", tags=["patrols"], endpoint="submission")
class Submission(MethodView):
    @body_limit(services.MAX_SUBMISSION_BYTES)
    @blp.doc(requestBody=SUBMISSION_BODY)
    @blp.response(200, SubmissionOut)
    @blp.alt_response(409, response=http.HTTPStatus.CONFLICT.name)
    @blp.alt_response(413, response=http.HTTPStatus(413).name)
    def post(self, patrol_id: int):
        """Submit the patrol (its assignee), exactly once per client UUID

        Its answers, photos, checkpoint scans and location stamp. The same client UUID with the same content
        answers the first result again (200); with other content, or for a patrol already submitted, 409. A submission
        kept offline that arrives more than OFFLINE_SUBMISSION_HOURS after the patrol's grace period is a 409
        `offline_too_late` (the patrol stays missed)."""
        patrol = _visible(patrol_id)
        payload, files = _read_submission()
        result = services.submit(db.session, patrol, current_user, payload, files, now=utcnow())
        # What the failed items raised (issues, with links), looked up now: a replay answers them too.
        return {**result.body, "follow_ups": _follow_ups(patrol)}


# --- checkpoints ----------------------------------------------------------------------------------------------
class CheckpointQuery(ma.Schema):
    code = ma.fields.String(required=True, validate=[validate.Length(min=1, max=2000), clean_text], metadata={
        "description": "a typed checkpoint code, or a QR poster's signed text"})


class CheckpointOut(ma.Schema):
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    grid = ma.fields.String(required=True, metadata={"description": "the checkpoint's grid code"})
    other_grid = ma.fields.Boolean(required=True, metadata={"description": "not the patrol's grid"})


class CheckpointTableRow(ma.Schema):
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    poster_sha256 = ma.fields.String(required=True, metadata={
        "description": "hex SHA-256 of the poster's signed text as the server reads it (trimmed, upper case)"})


class CheckpointTable(ma.Schema):
    patrol_id = ma.fields.Integer(required=True)
    grid = ma.fields.String(required=True)
    checkpoints = ma.fields.List(ma.fields.Nested(CheckpointTableRow), required=True)


@blp.route("/sites/<site>/patrols/<int:patrol_id>/checkpoint", tags=["patrols"], endpoint="checkpoint")
class Checkpoint(MethodView):
    @blp.arguments(CheckpointQuery, location="query", as_kwargs=True)
    @blp.response(200, CheckpointOut)
    def get(self, patrol_id: int, code: str):
        """Which checkpoint a scanned or typed code is (the assignee)

        A poster's signature is verified; an unknown or forged code is refused (422)."""
        patrol = _fillable(patrol_id, "scan for")
        checkpoint = services.resolve_checkpoint(db.session, g.site.code, patrol.site_id, code)
        return {"code": checkpoint.code, "name": checkpoint.name, "grid": checkpoint.grid.code,
                "other_grid": checkpoint.grid_id != patrol.grid_id}


@blp.route("/sites/<site>/patrols/<int:patrol_id>/checkpoints", tags=["patrols"], endpoint="checkpoints")
class Checkpoints(MethodView):
    @blp.response(200, CheckpointTable)
    def get(self, patrol_id: int):
        """The patrol grid's active checkpoints, for offline lookups (the assignee)

        The tablet keeps them to look scanned codes up without network: each poster's digest, never its signed
        text."""
        return offline.checkpoint_table(db.session, _fillable(patrol_id, "checkpoints of"))


# --- the session's CSRF token --------------------------------------------------------------------------------
class CsrfToken(ma.Schema):
    token = ma.fields.String(required=True, metadata={"description": "send it as the X-CSRFToken header"})


@blp.route("/session/csrf-token", tags=["session"], endpoint="csrf_token")
class SessionCsrfToken(MethodView):
    @blp.response(200, CsrfToken, headers={"Cache-Control": {"schema": {"type": "string"}}})
    def get(self):
        """A fresh CSRF token for the browser's session

        The tablet's outbox fetches one when the page's token has expired. A token caller needs none and is
        refused (403 `session_required`)."""
        if g.get("authenticated_by") == "token":
            raise SessionRequired(_("A CSRF token is for a logged-in browser; a token caller sends none."))
        return {"token": generate_csrf()}, 200, {"Cache-Control": "no-store"}

