"""Reminders reach the leader in the app; the scheduler's heartbeat is visible to admins."""

import datetime as dt

from gridpatrol.core.transaction import job_transaction
from gridpatrol.patrols import services
from gridpatrol.scheduler import jobs
from tests import helpers
from tests.patrols import builders
from tests.patrols.builders import at


def test_reminder_shows_up_for_the_leader_and_can_be_marked_read(app):
    builders.compound(app)
    builders.make_plan(app, starts_on=dt.date(2026, 11, 2))
    builders.materialize(app, at("2026-11-02 06:00"))
    with app.app_context(), job_transaction() as session:
        services.remind(session, at("2026-11-02 07:30"))
    client = app.test_client()
    helpers.login(client, helpers.Credentials(0, "leader0", helpers.DEFAULT_PASSWORD))
    home = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert 'class="notice-count"' in home
    assert "A01" in client.get("/notifications/").get_data(as_text=True)
    helpers.post_form(client, "/notifications/read", token_from="/notifications/")
    assert 'class="notice-count"' not in client.get("/", follow_redirects=True).get_data(as_text=True)
    other = app.test_client()
    helpers.login(other, helpers.Credentials(0, "leader1", helpers.DEFAULT_PASSWORD))
    assert "A01" not in other.get("/notifications/").get_data(as_text=True)


def test_scheduler_page_shows_heartbeats_to_admins_only(app):
    with app.app_context():
        jobs.run_job("mark_missed", at("2026-11-02 06:00"))
    admin = helpers.make_user(app, "root", roles=("admin",))
    client = app.test_client()
    helpers.login(client, admin)
    html = client.get("/admin/scheduler/").get_data(as_text=True)
    assert "宽限期过后标记漏巡" in html and "标记漏巡 0 次" in html  # the job by its title, in words
    assert "每 1 分钟" in html and "<code>mark_missed</code>" not in html
    staff = helpers.make_user(app, "clerk", roles=("staff",))
    other = app.test_client()
    helpers.login(other, staff)
    assert other.get("/admin/scheduler/").status_code == 403
