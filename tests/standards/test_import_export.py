"""The JSON format: export → import round trip, and every refusal imports nothing."""

import json
import re

import pytest
import sqlalchemy as sa

from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.standards import services
from gridpatrol.standards.models import ChecklistTemplate, TemplateItem, TemplateVersion
from tests import helpers
from tests.standards import builders


def _counts(app):
    with app.app_context():
        return tuple(db.session.scalar(sa.select(sa.func.count()).select_from(m))
                     for m in (ChecklistTemplate, TemplateVersion, TemplateItem))


def _import(app, data):
    with app.app_context(), job_transaction() as session:
        template = services.import_template(session, data)
        return template.id


def _export(app, template_id, number=None):
    with app.app_context():
        template = db.session.get(ChecklistTemplate, template_id)
        version = services.get_version(template, number) if number else None
        return services.export_template(template, version)


def test_new_code_is_created_and_published(app):
    template_id = _import(app, json.dumps(builders.document(), ensure_ascii=False).encode())
    with app.app_context():
        template = db.session.get(ChecklistTemplate, template_id)
        assert template.draft is None and template.published.number == 1
        items = template.published.items
        assert [(i.position, i.code, i.weight, i.allow_na, i.critical, i.photo_on_fail) for i in items] == [
            (1, "SD-01", 3, True, False, True), (2, "SD-02", 2, True, False, False),
            (3, "XF-01", 5, False, True, False), (4, "WS-01", 1, True, False, False)]
    assert [e.action for e in helpers.audit_actions(app) if e.action.startswith("standard.")] == [
        services.IMPORTED, services.PUBLISHED]


def test_export_then_import_round_trip(app):
    template_id = builders.make_template(app, "ORIG")
    exported = _export(app, template_id)
    assert exported["format"] == "gridpatrol-checklist/1" and exported["version"] == 1
    assert set(exported["items"][0]) == {"code", "category", "text", "weight", "allow_na", "critical",
                                         "photo_on_fail"}
    # As a file, under a new code: a new template with the same items, published.
    text = json.dumps({**exported, "code": "COPY"}, ensure_ascii=False, indent=1)
    copy_id = _import(app, text.encode("utf-8"))
    copied = _export(app, copy_id)
    assert copied["items"] == exported["items"] and copied["name"] == exported["name"]

    # Under the same code: a new draft version with the same items, to be published by a person.
    same_id = _import(app, exported)
    assert same_id == template_id
    with app.app_context():
        template = db.session.get(ChecklistTemplate, template_id)
        assert template.published.number == 1 and template.draft.number == 2
    assert _export(app, template_id, 2)["items"] == exported["items"]
    # A second import while the draft is open is refused.
    before = _counts(app)
    with pytest.raises(services.ImportRefused) as refused:
        _import(app, exported)
    assert refused.value.problems[0].field == "code"
    assert _counts(app) == before


def test_import_fills_in_missing_codes_without_clashing(app):
    items = [{"category": "fire_safety", "text": "a", "weight": 1, "code": "XF-02"},
             {"category": "fire_safety", "text": "b", "weight": 1},
             {"category": "greening", "text": "c", "weight": 1}]
    template_id = _import(app, builders.document(items=items))
    assert [i["code"] for i in _export(app, template_id)["items"]] == ["XF-02", "XF-03", "LH-01"]


def _bad(**changes):
    doc = builders.document()
    for key, value in changes.items():
        match = re.match(r"^item(\d+)_(\w+)$", key)
        if match:
            item, field = doc["items"][int(match.group(1))], match.group(2)
            if value is DELETE:
                del item[field]
            else:
                item[field] = value
        elif value is DELETE:
            del doc[key]
        else:
            doc[key] = value
    return doc


DELETE = object()

REFUSALS = {
    "not json": (b'{"format": "gridpatrol-checklist/1", "items": [', None, None),
    "not utf-8": ("标准".encode("gbk"), None, None),
    "not an object": (b"[1, 2]", None, None),
    "wrong format": (_bad(format="gridpatrol-checklist/2"), None, "format"),
    "no format": (_bad(format=DELETE), None, "format"),
    "unknown top-level field": (_bad(colour="red"), None, "colour"),
    "missing code": (_bad(code=DELETE), None, "code"),
    "bad template code": (_bad(code="日常"), None, "code"),
    "missing name": (_bad(name=DELETE), None, "name"),
    "no items": (_bad(items=[]), None, "items"),
    "items not a list": (_bad(items={"a": 1}), None, "items"),
    "item not an object": (_bad(items=["配电箱"]), 1, None),
    "missing text": (_bad(item2_text=DELETE), 3, "text"),
    "missing category": (_bad(item0_category=DELETE), 1, "category"),
    "missing weight": (_bad(item1_weight=DELETE), 2, "weight"),
    "unknown category": (_bad(item3_category="plumbing"), 4, "category"),
    "weight zero": (_bad(item0_weight=0), 1, "weight"),
    "weight too high": (_bad(item0_weight=101), 1, "weight"),
    "weight not whole": (_bad(item0_weight=2.5), 1, "weight"),
    "weight as text": (_bad(item0_weight="3"), 1, "weight"),
    "weight as boolean": (_bad(item0_weight=True), 1, "weight"),
    "empty text": (_bad(item1_text="   "), 2, "text"),
    "flag not boolean": (_bad(item2_critical="yes"), 3, "critical"),
    "unknown item field": (_bad(item1_critcal=True), 2, "critcal"),
    "bad item code": (_bad(item1_code="配电 01"), 2, "code"),
    "duplicate code": (_bad(item0_code="SD-01", item3_code="sd-01"), 4, "code"),
}


@pytest.mark.parametrize("data, index, field", REFUSALS.values(), ids=REFUSALS.keys())
def test_every_refusal_imports_nothing(app, data, index, field):
    builders.make_template(app, "OTHER")
    before = _counts(app)
    with pytest.raises(services.ImportRefused) as refused:
        _import(app, data)
    problem = refused.value.problems[0]
    assert (problem.index, problem.field) == (index, field)
    if index is not None:
        assert str(index) in str(problem) and (field is None or field in str(problem))
    assert _counts(app) == before
    assert not helpers.audit_actions(app, services.IMPORTED)


def test_refusal_lists_every_problem_and_refuses_a_valid_looking_rest(app):
    doc = _bad(item0_weight=0, item2_category="water", item3_text=DELETE)
    with pytest.raises(services.ImportRefused) as refused:
        _import(app, doc)
    assert [(p.index, p.field) for p in refused.value.problems] == [(1, "weight"), (3, "category"), (4, "text")]
    assert _counts(app) == (0, 0, 0)


def test_refused_draft_import_into_existing_template_changes_nothing(app):
    template_id = builders.make_template(app, "T1")
    before = _counts(app)
    with pytest.raises(services.ImportRefused):
        _import(app, _bad(name="新名字", item0_weight=500))
    assert _counts(app) == before
    with app.app_context():
        assert db.session.get(ChecklistTemplate, template_id).name == "标准 T1"
