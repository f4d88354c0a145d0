"""Loading an object for a view and checking the user's right to it: one call every view uses.

`load(Model, id)` answers 404 when the object is missing or, on a site's pages (`g.site`, see
grids/site_context.py), belongs to another site; `may=` is the domain's own check (e.g. "may this user see
this issue?") and a refusal raises `NotAllowed`, which the error adapter answers 403 and audits.
"""

from __future__ import annotations

from typing import Callable, Optional, TypeVar

from flask import abort

from gridpatrol.core.errors import NotAllowed
from gridpatrol.core.roles import current_site_id
from gridpatrol.extensions import db

T = TypeVar("T")


def load(model: type[T], object_id: int, *, may: Optional[Callable[[T], bool]] = None,
         refusal: str = "not allowed") -> T:
    obj = db.session.get(model, object_id)
    if obj is None:
        abort(404)
    site_id = current_site_id()
    if site_id is not None and getattr(obj, "site_id", site_id) != site_id:
        abort(404)
    if may is not None and not may(obj):
        raise NotAllowed(refusal)
    return obj
