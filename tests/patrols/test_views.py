"""Patrol pages over HTTP: who may open, fill and submit what (the form's script submits to the API, the plain form
to the page); idempotent submission under concurrency."""

import concurrent.futures
import datetime as dt
import json
import re
import urllib.parse
import urllib.request
import uuid
from http.cookiejar import CookieJar

import pytest
import sqlalchemy as sa
import time_machine

from gridpatrol.audit import services as audit
from gridpatrol.extensions import db
from gridpatrol.patrols.models import Patrol, PatrolPlan, Submission
from tests import helpers
from tests.patrols import builders


def _now_shanghai():
    return dt.datetime.now(dt.timezone.utc).astimezone(builders.SHANGHAI)


@pytest.fixture
def live_patrol(app):
    """A patrol of A01 (leader0) whose window is open right now."""
    builders.compound(app)
    now = _now_shanghai()
    opens = (now - dt.timedelta(minutes=30)).replace(second=0, microsecond=0)
    builders.make_plan(app, starts_on=opens.date(), window=opens.strftime("%H:%M"), minutes=240)
    builders.materialize(app, dt.datetime.now(dt.timezone.utc))
    with app.app_context():
        patrol = db.session.scalar(sa.select(Patrol).where(Patrol.window_start <= dt.datetime.now(dt.timezone.utc))
                                   .order_by(Patrol.window_start.desc()))
        return {"id": patrol.id, "items": [i.id for i in patrol.template_version.items]}


def _client(app, username):
    client = app.test_client()
    assert helpers.login(client, helpers.Credentials(0, username, helpers.DEFAULT_PASSWORD)).status_code == 302
    return client


def _payload(live_patrol, client_uuid=None, note=""):
    return {"client_uuid": client_uuid or str(uuid.uuid4()),
            "completed_at": dt.datetime.now(dt.timezone.utc).isoformat(),
            "answers": [{"item_id": i, "result": "pass", "note": note} for i in live_patrol["items"]]}


def _post(client, patrol_id, payload):
    return builders.submit_as_tablet(client, patrol_id, payload)


def test_today_lists_the_leaders_patrol(app, live_patrol):
    html = _client(app, "leader0").get("/s/TEST/today").get_data(as_text=True)
    assert f"/s/TEST/patrols/{live_patrol['id']}" in html and "A01" in html
    assert f"/s/TEST/patrols/{live_patrol['id']}" not in _client(app, "leader1").get("/s/TEST/today").get_data(as_text=True)


def test_only_leaders_have_a_today_page(app, live_patrol):
    staff = helpers.make_user(app, "clerk", roles=("staff",))
    client = app.test_client()
    helpers.login(client, staff)
    assert client.get("/s/TEST/today").status_code == 403


def test_assignee_sees_the_form_and_another_leader_is_refused(app, live_patrol):
    html = _client(app, "leader0").get(f"/s/TEST/patrols/{live_patrol['id']}").get_data(as_text=True)
    assert 'id="patrol-form"' in html and html.count('class="check-item"') == 4
    assert _client(app, "leader1").get(f"/s/TEST/patrols/{live_patrol['id']}").status_code == 403
    assert helpers.audit_actions(app, audit.PERMISSION_DENIED)[-1].actor_name == "leader1"
    supervisor = helpers.make_user(app, "boss", roles=("supervisor",))
    client = app.test_client()
    helpers.login(client, supervisor)
    page = client.get(f"/s/TEST/patrols/{live_patrol['id']}").get_data(as_text=True)
    assert 'id="patrol-form"' not in page  # supervisors see, but do not fill


def test_another_leader_cannot_submit(app, live_patrol):
    response = _post(_client(app, "leader0"), live_patrol["id"], _payload(live_patrol))
    assert response.status_code == 200
    other = _client(app, "leader1")
    token = helpers.csrf_token(other, "/s/TEST/today")
    response = builders.submit_as_tablet(other, live_patrol["id"], _payload(live_patrol), token=token)
    assert response.status_code == 403


