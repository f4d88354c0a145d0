"""flask-smorest wired for /api/v1: an OpenAPI 3.1 document generated from the code, and every refusal answered
by the app's one error adapter (`core.errors`) as `application/problem+json`.

`ProblemApi` is flask-smorest's `Api` on our plain `flask.Flask` with three changes:
* it registers no error handler of its own (its default, an app-wide `HTTPException` handler, would answer JSON
  on every page's 404): `core.errors` answers everything, the pages as HTML and the API as problem+json;
* the error responses it documents use `ProblemSchema` with `application/problem+json`;
* the document is served by the api blueprint (`/api/v1/openapi.json`) and the docs page by our own template,
  not by flask-smorest's `api-docs` blueprint (whose page has an inline script our CSP refuses).

Invalid input (webargs/marshmallow) goes the same way: `ProblemParser` raises `RequestInvalid` (422, code
`invalid_request`, `errors`: location → field → messages) or `MalformedBody` (400, `malformed_body`).
"""

from __future__ import annotations

import http

import marshmallow as ma
from flask_babel import gettext as _
from flask_smorest import Api, Blueprint
from flask_smorest.utils import prepare_response
from webargs.flaskparser import FlaskParser

from gridpatrol.core.errors import PROBLEM_MEDIA_TYPE, DomainError

API_VERSION = "1"
PREFIX = "/api/v1"


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details, with our stable machine code."""

    class Meta:
        unknown = ma.INCLUDE

    type = ma.fields.String(required=True, metadata={"example": "about:blank"})
    title = ma.fields.String(required=True)
    status = ma.fields.Integer(required=True)
    detail = ma.fields.String(required=True, metadata={"description": "the refusal, in the caller's language"})
    code = ma.fields.String(required=True, metadata={
        "description": "stable machine code: invalid_request, malformed_body, unauthenticated, not_allowed, "
                       "not_found, conflict, refused, csrf, too_large, …", "example": "conflict"})
    errors = ma.fields.Dict(metadata={"description": "invalid input: where (query, json) → field → messages"})


class RequestInvalid(DomainError):
    """The parameters or the body do not follow the schema."""

    status_code = 422
    code = "invalid_request"


class MalformedBody(DomainError):
    status_code = 400
    code = "malformed_body"


class ProblemParser(FlaskParser):
    """webargs' parser, whose refusals go to our adapter instead of `flask.abort(422, messages=…)`."""

    DEFAULT_VALIDATION_STATUS = 422

    def handle_error(self, error, req, schema, *, error_status_code, error_headers):
        raise RequestInvalid(_("The request is invalid: see errors."), errors=error.normalized_messages())

    def _handle_invalid_json_error(self, error, req, *args, **kwargs):
        raise MalformedBody(_("The body is not valid JSON."))

    def _raw_load_json(self, req):
        from webargs import core
        from webargs.flaskparser import is_json_request

        from gridpatrol.api.auth import whole_body

        if not is_json_request(req):
            return core.missing
        return core.parse_json(whole_body())

    def load_json(self, req, schema):
        try:
            return super().load_json(req, schema)
        except (ValueError, RecursionError) as exc:
            # Not a JSONDecodeError, so webargs lets it through: an integer of more than 4,300 digits (Python's
            # int-from-string limit) or nesting deeper than the parser's recursion allows.
            raise MalformedBody(_("The body is not valid JSON.")) from exc


class ApiBlueprint(Blueprint):
    ARGUMENTS_PARSER = ProblemParser()


class ProblemApi(Api):
    ERROR_SCHEMA = ProblemSchema
    DEFAULT_RESPONSE_CONTENT_TYPE = "application/json"

    def _register_error_handlers(self):
        """None: core.errors answers every refusal, for the API as for the pages."""

    def _register_responses(self):
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_MEDIA_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "A refusal (RFC 9457 problem details)", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_MEDIA_TYPE)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


DESCRIPTION = """GridPatrol's machine interface: the same services, rules and permissions as the pages.

Authenticate with a personal API token (`Authorization: Bearer gp_…`, from `gridpatrol tokens create USERNAME`
or the account page), which acts as its user: their roles, at their sites. A logged-in browser may call the API
with its session; its unsafe requests (POST, PUT, DELETE) also send the `X-CSRFToken` header.

Every refusal is `application/problem+json` with a stable `code`. Lists are pages in a stable order with `links`.
Times are ISO 8601 with their offset."""

SPEC_OPTIONS = {
    "info": {"description": DESCRIPTION},
    "servers": [{"url": "/"}],
    "security": [{"bearerAuth": []}, {"sessionCookie": []}],
    "components": {
        "securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer",
                           "description": "a personal API token from `gridpatrol tokens create`"},
            "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "session",
                              "description": "the browser's login session; unsafe methods also need the "
                                             "X-CSRFToken header"},
        }
    },
}


def make_api() -> ProblemApi:
    return ProblemApi(spec_kwargs={"title": "GridPatrol API", "version": API_VERSION,
                                   "openapi_version": "3.1.0", **SPEC_OPTIONS})
