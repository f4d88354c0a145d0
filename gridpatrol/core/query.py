"""The query string of a page, read typed and bounded before anything reaches a service or the database.

One rule for every page: a value a page cannot read is refused with a 400 that says which parameter and why
(`BadQuery`, a `DomainError` the one adapter in core/errors.py answers: the error page with the message, or
problem+json for a JSON caller); an empty value is no filter. Nothing is silently ignored, so a link that asks
for something the page cannot show never shows something else as if it were that.

* A whole number (an id, a level, a page, a year) is an int within what the database's INTEGER holds, and at
  least `minimum` where one is given: `whole(args, "page", minimum=1)`.
* A day is a YYYY-MM-DD date between core.time's FIRST_DAY and LAST_DAY (2000–2999: a day every site's zone can
  bound, and far wider than the compound's records): `day(args, "from")`; a month (YYYY-MM) and a year likewise.
* No query name or value may hold a NUL byte or a lone surrogate (PostgreSQL cannot take either in a string):
  checked for every request before its view runs (`init_app`), except under the API's paths, whose schemas check
  every parameter and answer 422 with the field's errors (the API's documented contract). Open311 answers the
  refusal in its own error list (its blueprint's DomainError handler).
* A query passed on into another link (the site switcher, the next page) leaves out the names `url_for` takes
  for itself (`passed_on`).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Optional

from flask import Flask, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict

from gridpatrol.core.errors import DomainError, under_json_path
from gridpatrol.core.time import FIRST_DAY, LAST_DAY

MAX_WHOLE = 2**31 - 1  # PostgreSQL's INTEGER; ids, levels, pages and years all fit

# What the pages' parameters are called in a refusal, in the reader's words (a name not listed is shown as typed:
# it came from the address, not from the app).
LABELS = {
    "grid": _l("grid"), "level": _l("floor"), "team": _l("team"), "page": _l("page number"), "user": _l("person"),
    "year": _l("year"), "month": _l("month"), "version": _l("version"), "from": _l("from (date)"),
    "to": _l("to (date)"), "due_from": _l("deadline from"), "due_to": _l("deadline to"),
    "closed_from": _l("closed from"), "closed_to": _l("closed to"), "day": _l("day"),
}


def label(name: str) -> str:
    return str(LABELS[name]) if name in LABELS else name
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class BadQuery(DomainError):
    """A query parameter the page cannot read: answered 400 with the reason."""

    status_code = 400
    code = "bad_query"

    def __init__(self, reason: str) -> None:
        super().__init__(_("The address cannot be read: %(reason)s.", reason=reason))


def whole(args: MultiDict, name: str, *, minimum: Optional[int] = None,
          default: Optional[int] = None) -> Optional[int]:
    """The parameter `name` as a whole number (`default` when absent or empty)."""
    value = (args.get(name) or "").strip()
    if not value:
        return default
    digits = value[1:] if value.startswith("-") else value
    if not (digits.isascii() and digits.isdigit()):
        raise BadQuery(_("%(name)s is not a whole number", name=label(name)))
    if len(digits) > len(str(MAX_WHOLE)):  # before int(): a 5,000-digit string is refused, not converted
        raise BadQuery(_("%(name)s is out of range", name=label(name)))
    number = int(value)
    if minimum is not None and number < minimum:
        raise BadQuery(_("%(name)s is below %(minimum)d", name=label(name), minimum=minimum))
    if abs(number) > MAX_WHOLE:
        raise BadQuery(_("%(name)s is out of range", name=label(name)))
    return number


def day(args: MultiDict, name: str) -> Optional[dt.date]:
    """The parameter `name` as a date (YYYY-MM-DD) between FIRST_DAY and LAST_DAY; None when absent or empty."""
    value = (args.get(name) or "").strip()
    return parse_day(value, name) if value else None


def parse_day(value: str, name: str) -> dt.date:
    try:
        parsed = dt.date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise BadQuery(_("%(name)s is not a date (YYYY-MM-DD)", name=label(name)))
    if not FIRST_DAY <= parsed <= LAST_DAY:
        raise BadQuery(_("%(name)s is not between %(first)s and %(last)s", name=label(name),
                         first=FIRST_DAY.isoformat(), last=LAST_DAY.isoformat()))
    return parsed


def month(args: MultiDict, name: str) -> Optional[dt.date]:
    """The parameter `name` as a month (YYYY-MM, its first day) between FIRST_DAY's and LAST_DAY's; None when
    absent or empty."""
    value = (args.get(name) or "").strip()
    if not value:
        return None
    try:
        parsed = dt.date.fromisoformat(value + "-01") if re.fullmatch(r"\d{4}-\d{2}", value, re.ASCII) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise BadQuery(_("%(name)s is not a month (YYYY-MM)", name=label(name)))
    if not FIRST_DAY <= parsed <= LAST_DAY:
        raise BadQuery(_("%(name)s is not between %(first)s and %(last)s", name=label(name),
                         first=FIRST_DAY.strftime("%Y-%m"), last=LAST_DAY.strftime("%Y-%m")))
    return parsed


def year(args: MultiDict, name: str) -> Optional[int]:
    """The parameter `name` as a year between FIRST_DAY's and LAST_DAY's; None when absent or empty."""
    number = whole(args, name)
    if number is not None and not FIRST_DAY.year <= number <= LAST_DAY.year:
        raise BadQuery(_("%(name)s is not between %(first)s and %(last)s", name=label(name), first=FIRST_DAY.year,
                         last=LAST_DAY.year))
    return number


def unstorable(text: str) -> bool:
    """The text holds a NUL byte or a lone surrogate (no database string, no valid UTF-8 can hold it)."""
    return _UNSTORABLE.search(text) is not None


def refuse_unstorable_fields(form: MultiDict) -> None:
    """A form that holds a NUL byte (or a lone surrogate) in any field is refused (422) before it is used: the
    pages' forms keep the rule the query string and the API's schemas keep."""
    if any(unstorable(value) for values in form.listvalues() for value in values):
        raise DomainError(_("The form holds a character that cannot be saved (a NUL byte); nothing was saved."))


def passed_on(args: MultiDict, *, leave_out: tuple[str, ...] = ("site",)) -> dict[str, list[str]]:
    """The query as `url_for` arguments for a link to another page with the same filters: without the names the
    link sets itself (`leave_out`) and without those `url_for` reserves (`_external`, `_anchor`, …), which a
    hand-made address could otherwise turn into a refused build."""
    return {name: values for name, values in args.lists() if name not in leave_out and not name.startswith("_")}


def init_app(app: Flask) -> None:
    app.before_request(_refuse_unstorable_query)


def _refuse_unstorable_query() -> None:
    if not request.query_string or under_json_path():
        return
    for name, values in request.args.lists():
        if unstorable(name) or any(unstorable(value) for value in values):
            raise BadQuery(_("%(name)s holds a character that is not allowed", name=_shown(name)))


def _shown(name: str) -> str:
    return _UNSTORABLE.sub("", name)[:40]
