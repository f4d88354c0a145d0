from __future__ import annotations

import datetime as dt
import zoneinfo

from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from gridpatrol.accounts.models import Team, User
from gridpatrol.accounts import services as accounts
from gridpatrol.core import bodies
from gridpatrol.core import photos as photo_files
from gridpatrol.core.categories import Category
from gridpatrol.core.access import load
from gridpatrol.core.errors import DomainError, NotAllowed, reshow_on_refusal
from gridpatrol.core import query
from gridpatrol.core.forms import choices
from gridpatrol.core.roles import Role, roles_required
from gridpatrol.core.time import day_bounds, format_local, local_day, utcnow
from gridpatrol.extensions import db
from gridpatrol.grids import map_svg
from gridpatrol.grids import services as grids
from gridpatrol.issues import bp, deadlines, extensions, queue, services
from gridpatrol.issues.forms import (BulkDispatchForm, DispatchForm, ExtensionDecisionForm, ExtensionRequestForm,
                                     ReportForm, TimeLimitForm)
from gridpatrol.issues.models import CLOCK_STATES, OPEN_STATES, Issue, IssueExtension, IssuePhoto, IssueSource, IssueState, Severity

INVALID = 422
PER_PAGE = 50


def _photo_body_bound(config) -> int:
    """A form with photos (a quick report, a rectification step): the photos together, and room for its fields."""
    return config["ISSUE_MAX_PHOTOS_BYTES"] + config["FORM_MAX_BODY_BYTES"]


def _filter_from_args(mine: bool = False) -> queue.QueueFilter:
    args = request.args
    states = args.getlist("state") or (list(OPEN_STATES) if args.get("all") is None else [])

    def number(name):
        return query.whole(args, name)

    def day(name):  # a local date (YYYY-MM-DD) as the instant its day begins; a 400 for one it cannot read
        first = query.day(args, name)
        return dt.datetime.combine(first, dt.time(), tzinfo=_tz()) if first else None

    # Deadline and closing ranges take local dates like from/to: [first day 00:00, "to" day 00:00).
    # due=today: the deadline falls within today (the site's day).
    deadline_from, deadline_to = day("due_from"), day("due_to")
    if args.get("due") == "today":
        deadline_from, deadline_to = day_bounds(local_day(utcnow(), g.site.timezone), g.site.timezone)
    return queue.QueueFilter(
        site_id=g.site.id, grid_id=number("grid"), level=number("level"),
        category=args.get("category") or None, severity=args.get("severity") or None, states=states,
        team_id=number("team"), overdue=args.get("overdue") == "1", reported_from=day("from"), reported_to=day("to"),
        deadline_from=deadline_from, deadline_to=deadline_to, closed_from=day("closed_from"),
        closed_to=day("closed_to"), on_time=args.get("on_time") == "1", reworked=args.get("reworked") == "1",
        mine=mine)


def _tz():
    return zoneinfo.ZoneInfo(g.site.timezone)


def _issue_url_prefix() -> str:
    """The issue page's URL without its id: built once, not once per row of the queue."""
    url = url_for("issues.show", issue_id=0)
    assert url.endswith("/0"), url
    return url[:-1]


@bp.get("/s/<site>/issues")
@login_required
def index():
    now = utcnow()
    f = _filter_from_args()
    page = query.whole(request.args, "page", minimum=1, default=1)
    view = queue.queue_page(db.session, current_user, f, now, page=page, per_page=PER_PAGE)
    teams = accounts.team_choices(db.session)
    grid_options = grids.grid_choices(db.session, g.site)
    return render_template("issues/queue.html", rows=view.rows, total=view.total, page=page, per_page=PER_PAGE,
                           counts=view.counts, f=f, now=now, teams=teams, grids=grid_options, categories=list(Category),
                           levels=grids.site_levels(db.session, g.site),
                           severities=list(Severity), states=list(IssueState), mine=False,
                           can_bulk=current_user.has_any_role(Role.SUPERVISOR, Role.ADMIN),
                           provisional=deadlines.provisional_deadlines(db.session, g.site, view.rows),
                           issue_url_prefix=_issue_url_prefix())


@bp.get("/s/<site>/issues/mine")
@roles_required(Role.RECTIFIER)
def mine():
    now = utcnow()
    f = _filter_from_args(mine=True)
    rows, total = queue.page(db.session, current_user, f, now, per_page=200)
    return render_template("issues/queue.html", rows=rows, total=total, page=1, per_page=200, counts=None, f=f,
                           now=now, teams=[], grids=[], levels=[], categories=[], severities=[], states=[], mine=True,
                           can_bulk=False, provisional=deadlines.provisional_deadlines(db.session, g.site, rows),
                           issue_url_prefix=_issue_url_prefix())


