"""The standards editor pages, who may use them, and the `standards` CLI."""

import io
import json

import pytest
import sqlalchemy as sa

from gridpatrol.audit import services as audit
from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.standards import cli, services
from gridpatrol.standards.models import ChecklistTemplate, TemplateItem, TemplateVersion
from tests import helpers
from tests.standards import builders


def _client(app, username, roles):
    creds = helpers.make_user(app, username, roles=roles, locale="en")
    client = app.test_client()
    assert helpers.login(client, creds).status_code == 302
    return client


@pytest.fixture
def admin_client(app):
    return _client(app, "admin1", ("admin",))


def _template(app, template_id) -> ChecklistTemplate:
    db.session.expire_all()
    return db.session.get(ChecklistTemplate, template_id)


def _count(app, model):
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_list_shows_current_version_and_counts_per_category(app, admin_client):
    builders.make_template(app, "RCXC")
    html = admin_client.get("/standards/").get_data(as_text=True)
    assert "RCXC" in html and "Version 1" in html and "4 items" in html
    assert "Water and power 2" in html and "Fire safety 1" in html and "Sanitation 1" in html
    assert 'href="/standards/new"' in html and 'href="/standards/import"' in html


def test_admin_builds_publishes_and_revises_a_standard(app, admin_client):
    response = helpers.post_form(admin_client, "/standards/new",
                                 {"code": "rcxc", "name": "日常巡查标准", "description": "每日"})
    assert response.status_code == 302
    with app.app_context():
        template_id = db.session.scalar(sa.select(ChecklistTemplate.id).where(ChecklistTemplate.code == "RCXC"))
    page = f"/standards/{template_id}"
    assert response.headers["Location"].startswith(page)

    item = {"category": "fire_safety", "text": "灭火器压力指针在绿区", "weight": "5", "critical": "y",
            "allow_na": "y", "photo_on_fail": "y", "code": ""}
    assert helpers.post_form(admin_client, f"{page}/draft/items", item, token_from=page).status_code == 302
    second = {**item, "category": "water_power", "text": "配电箱门关闭上锁", "weight": "3", "critical": ""}
    second.pop("critical")
    assert helpers.post_form(admin_client, f"{page}/draft/items", second, token_from=page).status_code == 302
    # Refused input: 422, nothing added.
    for bad in ({"weight": "0"}, {"weight": "abc"}, {"category": "plumbing"}, {"text": ""}, {"code": "SD-01"}):
        response = helpers.post_form(admin_client, f"{page}/draft/items", {**second, **bad}, token_from=page)
        assert response.status_code == 422, bad
    with app.app_context():
        draft = _template(app, template_id).draft
        assert [(i.code, i.weight, i.critical, i.allow_na) for i in draft.items] == [
            ("XF-01", 5, True, True), ("SD-01", 3, False, True)]
        fire, water = [i.id for i in draft.items]

    html = admin_client.get(page).get_data(as_text=True)
    assert f'id="item-{fire}"' in html and "灭火器压力指针在绿区" in html and "Publish version 1" in html

    # Edit, reorder (within a category only), delete.
    edit = f"{page}/draft/items/{water}"
    assert admin_client.get(edit).status_code == 200
    response = helpers.post_form(admin_client, edit, {**second, "text": "配电箱门关闭上锁、无异响", "weight": "4"})
    assert response.status_code == 302
    assert helpers.post_form(admin_client, edit, {**second, "weight": "500"}).status_code == 422
    extra = {**second, "text": "待删除"}
    helpers.post_form(admin_client, f"{page}/draft/items", extra, token_from=page)
    with app.app_context():
        doomed = next(i.id for i in _template(app, template_id).draft.items if i.text == "待删除")
    assert helpers.post_form(admin_client, f"{page}/draft/items/{doomed}/move", {"direction": "up"},
                             token_from=page).status_code == 302
    assert helpers.post_form(admin_client, f"{page}/draft/items/{doomed}/move", {"direction": "left"},
                             token_from=page).status_code == 422
    with app.app_context():
        assert [i.code for i in _template(app, template_id).draft.items] == ["XF-01", "SD-02", "SD-01"]
    assert helpers.post_form(admin_client, f"{page}/draft/items/{doomed}/delete", {},
                             token_from=f"{page}/draft/items/{doomed}").status_code == 302

    # Publishing asks first, then publishes.
    confirm = admin_client.get(f"{page}/draft/publish")
    assert confirm.status_code == 200 and "Yes, publish version 1" in confirm.get_data(as_text=True)
    with app.app_context():
        assert _template(app, template_id).published is None
    assert helpers.post_form(admin_client, f"{page}/draft/publish", {"note": "首版"}).status_code == 302
    with app.app_context():
        template = _template(app, template_id)
        assert template.published.number == 1 and template.draft is None
        assert [(i.code, i.text, i.weight) for i in template.published.items] == [
            ("XF-01", "灭火器压力指针在绿区", 5), ("SD-01", "配电箱门关闭上锁、无异响", 4)]

    # The published version has no editor any more; its items cannot be posted to.
    html = admin_client.get(page).get_data(as_text=True)
    assert "Start a new version" in html and "/move" not in html
    assert admin_client.get(f"{page}/draft/publish").status_code == 404
    assert helpers.post_form(admin_client, edit, {**second, "weight": "9"}, token_from=page).status_code == 422
    assert helpers.post_form(admin_client, f"{page}/draft/items/{water}/delete", {},
                             token_from=page).status_code == 422
    assert admin_client.get(edit).status_code == 302  # back to the standard, with a message

    # A new version, changed, then discarded after confirmation.
    assert helpers.post_form(admin_client, f"{page}/versions", {}, token_from=page).status_code == 302
    with app.app_context():
        assert _template(app, template_id).draft.number == 2
    assert admin_client.get(f"{page}/draft/discard").status_code == 200
    assert helpers.post_form(admin_client, f"{page}/draft/discard", {}).status_code == 302
    with app.app_context():
        template = _template(app, template_id)
        assert template.draft is None and [v.number for v in template.versions] == [1]

    assert admin_client.get(f"{page}/versions/1").status_code == 200
    assert admin_client.get(f"{page}/versions/9").status_code == 404
    actions = [e.action for e in helpers.audit_actions(app) if e.action.startswith("standard.")]
    for action in (services.CREATED, services.ITEM_ADDED, services.ITEM_UPDATED, services.ITEM_MOVED,
                   services.ITEM_REMOVED, services.PUBLISHED, services.VERSION_STARTED, services.DRAFT_DISCARDED):
        assert action in actions, action


