"""Fields and small schemas every namespace uses."""

from __future__ import annotations

import re

import marshmallow as ma
from marshmallow import ValidationError, validate

_SURROGATE = re.compile(r"[\ud800-\udfff]")


class CleanText(validate.Regexp):
    """Text PostgreSQL can store and a page can show: no NUL byte, no lone surrogate (a 4xx, never a driver's 500).

    The document shows the NUL rule as the field's pattern, `^[^\\x00]*$`. A lone surrogate is refused as well but
    is not in the pattern: no valid Unicode text holds one, and a pattern with a surrogate range is one that
    schemathesis' generator cannot read and then ignores, so its schema-valid examples would hold NUL bytes."""

    def __init__(self) -> None:
        super().__init__(r"^[^\x00]*$", error="must not contain NUL or unpaired surrogate characters")

    def __call__(self, value):
        value = super().__call__(value)
        if _SURROGATE.search(value) is not None:
            raise ValidationError(self._format_error(value))
        return value


clean_text = CleanText()


class Person(ma.Schema):
    """A user as lists name them: the login name and the display name."""

    username = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
