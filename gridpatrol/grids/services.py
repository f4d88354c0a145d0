"""Grid operations: sites, importing and exporting the map, leaders and deputies, checkpoints, locating.

All functions flush and leave the commit to the request or job. A refused import raises before
anything is written, so the caller's transaction holds nothing to roll back but is rolled back anyway.
"""

from __future__ import annotations

import datetime as dt
import threading
import zoneinfo
from dataclasses import dataclass, field
from typing import Iterable, Optional

import shapely
from blinker import Namespace
from flask import current_app
from flask_babel import gettext as _
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, selectinload

from gridpatrol.accounts.models import User
from gridpatrol.audit import services as audit
from gridpatrol.core.categories import Category
from gridpatrol.core.errors import DomainError
from gridpatrol.core.locator import GridLocator, Location
from gridpatrol.core.roles import Role
from gridpatrol.core.time import utcnow
from gridpatrol.grids import geojson
from gridpatrol.grids.models import AssignmentRole, Checkpoint, Grid, GridAssignment, Site

SITE_CODE_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")

signals = Namespace()
# Sent in the assigning transaction, so modules that depend on grids (patrols) can follow a handover.
responsible_changed = signals.signal("responsible-changed")


# --- sites -----------------------------------------------------------------------------------------
def list_sites(session: Session) -> list[Site]:
    return list(session.scalars(select(Site).order_by(Site.code)))


def find_site(session: Session, code: Optional[str]) -> Optional[Site]:
    """The site with this code, or None."""
    if not code:
        return None
    return session.scalar(select(Site).where(Site.code == code.strip().upper()))


def get_site(session: Session, code: Optional[str] = None) -> Site:
    """The site with this code; without a code, the only site (an installation usually has one)."""
    if code:
        site = session.scalar(select(Site).where(Site.code == code.strip().upper()))
        if site is None:
            raise DomainError(_("There is no site with the code %(code)s.", code=code))
        return site
    sites = list_sites(session)
    if len(sites) != 1:
        raise DomainError(_("Say which site: there are %(n)d.", n=len(sites)))
    (only,) = sites
    return only


def create_site(
    session: Session, *, code: str, name: str, timezone: str = "Asia/Shanghai",
    boundary: Optional[BaseGeometry] = None, actor: Optional[User] = None,
) -> Site:
    code = code.strip().upper()
    if not code or len(code) > 20 or not set(code) <= SITE_CODE_CHARS:
        raise DomainError(_("A site code has 1 to 20 letters, digits, dashes or underscores."))
    if session.scalar(select(Site.id).where(Site.code == code)) is not None:
        raise DomainError(_("A site with the code %(code)s exists already.", code=code))
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise DomainError(_("%(zone)s is not a known time zone.", zone=timezone)) from None
    if boundary is not None:
        _check_boundary(boundary)
    site = Site(code=code, name=name.strip(), timezone=timezone, boundary=boundary, grids_version=0)
    session.add(site)
    session.flush()
    audit.record(session, "site.created", actor=actor, target=site, detail={"code": code, "name": site.name})
    return site


MAX_UNCOVERED_AFTER_DAYS = 365


def set_uncovered_after_days(session: Session, site: Site, days: int, *, actor: Optional[User]) -> None:
    """After how many days without a patrol the map shows a grid of the site as uncovered (grey)."""
    if not isinstance(days, int) or not 1 <= days <= MAX_UNCOVERED_AFTER_DAYS:
        raise DomainError(_("A grid counts as uncovered after 1 to %(max)d days without a patrol.",
                            max=MAX_UNCOVERED_AFTER_DAYS))
    if site.uncovered_after_days == days:
        return
    before = site.uncovered_after_days
    site.uncovered_after_days = days
    session.flush()
    audit.record(session, "site.uncovered_after_days", actor=actor, target=site,
                 detail={"before": before, "after": days})


ISSUING_UNIT_MAX = 120  # sites.issuing_unit is String(120)


def set_issuing_unit(session: Session, site: Site, name: Optional[str], *, actor: Optional[User]) -> None:
    """The issuing unit (编制单位) printed on the site's points table; blank puts back the default, the site's
    own name."""
    name = " ".join((name or "").split()) or None
    if name is not None and len(name) > ISSUING_UNIT_MAX:
        raise DomainError(_("The issuing unit may be at most %(max)d characters long.", max=ISSUING_UNIT_MAX))
    if site.issuing_unit == name:
        return
    before = site.issuing_unit
    site.issuing_unit = name
    session.flush()
    audit.record(session, "site.issuing_unit", actor=actor, target=site, detail={"before": before, "after": name})


