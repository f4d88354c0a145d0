"""The two formats of GeoReport v2, chosen by the resource's extension (`services.json`, `services.xml`).

JSON is the data as it is; XML follows the spec's Spark convention: a list becomes an element named for the list
holding one element per item (`<services><service>…`), a mapping one child element per key, true/false in lower
case, and a missing value (None) an empty element. Both are UTF-8 with the content types the spec names.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any, Optional

from flask import Response, request

FORMATS = ("json", "xml")
CONTENT_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
XML_DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>\n'

# What each list's items are called in XML (the spec's names).
ITEM_NAMES = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
}

# XML 1.0 allows tab, line feed, carriage return and these ranges. A character outside them (a control
# character some page once stored) cannot be written in XML at all: it is left out of the XML answer.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def answer_format() -> str:
    """The format this request asked for by its extension; XML (the spec's required format) when it named none
    that we serve, so that even a refusal of an unknown format is answered in a format a client can read."""
    last = request.path.rsplit("/", 1)[-1]
    extension = last.rsplit(".", 1)[-1].lower() if "." in last else ""
    return extension if extension in FORMATS else "xml"


def render(fmt: str, data: Any, *, root: str, status: int = 200) -> Response:
    """`data` (a list of items, or a mapping) in `fmt`; `root` names the XML document element (and so, for a list,
    its items: ITEM_NAMES)."""
    if fmt == "json":
        body = json.dumps(data, ensure_ascii=False, allow_nan=False).encode("utf-8")
    else:
        element = ET.Element(root)
        _fill(element, root, data)
        body = XML_DECLARATION + ET.tostring(element, encoding="unicode").encode("utf-8")
    return Response(body, status=status, content_type=CONTENT_TYPES[fmt])


def errors(fmt: str, status: int, description: str, *, code: Optional[int] = None) -> Response:
    """The spec's error answer: a list of {code, description} (`<errors><error>…` in XML)."""
    return render(fmt, [{"code": code or status, "description": description}], root="errors", status=status)


def _fill(element: ET.Element, name: str, value: Any) -> None:
    if isinstance(value, list):
        for item in value:
            _fill(ET.SubElement(element, ITEM_NAMES[name]), ITEM_NAMES[name], item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _fill(ET.SubElement(element, key), key, item)
    elif value is None:
        return
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    else:
        element.text = _NOT_XML.sub("", str(value))
