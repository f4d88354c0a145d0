"""The site map as inline SVG: one level at a time, each grid a link, coloured by a caller's status.

Drawn in the site's local metric plane (so shapes are not stretched by longitude), y flipped for SVG.
Strokes do not scale, so outlines stay crisp at any zoom; every grid is an <a>, so a tap opens it. Every outline
(grids, the faint backdrop, the site boundary) is drawn through `outline`: simplified within half a pixel of the
largest map and rounded to that precision, so a grid stored with thousands of vertices weighs the page no more
than a hand-drawn one. Nothing here locates a point: that is the stored geometry's job (core/locator.py).

Labels: a grid's code is never cut. Each label is measured in the same metric plane as the shapes (an estimate
of the text's width from its characters: CJK characters are about one em wide, Latin letters and digits about
0.62 em) and put at the grid's pole of inaccessibility when the box fits inside the polygon, with the grid's name
on a second line when that fits too. A grid too small for its code gets the code outside, next to it, joined
by a leader line; outside labels are placed where they overlap no other label when such a place exists, and the
map grows to hold them.
"""

from __future__ import annotations

import hashlib
import math
import threading
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Mapping, Optional, Sequence

import numpy as np
import shapely
from markupsafe import Markup, escape
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from gridpatrol.core.geometry import LocalProjection
from gridpatrol.grids.models import Grid, Site
from gridpatrol.grids.status import MapStatus

# Statuses a caller may give a grid; each is a CSS class `status-<name>` in app.css. "none": no status known
# (e.g. the quick report's map, where a grid is a place to tap, not a state).
STATUSES = (*(s.value for s in MapStatus), "none")

FONT_DIVISOR = 55  # a code label's height is the map's larger side ÷ this
NAME_SCALE = 0.8  # the name line, relative to the code
MIN_INSIDE_SCALE = 0.8  # a code may shrink this much to stay inside its grid, then it goes outside
LATIN_EM = 0.62
PAD_EM = 0.3  # breathing room around a label's box


# Outlines are drawn for the screen, not as surveyed: a map is shown at most about MAP_PIXELS device pixels
# across (a monitor's width, or a tablet's at 2 device pixels per CSS pixel), so an outline simplified by half such
# a pixel and rounded to a step no larger than that looks the same as the stored one, and a grid traced with
# thousands of vertices costs the page a few dozen. Locating (point in polygon) always uses the stored geometry.
MAP_PIXELS = 2000
COSTLY_VERTICES = 1_000  # outlines with more vertices than this are simplified once and kept (OUTLINE_CACHE)


@dataclass(frozen=True)
class Outline:
    """A grid's (or the site boundary's) outline as a map draws it: `shape` in the map's metric plane (y up),
    simplified, for placing labels; `path` the SVG path data (y down), at display precision."""

    shape: BaseGeometry
    path: str
    vertices: int


def display_tolerance(extent_m: float) -> float:
    """How far (metres) a drawn outline may stray from the stored one on a map `extent_m` across: half a pixel."""
    return max(extent_m, 1e-6) / MAP_PIXELS / 2


def _decimals(tolerance: float) -> int:
    """Decimals of metres written: a rounding step no larger than the tolerance (1 cm on a 200 m map)."""
    return max(0, math.ceil(-math.log10(tolerance)))


def outline(geometry: BaseGeometry, projection: LocalProjection, tolerance: float) -> Outline:
    """The one way an outline reaches a browser: the stored lon/lat geometry in the map's metric plane, simplified
    within `tolerance` metres keeping its topology (no ring crosses itself or vanishes, holes stay inside), with
    coordinates rounded to the display precision. Costly outlines are kept, keyed by their content (every edit
    of a grid is a new key), the projection and the tolerance."""
    costly = shapely.get_num_coordinates(geometry) > COSTLY_VERTICES
    key = None
    if costly:
        digest = hashlib.blake2b(shapely.to_wkb(geometry), digest_size=16).digest()
        key = (digest, projection.lon0, projection.lat0, tolerance)
        found = OUTLINE_CACHE.get(key)
        if found is not None:
            return found
    shape = projection.to_metres(shapely.force_2d(geometry)).simplify(tolerance, preserve_topology=True)
    path = _path(shape, _decimals(tolerance))
    result = Outline(shape, path, int(shapely.get_num_coordinates(shape)))
    if key is not None:
        OUTLINE_CACHE.put(key, result)
    return result


