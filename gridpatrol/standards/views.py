"""The checklist standard editor: administrators edit, supervisors read.

Forms that fail answer 422 (the request rolls back); successes redirect. Only a draft is editable.
"""

from __future__ import annotations

import json

from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from gridpatrol.core import bodies
from gridpatrol.core import query
from gridpatrol.core.access import load
from gridpatrol.core.errors import reshow_on_refusal
from gridpatrol.core.roles import Role, roles_required
from gridpatrol.extensions import db
from gridpatrol.standards import bp, services
from gridpatrol.standards.forms import ConfirmForm, ImportForm, ItemForm, MoveForm, PublishForm, TemplateForm
from gridpatrol.standards.models import ChecklistTemplate, TemplateItem, TemplateVersion

INVALID = 422
READERS = (Role.ADMIN, Role.SUPERVISOR)


def _template_or_404(template_id: int) -> ChecklistTemplate:
    return load(ChecklistTemplate, template_id)


def _draft_or_404(template: ChecklistTemplate) -> TemplateVersion:
    if template.draft is None:
        abort(404)
    return template.draft


def _item_or_404(template: ChecklistTemplate, item_id: int) -> TemplateItem:
    item = load(TemplateItem, item_id)
    if item.version.template_id != template.id:
        abort(404)
    return item


def _detail_url(template: ChecklistTemplate, anchor: str | None = None) -> str:
    return url_for("standards.detail", template_id=template.id, _anchor=anchor)


def _can_edit() -> bool:
    return current_user.has_role(Role.ADMIN)


# --- list, create, metadata ------------------------------------------------------------------------
@bp.get("/")
@roles_required(*READERS)
def index():
    templates = services.list_templates(db.session)
    rows = [{"template": t, "current": services.current_version(t), "published": t.published, "draft": t.draft,
             "counts": services.category_counts(services.current_version(t))} for t in templates]
    return render_template("standards/index.html", rows=rows, can_edit=_can_edit())