def test_publish_refuses_an_empty_draft(app, admin_client):
    template_id = builders.make_template(app, publish=False, items=[])
    page = f"/standards/{template_id}/draft/publish"
    html = admin_client.get(page).get_data(as_text=True)
    assert "cannot be published yet" in html
    assert helpers.post_form(admin_client, page, {}, token_from=f"/standards/{template_id}").status_code == 422
    with app.app_context():
        assert _template(app, template_id).published is None


def test_template_name_and_active_flag(app, admin_client):
    template_id = builders.make_template(app)
    page = f"/standards/{template_id}/edit"
    response = helpers.post_form(admin_client, page, {"code": "HACK", "name": "新名称", "description": ""})
    assert response.status_code == 302
    with app.app_context():
        template = _template(app, template_id)
        assert (template.code, template.name, template.active) == ("T1", "新名称", False)
    assert helpers.post_form(admin_client, page, {"name": ""}).status_code == 422
    assert helpers.audit_actions(app, services.UPDATED)


def test_export_download_and_import_upload(app, admin_client):
    template_id = builders.make_template(app, "ORIG")
    response = admin_client.get(f"/standards/{template_id}/export.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert 'filename="ORIG-v1.json"' in response.headers["Content-Disposition"]
    data = json.loads(response.get_data(as_text=True))
    assert data["code"] == "ORIG" and len(data["items"]) == 4
    assert admin_client.get(f"/standards/{template_id}/export.json?version=7").status_code == 404

    def upload(body: bytes):
        token = helpers.csrf_token(admin_client, "/standards/import")
        return admin_client.post("/standards/import", data={
            "csrf_token": token, "file": (io.BytesIO(body), "standard.json")}, content_type="multipart/form-data")

    before = _count(app, TemplateItem)
    bad = {**data, "code": "NEW", "items": [{**data["items"][0], "weight": 0}, *data["items"][1:]]}
    response = upload(json.dumps(bad).encode())
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Nothing was imported" in html and "Item 1, weight" in html
    assert _count(app, TemplateItem) == before
    assert upload(b"not json").status_code == 422

    response = upload(json.dumps({**data, "code": "NEW"}, ensure_ascii=False).encode())
    assert response.status_code == 302
    response = upload(json.dumps(data, ensure_ascii=False).encode())  # the same code: a new draft
    assert response.status_code == 302 and response.headers["Location"].endswith("#draft")
    with app.app_context():
        assert _template(app, template_id).draft.number == 2
        assert db.session.scalar(sa.select(ChecklistTemplate).where(ChecklistTemplate.code == "NEW")).published


def test_supervisor_reads_but_cannot_edit(app):
    template_id = builders.make_template(app)
    with app.app_context(), job_transaction() as session:
        services.start_new_version(session, session.get(ChecklistTemplate, template_id))
    client = _client(app, "boss", ("supervisor",))
    page = f"/standards/{template_id}"
    assert client.get("/standards/").status_code == 200
    html = client.get(page).get_data(as_text=True)
    assert "灭火器压力指针在绿区" in html and "/move" not in html and "Add item" not in html
    assert client.get(f"{page}/versions/1").status_code == 200
    assert client.get(f"{page}/export.json").status_code == 200
    with app.app_context():
        item_id = _template(app, template_id).draft.items[0].id
    token = helpers.csrf_token(client, page)
    refused = [
        client.get("/standards/new"), client.get("/standards/import"), client.get(f"{page}/edit"),
        client.get(f"{page}/draft/publish"), client.get(f"{page}/draft/discard"),
        client.get(f"{page}/draft/items/{item_id}"),
        client.post(f"{page}/draft/items", data={"csrf_token": token, "category": "assets", "text": "x",
                                                 "weight": "1"}),
        client.post(f"{page}/draft/items/{item_id}/move", data={"csrf_token": token, "direction": "down"}),
        client.post(f"{page}/draft/items/{item_id}/delete", data={"csrf_token": token}),
        client.post(f"{page}/draft/publish", data={"csrf_token": token}),
        client.post(f"{page}/versions", data={"csrf_token": token}),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    denials = helpers.audit_actions(app, audit.PERMISSION_DENIED)
    assert len(denials) == len(refused) and {d.actor_name for d in denials} == {"boss"}
    with app.app_context():
        assert _template(app, template_id).published.number == 1
        assert len(_template(app, template_id).draft.items) == 4


@pytest.mark.parametrize("roles", [("staff",), ("grid_leader", "staff"), ("rectifier",)])
def test_other_roles_are_refused_and_audited(app, roles):
    template_id = builders.make_template(app)
    client = _client(app, "someone", roles)
    paths = ["/standards/", f"/standards/{template_id}", f"/standards/{template_id}/export.json",
             f"/standards/{template_id}/versions/1", "/standards/import"]
    assert [client.get(p).status_code for p in paths] == [403] * len(paths)
    token = helpers.csrf_token(client, "/")
    assert client.post(f"/standards/{template_id}/versions", data={"csrf_token": token}).status_code == 403
    denials = helpers.audit_actions(app, audit.PERMISSION_DENIED)
    assert len(denials) == len(paths) + 1 and {d.actor_name for d in denials} == {"someone"}
    assert _count(app, TemplateVersion) == 1
    # The menu does not offer it either.
    assert 'href="/standards/"' not in client.get("/").get_data(as_text=True)


def test_anonymous_is_sent_to_login(app):
    builders.make_template(app)
    response = app.test_client().get("/standards/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_cli_list_export_import(app, tmp_path):
    builders.make_template(app, "ORIG")
    runner = app.test_cli_runner()
    listed = runner.invoke(cli.standards, ["list"])
    assert listed.exit_code == 0 and "ORIG\t标准 ORIG\tv1 (4 items)" in listed.output

    out = tmp_path / "orig.json"
    assert runner.invoke(cli.standards, ["export", "orig", "--out", str(out)]).exit_code == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["code"] == "ORIG" and len(data["items"]) == 4
    assert runner.invoke(cli.standards, ["export", "NOPE"]).exit_code == 1

    copy = tmp_path / "copy.json"
    copy.write_text(json.dumps({**data, "code": "COPY"}, ensure_ascii=False), encoding="utf-8")
    result = runner.invoke(cli.standards, ["import", str(copy)])
    assert result.exit_code == 0 and "COPY: created and published version 1 with 4 items" in result.output
    result = runner.invoke(cli.standards, ["import", str(out)])
    assert result.exit_code == 0 and "ORIG: draft version 2" in result.output

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**data, "code": "BAD", "items": [{"category": "x", "text": "t", "weight": 1}]}))
    before = _count(app, TemplateItem)
    result = runner.invoke(cli.standards, ["import", str(bad)])
    assert result.exit_code == 1 and "nothing was imported" in result.output and "category" in result.output
    assert _count(app, TemplateItem) == before
