from __future__ import annotations

import json

from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.exceptions import RequestEntityTooLarge

from gridpatrol.accounts.models import User
from gridpatrol.accounts import services as accounts
from gridpatrol.core.access import load
from gridpatrol.core.errors import reshow_on_refusal
from gridpatrol.core import bodies, query
from gridpatrol.core.forms import choices
from gridpatrol.core.roles import Role, roles_required
from gridpatrol.extensions import db
from gridpatrol.core.time import utcnow
from gridpatrol.grids import bp, geojson, map_svg, qr, sections, services, status
from gridpatrol.grids.forms import AssignForm, CategoriesForm, CheckpointForm, ImportForm, RemoveDeputyForm
from gridpatrol.grids.models import AssignmentRole, Grid

INVALID = 422
FORM_OVERHEAD_BYTES = 64 * 1024  # an upload's body beyond the file itself: the CSRF token, part headers, boundaries


def _site_or_404(code: str | None = None):
    return services.find_site(db.session, code) or abort(404)


def _grid_or_404(grid_id: int) -> Grid:
    return load(Grid, grid_id)


def _grid_url(grid: Grid) -> str:
    return url_for("grids.detail", grid_id=grid.id)


@bp.get("/s/<site>/grids")
@login_required
def index():
    site = g.site
    level = query.whole(request.args, "level")
    grids = services.list_grids(db.session, site, level=level)
    return render_template("grids/index.html", site=site, grids=grids,
                           levels=services.site_levels(db.session, site), level=level,
                           missing_leaders=sum(1 for g in grids if g.leader is None))


def _status_map(site, grids: list[Grid], now) -> dict[str, str]:
    """grid code → its map status (grids/status.py), for the grids of one level."""
    by_id = status.statuses(db.session, site, [grid.id for grid in grids], now)
    return {grid.code: by_id[grid.id].value for grid in grids}


def _status_words(site) -> dict[str, str]:
    return dict(status.legend(site))


@bp.get("/s/<site>/map")
@login_required
def site_map():
    site = g.site
    levels = services.site_levels(db.session, site)
    level = query.whole(request.args, "level")
    if level is None:
        level = 0 if 0 in levels or not levels else levels[0]
    grids = services.list_grids(db.session, site, level=level)
    # Faint backdrop for orientation: the outdoor ground under a floor, the buildings' ground floors outdoors.
    context = services.list_grids(db.session, site, level=1 if level == 0 else 0)
    statuses = _status_map(site, grids, utcnow())
    svg = map_svg.render(site, grids, link_for=_grid_url, status_by_code=statuses, context=context,
                         describe=_status_words(site),
                         title=_("Map of %(site)s, level %(level)s", site=site.name, level=level))
    counts = {s: sum(1 for v in statuses.values() if v == s) for s, _words in status.legend(site)}
    return render_template("grids/map.html", site=site, svg=svg, levels=levels, level=level, grids=grids,
                           legend=status.legend(site), counts=counts,
                           missing_leaders=sum(1 for grid in grids if grid.leader is None))


@bp.get("/s/<site>/grids/<int:grid_id>")
@login_required
def detail(grid_id: int):
    return _detail_page(_grid_or_404(grid_id))


def _detail_page(grid: Grid, *, assign_form: AssignForm | None = None,
                 checkpoint_form: CheckpointForm | None = None):
    """The grid page; a refused form on it is shown again here with its input (see the POST views)."""
    can_manage = current_user.has_role(Role.ADMIN)
    if assign_form is None:
        assign_form = AssignForm(formdata=None)
        assign_form.user_id.choices = _leader_choices()
    categories_form = CategoriesForm(formdata=None, data={"categories": grid.categories or []})
    now = utcnow()
    level_grids = services.list_grids(db.session, grid.site, level=grid.level)
    statuses = _status_map(grid.site, level_grids, now)
    svg = map_svg.render(grid.site, level_grids, link_for=_grid_url, selected=grid.code, status_by_code=statuses,
                         describe=_status_words(grid.site), title=_("Location of grid %(code)s", code=grid.code))
    return render_template(
        "grids/detail.html", grid=grid, svg=svg, can_manage=can_manage,
        can_print=services.may_print_posters(db.session, current_user, grid), assign_form=assign_form, categories_form=categories_form,
        checkpoint_form=checkpoint_form or CheckpointForm(formdata=None), remove_deputy_form=RemoveDeputyForm(),
        history=services.assignment_history(grid), now=now, status=statuses.get(grid.code),
        status_words=_status_words(grid.site),
        sections=sections.render_sections(db.session, current_user, grid, now),
    )


def _leader_choices():
    return choices((u.id, accounts.person_label(u))
                   for u in accounts.users_with_role(db.session, Role.GRID_LEADER, site_id=g.site.id))


