"""GET requests and GET requests/{id}: our states as open/closed, the filters, the window and the limit, who sees
what, and the refusals (400, 403, 404) in both formats."""

import datetime as dt

import pytest
import sqlalchemy as sa

from gridpatrol.audit import services as audit
from gridpatrol.core.time import utcnow
from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.grids.models import Grid, Site
from gridpatrol.issues import services as issue_services
from gridpatrol.issues.labels import STATE_LABELS
from gridpatrol.issues.models import Issue, IssueState
from tests import helpers
from tests.issues import builders as issue_builders
from tests.open311 import builders
from tests.open311.builders import V2, errors_of, parsed, xml_records

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
FIELDS = ["service_request_id", "status", "status_notes", "service_name", "service_code", "description",
          "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime",
          "address", "address_id", "zipcode", "lat", "long", "media_url"]


@pytest.fixture
def world(app):
    builders.world(app)


@pytest.fixture
def boss(app, world):
    return builders.token_for(app, "boss")


def get(client, token, path="requests.json", **query):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.get(f"{V2}/{path}", query_string=query, headers=headers)


def ids(response) -> list[int]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [r["service_request_id"] for r in parsed(response)]


def file_report(app, reporter="clerk", *, days_ago: float = 1, **kwargs) -> int:
    """A quick report filed `days_ago` before now (the default window is the last 90 days)."""
    when = (utcnow() - dt.timedelta(days=days_ago)).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
    return issue_builders.file_report(app, reporter, when=when, **kwargs)


def walk(app, issue_id, state):
    when = (utcnow() - dt.timedelta(hours=1)).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
    if state == "rejected":
        with app.app_context(), job_transaction() as session:
            issue_services.reject(session, session.get(Issue, issue_id), issue_builders.user(session, "boss"),
                                  reason="invalid", note="不是问题", now=issue_builders.at(when))
    elif state != "reported":
        issue_builders.advance(app, issue_id, state, when=when)


def test_states_map_to_open_and_closed_with_our_state_in_words(app, client, boss):
    by_state = {}
    for state in ("reported", "dispatched", "in_progress", "awaiting_verification", "closed", "deferred",
                  "rejected"):
        by_state[state] = file_report(app, days_ago=2)
        walk(app, by_state[state], state)
    records = {r["service_request_id"]: r for r in parsed(get(client, boss))}
    assert len(records) == 7
    for state, issue_id in by_state.items():
        record = records[issue_id]
        assert list(record) == FIELDS
        assert record["status"] == ("closed" if state in ("closed", "rejected") else "open"), state
        with app.test_request_context():
            label = str(STATE_LABELS[IssueState(state)])
        assert record["status_notes"].startswith(label), (state, record["status_notes"])
    assert records[by_state["rejected"]]["status_notes"].endswith("无效上报")  # the reason of the rejection
    assert [records[by_state[s]]["status_notes"] for s in ("reported", "dispatched", "in_progress",
                                                            "awaiting_verification", "closed", "deferred")] == [
        "待受理", "已派单", "整改中", "待复核", "已结案", "缓办"]

    dispatched = records[by_state["dispatched"]]
    assert dispatched["agency_responsible"] == "维修班组" and records[by_state["reported"]]["agency_responsible"] is None
    with app.app_context():
        issue = db.session.get(Issue, by_state["dispatched"])
        deadline = issue.deadline.astimezone(SHANGHAI).isoformat(timespec="seconds")
        closed = db.session.get(Issue, by_state["closed"])
        closed_at = closed.closed_at.astimezone(SHANGHAI).isoformat(timespec="seconds")
        photo_id = issue.photos[0].id
    assert dispatched["expected_datetime"] == deadline and deadline.endswith("+08:00")
    assert records[by_state["reported"]]["expected_datetime"] is None  # no deadline before dispatch
    assert records[by_state["deferred"]]["expected_datetime"] is None  # 缓办: the clock stands still
    assert records[by_state["closed"]]["updated_datetime"] == closed_at
    assert dispatched["media_url"] == f"http://localhost/s/TEST/issues/photos/{photo_id}"
    assert app.url_map.bind("localhost").match(f"/s/TEST/issues/photos/{photo_id}")[0] == "issues.photo"
    assert (dispatched["address"], dispatched["address_id"], dispatched["zipcode"]) == ("A01 网格A01", "A01", None)

    assert sorted(ids(get(client, boss, status="open"))) == sorted(
        by_state[s] for s in ("reported", "dispatched", "in_progress", "awaiting_verification", "deferred"))
    assert sorted(ids(get(client, boss, status="closed"))) == sorted([by_state["closed"], by_state["rejected"]])
    assert len(ids(get(client, boss, status="open,closed"))) == 7