def _check_boundary(boundary: BaseGeometry) -> None:
    if boundary.geom_type not in ("Polygon", "MultiPolygon") or not boundary.is_valid or boundary.is_empty:
        raise DomainError(_("The site boundary must be a valid polygon."))


# --- grids -----------------------------------------------------------------------------------------
_ACTIVE_GRID_CHOICES = (select(Grid.id, Grid.code, Grid.name)
                        .where(Grid.active.is_(True), Grid.site_id == bindparam("site_id")).order_by(Grid.code))


def grid_choices(session: Session, site: Site) -> list:
    """(id, code, name) of every active grid of the site, by code: for filter option lists (no geometry decoded)."""
    return session.execute(_ACTIVE_GRID_CHOICES, {"site_id": site.id}).all()


def list_grids(session: Session, site: Site, *, level: Optional[int] = None) -> list[Grid]:
    query = (select(Grid).where(Grid.site_id == site.id, Grid.active.is_(True))
             .options(selectinload(Grid.assignments)).order_by(Grid.code))
    if level is not None:
        query = query.where(Grid.level == level)
    return list(session.scalars(query))


def site_levels(session: Session, site: Site) -> list[int]:
    return list(session.scalars(
        select(Grid.level).where(Grid.site_id == site.id, Grid.active.is_(True)).distinct().order_by(Grid.level)))


def grids_without_leader(session: Session, site: Site) -> list[Grid]:
    return [g for g in list_grids(session, site) if g.leader is None]


def grids_of_user(session: Session, user: User, *, roles: Iterable[AssignmentRole] = tuple(AssignmentRole)) -> list[Grid]:
    """The grids this user currently leads (or deputises for): what a grid leader may see and write."""
    return list(session.scalars(
        select(Grid).join(GridAssignment).where(
            GridAssignment.user_id == user.id, GridAssignment.effective_to.is_(None),
            GridAssignment.role.in_([r.value for r in roles]), Grid.active.is_(True),
        ).order_by(Grid.code)
    ))


def is_responsible_for(session: Session, user: User, grid: Grid) -> bool:
    return any(g.id == grid.id for g in grids_of_user(session, user))


def may_print_posters(session: Session, user: User, grid: Grid) -> bool:
    """Supervisors and admins print any grid's checkpoint posters; a leader or deputy only their own grid's."""
    return user.has_any_role(Role.ADMIN, Role.SUPERVISOR) or (
        user.has_role(Role.GRID_LEADER) and is_responsible_for(session, user, grid))


@dataclass
class ImportReport:
    site: Site
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    reassigned: list[str] = field(default_factory=list)
    warnings: list = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.reassigned)


def _same_geometry(a: BaseGeometry, b: BaseGeometry) -> bool:
    # Equal up to ~1 mm, and regardless of ring start point or orientation.
    return a.equals_exact(b, tolerance=1e-8) or (shapely.equals(a, b) and abs(a.area - b.area) < 1e-14)


def import_limits() -> geojson.ImportLimits:
    """How large a grid file may be, as the operator set it (GRID_IMPORT_MAX_* in config/defaults.py)."""
    return geojson.ImportLimits.from_config(current_app.config)


def import_grids(session: Session, site: Site, data: bytes | str, *, actor: Optional[User] = None,
                 at: Optional[dt.datetime] = None, limits: Optional[geojson.ImportLimits] = None) -> ImportReport:
    """Apply a GeoJSON FeatureCollection to a site: create new grids, update changed ones in place.

    Refuses the whole file (GridImportRefused, nothing written) on any problem, including a file over the
    import limits (`import_limits()` unless `limits` is given), an overlap with a stored grid that the file does
    not mention and a leader or deputy who is not a user. Importing the same file twice changes nothing the
    second time.
    """
    features = geojson.parse_grid_collection(data, limits or import_limits())
    stored = {g.code: g for g in session.scalars(
        select(Grid).where(Grid.site_id == site.id).options(selectinload(Grid.assignments)))}
    in_file = {f.code for f in features}
    others = [(g.code, g.level, g.geometry) for code, g in stored.items() if code not in in_file and g.active]
    problems = list(geojson.check_overlaps(features, others))
    people = _resolve_people(session, features, problems)
    if problems:
        raise geojson.GridImportRefused(problems)

    at = at or utcnow()
    report = ImportReport(site=site)
    for f in features:
        grid = stored.get(f.code)
        values = {"name": f.name, "level": f.level, "building": f.building, "categories": list(f.categories),
                  "description": f.description, "active": True}
        if grid is None:
            grid = Grid(site_id=site.id, code=f.code, geometry=f.geometry, **values)
            session.add(grid)
            report.created.append(f.code)
        else:
            differs = [k for k, v in values.items() if getattr(grid, k) != v]
            if not _same_geometry(grid.geometry, f.geometry):
                differs.append("geometry")
                grid.geometry = f.geometry
            for k in differs:
                if k != "geometry":
                    setattr(grid, k, values[k])
            (report.updated if differs else report.unchanged).append(f.code)
        session.flush()
        for role, username in ((AssignmentRole.LEADER, f.leader), (AssignmentRole.DEPUTY, f.deputy)):
            if username and assign(session, grid, people[username], role, actor=actor, at=at,
                                   note=_("Imported from a GeoJSON file")):
                report.reassigned.append(f.code)
    if report.created or report.updated:
        site.grids_version = (site.grids_version or 0) + 1
    session.flush()
    report.warnings = geojson.coverage_warnings(
        [(g.code, g.level, g.geometry) for g in list_grids(session, site)], site.boundary)
    audit.record(session, "grids.imported", actor=actor, target=site, detail={
        "created": report.created, "updated": report.updated, "reassigned": sorted(set(report.reassigned)),
        "unchanged": len(report.unchanged), "warnings": len(report.warnings),
    })
    return report