def test_submit_json_replay_and_conflict(app, live_patrol):
    client = _client(app, "leader0")
    body = _payload(live_patrol)
    first = _post(client, live_patrol["id"], body)
    assert first.status_code == 200 and first.get_json()["status"] == "submitted"
    assert first.get_json()["score"] == 100.0
    again = _post(client, live_patrol["id"], body)
    assert again.status_code == 200 and again.get_json() == first.get_json()
    changed = _post(client, live_patrol["id"], dict(body, answers=[dict(a, note="x") for a in body["answers"]]))
    assert changed.status_code == 409 and changed.get_json()["detail"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Submission)) == 1


def test_submit_without_csrf_is_refused(app, live_patrol):
    client = _client(app, "leader0")
    response = client.post(builders.submission_url(live_patrol["id"]), data={"payload": json.dumps(_payload(live_patrol))},
                           content_type="multipart/form-data")
    assert response.status_code == 400 and response.get_json()["code"] == "csrf"
    with app.app_context():
        assert db.session.get(Patrol, live_patrol["id"]).status != "submitted"


def test_invalid_json_and_incomplete_answers_save_nothing(app, live_patrol):
    client = _client(app, "leader0")
    token = helpers.csrf_token(client, "/s/TEST/today")
    bad = client.post(builders.submission_url(live_patrol["id"]), data={"payload": "{nope"},
                      content_type="multipart/form-data", headers={"X-CSRFToken": token})
    assert bad.status_code == 400
    body = _payload(live_patrol)
    body["answers"].pop()
    assert _post(client, live_patrol["id"], body).status_code == 422
    with app.app_context():
        assert db.session.get(Patrol, live_patrol["id"]).status != "submitted"


def test_plain_form_submission_without_script(app, live_patrol):
    client = _client(app, "leader0")
    form = {"client_uuid": str(uuid.uuid4()), "scans": ""}
    form.update({f"answer-{i}": "pass" for i in live_patrol["items"]})
    response = helpers.post_form(client, f"/s/TEST/patrols/{live_patrol['id']}/submit", form,
                                 token_from=f"/s/TEST/patrols/{live_patrol['id']}")
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Patrol, live_patrol["id"]).score == 100.0


def test_csrf_token_endpoint_needs_login(app, live_patrol):
    assert app.test_client().get("/api/v1/session/csrf-token").status_code == 401
    assert _client(app, "leader0").get("/api/v1/session/csrf-token").get_json()["token"]