@bp.post("/s/<site>/grids/<int:grid_id>/assign")
@roles_required(Role.ADMIN)
def assign(grid_id: int):
    grid = _grid_or_404(grid_id)
    form = AssignForm()
    form.user_id.choices = _leader_choices()
    if not form.validate_on_submit():
        flash(_("Choose a person and a position."), "error")
        return redirect(_grid_url(grid))
    user = db.session.get(User, form.user_id.data)
    reshow_on_refusal(lambda: _detail_page(grid, assign_form=form), field=form.user_id)
    changed = services.assign(db.session, grid, user, AssignmentRole(form.role.data), actor=current_user,
                              note=form.note.data or None)
    flash(_("%(name)s is now responsible for grid %(code)s.", name=user.display_name, code=grid.code)
          if changed else _("Nothing changed."), "success")
    return redirect(_grid_url(grid))


@bp.post("/s/<site>/grids/<int:grid_id>/deputy/remove")
@roles_required(Role.ADMIN)
def remove_deputy(grid_id: int):
    grid = _grid_or_404(grid_id)
    if RemoveDeputyForm().validate_on_submit():
        services.end_deputy(db.session, grid, actor=current_user)
        flash(_("The deputy post of grid %(code)s is vacant.", code=grid.code), "success")
    return redirect(_grid_url(grid))


@bp.post("/s/<site>/grids/<int:grid_id>/categories")
@roles_required(Role.ADMIN)
def set_categories(grid_id: int):
    grid = _grid_or_404(grid_id)
    form = CategoriesForm()
    if form.validate_on_submit():
        services.set_categories(db.session, grid, form.categories.data, actor=current_user)
        flash(_("Responsibility categories saved."), "success")
    else:
        flash("; ".join(str(e) for errors in form.errors.values() for e in errors), "error")
    return redirect(_grid_url(grid))


@bp.post("/s/<site>/grids/<int:grid_id>/checkpoints")
@roles_required(Role.ADMIN)
def add_checkpoint(grid_id: int):
    grid = _grid_or_404(grid_id)
    form = CheckpointForm()
    if form.validate_on_submit():
        reshow_on_refusal(lambda: _detail_page(grid, checkpoint_form=form), field=form.code)
        services.add_checkpoint(db.session, grid, code=form.code.data, name=form.name.data,
                                lon=form.lon.data, lat=form.lat.data, actor=current_user)
        flash(_("Checkpoint added."), "success")
        return redirect(_grid_url(grid))
    # Nothing was saved: say why on the grid page (the form lives there), with the input kept.
    return _detail_page(grid, checkpoint_form=form), INVALID


@bp.get("/s/<site>/grids/<int:grid_id>/posters")
@login_required
def posters(grid_id: int):
    grid = load(Grid, grid_id, may=lambda g: services.may_print_posters(db.session, current_user, g),
                refusal="checkpoint posters of another grid")
    items = []
    for checkpoint in grid.checkpoints:
        if checkpoint.active:
            payload = qr.checkpoint_payload(checkpoint)
            items.append({"checkpoint": checkpoint, "payload": payload, "svg": qr.qr_svg(payload)})
    return render_template("grids/posters.html", grid=grid, posters=items)


def _body_too_large() -> bool:
    """Whether the request's body is over `request.max_content_length`: by its declared length without reading it,
    else (a chunked body) by reading the form, which stops at the bound."""
    if request.content_length is not None and request.content_length > request.max_content_length:
        return True
    try:
        request.files.get("file")
    except RequestEntityTooLarge:
        return True
    return False


def _import_body_bound(config) -> int:
    return config["GRID_IMPORT_MAX_BYTES"] + FORM_OVERHEAD_BYTES


@bp.route("/admin/sites/<code>/import", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
@bodies.body_limit(_import_body_bound, authorise_first=True)
def import_file(code: str):
    """Upload a grid file. The body is bounded before it is read (the file's limit plus room for the form's
    token and the multipart framing; a chunked body is counted as it streams), and read only for an admin."""
    site = _site_or_404(code)
    limits = services.import_limits()

    def page(form, status=200, **context):
        return render_template("grids/import.html", site=site, form=form, limits=limits,
                               max_size=geojson.size_text(limits.max_bytes), **context), status

    if request.method == "POST":
        if _body_too_large():
            return page(ImportForm(formdata=None), 413, problems=geojson.too_large(None, limits.max_bytes).problems)
    bodies.authorised()
    form = ImportForm()
    if not form.validate_on_submit():
        return page(form, INVALID if form.is_submitted() else 200)
    reshow_on_refusal(lambda: page(form, problems=getattr(g.refused, "problems", [])))
    data = geojson.read_bounded(form.file.data.stream, limits.max_bytes)
    report = services.import_grids(db.session, site, data, actor=current_user, limits=limits)
    return page(ImportForm(formdata=None), report=report)


@bp.get("/admin/sites/<code>/export")
@roles_required(Role.ADMIN, Role.SUPERVISOR)
def export_file(code: str):
    site = _site_or_404(code)
    body = json.dumps(services.export_grids(db.session, site), ensure_ascii=False, indent=1)
    return Response(body, mimetype="application/geo+json", headers={
        "Content-Disposition": f'attachment; filename="{site.code}-grids.geojson"'})
