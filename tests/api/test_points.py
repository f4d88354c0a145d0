"""/api/v1/sites/<site>/points: the month's table is the ranking page's (`points.table.monthly_table`: rows, ranks,
points per grid, columns), the ledger is the month's entries with their reasons in the caller's language, a period
is the period page's sum; who may see what is the pages' rule; a bad month or period is a 422, never a 500.

The world is the points tests' November 2026 (tests/points/test_table.py) seen on 2 December 2026, plus a second
site OTHER with a supervisor of OTHER only."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
import time_machine
from shapely.geometry import box

from gridpatrol.accounts import services as accounts
from gridpatrol.core.roles import Role
from gridpatrol.core.time import Period
from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.grids import services as grid_services
from gridpatrol.grids.models import Site
from gridpatrol.points import table as tables
from tests import helpers
from tests.api.builders import OTHER_GRIDS, bearer, token_for
from tests.points.test_table import DEC, EXPECTED, EXPECTED_LEDGER, EXPECTED_TOTALS, NOV, build_november, user

NOW = dt.datetime(2026, 12, 2, 2, 0, tzinfo=dt.timezone.utc)  # 10:00 in Shanghai
TABLE, LEDGER, PERIOD = "/api/v1/sites/{site}/points", "/api/v1/sites/{site}/points/ledger", \
    "/api/v1/sites/{site}/points/period"


@pytest.fixture
def november(app):
    with time_machine.travel(NOW, tick=False):
        build_november(app)
        with app.app_context(), job_transaction() as session:
            other = grid_services.create_site(session, code="OTHER", name="泗水办公区",
                                              boundary=box(121.0, 31.0, 121.01, 31.01))
            grid_services.import_grids(session, other, OTHER_GRIDS)
            accounts.create_user(session, username="boss_other", display_name="Boss Other",
                                 password=helpers.DEFAULT_PASSWORD, roles=[(Role.SUPERVISOR, other.id)])
            user(session, "leader2").locale = "en"  # reads the reasons in English
        yield


def _get(app, username: str, path: str, **query):
    return app.test_client().get(path, query_string=query, headers=bearer(token_for(app, username)))


def _ok(response) -> dict:
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def _problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["code"] == code and body["detail"]
    return body


def _the_table(app, month: dt.date) -> tables.MonthlyTable:
    with app.app_context():
        return tables.monthly_table(db.session, db.session.scalar(sa.select(Site).where(Site.code == "TEST")), month)


def _figures(row) -> dict:
    return {"patrols_due": row.patrols_due, "patrols_done": row.patrols_done, "on_time": row.on_time,
            "late": row.late, "missed": row.missed, "patrols_open": row.patrols_open, "pass_rate": row.average_score,
            "found_minor": row.found_minor, "found_major": row.found_major, "found_critical": row.found_critical,
            "found_total": row.found_total, "issues_closed": row.issues_closed, "points": row.points}


def test_the_months_table_is_the_ranking_pages_table(app, november):
    body = _ok(_get(app, "boss", TABLE.format(site="TEST"), month="2026-11"))
    table = _the_table(app, NOV)
    assert [(r["rank"], r["user_id"], r["username"], r["name"], tuple(r["grids"]), r["points_per_grid"])
            for r in body["rows"]] == [(r.rank, r.user_id, r.username, r.name, r.grids, r.points_per_grid)
                                       for r in table.rows]
    assert [{k: r[k] for k in _figures(t)} for r, t in zip(body["rows"], table.rows)] == \
        [_figures(t) for t in table.rows]
    assert body["totals"] == _figures(table.totals)
    # and those are the hand-computed figures of the points tests
    assert [(r["name"], r["rank"], tuple(r["grids"]), r["points"], r["points_per_grid"], r["pass_rate"])
            for r in body["rows"]] == [(name, e[0], e[1], e[12], e[13], e[7]) for name, e in EXPECTED.items()]
    assert (body["site"], body["month"], body["closed"], body["closed_at"], body["ended"]) == \
        ("TEST", "2026-11", False, None, True)
    assert body["as_of"] == "2026-12-01T00:00:00+08:00"  # an ended month counts up to its end, as the page
    assert (body["others_entries"], body["others_points"]) == (table.others_entries, table.others_points)
    assert body["ledger"] == "/api/v1/sites/TEST/points/ledger?month=2026-11"


def test_without_a_month_it_is_the_sites_current_month(app, november):
    body = _ok(_get(app, "root", TABLE.format(site="TEST")))
    table = _the_table(app, DEC)
    assert (body["month"], body["ended"]) == ("2026-12", False)
    assert [r["username"] for r in body["rows"]] == [r.username for r in table.rows]
    assert body["as_of"] == "2026-12-02T10:00:00+08:00"


def _whole_ledger(app, username: str, per_page: int = 7, **query) -> list[dict]:
    items, path, client = [], LEDGER.format(site="TEST"), app.test_client()
    headers = bearer(token_for(app, username))
    response = client.get(path, query_string={"per_page": per_page, **query}, headers=headers)
    while True:
        body = _ok(response)
        items += body["items"]
        if body["links"]["next"] is None:
            assert len(items) == body["total"]
            return items
        response = client.get(body["links"]["next"], headers=headers)


def test_the_ledger_is_the_months_entries_with_reasons_in_the_callers_language(app, november):
    table = _the_table(app, NOV)
    entries = {e.id: e for e in table.entries}
    chinese = _whole_ledger(app, "boss", month="2026-11")
    assert [i["id"] for i in chinese] == sorted(entries), "every entry once, in booking order, over the pages"
    with app.test_request_context():
        for item in chinese:
            entry = entries[item["id"]]
            assert (item["user"]["username"], item["rule"], item["points"], item["source"]["type"],
                    item["source"]["id"], item["month"], item["event_month"], item["corrects"]) == \
                (entry.username, entry.rule_code, entry.points, entry.source_type, entry.source_id,
                 f"{entry.month:%Y-%m}", f"{entry.event_month:%Y-%m}", entry.corrects_id)
            assert item["reason"] == entry.reason_text("zh") and item["reason"]
            assert item["rule_label"] and item["rule_label"] != item["rule"]
    by_user: dict[str, list[str]] = {}
    for item in chinese:
        by_user.setdefault(item["user"]["username"], []).append(item["rule"])
    assert {k: sorted(v) for k, v in by_user.items()} == EXPECTED_LEDGER
    correction = next(i for i in chinese if i["rule"] == "appeal_overturned")
    assert correction["corrects"] is not None and correction["source"]["type"] == "appeal"

    # leader2 reads English (their account's language): the same entries, told in English
    (own,) = _whole_ledger(app, "leader2", month="2026-11")
    with app.test_request_context():
        assert own["reason"] == entries[own["id"]].reason_text("en")
        assert own["reason"] != entries[own["id"]].reason_text("zh")


def test_a_supervisor_may_pick_one_persons_entries(app, november):
    picked = _whole_ledger(app, "boss", month="2026-11", user="leader1")
    assert sorted(i["rule"] for i in picked) == EXPECTED_LEDGER["leader1"]
    assert _ok(_get(app, "boss", LEDGER.format(site="TEST"), month="2026-11", user="nobody"))["total"] == 0


def test_a_grid_leader_sees_their_own_entries_only(app, november):
    own = _whole_ledger(app, "leader0", month="2026-11")
    assert sorted(i["rule"] for i in own) == EXPECTED_LEDGER["leader0"]
    assert {i["user"]["username"] for i in own} == {"leader0"}
    assert [i["id"] for i in _whole_ledger(app, "leader0", month="2026-11", user="leader0")] == \
        [i["id"] for i in own]
    _problem(_get(app, "leader0", LEDGER.format(site="TEST"), month="2026-11", user="leader1"), 403, "not_allowed")
    _problem(_get(app, "leader0", TABLE.format(site="TEST"), month="2026-11"), 403, "not_allowed")
    _problem(_get(app, "leader0", PERIOD.format(site="TEST"), period="2026-Q4"), 403, "not_allowed")


@pytest.mark.parametrize("username", ["clerk", "fixer"])
def test_other_roles_are_refused_and_audited(app, november, username):
    for path, query in ((TABLE, {"month": "2026-11"}), (LEDGER, {"month": "2026-11"}),
                        (PERIOD, {"period": "2026-Q4"})):
        _problem(_get(app, username, path.format(site="TEST"), **query), 403, "not_allowed")
    denied = [e for e in helpers.audit_actions(app, "permission.denied") if e.actor_name == username]
    assert len(denied) == 3


def test_a_supervisor_of_another_site_is_refused(app, november):
    for path, query in ((TABLE, {"month": "2026-11"}), (LEDGER, {"month": "2026-11"}),
                        (PERIOD, {"period": "2026-Q4"})):
        body = _problem(_get(app, "boss_other", path.format(site="TEST"), **query), 403, "not_allowed")
        assert "rows" not in body and "items" not in body
    own = _ok(_get(app, "boss_other", TABLE.format(site="OTHER"), month="2026-11"))
    assert (own["site"], own["rows"]) == ("OTHER", [])
    assert _ok(_get(app, "boss_other", LEDGER.format(site="OTHER"), month="2026-11"))["total"] == 0
    _problem(_get(app, "boss", TABLE.format(site="NOPE")), 404, "not_found")


def test_without_a_token_it_is_401(app, november):
    _problem(app.test_client().get(TABLE.format(site="TEST")), 401, "unauthenticated")


@pytest.mark.parametrize("month", ["2026-13", "2026-00", "2026-1", "26-11", "abc", "", "0000-01", "1969-12",
                                   "3000-01", "2026-11-01", "２０２６-１１", "2026-11\x00"])
def test_a_bad_month_is_422_not_500(app, november, month):
    for path in (TABLE, LEDGER):
        body = _problem(_get(app, "boss", path.format(site="TEST"), month=month), 422, "invalid_request")
        assert "month" in body["errors"]["query"]


@pytest.mark.parametrize("query", [{"period": "2026-Q5"}, {"period": "2026-H3"}, {"period": "2026-11"},
                                   {"period": "Q4"}, {}, {"period": "1969"}])
def test_a_bad_period_is_422_not_500(app, november, query):
    body = _problem(_get(app, "boss", PERIOD.format(site="TEST"), **query), 422, "invalid_request")
    assert "period" in body["errors"]["query"]


def test_a_bad_page_is_422(app, november):
    for query in ({"page": 0}, {"per_page": 101}, {"per_page": "x"}):
        _problem(_get(app, "boss", LEDGER.format(site="TEST"), **query), 422, "invalid_request")


def test_a_period_is_the_period_pages_sum(app, november):
    body = _ok(_get(app, "boss", PERIOD.format(site="TEST"), period="2026-Q4"))
    with app.app_context():
        site = db.session.scalar(sa.select(Site).where(Site.code == "TEST"))
        quarter = Period("quarter", dt.date(2026, 10, 1))
        summary = tables.period_summary(tables.period_tables(db.session, site, quarter, until=DEC), quarter)
    assert (body["period"], body["kind"], body["months"]) == ("2026-Q4", "quarter", ["2026-10", "2026-11", "2026-12"])
    assert [(r["rank"], r["username"], tuple(r["grids"]), r["points"], r["points_per_grid"],
             tuple(r["monthly_points"])) for r in body["rows"]] == \
        [(r.total.rank, r.total.username, r.total.grids, r.total.points, r.total.points_per_grid, r.monthly_points)
         for r in summary.rows]
    assert body["totals"] == _figures(summary.totals)
    assert body["monthly_totals"] == list(summary.monthly_totals)
    assert body["monthly_totals"][1] == EXPECTED_TOTALS[-1]  # November's points of the leaders' rows


def test_a_period_not_begun_is_refused_with_its_own_code(app, november):
    body = _problem(_get(app, "boss", PERIOD.format(site="TEST"), period="2027-H1"), 422, "period_not_begun")
    assert "2027-01-01" in body["detail"]
