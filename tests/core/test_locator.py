"""GridLocator: point → grid against a brute-force `covers` reference, shared edges and corners included.

Pure tests: no app, no database. Sites sit around lon 120.15, lat 30.28 and span about 600 m × 500 m.
Lattice coordinates are whole multiples of UNIT = 2⁻²⁰° added to a dyadic origin, so vertices and points
interpolated along edges at dyadic fractions are exactly representable and lie exactly on the edges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Point, Polygon, box

from gridpatrol.core.locator import OUTSIDE, GridLocator, Location

UNIT = 2.0**-20  # degrees: ≈ 0.092 m east-west, ≈ 0.106 m north-south at this latitude
LON0 = round(120.15 / UNIT) * UNIT
LAT0 = round(30.28 / UNIT) * UNIT
SITE_W, SITE_H = 6600, 4700  # units: ≈ 606 m × 498 m

PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def deg(u: float, v: float) -> tuple[float, float]:
    """Lattice units → lon/lat (exact for whole and dyadic-fraction units)."""
    return LON0 + u * UNIT, LAT0 + v * UNIT


def poly(units) -> Polygon:
    return Polygon([deg(u, v) for u, v in units])


def reference(entries, lon: float, lat: float, level: int):
    """The definition: the lowest key among the level's grids whose closed polygon covers the point."""
    point = Point(lon, lat)
    return min((key for key, lvl, g in entries if lvl == level and g.covers(point)), default=None)


# -- a generated site --------------------------------------------------------------------------------

@dataclass
class Site:
    entries: list = field(default_factory=list)
    exact_points: list = field(default_factory=list)  # lon/lat exactly on vertices, edges, hole rings
    corners: list = field(default_factory=list)  # (lon, lat, level) where four grids of a level meet


def lattice_level(site: Site, rng: np.random.Generator, level: int, rows: int, cols: int, jitter: bool,
                  holes: int, fill_holes: bool, multipolygon: bool, codes: list[str]) -> None:
    """A rows × cols tessellation of the site; interior vertices jittered by < ¼ cell keep every quad valid."""
    cw, ch = SITE_W // cols, SITE_H // rows
    xs = np.array([[c * cw for c in range(cols + 1)] for _ in range(rows + 1)], dtype=np.int64)
    ys = np.array([[r * ch for _ in range(cols + 1)] for r in range(rows + 1)], dtype=np.int64)
    if jitter:
        jx, jy = cw // 4 - 1, ch // 4 - 1
        inner_x = np.ones_like(xs, dtype=bool)
        inner_x[:, [0, -1]] = False  # the site's west/east sides stay straight: slide along them only
        inner_y = np.ones_like(ys, dtype=bool)
        inner_y[[0, -1], :] = False
        xs = xs + np.where(inner_x, rng.integers(-jx, jx + 1, xs.shape), 0)
        ys = ys + np.where(inner_y, rng.integers(-jy, jy + 1, ys.shape), 0)
    quads = {}
    for r in range(rows):
        for c in range(cols):
            corners = [(r, c), (r, c + 1), (r + 1, c + 1), (r + 1, c)]
            quads[r, c] = [(int(xs[i, j]), int(ys[i, j])) for i, j in corners]
    # Exact points: every vertex, plus dyadic fractions along every cell edge.
    for (r, c), quad in quads.items():
        for (u1, v1), (u2, v2) in zip(quad, quad[1:] + quad[:1]):
            site.exact_points.append((*deg(u1, v1), level))
            for t in (0.5, 0.25, 0.75, 0.125):
                site.exact_points.append((*deg(u1 + (u2 - u1) * t, v1 + (v2 - v1) * t), level))
    for r in range(1, rows):
        for c in range(1, cols):
            site.corners.append((*deg(int(xs[r, c]), int(ys[r, c])), level))

    shapes: dict[tuple[int, int], Polygon] = {rc: poly(q) for rc, q in quads.items()}
    for rc in [tuple(x) for x in rng.permutation(list(quads))[:holes]]:
        # The middle quarter of the nominal cell is always inside a jittered cell; cut a hole there.
        r, c = rc
        u, v, hw, hh = c * cw + cw // 2, r * ch + ch // 2, cw // 8, ch // 8
        ring = [(u - hw, v - hh), (u + hw, v - hh), (u + hw, v + hh), (u - hw, v + hh)]
        shapes[rc] = Polygon(shapes[rc].exterior.coords, [[deg(a, b) for a, b in ring]])
        for (u1, v1), (u2, v2) in zip(ring, ring[1:] + ring[:1]):
            site.exact_points.append((*deg(u1, v1), level))
            site.exact_points.append((*deg((u1 + u2) / 2, (v1 + v2) / 2), level))
        site.exact_points.append((*deg(u, v), level))  # the hole's middle
        if fill_holes:
            shapes[("fill", r, c)] = poly(ring)
    cells: list = list(shapes)
    if multipolygon and (rows - 1) + (cols - 1) >= 2:
        first, last = (0, 0), (rows - 1, cols - 1)  # never sharing an edge: one grid in two parts
        shapes[first] = MultiPolygon([shapes.pop(first), shapes.pop(last)])
        cells.remove(last)
    for cell, code in zip(cells, codes):
        assert shapes[cell].is_valid, shapes[cell]
        site.entries.append((code, level, shapes[cell]))


