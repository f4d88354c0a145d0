"""A grid stored with 200,000 vertices (as an install from before the import limits may hold one) keeps every map
small: the quick report, the site map and the grid page draw a simplified outline at display precision
(grids/map_svg.py `outline`), while locating still answers from the stored geometry, to the millimetre."""

from __future__ import annotations

import re

import numpy as np
import pytest
import shapely
import sqlalchemy as sa
from shapely.geometry import Point, Polygon

from gridpatrol.core.geometry import LocalProjection
from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.grids import map_svg, services
from gridpatrol.grids.models import Grid, Site
from tests import helpers
from tests.grids import builders

TEETH = 200_001  # positions along A01's east edge: 200,004 in all with the two west corners and the closing one
DEPTH = 2e-7  # the teeth are 2e-7° (about 2 cm) deep: far below what a map shows
# What the outline of one grid may add to a page: 100 vertices at ~20 bytes each. The stored outline would add
# ~200,000 × 16 bytes = 3 MB to every map it is drawn on.
MAX_GROWTH_PER_MAP = 2_000


def sawtooth_cell():
    """A01 (the lattice cell (0, 0)) with its east edge cut into 100,000 teeth: at even positions it reaches the
    shared edge with A02, at odd ones it stops DEPTH short of it (the notches belong to no grid)."""
    x0, y0, x1, y1 = builders.cell(0, 0).bounds
    ys = np.linspace(y1, y0, TEETH)
    xs = np.where(np.arange(TEETH) % 2 == 0, x1, x1 - DEPTH)
    return Polygon([(x0, y1), *zip(xs, ys), (x0, y0)]), (x1, ys)


def _store_directly(app, geometry) -> None:
    """Write A01's geometry as an old install holds it: straight into the row, past the import and its limits."""
    with app.app_context(), job_transaction() as session:
        grid = session.scalar(sa.select(Grid).where(Grid.code == "A01"))
        grid.geometry = geometry
        site = session.get(Site, grid.site_id)
        site.grids_version += 1


def _pages(app, client) -> dict[str, str]:
    with app.app_context():
        a01 = db.session.scalar(sa.select(Grid.id).where(Grid.code == "A01"))
    out = {}
    for path in ("/s/TEST/report", "/s/TEST/map", f"/s/TEST/grids/{a01}"):
        response = client.get(path)
        assert response.status_code == 200, path
        out[path] = response.get_data(as_text=True)
    return out


def _a01_outline(html: str) -> tuple[list[Polygon], LocalProjection]:
    """A01's outline as the page draws it (metres, y up), and the map's projection from the SVG's data attributes."""
    svg = re.search(r"<svg[^>]*>", html).group(0)
    lon0, lat0 = float(re.search(r'data-lon0="([^"]+)"', svg).group(1)), float(
        re.search(r'data-lat0="([^"]+)"', svg).group(1))
    d = re.search(r'data-code="A01"[^>]*>(?:<title>[^<]*</title>)?<path class="[^"]*" d="([^"]+)"', html).group(1)
    rings = []
    for ring in re.findall(r"M([^Z]+)Z", d):
        xy = np.array([p.split() for p in ring.split("L")], dtype=float)
        rings.append(Polygon(xy * (1.0, -1.0)))
    return rings, LocalProjection(lon0, lat0)


@pytest.fixture(params=["boundary", "no boundary"])
def staff_client(app, request):
    builders.make_site(app, grids=builders.two_by_two())
    if request.param == "no boundary":  # the map is then centred on the grids themselves
        with app.app_context(), job_transaction() as session:
            session.scalar(sa.select(Site)).boundary = None
    client = app.test_client()
    helpers.login(client, helpers.make_user(app, "zhigong", roles=("staff",)))
    return client


def test_a_grid_of_200000_vertices_keeps_the_maps_small_and_locating_exact(app, staff_client):
    before = _pages(app, staff_client)  # A01 a plain square: 5 positions
    big, (east, ys) = sawtooth_cell()
    assert shapely.get_num_coordinates(big) == TEETH + 3 and big.is_valid
    _store_directly(app, big)
    map_svg.OUTLINE_CACHE.clear()
    after = _pages(app, staff_client)

    for path, html in after.items():
        growth = len(html.encode()) - len(before[path].encode())
        maps = html.count("<svg class=\"grid-map")
        assert maps >= 1, path
        assert growth < MAX_GROWTH_PER_MAP * maps, (path, growth)
        rings, _projection = _a01_outline(html)
        assert sum(len(r.exterior.coords) for r in rings) < 100, path

    # The map's outline has lost the teeth; locating has not. A tooth's tip is in A01, a notch beside it is in no
    # grid, though the drawn outline says otherwise for one of them.
    rings, projection = _a01_outline(after["/s/TEST/report"])
    drawn = shapely.union_all(rings)
    k = len(ys) // 2 + 1  # an odd position, mid-edge: the bottom of a notch
    tip = (east - DEPTH * 0.1, float(ys[k - 1]))  # just inside the tip of the tooth above the notch
    notch = (east - DEPTH * 0.9, float(ys[k]))  # 1.8 cm from A02, 2 mm from A01's tooth: in no grid
    assert big.contains(Point(tip)) and not big.contains(Point(notch))

    def drawn_contains(lon, lat):
        x, y = projection.to_metres_xy(lon, lat)
        return drawn.contains(Point(float(x), float(y)))

    assert drawn_contains(*tip) != True or drawn_contains(*notch) != False  # noqa: E712 - the outline is not exact
    with app.app_context():
        site = db.session.scalar(sa.select(Site))
        inside = services.locate(db.session, site, *tip)
        outside = services.locate(db.session, site, *notch)
    assert inside.inside and inside.grid.code == "A01"
    assert not outside.inside and outside.nearest.code == "A01" and outside.distance_m < 0.01
    answer = staff_client.get(f"/api/v1/sites/TEST/locate?lon={notch[0]!r}&lat={notch[1]!r}").get_json()
    assert answer["inside"] is False and answer["nearest"]["code"] == "A01"


def test_an_outline_is_simplified_within_half_a_pixel_and_kept_for_the_next_page():
    big, _edge = sawtooth_cell()
    projection = LocalProjection.around(big)
    extent = 200.0
    tolerance = map_svg.display_tolerance(extent)
    assert tolerance == pytest.approx(extent / map_svg.MAP_PIXELS / 2)
    map_svg.OUTLINE_CACHE.clear()
    first = map_svg.outline(big, projection, tolerance)
    assert first.vertices < 20
    assert projection.to_metres(big).hausdorff_distance(first.shape) <= tolerance
    assert map_svg.outline(big, projection, tolerance) is first  # costly: simplified once, per content
    moved = shapely.transform(big, lambda c: c + (1e-6, 0))  # the grid redrawn: a new outline
    assert map_svg.outline(moved, projection, tolerance) is not first
    # A plain grid is not worth keeping, and its path is written at the display precision (1 cm for 200 m).
    small = map_svg.outline(builders.cell(0, 0), projection, tolerance)
    assert small.vertices == 5 and map_svg.outline(builders.cell(0, 0), projection, tolerance) is not small
    assert re.fullmatch(r"M-?\d+\.\d{2} -?\d+\.\d{2}( L-?\d+\.\d{2} -?\d+\.\d{2}){3} Z", small.path)
