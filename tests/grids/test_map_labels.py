"""Map labels: a code is never cut, names where they fit, small grids labelled outside with a leader line, outside
labels kept off each other. Measured in the map's metric plane (grids/map_svg.py)."""

from __future__ import annotations

import itertools
import re

import sqlalchemy as sa
from shapely.geometry import Point, box

from gridpatrol.extensions import db
from gridpatrol.grids import map_svg, services
from gridpatrol.grids.models import Site
from tests.grids import builders

S = builders.STEP


def _tiny(col: float, row: float, size: float):
    x, y = builders.LON0 + col * S, builders.LAT0 - row * S
    return box(x, y - size, x + size, y)


def _mixed_site(app):
    """A big grid beside a row of tiny ones (a guard post, a pump room, …), all on the outdoor level."""
    features = [builders.feature("A01", box(builders.LON0, builders.LAT0 - 2 * S, builders.LON0 + 2 * S,
                                            builders.LAT0), name="北广场")]
    for i in range(6):  # ~5 m squares, 10 m apart: far too small for a code in a 200 m wide map
        features.append(builders.feature(f"A{i + 2:02d}", _tiny(2.1 + 0.1 * (i % 2), 0.2 + 0.1 * i, S / 20),
                                         name=f"泵房{i + 1}"))
    builders.make_site(app, grids=builders.collection(*features),
                       boundary=box(builders.LON0, builders.LAT0 - 2 * S, builders.LON0 + 2.5 * S, builders.LAT0))


def _render(app):
    with app.app_context():
        site = db.session.scalar(sa.select(Site))
        grids = services.list_grids(db.session, site, level=0)
        svg = str(map_svg.render(site, grids, link_for=lambda g: f"/g/{g.code}"))
        return site, grids, svg


def test_every_code_is_drawn_in_full_and_small_grids_are_labelled_outside(app):
    _mixed_site(app)
    _site, grids, svg = _render(app)
    codes = re.findall(r'<text class="grid-label grid-code( outside)?"[^>]*>([^<]+)</text>', svg)
    assert sorted(code for _o, code in codes) == sorted(g.code for g in grids)
    outside = {code for o, code in codes if o}
    assert outside == {f"A{i:02d}" for i in range(2, 8)}
    # Each outside label is a link to its grid, with a leader line from inside the grid.
    for code in outside:
        group = re.search(rf'<a class="grid-label-link" href="/g/{code}" data-label-for="{code}"[^>]*>(.*?)</a>',
                          svg).group(1)
        assert '<line class="leader-line"' in group
    # The big grid shows its name below its code; the tiny ones do not (it would not fit).
    names = re.findall(r'<text class="grid-label grid-name"[^>]*>([^<]+)</text>', svg)
    assert names == ["北广场"]


def test_inside_labels_fit_and_outside_labels_do_not_overlap(app):
    _mixed_site(app)
    site, grids, _svg = _render(app)
    with app.app_context():
        projection = map_svg.projection_for(site, grids)
        shapes = [projection.to_metres(g.geometry) for g in grids]
        minx, miny, maxx, maxy = projection.to_metres(site.boundary).bounds
        font = max(maxx - minx, maxy - miny) / map_svg.FONT_DIVISOR
        labels = map_svg.place_labels([(g.code, g.name, s) for g, s in zip(grids, shapes)], font)
    for grid, shape, label in zip(grids, shapes, labels):
        rect = box(*label.box)
        assert label.box[2] - label.box[0] >= map_svg.text_width(grid.code, label.code_font)  # holds the whole code
        if label.outside:
            assert not rect.intersects(shape)  # beside the grid, not on it
            anchor = Point(label.anchor)
            assert shape.contains(anchor)  # the leader line starts inside the grid
            assert rect.distance(anchor) < 4 * font  # and is short
        else:
            assert shape.contains(rect)
    for a, b in itertools.combinations(labels, 2):
        assert map_svg._overlap(a.box, b.box) == 0


def test_a_crowded_map_still_draws_every_code(app):
    """Twenty tiny grids in a tight cluster: no free spot for every label, yet every code is drawn in full."""
    features = [builders.feature("B00", box(builders.LON0, builders.LAT0 - 2 * S, builders.LON0 + 2 * S,
                                            builders.LAT0))]
    for i in range(20):
        features.append(builders.feature(f"C{i:02d}", _tiny(2.05 + 0.06 * (i % 5), 0.05 + 0.06 * (i // 5), S / 40)))
    builders.make_site(app, grids=builders.collection(*features),
                       boundary=box(builders.LON0, builders.LAT0 - 2 * S, builders.LON0 + 2.5 * S, builders.LAT0))
    _site, grids, svg = _render(app)
    codes = re.findall(r'<text class="grid-label grid-code[^"]*"[^>]*>([^<]+)</text>', svg)
    assert sorted(codes) == sorted(g.code for g in grids)
    # The viewBox grew to hold the labels placed outside the compound.
    x, y, w, h = map(float, re.search(r'viewBox="([^"]+)"', svg).group(1).split())
    for tx, ty in re.findall(r'<text class="grid-label grid-code outside" x="([-\d.]+)" y="([-\d.]+)"', svg):
        assert x <= float(tx) <= x + w and y <= float(ty) <= y + h
