"""The main navigation: each domain registers its entries with the roles that may use them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple, Optional

from flask import current_app, request, url_for
from flask_babel import get_locale
from flask_login import current_user

from gridpatrol.core.roles import Role


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: object  # a lazy translated string
    roles: frozenset[Role]  # empty: every logged-in user
    order: int = 100


_registry: dict[str, NavItem] = {}


def register(endpoint: str, label: object, roles: tuple[Role, ...] = (), order: int = 100) -> None:
    _registry[endpoint] = NavItem(endpoint, label, frozenset(roles), order)


class NavLink(NamedTuple):
    url: str
    label: str
    endpoint: str


# Which site the links lead to (a site's URLs name it): (site id, site code), or None. Set by grids, which owns
# sites; core cannot import it.
_site_of_request: Callable[[], Optional[tuple[int, str]]] = lambda: None


def set_site_source(source: Callable[[], Optional[tuple[int, str]]]) -> None:
    global _site_of_request
    _site_of_request = source


def items_for_current_user() -> tuple[NavLink, ...]:
    """The links the current user's roles at the current site allow, in order; built once per (roles, language,
    mount point, site) for the life of the app, because every page shows them."""
    if not current_user.is_authenticated:
        return ()
    site = _site_of_request()
    roles = frozenset(current_user.roles_at(site[0]) if site else current_user.roles)
    key = (roles, str(get_locale()), request.script_root, site[1] if site else None)
    cache = current_app.extensions.setdefault("gridpatrol.navigation", {})
    links = cache.get(key)
    if links is None:
        visible = [i for i in _registry.values() if not i.roles or roles & i.roles]
        if site is None:  # no site yet (a fresh installation): only the pages shared by all sites
            visible = [i for i in visible if not current_app.url_map.is_endpoint_expecting(i.endpoint, "site")]
        links = cache[key] = tuple(NavLink(url_for(i.endpoint), str(i.label), i.endpoint)
                                   for i in sorted(visible, key=lambda i: (i.order, i.endpoint)))
    return links
