"""The site is part of every request: `/s/<site>/…` names the compound (办公区) a page belongs to.

A URL rule with a `<site>` part is a site's page. Before its view runs, the site is loaded once into `g.site`,
the user's right to enter it is checked (a role given for that site or for all sites; a refusal is a 403 in the
audit log), and times are shown in the site's zone. `url_for` fills `site` in from `g.site`, so templates and
views never pass it; on pages shared by all sites (users, standards, notifications) it is the user's current
site: the last one they opened, else their first. Views load objects with `core.access.load`, which answers
404 for an object of another site and 403 (audited) when the user may not have it.
"""

from __future__ import annotations

from typing import Optional

from flask import Flask, abort, current_app, g, has_request_context, request, session, url_for
from flask_login import current_user
from sqlalchemy import bindparam, func, select

from gridpatrol.accounts import services as accounts
from gridpatrol.core import query
from gridpatrol.core.errors import NotAllowed
from gridpatrol.extensions import db
from gridpatrol.grids.models import Site

SESSION_KEY = "site"


def init_app(app: Flask) -> None:
    app.url_value_preprocessor(_enter_site)
    app.url_defaults(_fill_site)
    # The site of the URL comes with the logged-in user, in the user loader's statement; and on pages (GET), how many
    # sites there are: with only one, a user of all sites gets no switcher and no query for the list of sites.
    accounts.load_with_user(accounts.LoadedWithUser(
        "site", add=lambda statement: statement.add_columns(Site).outerjoin(Site, Site.code == bindparam("site_code")),
        wanted=lambda: {"site_code": g.site_code_in_url} if "site_code_in_url" in g else None))
    accounts.load_with_user(accounts.LoadedWithUser(
        "site_count", add=lambda statement: statement.add_columns(_SITE_COUNT), wanted=_on_a_page))


_SITE_COUNT = select(func.count()).select_from(Site).scalar_subquery()


def _on_a_page() -> Optional[dict]:
    """A GET renders a page (its header shows the site switcher); other methods redirect or answer JSON."""
    return {} if has_request_context() and request.method in ("GET", "HEAD") else None


def _enter_site(endpoint: Optional[str], values: Optional[dict]) -> None:
    if not values or "site" not in values:
        return
    code = values.pop("site")
    g.site_code_in_url = code  # read by the user loader, which fetches the site in the user's statement
    site = accounts.loaded_with_user("site") if current_user.is_authenticated else accounts.NOT_LOADED
    if site is accounts.NOT_LOADED:  # no one logged in, or the user was loaded before this (no site with them)
        site = db.session.scalar(select(Site).where(Site.code == code))
    if site is None:
        abort(404)
    if current_user.is_authenticated and not current_user.may_enter_site(site.id):
        # g.site stays unset: the refusal is not answered as a page of that site.
        raise NotAllowed(f"site {site.code} is not one of this user's sites")
    g.site = site
    g.site_timezone = site.timezone
    if session.get(SESSION_KEY) != site.code and current_user.is_authenticated:
        session[SESSION_KEY] = site.code


def _fill_site(endpoint: str, values: dict) -> None:
    if "site" in values or not _expects_site(endpoint):
        return
    site = current_site_or_none()
    if site is not None:
        values["site"] = site.code


def _expects_site(endpoint: str) -> bool:
    cache = current_app.extensions.setdefault("gridpatrol.site_endpoints", {})
    expects = cache.get(endpoint)
    if expects is None:
        expects = cache[endpoint] = current_app.url_map.is_endpoint_expecting(endpoint, "site")
    return expects


def home_site() -> Optional[Site]:
    """The site of a page shared by all sites: the user's last site if they still may enter it, else their first."""
    if "home_site" in g:
        return g.home_site
    g.home_site = None
    if current_user.is_authenticated:
        sites = sites_of(current_user)
        last = session.get(SESSION_KEY)
        g.home_site = next((s for s in sites if s.code == last), next(iter(sites), None))
    return g.home_site


def sites_of(user) -> list[Site]:
    """The sites a user works at, by code (every site for a role given for all sites)."""
    ids = user.site_ids()
    query = select(Site).order_by(Site.code)
    if ids is not None:
        query = query.where(Site.id.in_(sorted(ids)))
    return list(db.session.scalars(query))


def switchable_sites() -> list[Site]:
    """For the site switcher in the page header: shown only to users with more than one site."""
    if not current_user.is_authenticated:
        return []
    if "switchable_sites" not in g:
        g.switchable_sites = sites_of(current_user) if _may_have_several_sites(current_user) else []
    return g.switchable_sites if len(g.switchable_sites) > 1 else []


def _may_have_several_sites(user) -> bool:
    ids = user.site_ids()
    if ids is not None:
        return len(ids) > 1
    count = accounts.loaded_with_user("site_count")  # a user of all sites: are there several?
    return count is accounts.NOT_LOADED or count > 1


def current_site_or_none() -> Optional[Site]:
    """The site of this request (a site's page), or the user's current site on a shared page; None without one."""
    return g.get("site") or home_site()


def site_page_url_for_endpoint(endpoint: str, site: Site) -> Optional[str]:
    """The same page on another site, for the switcher; None when the page is not a site's page."""
    if not endpoint or not _expects_site(endpoint) or request.view_args is None:
        return None
    if any(k != "site" for k in request.view_args):  # a page of one object: go to the other site's home
        return None
    return url_for(endpoint, site=site.code, **query.passed_on(request.args))
