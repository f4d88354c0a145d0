"""Pages of a list: a stable order (the caller's query decides it, always ending on the id), `page`/`per_page`
in the query, and links to the first, last, next and previous pages with the same filters."""

from __future__ import annotations

import math
from typing import Any, Sequence

import marshmallow as ma
from flask import request, url_for
from marshmallow import validate

MAX_PER_PAGE = 100


class PageQuery(ma.Schema):
    """The query of a paged list (a list's own filters extend it)."""

    page = ma.fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = ma.fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PER_PAGE))


class PageLinks(ma.Schema):
    self_ = ma.fields.String(required=True, data_key="self", attribute="self")
    first = ma.fields.String(required=True)
    last = ma.fields.String(required=True)
    next = ma.fields.String(required=True, allow_none=True)
    prev = ma.fields.String(required=True, allow_none=True)


class Page(ma.Schema):
    page = ma.fields.Integer(required=True)
    per_page = ma.fields.Integer(required=True)
    total = ma.fields.Integer(required=True)
    links = ma.fields.Nested(PageLinks, required=True)


def page_of(items: Sequence[Any], *, page: int, per_page: int, total: int) -> dict[str, Any]:
    """The page's body: its items (already cut to the page) and the links, which repeat the request's own query
    (its filters) with another page number."""
    last = max(1, math.ceil(total / per_page))
    args = request.args.to_dict(flat=False)
    values = dict(request.view_args or {})

    def link(number: int) -> str:
        return url_for(request.endpoint, **values, **{**args, "page": number, "per_page": per_page})

    return {"items": list(items), "page": page, "per_page": per_page, "total": total,
            "links": {"self": link(page), "first": link(1), "last": link(last),
                      "next": link(page + 1) if page < last else None,
                      "prev": link(page - 1) if 1 < page <= last + 1 else None}}