def _resolve_people(session: Session, features, problems: list) -> dict[str, User]:
    names = {n for f in features for n in (f.leader, f.deputy) if n}
    users = {u.username: u for u in session.scalars(select(User).where(User.username.in_(names)))} if names else {}
    for f in features:
        for what, username in (("leader", f.leader), ("deputy", f.deputy)):
            if not username:
                continue
            user = users.get(username)
            if user is None or not user.active:
                message = (_("%(feature)s: the leader %(name)s is not an active user.") if what == "leader"
                           else _("%(feature)s: the deputy %(name)s is not an active user."))
                problems.append(geojson.ImportProblem(
                    f.index, f.code, f"unknown_{what}",
                    message % {"feature": geojson.feature_label(f.index, f.code), "name": username}))
            elif what == "leader" and not user.has_role(Role.GRID_LEADER):
                problems.append(geojson.ImportProblem(
                    f.index, f.code, "leader_without_role",
                    _("%(feature)s: %(name)s does not have the grid leader role.",
                      feature=geojson.feature_label(f.index, f.code), name=username)))
        if f.leader and f.leader == f.deputy:
            problems.append(geojson.ImportProblem(
                f.index, f.code, "leader_is_deputy",
                _("%(feature)s: the leader cannot also be the deputy.",
                  feature=geojson.feature_label(f.index, f.code))))
    return users


def export_grids(session: Session, site: Site) -> dict:
    return geojson.feature_collection([
        geojson.GridFeature(
            index=i, code=g.code, name=g.name, level=g.level, building=g.building,
            leader=g.leader.username if g.leader else None, deputy=g.deputy.username if g.deputy else None,
            categories=list(g.categories or []), description=g.description, geometry=g.geometry,
        )
        for i, g in enumerate(list_grids(session, site))
    ])


# --- leaders and deputies (定人员) ------------------------------------------------------------------
def assign(session: Session, grid: Grid, user: User, role: AssignmentRole, *, actor: Optional[User],
           at: Optional[dt.datetime] = None, note: Optional[str] = None) -> Optional[GridAssignment]:
    """Make `user` the grid's leader (or deputy) from `at` on, closing the previous assignment.

    Returns None when the user already holds that place. History rows are closed, never deleted.
    """
    at = at or utcnow()
    if not user.active:
        raise DomainError(_("%(name)s is deactivated.", name=user.display_name))
    if role is AssignmentRole.LEADER and not user.has_role(Role.GRID_LEADER):
        raise DomainError(_("%(name)s does not have the grid leader role.", name=user.display_name))
    current = grid.current(role)
    if current is not None and current.user_id == user.id:
        return None
    other = grid.current(AssignmentRole.DEPUTY if role is AssignmentRole.LEADER else AssignmentRole.LEADER)
    if other is not None and other.user_id == user.id:
        if role is AssignmentRole.DEPUTY:
            raise DomainError(_("The leader cannot also be the deputy."))
        other.effective_to = at  # the deputy steps up: their deputy post ends
    if current is not None:
        current.effective_to = at
    session.flush()  # the open row must be closed before the new one (one open row per grid and role)
    assignment = GridAssignment(grid=grid, user=user, role=role.value, effective_from=at,
                                assigned_by_id=getattr(actor, "id", None), note=note)
    session.add(assignment)
    session.flush()
    action = "grid.leader_assigned" if role is AssignmentRole.LEADER else "grid.deputy_assigned"
    audit.record(session, action, actor=actor, target=grid, detail={
        "grid": grid.code, "user": user.username, "previous": current.user.username if current else None})
    responsible_changed.send(session, grid=grid, role=role, user=user, at=at)
    return assignment


