"""POST requests: a located quick report (随手拍) filed by the api_key's user, without a photo, and every refusal."""

import json

import pytest
import sqlalchemy as sa

from gridpatrol.accounts.models import User
from gridpatrol.audit import services as audit
from gridpatrol.core.errors import DomainError
from gridpatrol.core.time import utcnow
from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.grids.models import Site
from gridpatrol.issues import services as issue_services
from gridpatrol.issues.models import Issue, IssueEvent, IssuePhoto
from tests import helpers
from tests.issues import builders as issue_builders
from tests.open311 import builders
from tests.open311.builders import IN_A01, V2, errors_of, parsed, post_report, xml_records


@pytest.fixture
def world(app):
    builders.world(app)


@pytest.fixture
def token(app, world):
    return builders.token_for(app, "clerk")


def _issues(app) -> list[Issue]:
    with app.app_context():
        return list(db.session.scalars(sa.select(Issue).order_by(Issue.id)))


def test_post_files_a_located_quick_report_without_a_photo(app, client, token):
    response = post_report(client, token, **{
        "attribute[severity]": "major", "attribute[level]": "0", "address_string": "三楼东侧卫生间",
        "media_url": "https://hotline.example.org/media/77.jpg", "first_name": "三", "last_name": "张",
        "phone": "13800000000", "email": "zhang@example.org", "device_id": "tablet-7", "account_id": "ignored"})
    assert response.status_code == 200 and response.content_type == "application/json; charset=utf-8"
    record, = parsed(response)
    assert list(record) == ["service_request_id", "service_notice", "account_id"]
    assert record["account_id"] == "clerk" and "A01" in record["service_notice"]
    with app.app_context():
        issue = db.session.get(Issue, record["service_request_id"])
        assert (issue.source, issue.reporter.username, issue.grid.code, issue.state) == ("report", "clerk", "A01",
                                                                                          "reported")
        assert (issue.category, issue.severity, issue.level, issue.lat, issue.lon) == (
            "water_power", "major", 0, 30.2795, 120.1505)
        assert issue.title == "三楼卫生间水龙头漏水"
        for kept in ("三楼东侧卫生间", "https://hotline.example.org/media/77.jpg", "13800000000",
                     "zhang@example.org", "三", "张"):
            assert kept in issue.description
        assert db.session.scalar(sa.select(sa.func.count()).select_from(IssuePhoto)) == 0
        assert [e.action for e in db.session.scalars(sa.select(IssueEvent))] == ["reported"]
        # The contact is kept in words; no user is made from it.
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == len(issue_builders.USERS)


def test_the_filed_report_reads_back_in_both_formats(app, client, token):
    filed, = parsed(post_report(client, token))
    request_id = filed["service_request_id"]
    record, = parsed(client.get(f"{V2}/requests/{request_id}.json?jurisdiction_id=TEST&api_key={token}"))
    assert (record["service_request_id"], record["status"], record["status_notes"], record["service_code"],
            record["service_name"]) == (request_id, "open", "待受理", "water_power", "水电")
    assert (record["lat"], record["long"], record["address_id"], record["media_url"]) == (30.2795, 120.1505, "A01",
                                                                                        None)
    assert record["requested_datetime"].endswith("+08:00") and record["expected_datetime"] is None
    assert record["description"] == "三楼卫生间水龙头漏水"

    root = parsed(client.get(f"{V2}/requests/{request_id}.xml", headers={"Authorization": f"Bearer {token}"}))
    assert root.tag == "service_requests"
    xml_record, = xml_records(root)
    assert list(xml_record) == list(record)
    assert xml_record["service_request_id"] == str(request_id) and xml_record["status_notes"] == "待受理"
    assert float(xml_record["lat"]) == 30.2795 and xml_record["media_url"] == ""


def test_post_answers_in_xml(app, client, token):
    response = post_report(client, token, fmt="xml")
    assert response.status_code == 200
    root = parsed(response)
    assert root.tag == "service_requests" and [item.tag for item in root] == ["request"]
    record, = xml_records(root)
    assert record["account_id"] == "clerk" and int(record["service_request_id"]) == _issues(app)[0].id


