"""定责任 → 定标准: a patrol checks only the items of its grid's responsibility categories (or of its plan's, for a
special inspection), is scored over them, and keeps them when the grid's categories change later."""

import datetime as dt
import re
import uuid

import pytest
import sqlalchemy as sa
import time_machine

from gridpatrol.accounts.models import User
from gridpatrol.audit.models import AuditEvent
from gridpatrol.core.errors import DomainError
from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.grids import services as grids
from gridpatrol.grids.models import Grid, Site
from gridpatrol.issues.models import Issue
from gridpatrol.patrols import checklists, services
from gridpatrol.patrols.models import Patrol, PatrolAnswer, PatrolPlan, PlanKind, Recurrence, Submission
from gridpatrol.standards.models import ChecklistTemplate
from tests import helpers
from tests.grids import builders as grid_builders
from tests.patrols import builders
from tests.patrols.builders import at

# Items T-01…T-05 with weights 1…5: water and power (T-01, T-04), fire safety (T-02), greening (T-03, T-05).
CATEGORIES = ("water_power", "fire_safety", "greening", "water_power", "greening")
A01_CATEGORIES = ["water_power", "fire_safety"]  # 2 of the standard's 3 categories: T-01, T-02, T-04


@pytest.fixture(autouse=True)
def english_messages(app):
    app.config["DEFAULT_LOCALE"] = "en"


@pytest.fixture
def world(app):
    """A01 holds water/power and fire safety, A02 no category, A03 only security (none of the standard's)."""
    for username in ("leader0", "leader1", "leader2"):
        helpers.make_user(app, username, roles=("grid_leader", "staff"))
    grid_builders.make_site(app, grids=grid_builders.two_by_two(
        A01={"leader": "leader0", "categories": A01_CATEGORIES}, A02={"leader": "leader1"},
        A03={"leader": "leader2", "categories": ["security"]}))
    with app.app_context(), job_transaction() as session:
        builders.make_template(session, items=5, categories=CATEGORIES, photo_on_fail=(0,))


def _patrols(app, grid_code: str) -> list[Patrol]:
    with app.app_context():
        return list(db.session.scalars(sa.select(Patrol).join(Grid, Grid.id == Patrol.grid_id)
                                       .where(Grid.code == grid_code).order_by(Patrol.window_start)))


def _codes(app, patrol_id: int) -> list[str]:
    with app.app_context():
        return [i.code for i in checklists.items_for_patrol(db.session, db.session.get(Patrol, patrol_id))]


def _item_ids(app, patrol_id: int) -> dict[str, int]:
    with app.app_context():
        patrol = db.session.get(Patrol, patrol_id)
        return {i.code: i.id for i in patrol.template_version.items}


def _submit(app, patrol: Patrol, results: dict[str, str], files=None, *, now="2026-11-02 09:01"):
    ids = _item_ids(app, patrol.id)
    body = {"client_uuid": str(uuid.uuid4()), "completed_at": at("2026-11-02 09:00").isoformat(),
            "answers": [{"item_id": ids[code], "result": result, "photos": list((files or {}).get(code, {}))}
                        for code, result in results.items()]}
    photos = {name: data for named in (files or {}).values() for name, data in named.items()}
    with app.app_context(), job_transaction() as session:
        leader = session.get(User, patrol.assignee_id)
        return services.submit(session, session.get(Patrol, patrol.id), leader, body, photos, now=at(now))


def _scheduled(app, **plan):
    builders.make_plan(app, grids=("A01", "A02", "A03"), starts_on=dt.date(2026, 11, 2), **plan)
    builders.materialize(app, at("2026-11-02 06:00"))


# --- what a patrol covers -----------------------------------------------------------------------------------
def test_a_patrol_covers_its_grids_categories_in_checklist_order(app, world):
    _scheduled(app)
    (a01,), (a02,), (a03,) = _patrols(app, "A01"), _patrols(app, "A02"), _patrols(app, "A03")
    assert a01.categories == ["fire_safety", "water_power"]
    assert _codes(app, a01.id) == ["T-01", "T-02", "T-04"]
    assert a02.categories is None, "a grid without categories: every item"
    assert _codes(app, a02.id) == ["T-01", "T-02", "T-03", "T-04", "T-05"]
    # A03's only category (security) has no item in this standard: the patrol covers every item.
    assert a03.categories == ["security"]
    assert _codes(app, a03.id) == ["T-01", "T-02", "T-03", "T-04", "T-05"]


