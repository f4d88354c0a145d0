"""The fields every namespace shares: `clean_text` refuses NUL and lone surrogates, and shows the document a
pattern schemathesis' generator can read (a surrogate range made it ignore the pattern, so its schema-valid
examples held NUL bytes and were refused)."""

from __future__ import annotations

import marshmallow as ma
import pytest
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from gridpatrol.api.schemas import clean_text


class Text(ma.Schema):
    value = ma.fields.String(validate=clean_text)


@pytest.mark.parametrize("value", ["", "巡查", "emoji \U0001F6A7 ok", "tab\tand newline\n"])
def test_clean_text_takes_text(value):
    assert Text().validate({"value": value}) == {}


@pytest.mark.parametrize("value", ["a\x00b", "\x00", "lone \ud800 high", "lone \udfff low"])
def test_clean_text_refuses_nul_and_lone_surrogates(value):
    assert Text().validate({"value": value}) == {
        "value": ["must not contain NUL or unpaired surrogate characters"]}


def test_the_document_shows_the_nul_rule_as_a_plain_pattern():
    spec = APISpec("t", "1", "3.1.0", plugins=[MarshmallowPlugin()])
    spec.components.schema("Text", schema=Text)
    pattern = spec.to_dict()["components"]["schemas"]["Text"]["properties"]["value"]["pattern"]
    assert pattern == r"^[^\x00]*$"
