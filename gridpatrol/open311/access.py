"""Whose site, and who asks: the jurisdiction (a site code) and the api_key (a personal API token).

`jurisdiction_id` is the site's code (`TEST`, `SISHUI` …). The spec lets a server of one jurisdiction do without it:
with exactly one site it may be left out; with several, leaving it out is a 400 and an unknown code a 404. The site
found becomes `g.site`, so the domains' role checks and queries read this site as they do on the site's pages.

The api_key is a token from `gridpatrol tokens create` (or the user's account page), sent as the `api_key`
argument or as `Authorization: Bearer …` (which keeps it out of URLs and so out of access logs). It is checked
on every request (`accounts.tokens.user_for_token`): a revoked or expired token, or one of a deactivated user, is
refused from the next request on. Only the token authenticates here: a browser's session never does, since this
blueprint takes no CSRF token. Every refusal is a 403 in the spec's format and in the audit log.
"""

from __future__ import annotations

import string
from typing import Optional

from flask import g, request
from flask_babel import gettext as _
from sqlalchemy import select

from gridpatrol.accounts import tokens
from gridpatrol.accounts.models import User
from gridpatrol.core.errors import permission_denied
from gridpatrol.extensions import db
from gridpatrol.grids.models import Site
from gridpatrol.open311.params import Open311Error, Params, shown

_SITE_CODE_CHARS = set(string.ascii_uppercase + string.digits + "-_")
MAX_SITE_CODE = 20


def site_for(params: Params) -> Site:
    """The site `jurisdiction_id` names (or the only one), set as this request's site."""
    code = params.text("jurisdiction_id", max_chars=200)
    if code is None:
        sites = list(db.session.scalars(select(Site).order_by(Site.id).limit(2)))
        if len(sites) != 1:
            raise Open311Error(400, _("jurisdiction_id was not provided: this server serves several sites; give "
                                      "the site's code."))
        site = sites[0]
    else:
        site = None
        wanted = code.upper()
        if len(wanted) <= MAX_SITE_CODE and set(wanted) <= _SITE_CODE_CHARS:
            site = db.session.scalar(select(Site).where(Site.code == wanted))
        if site is None:
            raise Open311Error(404, _("jurisdiction_id %(code)s was not found.", code=shown(code)))
    g.site = site
    g.site_timezone = site.timezone
    return site


def api_key(params: Params) -> Optional[str]:
    """The token presented: the `Authorization: Bearer` header, else the `api_key` argument."""
    return tokens.bearer(request) or params.text("api_key", max_chars=200)


def acting_user(params: Params, site: Site) -> User:
    """The api_key's user, who must work at `site` (any role there, as for the site's pages)."""
    token = api_key(params)
    if token is None:
        deny(None, "open311: no api_key")
        raise Open311Error(403, _("api_key is missing: this request needs a personal API token."))
    user = tokens.user_for_token(token)
    if user is None:
        deny(None, "open311: api_key not live")
        raise Open311Error(403, _("Invalid api_key: it is unknown, revoked or expired, or its user is "
                                  "deactivated."))
    g.open311_user = user
    if not user.may_enter_site(site.id):
        deny(user, f"open311: site {site.code} is not one of this user's sites")
        raise Open311Error(403, _("The api_key's user does not work at site %(code)s.", code=site.code))
    return user


def deny(user: Optional[User], reason: str) -> None:
    """Record a refusal in the audit log (the caller answers the 403); `user` None: the acting user, if known."""
    permission_denied.send(None, user=user or g.get("open311_user"), endpoint=request.endpoint, path=request.path,
                           method=request.method, reason=reason)