def test_the_score_is_over_the_patrols_items_only(app, world):
    _scheduled(app)
    (a01,) = _patrols(app, "A01")
    # T-01 (w1) fails with its photo, T-02 (w2) and T-04 (w4) pass: 100 × 6 ÷ 7, not ÷ 15 (the whole version).
    result = _submit(app, a01, {"T-01": "fail", "T-02": "pass", "T-04": "pass"}, {"T-01": {"p": _jpeg()}})
    assert result.body["score"] == pytest.approx(100 * 6 / 7, abs=0.01)
    with app.app_context():
        assert sorted(a.item.code for a in db.session.scalars(
            sa.select(PatrolAnswer).where(PatrolAnswer.patrol_id == a01.id))) == ["T-01", "T-02", "T-04"]
        issue = db.session.scalar(sa.select(Issue).where(Issue.patrol_id == a01.id))
        assert issue is not None and issue.category == "water_power"


def test_a_grid_without_categories_is_scored_over_every_item(app, world):
    _scheduled(app)
    (a02,) = _patrols(app, "A02")
    result = _submit(app, a02, {"T-01": "pass", "T-02": "pass", "T-03": "na", "T-04": "pass", "T-05": "pass"})
    assert result.body["score"] == pytest.approx(100.0)
    with pytest.raises(DomainError, match="not answered: T-05"):
        _submit(app, _patrols(app, "A03")[0], {"T-01": "pass", "T-02": "pass", "T-03": "pass", "T-04": "pass"})


@pytest.mark.parametrize("answers, message", [
    # A failed item of a category the grid does not hold (greening) cannot be submitted.
    ({"T-01": "pass", "T-02": "pass", "T-03": "fail", "T-04": "pass"}, "not on this checklist"),
    ({"T-01": "pass", "T-02": "pass", "T-04": "pass", "T-05": "pass"}, "not on this checklist"),
    ({"T-01": "pass", "T-02": "pass"}, "not answered: T-04"),
])
def test_answers_outside_the_patrols_items_are_refused_and_nothing_is_saved(app, world, answers, message):
    _scheduled(app)
    (a01,) = _patrols(app, "A01")
    with pytest.raises(DomainError, match=message):
        _submit(app, a01, answers)
    with app.app_context():
        assert db.session.get(Patrol, a01.id).status == "scheduled"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PatrolAnswer)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Submission)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Issue)) == 0


def test_the_plans_categories_override_the_grids(app, world):
    _scheduled(app, kind=PlanKind.SPECIAL, categories=["greening"])
    for code in ("A01", "A02", "A03"):
        (patrol,) = _patrols(app, code)
        assert patrol.categories == ["greening"]
        assert _codes(app, patrol.id) == ["T-03", "T-05"]
    (a01,) = _patrols(app, "A01")
    assert _submit(app, a01, {"T-03": "pass", "T-05": "fail"}).body["score"] == pytest.approx(100 * 3 / 8, abs=0.01)


def test_a_plan_of_categories_without_items_covers_every_item(app, world):
    _scheduled(app, kind=PlanKind.SPECIAL, categories=["security"])
    (a01,) = _patrols(app, "A01")
    assert a01.categories == ["security"]
    assert _codes(app, a01.id) == ["T-01", "T-02", "T-03", "T-04", "T-05"]


def test_a_patrol_keeps_its_categories_when_the_grids_change(app, world):
    builders.make_plan(app, grids=("A01",), starts_on=dt.date(2026, 11, 2))
    builders.materialize(app, at("2026-11-02 06:00"))
    with app.app_context(), job_transaction() as session:
        a01 = session.scalar(sa.select(Grid).where(Grid.code == "A01"))
        grids.set_categories(session, a01, ["greening"], actor=None)
    builders.materialize(app, at("2026-11-03 06:00"))
    first, second = _patrols(app, "A01")
    assert first.categories == ["fire_safety", "water_power"], "the form a leader may have open stays the same"
    assert _codes(app, first.id) == ["T-01", "T-02", "T-04"]
    assert second.categories == ["greening"] and _codes(app, second.id) == ["T-03", "T-05"]


