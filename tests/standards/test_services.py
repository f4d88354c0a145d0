"""Templates, drafts and versions through the services; the before_flush guard against raw ORM edits."""

import pytest
import sqlalchemy as sa

from gridpatrol.core.errors import DomainError
from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.standards import services
from gridpatrol.standards.guard import ImmutableVersionError
from gridpatrol.standards.models import ChecklistTemplate, TemplateItem, TemplateVersion
from tests import helpers
from tests.standards import builders


def _snapshot(app, template_id):
    """Every version's number, status and items, as stored."""
    with app.app_context():
        db.session.expire_all()
        template = db.session.get(ChecklistTemplate, template_id)
        return [(v.number, v.status, [(i.position, i.code, i.category, i.text, i.weight, i.allow_na, i.critical,
                                       i.photo_on_fail) for i in sorted(v.items, key=lambda i: i.position)])
                for v in template.versions]


def test_create_template_starts_an_empty_draft(app):
    with app.app_context(), job_transaction() as session:
        template = services.create_template(session, " rcxc ", " 日常巡查标准 ", "说明")
        assert template.code == "RCXC" and template.name == "日常巡查标准"
        assert template.published is None and template.draft.number == 1 and template.draft.items == []
        with pytest.raises(DomainError):
            services.create_template(session, "RCXC", "again", None)
        with pytest.raises(DomainError):
            services.create_template(session, "bad code!", "x", None)
    assert [e.action for e in helpers.audit_actions(app, services.CREATED)] == [services.CREATED]


def test_codes_are_numbered_per_category_and_categories_stay_together(app):
    with app.app_context(), job_transaction() as session:
        draft = services.create_template(session, "T1", "t", None).draft
        services.add_item(session, draft, category="water_power", text="a", weight=1)
        services.add_item(session, draft, category="fire_safety", text="b", weight=5, critical=True)
        services.add_item(session, draft, category="water_power", text="c", weight=2)
        services.add_item(session, draft, category="greening", text="d", weight=1, code="lh-x")
        services.add_item(session, draft, category="greening", text="e", weight=1)
        assert [(i.position, i.code) for i in draft.items] == [
            (1, "SD-01"), (2, "SD-02"), (3, "XF-01"), (4, "LH-X"), (5, "LH-01")]
        with pytest.raises(DomainError):
            services.add_item(session, draft, category="greening", text="f", weight=1, code="SD-01")
        for bad in ({"category": "nope"}, {"weight": 0}, {"weight": 101}, {"text": "  "}):
            with pytest.raises(DomainError):
                services.add_item(session, draft, **{"category": "assets", "text": "x", "weight": 1, **bad})
        assert len(draft.items) == 5


def test_move_and_recategorise_within_a_draft(app):
    template_id = builders.make_template(app, publish=False)
    with app.app_context(), job_transaction() as session:
        draft = db.session.get(ChecklistTemplate, template_id).draft
        first, second, fire, toilet = list(draft.items)
        assert services.move_item(session, second, "up") is True
        assert [i.code for i in sorted(draft.items, key=lambda i: i.position)] == ["SD-02", "SD-01", "XF-01", "WS-01"]
        assert services.move_item(session, second, "up") is False  # first of its category
        assert services.move_item(session, fire, "down") is False  # the only fire item
        with pytest.raises(DomainError):
            services.move_item(session, fire, "sideways")
        # A new category puts the item after that category's last item; the code stays.
        assert services.update_item(session, toilet, category="water_power", text="卫生间水管无渗漏", weight=2,
                                    allow_na=True, critical=False, photo_on_fail=True) is True
        assert [(i.position, i.code) for i in sorted(draft.items, key=lambda i: i.position)] == [
            (1, "SD-02"), (2, "SD-01"), (3, "WS-01"), (4, "XF-01")]
        services.remove_item(session, first)
        assert [(i.position, i.code) for i in sorted(draft.items, key=lambda i: i.position)] == [
            (1, "SD-02"), (2, "WS-01"), (3, "XF-01")]
    actions = [e.action for e in helpers.audit_actions(app) if e.action.startswith("standard.item_")]
    assert actions.count(services.ITEM_MOVED) == 1 and services.ITEM_UPDATED in actions
    assert services.ITEM_REMOVED in actions