def test_post_takes_a_json_body_and_a_bearer_token(app, client, token):
    response = client.post(f"{V2}/requests.json", headers={"Authorization": f"Bearer {token}"}, json={
        "jurisdiction_id": "TEST", "service_code": "fire_safety", "lat": 30.2795, "long": 120.1515,
        "description": "灭火器过期", "attribute": {"severity": "critical", "level": 0}})
    assert response.status_code == 200, response.get_data(as_text=True)
    issue, = _issues(app)
    assert (issue.category, issue.severity, issue.grid_id is not None) == ("fire_safety", "critical", True)
    with app.app_context():
        assert db.session.get(Issue, issue.id).grid.code == "A02"


def test_a_report_near_an_open_one_is_filed_with_a_notice(app, client, token):
    first, = parsed(post_report(client, token))
    second, = parsed(post_report(client, token))
    assert second["service_request_id"] != first["service_request_id"]
    assert str(first["service_request_id"]) in second["service_notice"]


def test_the_page_still_requires_a_photo(app, world):
    with app.app_context(), job_transaction() as session:
        with pytest.raises(DomainError):
            issue_services.report(session, issue_builders.user(session, "clerk"), session.scalar(sa.select(Site)),
                                  lon=120.1505, lat=30.2795, level=0, category="water_power",
                                  description="漏水", photos={}, now=utcnow())


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_api_key_missing_invalid_or_revoked_is_403(app, client, token, fmt):
    for key in (None, "", "gp_" + "x" * 43, "not-a-token"):
        response = post_report(client, None, fmt=fmt, api_key=key)
        assert response.status_code == 403, key
        assert errors_of(response)[0]["code"] == 403 and "api_key" in errors_of(response)[0]["description"]
    assert post_report(client, token, fmt=fmt).status_code == 200
    builders.revoke(app, token)
    assert post_report(client, token, fmt=fmt).status_code == 403  # at once, on the next request
    assert len(_issues(app)) == 1
    assert len(helpers.audit_actions(app, audit.PERMISSION_DENIED)) == 5


def test_a_deactivated_users_token_is_refused(app, client, token):
    with app.app_context(), job_transaction() as session:
        issue_builders.user(session, "clerk").active = False
    assert post_report(client, token).status_code == 403


def test_a_browser_session_does_not_stand_in_for_the_api_key(app, client, world):
    assert helpers.login(client, helpers.Credentials(0, "clerk", helpers.DEFAULT_PASSWORD)).status_code == 302
    assert post_report(client, None).status_code == 403
    assert _issues(app) == []


def test_a_user_of_another_site_is_refused(app, client, two_sites):
    other = builders.token_for(app, "clerk_b")  # staff at OTHER only
    before = len(_issues(app))
    response = post_report(client, other, jurisdiction_id="TEST")
    assert response.status_code == 403 and "TEST" in errors_of(response)[0]["description"]
    assert len(_issues(app)) == before
    denied = helpers.audit_actions(app, audit.PERMISSION_DENIED)
    assert [e.actor_name for e in denied] == ["clerk_b"]
    assert post_report(client, other, jurisdiction_id="OTHER").status_code == 200
    assert post_report(client, other).status_code == 400  # two sites: the jurisdiction must be given


@pytest.mark.parametrize("fields", [
    {"lat": "abc"}, {"lat": "1e309"}, {"lat": "91"}, {"long": "-181"}, {"lat": "nan"}, {"lat": "inf"},
    {"lat": "9" * 400}, {"lat": None, "long": None, "address_string": "三楼东侧卫生间"}, {"long": None},
    {"address_id": "A01", "lat": None, "long": None},
    {"description": "漏水\x00"}, {"description": "x" * 4001}, {"description": None}, {"description": "   "},
    {"service_code": None}, {"service_code": "water\x00power"},
    {"jurisdiction_id": "TE\x00ST"},
    {"attribute[level]": "2.5"}, {"attribute[level]": "1000"}, {"attribute[level]": "9" * 400},
    {"attribute[severity]": "apocalyptic"}, {"attribute[colour]": "red"}, {"attribute": "x"},
    {"attribute[severity][]": "major"},
    {"media_url": "ftp://files.example.org/x.jpg"}, {"media_url": "javascript:alert(1)"},
    {"media_url": "http://[broken/x.jpg"}, {"email": "nobody"}, {"phone": "1" * 33}, {"first_name": "张\n三"},
    {"lat": "30.0", "long": "120.0"},  # in none of the site's grids
    {"attribute[level]": "3"},  # a level with no grids: the point is in none
])
def test_malformed_arguments_are_400_and_file_nothing(app, client, token, fields):
    response = post_report(client, token, **fields)
    assert response.status_code == 400, response.get_data(as_text=True)
    error, = errors_of(response)
    assert error["code"] == 400 and error["description"]
    assert _issues(app) == []


