"""What the server gives a tablet for a day without network (patrols/offline.py): which patrols of today's list
the tablet keeps, and the checkpoint table it looks scanned codes up in offline. The browser side is tested in
tests/browser/test_offline_day.py."""

import datetime as dt
import hashlib
import re

import pytest
import sqlalchemy as sa
import time_machine

from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.grids import qr
from gridpatrol.grids import services as grid_services
from gridpatrol.grids.models import Checkpoint, Grid
from gridpatrol.patrols.models import Patrol
from tests import helpers
from tests.patrols import builders

CARD = re.compile(r'<li class="patrol-card state-(\w+)" data-patrol-id="(\d+)"( data-offline-patrol="\d+")?>')


@pytest.fixture
def two_days(app):
    """leader0's plan of A01 began yesterday at this time of day: yesterday's patrol is missed, today's is open;
    A01 has an active and an inactive checkpoint, A02 one. The clock is held at a morning (ticking), so that
    yesterday's window never runs past midnight into today's list, whenever the suite runs."""
    with time_machine.travel(dt.datetime(2026, 11, 18, 10, 0, tzinfo=builders.SHANGHAI), tick=True):
        yield _two_days(app)


def _two_days(app):
    builders.compound(app)
    now = dt.datetime.now(dt.timezone.utc)
    opens = (now - dt.timedelta(minutes=30)).astimezone(builders.SHANGHAI).replace(second=0, microsecond=0)
    builders.make_plan(app, starts_on=opens.date() - dt.timedelta(days=1), window=opens.strftime("%H:%M"),
                       minutes=240)
    builders.materialize(app, now)
    with app.app_context(), job_transaction() as session:
        grids = {g.code: g for g in session.scalars(sa.select(Grid))}
        grid_services.add_checkpoint(session, grids["A01"], code="A01-CP1", name="一楼东门", lon=120.1505,
                                     lat=30.2795, actor=None)
        gone = grid_services.add_checkpoint(session, grids["A01"], code="A01-OLD", name="旧门", lon=120.1505,
                                            lat=30.2795, actor=None)
        gone.active = False
        grid_services.add_checkpoint(session, grids["A02"], code="A02-CP1", name="二号门", lon=120.1515,
                                     lat=30.2795, actor=None)
    with app.app_context():
        patrols = list(db.session.scalars(sa.select(Patrol).order_by(Patrol.window_start)))
        today = next(p for p in patrols if p.window_start <= now < p.due_at)
        yesterday = next(p for p in patrols if p.grace_until <= now)
        assert yesterday.status == "missed"
        return {"today": today.id, "yesterday": yesterday.id}


def _client(app, username):
    client = app.test_client()
    assert helpers.login(client, helpers.Credentials(0, username, helpers.DEFAULT_PASSWORD)).status_code == 302
    return client


def test_today_marks_only_the_patrols_the_leader_can_still_fill(app, two_days):
    html = _client(app, "leader0").get("/s/TEST/today").get_data(as_text=True)
    today = str(two_days["today"])
    assert CARD.findall(html) == [("due", today, f' data-offline-patrol="{today}"')]
    assert html.count('class="badge offline-mark" hidden') == 1
    assert 'id="offline-ready"' in html and "{ready}" in html and "{total}" in html
    assert "today-offline.js" in html


def test_a_submitted_patrol_is_no_longer_kept(app, two_days):
    with app.app_context(), job_transaction() as session:
        patrol = session.get(Patrol, two_days["today"])
        patrol.status = "submitted"
        patrol.submitted_at = patrol.completed_at = dt.datetime.now(dt.timezone.utc)
    html = _client(app, "leader0").get("/s/TEST/today").get_data(as_text=True)
    assert CARD.findall(html) == [("done", str(two_days["today"]), "")]
    assert "offline-mark" not in html


def test_checkpoint_table_lists_the_grids_active_checkpoints_with_poster_digests(app, two_days):
    response = _client(app, "leader0").get(f"/api/v1/sites/TEST/patrols/{two_days['today']}/checkpoints")
    assert response.status_code == 200
    body = response.get_json()
    with app.app_context():
        checkpoint = db.session.scalar(sa.select(Checkpoint).where(Checkpoint.code == "A01-CP1"))
        poster = qr.checkpoint_payload(checkpoint)
    assert body["patrol_id"] == two_days["today"] and body["grid"] == "A01"
    assert body["checkpoints"] == [{"code": "A01-CP1", "name": "一楼东门",
                                    "poster_sha256": hashlib.sha256(poster.encode()).hexdigest()}]
    assert poster not in response.get_data(as_text=True), "the table never carries a poster's signed text"


def test_checkpoint_table_is_for_the_patrols_assignee_only(app, two_days):
    url = f"/api/v1/sites/TEST/patrols/{two_days['today']}/checkpoints"
    refused = _client(app, "leader1").get(url)
    assert refused.status_code == 403 and refused.is_json
    anonymous = app.test_client().get(url)
    assert anonymous.status_code == 401 and "A01-CP1" not in anonymous.get_data(as_text=True)
    assert _client(app, "leader0").get("/api/v1/sites/TEST/patrols/999999/checkpoints").status_code == 404
