"""Point → grid lookup for one site: which grid (网格单元) covers a lon/lat point, or which one is nearest.

`GridLocator` is pure (no database, no Flask, no global state): build it once from a site's grids, keep it
for as long as the grids do not change, and ask it many questions. It is read-only after construction,
so one instance may be shared by the threads of a worker.

Tie rule (documented, deterministic)
    Grids are closed polygons: a point on a grid's outer edge or on one of its hole rings belongs to that
    grid (Shapely `covers` semantics). Grids on one level do not overlap but do share edges and corners,
    so a point exactly on a shared edge or corner is covered by several grids. Such a point resolves to
    **the grid whose key sorts first (lowest grid code) among those whose closed polygon covers the point**.
    A point in a hole is in no grid of that level, unless another grid fills the hole. The same rule
    picks among grids that are exactly equally near in `nearest`.

How it works
    Per level, the level's bounding box (in the site's local metre plane) is cut into a uniform raster of
    cells. Every cell is one of: fully inside one grid (answered by the raster alone), empty (outside every
    grid), or a boundary cell that some grid edge passes through (it lists its candidate grids, in key
    order). Only points in boundary cells get an exact test, and that test is Shapely's point-in-polygon on
    the *original lon/lat* geometry, so the answer is exactly `min(key for grids that cover the point)`:
    the metre plane only decides which cells need the exact test, with a safety margin far above rounding.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gridpatrol.core.geometry import LocalProjection

OUTSIDE = -1
"""The entry index `locate_many` returns for a point in no grid."""

# Raster sizing: about this many cells per grid keeps boundary cells (those needing an exact test) to a
# few percent of a grid's area; the cap bounds memory (4 bytes a cell) when grids are spread thinly.
DEFAULT_CELLS_PER_GRID = 4096
MAX_CELLS_PER_LEVEL = 1 << 22
# A grid edge marks every cell within this distance of it as a boundary cell. Projection and cell-index
# rounding stays below 1e-7 m at any longitude, so 1 mm can never let a point skip the exact test it needs.
_MARGIN_M = 1e-3
_MIN_CELL_M = 0.02  # keeps the margin under a tenth of a cell, so a half-cell piece of edge spans ≤ 2 cells
_CHUNK = 1 << 21  # (cell, grid) pairs handled at once while building


@dataclass(frozen=True, slots=True)
class Location:
    """Where a point is: the grid covering it (distance 0), or the nearest grid and how far it is."""

    key: Hashable
    inside: bool
    distance_m: float


@dataclass(frozen=True, slots=True)
class _Level:
    """The index of one level. Position in `entries` is the grid's rank (its key's place in sort order)."""

    entries: np.ndarray  # entry indices on this level, sorted by key
    ax: float  # fractional cell column = lon * ax + bx (same for rows with ay, by)
    bx: float
    ay: float
    by: float
    nx: int
    ny: int
    table: np.ndarray  # int32 per cell: ≥ 0 entry covering the whole cell, -1 empty, ≤ -2 boundary cell -2-b
    offsets: np.ndarray  # boundary cell b's candidates are candidates[offsets[b]:offsets[b + 1]]
    candidates: np.ndarray  # entry indices, in key order within each boundary cell
    tree: shapely.STRtree  # metre-plane geometries in rank order, for `nearest`


class GridLocator:
    """Locates lon/lat points in the grids of one site (see the module docstring for the tie rule).

    `entries` are `(key, level, geometry)`: key any hashable that sorts against the other keys of its
    level (e.g. the grid code), level an int (e.g. a floor), geometry a valid Shapely Polygon or
    MultiPolygon in WGS84 lon/lat, holes allowed. Distances are in metres in `projection`'s plane (by
    default one centred on the middle of all grids).
    """

    def __init__(self, entries: Iterable[tuple[Hashable, int, BaseGeometry]], *,
                 projection: LocalProjection | None = None,
                 cells_per_grid: int = DEFAULT_CELLS_PER_GRID) -> None:
        entries = list(entries)
        self._keys: tuple[Hashable, ...] = tuple(key for key, _, _ in entries)
        levels = np.array([_check_level(key, level) for key, level, _ in entries], dtype=np.int64)
        # Copies, so preparing them (a cached spatial index inside GEOS) does not touch the caller's objects.
        geoms = np.array([_check_geometry(key, g) for key, _, g in entries] or [], dtype=object)
        geoms = shapely.transform(geoms, lambda c: c) if len(geoms) else geoms
        shapely.prepare(geoms)
        if len(geoms):
            # GEOS builds a prepared polygon's point index on first use, and Shapely queries without the
            # GIL: build it now so that threads sharing this locator only ever read.
            bounds = shapely.bounds(geoms)
            shapely.intersects_xy(geoms, (bounds[:, 0] + bounds[:, 2]) / 2, (bounds[:, 1] + bounds[:, 3]) / 2)
        self._geoms = geoms
        if projection is None:
            if len(geoms):
                minx, miny, maxx, maxy = shapely.total_bounds(geoms)
                projection = LocalProjection((minx + maxx) / 2, (miny + maxy) / 2)
            else:
                projection = LocalProjection(0.0, 0.0)
        self._projection = projection
        self._metres_per_degree = projection.metres_per_degree
        self._levels: dict[int, _Level] = {}
        for level in sorted(set(levels.tolist())):
            members = np.flatnonzero(levels == level)
            self._levels[level] = self._build_level(level, members, cells_per_grid)

    # -- public API -----------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"GridLocator({len(self)} grids on levels {list(self._levels)})"

    @property
    def levels(self) -> tuple[int, ...]:
        return tuple(self._levels)

    @property
    def keys(self) -> tuple[Hashable, ...]:
        """Keys in entry order: `keys[i]` is the grid of entry index `i` returned by `locate_many`."""
        return self._keys

    @property
    def projection(self) -> LocalProjection:
        return self._projection

    def locate(self, lon: float, lat: float, level: int = 0) -> Hashable | None:
        """The key of the grid covering the point on `level` (tie rule applied), or None."""
        index = self._locate_one(lon, lat, level)
        return None if index < 0 else self._keys[index]

    def locate_many(self, lons, lats, levels=None) -> np.ndarray:
        """Entry indices (into `keys`) of the grids covering the points, `OUTSIDE` (-1) for none.

        `lons`/`lats` are equal-shaped arrays; `levels` is None (level 0), one int, or an int per point.
        The result has their shape. Non-finite coordinates and unknown levels give -1.
        """
        lons = np.asarray(lons, dtype=np.float64)
        lats = np.asarray(lats, dtype=np.float64)
        if lons.shape != lats.shape:
            raise ValueError(f"lons and lats differ in shape: {lons.shape} vs {lats.shape}")
        shape = lons.shape
        lons, lats = lons.ravel(), lats.ravel()
        if levels is None or np.ndim(levels) == 0:
            level = self._levels.get(0 if levels is None else int(levels))
            if level is None:
                return np.full(shape, OUTSIDE, dtype=np.intp)
            return self._locate_level(level, lons, lats).reshape(shape)
        levels = np.broadcast_to(np.asarray(levels), shape).ravel()
        result = np.full(lons.shape, OUTSIDE, dtype=np.intp)
        for value in np.unique(levels):
            level = self._levels.get(int(value))
            if level is not None:
                chosen = np.flatnonzero(levels == value)
                result[chosen] = self._locate_level(level, lons[chosen], lats[chosen])
        return result.reshape(shape)

    def nearest(self, lon: float, lat: float, level: int = 0) -> tuple[Hashable, float] | None:
        """The grid nearest the point on `level` and its distance in metres (0.0 for a covering grid).

        None when the level has no grids or a coordinate is not finite.
        """
        found = self.locate_or_nearest(lon, lat, level)
        return None if found is None else (found.key, found.distance_m)

    def locate_or_nearest(self, lon: float, lat: float, level: int = 0) -> Location | None:
        """The covering grid (inside, 0 m) or else the nearest one with its distance; None as `nearest`."""
        index = self._locate_one(lon, lat, level)
        if index >= 0:
            return Location(self._keys[index], True, 0.0)
        state = self._levels.get(level)
        if state is None or not (math.isfinite(lon) and math.isfinite(lat)):
            return None
        kx, ky = self._metres_per_degree
        point = shapely.Point((lon - self._projection.lon0) * kx, (lat - self._projection.lat0) * ky)
        ranks, distances = state.tree.query_nearest(point, return_distance=True, all_matches=True)
        best = int(np.argmin(ranks))  # equally near grids: the lowest key, as for a shared edge
        return Location(self._keys[state.entries[ranks[best]]], False, float(distances[best]))

    # -- lookups --------------------------------------------------------------------------------------

    def _locate_one(self, lon: float, lat: float, level: int) -> int:
        state = self._levels.get(level)
        if state is None:
            return OUTSIDE
        fx = lon * state.ax + state.bx
        fy = lat * state.ay + state.by
        if not (0.0 <= fx < state.nx and 0.0 <= fy < state.ny):  # also false for NaN
            return OUTSIDE
        value = int(state.table[int(fy) * state.nx + int(fx)])
        if value > -2:
            return value
        cell = -2 - value
        for entry in state.candidates[state.offsets[cell]:state.offsets[cell + 1]].tolist():
            if shapely.intersects_xy(self._geoms[entry], lon, lat):  # for a point: intersects ⇔ covers
                return entry
        return OUTSIDE

    def _locate_level(self, state: _Level, lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
        fx = lons * state.ax + state.bx
        fy = lats * state.ay + state.by
        inside = (fx >= 0.0) & (fx < state.nx) & (fy >= 0.0) & (fy < state.ny)
        all_inside = bool(inside.all())
        if not all_inside:  # park the rest (NaN included) on cell 0 and discard their answer below
            fx[~inside] = 0.0
            fy[~inside] = 0.0
        cells = fy.astype(np.intp)
        cells *= state.nx
        cells += fx.astype(np.intp)
        values = state.table[cells]
        if not all_inside:
            values[~inside] = OUTSIDE
        result = values.astype(np.intp)
        pending = np.flatnonzero(values <= -2)
        if not pending.size:
            return result
        # Exact rounds: each pending point tries its cell's next candidate in key order; the first grid
        # that covers it wins (the tie rule), and points with no candidates left are outside.
        result[pending] = OUTSIDE
        boundary = -2 - values[pending].astype(np.intp)
        position = state.offsets[boundary]
        stop = state.offsets[boundary + 1]
        x, y = lons[pending], lats[pending]
        while pending.size:
            entry = state.candidates[position]
            hit = shapely.intersects_xy(self._geoms[entry], x, y)
            result[pending[hit]] = entry[hit]
            position += 1
            keep = ~hit & (position < stop)
            pending, position, stop, x, y = pending[keep], position[keep], stop[keep], x[keep], y[keep]
        return result

    # -- building -------------------------------------------------------------------------------------

    def _build_level(self, level: int, members: np.ndarray, cells_per_grid: int) -> _Level:
        try:
            order = sorted(members.tolist(), key=lambda i: self._keys[i])
        except TypeError as exc:
            raise TypeError(f"grid keys on level {level} must sort against each other: {exc}") from None
        for a, b in zip(order, order[1:]):
            if self._keys[a] == self._keys[b]:
                raise ValueError(f"duplicate grid key {self._keys[a]!r} on level {level}")
        entries = np.array(order, dtype=np.intp)
        metres = self._projection.to_metres(self._geoms[entries])  # same arithmetic as to_metres_xy
        shapely.prepare(metres)
        minx, miny, maxx, maxy = shapely.total_bounds(metres)
        width, height = maxx - minx, maxy - miny

        # Cell size: ~cells_per_grid cells per grid's area, coarser if the raster would be too big.
        size = math.sqrt(float(shapely.area(metres).sum()) / (len(entries) * max(cells_per_grid, 1)))
        size = max(size, math.sqrt((width + 4 * size) * (height + 4 * size) / MAX_CELLS_PER_LEVEL), _MIN_CELL_M)
        while True:  # one cell of padding on every side: rounding at the bbox edge stays inside the raster
            nx, ny = int(width / size) + 3, int(height / size) + 3
            if nx * ny <= MAX_CELLS_PER_LEVEL:
                break
            size *= 1.05
        x0, y0 = minx - size, miny - size
        kx, ky = self._metres_per_degree
        lon0, lat0 = self._projection.lon0, self._projection.lat0

        boundary_pairs = _edge_cells(metres, x0, y0, size, nx, ny)
        centre_pairs = _centre_cells(metres, x0, y0, size, nx, ny)
        n = len(entries)
        is_boundary = np.zeros(nx * ny, dtype=bool)
        is_boundary[boundary_pairs // n] = True

        # Cells no edge touches lie wholly inside the grid(s) covering their centre, or outside all.
        table = np.full(nx * ny, OUTSIDE, dtype=np.int32)
        solid = centre_pairs[~is_boundary[centre_pairs // n]]  # sorted: first pair of a cell = lowest key
        first = _starts(solid // n)
        table[solid[first] // n] = entries[solid[first] % n]

        # Boundary cells: edge-touching grids plus grids covering the centre (they would cover the whole
        # cell, which only matters if grids of a level ever overlapped), each cell's list in key order.
        pairs = _sorted_unique(np.concatenate([boundary_pairs, centre_pairs[is_boundary[centre_pairs // n]]]))
        first = np.flatnonzero(_starts(pairs // n))
        table[pairs[first] // n] = -2 - np.arange(len(first), dtype=np.int32)
        offsets = np.append(first, len(pairs)).astype(np.intp)
        candidates = entries[pairs % n]

        shapely.destroy_prepared(metres)  # only `nearest` uses them from here on, and it needs no index
        return _Level(entries=entries, ax=kx / size, bx=(-lon0 * kx - x0) / size, ay=ky / size,
                      by=(-lat0 * ky - y0) / size, nx=nx, ny=ny, table=table, offsets=offsets,
                      candidates=candidates, tree=shapely.STRtree(metres))


def _edge_cells(metres: np.ndarray, x0: float, y0: float, size: float, nx: int, ny: int) -> np.ndarray:
    """Sorted unique `cell * n + rank` for every cell within the margin of an edge of grid `rank`.

    Edges are cut into pieces at most half a cell long per axis; a piece's box grown by the margin then
    spans at most 2×2 cells, all of which are marked: conservative, never missing a touched cell.
    """
    n = len(metres)
    parts, part_owner = shapely.get_parts(metres, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    coords = (coords - (x0, y0)) / size
    joined = ring_of[1:] == ring_of[:-1]
    start, end = coords[:-1][joined], coords[1:][joined]
    owner = part_owner[ring_part[ring_of[:-1][joined]]]
    pieces = np.maximum(np.ceil(np.abs(end - start).max(axis=1) * 2), 1).astype(np.intp)
    margin = _MARGIN_M / size
    found = []
    for chunk in _chunks(pieces, _CHUNK // 4):
        segment = np.repeat(chunk, pieces[chunk])
        step = np.arange(len(segment)) - np.repeat(np.cumsum(pieces[chunk]) - pieces[chunk], pieces[chunk])
        k = pieces[segment][:, None]
        delta = end[segment] - start[segment]
        a = start[segment] + delta * (step[:, None] / k)
        b = start[segment] + delta * ((step[:, None] + 1) / k)
        low = np.floor(np.minimum(a, b) - margin).astype(np.intp)
        high = np.floor(np.maximum(a, b) + margin).astype(np.intp)
        for dx in (0, 1):
            for dy in (0, 1):
                cx, cy = low[:, 0] + dx, low[:, 1] + dy
                ok = (cx <= high[:, 0]) & (cy <= high[:, 1])
                found.append((cy[ok] * nx + cx[ok]).astype(np.int64) * n + owner[segment[ok]])
    return _sorted_unique(np.concatenate(found)) if found else np.empty(0, dtype=np.int64)


def _centre_cells(metres: np.ndarray, x0: float, y0: float, size: float, nx: int, ny: int) -> np.ndarray:
    """Sorted unique `cell * n + rank` for every cell whose centre lies inside grid `rank`."""
    n = len(metres)
    bounds = shapely.bounds(metres)
    ix0 = np.floor((bounds[:, 0] - x0) / size).astype(np.intp)
    iy0 = np.floor((bounds[:, 1] - y0) / size).astype(np.intp)
    wide = np.floor((bounds[:, 2] - x0) / size).astype(np.intp) - ix0 + 1
    tall = np.floor((bounds[:, 3] - y0) / size).astype(np.intp) - iy0 + 1
    counts = wide * tall
    found = []
    for chunk in _chunks(counts, _CHUNK):
        rank = np.repeat(chunk, counts[chunk])
        local = np.arange(len(rank)) - np.repeat(np.cumsum(counts[chunk]) - counts[chunk], counts[chunk])
        cx = ix0[rank] + local % wide[rank]
        cy = iy0[rank] + local // wide[rank]
        hit = shapely.contains_xy(metres[rank], x0 + (cx + 0.5) * size, y0 + (cy + 0.5) * size)
        found.append((cy[hit] * nx + cx[hit]).astype(np.int64) * n + rank[hit])
    return np.sort(np.concatenate(found)) if found else np.empty(0, dtype=np.int64)  # unique by construction


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    # Not np.unique: NumPy 2.3+ hashes there, which is orders of magnitude slower on millions of int64.
    values = np.sort(values)
    return values[_starts(values)]


def _starts(sorted_values: np.ndarray) -> np.ndarray:
    """Mask of the first element of every run of equal values in a sorted array."""
    mask = np.ones(len(sorted_values), dtype=bool)
    mask[1:] = sorted_values[1:] != sorted_values[:-1]
    return mask


def _chunks(sizes: np.ndarray, budget: int) -> Iterable[np.ndarray]:
    """Consecutive index ranges of `sizes` whose totals stay near `budget` (bounds build memory)."""
    total = np.cumsum(sizes)
    start = 0
    while start < len(sizes):
        base = total[start - 1] if start else 0
        stop = max(int(np.searchsorted(total, base + budget, side="right")), start + 1)
        yield np.arange(start, stop)
        start = stop


def _check_level(key: Hashable, level) -> int:
    if isinstance(level, bool) or not isinstance(level, (int, np.integer)):
        raise TypeError(f"grid {key!r}: level must be an int, got {level!r}")
    return int(level)


def _check_geometry(key: Hashable, geometry: BaseGeometry) -> BaseGeometry:
    if not isinstance(geometry, BaseGeometry) or geometry.geom_type not in ("Polygon", "MultiPolygon"):
        raise TypeError(f"grid {key!r}: expected a Polygon or MultiPolygon, got {type(geometry).__name__}")
    if geometry.is_empty or not geometry.is_valid:
        raise ValueError(f"grid {key!r}: geometry is empty or invalid ({shapely.is_valid_reason(geometry)})")
    return geometry
