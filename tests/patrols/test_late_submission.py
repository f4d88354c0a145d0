"""A submission kept offline that arrives after the patrol was marked missed (漏巡): accepted within
OFFLINE_SUBMISSION_HOURS after the grace period by the server's clock (and finished within the grace period by the
device's), refused after it — on the service, the API and the plain form alike — with the patrol left missed and
its points unchanged (frozen time)."""

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa
import time_machine

from gridpatrol import create_app
from gridpatrol.accounts.models import User
from gridpatrol.core.errors import ConflictError
from gridpatrol.core.settings import ConfigurationError
from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.patrols import services
from gridpatrol.patrols.models import Patrol, PatrolAnswer, Submission
from gridpatrol.points.models import PointsEntry
from tests import helpers
from tests.api.builders import bearer, token_for
from tests.patrols import builders
from tests.patrols.builders import at

# The plan's window is 08:00–10:00 with an hour's grace: the patrol of 2 November is missed from 11:00, and a
# submission kept offline is accepted until 3 November 11:00 (24 hours by default).
GRACE_UNTIL = "2026-11-02 11:00"
DEADLINE = "2026-11-03 11:00"


@pytest.fixture
def english(app):
    """The service tests read refusals in English; the pages and the API answer in Chinese by default."""
    app.config["DEFAULT_LOCALE"] = "en"


@pytest.fixture
def missed_patrol(app):
    builders.compound(app)
    builders.make_plan(app, starts_on=dt.date(2026, 11, 2))
    builders.materialize(app, at("2026-11-02 06:00"))
    with app.app_context(), job_transaction() as session:
        (missed,) = services.mark_missed(session, at("2026-11-02 12:00"))
        patrol = session.get(Patrol, missed)
        return {"id": patrol.id, "items": [i.id for i in patrol.template_version.items]}


def payload(patrol, *, completed_at="2026-11-02 09:40"):
    return {"client_uuid": str(uuid.uuid4()), "completed_at": at(completed_at).isoformat(),
            "answers": [{"item_id": i, "result": "pass"} for i in patrol["items"]]}


def submit(app, patrol, body, *, now):
    with app.app_context(), job_transaction() as session:
        leader = session.scalar(sa.select(User).where(User.username == "leader0"))
        return services.submit(session, session.get(Patrol, patrol["id"]), leader, body, {}, now=at(now))


def state(app, patrol) -> dict:
    """What a refusal must leave as it was: the patrol's status, what was stored for it, and its ledger."""
    with app.app_context():
        row = db.session.get(Patrol, patrol["id"])
        count = sa.select(sa.func.count())
        return {"status": row.status, "submitted_at": row.submitted_at,
                "answers": db.session.scalar(count.select_from(PatrolAnswer).where(PatrolAnswer.patrol_id == row.id)),
                "submissions": db.session.scalar(count.select_from(Submission)),
                "ledger": sorted(db.session.execute(sa.select(PointsEntry.rule_code, PointsEntry.points).where(
                    PointsEntry.source_type == "patrol", PointsEntry.source_id == row.id)).all())}


def test_the_missed_patrol_has_its_penalty(app, missed_patrol):
    """The starting point of the tests below: missed, −3 booked."""
    assert state(app, missed_patrol)["status"] == "missed"
    assert state(app, missed_patrol)["ledger"] == [("patrol_missed", -3)]


@pytest.mark.parametrize("arrives", ["2026-11-02 15:00", DEADLINE])
def test_within_the_offline_window_it_is_accepted_and_the_penalty_reversed(app, missed_patrol, arrives):
    result = submit(app, missed_patrol, payload(missed_patrol), now=arrives)
    assert result.body["status"] == "submitted" and result.body["late"] is False
    after = state(app, missed_patrol)
    assert after["status"] == "submitted" and after["answers"] == 4
    assert after["ledger"] == [("patrol_missed", -3), ("patrol_missed_reversed", 3), ("patrol_on_time", 2)]


@pytest.mark.parametrize("arrives", ["2026-11-03 11:01", "2026-11-05 09:00"])
def test_after_the_offline_window_it_is_refused_whatever_the_device_says(app, english, missed_patrol, arrives):
    """The issue's case: missed days ago, sent now with a device time inside its old window."""
    before = state(app, missed_patrol)
    with pytest.raises(ConflictError, match="accepted only until 2026-11-03 11:00") as refused:
        submit(app, missed_patrol, payload(missed_patrol, completed_at="2026-11-02 09:40"), now=arrives)
    assert refused.value.code == "offline_too_late"
    assert state(app, missed_patrol) == before