@st.composite
def sites(draw) -> Site:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    site = Site()
    for level in range(draw(st.integers(1, 2))):
        rows, cols = draw(st.integers(1, 7)), draw(st.integers(1, 7))
        codes = [f"G{i:03d}" for i in rng.permutation(rows * cols * 2)]  # key order ≠ geometric order
        lattice_level(site, rng, level, rows, cols, jitter=draw(st.booleans()),
                      holes=draw(st.integers(0, min(3, rows * cols))), fill_holes=draw(st.booleans()),
                      multipolygon=draw(st.booleans()), codes=codes)
    return site


cell_sizes = st.sampled_from([1, 7, 64, 1024, 4096])  # raster coarse to fine relative to the grids


def random_points(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Uniform over the site's box grown by 10 % on every side: inside, outside, and near the rim."""
    lon_lo, lat_lo = deg(-0.1 * SITE_W, -0.1 * SITE_H)
    lon_hi, lat_hi = deg(1.1 * SITE_W, 1.1 * SITE_H)
    return rng.uniform(lon_lo, lon_hi, n), rng.uniform(lat_lo, lat_hi, n)


def check_agrees(locator: GridLocator, entries, lons, lats, levels) -> None:
    lons, lats, levels = np.asarray(lons), np.asarray(lats), np.asarray(levels)
    expected = [reference(entries, x, y, int(level)) for x, y, level in zip(lons, lats, levels)]
    single = [locator.locate(float(x), float(y), int(level)) for x, y, level in zip(lons, lats, levels)]
    batch = locator.locate_many(lons, lats, levels)
    batch_keys = [None if i == OUTSIDE else locator.keys[i] for i in batch]
    assert single == expected
    assert batch_keys == expected
    for level in np.unique(levels):  # the scalar-level path too
        chosen = levels == level
        assert locator.locate_many(lons[chosen], lats[chosen], int(level)).tolist() == batch[chosen].tolist()


# -- properties --------------------------------------------------------------------------------------

@PROPERTY
@given(site=sites(), seed=st.integers(0, 2**32 - 1), cells_per_grid=cell_sizes)
def test_random_points_agree_with_brute_force(site, seed, cells_per_grid):
    locator = GridLocator(site.entries, cells_per_grid=cells_per_grid)
    rng = np.random.default_rng(seed)
    lons, lats = random_points(rng, 300)
    levels = rng.integers(0, 3, len(lons))  # level 2 never has grids: always outside
    check_agrees(locator, site.entries, lons, lats, levels)


@PROPERTY
@given(site=sites(), seed=st.integers(0, 2**32 - 1), cells_per_grid=cell_sizes)
def test_points_exactly_on_edges_corners_and_holes_agree_with_brute_force(site, seed, cells_per_grid):
    locator = GridLocator(site.entries, cells_per_grid=cells_per_grid)
    rng = np.random.default_rng(seed)
    chosen = rng.permutation(len(site.exact_points))[:300]
    points = [site.exact_points[i] for i in chosen] + site.corners
    lons, lats, own_levels = (np.array(col) for col in zip(*points))
    # Each point on its own level's lattice (exactly on an edge there), and on the other level as well.
    check_agrees(locator, site.entries, lons, lats, own_levels)
    check_agrees(locator, site.entries, lons, lats, 1 - own_levels)


@PROPERTY
@given(site=sites(), cells_per_grid=cell_sizes)
def test_a_corner_of_four_grids_resolves_to_the_lowest_of_the_four(site, cells_per_grid):
    locator = GridLocator(site.entries, cells_per_grid=cells_per_grid)
    for lon, lat, level in site.corners:
        covering = [key for key, lvl, g in site.entries if lvl == level and g.covers(Point(lon, lat))]
        assert len(covering) >= 3  # four cells; three grids where a 2 × 2 MultiPolygon touches itself
        assert locator.locate(lon, lat, level) == min(covering)


# -- deterministic examples ---------------------------------------------------------------------------

def cells(*spec) -> list:
    """Unit boxes on the lattice: (code, column, row) → a 1000 × 1000-unit grid (≈ 92 m × 106 m)."""
    return [(code, 0, poly([(c * 1000, r * 1000), ((c + 1) * 1000, r * 1000),
                            ((c + 1) * 1000, (r + 1) * 1000), (c * 1000, (r + 1) * 1000)]))
            for code, c, r in spec]


@pytest.mark.parametrize("order", [1, -1])
def test_a_point_on_a_shared_edge_resolves_to_the_lower_code(order):
    entries = cells(("A02", 0, 0), ("A01", 1, 0))[::order]  # A01 is the eastern one
    locator = GridLocator(entries)
    on_edge = deg(1000, 500)
    assert locator.locate(*on_edge) == "A01"
    assert locator.keys[locator.locate_many([on_edge[0]], [on_edge[1]])[0]] == "A01"
    assert locator.locate(*deg(999.5, 500)) == "A02"  # a hair west of the edge: only A02 covers it


def test_a_corner_of_four_resolves_to_the_lowest_code():
    locator = GridLocator(cells(("A07", 0, 0), ("A03", 1, 0), ("A05", 0, 1), ("A04", 1, 1)))
    assert locator.locate(*deg(1000, 1000)) == "A03"
    assert locator.locate(*deg(1000, 1500)) == "A04"  # edge between A05 and A04
    assert locator.locate(*deg(500, 1000)) == "A05"  # edge between A07 and A05


def test_outer_edges_and_corners_are_inside():
    locator = GridLocator(cells(("A01", 0, 0)))
    for u, v in [(0, 0), (1000, 1000), (0, 500), (500, 1000), (1000, 250)]:
        assert locator.locate(*deg(u, v)) == "A01"
    assert locator.locate(*deg(-0.5, 500)) is None
    assert locator.locate(*deg(1000.5, 500)) is None


def test_a_hole_is_outside_unless_a_grid_fills_it():
    hole = [(400, 400), (600, 400), (600, 600), (400, 600)]
    ring = [deg(u, v) for u, v in hole]
    with_hole = Polygon([deg(0, 0), deg(1000, 0), deg(1000, 1000), deg(0, 1000)], [ring])
    locator = GridLocator([("B02", 0, with_hole)])
    assert locator.locate(*deg(500, 500)) is None  # in the hole
    assert locator.locate(*deg(600, 500)) == "B02"  # on the hole's ring: the closed polygon covers it
    assert locator.locate(*deg(700, 500)) == "B02"

    locator = GridLocator([("B02", 0, with_hole), ("B01", 0, Polygon(ring)), ("B03", 1, Polygon(ring))])
    assert locator.locate(*deg(500, 500)) == "B01"  # the filling grid
    assert locator.locate(*deg(600, 500)) == "B01"  # shared ring: lower code
    assert locator.locate(*deg(400, 400)) == "B01"
    assert locator.locate(*deg(700, 500)) == "B02"
    assert locator.locate(*deg(500, 500), level=1) == "B03"


def test_a_multipolygon_grid_answers_for_both_parts():
    a, b = cells(("x", 0, 0), ("y", 2, 0))
    locator = GridLocator([("A09", 0, MultiPolygon([a[2], b[2]])), *cells(("A01", 1, 0))])
    assert locator.locate(*deg(500, 500)) == "A09"
    assert locator.locate(*deg(2500, 500)) == "A09"
    assert locator.locate(*deg(2000, 500)) == "A01"  # shared edge with the second part
    assert locator.locate(*deg(3500, 500)) is None


def test_a_point_outside_answers_the_nearest_grid_in_metres():
    locator = GridLocator(cells(("A01", 0, 0), ("A02", 1, 0), ("A03", 0, 1)))
    east_lon, lat = deg(2000, 500)  # the east edge of A02
    metres_per_degree_lon = 111_320 * math.cos(math.radians(lat))  # hand computation, spherical
    point = (east_lon + 100 / metres_per_degree_lon, lat)
    assert locator.locate(*point) is None
    key, distance = locator.nearest(*point)
    assert key == "A02" and distance == pytest.approx(100, abs=0.5)
    found = locator.locate_or_nearest(*point)
    assert found.key == "A02" and not found.inside and found.distance_m == pytest.approx(100, abs=0.5)

    north = deg(500, 2000)  # A03's north edge; 50 m further north (≈ 110.85 km per degree here)
    key, distance = locator.nearest(north[0], north[1] + 50 / 110_850)
    assert key == "A03" and distance == pytest.approx(50, abs=0.5)


def test_inside_means_distance_zero():
    locator = GridLocator(cells(("A01", 0, 0), ("A02", 1, 0)))
    assert locator.locate_or_nearest(*deg(1000, 500)) == Location("A01", True, 0.0)
    assert locator.nearest(*deg(1500, 500)) == ("A02", 0.0)


def test_equally_near_grids_resolve_to_the_lower_code():
    locator = GridLocator(cells(("A02", 0, 0), ("A01", 1, 0)))
    below_shared_corner = deg(1000, -300)  # both grids' nearest point is the same vertex
    key, distance = locator.nearest(*below_shared_corner)
    assert key == "A01" and distance == pytest.approx(300 * UNIT * 110_850, rel=0.01)


def test_levels_are_separate_and_unknown_levels_are_empty():
    entries = cells(("A01", 0, 0)) + [("F2-01", 2, cells(("x", 0, 0))[0][2])]
    locator = GridLocator(entries)
    assert locator.levels == (0, 2) and len(locator) == 2
    inside = deg(500, 500)
    assert locator.locate(*inside) == "A01"
    assert locator.locate(*inside, level=2) == "F2-01"
    assert locator.locate(*inside, level=1) is None
    assert locator.nearest(*inside, level=1) is None
    assert locator.locate_or_nearest(*inside, level=1) is None
    lons, lats = np.full(3, inside[0]), np.full(3, inside[1])
    assert locator.locate_many(lons, lats, [0, 1, 2]).tolist() == [0, OUTSIDE, 1]
    assert locator.locate_many(lons, lats, 1).tolist() == [OUTSIDE] * 3


def test_locate_many_keeps_the_shape_and_refuses_mismatched_inputs():
    locator = GridLocator(cells(("A01", 0, 0)))
    lon, lat = deg(500, 500)
    assert locator.locate_many(np.full((2, 3), lon), np.full((2, 3), lat)).shape == (2, 3)
    assert locator.locate_many([], []).shape == (0,)
    with pytest.raises(ValueError, match="shape"):
        locator.locate_many([lon, lon], [lat])


def test_non_finite_coordinates_are_outside():
    locator = GridLocator(cells(("A01", 0, 0)))
    lon, lat = deg(500, 500)
    for bad in (math.nan, math.inf, -math.inf):
        assert locator.locate(bad, lat) is None
        assert locator.locate(lon, bad) is None
        assert locator.nearest(bad, lat) is None
    assert locator.locate_many([math.nan, lon, math.inf], [lat, lat, lat]).tolist() == [OUTSIDE, 0, OUTSIDE]


def test_an_empty_locator_finds_nothing():
    locator = GridLocator([])
    assert len(locator) == 0 and locator.levels == ()
    assert locator.locate(120.15, 30.28) is None and locator.nearest(120.15, 30.28) is None
    assert locator.locate_many([120.15], [30.28]).tolist() == [OUTSIDE]


def test_the_callers_geometries_are_left_unprepared():
    entries = cells(("A01", 0, 0))
    GridLocator(entries)
    assert not shapely.is_prepared(entries[0][2])


@pytest.mark.parametrize("entries, error, message", [
    (cells(("A01", 0, 0), ("A01", 1, 0)), ValueError, "duplicate grid key 'A01'"),
    ([("A01", 0, Polygon([(0, 0), (1, 1), (1, 0), (0, 1)]))], ValueError, "invalid"),
    ([("A01", 0, Polygon())], ValueError, "empty"),
    ([("A01", 0, Point(0, 0))], TypeError, "Polygon or MultiPolygon"),
    ([("A01", "0", box(0, 0, 1, 1))], TypeError, "level must be an int"),
    ([("A01", 0, box(0, 0, 1, 1)), (2, 0, box(1, 0, 2, 1))], TypeError, "must sort"),
])
def test_bad_entries_are_refused(entries, error, message):
    with pytest.raises(error, match=message):
        GridLocator(entries)


def test_the_same_key_may_appear_on_different_levels():
    entries = cells(("A01", 0, 0)) + [("A01", 1, cells(("x", 0, 0))[0][2])]
    locator = GridLocator(entries)
    assert locator.locate(*deg(500, 500), level=1) == "A01"