@bp.get("/s/<site>/issues/export.csv")
@login_required
def export():
    body = queue.export_csv(db.session, current_user, _filter_from_args(), utcnow(), tz=_tz())
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="issues-{utcnow():%Y%m%d-%H%M}.csv"'})


@bp.post("/s/<site>/issues/bulk-dispatch")
@roles_required(Role.SUPERVISOR, Role.ADMIN)
def bulk_dispatch():
    form = BulkDispatchForm()
    form.team_id.choices = choices((t.id, t.name) for t in accounts.team_choices(db.session))
    ids = [int(i) for i in request.form.getlist("issue") if i.isdigit()]
    if not form.validate_on_submit() or not ids:
        flash(_("Choose issues and a team."), "error")
        return redirect(url_for("issues.index"))
    issues = [load(Issue, i) for i in ids]
    count = services.bulk_dispatch(db.session, issues, current_user,
                                   team=db.session.get(Team, form.team_id.data), assignee=None, now=utcnow(),
                                   should_have_been_found=form.should_have_been_found.data)
    flash(_("%(n)d issues dispatched.", n=count), "success")
    return redirect(url_for("issues.index"))


def _issue_or_404(issue_id: int) -> Issue:
    """An issue of this site that the user may see (403 otherwise)."""
    return load(Issue, issue_id, may=lambda i: services.can_view(db.session, current_user, i),
                refusal="issue not visible to this user")


def _rectifier_choices():
    return [(0, "—")] + [(u.id, accounts.person_label(u))
                         for u in accounts.users_with_role(db.session, Role.RECTIFIER, site_id=g.site.id)]


def _forms(issue: Issue, transitions) -> dict:
    """The form of each of these workflow rows, by action: the class the table names, with the page's version."""
    from gridpatrol.issues import forms as issue_forms

    built = {}
    for t in transitions:
        if t.action not in built:
            form = getattr(issue_forms, t.form)(version=issue.version, severity=issue.severity)
            if isinstance(form, DispatchForm):
                form.team_id.choices = choices([(0, "—")] + [(team.id, team.name)
                                                             for team in accounts.team_choices(db.session)])
                form.assignee_id.choices = choices(_rectifier_choices())
            if "should_have_been_found" in form and issue.source != IssueSource.REPORT.value:
                del form.should_have_been_found  # 应巡未发现 is asked of quick reports only
            built[t.action] = form
    return built


def _extension_panel(issue: Issue, request_form: ExtensionRequestForm | None = None) -> dict:
    """延期 on the issue page: the pending request (with the decision forms for a supervisor), or the request form
    for the rectifier working on it."""
    # A request still waiting when the issue was closed is moot: shown (and decided) only while the clock runs.
    pending = extensions.pending(db.session, issue) if issue.state in CLOCK_STATES else None
    deciding = pending is not None and extensions.may_decide(db.session, current_user, issue)
    return {"pending": pending,
            "decision_form": ExtensionDecisionForm(version=pending.version) if deciding else None,
            "request_form": (request_form or ExtensionRequestForm())
            if extensions.may_request(db.session, current_user, issue) else None,
            "deferral": services.open_deferral(db.session, issue) if issue.state == IssueState.DEFERRED.value
            else None}


def _issue_page(issue: Issue, *, refusal: str | None = None, status: int = 200,
                request_form: ExtensionRequestForm | None = None):
    timeline = sorted([("event", e.at, e) for e in issue.events] + [("comment", c.at, c) for c in issue.comments],
                      key=lambda t: (t[1], t[0]))
    transitions = services.allowed_transitions(db.session, current_user, issue)
    return render_template("issues/issue.html", issue=issue, timeline=timeline, now=utcnow(), transitions=transitions,
                           forms=_forms(issue, transitions), refusal=refusal,
                           extension=_extension_panel(issue, request_form),
                           patrol_link=services.can_view_patrol(db.session, current_user, issue),
                           standard=services.standard_text(db.session, issue),
                           deadline_provisional=deadlines.rests_on_provisional(db.session, issue),
                           photo_hint=photo_files.PhotoLimits.of("issue").said(),
                           before=[p for p in issue.photos if p.kind == "before"],
                           after=[p for p in issue.photos if p.kind == "after"]), status


@bp.get("/s/<site>/issues/<int:issue_id>")
@login_required
def show(issue_id: int):
    return _issue_page(_issue_or_404(issue_id))


def _version(form) -> int | None:
    value = (form.version.data or "").strip()
    return int(value) if value.isdigit() else None


def _files(field) -> dict[str, bytes]:
    return {f"{n}-{upload.filename or 'photo'}": upload.read() for n, upload in enumerate(field.data or [])
            if upload and upload.filename}