@bp.route("/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def create():
    form = TemplateForm()
    del form.active
    def page():
        return render_template("standards/form.html", form=form, template=None)

    if form.validate_on_submit():
        reshow_on_refusal(page, field=form.code)
        template = services.create_template(db.session, form.code.data, form.name.data, form.description.data,
                                            actor=current_user)
        flash(_("Standard %(code)s created. Add its items, then publish it.", code=template.code), "success")
        return redirect(_detail_url(template, "draft"))
    return page(), (INVALID if form.is_submitted() else 200)


@bp.route("/<int:template_id>/edit", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def edit(template_id: int):
    template = _template_or_404(template_id)
    form = TemplateForm(obj=template if request.method == "GET" else None)
    form.code.data = template.code  # the code never changes: plans, patrols and files name it
    form.code.render_kw = {"readonly": True}
    def page():
        return render_template("standards/form.html", form=form, template=template)

    if form.validate_on_submit():
        reshow_on_refusal(page, field=form.name)
        changed = services.update_template(db.session, template, name=form.name.data,
                                           description=form.description.data, active=form.active.data,
                                           actor=current_user)
        flash(_("Standard saved.") if changed else _("Nothing changed."), "success")
        return redirect(_detail_url(template))
    return page(), (INVALID if form.is_submitted() else 200)


# --- one template ----------------------------------------------------------------------------------
def _render_detail(template: ChecklistTemplate, *, item_form: ItemForm | None = None, status: int = 200):
    draft = template.draft
    published = template.published
    return render_template(
        "standards/detail.html", template=template, published=published, draft=draft,
        published_groups=services.grouped_items(published), draft_groups=services.grouped_items(draft),
        draft_problems=services.validate_version(draft) if draft else [],
        history=sorted(template.versions, key=lambda v: v.number, reverse=True),
        can_edit=_can_edit(), item_form=item_form or ItemForm(formdata=None), confirm_form=ConfirmForm(),
    ), status


@bp.get("/<int:template_id>")
@roles_required(*READERS)
def detail(template_id: int):
    return _render_detail(_template_or_404(template_id))


@bp.get("/<int:template_id>/versions/<int:number>")
@roles_required(*READERS)
def version(template_id: int, number: int):
    template = _template_or_404(template_id)
    shown = services.find_version(template, number) or abort(404)
    return render_template("standards/version.html", template=template, version=shown,
                           groups=services.grouped_items(shown), counts=services.category_counts(shown))


@bp.post("/<int:template_id>/versions")
@roles_required(Role.ADMIN)
def start_version(template_id: int):
    template = _template_or_404(template_id)
    if not ConfirmForm().validate_on_submit():
        return _render_detail(template, status=INVALID)
    existing = template.draft
    draft = services.start_new_version(db.session, template, actor=current_user)
    if existing is not None and existing.id == draft.id:
        flash(_("Version %(number)d is already being drafted.", number=draft.number), "info")
    else:
        flash(_("Draft version %(number)d started from the published items.", number=draft.number), "success")
    return redirect(_detail_url(template, "draft"))


# --- the draft editor ------------------------------------------------------------------------------
def _item_values(form: ItemForm) -> dict:
    return {"category": form.category.data, "text": form.text.data, "weight": form.weight.data,
            "allow_na": form.allow_na.data, "critical": form.critical.data,
            "photo_on_fail": form.photo_on_fail.data, "code": form.code.data or None}


@bp.post("/<int:template_id>/draft/items")
@roles_required(Role.ADMIN)
def add_item(template_id: int):
    template = _template_or_404(template_id)
    draft = _draft_or_404(template)
    form = ItemForm()
    if form.validate_on_submit():
        reshow_on_refusal(lambda: _render_detail(template, item_form=form), field=form.text)
        item = services.add_item(db.session, draft, **_item_values(form), actor=current_user)
        flash(_("Item %(code)s added.", code=item.code), "success")
        return redirect(_detail_url(template, "item-%d" % item.id))
    return _render_detail(template, item_form=form, status=INVALID)


@bp.route("/<int:template_id>/draft/items/<int:item_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def edit_item(template_id: int, item_id: int):
    template = _template_or_404(template_id)
    item = _item_or_404(template, item_id)
    if request.method == "GET" and not item.version.is_draft:
        flash(_("Only a draft can be edited; start a new version first."), "error")
        return redirect(_detail_url(template))
    form = ItemForm(obj=item if request.method == "GET" else None)
    def page():
        return render_template("standards/item_form.html", template=template, item=item, form=form,
                               delete_form=ConfirmForm())

    if form.validate_on_submit():
        reshow_on_refusal(page, field=form.text)
        changed = services.update_item(db.session, item, **_item_values(form), actor=current_user)
        flash(_("Item %(code)s saved.", code=item.code) if changed else _("Nothing changed."), "success")
        return redirect(_detail_url(template, "item-%d" % item.id))
    return page(), (INVALID if form.is_submitted() else 200)


@bp.post("/<int:template_id>/draft/items/<int:item_id>/delete")
@roles_required(Role.ADMIN)
def delete_item(template_id: int, item_id: int):
    template = _template_or_404(template_id)
    item = _item_or_404(template, item_id)
    if not ConfirmForm().validate_on_submit():
        return _render_detail(template, status=INVALID)
    code = item.code
    services.remove_item(db.session, item, actor=current_user)
    flash(_("Item %(code)s deleted from the draft.", code=code), "success")
    return redirect(_detail_url(template, "draft"))


@bp.post("/<int:template_id>/draft/items/<int:item_id>/move")
@roles_required(Role.ADMIN)
def move_item(template_id: int, item_id: int):
    template = _template_or_404(template_id)
    item = _item_or_404(template, item_id)
    form = MoveForm()
    if not form.validate_on_submit():
        return _render_detail(template, status=INVALID)
    services.move_item(db.session, item, form.direction.data, actor=current_user)
    return redirect(_detail_url(template, "item-%d" % item.id))


@bp.route("/<int:template_id>/draft/publish", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def publish(template_id: int):
    template = _template_or_404(template_id)
    draft = _draft_or_404(template)
    form = PublishForm()

    def page():
        return render_template(
            "standards/publish.html", template=template, draft=draft, form=form,
            problems=services.validate_version(draft), diff=services.diff_versions(template.published, draft),
            counts=services.category_counts(draft))

    if form.validate_on_submit():
        reshow_on_refusal(page, field=form.note)
        services.publish(db.session, draft, actor=current_user, note=form.note.data)
        flash(_("Version %(number)d of %(code)s is published; new patrols use it.",
                number=draft.number, code=template.code), "success")
        return redirect(_detail_url(template))
    elif request.method == "GET" and draft.note:
        form.note.data = draft.note
    return page(), (INVALID if form.is_submitted() else 200)


@bp.route("/<int:template_id>/draft/discard", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def discard(template_id: int):
    template = _template_or_404(template_id)
    draft = _draft_or_404(template)
    form = ConfirmForm()
    if form.validate_on_submit():
        number = draft.number
        services.discard_draft(db.session, draft, actor=current_user)
        flash(_("Draft version %(number)d discarded.", number=number), "success")
        return redirect(_detail_url(template))
    return render_template("standards/discard.html", template=template, draft=draft, form=form), (
        INVALID if form.is_submitted() else 200)


# --- export and import -----------------------------------------------------------------------------
@bp.get("/<int:template_id>/export.json")
@roles_required(*READERS)
def export_json(template_id: int):
    template = _template_or_404(template_id)
    number = query.whole(request.args, "version", minimum=1)
    version = services.find_version(template, number) if number is not None else services.current_version(template)
    if version is None:
        abort(404)
    data = services.export_template(template, version)
    body = json.dumps(data, ensure_ascii=False, indent=1) + "\n"
    return Response(body, mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="{template.code}-v{data["version"]}.json"'})


@bp.route("/import", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
@bodies.body_limit(lambda config: services.MAX_IMPORT_BYTES + config["FORM_MAX_BODY_BYTES"], authorise_first=True)
def import_file():
    bodies.authorised()  # an admin: the file is read from here on
    form = ImportForm()
    if not form.validate_on_submit():
        return render_template("standards/import.html", form=form), (INVALID if form.is_submitted() else 200)
    data = form.file.data.read(services.MAX_IMPORT_BYTES + 1)
    reshow_on_refusal(lambda: render_template("standards/import.html", form=form,
                                              problems=getattr(g.refused, "problems", [])))
    template = services.import_template(db.session, data, actor=current_user)
    if template.draft is not None:
        flash(_("Imported as draft version %(number)d of %(code)s: review it, then publish it.",
                number=template.draft.number, code=template.code), "success")
        return redirect(_detail_url(template, "draft"))
    flash(_("Standard %(code)s imported and published.", code=template.code), "success")
    return redirect(_detail_url(template))
