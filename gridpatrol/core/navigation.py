"""The main navigation: each domain registers its entries with the roles that may use them."""

from __future__ import annotations

from dataclasses import dataclass

from flask import url_for
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


def items_for_current_user() -> list[dict]:
    if not current_user.is_authenticated:
        return []
    visible = [i for i in _registry.values() if not i.roles or current_user.has_any_role(*i.roles)]
    return [
        {"url": url_for(i.endpoint), "label": str(i.label), "endpoint": i.endpoint}
        for i in sorted(visible, key=lambda i: (i.order, i.endpoint))
    ]
