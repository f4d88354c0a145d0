from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from gridpatrol.core import bodies
from gridpatrol.core import query
from gridpatrol.core.access import load
from gridpatrol.core.errors import NotAllowed, reshow_on_refusal
from gridpatrol.core.forms import choices
from gridpatrol.core.roles import Role, roles_required
from gridpatrol.core.time import day_bounds, local_day, utcnow
from gridpatrol.extensions import db
from gridpatrol.grids import services as grids
from gridpatrol.core import photos
from gridpatrol.accounts import services as accounts
from gridpatrol.patrols import board as boards
from gridpatrol.patrols import bp, checklists, followups, offline, plan_text, schedule, services
from gridpatrol.patrols.forms import SCOPE_CHOSEN, SCOPE_GRID, PlanForm, PlanStateForm
from gridpatrol.patrols.models import Patrol, PatrolPhoto, PatrolPlan, PlanKind, Recurrence, RestDayRule
from gridpatrol.standards import services as standards
from gridpatrol.standards.models import ChecklistTemplate

INVALID = 422


@bp.get("/s/<site>/today")
@roles_required(Role.GRID_LEADER)
def today():
    now = utcnow()
    start, end = day_bounds(local_day(now, g.site.timezone), g.site.timezone)
    patrols = services.patrols_for_user_on(db.session, current_user, g.site, start, end)
    rows = [(p, services.display_state(p, now)) for p in patrols]
    order = {"late": 0, "in_progress": 1, "due": 2, "upcoming": 3, "missed": 4, "done_late": 5, "done": 6}
    rows.sort(key=lambda r: (order[r[1]], r[0].window_start))
    return render_template("patrols/today.html", rows=rows, now=now, day=start,
                           offline_ids=offline.kept_offline(current_user, rows, now))


def _patrol_or_404(patrol_id: int) -> Patrol:
    """A patrol of this site that the user may see (403 otherwise)."""
    return load(Patrol, patrol_id, may=lambda p: services.can_view(db.session, current_user, p),
                refusal="patrol of another grid")


@bp.get("/s/<site>/patrols/<int:patrol_id>")
@login_required
def show(patrol_id: int):
    patrol = _patrol_or_404(patrol_id)
    now = utcnow()
    fillable = services.can_fill(current_user, patrol) and patrol.is_open and now < patrol.grace_until
    items = checklists.items_for_patrol(db.session, patrol)  # only the patrol's categories (定责任)
    categories: dict[str, list] = {}
    for item in items:
        categories.setdefault(item.category, []).append(item)
    answers = {a.item_id: a for a in patrol.answers}
    raised = {} if fillable else followups.follow_ups(db.session, current_user, patrol)
    return render_template(
        "patrols/form.html" if fillable else "patrols/result.html", patrol=patrol, categories=categories,
        answers=answers, state=services.display_state(patrol, now), client_uuid=str(uuid.uuid4()),
        photos_by_item=_photos_by_item(patrol), items=items, follow_ups=raised,
        photo_hint=photos.PhotoLimits.of("patrol").said() if fillable else None,
    )


def _photos_by_item(patrol: Patrol) -> dict[int | None, list[PatrolPhoto]]:
    grouped: dict[int | None, list[PatrolPhoto]] = {}
    for photo in patrol.photos:
        grouped.setdefault(photo.item_id, []).append(photo)
    return grouped


def _payload_from_form(patrol: Patrol) -> tuple[dict, dict[str, bytes]]:
    """The no-script path: the plain HTML form's fields turned into the same payload the script sends (a field
    holding a NUL byte is refused, as the API's schema refuses it)."""
    query.refuse_unstorable_fields(request.form)
    files: dict[str, bytes] = {}
    answers = []
    for item in checklists.items_for_patrol(db.session, patrol):
        names = []
        for n, upload in enumerate(request.files.getlist(f"photo-{item.id}")):
            data = upload.read()
            if data:
                name = f"i{item.id}-{n}"
                files[name] = data
                names.append(name)
        answers.append({"item_id": item.id, "result": request.form.get(f"answer-{item.id}"),
                        "note": request.form.get(f"note-{item.id}", ""), "photos": names})
    scans = [{"code": line.strip(), "method": "typed", "scanned_at": utcnow().isoformat()}
             for line in request.form.get("scans", "").splitlines() if line.strip()]
    payload = {"client_uuid": request.form.get("client_uuid", ""), "answers": answers, "scans": scans}
    return payload, files