@bp.post("/s/<site>/issues/<int:issue_id>/<action>")
@login_required
@bodies.body_limit(_photo_body_bound, authorise_first=True)
def act(issue_id: int, action: str):
    """Any action of the workflow table: its form (the class the table names), then its service function. Its
    body (photos of the fixed state) is read only once the user may see the issue and is among those who may do
    the action."""
    from gridpatrol.issues import workflow

    issue = _issue_or_404(issue_id)
    row = workflow.for_action(action)
    if row is None:
        abort(404)
    if not services.may_attempt(db.session, current_user, issue, row.action):
        raise NotAllowed(row.action.value)
    bodies.authorised()
    form = _forms(issue, [row])[row.action]
    if not form.validate_on_submit():
        return _refuse(issue, "; ".join(str(e) for errors in form.errors.values() for e in errors))
    # The form's fields by name, as the service function's arguments (ids become the rows they name).
    reads = {"team_id": ("team", lambda f: db.session.get(Team, f.data) if f.data else None),
             "assignee_id": ("assignee", lambda f: db.session.get(User, f.data) if f.data else None),
             "duplicate_of": ("duplicate_of", lambda f: db.session.get(Issue, f.data) if f.data else None),
             "photos": ("photos", _files)}
    given = {}
    for f in form:
        if f.name not in ("csrf_token", "version"):
            name, read = reads.get(f.name, (f.name, lambda f: f.data))
            given[name] = read(f)
    reshow_on_refusal(lambda: _issue_page(issue))
    services.perform(db.session, issue, current_user, row.action, now=utcnow(),
                     expected_version=_version(form) if "version" in form else None, **given)
    if row.place is workflow.Place.TIMELINE:
        return redirect(url_for("issues.show", issue_id=issue.id) + "#timeline")
    flash(_("Done: the issue is now %(state)s.", state=services.state_label(issue.state)), "success")
    return redirect(url_for("issues.show", issue_id=issue.id))


@bp.post("/s/<site>/issues/<int:issue_id>/extensions")
@login_required
def request_extension(issue_id: int):
    """延期申请 by the rectifier working on the issue."""
    issue = _issue_or_404(issue_id)
    form = ExtensionRequestForm()
    if not form.validate_on_submit():
        return _issue_page(issue, refusal="; ".join(str(e) for errors in form.errors.values() for e in errors),
                           status=INVALID, request_form=form)
    reshow_on_refusal(lambda: _issue_page(issue, request_form=form))
    extensions.request(db.session, issue, current_user, reason=form.reason.data, deadline=form.deadline.data,
                       now=utcnow())
    flash(_("Your request for a later deadline waits for a supervisor's decision."), "success")
    return redirect(url_for("issues.show", issue_id=issue.id))


@bp.post("/s/<site>/issues/<int:issue_id>/extensions/<int:extension_id>/<decision>")
@login_required
def decide_extension(issue_id: int, extension_id: int, decision: str):
    """A supervisor approves or refuses a pending request for a later deadline."""
    issue = _issue_or_404(issue_id)
    extension = db.session.get(IssueExtension, extension_id)
    if extension is None or extension.issue_id != issue.id or decision not in ("approve", "refuse"):
        abort(404)
    form = ExtensionDecisionForm()
    if not form.validate_on_submit():
        return _refuse(issue, "; ".join(str(e) for errors in form.errors.values() for e in errors))
    reshow_on_refusal(lambda: _issue_page(issue))
    extensions.decide(db.session, issue, extension, current_user, approve=decision == "approve",
                      note=form.note.data, expected_version=_version(form), now=utcnow())
    flash(_("The deadline is now %(deadline)s.", deadline=format_local(issue.deadline)) if decision == "approve"
          else _("The request was refused; the deadline stands."), "success")
    return redirect(url_for("issues.show", issue_id=issue.id))


def _refuse(issue: Issue, message: str):
    """Re-show the issue page with why the form was refused; nothing was changed."""
    return _issue_page(issue, refusal=message, status=INVALID)


@bp.get("/s/<site>/issues/photos/<int:photo_id>")
@login_required
def photo(photo_id: int):
    record = load(IssuePhoto, photo_id)
    _issue_or_404(record.issue_id)
    return photo_files.send_stored(record)


