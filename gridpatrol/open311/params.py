"""A request's arguments, read and checked before anything reaches the database.

GeoReport v2 sends them in the query string (GET) or form-encoded in the body (POST); we also take a JSON object
as the body, with `attribute` as an object or as `attribute[code]` keys. Every value is checked here as text: no
control characters (a NUL would make PostgreSQL refuse the statement), no lone surrogates, a bounded length;
numbers are finite. A value that fails is refused with `Open311Error` 400 naming the argument, never a 500.
An argument given empty counts as not given (the spec's "optional arguments").
"""

from __future__ import annotations

import math
import re
from typing import Any, Optional

from flask import request
from flask_babel import gettext as _

MAX_BODY_BYTES = 128 * 1024  # a description of 4,000 characters, form-encoded, and the rest: well below this
MAX_NUMBER_CHARS = 40
_ATTRIBUTE_KEY = re.compile(r"^attribute\[([^\[\]]*)\](\[\])?$")
# C0 controls but tab, line feed and carriage return; DEL; lone surrogates (a JSON body may carry "\ud800").
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_SCALARS = (str, int, float)


class Open311Error(Exception):
    """A refusal answered in the spec's error format with this HTTP status (400, 403, 404 …)."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def shown(value: str, limit: int = 40) -> str:
    """A piece of the caller's input quoted in an error: printable and short."""
    value = _CONTROL.sub("", value)
    return value if len(value) <= limit else value[:limit] + "…"


class Params:
    """The arguments of one request: name → value (str, or an int or float from a JSON body)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    @classmethod
    def of_request(cls) -> "Params":
        """The query string, then the body (form-encoded or a JSON object) over it."""
        values: dict[str, Any] = {key: request.args.get(key) for key in request.args}
        if request.method in ("POST", "PUT", "PATCH"):
            values.update(_body())
        return cls(values)

    def raw(self, name: str) -> Any:
        value = self.values.get(name)
        return None if value is None or value == "" else value

    def text(self, name: str, *, max_chars: int, multiline: bool = False, required: bool = False) -> Optional[str]:
        value = self.raw(name)
        if value is None:
            if required:
                raise Open311Error(400, _("%(name)s is missing.", name=name))
            return None
        if isinstance(value, bool) or not isinstance(value, _SCALARS):
            raise Open311Error(400, _("%(name)s is not valid.", name=name))
        value = str(value)
        if _CONTROL.search(value) or (not multiline and ("\n" in value or "\r" in value)):
            raise Open311Error(400, _("%(name)s contains characters that are not allowed.", name=name))
        if len(value) > max_chars:
            raise Open311Error(400, _("%(name)s may be at most %(n)d characters.", name=name, n=max_chars))
        value = value.strip()
        if required and not value:
            raise Open311Error(400, _("%(name)s is missing.", name=name))
        return value or None

    def number(self, name: str, *, low: float, high: float) -> Optional[float]:
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, _SCALARS) or len(str(value)) > MAX_NUMBER_CHARS:
            raise Open311Error(400, _("%(name)s must be a number.", name=name))
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            raise Open311Error(400, _("%(name)s must be a number.", name=name)) from None
        if not math.isfinite(number) or not low <= number <= high:
            raise Open311Error(400, _("%(name)s must be a number from %(low)s to %(high)s.", name=name, low=low,
                                      high=high))
        return number

    def whole_number(self, name: str, *, low: int, high: int) -> Optional[int]:
        value = self.raw(name)
        if value is None:
            return None
        refusal = Open311Error(400, _("%(name)s must be a whole number from %(low)d to %(high)d.", name=name,
                                      low=low, high=high))
        if isinstance(value, bool):
            raise refusal
        if isinstance(value, float):
            if not (math.isfinite(value) and value.is_integer()):
                raise refusal
            value = int(value)
        elif isinstance(value, str):
            text = value.strip()
            if not re.fullmatch(r"[+-]?\d{1,4}", text):
                raise refusal
            value = int(text)
        elif not isinstance(value, int):
            raise refusal
        if not low <= value <= high:
            raise refusal
        return value

    def attributes(self) -> dict[str, Any]:
        """`attribute[code]=value` arguments: code → value (a list for `attribute[code][]`)."""
        found: dict[str, Any] = {}
        for key, value in self.values.items():
            match = _ATTRIBUTE_KEY.match(key)
            if match is not None:
                found[match.group(1)] = value
            elif key.startswith("attribute"):
                raise Open311Error(400, _("%(name)s is not valid.", name=shown(key)))
        return found


def _body() -> dict[str, Any]:
    """The body's arguments. A form body keeps its first value per name (`attribute[code][]` keeps all)."""
    if request.is_json:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise Open311Error(400, _("Send the arguments form-encoded or as a JSON object."))
        return _flatten_json(data)
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = request.form
        return {key: (form.getlist(key) if key.endswith("[]") else form.get(key)) for key in form}
    if request.content_length or request.mimetype:
        if request.get_data(cache=True):
            raise Open311Error(400, _("Send the arguments form-encoded or as a JSON object."))
    return {}


def _flatten_json(data: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key == "attribute" and isinstance(value, dict):
            for code, item in value.items():
                values[f"attribute[{code}]"] = item
        elif value is None or isinstance(value, _SCALARS):
            values[key] = value
        else:
            raise Open311Error(400, _("%(name)s is not valid.", name=shown(key)))
    return values