@bp.post("/s/<site>/patrols/<int:patrol_id>/submit")
@login_required
@bodies.body_limit(services.MAX_SUBMISSION_BYTES, authorise_first=True)
def submit(patrol_id: int):
    """The plain HTML form's submission (the form without script). The form's script sends its payload to the
    API (`api/patrols.py`); a payload sent here by a script of before that move (a JSON body, or a multipart
    `payload` field, from a tablet that has not reloaded its scripts yet) is sent on there with a 308, which
    keeps its method and body (the outbox, which does not follow redirects, keeps it queued and sends it to the
    API next time). Nothing of the body is read before the user is known to be the patrol's assignee; then it is
    read within MAX_SUBMISSION_BYTES (a chunked body counted as it streams)."""
    patrol = _patrol_or_404(patrol_id)
    if not services.can_fill(current_user, patrol):
        raise NotAllowed("not the patrol's assignee")
    bodies.refuse_declared_excess()
    bodies.authorised()
    if request.is_json or "payload" in request.form:
        return redirect(url_for("api_patrols.submission", patrol_id=patrol.id), 308)
    payload, files = _payload_from_form(patrol)
    result = services.submit(db.session, patrol, current_user, payload, files, now=utcnow())
    flash(_("Patrol submitted. Score: %(score)s", score=result.body["score"]), "success")
    return redirect(url_for("patrols.show", patrol_id=patrol.id))


def _refuse(status: int, message: str):
    return render_template("errors/error.html", code=status, error=None, message=message), status


@bp.get("/s/<site>/patrols/photos/<int:photo_id>")
@login_required
def photo(photo_id: int):
    record = load(PatrolPhoto, photo_id)
    _patrol_or_404(record.patrol_id)
    return photos.send_stored(record)


# --- the board (supervisors) --------------------------------------------------------------------------
@bp.get("/s/<site>/patrols/board")
@roles_required(Role.SUPERVISOR, Role.ADMIN)
def board():
    """Every patrol of the site on a day or days, filtered (patrols/board.py documents the address)."""
    now = utcnow()
    try:
        f = boards.parse_filter(request.args, g.site, now)
    except boards.BadFilter as refused:
        return _refuse(400, _("The board cannot show this: %(reason)s.", reason=str(refused)))
    view = boards.board(db.session, g.site, f, now)
    return render_template(
        "patrols/board.html", board=view, f=f, now=now, states=boards.STATES, labels=boards.STATE_LABELS,
        today=local_day(now, g.site.timezone), levels=grids.site_levels(db.session, g.site),
        plans=services.list_plans(db.session, g.site),
        leaders=accounts.users_with_role(db.session, Role.GRID_LEADER, site_id=g.site.id))


# --- plans (supervisors) ----------------------------------------------------------------------------
def _plan_form(plan: PatrolPlan | None, site) -> PlanForm:
    form = PlanForm(obj=plan if request.method == "GET" else None)
    templates = standards.list_templates(db.session, active_only=True)
    form.template_id.choices = choices((t.id, t.name) for t in templates)
    form.grids.choices = choices((g.id, f"{g.code} {g.name}") for g in grids.list_grids(db.session, site))
    if request.method == "GET" and plan is not None:
        form.grids.data = [pg.grid_id for pg in plan.plan_grids]
        form.weekdays.data = list(plan.weekdays or [])
        if plan.recurrence not in schedule.MOVABLE:
            form.on_rest_day.data = RestDayRule.NEXT.value  # stored but unused: offer the default if it changes
        form.scope.data = SCOPE_CHOSEN if plan.categories else SCOPE_GRID
    if request.method == "GET" and plan is None:
        form.starts_on.data = local_day(utcnow(), site.timezone)
        form.window_start.data = dt.time(9, 0)
    return form


