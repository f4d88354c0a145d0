"""The kinds of notification: what each one says and where it links, rendered when it is read.

A `Notification` row holds a kind, the parameters its message needs and the object it is about (target type +
id, and that object's site). `render` turns it into words in the current language (Flask-Babel: the reader's,
see `services.reader_locale`) and a link built from the URL map at that moment, so nothing stores translated
text or a path. To add a kind: add a row to `KINDS` (its message and its link) and write it with
`services.notify`; its message strings go into the catalogue like any other (docs/translations.md).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

from flask import current_app, has_request_context, url_for
from flask_babel import gettext as _
from werkzeug.routing import BuildError

# A link is built by a function given an endpoint and its values (url_for in a request, the URL map outside).
UrlBuilder = Callable[..., str]


@dataclass(frozen=True)
class Context:
    """What a message and its link need besides the parameters: the target's id, its site's zone and code."""

    target_id: Optional[int]
    timezone: str
    site_code: Optional[str] = None


@dataclass(frozen=True)
class Kind:
    name: str
    message: Callable[[dict[str, Any], Context], str]  # called at render time, in the reader's language
    endpoint: Optional[str]  # where the link goes (None: no link)
    link_values: Callable[[dict[str, Any], Context], dict[str, Any]]


@dataclass(frozen=True)
class Rendered:
    text: str
    url: Optional[str]


def _local(stamp: Optional[str], context: Context) -> str:
    """An ISO timestamp (UTC, as stored) in the site's zone, as pages show it."""
    if not stamp:
        return "—"
    when = dt.datetime.fromisoformat(stamp)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.astimezone(zoneinfo.ZoneInfo(context.timezone)).strftime("%Y-%m-%d %H:%M")


# Links name the target's site: the notifications page is shared by all sites, the target's page is its site's.
def _site(context: Context) -> dict:
    return {"site": context.site_code} if context.site_code else {}


def _issue_link(params: dict, context: Context) -> dict:
    return {**_site(context), "issue_id": context.target_id}


def _patrol_link(params: dict, context: Context) -> dict:
    return {**_site(context), "patrol_id": context.target_id}


def _points_link(params: dict, context: Context) -> dict:
    return {**_site(context), "month": params.get("month")}


def _reject_reason(code: Optional[str]) -> str:
    from gridpatrol.issues.forms import REJECT_LABELS

    return str(dict(REJECT_LABELS).get(code, code or "—"))


def _rule_label(code: Optional[str]) -> str:
    from gridpatrol.points.rules import RULE_LABELS

    label = RULE_LABELS.get(code)
    return str(label) if label is not None else (code or "—")


def _dispatched(p: dict, c: Context) -> str:
    if p.get("deadline"):
        return _("Issue #%(id)s %(title)s is yours to fix by %(deadline)s.", id=p.get("id"), title=p.get("title"),
                 deadline=_local(p.get("deadline"), c))
    return _("Issue #%(id)s %(title)s is yours to fix.", id=p.get("id"), title=p.get("title"))


def _appeal_decided(p: dict, c: Context) -> str:
    values = {"rule": _rule_label(p.get("rule")), "month": p.get("month") or "—", "note": p.get("note") or ""}
    if p.get("outcome") == "overturned":
        return _("Your appeal against “%(rule)s” (%(month)s) was granted: the entry is cancelled. %(note)s",
                 **values)
    return _("Your appeal against “%(rule)s” (%(month)s) was not granted: the entry stands. %(note)s", **values)


def _extension_decided(p: dict, c: Context) -> str:
    if p.get("approved"):
        return _("The later deadline for issue #%(id)s %(title)s was approved: it is now %(deadline)s.",
                 id=p.get("id"), title=p.get("title"), deadline=_local(p.get("deadline"), c))
    return _("The later deadline for issue #%(id)s %(title)s was refused; the deadline stays %(deadline)s. %(note)s",
             id=p.get("id"), title=p.get("title"), deadline=_local(p.get("deadline"), c), note=p.get("note") or "")


