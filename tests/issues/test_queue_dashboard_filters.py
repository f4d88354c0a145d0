"""The queue filters the dashboard links to: deadline today or in a range, closed in a range, closed on time,
reworked — through the queue's address, as a supervisor follows them, with the total the page shows."""

from __future__ import annotations

import re

import sqlalchemy as sa

from gridpatrol.core import query as query_module
from gridpatrol.core.transaction import job_transaction
from gridpatrol.issues import services
from gridpatrol.issues.models import Issue
from tests import helpers
from tests.issues import builders
from tests.issues.builders import at, user

NOW = at("2026-11-20 12:00")


def _place(app) -> dict[str, int]:
    builders.world(app)
    ids = {name: builders.file_report(app, when="2026-11-16 09:00") for name in
           ("due_today", "due_today_closed", "due_tomorrow", "closed_late", "closed_on_time", "reworked")}
    for name in ids:
        builders.advance(app, ids[name], "dispatched", when="2026-11-16 10:00")
    with app.app_context(), job_transaction() as session:
        deadlines = {"due_today": "2026-11-20 17:30", "due_today_closed": "2026-11-20 09:00",
                     "due_tomorrow": "2026-11-21 00:00", "closed_late": "2026-11-17 17:30",
                     "closed_on_time": "2026-11-19 17:30", "reworked": "2026-11-19 17:30"}
        for name, deadline in deadlines.items():
            session.execute(sa.update(Issue).where(Issue.id == ids[name]).values(deadline=at(deadline)))
    for name, when in (("due_today_closed", "2026-11-19 08:00"), ("closed_late", "2026-11-18 09:00"),
                       ("closed_on_time", "2026-11-19 08:00")):
        builders.advance(app, ids[name], "closed", when=when)
    builders.advance(app, ids["reworked"], "awaiting_verification", when="2026-11-17 09:00")
    with app.app_context(), job_transaction() as session:
        issue = session.get(Issue, ids["reworked"])
        services.verify(session, issue, user(session, "boss"), passed=False, note="未修好", now=at("2026-11-17 10:00"))
    builders.advance(app, ids["reworked"], "closed", when="2026-11-19 16:00")
    return ids


def _listed(client, url: str) -> tuple[int, set[int]]:
    page = client.get(url)
    assert page.status_code == 200, url
    text = page.get_data(as_text=True)
    total = int(re.search(r'data-total="(\d+)"', text).group(1))
    return total, {int(i) for i in re.findall(r'class="row-link" href="/s/TEST/issues/(\d+)"', text)}


def test_dashboard_filters_list_exactly_their_issues(app, monkeypatch):
    import gridpatrol.issues.views as views

    monkeypatch.setattr(views, "utcnow", lambda: NOW)
    ids = _place(app)
    client = app.test_client()
    helpers.login(client, helpers.Credentials(0, "boss", helpers.DEFAULT_PASSWORD))

    def expect(url, *names):
        total, listed = _listed(client, url)
        assert listed == {ids[n] for n in names} and total == len(names), url

    expect("/s/TEST/issues?due=today", "due_today")  # open ones (the default states), deadline within today
    expect("/s/TEST/issues?due=today&state=closed", "due_today_closed")
    expect("/s/TEST/issues?all=1&due_from=2026-11-20&due_to=2026-11-22", "due_today", "due_today_closed",
           "due_tomorrow")
    expect("/s/TEST/issues?state=closed&closed_from=2026-11-18&closed_to=2026-11-19", "closed_late")
    expect("/s/TEST/issues?state=closed&closed_from=2026-11-18&closed_to=2026-11-20", "due_today_closed",
           "closed_late", "closed_on_time", "reworked")
    expect("/s/TEST/issues?state=closed&on_time=1", "due_today_closed", "closed_on_time", "reworked")
    expect("/s/TEST/issues?state=closed&reworked=1", "reworked")
    expect("/s/TEST/issues?state=closed&due_from=2026-11-17&due_to=2026-11-20&on_time=1", "closed_on_time", "reworked")
    page = client.get("/s/TEST/issues?due=today").get_data(as_text=True)
    assert "今日到期" in page or "deadline today" in page


def test_a_filter_value_the_queue_cannot_read_is_a_400_that_says_which(app):
    """One rule for every page's address (core/query.py): a value a filter cannot read is refused with a 400 naming
    the parameter, not ignored (which would show other rows as if they were the ones asked for). A switch that
    is only on for "1" or "today" is off for anything else."""
    builders.world(app)
    client = app.test_client()
    helpers.login(client, helpers.Credentials(0, "boss", helpers.DEFAULT_PASSWORD))
    for query in ("due=yesterday", "on_time=yes", "overdue=", "grid="):
        assert client.get(f"/s/TEST/issues?{query}").status_code == 200, query
    for query, name in (("due_from=not-a-date", "due_from"), ("closed_to=2026-13-45", "closed_to"),
                        ("from=0001-01-01", "from"), ("to=3000-01-01", "to"), ("grid=99999999999999999999", "grid"),
                        ("team=A01", "team"), ("page=0", "page"), ("reworked=%00", "reworked")):
        response = client.get(f"/s/TEST/issues?{query}")
        assert response.status_code == 400, query
        with app.test_request_context():  # the parameter named in the page's words (Chinese by default)
            label = query_module.label(name)
        assert f"「{label}」" in response.get_data(as_text=True), query
