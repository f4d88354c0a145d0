"""Why a ledger entry was booked, told from facts in the reader's language.

An entry's facts are read from what the ledger already stores — its rule code, source (type and number), months
and the entry it corrects — and from its source: the patrol's grid and day, the issue's grid, day and reject
reason; for a correction, the same facts of the entry it corrects. So every entry, old ones included, is told the
same way, and no sentence is stored: the `reason` column keeps the text written at booking (an English note for
the record), which no page or paper shows.

The words are English msgids translated by the app's one path, Flask-Babel's gettext and the Chinese catalogue
(gridpatrol/translations; tests/core/test_translations.py keeps it complete), so a page and the paper
(`points.export`) say the same thing. Each sentence is one msgid with named placeholders; its Chinese is the
office's wording (the tests in tests/points assert it). A correction tells the entry it corrects the same way
(from that entry's rule and source), and a rule code is never shown.

`load_facts` reads the facts of many entries in one statement; `describe(facts)` tells one in the current locale,
`describe(facts, locale)` in the given one (`speaking(locale)`: a workbook enters it once for all its entries).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterator, Optional

from flask import has_app_context
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from gridpatrol.core.time import local_day
from gridpatrol.grids.models import Grid
from gridpatrol.points.models import PointsEntry

LOCALES = ("zh", "en")


@dataclass(frozen=True)
class Source:
    """What an entry was booked for: a patrol (its grid and local day), an issue (its grid, the local day it was
    reported, why it was rejected), an appeal or a manual correction (only their number)."""

    type: str
    id: int
    grid: Optional[str] = None
    day: Optional[dt.date] = None
    reject_reason: Optional[str] = None


@dataclass(frozen=True)
class Facts:
    entry_id: int
    rule_code: str
    points: int
    month: dt.date  # booked in
    event_month: dt.date
    source: Source
    corrects_id: Optional[int] = None
    corrected_rule: Optional[str] = None  # the corrected entry's rule code, month and source
    corrected_month: Optional[dt.date] = None
    corrected_source: Optional[Source] = None


# --- reading -------------------------------------------------------------------------------------------------
def load_facts(session: Session, *where: Any, timezone: str) -> dict[int, Facts]:
    """The facts of the entries matching `where` (conditions on `PointsEntry`), by entry id, in one statement.
    `timezone` is the site's: a patrol's day is its window's local day, an issue's the day it was reported."""
    from gridpatrol.issues.models import Issue
    from gridpatrol.patrols.models import Patrol

    corrected = aliased(PointsEntry)
    patrol, issue, grid = aliased(Patrol), aliased(Issue), aliased(Grid)
    c_patrol, c_issue, c_grid = aliased(Patrol), aliased(Issue), aliased(Grid)

    def joins(query, entry, p, i, g):
        return (query
                .outerjoin(p, and_(entry.source_type == "patrol", p.id == entry.source_id))
                .outerjoin(i, and_(entry.source_type == "issue", i.id == entry.source_id))
                .outerjoin(g, g.id == func.coalesce(p.grid_id, i.grid_id)))

    query = select(PointsEntry.id, PointsEntry.rule_code, PointsEntry.points, PointsEntry.month,
                   PointsEntry.event_month, PointsEntry.source_type, PointsEntry.source_id, PointsEntry.corrects_id,
                   patrol.window_start, issue.reported_at, issue.reject_reason, grid.code,
                   corrected.rule_code, corrected.month, corrected.source_type, corrected.source_id,
                   c_patrol.window_start, c_issue.reported_at, c_issue.reject_reason, c_grid.code)
    query = joins(query.select_from(PointsEntry), PointsEntry, patrol, issue, grid)
    query = query.outerjoin(corrected, corrected.id == PointsEntry.corrects_id)
    query = joins(query, corrected, c_patrol, c_issue, c_grid).where(*where)
    found: dict[int, Facts] = {}
    for row in session.execute(query):
        (entry_id, rule_code, points, month, event_month, source_type, source_id, corrects_id,
         window_start, reported_at, reject_reason, grid_code,
         c_rule, c_month, c_type, c_id, c_window_start, c_reported_at, c_reject_reason, c_grid_code) = row
        source = _source(source_type, source_id, window_start, reported_at, reject_reason, grid_code, timezone)
        c_source = (_source(c_type, c_id, c_window_start, c_reported_at, c_reject_reason, c_grid_code, timezone)
                    if c_type is not None else None)
        found[entry_id] = Facts(entry_id, rule_code, points, month, event_month, source, corrects_id,
                                c_rule, c_month, c_source)
    return found


def _source(kind: str, number: int, window_start: Optional[dt.datetime], reported_at: Optional[dt.datetime],
            reject_reason: Optional[str], grid: Optional[str], timezone: str) -> Source:
    when = window_start if kind == "patrol" else reported_at if kind == "issue" else None
    return Source(kind, number, grid, local_day(when, timezone) if when is not None else None,
                  reject_reason if kind == "issue" else None)


# --- telling ---------------------------------------------------------------------------------------------------
REJECT_REASONS = {"invalid": _l("not a valid report"), "duplicate": _l("a duplicate"),
                  "not_ours": _l("not our responsibility")}


@contextlib.contextmanager
def speaking(locale: str) -> Iterator[str]:
    """Words in `locale` ("zh" or "en"; "en_US" reads as English, anything else as Chinese) inside the block,
    whatever the reader's page is in: Flask-Babel's `force_locale`. The words are the catalogue's, so there must be
    an app: outside one every text would silently stay English."""
    locale = "en" if str(locale).lower().startswith("en") else "zh"
    if not has_app_context():
        raise RuntimeError("the ledger's and the printed table's words come from the app's catalogue: "
                           "tell them inside an app context")
    with force_locale(locale):
        yield locale


def _day(day: dt.date) -> str:
    return _("%(year)d-%(month)02d-%(day)02d", year=day.year, month=day.month, day=day.day)


def _source_text(source: Optional[Source]) -> str:
    if source is None:
        return ""
    grid = _("grid %(code)s", code=source.grid) if source.grid else _("no grid")
    if source.type == "patrol":
        if source.day is None:
            return _("patrol no. %(number)d of %(grid)s on an unknown day", number=source.id, grid=grid)
        return _("patrol no. %(number)d of %(grid)s on %(day)s", number=source.id, grid=grid, day=_day(source.day))
    if source.type == "issue":
        if source.day is None:
            return _("problem no. %(number)d in %(grid)s, reported an unknown day", number=source.id, grid=grid)
        return _("problem no. %(number)d in %(grid)s, reported %(day)s", number=source.id, grid=grid,
                 day=_day(source.day))
    return _("Manual correction no. %(number)d", number=source.id)


def _found(severity: str, issue: str) -> str:
    if severity == "minor":
        return _("Valid problem found: %(issue)s, accepted as minor", issue=issue)
    if severity == "major":
        return _("Valid problem found: %(issue)s, accepted as major", issue=issue)
    if severity == "critical":
        return _("Valid problem found: %(issue)s, accepted as critical", issue=issue)
    # a severity added later reads as its code
    return _("Valid problem found: %(issue)s, accepted as %(severity)s", issue=issue, severity=severity or "—")


def _corrected(facts: Facts) -> str:
    """The corrected entry told from its own facts (its rule and source), as it reads in its own month."""
    if facts.corrects_id is None or facts.corrected_rule is None or facts.corrected_source is None:
        return ""
    month = facts.corrected_month or facts.month
    return _tell(Facts(facts.corrects_id, facts.corrected_rule, -facts.points, month, month,
                       facts.corrected_source))


def describe(facts: Facts, locale: Optional[str] = None) -> str:
    """Why the entry was booked: what happened, where, which patrol or problem, and for a correction which entry
    it corrects and why; the month it was moved to when its own month was closed. In the current locale, or in
    `locale` ("zh" or "en") when one is given. A workbook's export sets its locale once (`speaking`) and tells
    its thousands of entries without one."""
    if locale is None:
        return _tell(facts)
    with speaking(locale):
        return _tell(facts)


def _tell(facts: Facts) -> str:
    code, source = facts.rule_code, facts.source
    month = f"{facts.corrected_month:%Y-%m}" if facts.corrected_month else ""
    if code == "patrol_on_time" and source.type == "patrol":
        text = _("%(patrol)s, done on time", patrol=_source_text(source))
    elif code == "patrol_late" and source.type == "patrol":
        text = _("%(patrol)s, done late (within the grace period)", patrol=_source_text(source))
    elif code == "patrol_missed" and source.type == "patrol":
        text = _("%(patrol)s, missed", patrol=_source_text(source))
    elif code.startswith("issue_found_") and source.type == "issue":
        text = _found(code.removeprefix("issue_found_"), _source_text(source))
    elif code == "report_rejected" and source.type == "issue":
        why = REJECT_REASONS.get(source.reject_reason or "")
        text = _("Report rejected: %(issue)s; reason: %(why)s", issue=_source_text(source),
                 why=str(why) if why is not None else (source.reject_reason or "—"))
    elif code == "missed_in_own_grid" and source.type == "issue":
        text = _("Problem in own grid first found by someone else: %(issue)s", issue=_source_text(source))
    elif code == "patrol_missed_reversed" and facts.corrects_id is not None:
        text = _("Corrects entry %(corrected)d of %(month)s (\"%(what)s\"): the patrol was done in time, its offline "
                 "submission arrived late", corrected=facts.corrects_id, month=month, what=_corrected(facts))
    elif code == "appeal_overturned" and facts.corrects_id is not None:
        text = _("Appeal no. %(appeal)d upheld: corrects entry %(corrected)d of %(month)s (\"%(what)s\")",
                 appeal=source.id, corrected=facts.corrects_id, month=month, what=_corrected(facts))
    elif facts.corrects_id is not None:
        text = _("Corrects entry %(corrected)d of %(month)s (\"%(what)s\")", corrected=facts.corrects_id,
                 month=month, what=_corrected(facts))
    else:  # a rule added later: tell its source
        text = _source_text(source)
    if facts.month != facts.event_month:
        text = _("%(text)s; the event was in %(event_month)s, which is closed, so it is booked in %(month)s",
                 text=text, event_month=f"{facts.event_month:%Y-%m}", month=f"{facts.month:%Y-%m}")
    return text
