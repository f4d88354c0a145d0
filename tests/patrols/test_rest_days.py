"""遇休息日: a plan's rule for occurrences on a rest day, as the materialiser, the editor and the plan list apply it
(the date arithmetic itself is tested in test_schedule.py)."""

import datetime as dt

import pytest
import sqlalchemy as sa
import time_machine

from gridpatrol.audit.models import AuditEvent
from gridpatrol.core.errors import DomainError
from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.grids.models import Grid, Site
from gridpatrol.patrols import services
from gridpatrol.patrols.models import PatrolPlan, PlanKind, Recurrence, RestDayRule
from gridpatrol.standards.models import ChecklistTemplate
from tests import helpers
from tests.patrols import builders
from tests.patrols.builders import SHANGHAI, at

D = dt.date


@pytest.fixture(autouse=True)
def english_messages(app):
    """These tests read the pages in English; the Chinese catalogue has its own tests."""
    app.config["DEFAULT_LOCALE"] = "en"


@pytest.fixture
def site(app):
    return builders.compound(app)


def patrol_days(app) -> list[dt.date]:
    return sorted({p.window_start.astimezone(SHANGHAI).date() for p in builders.patrols(app)})


def monthly_15th(app, rule: RestDayRule, **kwargs) -> int:
    return builders.make_plan(app, grids=("A01", "A02"), recurrence=Recurrence.MONTHLY, month_day=15,
                              window="09:00", minutes=420, starts_on=D(2026, 10, 1), on_rest_day=rule, **kwargs)


# --- the materialiser ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("rule, expected", [
    (RestDayRule.NEXT, [D(2026, 10, 15), D(2026, 11, 16)]),  # Sunday 15 November → Monday 16th
    (RestDayRule.PREVIOUS, [D(2026, 10, 15), D(2026, 11, 13)]),
    (RestDayRule.SKIP, [D(2026, 10, 15)]),
    (RestDayRule.KEEP, [D(2026, 10, 15), D(2026, 11, 15)]),
])
def test_the_scheduler_day_by_day_honours_the_rule(app, site, rule, expected):
    monthly_15th(app, rule)
    day = D(2026, 10, 1)
    while day <= D(2026, 11, 20):  # the scheduler's runs, each with its 24-hour horizon
        builders.materialize(app, dt.datetime.combine(day, dt.time(6), tzinfo=SHANGHAI))
        day += dt.timedelta(days=1)
    assert patrol_days(app) == expected
    patrols = builders.patrols(app)
    assert len(patrols) == 2 * len(expected), "one patrol per grid and window"
    assert {p.window_start.astimezone(SHANGHAI).time() for p in patrols} == {dt.time(9)}


def test_a_catch_up_run_finds_the_moved_sweep_and_a_second_run_adds_nothing(app, site):
    monthly_15th(app, RestDayRule.NEXT)
    # The scheduler was down from 14 to 16 November: its first run after makes the moved sweep (still open).
    builders.materialize(app, at("2026-11-14 06:00"))
    assert patrol_days(app) == [D(2026, 10, 15)]  # October's made late as missed; Sunday's not yet
    report = builders.materialize(app, at("2026-11-16 10:00"))
    assert report.created == 2 and patrol_days(app) == [D(2026, 10, 15), D(2026, 11, 16)]
    assert {p.status for p in builders.patrols(app) if p.window_start > at("2026-11-01 00:00")} == {"scheduled"}
    assert builders.materialize(app, at("2026-11-16 10:05")).created == 0


def test_every_n_days_moved_onto_an_occurrence_makes_one_patrol(app, site):
    # Every 2 days from Saturday 7 November: the 7th moves onto Monday the 9th, an occurrence itself.
    builders.make_plan(app, recurrence=Recurrence.EVERY_N_DAYS, interval_days=2, starts_on=D(2026, 11, 7),
                       on_rest_day=RestDayRule.NEXT)
    builders.materialize(app, at("2026-11-12 12:00"))
    assert patrol_days(app) == [D(2026, 11, 9), D(2026, 11, 11), D(2026, 11, 13)]