def _plan_input(form: PlanForm, site) -> services.PlanInput:
    chosen = [g for g in grids.list_grids(db.session, site) if g.id in set(form.grids.data or [])]
    kind = PlanKind(form.kind.data)
    # 互检 by rotation: each grid is patrolled by the leader of the next grid in code order.
    patrollers = {g.id: chosen[(i + 1) % len(chosen)] for i, g in enumerate(chosen)} if kind is PlanKind.CROSS_CHECK \
        and len(chosen) > 1 else {}
    return services.PlanInput(
        name=form.name.data or "", kind=kind, template=db.session.get(ChecklistTemplate, form.template_id.data),
        recurrence=Recurrence(form.recurrence.data), window_start=form.window_start.data,
        window_minutes=form.window_minutes.data or 0, grace_minutes=form.grace_minutes.data or 0,
        starts_on=form.starts_on.data, ends_on=form.ends_on.data, grids=chosen,
        weekdays=list(form.weekdays.data or []), month_day=form.month_day.data,
        interval_days=form.interval_days.data, patroller_grids=patrollers,
        on_rest_day=RestDayRule(form.on_rest_day.data),
        categories=form.chosen_categories())


@bp.get("/s/<site>/plans")
@roles_required(Role.SUPERVISOR, Role.ADMIN)
def plans():
    return render_template("patrols/plans.html", plans=services.list_plans(db.session, g.site),
                           state_form=PlanStateForm(), words=plan_text)


@bp.route("/s/<site>/plans/new", methods=["GET", "POST"], defaults={"plan_id": None})
@bp.route("/s/<site>/plans/<int:plan_id>", methods=["GET", "POST"])
@roles_required(Role.SUPERVISOR, Role.ADMIN)
def edit_plan(plan_id: int | None):
    plan = load(PatrolPlan, plan_id) if plan_id else None
    site = g.site
    form = _plan_form(plan, site)
    preview = None
    def page():
        return render_template("patrols/plan_form.html", form=form, plan=plan, site=site, preview=preview,
                               tz=zoneinfo.ZoneInfo(site.timezone), words=plan_text)

    if form.validate_on_submit():
        reshow_on_refusal(page, field=form.name)
        data = _plan_input(form, site)
        if "preview" in request.form:
            preview = services.preview(db.session, site, data)
        else:
            saved = services.save_plan(db.session, site, data, plan=plan, actor=current_user)
            flash(_("Plan %(name)s saved. The scheduler makes its patrols.", name=saved.name), "success")
            return redirect(url_for("patrols.plans"))
    return page(), (INVALID if form.is_submitted() and preview is None else 200)


@bp.post("/s/<site>/plans/<int:plan_id>/state")
@roles_required(Role.SUPERVISOR, Role.ADMIN)
def set_plan_state(plan_id: int):
    plan = load(PatrolPlan, plan_id)
    if PlanStateForm().validate_on_submit():
        active = request.form.get("active") == "1"
        services.set_plan_active(db.session, plan, active, actor=current_user)
        flash(_("Plan resumed.") if active else _("Plan paused."), "success")
    return redirect(url_for("patrols.plans"))


@bp.get("/sw.js")
def service_worker():
    """The offline service worker (static/sw.js), served from the app root so its scope can be the whole app."""
    from flask import current_app

    response = current_app.send_static_file("sw.js")
    response.headers["Content-Type"] = "application/javascript"
    response.headers["Service-Worker-Allowed"] = "/"
    response.headers["Cache-Control"] = "no-cache"
    return response