class _OutlineCache:
    """The most recently drawn costly outlines of this process (a bounded LRU, safe across threads)."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple, Outline] = OrderedDict()

    def get(self, key: tuple) -> Optional[Outline]:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: tuple, value: Outline) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


OUTLINE_CACHE = _OutlineCache()


def _path(geometry: BaseGeometry, decimals: int = 2) -> str:
    parts = []
    for polygon in getattr(geometry, "geoms", [geometry]):
        for ring in (polygon.exterior, *polygon.interiors):
            xy = np.round(np.asarray(ring.coords)[:-1] * (1.0, -1.0), decimals) + 0.0  # + 0.0: no "-0.0"
            if len(xy) > 1:  # rounding may make neighbours equal: one of them is enough
                xy = xy[np.r_[True, np.any(xy[1:] != xy[:-1], axis=1)]]
            parts.append("M" + " L".join(f"{x:.{decimals}f} {y:.{decimals}f}" for x, y in xy) + " Z")
    return " ".join(parts)


def projection_for(site: Site, grids: Sequence[Grid]) -> LocalProjection:
    """The map's metric plane: centred on the site boundary's centroid, or without a boundary on the middle of the
    grids' bounds (not the centroid of their union, which costs seconds once a grid has many vertices)."""
    if site.boundary is not None:
        return LocalProjection.around(site.boundary)
    minx, miny, maxx, maxy = shapely.total_bounds([g.geometry for g in grids])
    return LocalProjection(float(minx + maxx) / 2.0, float(miny + maxy) / 2.0)  # plain floats: written in the SVG


def text_width(text: str, font: float) -> float:
    """Estimated advance width of `text` at font size `font` (same unit)."""
    return font * sum(1.0 if unicodedata.east_asian_width(ch) in ("W", "F") else LATIN_EM for ch in text)


Rect = tuple[float, float, float, float]  # minx, miny, maxx, maxy in metres (y up)


