"""What the failed items of a patrol raised, as the leader sees it: in the answer to the form's script right after
submitting, and on the patrol's page, each failed item linked to its issue (patrols/followups.py, provided by
issues/patrol_page.py)."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
import sqlalchemy as sa

from gridpatrol.extensions import db
from gridpatrol.issues import patrol_page
from gridpatrol.issues.models import Issue
from gridpatrol.patrols.models import Patrol
from gridpatrol.accounts.models import User
from tests import helpers
from tests.patrols import builders


@pytest.fixture
def live_patrol(app):
    """A patrol of A01 (leader0) whose window is open right now; items T-01 … T-04 (T-04 critical)."""
    builders.compound(app)
    now = dt.datetime.now(dt.timezone.utc).astimezone(builders.SHANGHAI)
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


def _payload(live_patrol, failing=()):
    """Every item passes except the positions in `failing` (not T-01, which needs a photo when it fails)."""
    return {"client_uuid": str(uuid.uuid4()), "completed_at": dt.datetime.now(dt.timezone.utc).isoformat(),
            "answers": [{"item_id": item_id, "result": "fail" if n in failing else "pass",
                         "note": "门闭器损坏" if n in failing else ""}
                        for n, item_id in enumerate(live_patrol["items"])]}


def _submit(client, patrol_id, payload):
    return builders.submit_as_tablet(client, patrol_id, payload)


def _issues_of(app, patrol_id) -> dict[int, int]:
    """item id → issue id, as stored."""
    with app.app_context():
        return dict(db.session.execute(sa.select(Issue.item_id, Issue.id).where(Issue.patrol_id == patrol_id)).all())


def test_the_answer_to_the_script_carries_the_issues_the_failed_items_raised(app, live_patrol):
    client = _client(app, "leader0")
    payload = _payload(live_patrol, failing=(1, 3))
    response = _submit(client, live_patrol["id"], payload)
    assert response.status_code == 200
    body = response.get_json()
    stored = _issues_of(app, live_patrol["id"])
    failed_items = [live_patrol["items"][1], live_patrol["items"][3]]
    assert sorted(stored) == sorted(failed_items)
    follow_ups = body["follow_ups"]
    assert [(f["kind"], f["item_id"], f["id"]) for f in follow_ups] == sorted(
        [("issue", item_id, stored[item_id]) for item_id in failed_items], key=lambda t: t[2])
    for f in follow_ups:
        assert f["url"] == f"/s/TEST/issues/{f['id']}"
        assert f["state"] == "reported" and f["state_label"] == "待受理"  # the page's language: Chinese
        assert f["title"] == "门闭器损坏"  # the fault the leader wrote, not the item's standard
        assert client.get(f["url"]).status_code == 200, "the leader may open the link"
    assert body["failed_items"] == 2

    # The same submission again (a retry from the outbox) answers the same, issues included, and raises none.
    again = _submit(client, live_patrol["id"], payload)
    assert again.status_code == 200 and again.get_json() == body
    assert _issues_of(app, live_patrol["id"]) == stored


def test_a_patrol_without_failed_items_answers_no_follow_ups(app, live_patrol):
    response = _submit(_client(app, "leader0"), live_patrol["id"], _payload(live_patrol))
    assert response.status_code == 200
    assert response.get_json()["follow_ups"] == []
    assert _issues_of(app, live_patrol["id"]) == {}


def test_the_patrol_page_links_each_failed_item_to_its_issue(app, live_patrol):
    client = _client(app, "leader0")
    assert _submit(client, live_patrol["id"], _payload(live_patrol, failing=(2,))).status_code == 200
    (item_id, issue_id), = _issues_of(app, live_patrol["id"]).items()
    html = client.get(f"/s/TEST/patrols/{live_patrol['id']}").get_data(as_text=True)
    assert 'id="patrol-form"' not in html, "a submitted patrol shows its result"
    rows = re.findall(r"<tr>(.*?)</tr>", html, flags=re.S)
    failed_row = next(r for r in rows if "T-03" in r)
    assert f'href="/s/TEST/issues/{issue_id}"' in failed_row
    assert f"#{issue_id}" in failed_row and "待受理" in failed_row  # its state, in the page's language
    links = re.findall(r'class="follow-up"[^>]*href="([^"]+)"', html)
    assert links == [f"/s/TEST/issues/{issue_id}"], "only the failed item links to an issue"

    supervisor = helpers.make_user(app, "boss", roles=("supervisor",))
    boss = app.test_client()
    helpers.login(boss, supervisor)
    assert f'href="/s/TEST/issues/{issue_id}"' in boss.get(f"/s/TEST/patrols/{live_patrol['id']}").get_data(as_text=True)


def test_the_plain_form_lands_on_the_page_with_the_links(app, live_patrol):
    """Without the script: the form posts, the leader is sent to the patrol's page, which links the issue."""
    client = _client(app, "leader0")
    form = {"client_uuid": str(uuid.uuid4()), "scans": ""}
    form.update({f"answer-{i}": "pass" for i in live_patrol["items"]})
    form[f"answer-{live_patrol['items'][1]}"] = "fail"
    response = helpers.post_form(client, f"/s/TEST/patrols/{live_patrol['id']}/submit", form,
                                 token_from=f"/s/TEST/patrols/{live_patrol['id']}", follow_redirects=True)
    assert response.status_code == 200
    issue_id = _issues_of(app, live_patrol["id"])[live_patrol["items"][1]]
    assert f'href="/s/TEST/issues/{issue_id}"' in response.get_data(as_text=True)


def test_only_issues_the_reader_may_see_are_offered(app, live_patrol):
    """The provider applies issues' own rule per issue: a leader of another grid gets none of A01's."""
    assert _submit(_client(app, "leader0"), live_patrol["id"], _payload(live_patrol, failing=(1,))).status_code == 200
    with app.test_request_context("/s/TEST/today"):
        patrol = db.session.get(Patrol, live_patrol["id"])
        leader0 = db.session.scalar(sa.select(User).where(User.username == "leader0"))
        leader1 = db.session.scalar(sa.select(User).where(User.username == "leader1"))
        assert [f.item_id for f in patrol_page.issues_of_patrol(db.session, leader0, patrol)] == [live_patrol["items"][1]]
        assert patrol_page.issues_of_patrol(db.session, leader1, patrol) == []
