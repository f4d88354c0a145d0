"""The one ranking of grid leaders: by points per grid held, ties sharing a rank (并列), a tie listed by pinyin.

- **points per grid**: a month's points divided by the number of grids the person held as leader at some moment
  of the month (a leader of two grids is compared on the same footing as a leader of one); a quarter's, half-year's
  or year's is the sum of its months'. Compared exactly (as fractions), shown rounded to two decimals
  (`per_grid_display`).
- **rank**: competition ranking, highest first; equal points per grid share a rank and the next rank skips
  (1, 1, 3: 并列第一, then third).
- **order within a tie**: the name's pinyin, as a Chinese list is ordered (张 zhāng after 王 wáng), then the
  username; names in Latin letters sort by their letters (case ignored).

`rank` orders and numbers any rows that have `per_grid_exact`, `name`, `username` and `user_id`; the monthly
table (`points.table`) and `month_ranking` below (what the dashboard shows beside its figures, in one statement)
both use it, so they cannot disagree.

Pinyin comes from **pypinyin** (maintained, pure Python, offline). Names are read character by character — its
phrase dictionary (2.5 MB, ~45 MB in memory) is not loaded, as a name is not a phrase — and the first character
is read as a surname where a surname has its own reading (曾 zēng, 单 shàn, 解 xiè, …).
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Optional, Sequence, TypeVar

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from gridpatrol.accounts.models import User
from gridpatrol.core.time import month_bounds, month_start
from gridpatrol.grids.models import AssignmentRole, Grid, GridAssignment, Site
from gridpatrol.points.models import PointsEntry

# Surnames read otherwise than the character's first reading (the common ones of 《百家姓》).
SURNAME_READINGS = {
    "曾": "zeng1", "单": "shan4", "解": "xie4", "仇": "qiu2", "区": "ou1", "朴": "piao2", "查": "zha1",
    "覃": "qin2", "盖": "ge3", "缪": "miao4", "翟": "zhai2", "乐": "yue4", "召": "shao4", "员": "yun4",
    "秘": "bi4", "繁": "po2", "蕃": "pi2", "尉": "yu4", "万": "wan4", "沈": "shen3", "种": "chong2",
    "都": "du1", "重": "chong2", "长": "chang2", "藏": "zang4", "宿": "su4", "折": "she2", "隗": "wei3",
}


@functools.lru_cache(maxsize=1)
def _pinyin():
    # Only the characters' dictionary: set before pypinyin is first imported (it reads these once, at import).
    os.environ.setdefault("PYPINYIN_NO_PHRASES", "1")
    os.environ.setdefault("PYPINYIN_NO_DICT_COPY", "1")
    from pypinyin import Style, lazy_pinyin

    return functools.partial(lazy_pinyin, style=Style.TONE3, errors="default", strict=False)


@functools.lru_cache(maxsize=4096)
def pinyin_key(name: str) -> tuple[str, ...]:
    """A name's sort key: its syllables with tone numbers (张三 → ('zhang1', 'san1')), Latin letters lowercased.
    The alphabet decides first and the tone second, as in a dictionary (战 zhàn < 张 zhāng)."""
    name = (name or "").strip()
    if not name:
        return ()
    first = SURNAME_READINGS.get(name[0])
    rest = name[1:] if first else name
    syllables = [s.lower() for s in _pinyin()(rest)] if rest else []
    return tuple(([first] if first else []) + syllables)


def per_grid(points: int, grids_held: int) -> Fraction:
    """Points per grid held, exactly (a person with a row always held at least one grid)."""
    return Fraction(points, grids_held) if grids_held else Fraction(points)


def per_grid_display(value: Fraction | float | None) -> Optional[float]:
    """Two decimals, halves rounded up (what people do by hand): 10 points over 3 grids show as 3.33."""
    if value is None:
        return None
    exact = Decimal(value.numerator) / Decimal(value.denominator) if isinstance(value, Fraction) \
        else Decimal(repr(value))
    return float(exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


Row = TypeVar("Row")


def rank(rows: Sequence[Row]) -> list[Row]:
    """`rows` in rank order with `rank` set (dataclass copies): points per grid held, highest first; equal values
    share a rank (1, 1, 3); within a tie by pinyin of the name, then username and id."""
    keyed = [(r.per_grid_exact, r) for r in rows]
    keyed.sort(key=lambda item: (-item[0], pinyin_key(item[1].name), item[1].name, item[1].username,
                                 item[1].user_id))
    ranked: list[Row] = []
    previous: Optional[Fraction] = None
    for index, (value, row) in enumerate(keyed):
        number = ranked[-1].rank if ranked and value == previous else index + 1
        ranked.append(replace(row, rank=number))
        previous = value
    return ranked


@dataclass(frozen=True)
class RankedLeader:
    user_id: int
    username: str
    name: str
    points: int
    grids_held: int
    rank: int = 0

    @property
    def per_grid_exact(self) -> Fraction:
        return per_grid(self.points, self.grids_held)

    @property
    def points_per_grid(self) -> Optional[float]:
        return per_grid_display(self.per_grid_exact)


def month_ranking(session: Session, site: Site, month: dt.date) -> list[RankedLeader]:
    """Every leader of the month with their points, grids held and rank, best first (see the module docstring):
    the same people, figures and ranks as the monthly table."""
    month = month_start(month)
    start, end = month_bounds(month, site.timezone)
    held = (select(GridAssignment.user_id, func.count(func.distinct(GridAssignment.grid_id)).label("grids"))
            .join(Grid, Grid.id == GridAssignment.grid_id)
            .where(Grid.site_id == site.id, GridAssignment.role == AssignmentRole.LEADER.value,
                   GridAssignment.effective_from < end,
                   or_(GridAssignment.effective_to.is_(None), GridAssignment.effective_to > start))
            .group_by(GridAssignment.user_id).subquery())
    rows = session.execute(
        select(User.id, User.username, User.display_name, held.c.grids,
               func.coalesce(func.sum(PointsEntry.points), 0))
        .join(held, held.c.user_id == User.id)
        .outerjoin(PointsEntry, and_(PointsEntry.user_id == User.id, PointsEntry.site_id == site.id,
                                     PointsEntry.month == month))
        .group_by(User.id, User.username, User.display_name, held.c.grids)).all()
    return rank([RankedLeader(user_id, username, name, int(points), int(grids))
                 for user_id, username, name, grids, points in rows])