def _rect(cx: float, cy: float, w: float, h: float) -> Rect:
    return (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


def _overlap(a: Rect, b: Rect) -> float:
    dx = min(a[2], b[2]) - max(a[0], b[0])
    dy = min(a[3], b[3]) - max(a[1], b[1])
    return dx * dy if dx > 0 and dy > 0 else 0.0


@dataclass
class Label:
    """Where a grid's label goes (metres, y up): the code's centre and size, the name's if shown, and for an
    outside label the anchor inside the grid the leader line starts from."""

    code_x: float
    code_y: float
    code_font: float
    box: Rect
    name_y: Optional[float] = None
    name_font: Optional[float] = None
    anchor: Optional[tuple[float, float]] = None  # set for an outside label

    @property
    def outside(self) -> bool:
        return self.anchor is not None


def _largest_polygon(shape: BaseGeometry) -> Polygon:
    parts = list(getattr(shape, "geoms", [shape]))
    return max(parts, key=lambda p: p.area)


def _inside_label(code: str, name: str, shape: BaseGeometry, pole: tuple[float, float], radius: float,
                  font: float) -> Optional[Label]:
    """The label inside the grid at its pole of inaccessibility when the code fits there (with the name below
    when that fits too; the code may shrink to MIN_INSIDE_SCALE first), else None."""
    px, py = pole
    if 2 * radius < font * MIN_INSIDE_SCALE:  # not even the height of the smallest code fits
        return None
    options = []
    for scale in (1.0, MIN_INSIDE_SCALE):
        f = font * scale
        code_w, code_h = text_width(code, f) + PAD_EM * f, f * (1 + PAD_EM)
        if name and scale == 1.0:
            nf = f * NAME_SCALE
            name_w, name_h = text_width(name, nf) + PAD_EM * nf, nf * (1 + PAD_EM)
            both_w, both_h = max(code_w, name_w), code_h + name_h
            top = py + both_h / 2
            options.append(Label(px, top - code_h / 2, f, _rect(px, py, both_w, both_h),
                                 name_y=top - code_h - name_h / 2, name_font=nf))
        options.append(Label(px, py, f, _rect(px, py, code_w, code_h)))
    fits = shapely.contains(shape, shapely.box(*np.array([o.box for o in options]).T))
    return next((option for option, ok in zip(options, fits) if ok), None)


# Directions tried for an outside label: right, up, left, down first, then every 30° between.
_ANGLES = np.radians([0, 90, 180, 270, 30, 60, 120, 150, 210, 240, 300, 330])
_RINGS = 5
# What an outside label's place costs (the cheapest wins): overlapping another label is worst, then covering
# another small grid (it would be hard to tap), then sticking out of the drawing (the map shrinks), then distance.
_LABEL_CLASH, _SMALL_GRID, _OUT_OF_MAP, _DISTANCE = 1000.0, 50.0, 5.0, 1.0


def _outside_label(code: str, shape: BaseGeometry, pole: tuple[float, float], radius: float, font: float,
                   taken: np.ndarray, small: Optional[BaseGeometry], extent: Rect) -> Label:
    """The code next to the grid, around its pole, on the cheapest of a few rings of places (see the costs
    above); never on the grid itself when any place is free of it. Joined to the pole by a leader line."""
    w, h = text_width(code, font) + PAD_EM * font, font * (1 + PAD_EM)
    px, py = pole
    ux, uy = np.cos(_ANGLES), np.sin(_ANGLES)
    rings = np.arange(_RINGS)[:, None]
    reach = radius + font * (0.5 + 1.1 * rings) + np.abs(ux) * w / 2 + np.abs(uy) * h / 2
    cx, cy = (px + ux * reach).ravel(), (py + uy * reach).ravel()
    rects = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    boxes = shapely.box(*rects.T)
    unit = font * font
    cost = _DISTANCE * reach.ravel() / font
    cost += 1e6 * shapely.intersects(shape, boxes)
    if len(taken):
        dx = np.minimum(rects[:, None, 2], taken[None, :, 2]) - np.maximum(rects[:, None, 0], taken[None, :, 0])
        dy = np.minimum(rects[:, None, 3], taken[None, :, 3]) - np.maximum(rects[:, None, 1], taken[None, :, 1])
        cost += _LABEL_CLASH * (np.clip(dx, 0, None) * np.clip(dy, 0, None)).sum(axis=1) / unit
    if small is not None:
        cost += _SMALL_GRID * shapely.intersects(small, boxes)
    inside_w = np.clip(np.minimum(rects[:, 2], extent[2]) - np.maximum(rects[:, 0], extent[0]), 0, None)
    inside_h = np.clip(np.minimum(rects[:, 3], extent[3]) - np.maximum(rects[:, 1], extent[1]), 0, None)
    cost += _OUT_OF_MAP * (w * h - inside_w * inside_h) / unit
    best = int(np.argmin(cost))
    return Label(float(cx[best]), float(cy[best]), font, tuple(float(v) for v in rects[best]), anchor=pole)


def place_labels(items: Sequence[tuple[str, str, BaseGeometry]], font: float,
                 extent: Optional[Rect] = None) -> list[Label]:
    """Labels for (code, name, shape in metres), in the same order: inside ones first, then outside ones around
    them, so an outside label avoids every inside label and the outside labels placed before it. `extent`: the
    drawing's bounds (default: the shapes'), which outside labels prefer to stay within."""
    if not items:
        return []
    shapes = [shape for _c, _n, shape in items]
    extent = extent or tuple(shapely.total_bounds(shapes))
    circles = shapely.maximum_inscribed_circle([_largest_polygon(s) for s in shapes], tolerance=font / 10)
    poles = shapely.get_coordinates(shapely.get_point(circles, 0))
    radii = shapely.length(circles)
    labels: list[Optional[Label]] = [
        _inside_label(code, name, shape, (float(pole[0]), float(pole[1])), float(radius), font)
        for (code, name, shape), pole, radius in zip(items, poles, radii)]
    outside = [i for i, label in enumerate(labels) if label is None]
    small = shapely.union_all([shapes[i] for i in outside]) if outside else None
    taken = np.array([label.box for label in labels if label is not None]).reshape(-1, 4)
    for i in outside:
        code, _name, shape = items[i]
        others = None if small is None else small.difference(shape)
        labels[i] = _outside_label(code, shape, (float(poles[i][0]), float(poles[i][1])), float(radii[i]), font,
                                   taken, None if others is None or others.is_empty else others, extent)
        taken = np.vstack([taken, labels[i].box])
    return labels  # type: ignore[return-value]


def _text(css: str, x: float, y: float, font: float, text: str) -> str:
    return (f'<text class="{css}" x="{x:.2f}" y="{-y:.2f}" font-size="{font:.2f}" text-anchor="middle" '
            f'dominant-baseline="central">{escape(text)}</text>')


def _label_svg(grid: Grid, label: Label) -> str:
    out = []
    if label.outside:
        ax, ay = label.anchor
        x0, y0, x1, y1 = label.box
        ex, ey = min(max(ax, x0), x1), min(max(ay, y0), y1)  # the label box's point nearest the anchor
        out.append(f'<line class="leader-line" x1="{ax:.2f}" y1="{-ay:.2f}" x2="{ex:.2f}" y2="{-ey:.2f}"/>'
                   f'<circle class="leader-dot" cx="{ax:.2f}" cy="{-ay:.2f}" r="{label.code_font * 0.15:.2f}"/>')
        out.append(_text("grid-label grid-code outside", label.code_x, label.code_y, label.code_font, grid.code))
    else:
        out.append(_text("grid-label grid-code", label.code_x, label.code_y, label.code_font, grid.code))
        if label.name_y is not None:
            out.append(_text("grid-label grid-name", label.code_x, label.name_y, label.name_font, grid.name))
    return "".join(out)


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
    describe: Optional[Mapping[str, str]] = None,
) -> Markup:
    """SVG for `grids` (one level). `context` grids are drawn faintly underneath (e.g. ground floor).
    `describe` (status → words) adds the status in words to each grid's tooltip and accessible name."""
    status_by_code = status_by_code or {}
    stored = [g.geometry for g in grids] + [g.geometry for g in context]
    if site.boundary is not None:
        stored.append(site.boundary)
    if not stored:
        return Markup("")
    projection = projection_for(site, list(grids) + list(context))
    # Every outline is drawn through `outline`, simplified for a map of this extent (bounds map onto bounds in
    # the metric plane, so the extent is known before anything is transformed).
    lon_min, lat_min, lon_max, lat_max = shapely.total_bounds(stored)
    (x0, x1), (y0, y1) = projection.to_metres_xy([lon_min, lon_max], [lat_min, lat_max])
    tolerance = display_tolerance(max(x1 - x0, y1 - y0))
    drawn = [outline(g.geometry, projection, tolerance) for g in grids]
    backdrop = [outline(g.geometry, projection, tolerance) for g in context]
    boundary = outline(site.boundary, projection, tolerance) if site.boundary is not None else None
    shapes = [o.shape for o in drawn]
    everything = shapes + [o.shape for o in backdrop] + ([boundary.shape] if boundary is not None else [])
    minx, miny, maxx, maxy = shapely.total_bounds(everything)
    font = max(maxx - minx, maxy - miny) / FONT_DIVISOR
    labels = place_labels([(g.code, g.name, s) for g, s in zip(grids, shapes)], font,
                          extent=(minx, miny, maxx, maxy))
    for label in labels:  # the map grows to hold the outside labels
        minx, miny = min(minx, label.box[0]), min(miny, label.box[1])
        maxx, maxy = max(maxx, label.box[2]), max(maxy, label.box[3])
    pad = max(maxx - minx, maxy - miny) * 0.02
    width, height = maxx - minx + 2 * pad, maxy - miny + 2 * pad

    kx, ky = projection.metres_per_degree
    # The projection rides along so a script can turn a tap back into lon/lat (x = (lon-lon0)·kx, y = -(lat-lat0)·ky).
    out = [
        f'<svg class="{escape(css_class)}" xmlns="http://www.w3.org/2000/svg" viewBox="{minx - pad:.2f} '
        f'{-maxy - pad:.2f} {width:.2f} {height:.2f}" role="img" aria-label="{escape(title)}" '
        f'preserveAspectRatio="xMidYMid meet" data-lon0="{projection.lon0!r}" data-lat0="{projection.lat0!r}" '
        f'data-kx="{kx!r}" data-ky="{ky!r}">'
    ]
    if boundary is not None:
        out.append(f'<path class="site-boundary" d="{boundary.path}"/>')
    for faint in backdrop:
        out.append(f'<path class="grid-context" d="{faint.path}"/>')
    shapes_svg, labels_svg = [], []
    for grid, drawing, label in zip(grids, drawn, labels):
        status = status_by_code.get(grid.code, "none")
        if status not in STATUSES:
            raise ValueError(f"unknown map status {status!r}")
        classes = ["grid", f"status-{status}"]
        if grid.leader is None:
            classes.append("no-leader")
        if grid.code == selected:
            classes.append("selected")
        name = f"{grid.code} {grid.name}"
        if describe and status in describe:
            name += f" · {describe[status]}"
        body = (f'<title>{escape(name)}</title>'
                f'<path class="{" ".join(classes)}" d="{drawing.path}" fill-rule="evenodd"/>')
        text = _label_svg(grid, label)
        # Shapes first, labels after all shapes: a label (an outside one especially) is never hidden under a
        # neighbour's fill. An inside label lets taps through to its grid; an outside one is a link to it.
        attrs = f'data-code="{escape(grid.code)}" data-status="{escape(status)}"'
        if links:
            shapes_svg.append(f'<a class="grid-link" href="{escape(link_for(grid))}" {attrs}>{body}</a>')
        else:
            shapes_svg.append(f'<g class="grid-shape" {attrs}>{body}</g>')
        if links and label.outside:
            labels_svg.append(f'<a class="grid-label-link" href="{escape(link_for(grid))}" '
                              f'data-label-for="{escape(grid.code)}" aria-hidden="true" tabindex="-1">{text}</a>')
        else:
            labels_svg.append(f'<g class="grid-labels" data-label-for="{escape(grid.code)}">{text}</g>')
    out.extend(shapes_svg)
    out.extend(labels_svg)
    out.append("</svg>")
    return Markup("".join(out))
