"""The issues tests' compound (tests/issues/builders.py) with API tokens, and helpers to speak GeoReport v2 to it."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import sqlalchemy as sa

from gridpatrol.accounts import tokens
from gridpatrol.accounts.models import ApiToken
from gridpatrol.core.time import utcnow
from gridpatrol.core.transaction import job_transaction
from tests.issues import builders as issue_builders

V2 = "/open311/v2"
IN_A01 = {"lat": "30.2795", "long": "120.1505"}  # inside grid A01 (leader0) of site TEST, level 0
IN_A02 = {"lat": "30.2795", "long": "120.1515"}  # inside grid A02 (leader1)


def world(app) -> None:
    issue_builders.world(app)


def token_for(app, username: str, *, name: str = "12345 bridge") -> str:
    with app.app_context(), job_transaction() as session:
        _row, token = tokens.create(session, issue_builders.user(session, username), name=name, expires_days=None,
                                    now=utcnow())
        return token


def revoke(app, token: str) -> None:
    with app.app_context(), job_transaction() as session:
        row = session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == tokens.hash_token(token)))
        assert tokens.revoke(session, row, now=utcnow())


def parsed(response):
    """The body as data: JSON as it is; XML as (root tag, [child element as {tag: text}]) for lists of records."""
    if response.content_type.startswith("application/json"):
        return json.loads(response.get_data(as_text=True))
    assert response.content_type == "text/xml; charset=utf-8", response.content_type
    body = response.get_data()
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return ET.fromstring(body)


def xml_records(root) -> list[dict[str, str]]:
    return [{child.tag: (child.text or "") for child in item} for item in root]


def errors_of(response) -> list[dict]:
    """The spec's error list from either format, as [{code, description}] with an int code."""
    data = parsed(response)
    if isinstance(data, list):
        return data
    assert data.tag == "errors"
    return [{"code": int(item["code"]), "description": item["description"]} for item in xml_records(data)]


def post_report(client, token: str | None, fmt: str = "json", **fields):
    data = {"service_code": "water_power", "description": "三楼卫生间水龙头漏水", **IN_A01, **fields}
    if token is not None:
        data.setdefault("api_key", token)
    return client.post(f"{V2}/requests.{fmt}", data={k: v for k, v in data.items() if v is not None})