def test_changing_the_rule_remakes_the_future_patrols(app, site):
    plan_id = monthly_15th(app, RestDayRule.KEEP)
    builders.materialize(app, at("2026-11-14 12:00"))
    assert patrol_days(app)[-1] == D(2026, 11, 15)
    with app.app_context(), job_transaction() as session:
        plan = session.get(PatrolPlan, plan_id)
        data = services.PlanInput(
            name=plan.name, kind=PlanKind.ROUTINE, template=session.scalar(sa.select(ChecklistTemplate)),
            recurrence=Recurrence.MONTHLY, month_day=15, window_start=dt.time(9), window_minutes=420,
            grace_minutes=60, starts_on=D(2026, 10, 1), grids=list(session.scalars(sa.select(Grid).where(
                Grid.code.in_(["A01", "A02"])))), on_rest_day=RestDayRule.NEXT)
        services.save_plan(session, session.scalar(sa.select(Site)), data, plan=plan, actor=None,
                           now=at("2026-11-14 13:00"))
    builders.materialize(app, at("2026-11-15 12:00"))
    assert patrol_days(app) == [D(2026, 10, 15), D(2026, 11, 16)]
    with app.app_context():
        detail = db.session.scalars(sa.select(AuditEvent.detail).where(AuditEvent.action == "plan.updated")).one()
        assert detail["on_rest_day"] == "next"


# --- saving ----------------------------------------------------------------------------------------------------
def test_an_unknown_rule_is_refused(app, site):
    with pytest.raises(DomainError, match="rest day"):
        builders.make_plan(app, recurrence=Recurrence.MONTHLY, month_day=15, on_rest_day="later")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PatrolPlan)) == 0


@pytest.mark.parametrize("recurrence", [Recurrence.DAILY, Recurrence.WORKDAYS])
def test_daily_and_workday_plans_store_the_default_whatever_is_sent(app, site, recurrence):
    plan_id = builders.make_plan(app, recurrence=recurrence, on_rest_day=RestDayRule.SKIP)
    with app.app_context():
        assert db.session.get(PatrolPlan, plan_id).on_rest_day == "next"


# --- the editor and the plan list (HTTP) ------------------------------------------------------------------------
def _supervisor(app):
    boss = helpers.make_user(app, "boss", roles=("supervisor",))
    client = app.test_client()
    helpers.login(client, boss)
    return client


def _form(app, **changes) -> dict:
    with app.app_context():
        template_id = db.session.scalar(sa.select(ChecklistTemplate.id))
        grid_ids = [str(i) for i in db.session.scalars(sa.select(Grid.id).order_by(Grid.code))][:2]
    return {"name": "月度安全大排查", "kind": "safety_sweep", "template_id": str(template_id),
            "recurrence": "monthly", "month_day": "15", "on_rest_day": "next", "window_start": "09:00",
            "window_minutes": "420", "grace_minutes": "60", "starts_on": "2026-11-01", "grids": grid_ids,
            **changes}


def _plans(app) -> list[PatrolPlan]:
    with app.app_context():
        return list(db.session.scalars(sa.select(PatrolPlan).order_by(PatrolPlan.id)))


@time_machine.travel(dt.datetime(2026, 11, 2, 2, tzinfo=dt.timezone.utc))
def test_the_editor_saves_the_rule_and_the_list_shows_it(app, site):
    client = _supervisor(app)
    page = client.get("/s/TEST/plans/new").get_data(as_text=True)
    assert 'name="on_rest_day"' in page and '<option selected value="next">' in page
    saved = helpers.post_form(client, "/s/TEST/plans/new", dict(_form(app, on_rest_day="previous"), save="1"))
    assert saved.status_code == 302
    (plan,) = _plans(app)
    assert plan.on_rest_day == "previous"
    listing = client.get("/s/TEST/plans").get_data(as_text=True)
    assert "Monthly on day 15" in listing and "On a rest day: Move to the previous working day" in listing
    assert "Safety sweep" in listing and ">monthly<" not in listing
    edit = client.get(f"/s/TEST/plans/{plan.id}").get_data(as_text=True)
    assert '<option selected value="previous">' in edit


