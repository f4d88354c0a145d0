"""Issues (问题隐患) and their rectification (整改): the queue, an issue, a quick report (随手拍), every action of the
workflow table, comments, 延期 requests and decisions, and the photos.

Everything goes through the services the pages call, with their rules:
* the list is the queue (`issues.queue.page`): the same visibility, filters and order (deadline, not dispatched
  first, then the id), with the queue page's parameter names, except `grid`, which takes the grid's code (A01), as
  the grids' GeoJSON and the posters name grids, where the page takes its database id;
* an issue is loaded as the issue page loads it (`core.access.load` with `services.can_view`): another site's
  issue is a 404, one the caller may not see a 403 (audited);
* each action of the table (`issues.workflow.TRANSITIONS`, comments aside: they have their own collection) is one
  operation whose body holds the fields of the form the table names for it (`issues/forms.py`), passed by name to
  `services.perform`, as the page's view `act` does; the service checks who, the state and the needs;
* safe updates: the detail's `ETag: W/"<version>"` sent back as `If-Match` (or the body's `version`) becomes the
  service's `expected_version`: a stale one is refused with 409 `conflict`, and nothing is done.

The quick report takes its photos as base64 strings; it has no `client_uuid`: `services.report` keeps no request
identity, so a repeated POST files a second report (the page behaves the same).
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import zoneinfo
from typing import Any, Callable, Optional

import marshmallow as ma
from flask import abort, g, url_for
from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import validate
from sqlalchemy import func, select
from wtforms.fields.core import UnboundField

from gridpatrol.accounts import services as accounts
from gridpatrol.accounts.models import Team
from gridpatrol.api.auth import authenticate, body_limit
from gridpatrol.api.pagination import Page, PageQuery, page_of
from gridpatrol.api.schemas import Person, clean_text
from gridpatrol.api.spec import ApiBlueprint
from gridpatrol.core import photos as photo_files
from gridpatrol.core.access import load
from gridpatrol.core.categories import Category
from gridpatrol.core.errors import ConflictError, DomainError
from gridpatrol.core.time import day_bounds, local_day, utcnow
from gridpatrol.extensions import db
from gridpatrol.grids.models import Grid
from gridpatrol.issues import extensions, queue, services, workflow
from gridpatrol.issues import forms as issue_forms
from gridpatrol.issues.labels import issue_labels
from gridpatrol.issues.models import (OPEN_STATES, Issue, IssueComment, IssueExtension, IssuePhoto,
                                      IssueState, RejectReason, Severity)
from gridpatrol.issues.workflow import Action

blp = ApiBlueprint("api_issues", __name__, url_prefix="/api/v1",
                   description="Issues (问题隐患): the queue, quick reports, the rectification workflow (整改), "
                               "comments and 延期")
blp.before_request(authenticate)

MAX_ID = 2**31 - 1  # ids are 32-bit integers in the database: a bigger one is refused, never sent to it
FIRST_DAY, LAST_DAY = dt.date(2000, 1, 1), dt.date(2100, 12, 31)
MAX_NOTE = 2000  # the forms' bound (issues/forms.py)
MAX_COMMENT = 4000
MAX_PHOTOS = 8  # per report or fix
# A photo in base64 (standard alphabet, padded, no line breaks), at most the size the photo check allows.
BASE64 = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
MAX_PHOTO_CHARS = 4 * math.ceil(photo_files.MAX_BYTES / 3)
PHOTO_BODY_BYTES = 32 * 1024 * 1024  # the body bound of the operations that take photos
ETAG_PATTERN = r'^W/"[0-9]{1,9}"$'


def _text(max_chars: int, **kwargs) -> ma.fields.String:
    return ma.fields.String(validate=[validate.Length(max=max_chars), clean_text], **kwargs)


def _id(*, strict: bool = True, **kwargs) -> ma.fields.Integer:
    """An id: strictly a JSON integer in a body (not 1.5, not "1"); the query's are text."""
    return ma.fields.Integer(strict=strict, validate=validate.Range(min=1, max=MAX_ID), **kwargs)


def _day(**kwargs) -> ma.fields.Date:
    return ma.fields.Date(validate=validate.Range(min=FIRST_DAY, max=LAST_DAY), **kwargs)


