"""Plans and their occurrences in words, for the plan list and the editor's preview (no codes on a page).

"每月 15 日 · 遇休息日：顺延至下一个工作日"; "15日（周日）顺延至 16日（周一）"; a skipped occurrence; the days that
rest on a provisional calendar (暂定日历) are marked by the template from `PreviewEntry.provisional`.
"""

from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _

from gridpatrol.patrols import schedule
from gridpatrol.patrols.forms import KIND_LABELS, REST_DAY_LABELS, WEEKDAY_LABELS
from gridpatrol.patrols.models import PatrolPlan

_KINDS = dict(KIND_LABELS)
_WEEKDAYS = dict(WEEKDAY_LABELS)
_REST_DAY = dict(REST_DAY_LABELS)


def _listed(texts) -> str:
    # TRANSLATORS: the separator between the items of a short list ("周一、周三").
    return _(", ").join(texts)


def kind_text(plan: PatrolPlan) -> str:
    return str(_KINDS.get(plan.kind, plan.kind))


def weekday_text(day: dt.date) -> str:
    return str(_WEEKDAYS[day.weekday()])


def recurrence_text(plan: PatrolPlan) -> str:
    """How often the plan's patrols come, e.g. "每周 周三" or "每月 15 日"."""
    if plan.recurrence == "daily":
        return _("Every day")
    if plan.recurrence == "workdays":
        return _("Workdays (official calendar)")
    if plan.recurrence == "weekdays":
        return _("Every week on %(days)s", days=_listed(str(_WEEKDAYS[d]) for d in sorted(plan.weekdays or ())))
    if plan.recurrence == "monthly":
        if plan.month_day in (None, -1):
            return _("Monthly on the last day")
        return _("Monthly on day %(day)d", day=plan.month_day)
    return _("Every %(n)d days", n=plan.interval_days or 1)


def rest_day_text(plan: PatrolPlan) -> str | None:
    """The plan's 遇休息日 rule in words, or None where it does not apply (daily, workdays)."""
    if plan.recurrence not in schedule.MOVABLE:
        return None
    return _("On a rest day: %(rule)s", rule=str(_REST_DAY.get(plan.on_rest_day, plan.on_rest_day)))


def day_text(day: dt.date, beside: dt.date) -> str:
    """"15日（周日）", with the month when it differs from `beside`'s ("1月31日（周六）")."""
    if (day.year, day.month) == (beside.year, beside.month):
        return _("%(day)d (%(weekday)s)", day=day.day, weekday=weekday_text(day))
    return _("%(month)d/%(day)d (%(weekday)s)", month=day.month, day=day.day, weekday=weekday_text(day))


def moved_text(moved_from: tuple[dt.date, ...], day: dt.date) -> str:
    """"15日（周日）顺延至 16日（周一）", or "提前至" for a move to an earlier day."""
    later = [d for d in moved_from if d < day]
    earlier = [d for d in moved_from if d > day]
    parts = []
    if later:
        parts.append(_("%(nominal)s moved on to %(day)s", nominal=_listed(day_text(d, day) for d in later),
                       day=day_text(day, later[-1])))
    if earlier:
        parts.append(_("%(nominal)s brought forward to %(day)s", nominal=_listed(day_text(d, day) for d in earlier),
                       day=day_text(day, earlier[0])))
    return " · ".join(parts)