def test_publish_new_version_and_discard_lifecycle(app):
    template_id = builders.make_template(app, publish=False)
    with app.app_context(), job_transaction() as session:
        template = db.session.get(ChecklistTemplate, template_id)
        v1 = services.publish(session, template.draft, note="首版")
        assert v1.status == "published" and v1.published_at is not None and template.draft is None
        assert template.published is v1 and v1.note == "首版"

    with app.app_context(), job_transaction() as session:
        template = db.session.get(ChecklistTemplate, template_id)
        v2 = services.start_new_version(session, template)
        assert v2.number == 2 and v2.is_draft
        assert services.start_new_version(session, template) is v2  # one draft at a time
        assert [(i.code, i.text, i.weight, i.critical) for i in v2.items] == [
            (i.code, i.text, i.weight, i.critical) for i in template.published.items]
        assert {i.id for i in v2.items}.isdisjoint({i.id for i in template.published.items})
        services.update_item(session, v2.items[0], category="water_power", text="配电箱门关闭上锁、无异响",
                             weight=4, allow_na=True, critical=False, photo_on_fail=True)
        removed = next(i for i in v2.items if i.code == "SD-02")
        services.remove_item(session, removed)
        added = services.add_item(session, v2, category="water_power", text="电表箱完好", weight=1)
        assert added.code == "SD-03"  # SD-02 belonged to another check: never reused

    before_v1 = _snapshot(app, template_id)[0]
    with app.app_context(), job_transaction() as session:
        template = db.session.get(ChecklistTemplate, template_id)
        v2 = template.draft
        diff = services.diff_versions(template.published, v2)
        assert diff == {"added": ["SD-03"], "removed": ["SD-02"], "changed": ["SD-01"], "moved": []}
        services.move_item(session, next(i for i in v2.items if i.code == "SD-03"), "up")
        assert services.diff_versions(template.published, v2)["moved"] == []  # SD-03 is new
        services.move_item(session, next(i for i in v2.items if i.code == "SD-03"), "down")
        services.publish(session, v2)
        assert [v.status for v in template.versions] == ["superseded", "published"]
        assert template.published is v2
    after = _snapshot(app, template_id)
    assert after[0][1] == "superseded" and after[0][2] == before_v1[2]  # v1's items untouched

    with app.app_context(), job_transaction() as session:
        template = db.session.get(ChecklistTemplate, template_id)
        v3 = services.start_new_version(session, template)
        services.add_item(session, v3, category="greening", text="草坪修剪整齐", weight=1)
        services.discard_draft(session, v3)
        assert template.draft is None and [v.number for v in template.versions] == [1, 2]
    assert _snapshot(app, template_id) == after
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(TemplateVersion)) == 2

    actions = [e.action for e in helpers.audit_actions(app)]
    assert actions.count(services.PUBLISHED) == 2
    assert services.VERSION_STARTED in actions and services.DRAFT_DISCARDED in actions


def test_publish_validates_the_draft(app):
    with app.app_context(), job_transaction() as session:
        template = services.create_template(session, "EMPTY", "空", None)
        with pytest.raises(DomainError):
            services.publish(session, template.draft)
        item = services.add_item(session, template.draft, category="assets", text="墙面无渗水", weight=2)
        item.category = "plumbing"  # a raw edit of a draft passes the guard, but publishing checks it
        session.flush()
        problems = services.validate_version(template.draft)
        assert len(problems) == 1 and "ZC-01" in problems[0] and "category" in problems[0]
        with pytest.raises(DomainError, match="plumbing"):
            services.publish(session, template.draft)
        assert template.draft is not None and template.published is None


@pytest.mark.parametrize("attempt", ["add", "update", "remove", "move", "publish", "discard"])
def test_published_version_refuses_every_service_edit(app, attempt):
    template_id = builders.make_template(app)
    before = _snapshot(app, template_id)
    with app.app_context(), job_transaction() as session:
        published = db.session.get(ChecklistTemplate, template_id).published
        item = published.items[0]
        calls = {
            "add": lambda: services.add_item(session, published, category="assets", text="x", weight=1),
            "update": lambda: services.update_item(session, item, category=item.category, text="changed", weight=9,
                                                   allow_na=True, critical=False, photo_on_fail=False),
            "remove": lambda: services.remove_item(session, item),
            "move": lambda: services.move_item(session, published.items[1], "up"),
            "publish": lambda: services.publish(session, published),
            "discard": lambda: services.discard_draft(session, published),
        }
        with pytest.raises(DomainError):
            calls[attempt]()
    assert _snapshot(app, template_id) == before