KINDS: dict[str, Kind] = {kind.name: kind for kind in (
    # --- reminders (scheduler jobs) -------------------------------------------------------------------
    Kind("patrol_due",
         lambda p, c: _("Patrol of grid %(code)s %(name)s is due.", code=p.get("code"), name=p.get("name")),
         "patrols.show", _patrol_link),
    Kind("issue_due",
         lambda p, c: _("Issue #%(id)s %(title)s is due at %(deadline)s.", id=p.get("id"), title=p.get("title"),
                        deadline=_local(p.get("deadline"), c)),
         "issues.show", _issue_link),
    Kind("issue_overdue",
         lambda p, c: _("Issue #%(id)s %(title)s (grid %(grid)s) is overdue: its deadline was %(deadline)s.",
                        id=p.get("id"), title=p.get("title"), grid=p.get("grid") or "—",
                        deadline=_local(p.get("deadline"), c)),
         "issues.show", _issue_link),
    # --- the rectification workflow -------------------------------------------------------------------
    Kind("issue_reported",
         lambda p, c: _("New issue #%(id)s in grid %(grid)s: %(title)s", id=p.get("id"), grid=p.get("grid") or "—",
                        title=p.get("title")),
         "issues.show", _issue_link),
    Kind("issue_dispatched", _dispatched, "issues.show", _issue_link),
    Kind("issue_fix_reported",
         lambda p, c: _("The fix of issue #%(id)s %(title)s awaits verification.", id=p.get("id"),
                        title=p.get("title")),
         "issues.show", _issue_link),
    Kind("issue_rework",
         lambda p, c: _("Issue #%(id)s %(title)s was sent back for rework: %(note)s", id=p.get("id"),
                        title=p.get("title"), note=p.get("note") or "—"),
         "issues.show", _issue_link),
    Kind("issue_closed",
         lambda p, c: _("Your report #%(id)s %(title)s was verified and closed.", id=p.get("id"),
                        title=p.get("title")),
         "issues.show", _issue_link),
    Kind("issue_rejected",
         lambda p, c: _("Your report #%(id)s %(title)s was not accepted: %(reason)s.", id=p.get("id"),
                        title=p.get("title"), reason=_reject_reason(p.get("reason"))),
         "issues.show", _issue_link),
    Kind("issue_deferred",
         lambda p, c: _("Issue #%(id)s %(title)s is deferred: its deadline is suspended until it is resumed. %(note)s",
                        id=p.get("id"), title=p.get("title"), note=p.get("note") or ""),
         "issues.show", _issue_link),
    Kind("issue_resumed",
         lambda p, c: _("Issue #%(id)s %(title)s is resumed: fix it by %(deadline)s.", id=p.get("id"),
                        title=p.get("title"), deadline=_local(p.get("deadline"), c)),
         "issues.show", _issue_link),
    # --- 延期 (issues/extensions.py) -------------------------------------------------------------------
    Kind("extension_requested",
         lambda p, c: _("%(name)s asks to move the deadline of issue #%(id)s %(title)s to %(deadline)s.",
                        name=p.get("name") or "—", id=p.get("id"), title=p.get("title"),
                        deadline=_local(p.get("deadline"), c)),
         "issues.show", _issue_link),
    Kind("extension_decided", _extension_decided, "issues.show", _issue_link),
    # --- points ---------------------------------------------------------------------------------------
    Kind("appeal_decided", _appeal_decided, "points.me", _points_link),
    # --- rows written before notifications had kinds (migration 0009): their text and link as written --
    Kind("legacy", lambda p, c: str(p.get("text") or ""), None, lambda p, c: {}),
)}


def render(kind: str, params: Optional[dict[str, Any]], context: Context, build_url: UrlBuilder) -> Rendered:
    """Words (in the current language) and link of one notification."""
    params = params or {}
    found = KINDS.get(kind)
    if found is None:  # a kind this code no longer knows: show that something happened, not a crash
        return Rendered(kind, None)
    if found.name == "legacy":
        return Rendered(found.message(params, context), params.get("link"))
    url = None
    if found.endpoint:
        try:
            url = build_url(found.endpoint, **found.link_values(params, context))
        except BuildError:  # its page needs what this notification does not know (e.g. a site): no link
            url = None
    return Rendered(found.message(params, context), url)


def url_builder(base_url: str = "", *, external: bool = False) -> UrlBuilder:
    """Links as pages use them: url_for in a request; outside one (jobs, the shell), the app's URL map.
    With `base_url` (e.g. "https://gridpatrol.example.org/app") absolute links under it; `external` without it:
    absolute links to the request's host (and paths outside a request, where no host is known)."""
    app = current_app._get_current_object()
    if base_url:
        parts = urlsplit(base_url)
        adapter = app.url_map.bind(parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme or "https")
        return lambda endpoint, **values: adapter.build(endpoint, values, force_external=True)
    if has_request_context():
        return (lambda endpoint, **values: url_for(endpoint, _external=True, **values)) if external else url_for
    adapter = app.url_map.bind("localhost", script_name=app.config.get("APPLICATION_ROOT") or "/")
    return lambda endpoint, **values: adapter.build(endpoint, values)
