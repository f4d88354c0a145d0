"""The OpenAPI document: 3.1, valid, only the API in it, served with a browsable page from the app's own files;
and the API conforms to it (schemathesis, a bounded number of examples per operation)."""

from __future__ import annotations

import re

import schemathesis
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate
from schemathesis.checks import positive_data_acceptance

from gridpatrol import create_app
from tests import helpers

SCHEMA_REFUSALS = {"invalid_request", "malformed_body"}  # the validator's problem codes, not a domain rule's


def test_the_document_is_openapi_3_1_and_valid(app):
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    assert spec["openapi"] == "3.1.0"
    validate(spec)
    assert all(path.startswith("/api/v1/") for path in spec["paths"]), spec["paths"].keys()
    assert "/api/v1/openapi.json" not in spec["paths"] and "/api/v1/docs" not in spec["paths"]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    problem = spec["components"]["schemas"]["Problem"]
    assert set(problem["required"]) >= {"type", "title", "status", "detail", "code"}


def test_the_docs_page_loads_swagger_ui_from_the_app(app, world):
    client = app.test_client()
    helpers.login(client, helpers.Credentials(0, "clerk", helpers.DEFAULT_PASSWORD))
    html = client.get("/api/v1/docs").get_data(as_text=True)
    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert scripts == ["/static/vendor/swagger-ui/swagger-ui-bundle.js", "/static/js/api-docs.js"]
    assert "<script>" not in html and "http" not in "".join(scripts)
    assert 'data-spec-url="/api/v1/openapi.json"' in html and "网格巡查 API 文档" in html
    for path in scripts:
        assert client.get(path).status_code == 200


# Loaded once, when the tests are collected, from an app built only to serve the document (that needs no database);
# each example is then sent to the test's own app (`app=`), with its database. `from_wsgi` (not `from_dict`): the
# check for ignored authentication sends its unauthenticated probe through the schema's own transport.
CONFIG = schemathesis.Config.from_dict({"generation": {"max-examples": 25, "deterministic": True,
                                                       "database": "none"}})
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", create_app({"DATABASE_URL": "sqlite://"}),
                                        config=CONFIG)


@schemathesis.check
def schema_valid_input_passes_validation(ctx, response, case):
    """Instead of `positive_data_acceptance`: a domain rule may refuse input the schema allows (a point outside
    every grid, a state that does not allow the action), the validator may not: the document would promise what
    the code refuses."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code < 400:
        return None
    if "json" in (response.headers.get("content-type") or [""])[0]:
        code = (response.json() or {}).get("code")
        assert code not in SCHEMA_REFUSALS, f"schema-valid request refused by validation: {response.text}"
    return None


@schema.parametrize()
@settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_the_api_conforms_to_its_document(case, app, world_for_schemathesis):
    """No server error, no answer outside the document, for generated requests of a supervisor of every site."""
    case.call_and_validate(app=app, headers=world_for_schemathesis, excluded_checks=[positive_data_acceptance],
                           additional_checks=[schema_valid_input_passes_validation])