def test_the_kept_items_are_filtered_without_a_statement(app, world):
    _scheduled(app)
    (a01,) = _patrols(app, "A01")
    with app.app_context():
        patrol = db.session.get(Patrol, a01.id)
        checklists.items_for_patrol(db.session, patrol)  # the first read of the version keeps its items
        with helpers.statements_run(db.engine) as statements:
            codes = [i.code for i in checklists.items_for_patrol(db.session, patrol)]
    assert codes == ["T-01", "T-02", "T-04"] and statements == []


def test_patrol_categories_rule():
    assert checklists.patrol_categories(None, ["water_power", "fire_safety"]) == ["fire_safety", "water_power"]
    assert checklists.patrol_categories(["greening"], ["water_power"]) == ["greening"]
    assert checklists.patrol_categories(None, []) is None
    assert checklists.patrol_categories([], None) is None


# --- the plan's categories through the service ------------------------------------------------------------
def _plan_input(session, **changes) -> services.PlanInput:
    values = dict(name="消防专项检查", kind=PlanKind.SPECIAL, template=session.scalar(sa.select(ChecklistTemplate)),
                  recurrence=Recurrence.DAILY, window_start=dt.time(9), window_minutes=120, grace_minutes=60,
                  starts_on=dt.date(2026, 11, 2), grids=list(session.scalars(sa.select(Grid).order_by(Grid.code))))
    return services.PlanInput(**{**values, **changes})


@pytest.mark.parametrize("categories, message", [([], "at least one category"), (["weather"], "unknown")])
def test_a_plan_with_no_or_unknown_categories_is_refused(app, world, categories, message):
    with app.app_context(), job_transaction() as session:
        with pytest.raises(DomainError, match=message):
            services.save_plan(session, session.scalar(sa.select(Site)), _plan_input(session, categories=categories),
                               actor=None)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PatrolPlan)) == 0


def test_editing_a_plans_categories_remakes_its_future_patrols(app, world):
    plan_id = builders.make_plan(app, grids=("A01",), starts_on=dt.date(2026, 11, 2))
    builders.materialize(app, at("2026-11-02 06:00"))
    with app.app_context(), job_transaction() as session:
        plan = session.get(PatrolPlan, plan_id)
        services.save_plan(session, plan.site, _plan_input(session, grids=[plan.plan_grids[0].grid],
                                                           categories=["greening", "fire_safety", "greening"]),
                           plan=plan, actor=None, now=at("2026-11-02 06:30"))
    builders.materialize(app, at("2026-11-02 06:40"))
    (patrol,) = _patrols(app, "A01")
    assert patrol.categories == ["fire_safety", "greening"]
    with app.app_context():
        assert db.session.get(PatrolPlan, plan_id).categories == ["fire_safety", "greening"]
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "plan.updated"))
        assert event.detail["categories"] == ["fire_safety", "greening"]


# --- pages --------------------------------------------------------------------------------------------------
@pytest.fixture
def live(app, world):
    """A01's patrol, open right now."""
    now = dt.datetime.now(dt.timezone.utc).astimezone(builders.SHANGHAI)
    opens = (now - dt.timedelta(minutes=30)).replace(second=0, microsecond=0)
    builders.make_plan(app, grids=("A01",), starts_on=opens.date(), window=opens.strftime("%H:%M"), minutes=240)
    builders.materialize(app, dt.datetime.now(dt.timezone.utc))
    with app.app_context():
        return db.session.scalar(sa.select(Patrol.id).where(Patrol.window_start <= dt.datetime.now(dt.timezone.utc))
                                 .order_by(Patrol.window_start.desc()))


def _client(app, username):
    client = app.test_client()
    assert helpers.login(client, helpers.Credentials(0, username, helpers.DEFAULT_PASSWORD)).status_code == 302
    return client


def _shown_items(html: str) -> list[str]:
    return re.findall(r'<span class="item-code">(T-\d\d)</span>', html)