@bp.route("/s/<site>/report", methods=["GET", "POST"])
@login_required
@bodies.body_limit(_photo_body_bound, authorise_first=True)
def report():
    """随手拍: anyone of the site files a problem with a photo, a point on the map and a few words. The body is
    read once the user is known (login, and the site's own check of who may enter it); a refusal of any kind —
    the form's, a photo's, the service's — saves nothing and shows the form again with the reason (422)."""
    bodies.authorised()
    site = g.site
    form = ReportForm()
    levels = grids.site_levels(db.session, site) or [0]
    maps = {level: map_svg.render(site, grids.list_grids(db.session, site, level=level), link_for=lambda g: "#",
                                  links=False, css_class="grid-map pick-map",
                                  title=_("Tap where the problem is"))
            for level in levels}
    duplicates = []

    def page():
        return render_template("issues/report.html", form=form, site=site, maps=maps, levels=levels,
                               duplicates=duplicates, photo_hint=photo_files.PhotoLimits.of("issue").said())

    if form.validate_on_submit():
        # Any refusal from here on (a photo, the service's checks) rolls back whatever was added and shows the
        # form again with the reason at the top, 422: nothing is saved, duplicates offered or not.
        reshow_on_refusal(page)
        now = utcnow()
        level = form.level.data or 0
        photos = _files(form.photos)
        where = services.locate_report(db.session, site, form.lon.data, form.lat.data, level)
        duplicates = services.possible_duplicates(db.session, site, grid=where.grid, category=form.category.data,
                                                  lon=form.lon.data, lat=form.lat.data, now=now)
        if duplicates and not form.file_anyway.data:
            services.checked_photos(photos)  # a photo that would be refused is said now, before the choice
            return page(), 200  # nothing written: the reporter chooses
        issue = services.report(db.session, current_user, site, lon=form.lon.data, lat=form.lat.data,
                                level=level, category=form.category.data, severity=form.severity.data,
                                description=form.description.data, photos=photos, now=now)
        flash(_("Thank you: report no. %(id)d has been filed.", id=issue.id), "success")
        return redirect(url_for("issues.show", issue_id=issue.id))
    return page(), (INVALID if form.is_submitted() else 200)


@bp.route("/s/<site>/admin/time-limits", methods=["GET", "POST"])
@roles_required(Role.ADMIN, Role.SUPERVISOR)
def time_limits():
    site = g.site
    form = TimeLimitForm()
    if form.validate_on_submit():
        reshow_on_refusal(lambda: render_template("issues/time_limits.html", site=site, form=form,
                                                  table=_limit_table(site)))
        for category in Category:
            for severity in Severity:
                amount = request.form.get(f"amount-{category.value}-{severity.value}", "")
                unit = request.form.get(f"unit-{category.value}-{severity.value}", "")
                if amount.strip():
                    if not amount.strip().isdigit():
                        raise DomainError(_("A time limit is a whole number."))
                    services.set_time_limit(db.session, site, category.value, severity.value,
                                            int(amount), unit, actor=current_user)
        flash(_("Time limits saved."), "success")
        return redirect(url_for("issues.time_limits"))
    return render_template("issues/time_limits.html", site=site, form=form, table=_limit_table(site))


def _limit_table(site):
    return {(c.value, s.value): services.time_limit(db.session, site, c.value, s.value)
            for c in Category for s in Severity}


@bp.get("/s/<site>/issues/metrics")
@roles_required(Role.ADMIN, Role.SUPERVISOR)
def metrics_page():
    """结案率, 按期结案率, 返工率 and 平均处置时长 for a month, quarter, half-year or year as of an instant (截至),
    overall and by grid, team or category."""
    # A refused parameter: this month's page with the reason at the top (422), so the reader can pick again.
    reshow_on_refusal(lambda: _metrics_html({}))
    return _metrics_html(request.args)


def _metrics_html(args):
    from gridpatrol.issues import metrics_report

    report, group, overall, rows = _metrics_report(args)
    now = utcnow()
    previous, following = metrics_report.neighbours(report, now)
    return render_template("issues/metrics.html", site=g.site, overall=overall, rows=rows, group=group,
                           report=report, choices=metrics_report.period_choices(report, now),
                           kinds=metrics_report.KIND_LABELS, columns=metrics_report.COLUMNS,
                           previous=previous, following=following)


@bp.get("/s/<site>/issues/metrics.csv")
@roles_required(Role.ADMIN, Role.SUPERVISOR)
def metrics_csv():
    """The metrics page's table as CSV, for the same period, "as of" and grouping."""
    from gridpatrol.issues import metrics_report

    report, group, overall, rows = _metrics_report(request.args)
    body = metrics_report.export_csv(report, group, overall, rows)
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="metrics-{report.period.key}-{group}.csv"'})


def _metrics_report(args):
    """The report the query `args` ask for (period, kind, as_of, group; see issues/metrics_report.py): its period
    and figures. Bad parameters are refused (422) with the reason."""
    from gridpatrol.issues import metrics, metrics_report

    site = g.site
    group = args.get("group") or "grid"
    if group not in ("grid", "team", "category"):
        raise DomainError(_("Group the figures by grid, team or category."))
    report = metrics_report.report_period(site, utcnow(), kind=args.get("kind"),
                                          key=args.get("period") or args.get("month"), as_of=args.get("as_of"))
    overall = metrics.metrics(db.session, site, report.start, report.end, as_of=report.as_of)[0]
    rows = metrics.metrics(db.session, site, report.start, report.end, group_by=group, as_of=report.as_of)
    return report, group, overall, rows