@pytest.mark.slow
def test_three_concurrent_posts_with_one_uuid_make_one_submission(app, live_patrol, gunicorn_server):
    """Three tablets' retries race across 4 worker processes: one patrol submission, three equal answers."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    html = opener.open(gunicorn_server.url + "/login").read().decode()
    token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
    opener.open(gunicorn_server.url + "/login", data=urllib.parse.urlencode({
        "csrf_token": token, "username": "leader0", "password": helpers.DEFAULT_PASSWORD}).encode())
    page = opener.open(f"{gunicorn_server.url}/s/TEST/patrols/{live_patrol['id']}").read().decode()
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    body = json.dumps(_payload(live_patrol)).encode()

    def post(_):
        request = urllib.request.Request(gunicorn_server.url + builders.submission_url(live_patrol["id"]), data=body,
                                         headers={"X-CSRFToken": token, "Content-Type": "application/json"})
        with opener.open(request, timeout=30) as response:
            return response.status, json.loads(response.read())

    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(post, range(3)))
    assert [status for status, _ in results] == [200, 200, 200]
    assert results[0][1] == results[1][1] == results[2][1]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Submission)) == 1
        patrol = db.session.get(Patrol, live_patrol["id"])
        assert patrol.status == "submitted" and len(patrol.answers) == 4


def test_plans_are_for_supervisors(app, live_patrol):
    assert _client(app, "leader0").get("/s/TEST/plans").status_code == 403
    boss = helpers.make_user(app, "boss", roles=("supervisor",))
    client = app.test_client()
    helpers.login(client, boss)
    assert "每日巡查" in client.get("/s/TEST/plans").get_data(as_text=True)


def test_plan_preview_saves_nothing_and_save_creates(app, live_patrol):
    boss = helpers.make_user(app, "boss", roles=("supervisor",))
    with app.app_context():
        template_id = db.session.scalar(sa.text("SELECT id FROM checklist_templates"))
        grid_ids = [str(i) for i in db.session.scalars(sa.text("SELECT id FROM grids ORDER BY code"))][:2]
    form = {"name": "国庆安全大排查", "kind": "safety_sweep", "template_id": str(template_id), "recurrence": "workdays",
            "window_start": "09:00", "window_minutes": "180", "grace_minutes": "60", "starts_on": "2026-09-28",
            "grids": grid_ids}
    # Before the National Day holiday: the preview must skip 1–7 October and include the 调休 Saturday.
    with time_machine.travel(dt.datetime(2026, 9, 20, 12, tzinfo=dt.timezone.utc)):
        client = app.test_client()
        helpers.login(client, boss)
        preview = helpers.post_form(client, "/s/TEST/plans/new", dict(form, preview="1"))
        assert preview.status_code == 200
        html = preview.get_data(as_text=True)
        assert "2026-10-08" in html and "2026-10-10" in html and "2026-10-01" not in html
        with app.app_context():
            assert db.session.scalar(sa.select(sa.func.count()).select_from(PatrolPlan)) == 1
        saved = helpers.post_form(client, "/s/TEST/plans/new", dict(form, save="1"))
        assert saved.status_code == 302
        with app.app_context():
            assert db.session.scalar(sa.select(sa.func.count()).select_from(PatrolPlan)) == 2
        bad = helpers.post_form(client, "/s/TEST/plans/new", dict(form, save="1", recurrence="weekdays"))
        assert bad.status_code == 422  # weekdays without days
        with app.app_context():
            assert db.session.scalar(sa.select(sa.func.count()).select_from(PatrolPlan)) == 2


def _post_json(client, patrol_id, body: str | bytes, token: str | None = None):
    token = token or helpers.csrf_token(client, f"/s/TEST/patrols/{patrol_id}")
    return client.post(builders.submission_url(patrol_id), data=body, content_type="application/json",
                       headers={"X-CSRFToken": token})


def test_a_json_body_is_the_same_submission_as_the_multipart_field(app, live_patrol):
    """Without photos the tablet sends the payload as the JSON body; a retry in either form is one submission."""
    client = _client(app, "leader0")
    body = _payload(live_patrol)
    first = _post_json(client, live_patrol["id"], json.dumps(body))
    assert first.status_code == 200 and first.get_json()["status"] == "submitted"
    assert _post(client, live_patrol["id"], body).get_json() == first.get_json()  # the same UUID and content
    changed = _post_json(client, live_patrol["id"], json.dumps(dict(body, answers=body["answers"][:-1])))
    assert changed.status_code == 409
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Submission)) == 1


def test_bad_json_bodies_are_refused_and_save_nothing(app, live_patrol):
    client = _client(app, "leader0")
    token = helpers.csrf_token(client, "/s/TEST/today")
    for body, status in (("{nope", 400), ("[1, 2]", 400), ('"text"', 400), ("{}", 422)):
        response = _post_json(client, live_patrol["id"], body, token)
        assert response.status_code == status, body
        assert response.get_json()["detail"]
    no_token = client.post(builders.submission_url(live_patrol["id"]), data=json.dumps(_payload(live_patrol)),
                           content_type="application/json")
    assert no_token.status_code == 400
    with app.app_context():
        assert db.session.get(Patrol, live_patrol["id"]).status != "submitted"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Submission)) == 0
