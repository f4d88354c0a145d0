"""From 1 October until the coming year is official, those who plan and dispatch are told, on their pages and
in `gridpatrol scheduler status`; a leader's page stays quiet."""

import datetime as dt

import pytest
import time_machine

from gridpatrol.core.transaction import job_transaction
from gridpatrol.workdays import notice, services
from tests import helpers
from tests.issues import builders
from tests.workdays.test_notice_import import NOTICE_2027

DECEMBER = dt.datetime(2026, 12, 2, 2, tzinfo=dt.timezone.utc)
SEPTEMBER = dt.datetime(2026, 9, 30, 2, tzinfo=dt.timezone.utc)
PAGES = {"root": ["/s/TEST/dashboard", "/dashboard", "/s/TEST/plans/new", "/s/TEST/plans", "/s/TEST/admin/calendar/",
                  "/admin/scheduler/"],
         "boss": ["/s/TEST/dashboard", "/s/TEST/plans/new"]}


@pytest.fixture
def compound(app, no_official_2027):
    builders.world(app)
    return app


def _client(app, username):
    client = app.test_client()
    with app.app_context():
        user = builders.user(app.extensions["sqlalchemy"].session, username)
    helpers.login(client, helpers.Credentials(user.id, user.username, helpers.DEFAULT_PASSWORD))
    return client


def _warned(client, path) -> bool:
    answer = client.get(path)
    assert answer.status_code == 200, (path, answer.status_code)
    html = answer.get_data(as_text=True)
    return 'data-provisional-year="2027"' in html or ("2027" in html and path.startswith("/admin/scheduler"))


def test_the_pages_warn_from_october_until_the_year_is_entered(compound):
    app = compound
    with time_machine.travel(DECEMBER):
        for username, paths in PAGES.items():
            client = _client(app, username)
            for path in paths:
                assert _warned(client, path), (username, path)
        admin_page = _client(app, "root").get("/s/TEST/dashboard").get_data(as_text=True)
        assert "/s/TEST/admin/calendar/import" in admin_page  # the admin is shown where to enter it
        leader = _client(app, "leader0")
        assert 'data-provisional-year' not in leader.get("/s/TEST/").get_data(as_text=True)
    with time_machine.travel(SEPTEMBER):
        assert 'data-provisional-year' not in _client(app, "boss").get("/s/TEST/dashboard").get_data(as_text=True)
    with app.app_context(), job_transaction() as session:
        services.import_notice(session, notice.parse(NOTICE_2027), actor=None, now=DECEMBER)
    with time_machine.travel(DECEMBER):
        assert 'data-provisional-year' not in _client(app, "boss").get("/s/TEST/dashboard").get_data(as_text=True)


def test_scheduler_status_warns_until_the_year_is_entered(compound):
    app = compound
    with time_machine.travel(DECEMBER):
        status = helpers.run_cli(app, ["scheduler", "status"])
        assert status.exit_code == 0 and "WARNING" in status.output and "2027" in status.output
    with app.app_context(), job_transaction() as session:
        services.import_notice(session, notice.parse(NOTICE_2027), actor=None, now=DECEMBER)
    with time_machine.travel(DECEMBER):
        assert "WARNING" not in helpers.run_cli(app, ["scheduler", "status"]).output