def _photos(**kwargs) -> ma.fields.List:
    photo = ma.fields.String(validate=[validate.Length(max=MAX_PHOTO_CHARS),
                                       validate.Regexp(BASE64, error="must be base64 (standard alphabet, padded)")],
                             metadata={"contentEncoding": "base64"})
    return ma.fields.List(photo, validate=validate.Length(max=MAX_PHOTOS), metadata={
        "description": f"JPEG, PNG or WebP images in base64, at most {MAX_PHOTOS}, each at most "
                       f"{photo_files.MAX_BYTES // (1024 * 1024)} MB; the whole body at most "
                       f"{PHOTO_BODY_BYTES // (1024 * 1024)} MB"}, **kwargs)


def _one_of(values) -> validate.OneOf:
    return validate.OneOf([v.value for v in values])


class Body(ma.Schema):
    class Meta:
        unknown = ma.RAISE


# --- output ------------------------------------------------------------------------------------------------
class GridRef(ma.Schema):
    id = ma.fields.Integer(required=True)
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)


class TeamRef(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)


class IssueRow(ma.Schema):
    id = ma.fields.Integer(required=True)
    url = ma.fields.String(required=True, metadata={"description": "the issue in this API"})
    title = ma.fields.String(required=True)
    state = ma.fields.String(required=True, validate=_one_of(IssueState))
    state_label = ma.fields.String(required=True, metadata={"description": "in the caller's language"})
    severity = ma.fields.String(required=True, validate=_one_of(Severity))
    category = ma.fields.String(required=True, validate=_one_of(Category))
    grid = ma.fields.String(required=True, allow_none=True, metadata={"description": "the grid's code"})
    reported_at = ma.fields.DateTime(required=True)
    deadline = ma.fields.DateTime(required=True, allow_none=True)
    overdue = ma.fields.Boolean(required=True)


class IssuePage(Page):
    items = ma.fields.List(ma.fields.Nested(IssueRow), required=True)


class PhotoOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    kind = ma.fields.String(required=True, validate=validate.OneOf(["before", "after"]))
    url = ma.fields.String(required=True)
    content_type = ma.fields.String(required=True)
    width = ma.fields.Integer(required=True)
    height = ma.fields.Integer(required=True)


class EventOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    at = ma.fields.DateTime(required=True)
    action = ma.fields.String(required=True, metadata={"description": "the stored event: reported, dispatch, …"})
    label = ma.fields.String(required=True, metadata={"description": "what the timeline says, in the caller's "
                                                                      "language"})
    actor = ma.fields.Nested(Person, required=True, allow_none=True)
    from_state = ma.fields.String(required=True, allow_none=True)
    to_state = ma.fields.String(required=True, allow_none=True)
    note = ma.fields.String(required=True, allow_none=True)
    data = ma.fields.Dict(required=True)


class CommentOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    at = ma.fields.DateTime(required=True)
    author = ma.fields.Nested(Person, required=True)
    text = ma.fields.String(required=True)


class CommentPage(Page):
    items = ma.fields.List(ma.fields.Nested(CommentOut), required=True)


class ActionOut(ma.Schema):
    action = ma.fields.String(required=True)
    label = ma.fields.String(required=True, metadata={"description": "the page's button, in the caller's language"})
    to_state = ma.fields.String(required=True)
    needs = ma.fields.List(ma.fields.String(), required=True,
                           metadata={"description": "what the action cannot do without (workflow.Need)"})
    url = ma.fields.String(required=True, metadata={"description": "where to POST it"})


class ExtensionOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    url = ma.fields.String(required=True, metadata={"description": "where a supervisor POSTs the decision"})
    state = ma.fields.String(required=True, validate=validate.OneOf(["pending", "approved", "refused", "lapsed"]))
    version = ma.fields.Integer(required=True, metadata={"description": "send it with the decision"})
    reason = ma.fields.String(required=True)
    requested_at = ma.fields.DateTime(required=True)
    requested_by = ma.fields.Nested(Person, required=True)
    deadline_before = ma.fields.DateTime(required=True)
    requested_deadline = ma.fields.DateTime(required=True)
    decided_at = ma.fields.DateTime(required=True, allow_none=True)
    decision_note = ma.fields.String(required=True, allow_none=True)


class IssueOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    url = ma.fields.String(required=True)
    site = ma.fields.String(required=True)
    version = ma.fields.Integer(required=True, metadata={"description": "also the ETag: send it back as If-Match"})
    title = ma.fields.String(required=True)
    description = ma.fields.String(required=True, allow_none=True)
    state = ma.fields.String(required=True, validate=_one_of(IssueState))
    state_label = ma.fields.String(required=True)
    severity = ma.fields.String(required=True, validate=_one_of(Severity))
    severity_label = ma.fields.String(required=True)
    category = ma.fields.String(required=True, validate=_one_of(Category))
    category_label = ma.fields.String(required=True)
    source = ma.fields.String(required=True, validate=validate.OneOf(["patrol", "report"]))
    level = ma.fields.Integer(required=True)
    lon = ma.fields.Float(required=True, allow_none=True)
    lat = ma.fields.Float(required=True, allow_none=True)
    grid = ma.fields.Nested(GridRef, required=True, allow_none=True)
    reporter = ma.fields.Nested(Person, required=True)
    team = ma.fields.Nested(TeamRef, required=True, allow_none=True)
    assignee = ma.fields.Nested(Person, required=True, allow_none=True)
    reported_at = ma.fields.DateTime(required=True)
    dispatched_at = ma.fields.DateTime(required=True, allow_none=True)
    deadline = ma.fields.DateTime(required=True, allow_none=True)
    overdue = ma.fields.Boolean(required=True)
    fixed_at = ma.fields.DateTime(required=True, allow_none=True)
    closed_at = ma.fields.DateTime(required=True, allow_none=True)
    rejected_at = ma.fields.DateTime(required=True, allow_none=True)
    reject_reason = ma.fields.String(required=True, allow_none=True)
    duplicate_of = ma.fields.Integer(required=True, allow_none=True)
    should_have_been_found = ma.fields.Boolean(required=True, allow_none=True)
    rework_count = ma.fields.Integer(required=True)
    photos = ma.fields.List(ma.fields.Nested(PhotoOut), required=True)
    events = ma.fields.List(ma.fields.Nested(EventOut), required=True, metadata={"description": "the timeline"})
    comments = ma.fields.List(ma.fields.Nested(CommentOut), required=True)
    actions = ma.fields.List(ma.fields.Nested(ActionOut), required=True,
                             metadata={"description": "what the caller may do now (the page's buttons)"})
    extensions = ma.fields.List(ma.fields.Nested(ExtensionOut), required=True,
                                metadata={"description": "延期 requests, oldest first"})
    may_request_extension = ma.fields.Boolean(required=True)


ETAG_HEADER = {"ETag": {"description": 'W/"<version>": send it back as If-Match to act on this version only',
                        "schema": {"type": "string", "pattern": ETAG_PATTERN}}}


# --- input ---------------------------------------------------------------------------------------------------
class IssueQuery(PageQuery):
    """The queue page's filters (`issues/views.py`), by the same names; `grid` takes a code."""

    class Meta:
        unknown = ma.RAISE

    state = ma.fields.List(ma.fields.String(validate=_one_of(IssueState)), metadata={
        "description": "repeatable; none: the open states (the queue's default), unless `all` is set"})
    all_states = ma.fields.Boolean(data_key="all", load_default=False,
                                   metadata={"description": "every state (when no `state` is given)"})
    grid = ma.fields.String(validate=[validate.Length(min=1, max=20), clean_text],
                            metadata={"description": "the grid's code, e.g. A01 (an unknown code matches nothing)"})
    level = ma.fields.Integer(validate=validate.Range(min=-20, max=200))
    category = ma.fields.String(validate=_one_of(Category))
    severity = ma.fields.String(validate=_one_of(Severity))
    team = _id(strict=False, metadata={"description": "the team's id"})
    overdue = ma.fields.Boolean(load_default=False)
    due = ma.fields.String(validate=validate.OneOf(["today"]),
                           metadata={"description": "today: the deadline falls on today (the site's day)"})
    reported_from = _day(data_key="from", metadata={"description": "reported on or after this day (site's zone)"})
    reported_to = _day(data_key="to", metadata={"description": "reported before this day (exclusive)"})
    due_from = _day(metadata={"description": "deadline on or after this day"})
    due_to = _day(metadata={"description": "deadline before this day (exclusive)"})
    closed_from = _day(metadata={"description": "closed on or after this day"})
    closed_to = _day(metadata={"description": "closed before this day (exclusive)"})
    on_time = ma.fields.Boolean(load_default=False, metadata={"description": "closed by the deadline (按期结案)"})
    reworked = ma.fields.Boolean(load_default=False, metadata={"description": "sent back for rework at least once"})
    mine = ma.fields.Boolean(load_default=False, metadata={"description": "dispatched to me or my teams"})


