"""A grid's status on the map (红 overdue, 黄 attention, 灰 uncovered, 绿 ok): facts from the domains above, one rule.

Grids is a low floor: it cannot ask patrols or issues what happened in a grid. Those domains register a *facts
provider* here (in their `init_app`); the map asks every provider for the facts of all grids of one level at
once, merges them and applies `RULES`, the one table that decides the colour. The legend is drawn from the same
table, so the page cannot say one thing and paint another.

A provider is `fn(session, query) -> {grid_id: GridFacts}` for `query: FactsQuery`; it must answer with a few
set-based queries for all `query.grid_ids` (a level may hold 200 grids), and may leave out grids it has
nothing to say about. Facts from several providers for one grid are merged field by field (`GridFacts.merge`).

A grid without a leader keeps the colour its facts give; the map marks it besides with a dashed red outline
(class `no-leader`), so "nobody is responsible" and "what happened there" are both visible.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from gridpatrol.core.time import day_bounds, local_day
from gridpatrol.grids.models import Site

DEFAULT_UNCOVERED_AFTER_DAYS = 7


@dataclass(frozen=True)
class GridFacts:
    """What the domains above grids know about one grid at `now`.

    * overdue_issues: open issues past their deadline (issues);
    * open_issues: open issues, overdue ones included (issues);
    * missed_today: patrols of the site's today that count as missed at `now` (patrols);
    * last_patrolled_at: the latest completion of a submitted patrol at or after `FactsQuery.covered_since`,
      None when there is none in that period (patrols). Older completions are not looked for: they would not
      change the status, and looking for them would read the grid's whole history.
    """

    overdue_issues: int = 0
    open_issues: int = 0
    missed_today: int = 0
    last_patrolled_at: Optional[dt.datetime] = None

    def merge(self, other: "GridFacts") -> "GridFacts":
        """Counts add up; the last patrol is the later of the two."""
        last = [t for t in (self.last_patrolled_at, other.last_patrolled_at) if t is not None]
        return GridFacts(overdue_issues=self.overdue_issues + other.overdue_issues,
                         open_issues=self.open_issues + other.open_issues,
                         missed_today=self.missed_today + other.missed_today,
                         last_patrolled_at=max(last) if last else None)


@dataclass(frozen=True)
class FactsQuery:
    """What a provider is asked: the site, the grids (ids, one level) and the moments its facts are about."""

    site: Site
    grid_ids: tuple[int, ...]
    now: dt.datetime
    day_start: dt.datetime  # the site's today, [day_start, day_end) in its zone
    day_end: dt.datetime
    covered_since: dt.datetime  # a grid patrolled at or after this is covered (now − the site's N days)


FactsProvider = Callable[[Session, FactsQuery], dict[int, GridFacts]]
_providers: dict[str, FactsProvider] = {}


def register_status_facts(name: str, provider: FactsProvider) -> None:
    """Register (or replace, on a second app) the facts provider of a domain, by its name."""
    _providers[name] = provider


class MapStatus(str, enum.Enum):
    """The colours of the map; each is the CSS class `status-<value>` (grids/static … app.css)."""

    OVERDUE = "overdue"  # red
    ATTENTION = "attention"  # amber
    UNCOVERED = "uncovered"  # grey
    OK = "ok"  # green


@dataclass(frozen=True)
class Rule:
    status: MapStatus
    applies: Callable[[GridFacts, FactsQuery], bool]
    label: object  # the legend's words (lazy)


def _uncovered(facts: GridFacts, query: FactsQuery) -> bool:
    return facts.last_patrolled_at is None or facts.last_patrolled_at < query.covered_since


# The colour rule, first match wins. The legend lists these rows in this order.
RULES: tuple[Rule, ...] = (
    Rule(MapStatus.OVERDUE, lambda f, q: f.overdue_issues > 0, _l("Red: an overdue issue")),
    Rule(MapStatus.ATTENTION, lambda f, q: f.open_issues > 0 or f.missed_today > 0,
         _l("Amber: an open issue, or a patrol missed today")),
    Rule(MapStatus.UNCOVERED, _uncovered, _l("Grey: not patrolled in the last %(days)d days")),
    Rule(MapStatus.OK, lambda f, q: True, _l("Green: patrolled, nothing open")),
)


def status_of(facts: GridFacts, query: FactsQuery) -> MapStatus:
    return next(rule.status for rule in RULES if rule.applies(facts, query))


def legend(site: Site) -> list[tuple[str, str]]:
    """(status, words) for each rule, in the rule table's order."""
    days = uncovered_after_days(site)
    return [(rule.status.value, str(rule.label) % {"days": days}) for rule in RULES]


def uncovered_after_days(site: Site) -> int:
    return site.uncovered_after_days or DEFAULT_UNCOVERED_AFTER_DAYS


def facts_query(site: Site, grid_ids: Sequence[int], now: dt.datetime) -> FactsQuery:
    day_start, day_end = day_bounds(local_day(now, site.timezone), site.timezone)
    return FactsQuery(site=site, grid_ids=tuple(grid_ids), now=now, day_start=day_start, day_end=day_end,
                      covered_since=now - dt.timedelta(days=uncovered_after_days(site)))


def facts_for(session: Session, query: FactsQuery) -> dict[int, GridFacts]:
    """Every grid's facts from every registered provider, merged."""
    merged = {grid_id: GridFacts() for grid_id in query.grid_ids}
    if not query.grid_ids:
        return merged
    for provider in _providers.values():
        for grid_id, facts in provider(session, query).items():
            if grid_id in merged:
                merged[grid_id] = merged[grid_id].merge(facts)
    return merged


def statuses(session: Session, site: Site, grid_ids: Sequence[int], now: dt.datetime) -> dict[int, MapStatus]:
    """grid id → its map status at `now`, for the grids given (one level of one site)."""
    query = facts_query(site, grid_ids, now)
    return {grid_id: status_of(facts, query) for grid_id, facts in facts_for(session, query).items()}