def test_a_refusal_in_xml_names_the_argument(app, client, token):
    response = post_report(client, token, fmt="xml", lat="north")
    assert response.status_code == 400
    root = parsed(response)
    assert root.tag == "errors" and root.find("error").findtext("code") == "400"
    assert "lat" in root.find("error").findtext("description")


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_unknown_service_code_is_404(app, client, token, fmt):
    response = post_report(client, token, fmt=fmt, service_code="potholes")
    assert response.status_code == 404 and errors_of(response)[0]["code"] == 404
    assert _issues(app) == []


GOOD_JSON = {"service_code": "water_power", "description": "漏水", "lat": 30.2795, "long": 120.1505}


@pytest.mark.parametrize("body, content_type", [
    ("{not json", "application/json"),
    ("[1, 2]", "application/json"),
    ('"water_power"', "application/json"),
    ('{"service_code": "water_power", "description": "漏水", "long": 120.1505, "lat": ' + "9" * 5000 + "}",
     "application/json"),
    ("service_code=water_power&description=x&lat=30.2795&long=120.1505", "text/plain"),
])
def test_unreadable_bodies_are_400(app, client, token, body, content_type):
    response = client.post(f"{V2}/requests.json", data=body, content_type=content_type,
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400, response.get_data(as_text=True)
    assert errors_of(response)[0]["code"] == 400
    assert _issues(app) == []


@pytest.mark.parametrize("override", [
    {"lat": float("inf")}, {"lat": 1e300}, {"lat": True}, {"lat": [30.2]},
    {"description": {"text": "漏水"}}, {"description": "漏水\x00"}, {"description": "漏水\ud800"},
    {"attribute": {"severity": ["major"]}}, {"attribute": {"level": True}}, {"attribute": {"level": 1.5}},
    {"attribute": {"level": 10 ** 30}}, {"attribute": {"colour": "red"}}, {"attribute": ["severity"]},
])
def test_wrong_types_in_a_json_body_are_400(app, client, token, override):
    response = client.post(f"{V2}/requests.json", data=json.dumps({**GOOD_JSON, **override}),
                           content_type="application/json", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400, response.get_data(as_text=True)
    assert errors_of(response)[0]["code"] == 400
    assert _issues(app) == []
    assert client.post(f"{V2}/requests.json", json=GOOD_JSON,
                       headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_an_oversized_body_is_413_in_the_format(app, client, token):
    response = post_report(client, token, fmt="xml", description="漏" * 200_000)
    assert response.status_code == 413
    assert errors_of(response)[0]["code"] == 413
    response = client.post(f"{V2}/requests.json", data=b"x" * 300_000, content_type="application/json",
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 413 and errors_of(response)[0]["code"] == 413
    assert _issues(app) == []


def test_the_report_is_filed_as_the_tokens_user_whatever_account_id_says(app, client, world):
    boss = builders.token_for(app, "boss")
    record, = parsed(post_report(client, boss, account_id="clerk", first_name="Clerk"))
    assert record["account_id"] == "boss"
    with app.app_context():
        assert db.session.get(Issue, record["service_request_id"]).reporter.username == "boss"


def test_arguments_in_the_query_string_count_too(app, client, token):
    response = client.post(f"{V2}/requests.json?jurisdiction_id=TEST&api_key={token}", data={
        "service_code": "sanitation", "description": "垃圾未清运", **IN_A01})
    assert response.status_code == 200
    assert _issues(app)[0].category == "sanitation"