class ReportIn(Body):
    lon = ma.fields.Float(required=True, validate=validate.Range(min=-180, max=180))
    lat = ma.fields.Float(required=True, validate=validate.Range(min=-90, max=90))
    level = ma.fields.Integer(load_default=0, strict=True, validate=validate.Range(min=-9, max=99),
                              metadata={"description": "floor: 0 outdoors or the ground floor"})
    category = ma.fields.String(required=True, validate=_one_of(Category))
    severity = ma.fields.String(load_default=Severity.MINOR.value, validate=_one_of(Severity))
    description = ma.fields.String(required=True, validate=[validate.Length(min=1, max=MAX_NOTE), clean_text])
    photos = _photos(load_default=list)
    file_anyway = ma.fields.Boolean(load_default=False, metadata={
        "description": "file it although open issues nearby look the same (answered 409 possible_duplicates)"})


class CommentIn(Body):
    text = ma.fields.String(required=True, validate=[validate.Length(min=1, max=MAX_COMMENT), clean_text])


class ExtensionIn(Body):
    reason = ma.fields.String(required=True, validate=[validate.Length(min=1, max=MAX_NOTE), clean_text])
    deadline = _day(required=True, metadata={"description": "the day the work can be done by: the deadline becomes "
                                                            "that day's close of office"})


class DecisionIn(Body):
    decision = ma.fields.String(required=True, validate=validate.OneOf(["approve", "refuse"]))
    note = _text(MAX_NOTE, allow_none=True)
    version = _id(allow_none=True, metadata={"description": "the request's version as read: a stale one is 409"})


