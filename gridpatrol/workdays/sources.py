"""Where a year's working days come from when the site says nothing: the official schedule or the statutory rules.

- **package**: the `chinesecalendar` package, which follows the State Council's yearly notice (国务院办公厅关于
  部分节假日安排的通知) with its make-up working days (调休). It knows the years it was released for.
- **imported**: what an admin entered from the notice for a year the package does not know yet
  (`workdays.notice`, stored in `official_calendar_days`).
- **provisional**: for a year nobody has given, the statutory holidays (全国年节及纪念日放假办法, as revised in
  2024: 元旦 1 day, 春节 4 days from New Year's Eve, 清明 1, 劳动节 2, 端午 1, 中秋 1, 国庆 3) computed by the
  `holidays` package's China rules, which compute the lunar holidays (春节, 清明, 端午, 中秋) and the days in lieu
  of holidays falling on a weekend. The notice usually adds make-up working days and bridges that no rule
  predicts, so every provisional day is shown as such until the year is official.

We use `holidays` (python-holidays, maintained, MIT, no network) rather than a bare lunar-date library because
it already encodes the statutory list and its revisions; it has no data of its own for the future notices,
which is exactly the gap the provisional mark names.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
from typing import Optional

import chinese_calendar
import holidays


class DaySource(str, enum.Enum):
    SITE = "site"  # the site's own override
    PACKAGE = "package"  # the official schedule, from the chinesecalendar package
    IMPORTED = "imported"  # the official schedule, entered by an admin from the State Council's notice
    PROVISIONAL = "provisional"  # computed from the statutory rules: not yet official


# The statutory holidays by the names the notice uses, with the package's English names mapped onto them.
HOLIDAY_NAMES_ZH = ("元旦", "春节", "清明节", "劳动节", "端午节", "中秋节", "国庆节")
_PACKAGE_NAMES = {
    "New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节", "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节", "Mid-autumn Festival": "中秋节", "National Day": "国庆节",
    "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}


def package_covers(year: int) -> bool:
    """Does the chinesecalendar package hold the official schedule of `year`?"""
    return _package_covers(year)


@functools.lru_cache(maxsize=256)
def _package_covers(year: int) -> bool:
    try:
        chinese_calendar.is_workday(dt.date(year, 6, 1))
        return True
    except NotImplementedError:
        return False


def package_day(day: dt.date) -> tuple[bool, Optional[str]]:
    """(working day?, the holiday's name in Chinese or None) from the package; the year must be covered."""
    is_workday = chinese_calendar.is_workday(day)
    holiday = chinese_calendar.holidays.get(day) if not is_workday else chinese_calendar.workdays.get(day)
    name = _PACKAGE_NAMES.get(holiday, holiday) if holiday is not None else None
    return is_workday, name


@functools.lru_cache(maxsize=64)
def provisional_rest_days(year: int) -> dict[dt.date, str]:
    """The statutory holidays of `year` and their days in lieu, by the `holidays` package's China rules, with
    their names in Chinese. Weekends are rest days besides these; no make-up working day is predicted."""
    table = holidays.China(years=year, language="zh_CN")
    return {day: name for day, name in sorted(table.items()) if day.year == year}


def provisional_workday(day: dt.date) -> tuple[bool, Optional[str]]:
    name = provisional_rest_days(day.year).get(day)
    if name is not None:
        return False, name
    return day.weekday() < 5, None