def end_deputy(session: Session, grid: Grid, *, actor: Optional[User], at: Optional[dt.datetime] = None) -> None:
    """A grid may do without a deputy; it never goes without a leader except before the first one."""
    current = grid.current(AssignmentRole.DEPUTY)
    if current is None:
        return
    current.effective_to = at or utcnow()
    session.flush()
    audit.record(session, "grid.deputy_removed", actor=actor, target=grid,
                 detail={"grid": grid.code, "user": current.user.username})


def assignment_history(grid: Grid) -> list[GridAssignment]:
    """Who held the grid's posts: the current leader and deputy first, then earlier holders, latest first."""
    return sorted(grid.assignments, key=lambda a: (
        a.effective_to is not None, a.effective_to is None and a.role != AssignmentRole.LEADER.value,
        -a.effective_from.timestamp()))


def responsible_at(grid: Grid, role: AssignmentRole, at: dt.datetime) -> Optional[User]:
    """Who held the place at a past moment (for patrols and points computed after a handover)."""
    for a in grid.assignments:
        if a.role == role.value and a.effective_from <= at and (a.effective_to is None or at < a.effective_to):
            return a.user
    return None


def set_categories(session: Session, grid: Grid, categories: Iterable[str], *, actor: Optional[User]) -> None:
    values = sorted({Category(c).value for c in categories})
    if values != sorted(grid.categories or []):
        before = list(grid.categories or [])
        grid.categories = values
        session.flush()
        audit.record(session, "grid.categories_changed", actor=actor, target=grid,
                     detail={"grid": grid.code, "before": before, "after": values})


# --- locating ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LocateAnswer:
    grid: Optional[Grid]
    nearest: Optional[Grid]
    distance_m: float

    @property
    def inside(self) -> bool:
        return self.grid is not None


class _LocatorCache:
    """One locator per site and process, rebuilt when the site's grids_version moves on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple, tuple[int, GridLocator]] = {}

    def get(self, session: Session, site: Site) -> GridLocator:
        # The creation time too: a database emptied and filled again (tests, a restored backup) may give a new site
        # an old id and grids_version, whose cached grids must not be taken for its own.
        key = (str(session.get_bind().url), site.id, site.created_at)
        cached = self._entries.get(key)
        if cached is not None and cached[0] == site.grids_version:
            return cached[1]
        with self._lock:
            rows = session.execute(select(Grid.code, Grid.level, Grid.geometry).where(
                Grid.site_id == site.id, Grid.active.is_(True))).all()
            locator = GridLocator([(code, level, geometry) for code, level, geometry in rows])
            self._entries[key] = (site.grids_version, locator)
            return locator


locators = _LocatorCache()


def where_is(session: Session, site: Site, lon: float, lat: float, level: int = 0) -> Optional[Location]:
    """`locate` without loading the grid: the code of the grid covering the point (`inside`) or of the nearest
    one, and the distance; None when the level has no grid. No statement once the site's locator is built."""
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise DomainError(_("Coordinates out of range: longitude %(lon)s, latitude %(lat)s.", lon=lon, lat=lat))
    return locators.get(session, site).locate_or_nearest(lon, lat, level)


def locate(session: Session, site: Site, lon: float, lat: float, level: int = 0) -> LocateAnswer:
    location = where_is(session, site, lon, lat, level)
    if location is None:
        return LocateAnswer(None, None, float("inf"))
    grid = session.scalar(select(Grid).where(Grid.site_id == site.id, Grid.code == location.key))
    if location.inside:
        return LocateAnswer(grid, grid, 0.0)
    return LocateAnswer(None, grid, location.distance_m)


# --- checkpoints (巡更点) ---------------------------------------------------------------------------
def add_checkpoint(session: Session, grid: Grid, *, code: str, name: str, lon: float, lat: float,
                   actor: Optional[User]) -> Checkpoint:
    code, name = code.strip(), name.strip()
    if not code or not name:
        raise DomainError(_("A checkpoint needs a code and a name."))
    if session.scalar(select(func.count()).select_from(Checkpoint).where(
            Checkpoint.grid_id == grid.id, Checkpoint.code == code)):
        raise DomainError(_("The grid has a checkpoint %(code)s already.", code=code))
    if not grid.geometry.covers(Point(lon, lat)):
        raise DomainError(_("The point %(lon).6f, %(lat).6f is not inside grid %(grid)s.",
                            lon=lon, lat=lat, grid=grid.code))
    checkpoint = Checkpoint(grid=grid, code=code, name=name, lon=lon, lat=lat, active=True)
    session.add(checkpoint)
    session.flush()
    audit.record(session, "checkpoint.created", actor=actor, target=checkpoint,
                 detail={"grid": grid.code, "code": code, "name": name})
    return checkpoint