@time_machine.travel(dt.datetime(2026, 11, 2, 2, tzinfo=dt.timezone.utc))
def test_the_editor_refuses_an_unknown_rule_and_saves_nothing(app, site):
    client = _supervisor(app)
    refused = helpers.post_form(client, "/s/TEST/plans/new", dict(_form(app, on_rest_day="later"), save="1"))
    assert refused.status_code == 422
    assert "Not a valid choice" in refused.get_data(as_text=True)
    assert _plans(app) == []


@time_machine.travel(dt.datetime(2026, 11, 2, 2, tzinfo=dt.timezone.utc))
def test_the_editor_ignores_the_rule_for_a_daily_plan(app, site):
    client = _supervisor(app)
    form = _form(app, recurrence="daily", on_rest_day="skip")
    assert helpers.post_form(client, "/s/TEST/plans/new", dict(form, save="1")).status_code == 302
    (plan,) = _plans(app)
    assert plan.on_rest_day == "next"
    listing = client.get("/s/TEST/plans").get_data(as_text=True)
    assert "Every day" in listing and "On a rest day" not in listing


@time_machine.travel(dt.datetime(2026, 11, 2, 2, tzinfo=dt.timezone.utc))
def test_the_preview_shows_where_a_rest_day_moves_to(app, site):
    client = _supervisor(app)
    moved = helpers.post_form(client, "/s/TEST/plans/new", dict(_form(app), preview="1"))
    assert moved.status_code == 200
    html = moved.get_data(as_text=True)
    assert "2026-11-16 Mon 09:00" in html and "15 (Sun) moved on to 16 (Mon)" in html
    assert "2026-11-15" not in html
    earlier = helpers.post_form(client, "/s/TEST/plans/new", dict(_form(app, on_rest_day="previous"), preview="1"))
    assert "15 (Sun) brought forward to 13 (Fri)" in earlier.get_data(as_text=True)
    skipped = helpers.post_form(client, "/s/TEST/plans/new", dict(_form(app, on_rest_day="skip"), preview="1"))
    html = skipped.get_data(as_text=True)
    assert "2026-11-15 Sun" in html and "rest day: skipped" in html and "2026-11-16" not in html
    assert "2026-12-15 Tue 09:00" in html
    assert _plans(app) == [], "a preview saves nothing"


@time_machine.travel(dt.datetime(2026, 9, 20, 2, tzinfo=dt.timezone.utc))
def test_the_preview_names_a_move_across_the_month_end(app, site):
    client = _supervisor(app)
    form = _form(app, recurrence="monthly", month_day="31", starts_on="2026-09-20")
    html = helpers.post_form(client, "/s/TEST/plans/new", dict(form, preview="1")).get_data(as_text=True)
    # Saturday 31 October → Monday 2 November.
    assert "2026-11-02 Mon 09:00" in html and "10/31 (Sat) moved on to 11/2 (Mon)" in html


@time_machine.travel(dt.datetime(2026, 12, 10, 2, tzinfo=dt.timezone.utc))
def test_the_preview_marks_days_of_a_provisional_calendar(app, site):
    with app.app_context():
        from gridpatrol.workdays import services as workdays

        calendar = workdays.calendar_for(db.session, db.session.scalar(sa.select(Site)))
        provisional = [D(y, 6, 1) for y in (2026, 2027, 2030) if calendar.is_provisional(D(y, 6, 1))]
    if not provisional or provisional[0].year == 2026:
        pytest.skip("needs a year after 2026 without an official calendar")
    year = provisional[0].year
    client = _supervisor(app)
    html = helpers.post_form(client, "/s/TEST/plans/new", dict(
        _form(app, starts_on="2026-12-10"), preview="1")).get_data(as_text=True)
    lines = [line for line in html.split("<li") if "09:00 –" in line]
    assert any("2026-12-15" in line and "provisional calendar" not in line for line in lines)
    assert any(f"{year}-" in line and "provisional calendar" in line for line in lines)