class IfMatch(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE  # the other headers

    if_match = ma.fields.String(data_key="If-Match", validate=validate.Regexp(ETAG_PATTERN), metadata={
        "description": 'W/"<version>" from the ETag: the action is refused (409) if the issue changed since'})


Reader = Callable[[Any], Any]


def _team(team_id: Optional[int]) -> Optional[Team]:
    if team_id is None:
        return None
    team = db.session.get(Team, team_id)
    if team is None:
        raise DomainError(_("No team has the number %(id)d.", id=team_id))
    return team


def _person(username: Optional[str]):
    if username is None:
        return None
    person = accounts.get_user_by_username(db.session, username)
    if person is None:
        raise DomainError(_("%(name)s is not an active rectifier.", name=username))
    return person


def _decoded(photos: Optional[list[str]]) -> dict[str, bytes]:
    """{name: bytes} as the service takes them; the names say which photo a refusal is about."""
    return {f"photo {n}": base64.b64decode(text, validate=True) for n, text in enumerate(photos or [], 1)}


def _same(value):
    return value


# An action's body: the fields of the form the workflow table names for it (issues/forms.py). By the form's field
# name: the body's name for it, its field, the service function's argument it becomes and how (as the page's view
# `act` reads its form). The version is the If-Match header's or the body's (see `_expected_version`).
FORM_FIELDS: dict[str, tuple[str, Callable[[], ma.fields.Field], str, Reader]] = {
    "note": ("note", lambda: _text(MAX_NOTE, allow_none=True), "note", _same),
    "team_id": ("team_id", lambda: _id(allow_none=True, metadata={"description": "the team's id"}), "team", _team),
    "assignee_id": ("assignee", lambda: ma.fields.String(allow_none=True, validate=[validate.Length(min=1, max=80),
                                                                                    clean_text],
                                                          metadata={"description": "a rectifier's username"}),
                    "assignee", _person),
    "severity": ("severity", lambda: ma.fields.String(allow_none=True, validate=_one_of(Severity)), "severity", _same),
    "should_have_been_found": ("should_have_been_found", lambda: ma.fields.Boolean(allow_none=True, metadata={
        "description": "应巡未发现: a patrol should have found this quick report"}), "should_have_been_found", _same),
    "reason": ("reason", lambda: ma.fields.String(allow_none=True, validate=_one_of(RejectReason)), "reason", _same),
    "duplicate_of": ("duplicate_of", lambda: _id(allow_none=True, metadata={
        "description": "the issue a duplicate repeats"}), "duplicate_of",
        lambda issue_id: db.session.get(Issue, issue_id) if issue_id is not None else None),
    "photos": ("photos", lambda: _photos(allow_none=True), "photos", _decoded),
    "deadline": ("deadline", lambda: _day(allow_none=True, metadata={
        "description": "the new deadline's day (its close of office); none: the working time that was left"}),
        "deadline", _same),
}
NOT_GIVEN = {"version", "csrf_token"}


def _form_fields(row: workflow.Transition) -> list[str]:
    """The field names of the form class the table names for `row`, in the form's order."""
    form = getattr(issue_forms, row.form)
    fields = [(getattr(form, name).creation_counter, name) for name in dir(form)
              if isinstance(getattr(form, name, None), UnboundField)]
    return [name for _counter, name in sorted(fields)]


ACTIONS = [action for action in Action if action is not Action.COMMENT]  # comments: their own collection
for _action in ACTIONS:
    _unknown = set(_form_fields(workflow.for_action(_action))) - set(FORM_FIELDS) - NOT_GIVEN
    assert not _unknown, f"the API does not know the form fields {_unknown} of {_action.value}"


def _action_schema(action: Action) -> type[ma.Schema]:
    names = _form_fields(workflow.for_action(action))
    fields = {FORM_FIELDS[name][0]: FORM_FIELDS[name][1]() for name in names if name in FORM_FIELDS}
    if "version" in names:
        fields["version"] = _id(allow_none=True, metadata={"description": "the issue's version as read (or send "
                                                                          "If-Match): a stale one is 409"})
    title = "".join(part.title() for part in action.value.split("_"))
    return Body.from_dict(fields, name=f"{title}Body")


# --- helpers -------------------------------------------------------------------------------------------------
def _tz() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(g.site.timezone)


def _local(value: Optional[dt.datetime], tz: dt.tzinfo) -> Optional[dt.datetime]:
    return value.astimezone(tz) if value is not None else None


def _person_json(user) -> Optional[dict]:
    return {"username": user.username, "name": user.display_name} if user is not None else None


def _issue(issue_id: int) -> Issue:
    """An issue of this site the caller may see, as the issue page loads it: 404 for another site's (or none),
    403 (audited) for one the caller may not see."""
    return load(Issue, issue_id, may=lambda i: services.can_view(db.session, current_user, i),
                refusal="issue not visible to this user")


def _etag(issue: Issue) -> dict:
    return {"ETag": f'W/"{issue.version}"'}


def _expected_version(if_match: Optional[str], version: Optional[int]) -> Optional[int]:
    """The version the caller read: If-Match's, else the body's. Both given and different: one of them is stale."""
    from_header = int(if_match[3:-1]) if if_match else None
    if from_header is not None and version is not None and from_header != version:
        raise ConflictError(_("Someone else changed this issue meanwhile; nothing was done. Reload the page."))
    return from_header if from_header is not None else version


def _queue_filter(args: dict) -> Optional[queue.QueueFilter]:
    """The queue's filter from the validated query, as the queue page builds it from its own (`issues/views.py`);
    None when the grid's code names no grid of the site (nothing can match)."""
    tz = _tz()
    grid_id = None
    if args.get("grid") is not None:
        grid_id = db.session.scalar(select(Grid.id).where(Grid.site_id == g.site.id, Grid.code == args["grid"]))
        if grid_id is None:
            return None

    def day(name: str) -> Optional[dt.datetime]:
        value = args.get(name)
        return dt.datetime.combine(value, dt.time(0), tzinfo=tz) if value is not None else None

    deadline_from, deadline_to = day("due_from"), day("due_to")
    if args.get("due") == "today":
        deadline_from, deadline_to = day_bounds(local_day(utcnow(), tz), tz)
    states = args.get("state") or ([] if args["all_states"] else list(OPEN_STATES))
    return queue.QueueFilter(
        site_id=g.site.id, grid_id=grid_id, level=args.get("level"), category=args.get("category"),
        severity=args.get("severity"), states=states, team_id=args.get("team"), overdue=args["overdue"],
        reported_from=day("reported_from"), reported_to=day("reported_to"), deadline_from=deadline_from,
        deadline_to=deadline_to, closed_from=day("closed_from"), closed_to=day("closed_to"), on_time=args["on_time"],
        reworked=args["reworked"], mine=args["mine"])


def _photo_json(photo: IssuePhoto, issue: Issue) -> dict:
    return {"id": photo.id, "kind": photo.kind, "content_type": photo.content_type, "width": photo.width,
            "height": photo.height, "url": url_for("api_issues.photo", issue_id=issue.id, photo_id=photo.id)}


def _comment_json(comment: IssueComment, tz) -> dict:
    return {"id": comment.id, "at": _local(comment.at, tz), "author": _person_json(comment.author),
            "text": comment.text}


def _extension_json(extension: IssueExtension, tz) -> dict:
    return {"id": extension.id, "state": extension.state, "version": extension.version, "reason": extension.reason,
            "url": url_for("api_issues.decision", issue_id=extension.issue_id, extension_id=extension.id),
            "requested_at": _local(extension.requested_at, tz), "requested_by": _person_json(extension.requested_by),
            "deadline_before": _local(extension.deadline_before, tz),
            "requested_deadline": _local(extension.requested_deadline, tz),
            "decided_at": _local(extension.decided_at, tz), "decision_note": extension.decision_note}


def _action_url(issue: Issue, action: Action) -> str:
    if action is Action.COMMENT:
        return url_for("api_issues.comments", issue_id=issue.id)
    return url_for(f"api_issues.{action.value}", issue_id=issue.id)


def _detail(issue: Issue) -> dict:
    """The issue as its page shows it, to this caller."""
    labels, tz, now = issue_labels(), _tz(), utcnow()
    session = db.session
    requests = session.scalars(select(IssueExtension).where(IssueExtension.issue_id == issue.id)
                               .order_by(IssueExtension.id))
    grid = issue.grid
    return {
        "id": issue.id, "url": url_for("api_issues.issue", issue_id=issue.id), "site": g.site.code,
        "version": issue.version, "title": issue.title, "description": issue.description,
        "state": issue.state, "state_label": labels.state[issue.state],
        "severity": issue.severity, "severity_label": labels.severity[issue.severity],
        "category": issue.category, "category_label": labels.category.get(issue.category, issue.category),
        "source": issue.source, "level": issue.level, "lon": issue.lon, "lat": issue.lat,
        "grid": {"id": grid.id, "code": grid.code, "name": grid.name} if grid is not None else None,
        "reporter": _person_json(issue.reporter),
        "team": {"id": issue.team.id, "name": issue.team.name} if issue.team is not None else None,
        "assignee": _person_json(issue.assignee),
        "reported_at": _local(issue.reported_at, tz), "dispatched_at": _local(issue.dispatched_at, tz),
        "deadline": _local(issue.deadline, tz), "overdue": issue.overdue_at(now),
        "fixed_at": _local(issue.fixed_at, tz), "closed_at": _local(issue.closed_at, tz),
        "rejected_at": _local(issue.rejected_at, tz), "reject_reason": issue.reject_reason,
        "duplicate_of": issue.duplicate_of_id, "should_have_been_found": issue.should_have_been_found,
        "rework_count": issue.rework_count or 0,
        "photos": [_photo_json(p, issue) for p in issue.photos],
        "events": [{"id": e.id, "at": _local(e.at, tz), "action": e.action,
                    "label": labels.event.get(e.action, e.action), "actor": _person_json(e.actor),
                    "from_state": e.from_state, "to_state": e.to_state, "note": e.note, "data": e.data or {}}
                   for e in issue.events],
        "comments": [_comment_json(c, tz) for c in issue.comments],
        "actions": [{"action": t.action.value, "label": labels.action[t.action.value], "to_state": t.to_state.value,
                     "needs": [need.value for need in t.needs], "url": _action_url(issue, t.action)}
                    for t in services.allowed_transitions(session, current_user, issue)],
        "extensions": [_extension_json(e, tz) for e in requests],
        "may_request_extension": extensions.may_request(session, current_user, issue),
    }


def _answer(issue: Issue, status: int = 200):
    return _detail(issue), status, _etag(issue)


# --- the queue and quick reports -------------------------------------------------------------------------------
@blp.route("/sites/<site>/issues", endpoint="issues", tags=["issues"])
class Issues(MethodView):
    @blp.arguments(IssueQuery, location="query", unknown=ma.RAISE)
    @blp.response(200, IssuePage)
    def get(self, args):
        """The queue (整改台账): the issues the caller may see, filtered as on the queue page

        Ordered as the queue: issues not yet dispatched first, then by deadline, then by id. Dates are the site's
        days; a `…_to` day is excluded."""
        f = _queue_filter(args)
        page, per_page = args["page"], args["per_page"]
        if f is None:
            return page_of([], page=page, per_page=per_page, total=0)
        now = utcnow()
        rows, total = queue.page(db.session, current_user, f, now, page=page, per_page=per_page)
        labels, tz = issue_labels(), _tz()
        prefix = url_for("api_issues.issue", issue_id=0)[:-1]
        return page_of([{"id": r.id, "url": f"{prefix}{r.id}", "title": r.title, "state": r.state,
                         "state_label": labels.state[r.state], "severity": r.severity, "category": r.category,
                         "grid": r.grid_code, "reported_at": r.reported_at.astimezone(tz),
                         "deadline": _local(r.deadline, tz), "overdue": r.overdue} for r in rows],
                       page=page, per_page=per_page, total=total)

    @body_limit(PHOTO_BODY_BYTES)
    @blp.arguments(ReportIn)
    @blp.response(201, IssueOut, headers={**ETAG_HEADER, "Location": {"schema": {"type": "string"}}})
    def post(self, body):
        """A quick report (随手拍): a point, words and photos

        As on the report page: at least one photo (the service refuses a report without); a point outside every
        grid (by more than 30 m) is filed without a grid. Open issues of the same category within 30 m make it a
        409 `possible_duplicates` (their ids in `errors.duplicates`) unless `file_anyway` is true. There is no
        idempotency key: a repeated request files a second report."""
        now = utcnow()
        session = db.session
        where = services.locate_report(session, g.site, body["lon"], body["lat"], body["level"])
        if not body["file_anyway"]:
            nearby = services.possible_duplicates(session, g.site, grid=where.grid, category=body["category"],
                                                  lon=body["lon"], lat=body["lat"], now=now)
            if nearby:
                raise ConflictError(_("Open issues nearby look the same: %(ids)s. Send file_anyway to file it "
                                      "anyway.", ids=", ".join(str(i.id) for i in nearby)),
                                    code="possible_duplicates", errors={"duplicates": [i.id for i in nearby]})
        issue = services.report(session, current_user, g.site, lon=body["lon"], lat=body["lat"], level=body["level"],
                                category=body["category"], severity=body["severity"],
                                description=body["description"], photos=_decoded(body["photos"]), now=now)
        detail, status, headers = _answer(issue, 201)
        return detail, status, {**headers, "Location": detail["url"]}


@blp.route("/sites/<site>/issues/<int(min=1, max=2147483647):issue_id>", endpoint="issue", tags=["issues"])
class IssueView(MethodView):
    @blp.response(200, IssueOut, headers=ETAG_HEADER)
    def get(self, issue_id: int):
        """An issue: its fields, photos, timeline, comments, 延期 requests and what the caller may do now

        Another site's issue is a 404; one the caller may not see (a grid leader and another grid's issue) a 403,
        as on the issue page."""
        return _answer(_issue(issue_id))


@blp.route("/sites/<site>/issues/<int(min=1, max=2147483647):issue_id>/photos/<int(min=1, max=2147483647):photo_id>",
           endpoint="photo", tags=["issues"])
class PhotoView(MethodView):
    @blp.doc(responses={"200": {"description": "the photo", "content": {
        media: {"schema": {"type": "string", "contentMediaType": media}}
        for media in sorted(set(photo_files.ALLOWED_FORMATS.values()))}}})
    def get(self, issue_id: int, photo_id: int):
        """A photo of the issue (before or after the fix)"""
        issue = _issue(issue_id)
        record = db.session.get(IssuePhoto, photo_id)
        if record is None or record.issue_id != issue.id:
            abort(404)
        return photo_files.send_stored(record)


# --- the workflow's actions ------------------------------------------------------------------------------------
def _summary(action: Action) -> str:
    rows = [t for t in workflow.TRANSITIONS if t.action is action]
    moves = ", ".join(f"{t.from_state.value} → {t.to_state.value}" for t in rows)
    needs = sorted({need.value for t in rows for need in t.needs})
    who = sorted({t.who.value for t in rows})
    return (f"{action.value}: {moves}\n\nBy: {', '.join(who)}." + (f" Needs: {', '.join(needs)}." if needs else "")
            + " The answer is the issue as it is now (its new ETag). Refusals: 422 `refused` (the state does not "
              "allow it, or a need is missing), 403 `not_allowed` (not the caller's to do), 409 `conflict` "
              "(If-Match or `version` is stale: nothing was done).")


def _register_action(action: Action) -> None:
    names = _form_fields(workflow.for_action(action))
    takes_photos = "photos" in names

    def act(body: dict, issue_id: int, if_match: Optional[str] = None):
        issue = _issue(issue_id)
        expected = _expected_version(if_match, body.get("version"))
        given = {}
        for name in names:
            if name in FORM_FIELDS:
                key, _field, argument, read = FORM_FIELDS[name]
                given[argument] = read(body.get(key))
        services.perform(db.session, issue, current_user, action, now=utcnow(), expected_version=expected, **given)
        return _answer(issue)

    act.__name__ = f"act_{action.value}"
    act.__doc__ = _summary(action)
    view = blp.response(200, IssueOut, headers=ETAG_HEADER)(act)
    view = blp.arguments(IfMatch, location="headers", as_kwargs=True)(view)
    view = blp.arguments(_action_schema(action), required=False)(view)
    if takes_photos:
        view = body_limit(PHOTO_BODY_BYTES)(view)
    blp.route(f"/sites/<site>/issues/<int(min=1, max=2147483647):issue_id>/actions/{action.value}",
              endpoint=action.value, methods=["POST"], tags=["issue actions"])(view)


for _action in ACTIONS:
    _register_action(_action)


# --- comments --------------------------------------------------------------------------------------------------
@blp.route("/sites/<site>/issues/<int(min=1, max=2147483647):issue_id>/comments", endpoint="comments",
           tags=["issues"])
class Comments(MethodView):
    @blp.arguments(PageQuery, location="query", unknown=ma.RAISE)
    @blp.response(200, CommentPage)
    def get(self, args, issue_id: int):
        """The issue's comments, oldest first"""
        issue = _issue(issue_id)
        page, per_page = args["page"], args["per_page"]
        where = IssueComment.issue_id == issue.id
        total = db.session.scalar(select(func.count()).select_from(IssueComment).where(where)) or 0
        comments = db.session.scalars(select(IssueComment).where(where).order_by(IssueComment.at, IssueComment.id)
                                      .offset((page - 1) * per_page).limit(per_page))
        tz = _tz()
        return page_of([_comment_json(c, tz) for c in comments], page=page, per_page=per_page, total=total)

    @blp.arguments(CommentIn)
    @blp.response(201, CommentOut)
    def post(self, body, issue_id: int):
        """Comment on the issue (anyone who can see it, in any state; never stale)"""
        issue = _issue(issue_id)
        comment = services.perform(db.session, issue, current_user, Action.COMMENT, now=utcnow(), text=body["text"])
        return _comment_json(comment, _tz())


# --- 延期 ------------------------------------------------------------------------------------------------------
@blp.route("/sites/<site>/issues/<int(min=1, max=2147483647):issue_id>/extensions", endpoint="extensions",
           tags=["issues"])
class Extensions(MethodView):
    @blp.arguments(ExtensionIn)
    @blp.response(201, ExtensionOut)
    def post(self, body, issue_id: int):
        """Ask for a later deadline (延期申请): the rectifier working on the issue, while dispatched or being fixed

        One request waits for a decision at a time; the new deadline is the given day's close of office, later
        than the deadline in force and at most 180 days ahead."""
        issue = _issue(issue_id)
        extension = extensions.request(db.session, issue, current_user, reason=body["reason"],
                                       deadline=body["deadline"], now=utcnow())
        return _extension_json(extension, _tz())


@blp.route("/sites/<site>/issues/<int(min=1, max=2147483647):issue_id>/extensions/"
           "<int(min=1, max=2147483647):extension_id>/decision", endpoint="decision", tags=["issues"])
class Decision(MethodView):
    @blp.arguments(DecisionIn)
    @blp.response(200, ExtensionOut)
    def post(self, body, issue_id: int, extension_id: int):
        """Approve or refuse a pending request for a later deadline (a supervisor of the site)

        Approval moves the issue's deadline. `version` is the request's as read (409 if it changed)."""
        issue = _issue(issue_id)
        extension = db.session.get(IssueExtension, extension_id)
        if extension is None or extension.issue_id != issue.id:
            abort(404)
        extensions.decide(db.session, issue, extension, current_user, approve=body["decision"] == "approve",
                          note=body.get("note"), expected_version=body.get("version"), now=utcnow())
        return _extension_json(extension, _tz())
