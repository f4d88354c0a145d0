"""Sections of the grid page contributed by the domains above grids (patrols, issues, points).

Grids cannot import those domains, so each registers a `Section` here in its `init_app`: a function that, for
the user looking at the grid, returns the template context of its section, or None when that user may not see
it (each domain applies its own per-object rules); and the template fragment that draws it. The grid page
renders the sections in `order`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Callable, Optional

from flask import render_template
from markupsafe import Markup
from sqlalchemy.orm import Session

from gridpatrol.accounts.models import User
from gridpatrol.grids.models import Grid

SectionContext = Optional[dict[str, Any]]


@dataclass(frozen=True)
class Section:
    name: str
    order: int
    build: Callable[[Session, User, Grid, dt.datetime], SectionContext]
    template: str  # rendered with the build's context plus `grid`


_sections: dict[str, Section] = {}


def register_section(section: Section) -> None:
    """Register (or replace, on a second app) a section of the grid page, by its name."""
    _sections[section.name] = section


def render_sections(session: Session, user: User, grid: Grid, now: dt.datetime) -> list[Markup]:
    """The sections this user may see on this grid's page, rendered, in order."""
    out = []
    for section in sorted(_sections.values(), key=lambda s: (s.order, s.name)):
        context = section.build(session, user, grid, now)
        if context is not None:
            out.append(Markup(render_template(section.template, grid=grid, **context)))
    return out
