"""Why a ledger entry was booked, told from facts in the reader's language.

An entry's facts are read from what the ledger already stores — its rule code, source (type and number), months
and the entry it corrects — and from its source: the patrol's grid and day, the issue's grid, day and reject
reason; for a correction, the same facts of the entry it corrects. So every entry, old ones included, is told the
same way, and no sentence is stored: the `reason` column keeps the text written at booking (an English note for
the record), which no page or paper shows.

The words are the ledger's own, fixed per language here (like the printed form's in `points.export`), so a page and
the paper say the same thing and neither depends on the state of a translation; a correction tells the entry it
corrects the same way (from that entry's rule and source), and a rule code is never shown.

`load_facts` reads the facts of many entries in one statement; `describe(facts, locale)` tells one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Optional

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
SEVERITY = {"minor": ("一般", "minor"), "major": ("较大", "major"), "critical": ("重大", "critical")}
REJECT_REASONS = {"invalid": ("无效上报", "not a valid report"), "duplicate": ("重复上报", "a duplicate"),
                  "not_ours": ("不属本单位职责", "not our responsibility")}
PHRASES = {
    # (zh, en); {patrol} / {issue} are the source as `_source_text` tells it
    "patrol_on_time": ("{patrol}按时完成", "{patrol}, done on time"),
    "patrol_late": ("{patrol}逾时完成", "{patrol}, done late (within the grace period)"),
    "patrol_missed": ("{patrol}漏巡", "{patrol}, missed"),
    "issue_found": ("发现有效问题：{issue}，受理为{severity}问题", "Valid problem found: {issue}, accepted as {severity}"),
    "report_rejected": ("上报不予受理：{issue}，原因：{why}", "Report rejected: {issue}; reason: {why}"),
    "missed_in_own_grid": ("本网格问题由他人先发现：{issue}", "Problem in own grid first found by someone else: {issue}"),
    "patrol_missed_reversed": ("更正 {month} 第 {corrected} 条「{what}」：该巡查已按时完成，离线提交到达较晚",
                               "Corrects entry {corrected} of {month} (\"{what}\"): the patrol was done in time, its "
                               "offline submission arrived late"),
    "appeal_overturned": ("申诉（第 {appeal} 号）成立，更正 {month} 第 {corrected} 条「{what}」",
                          "Appeal no. {appeal} upheld: corrects entry {corrected} of {month} (\"{what}\")"),
    "correction": ("更正 {month} 第 {corrected} 条「{what}」", "Corrects entry {corrected} of {month} (\"{what}\")"),
    "manual": ("手工更正（第 {number} 号）", "Manual correction no. {number}"),
    "other": ("{what}", "{what}"),
    "moved": ("；事件发生在 {event_month}，该月已锁定，计入 {month}",
              "; the event was in {event_month}, which is closed, so it is booked in {month}"),
    "patrol": ("{grid}{day}的巡查（第 {number} 号）", "patrol no. {number} of {grid} on {day}"),
    "issue": ("{grid}的问题（第 {number} 号，{day}上报）", "problem no. {number} in {grid}, reported {day}"),
    "grid": ("{code} 网格", "grid {code}"),
    "no_grid": ("网格外", "no grid"),
    "unknown_day": ("", "an unknown day"),
}


def _pick(key: str, locale: str) -> str:
    zh, en = PHRASES[key]
    return zh if locale == "zh" else en


def _pair(table: dict[str, tuple[str, str]], key: Optional[str], locale: str) -> str:
    zh, en = table.get(key or "", (key or "—", key or "—"))
    return zh if locale == "zh" else en


def _day(day: dt.date, locale: str) -> str:
    return f"{day.year}年{day.month}月{day.day}日" if locale == "zh" else f"{day:%Y-%m-%d}"


def _source_text(source: Optional[Source], locale: str) -> str:
    if source is None:
        return ""
    grid = _pick("grid", locale).format(code=source.grid) if source.grid else _pick("no_grid", locale)
    day = _day(source.day, locale) if source.day else _pick("unknown_day", locale)
    if source.type in ("patrol", "issue"):
        return _pick(source.type, locale).format(grid=grid, day=day, number=source.id)
    return _pick("manual", locale).format(number=source.id)


def _corrected(facts: Facts, locale: str) -> str:
    """The corrected entry told from its own facts (its rule and source), as it reads in its own month."""
    if facts.corrects_id is None or facts.corrected_rule is None or facts.corrected_source is None:
        return ""
    month = facts.corrected_month or facts.month
    return describe(Facts(facts.corrects_id, facts.corrected_rule, -facts.points, month, month,
                          facts.corrected_source), locale)


def describe(facts: Facts, locale: str = "zh") -> str:
    """Why the entry was booked, in `locale` ("zh" or "en"): what happened, where, which patrol or problem, and
    for a correction which entry it corrects and why; the month it was moved to when its own month was closed."""
    locale = "en" if str(locale).lower().startswith("en") else "zh"
    code, source = facts.rule_code, facts.source
    patrol = issue = _source_text(source, locale)
    month = f"{facts.corrected_month:%Y-%m}" if facts.corrected_month else ""
    what = _corrected(facts, locale)
    if code in ("patrol_on_time", "patrol_late", "patrol_missed") and source.type == "patrol":
        text = _pick(code, locale).format(patrol=patrol)
    elif code.startswith("issue_found_") and source.type == "issue":
        severity = _pair(SEVERITY, code.removeprefix("issue_found_"), locale)
        text = _pick("issue_found", locale).format(issue=issue, severity=severity)
    elif code == "report_rejected" and source.type == "issue":
        text = _pick(code, locale).format(issue=issue, why=_pair(REJECT_REASONS, source.reject_reason, locale))
    elif code == "missed_in_own_grid" and source.type == "issue":
        text = _pick(code, locale).format(issue=issue)
    elif code == "patrol_missed_reversed" and facts.corrects_id is not None:
        text = _pick(code, locale).format(corrected=facts.corrects_id, month=month, what=what)
    elif code == "appeal_overturned" and facts.corrects_id is not None:
        text = _pick(code, locale).format(appeal=source.id, corrected=facts.corrects_id, month=month, what=what)
    elif facts.corrects_id is not None:
        text = _pick("correction", locale).format(corrected=facts.corrects_id, month=month, what=what)
    else:  # a rule added later: tell its source
        text = _pick("other", locale).format(what=_source_text(source, locale))
    if facts.month != facts.event_month:
        text += _pick("moved", locale).format(event_month=f"{facts.event_month:%Y-%m}", month=f"{facts.month:%Y-%m}")
    return text
