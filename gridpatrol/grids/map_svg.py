"""The site map as inline SVG: one level at a time, each grid a link, coloured by a caller's status.

Drawn in the site's local metric plane (so shapes are not stretched by longitude), y flipped for SVG.
Strokes do not scale, so outlines stay crisp at any zoom; every grid is an <a>, so a tap opens it.
"""

from __future__ import annotations

from typing import Callable, Mapping, Optional, Sequence

import shapely
from markupsafe import Markup, escape
from shapely.geometry.base import BaseGeometry

from gridpatrol.core.geometry import LocalProjection
from gridpatrol.grids.models import Grid, Site

# Statuses a caller may give a grid; each is a CSS class `status-<name>` in app.css.
STATUSES = ("ok", "due", "late", "missed", "open", "overdue", "none")


def _path(geometry: BaseGeometry) -> str:
    parts = []
    for polygon in getattr(geometry, "geoms", [geometry]):
        for ring in (polygon.exterior, *polygon.interiors):
            coords = list(ring.coords)[:-1]
            parts.append("M" + " L".join(f"{x:.2f} {-y:.2f}" for x, y in coords) + " Z")
    return " ".join(parts)


def projection_for(site: Site, grids: Sequence[Grid]) -> LocalProjection:
    if site.boundary is not None:
        return LocalProjection.around(site.boundary)
    return LocalProjection.around(shapely.union_all([g.geometry for g in grids]))


def render(
    site: Site,
    grids: Sequence[Grid],
    *,
    link_for: Callable[[Grid], str],
    status_by_code: Optional[Mapping[str, str]] = None,
    context: Sequence[Grid] = (),
    selected: Optional[str] = None,
    title: str = "",
    links: bool = True,
    css_class: str = "grid-map",
) -> Markup:
    """SVG for `grids` (one level). `context` grids are drawn faintly underneath (e.g. ground floor)."""
    status_by_code = status_by_code or {}
    projection = projection_for(site, list(grids) + list(context))
    shapes = [projection.to_metres(g.geometry) for g in grids]
    backdrop = [projection.to_metres(g.geometry) for g in context]
    boundary = projection.to_metres(site.boundary) if site.boundary is not None else None
    everything = shapes + backdrop + ([boundary] if boundary is not None else [])
    if not everything:
        return Markup("")
    minx, miny, maxx, maxy = shapely.total_bounds(everything)
    pad = max(maxx - minx, maxy - miny) * 0.02
    width, height = maxx - minx + 2 * pad, maxy - miny + 2 * pad
    font = max(width, height) / 55

    kx, ky = projection.metres_per_degree
    # The projection rides along so a script can turn a tap back into lon/lat (x = (lon-lon0)·kx, y = -(lat-lat0)·ky).
    out = [
        f'<svg class="{escape(css_class)}" xmlns="http://www.w3.org/2000/svg" viewBox="{minx - pad:.2f} '
        f'{-maxy - pad:.2f} {width:.2f} {height:.2f}" role="img" aria-label="{escape(title)}" '
        f'preserveAspectRatio="xMidYMid meet" data-lon0="{projection.lon0!r}" data-lat0="{projection.lat0!r}" '
        f'data-kx="{kx!r}" data-ky="{ky!r}">'
    ]
    if boundary is not None:
        out.append(f'<path class="site-boundary" d="{_path(boundary)}"/>')
    for shape in backdrop:
        out.append(f'<path class="grid-context" d="{_path(shape)}"/>')
    for grid, shape in zip(grids, shapes):
        status = status_by_code.get(grid.code, "none")
        if status not in STATUSES:
            raise ValueError(f"unknown map status {status!r}")
        classes = ["grid", f"status-{status}"]
        if grid.leader is None:
            classes.append("no-leader")
        if grid.code == selected:
            classes.append("selected")
        label = shape.point_on_surface()
        name = f"{grid.code} {grid.name}"
        body = (f'<title>{escape(name)}</title>'
                f'<path class="{" ".join(classes)}" d="{_path(shape)}" fill-rule="evenodd"/>'
                f'<text class="grid-label" x="{label.x:.2f}" y="{-label.y:.2f}" font-size="{font:.2f}" '
                f'text-anchor="middle" dominant-baseline="central">{escape(grid.code)}</text>')
        if links:
            out.append(f'<a class="grid-link" href="{escape(link_for(grid))}" data-code="{escape(grid.code)}">{body}</a>')
        else:
            out.append(f'<g class="grid-shape" data-code="{escape(grid.code)}">{body}</g>')
    out.append("</svg>")
    return Markup("".join(out))
