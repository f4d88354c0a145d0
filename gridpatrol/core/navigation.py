"""The main navigation: each domain registers its entries with the roles that may use them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

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


def items_for_current_user() -> tuple[NavLink, ...]:
    """The links the current user's roles allow, in order; built once per (roles, language, mount point)
    for the life of the app, because every page shows them."""
    if not current_user.is_authenticated:
        return ()
    roles = frozenset(current_user.roles)
    key = (roles, str(get_locale()), request.script_root)
    cache = current_app.extensions.setdefault("gridpatrol.navigation", {})
    links = cache.get(key)
    if links is None:
        visible = [i for i in _registry.values() if not i.roles or roles & i.roles]
        links = cache[key] = tuple(NavLink(url_for(i.endpoint), str(i.label), i.endpoint)
                                   for i in sorted(visible, key=lambda i: (i.order, i.endpoint)))
    return links
