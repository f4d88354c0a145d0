"""Issues as GeoReport service requests (`GET requests`, `GET requests/{id}`).

Our states map to the spec's two: an issue is `open` while it is in the 整改台账 (`issues.models.OPEN_STATES`:
待受理, 已派单, 整改中, 待复核, 缓办) and `closed` once it is closed (已结案) or rejected (不予受理). `status_notes`
carries our own state in the reader's language (with the reason of a rejection), `service_notice` says 逾期 when
the deadline has passed while the clock runs, and `expected_datetime` is the deadline (none while 缓办: the
clock stands still until the resume sets a new one).

Our issues are the compound's internal business, so unlike the spec's public GET these take an api_key too, and
answer what its user may see in the 整改台账 (`issues.queue.visible_to`): a supervisor the whole site, a grid
leader the grids they hold, a rectifier what is dispatched to them, everyone their own reports.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any, Iterable, Optional

from flask import url_for
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridpatrol.accounts.models import Team, User
from gridpatrol.grids.models import Grid, Site
from gridpatrol.issues.forms import REJECT_LABELS
from gridpatrol.issues.labels import issue_labels
from gridpatrol.issues.models import CLOCK_STATES, OPEN_STATES, Issue, IssueEvent, IssuePhoto, IssueState
from gridpatrol.issues.queue import visible_to

OPEN, CLOSED = "open", "closed"
WINDOW = dt.timedelta(days=90)  # the spec's default span, and the most a start_date/end_date pair may span
LIMIT = 1000  # the spec's default "first 1000 requests"; also the most one answer holds


def status_of(state: str) -> str:
    return OPEN if state in OPEN_STATES else CLOSED


def w3c(value: Optional[dt.datetime], tz: dt.tzinfo) -> Optional[str]:
    """A W3C datetime with the site's offset (2026-11-18T09:00:00+08:00)."""
    return value.astimezone(tz).isoformat(timespec="seconds") if value is not None else None


def service_requests(session: Session, site: Site, now: dt.datetime, *, viewer: Optional[User],
                     ids: Optional[Iterable[int]] = None, codes: Optional[Iterable[str]] = None,
                     start: Optional[dt.datetime] = None, end: Optional[dt.datetime] = None,
                     statuses: Optional[set[str]] = None, limit: int = LIMIT) -> list[dict[str, Any]]:
    """The site's issues under these filters that `viewer` may see (all of them for None: the caller checked each
    one), newest first, at most `limit`, as the spec's records."""
    updated = (select(func.max(IssueEvent.at)).where(IssueEvent.issue_id == Issue.id)
               .correlate(Issue).scalar_subquery())
    first_photo = (select(func.min(IssuePhoto.id)).where(IssuePhoto.issue_id == Issue.id,
                                                          IssuePhoto.kind == "before")
                   .correlate(Issue).scalar_subquery())
    query = (select(Issue.id, Issue.state, Issue.category, Issue.title, Issue.description, Issue.reported_at,
                    Issue.deadline, Issue.lon, Issue.lat, Issue.reject_reason, Grid.code, Grid.name, Team.name,
                    updated, first_photo)
             .outerjoin(Grid, Grid.id == Issue.grid_id).outerjoin(Team, Team.id == Issue.team_id)
             .where(Issue.site_id == site.id))
    visible = visible_to(viewer, session) if viewer is not None else None
    if visible is not None:
        query = query.where(visible)
    if ids is not None:
        query = query.where(Issue.id.in_(list(ids)))
    if codes:
        query = query.where(Issue.category.in_(sorted(codes)))
    if start is not None:
        query = query.where(Issue.reported_at >= start)
    if end is not None:
        query = query.where(Issue.reported_at <= end)
    if statuses == {OPEN}:
        query = query.where(Issue.state.in_(OPEN_STATES))
    elif statuses == {CLOSED}:
        query = query.where(Issue.state.not_in(OPEN_STATES))
    query = query.order_by(Issue.reported_at.desc(), Issue.id.desc()).limit(limit)
    return [_record(row, site, now) for row in session.execute(query)]


def _record(row, site: Site, now: dt.datetime) -> dict[str, Any]:
    (issue_id, state, category, title, description, reported_at, deadline, lon, lat, reject_reason, grid_code,
     grid_name, team_name, updated_at, photo_id) = row
    labels = issue_labels()
    tz = zoneinfo.ZoneInfo(site.timezone)
    notes = labels.state[state]
    if state == IssueState.REJECTED.value and reject_reason:
        notes = _("%(state)s: %(reason)s", state=notes, reason=str(dict(REJECT_LABELS).get(reject_reason,
                                                                                              reject_reason)))
    overdue = state in CLOCK_STATES and deadline is not None and now > deadline
    return {
        "service_request_id": issue_id,
        "status": status_of(state),
        "status_notes": notes,
        "service_name": labels.category.get(category, category),
        "service_code": category,
        "description": description or title,
        "agency_responsible": team_name,
        "service_notice": labels.overdue if overdue else None,
        "requested_datetime": w3c(reported_at, tz),
        "updated_datetime": w3c(updated_at or reported_at, tz),
        # A deferred issue's clock stands still: its old deadline says nothing; the resume sets a new one.
        "expected_datetime": w3c(deadline, tz) if state != IssueState.DEFERRED.value else None,
        "address": f"{grid_code} {grid_name}" if grid_code else site.name,
        "address_id": grid_code,
        "zipcode": None,
        "lat": lat,
        "long": lon,
        "media_url": url_for("issues.photo", site=site.code, photo_id=photo_id, _external=True)
        if photo_id is not None else None,
    }
