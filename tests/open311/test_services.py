"""GeoReport v2 services, service definitions and service discovery, in JSON and XML, with their errors."""

import pytest
import sqlalchemy as sa

from gridpatrol.core.categories import Category
from gridpatrol.core.transaction import job_transaction
from gridpatrol.grids.models import Site
from gridpatrol.issues import services as issue_services
from tests.grids import builders as grid_builders
from tests.open311 import builders
from tests.open311.builders import V2, errors_of, parsed, xml_records

SERVICE_FIELDS = ["service_code", "service_name", "description", "metadata", "type", "keywords", "group"]


@pytest.fixture
def world(app):
    builders.world(app)


def test_services_are_our_categories_in_both_formats(app, client, world):
    response = client.get(f"{V2}/services.json?jurisdiction_id=TEST")
    assert response.status_code == 200 and response.content_type == "application/json; charset=utf-8"
    services = parsed(response)
    assert [s["service_code"] for s in services] == [c.value for c in Category]
    water = services[0]
    assert list(water) == SERVICE_FIELDS
    assert (water["service_name"], water["metadata"], water["type"], water["group"]) == ("水电", True, "realtime",
                                                                                        "随手拍")
    assert water["keywords"] and "3" in water["description"]  # the default time limit: minor, 3 working days

    root = parsed(client.get(f"{V2}/services.xml?jurisdiction_id=TEST"))
    assert root.tag == "services" and all(item.tag == "service" for item in root)
    records = xml_records(root)
    assert [r["service_code"] for r in records] == [c.value for c in Category]
    assert list(records[0]) == SERVICE_FIELDS
    assert (records[0]["service_name"], records[0]["metadata"], records[0]["type"]) == ("水电", "true", "realtime")


def test_a_service_is_described_by_the_sites_time_limits(app, client, world):
    with app.app_context(), job_transaction() as session:
        site = session.scalar(sa.select(Site))
        issue_services.set_time_limit(session, site, "greening", "minor", 17, "days", actor=None)
    greening = next(s for s in parsed(client.get(f"{V2}/services.json")) if s["service_code"] == "greening")
    assert "17" in greening["description"]
    water = next(s for s in parsed(client.get(f"{V2}/services.json")) if s["service_code"] == "water_power")
    assert "17" not in water["description"]


def test_jurisdiction_may_be_left_out_with_one_site_and_is_read_in_any_case(client, world):
    assert [s["service_code"] for s in parsed(client.get(f"{V2}/services.json"))][0] == "water_power"
    assert client.get(f"{V2}/services.json?jurisdiction_id=test").status_code == 200
    assert client.get(f"{V2}/services.json?jurisdiction_id=").status_code == 200  # empty counts as not given


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_unknown_jurisdiction_is_404_and_a_malformed_one_400(client, world, fmt):
    for code in ("NOPE", "x" * 300, "<b>"):
        response = client.get(f"{V2}/services.{fmt}", query_string={"jurisdiction_id": code})
        assert response.status_code == (400 if len(code) > 200 else 404), code
        assert [e["code"] for e in errors_of(response)] == [response.status_code]
    response = client.get(f"{V2}/services.{fmt}", query_string={"jurisdiction_id": "TE\x00ST"})
    assert response.status_code == 400 and "jurisdiction_id" in errors_of(response)[0]["description"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_several_sites_need_the_jurisdiction(app, client, world, fmt):
    grid_builders.make_site(app, "ANNEX")
    response = client.get(f"{V2}/services.{fmt}")
    assert response.status_code == 400
    assert "jurisdiction_id" in errors_of(response)[0]["description"]
    assert client.get(f"{V2}/services.{fmt}?jurisdiction_id=ANNEX").status_code == 200


def test_service_definition_gives_severity_and_level(client, world):
    definition = parsed(client.get(f"{V2}/services/water_power.json?jurisdiction_id=TEST"))
    assert definition["service_code"] == "water_power"
    severity, level = definition["attributes"]
    assert (severity["code"], severity["datatype"], severity["variable"], severity["required"],
            severity["order"]) == ("severity", "singlevaluelist", True, False, 1)
    assert severity["values"] == [{"key": "minor", "name": "一般"}, {"key": "major", "name": "较大"},
                                  {"key": "critical", "name": "重大"}]
    assert (level["code"], level["datatype"], level["required"], level["order"]) == ("level", "number", False, 2)
    for attribute in (severity, level):
        assert set(attribute) == {"variable", "code", "datatype", "required", "datatype_description", "order",
                                  "description", "values"}
        assert attribute["description"] and attribute["datatype_description"]

    root = parsed(client.get(f"{V2}/services/water_power.xml"))
    assert root.tag == "service_definition" and root.findtext("service_code") == "water_power"
    attributes = root.find("attributes").findall("attribute")
    assert [a.findtext("code") for a in attributes] == ["severity", "level"]
    assert attributes[0].findtext("required") == "false" and attributes[0].findtext("variable") == "true"
    assert [(v.findtext("key"), v.findtext("name")) for v in attributes[0].find("values")] == [
        ("minor", "一般"), ("major", "较大"), ("critical", "重大")]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_unknown_service_code_is_404(client, world, fmt):
    for code in ("potholes", "water_power.json"):
        response = client.get(f"{V2}/services/{code}.{fmt}")
        assert response.status_code == 404
        assert errors_of(response)[0]["code"] == 404
    assert client.get(f"{V2}/services/water_power.{fmt}?jurisdiction_id=NOPE").status_code == 404


def test_unknown_format_or_path_is_404_and_a_wrong_method_405(client, world):
    for path in (f"{V2}/services.html", f"{V2}/services", f"{V2}/services/water_power.csv", f"{V2}/tokens/1.xml",
                 "/open311/", "/open311/v3/services.json"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.content_type.startswith(("text/xml", "application/json")), path
        assert errors_of(response)[0]["code"] == 404
    response = client.post(f"{V2}/services.json")
    assert response.status_code == 405 and response.headers["Allow"].startswith("GET")
    assert errors_of(response)[0]["code"] == 405
    response = client.delete(f"{V2}/requests.xml")
    assert response.status_code == 405 and set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}
    assert errors_of(response)[0]["code"] == 405


def test_service_discovery(client, world):
    discovery = parsed(client.get("/open311/discovery.json"))
    endpoint, = discovery["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://localhost/open311/v2" and endpoint["type"] == "production"
    assert endpoint["formats"] == ["text/xml", "application/json"]
    root = parsed(client.get("/open311/discovery.xml"))
    assert root.tag == "discovery"
    assert [f.text for f in root.find("endpoints").find("endpoint").find("formats")] == ["text/xml",
                                                                                          "application/json"]
