"""应巡未发现: a quick report costs the grid's leader a point only when the supervisor marks, at acceptance, that a
patrol should have found it. Repair requests by staff (unmarked) cost nobody; a leader's own report never costs
them; a rejected report earns 0 as before."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import gettext as _

from gridpatrol.accounts.models import User
from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.grids.models import Site
from gridpatrol.issues import services as issues
from gridpatrol.issues.models import Issue
from gridpatrol.points import services as points
from gridpatrol.points.models import PointsEntry
from tests import helpers
from tests.issues import builders
from tests.issues.builders import at, user

NOV = at("2026-11-01 00:00").date()


@pytest.fixture
def world(app):
    builders.world(app)  # A01: leader0, A02: leader1; clerk is staff; boss the supervisor


def _accept(app, issue_id: int, **marked) -> None:
    with app.app_context(), job_transaction() as session:
        issues.accept(session, session.get(Issue, issue_id), user(session, "boss"), team=builders.team(session),
                      now=at("2026-11-18 10:00"), **marked)


def _ledger(app, issue_id: int) -> list[tuple[str, str, int]]:
    with app.app_context():
        return sorted(db.session.execute(
            sa.select(User.username, PointsEntry.rule_code, PointsEntry.points)
            .join(User, User.id == PointsEntry.user_id)
            .where(PointsEntry.source_type == "issue", PointsEntry.source_id == issue_id)).all())


def _check_month(app) -> list:
    """The month recomputed from its events equals the ledger (the rebuild reads the stored mark)."""
    with app.app_context():
        return points.check_month(db.session, db.session.scalar(sa.select(Site)), NOV)


def test_a_report_marked_missed_by_patrols_costs_the_leader_one_point(app, world):
    issue_id = builders.file_report(app, "clerk")  # in A01
    _accept(app, issue_id, should_have_been_found=True)
    assert _ledger(app, issue_id) == [("clerk", "issue_found_minor", 1), ("leader0", "missed_in_own_grid", -1)]
    assert _check_month(app) == []


@pytest.mark.parametrize("marked", [{"should_have_been_found": False}, {}], ids=["unmarked", "not-asked"])
def test_a_repair_request_not_marked_costs_the_leader_nothing(app, world, marked):
    issue_id = builders.file_report(app, "clerk")
    _accept(app, issue_id, **marked)
    assert _ledger(app, issue_id) == [("clerk", "issue_found_minor", 1)]
    with app.app_context():
        assert db.session.get(Issue, issue_id).should_have_been_found is False  # decided: not missed
    assert _check_month(app) == []


def test_a_leaders_own_report_never_costs_them(app, world):
    issue_id = builders.file_report(app, "leader0")  # in their own grid A01
    _accept(app, issue_id, should_have_been_found=True)
    assert _ledger(app, issue_id) == [("leader0", "issue_found_minor", 1)]
    # Another grid's leader reporting in A01 is someone else: leader0 pays when it is marked.
    other = builders.file_report(app, "leader1")
    _accept(app, other, should_have_been_found=True)
    assert _ledger(app, other) == [("leader0", "missed_in_own_grid", -1), ("leader1", "issue_found_minor", 1)]


def test_a_rejected_report_earns_nothing_and_is_never_marked(app, world):
    issue_id = builders.file_report(app, "clerk")
    with app.app_context(), job_transaction() as session:
        issues.reject(session, session.get(Issue, issue_id), user(session, "boss"), reason="invalid",
                      note="现场无此问题", now=at("2026-11-18 10:00"))
    assert _ledger(app, issue_id) == [("clerk", "report_rejected", 0)]
    with app.app_context():
        assert db.session.get(Issue, issue_id).should_have_been_found is None


def test_the_accepted_signal_carries_the_mark(app, world):
    seen = []

    def listener(_session, **kwargs):
        seen.append(kwargs["should_have_been_found"])

    marked, unmarked = builders.file_report(app, "clerk"), builders.file_report(app, "clerk2")
    issues.issue_accepted.connect(listener)
    try:
        _accept(app, marked, should_have_been_found=True)
        _accept(app, unmarked)
    finally:
        issues.issue_accepted.disconnect(listener)
    assert seen == [True, False]


# --- over HTTP: the dispatch form on the issue page and the queue's bulk dispatch ---------------------------
def _client(app, username):
    client = app.test_client()
    assert helpers.login(client, helpers.Credentials(0, username, helpers.DEFAULT_PASSWORD)).status_code == 302
    return client


def _dispatch(client, app, issue_id: int, **extra) -> int:
    with app.app_context():
        issue = db.session.get(Issue, issue_id)
        data = {"version": str(issue.version), "team_id": str(builders.team(db.session).id), "assignee_id": "0",
                "severity": "minor", "note": "", **extra}
    return helpers.post_form(client, f"/s/TEST/issues/{issue_id}/dispatch", data,
                             token_from=f"/s/TEST/issues/{issue_id}").status_code


def _mark_shown(page: str) -> str | None:
    found = re.search(r'<dd class="missed-by-patrols">([^<]*)</dd>', page)
    return found.group(1) if found else None


def test_dispatch_form_asks_for_the_mark_and_the_page_shows_it(app, world):
    marked, unmarked = builders.file_report(app, "clerk"), builders.file_report(app, "clerk2")
    boss = _client(app, "boss")
    form = boss.get(f"/s/TEST/issues/{marked}").get_data(as_text=True)
    assert re.search(r'<input[^>]*name="should_have_been_found"[^>]*type="checkbox"|'
                     r'<input[^>]*type="checkbox"[^>]*name="should_have_been_found"', form)
    assert 'checked' not in re.search(r'<input[^>]*name="should_have_been_found"[^>]*>', form).group(0)
    assert _mark_shown(form) is None  # not decided yet
    assert _dispatch(boss, app, marked, should_have_been_found="y") == 302
    assert _dispatch(boss, app, unmarked) == 302  # the box left empty: nothing refused
    assert _ledger(app, marked) == [("clerk", "issue_found_minor", 1), ("leader0", "missed_in_own_grid", -1)]
    assert _ledger(app, unmarked) == [("clerk2", "issue_found_minor", 1)]
    with app.test_request_context(), force_locale("zh"):
        yes, no = _("Yes: a patrol should have found it"), _("No")
    assert _mark_shown(boss.get(f"/s/TEST/issues/{marked}").get_data(as_text=True)) == yes
    assert _mark_shown(boss.get(f"/s/TEST/issues/{unmarked}").get_data(as_text=True)) == no
    # The grid's leader sees the mark on the issue too.
    assert _mark_shown(_client(app, "leader0").get(f"/s/TEST/issues/{marked}").get_data(as_text=True)) == yes


def test_bulk_dispatch_marks_the_reports_when_asked(app, world):
    first, second, third = (builders.file_report(app, "clerk"), builders.file_report(app, "clerk2"),
                            builders.file_report(app, "clerk"))
    boss = _client(app, "boss")
    page = boss.get("/s/TEST/issues").get_data(as_text=True)
    assert 'name="should_have_been_found"' in page[page.index('action="/s/TEST/issues/bulk-dispatch"'):]
    token = helpers.csrf_token(boss, "/s/TEST/issues")
    with app.app_context():
        team_id = str(builders.team(db.session).id)
    assert boss.post("/s/TEST/issues/bulk-dispatch", data={
        "csrf_token": token, "team_id": team_id, "should_have_been_found": "y",
        "issue": [str(first), str(second)]}).status_code == 302
    assert boss.post("/s/TEST/issues/bulk-dispatch", data={
        "csrf_token": token, "team_id": team_id, "issue": [str(third)]}).status_code == 302
    with app.app_context():
        marks = dict(db.session.execute(sa.select(Issue.id, Issue.should_have_been_found)).all())
    assert marks == {first: True, second: True, third: False}
    assert [rule for _u, rule, _p in _ledger(app, first) + _ledger(app, second) + _ledger(app, third)].count(
        "missed_in_own_grid") == 2
