"""Saying that a calendar is provisional: on pages (a banner) and in `gridpatrol scheduler status`.

From 1 October the coming year's official schedule should be entered; until it is, and for the current year
at any time, the dashboard, the home pages of admins and supervisors, the plan editor, the calendar page and the
scheduler's status say that deadlines and plans rest on a calendar computed from the statutory rules.
"""

from __future__ import annotations

import datetime as dt
from typing import Optional

from dataclasses import dataclass

from flask import g, has_request_context, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import Session

from gridpatrol.core.roles import Role
from gridpatrol.core.time import local_day, utcnow
from gridpatrol.extensions import db
from gridpatrol.workdays import services

DEFAULT_ZONE = "Asia/Shanghai"


def provisional_year(session: Session, site, now: dt.datetime) -> Optional[int]:
    # Whether a year is official is nationwide (a site's overrides never make a year official): one statement.
    calendar = services.calendar_for(session, None)
    today = local_day(now, site.timezone if site is not None else DEFAULT_ZONE)
    return services.provisional_warning(calendar, today)


@dataclass(frozen=True)
class PageWarning:
    year: int
    import_url: Optional[str]  # for an admin of the page's site: where to enter the notice


def warning_for_page() -> Optional[PageWarning]:
    """Jinja global: the provisional year to warn about on this page (its site's calendar), once per request."""
    if not has_request_context():
        return None
    if "calendar_warning" not in g:
        # Said to those who plan and dispatch; a leader's or a rectifier's page stays quiet.
        if not (current_user.is_authenticated and current_user.has_any_role(Role.ADMIN, Role.SUPERVISOR)):
            g.calendar_warning = None
            return None
        site = g.get("site")
        year = provisional_year(db.session, site, utcnow())
        url = url_for("workdays.import_notice", site=site.code) \
            if year and site is not None and current_user.has_role(Role.ADMIN) \
            else None
        g.calendar_warning = PageWarning(year, url) if year else None
    return g.calendar_warning


def scheduler_status_notes(session: Session, now: dt.datetime) -> list[str]:
    year = provisional_year(session, None, now)
    if year is None:
        return []
    return [_("The workday calendar of %(year)d is provisional (computed from the statutory holidays, without "
              "the State Council's notice): import the notice with `gridpatrol calendar import FILE` or on the "
              "calendar page.", year=year)]