def _raw_edit(app, template_id, edit):
    """Apply `edit(template)` with plain ORM calls and flush: the guard must refuse and nothing must change."""
    before = _snapshot(app, template_id)
    with pytest.raises(ImmutableVersionError):
        with app.app_context(), job_transaction() as session:
            edit(session, session.get(ChecklistTemplate, template_id))
            session.flush()
    assert _snapshot(app, template_id) == before


RAW_EDITS = {
    "change item text": lambda s, t: setattr(t.published.items[0], "text", "改过了"),
    "change item weight": lambda s, t: setattr(t.published.items[0], "weight", 100),
    "add item to collection": lambda s, t: t.published.items.append(
        TemplateItem(position=9, code="X-1", category="assets", text="x", weight=1)),
    "add item by version_id": lambda s, t: s.add(
        TemplateItem(version_id=t.published.id, position=9, code="X-1", category="assets", text="x", weight=1)),
    "delete item": lambda s, t: s.delete(t.published.items[0]),
    "remove item from collection": lambda s, t: t.published.items.remove(t.published.items[0]),
    "reopen as draft": lambda s, t: setattr(t.published, "status", "draft"),
    "renumber version": lambda s, t: setattr(t.published, "number", 7),
    "delete version": lambda s, t: s.delete(t.published),
    "delete template": lambda s, t: s.delete(t),
}


RAW_EDITS.update({
    "bulk update": lambda s, t: s.execute(sa.update(TemplateItem).values(weight=100)),
    "bulk delete": lambda s, t: s.execute(sa.delete(TemplateItem).where(TemplateItem.version_id == t.published.id)),
    "bulk insert": lambda s, t: s.execute(sa.insert(TemplateItem).values(
        version_id=t.published.id, position=9, code="X-1", category="assets", text="x", weight=1)),
    "bulk status": lambda s, t: s.execute(sa.update(TemplateVersion).values(status="draft")),
})


@pytest.mark.parametrize("edit", RAW_EDITS.values(), ids=RAW_EDITS.keys())
def test_guard_blocks_raw_orm_edits_of_a_published_version(app, edit):
    _raw_edit(app, builders.make_template(app), edit)


def test_guard_blocks_moving_items_between_published_and_draft(app):
    template_id = builders.make_template(app)
    with app.app_context(), job_transaction() as session:
        services.start_new_version(session, session.get(ChecklistTemplate, template_id))

    def steal(session, template):  # into the draft, out of the published version
        template.published.items[0].version = template.draft

    def plant(session, template):  # from the draft into the published version
        template.draft.items[0].version_id = template.published.id

    _raw_edit(app, template_id, steal)
    _raw_edit(app, template_id, plant)


def test_guard_blocks_superseded_versions_and_edits_after_publishing_in_the_same_transaction(app):
    template_id = builders.make_template(app)
    with app.app_context(), job_transaction() as session:
        template = session.get(ChecklistTemplate, template_id)
        services.publish(session, services.start_new_version(session, template))
    # v1 is superseded now: it cannot come back, nor change.
    _raw_edit(app, template_id, lambda s, t: setattr(t.versions[0], "status", "published"))
    _raw_edit(app, template_id, lambda s, t: setattr(t.versions[0].items[0], "text", "x"))

    def publish_then_edit(session, template):
        draft = services.start_new_version(session, template)
        services.publish(session, draft)
        draft.items[0].text = "发布后再改"

    _raw_edit(app, template_id, publish_then_edit)


def test_guard_lets_drafts_change_and_new_versions_be_created_whole(app):
    template_id = builders.make_template(app)
    with app.app_context(), job_transaction() as session:
        template = session.get(ChecklistTemplate, template_id)
        draft = services.start_new_version(session, template)
        draft.items[0].text = "草稿可以改"
        session.delete(draft.items[1])
        session.flush()
        # A version created in the same flush as its items: nothing can have used it.
        other = ChecklistTemplate(code="RAW", name="raw")
        other.versions.append(TemplateVersion(number=1, status="published", items=[
            TemplateItem(position=1, code="A", category="assets", text="x", weight=1)]))
        session.add(other)
        session.flush()
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(TemplateItem)) == 4 + 3 + 1


def test_diff_reports_reordered_items(app):
    template_id = builders.make_template(app)
    with app.app_context(), job_transaction() as session:
        template = session.get(ChecklistTemplate, template_id)
        draft = services.start_new_version(session, template)
        assert services.diff_versions(template.published, draft) == {
            "added": [], "removed": [], "changed": [], "moved": []}
        services.move_item(session, next(i for i in draft.items if i.code == "SD-02"), "up")
        assert services.diff_versions(template.published, draft)["moved"] == ["SD-02", "SD-01"]
