"""The State Council's yearly holiday notice (国务院办公厅关于某年部分节假日安排的通知) as a small file.

An admin types the notice into a TOML file (docs/calendar.md shows a whole one) and imports it with the
calendar page or `gridpatrol calendar import FILE`; it is previewed before it applies. The file:

    year = 2027
    notice = "国办发明电〔2026〕12号"      # optional: the notice's reference

    [[holiday]]
    name = "春节"
    from = 2027-02-05                     # first and last day off, inclusive
    to = 2027-02-12
    workdays = [2027-02-14, 2027-02-20]   # make-up working days (调休上班), weekends; optional

One `[[holiday]]` per holiday of the notice. Every date lies in `year`; a holiday lasts 1 to 15 days; a make-up
working day is a Saturday or a Sunday; no day is both off and worked; no key other than these. The file is
read whole and refused whole: `NoticeRefused` lists every problem found, each in the reader's language.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from typing import Any, Optional

from flask_babel import gettext as _

from gridpatrol.core.errors import DomainError

MAX_BYTES = 20_000  # a notice has seven holidays: a few hundred bytes
MAX_HOLIDAY_DAYS = 15
_TOP_KEYS = {"year", "notice", "holiday"}
_HOLIDAY_KEYS = {"name", "from", "to", "workdays"}


class NoticeRefused(DomainError):
    """The notice file was refused; `problems` lists every reason, in the reader's language."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__(_("The holiday notice was not imported: %(first)s", first=self.problems[0])
                         if len(self.problems) == 1 else
                         _("The holiday notice was not imported: %(count)d problems.", count=len(self.problems)))


@dataclass(frozen=True)
class Holiday:
    name: str
    first: dt.date
    last: dt.date
    workdays: tuple[dt.date, ...] = ()

    @property
    def days(self) -> list[dt.date]:
        return [self.first + dt.timedelta(days=n) for n in range((self.last - self.first).days + 1)]


@dataclass(frozen=True)
class Notice:
    year: int
    reference: Optional[str]
    holidays: tuple[Holiday, ...] = field(default_factory=tuple)

    def days(self) -> dict[dt.date, tuple[bool, str]]:
        """Every day the notice sets apart: day → (working day?, the holiday's name)."""
        found: dict[dt.date, tuple[bool, str]] = {}
        for holiday in self.holidays:
            for day in holiday.days:
                found[day] = (False, holiday.name)
            for day in holiday.workdays:
                found[day] = (True, holiday.name)
        return dict(sorted(found.items()))


def parse(data: bytes | str) -> Notice:
    """Read a notice file; raise `NoticeRefused` with every problem, or return the notice."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > MAX_BYTES:
        raise NoticeRefused([_("The file is larger than %(kb)d KB: a holiday notice is much smaller.",
                               kb=MAX_BYTES // 1000)])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise NoticeRefused([_("The file is not UTF-8 text.")]) from None
    if "\x00" in text:
        raise NoticeRefused([_("The file is not UTF-8 text.")])
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise NoticeRefused([_("The file is not valid TOML: %(error)s", error=str(error))]) from None
    problems: list[str] = []
    unknown = sorted(set(document) - _TOP_KEYS)
    if unknown:
        problems.append(_("Unknown key(s): %(keys)s.", keys=", ".join(unknown)))
    year = document.get("year")
    if not isinstance(year, int) or isinstance(year, bool) or not 2000 <= year <= 2100:
        raise NoticeRefused(problems + [_("Give the year of the notice: year = 2027 (2000 to 2100).")])
    reference = document.get("notice")
    if reference is not None and (not isinstance(reference, str) or len(reference) > 200):
        problems.append(_("The notice's reference is text of at most 200 characters."))
        reference = None
    entries = document.get("holiday")
    if not isinstance(entries, list) or not entries:
        raise NoticeRefused(problems + [_("The file lists no holiday: add a [[holiday]] for each one.")])
    holidays: list[Holiday] = []
    for number, entry in enumerate(entries, start=1):
        holiday = _holiday(number, entry, year, problems)
        if holiday is not None:
            holidays.append(holiday)
    _check_overlaps(holidays, problems)
    if problems:
        raise NoticeRefused(problems)
    return Notice(year, reference.strip() or None if reference else None,
                  tuple(sorted(holidays, key=lambda h: h.first)))


def _holiday(number: int, entry: Any, year: int, problems: list[str]) -> Optional[Holiday]:
    if not isinstance(entry, dict):
        problems.append(_("Holiday %(n)d is not a [[holiday]] table.", n=number))
        return None
    unknown = sorted(set(entry) - _HOLIDAY_KEYS)
    if unknown:
        problems.append(_("Holiday %(n)d: unknown key(s) %(keys)s.", n=number, keys=", ".join(unknown)))
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 60:
        problems.append(_("Holiday %(n)d needs a name of at most 60 characters.", n=number))
        return None
    name = name.strip()
    first, last = entry.get("from"), entry.get("to", entry.get("from"))
    if not _is_date(first) or not _is_date(last):
        problems.append(_("%(name)s: give its first and last day off as dates (from = 2027-02-05).", name=name))
        return None
    if first.year != year or last.year != year:
        problems.append(_("%(name)s: its days are not in %(year)d.", name=name, year=year))
        return None
    if last < first or (last - first).days + 1 > MAX_HOLIDAY_DAYS:
        problems.append(_("%(name)s: the last day off comes before the first or the holiday is longer than "
                          "%(max)d days.", name=name, max=MAX_HOLIDAY_DAYS))
        return None
    workdays = entry.get("workdays", [])
    if not isinstance(workdays, list) or not all(_is_date(day) for day in workdays):
        problems.append(_("%(name)s: the make-up working days are a list of dates (workdays = [2027-02-14]).",
                          name=name))
        return None
    for day in workdays:
        if day.year != year:
            problems.append(_("%(name)s: its days are not in %(year)d.", name=name, year=year))
            return None
        if day.weekday() < 5:
            problems.append(_("%(name)s: the make-up working day %(day)s is not a Saturday or a Sunday.",
                              name=name, day=day.isoformat()))
        if first <= day <= last:
            problems.append(_("%(name)s: %(day)s is both a day off and a working day.", name=name,
                              day=day.isoformat()))
    return Holiday(name, first, last, tuple(sorted(set(workdays))))


def _is_date(value: Any) -> bool:
    return isinstance(value, dt.date) and not isinstance(value, dt.datetime)


def _check_overlaps(holidays: list[Holiday], problems: list[str]) -> None:
    seen: dict[dt.date, str] = {}
    for holiday in holidays:
        for day in [*holiday.days, *holiday.workdays]:
            other = seen.get(day)
            if other is not None:
                problems.append(_("%(day)s is given twice (%(a)s and %(b)s).", day=day.isoformat(), a=other,
                                  b=holiday.name))
            seen[day] = holiday.name