def test_overdue_shows_in_the_service_notice(app, client, boss):
    issue_id = file_report(app, days_ago=30)
    issue_builders.advance(app, issue_id, "dispatched", when=(utcnow() - dt.timedelta(days=29)).astimezone(
        SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"))
    record, = parsed(get(client, boss))
    assert record["service_notice"] == "逾期"


def test_the_list_in_xml(app, client, boss):
    issue_id = file_report(app, description="<b>漏水 & 积水</b>\x01")
    walk(app, issue_id, "dispatched")
    root = parsed(get(client, boss, "requests.xml"))
    assert root.tag == "service_requests" and [item.tag for item in root] == ["request"]
    record, = xml_records(root)
    assert list(record) == FIELDS
    assert record["description"] == "<b>漏水 & 积水</b>"  # escaped in XML, the control character left out
    assert (record["status"], record["status_notes"], record["agency_responsible"]) == ("open", "已派单", "维修班组")
    assert record["zipcode"] == "" and record["requested_datetime"].endswith("+08:00")


def test_service_code_filter(app, client, boss):
    water = file_report(app)
    green = file_report(app, category="greening")
    assert ids(get(client, boss, service_code="greening")) == [green]
    assert sorted(ids(get(client, boss, service_code="greening,water_power"))) == sorted([water, green])
    for fmt in ("json", "xml"):
        response = get(client, boss, f"requests.{fmt}", service_code="potholes")
        assert response.status_code == 400 and errors_of(response)[0]["code"] == 400


def test_default_window_is_the_last_90_days_and_dates_choose_another(app, client, boss):
    recent = file_report(app, days_ago=10)
    old = file_report(app, days_ago=100)
    assert ids(get(client, boss)) == [recent]
    now = utcnow()
    start = (now - dt.timedelta(days=120)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (now - dt.timedelta(days=60)).astimezone(SHANGHAI).isoformat(timespec="seconds")
    assert ids(get(client, boss, start_date=start, end_date=end)) == [old]
    assert ids(get(client, boss, start_date=start)) == [old]  # start + 90 days
    assert ids(get(client, boss, end_date=end)) == [old]  # end − 90 days
    assert ids(get(client, boss, start_date=(now - dt.timedelta(days=20)).date().isoformat())) == [recent]


@pytest.mark.parametrize("query", [
    {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"},  # more than 90 days
    {"start_date": "2026-06-01T00:00:00Z", "end_date": "2026-05-01T00:00:00Z"},  # end before start
    {"start_date": "yesterday"}, {"end_date": "2026-13-01"}, {"start_date": "9999-12-31T23:00:00-05:00"},
    {"start_date": "0001-01-01T00:00:00+05:00"}, {"end_date": "2026-11-18T09:00:00\x00"},
    {"start_date": "2" * 100},
    {"status": "pending"}, {"status": ","}, {"service_request_id": "1,x"}, {"service_request_id": "-1"},
    {"service_request_id": ",".join(["1"] * 1001)}, {"service_request_id": "9" * 30},
])
def test_malformed_filters_are_400(client, boss, query):
    for fmt in ("json", "xml"):
        response = get(client, boss, f"requests.{fmt}", **query)
        assert response.status_code == 400, (query, response.get_data(as_text=True))
        assert errors_of(response)[0]["code"] == 400


def test_at_most_1000_requests_newest_first(app, client, boss):
    now = utcnow()
    with app.app_context(), job_transaction() as session:
        site = session.scalar(sa.select(Site))
        grid = session.scalar(sa.select(Grid).where(Grid.code == "A01"))
        clerk = issue_builders.user(session, "clerk")
        session.execute(sa.insert(Issue), [
            {"site_id": site.id, "grid_id": grid.id, "level": 0, "lon": 120.1505, "lat": 30.2795,
             "category": "water_power", "severity": "minor", "title": f"漏水 {n}", "description": f"漏水 {n}",
             "source": "report", "reporter_id": clerk.id, "state": "reported", "reported_at":
             now - dt.timedelta(minutes=n), "rework_count": 0, "version": 1, "updated_at": now}
            for n in range(1, 1006)])
    records = parsed(get(client, boss))
    assert len(records) == 1000
    assert records[0]["description"] == "漏水 1" and records[-1]["description"] == "漏水 1000"
    assert len(xml_records(parsed(get(client, boss, "requests.xml")))) == 1000


def test_service_request_ids_override_the_other_arguments(app, client, boss):
    old = file_report(app, days_ago=200)
    walk(app, old, "closed")
    recent = file_report(app)
    found = ids(get(client, boss, service_request_id=f"{old}, {recent},999999", status="open",
                    service_code="greening", start_date="2020-01-01T00:00:00Z"))
    assert sorted(found) == sorted([old, recent])


def test_each_user_sees_what_the_queue_shows_them(app, client, world):
    in_a01 = file_report(app, "clerk")
    in_a02 = file_report(app, "clerk2", lon=120.1515, lat=30.2795)
    walk(app, in_a02, "dispatched")
    seen = {name: sorted(ids(get(client, builders.token_for(app, name))))
            for name in ("boss", "clerk", "clerk2", "leader0", "leader1", "fixer", "outsider")}
    assert seen == {"boss": sorted([in_a01, in_a02]), "clerk": [in_a01], "clerk2": [in_a02], "leader0": [in_a01],
                    "leader1": [in_a02], "fixer": [in_a02], "outsider": []}


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_one_request_404_403_and_its_record(app, client, world, fmt):
    issue_id = file_report(app, "clerk")
    clerk, clerk2 = builders.token_for(app, "clerk"), builders.token_for(app, "clerk2")
    response = get(client, clerk, f"requests/{issue_id}.{fmt}")
    assert response.status_code == 200
    records = parsed(response) if fmt == "json" else xml_records(parsed(response))
    assert [str(r["service_request_id"]) for r in records] == [str(issue_id)]
    for missing in (str(issue_id + 100), "abc", "9" * 30, "-1"):
        response = get(client, clerk, f"requests/{missing}.{fmt}")
        assert response.status_code == 404, missing
        assert errors_of(response)[0]["code"] == 404
    response = get(client, clerk2, f"requests/{issue_id}.{fmt}")
    assert response.status_code == 403 and errors_of(response)[0]["code"] == 403
    assert [e.actor_name for e in helpers.audit_actions(app, audit.PERMISSION_DENIED)] == ["clerk2"]
    assert get(client, clerk, f"requests/{issue_id}.html").status_code == 404


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_reading_needs_a_live_api_key(app, client, boss, fmt):
    file_report(app)
    for headers, query in (({}, {}), ({"Authorization": "Bearer gp_" + "y" * 43}, {}),
                           ({}, {"api_key": "gp_" + "z" * 43}), ({"Authorization": "Basic abc"}, {})):
        response = client.get(f"{V2}/requests.{fmt}", headers=headers, query_string=query)
        assert response.status_code == 403
        assert errors_of(response)[0]["code"] == 403
        assert client.get(f"{V2}/requests/1.{fmt}", headers=headers, query_string=query).status_code == 403
    assert client.get(f"{V2}/requests.{fmt}", query_string={"api_key": boss}).status_code == 200
    builders.revoke(app, boss)
    assert client.get(f"{V2}/requests.{fmt}", query_string={"api_key": boss}).status_code == 403


def test_another_sites_user_and_request_are_refused(app, client, two_sites):
    other_clerk = builders.token_for(app, "clerk_b")
    response = get(client, other_clerk, jurisdiction_id="TEST")
    assert response.status_code == 403
    assert get(client, other_clerk, f"requests/{two_sites['TEST'].issue_id}.json",
               jurisdiction_id="TEST").status_code == 403
    province = builders.token_for(app, "province")  # supervisor of all sites
    assert ids(get(client, province, jurisdiction_id="TEST")) == [two_sites["TEST"].issue_id]
    response = get(client, province, f"requests/{two_sites['OTHER'].issue_id}.xml", jurisdiction_id="TEST")
    assert response.status_code == 404 and errors_of(response)[0]["code"] == 404
    assert get(client, province).status_code == 400  # two sites: which one?
    assert get(client, province, jurisdiction_id="NOWHERE").status_code == 404


def test_a_tokens_use_is_recorded(app, client, boss):
    from gridpatrol.accounts.models import ApiToken

    assert get(client, boss).status_code == 200
    with app.app_context():
        assert db.session.scalar(sa.select(ApiToken.last_used_at)) is not None