def test_a_device_time_after_the_grace_period_is_refused_within_the_window(app, english, missed_patrol):
    before = state(app, missed_patrol)
    with pytest.raises(ConflictError, match="window of this patrol has closed") as refused:
        submit(app, missed_patrol, payload(missed_patrol, completed_at="2026-11-02 11:30"), now="2026-11-02 15:00")
    assert refused.value.code == "conflict"
    assert state(app, missed_patrol) == before


def test_the_window_is_the_operators_setting(app, english, missed_patrol):
    app.config["OFFLINE_SUBMISSION_HOURS"] = 0
    with pytest.raises(ConflictError, match="accepted only until 2026-11-02 11:00"):
        submit(app, missed_patrol, payload(missed_patrol), now="2026-11-02 11:05")
    app.config["OFFLINE_SUBMISSION_HOURS"] = 48
    assert submit(app, missed_patrol, payload(missed_patrol), now="2026-11-04 10:00").body["status"] == "submitted"


def test_not_yet_marked_missed_it_is_refused_all_the_same(app, english):
    """The scheduler did not run (downtime): the bound is the patrol's grace period, not when it was marked."""
    builders.compound(app)
    builders.make_plan(app, starts_on=dt.date(2026, 11, 2))
    builders.materialize(app, at("2026-11-02 06:00"))
    with app.app_context():
        patrol = db.session.scalar(sa.select(Patrol))
        patrol = {"id": patrol.id, "items": [i.id for i in patrol.template_version.items]}
    with pytest.raises(ConflictError, match="accepted only until"):
        submit(app, patrol, payload(patrol), now="2026-11-04 08:00")
    assert state(app, patrol)["status"] == "scheduled" and state(app, patrol)["answers"] == 0


@pytest.mark.parametrize("hours", [-1, 745, "24", True])
def test_a_bad_window_setting_is_refused_at_start(hours):
    with pytest.raises(ConfigurationError, match="OFFLINE_SUBMISSION_HOURS"):
        create_app({"OFFLINE_SUBMISSION_HOURS": hours})


# --- over HTTP, with the clock frozen three days after the patrol ---------------------------------------
THREE_DAYS_LATER = at("2026-11-05 09:00")


def test_the_api_refuses_it_with_its_code_in_chinese(app, missed_patrol):
    token = token_for(app, "leader0")
    before = state(app, missed_patrol)
    with time_machine.travel(THREE_DAYS_LATER, tick=False):
        response = app.test_client().post(builders.submission_url(missed_patrol["id"]), json=payload(missed_patrol),
                                          headers=bearer(token))
    assert response.status_code == 409 and response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["code"] == "offline_too_late"
    assert "2026-11-03 11:00" in problem["detail"] and "漏巡" in problem["detail"]
    assert state(app, missed_patrol) == before


def test_the_api_accepts_it_within_the_window(app, missed_patrol):
    token = token_for(app, "leader0")
    with time_machine.travel(at("2026-11-03 10:00"), tick=False):
        response = app.test_client().post(builders.submission_url(missed_patrol["id"]), json=payload(missed_patrol),
                                          headers=bearer(token))
    assert response.status_code == 200 and response.get_json()["status"] == "submitted"


def test_the_plain_form_refuses_it_on_a_chinese_page(app, missed_patrol):
    """The form without script (POST …/submit) goes through the same rule; its refusal is a page in words."""
    before = state(app, missed_patrol)
    with time_machine.travel(THREE_DAYS_LATER, tick=False):
        client = app.test_client()
        assert helpers.login(client, helpers.Credentials(0, "leader0", helpers.DEFAULT_PASSWORD)).status_code == 302
        data = {f"answer-{i}": "pass" for i in missed_patrol["items"]}
        response = helpers.post_form(client, f"/s/TEST/patrols/{missed_patrol['id']}/submit",
                                     dict(data, client_uuid=str(uuid.uuid4())),
                                     token_from=f"/s/TEST/patrols/{missed_patrol['id']}")
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "2026-11-03 11:00" in page and "漏巡" in page and "accepted only until" not in page
    assert state(app, missed_patrol) == before