def test_the_form_and_the_result_show_only_the_patrols_items(app, live):
    client = _client(app, "leader0")
    html = client.get(f"/s/TEST/patrols/{live}").get_data(as_text=True)
    assert _shown_items(html) == ["T-01", "T-04", "T-02"], "grouped by category, in checklist order"
    assert "检查项 3" not in html and "检查项 5" not in html
    # The plain form (no script) sends the shown items only, and is accepted.
    ids = _item_ids(app, live)
    form = {f"answer-{ids[c]}": "pass" for c in ("T-01", "T-02", "T-04")}
    form["client_uuid"] = str(uuid.uuid4())
    response = helpers.post_form(client, f"/s/TEST/patrols/{live}/submit", form,
                                 token_from=f"/s/TEST/patrols/{live}")
    assert response.status_code == 302
    result = client.get(f"/s/TEST/patrols/{live}").get_data(as_text=True)
    assert _shown_items(result) == ["T-01", "T-02", "T-04"]
    assert "Water and power" in result and "Greening" not in result


def test_a_submission_with_an_item_of_another_category_is_a_422(app, live):

    client = _client(app, "leader0")
    ids = _item_ids(app, live)
    payload = {"client_uuid": str(uuid.uuid4()), "completed_at": dt.datetime.now(dt.timezone.utc).isoformat(),
               "answers": [{"item_id": ids[c], "result": "fail" if c == "T-03" else "pass"}
                           for c in ("T-01", "T-02", "T-03", "T-04")]}
    response = builders.submit_as_tablet(client, live, payload)
    assert response.status_code == 422
    assert "not on this checklist" in response.get_json()["detail"]
    with app.app_context():
        assert db.session.get(Patrol, live).status in ("scheduled", "in_progress")
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PatrolAnswer)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Issue)) == 0


def _plan_form(app) -> dict:
    with app.app_context():
        template_id = db.session.scalar(sa.select(ChecklistTemplate.id))
        grid_ids = [str(i) for i in db.session.scalars(sa.select(Grid.id).order_by(Grid.code))][:2]
    return {"name": "消防专项检查", "kind": "special", "template_id": str(template_id), "recurrence": "daily",
            "window_start": "09:00", "window_minutes": "120", "grace_minutes": "60", "starts_on": "2026-11-02",
            "grids": grid_ids, "save": "1"}


def test_the_plan_editor_chooses_the_checklist_scope(app, world):
    boss = helpers.make_user(app, "boss", roles=("supervisor",))
    with time_machine.travel(dt.datetime(2026, 11, 1, 12, tzinfo=dt.timezone.utc)):
        client = app.test_client()
        helpers.login(client, boss)
        form = _plan_form(app)
        # Chosen categories, but none ticked: refused beside the field, nothing saved.
        refused = helpers.post_form(client, "/s/TEST/plans/new", dict(form, scope="chosen"))
        assert refused.status_code == 422
        assert "Choose at least one category to check." in refused.get_data(as_text=True)
        # An unknown category is not a choice.
        assert helpers.post_form(client, "/s/TEST/plans/new",
                                 dict(form, scope="chosen", categories=["weather"])).status_code == 422
        with app.app_context():
            assert db.session.scalar(sa.select(sa.func.count()).select_from(PatrolPlan)) == 0
        # Ticked categories without choosing them are ignored: each grid's own categories decide.
        by_grid = helpers.post_form(client, "/s/TEST/plans/new", dict(form, name="日常巡查", scope="grid",
                                                                        categories=["greening"]))
        assert by_grid.status_code == 302
        saved = helpers.post_form(client, "/s/TEST/plans/new",
                                  dict(form, scope="chosen", categories=["fire_safety", "security"]))
        assert saved.status_code == 302
        with app.app_context():
            plans = {p.name: p for p in db.session.scalars(sa.select(PatrolPlan))}
        assert plans["日常巡查"].categories is None
        assert plans["消防专项检查"].categories == ["fire_safety", "security"]
        listing = client.get("/s/TEST/plans").get_data(as_text=True)
        assert "Fire safety" in listing and "Security" in listing and "Each grid's categories" in listing
        edit = client.get(f"/s/TEST/plans/{plans['消防专项检查'].id}").get_data(as_text=True)
        assert re.search(r'<input checked[^>]*value="chosen"', edit)
        assert re.search(r'<input checked[^>]*value="fire_safety"', edit)
        assert not re.search(r'<input checked[^>]*value="greening"', edit)
        again = client.get(f"/s/TEST/plans/{plans['日常巡查'].id}").get_data(as_text=True)
        assert re.search(r'<input checked[^>]*value="grid"', again)


def _jpeg() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buffer, "JPEG")
    return buffer.getvalue()
