"""The demo compound data files (gridpatrol/demo/data): pure checks on the files the app imports."""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from pathlib import Path

import pytest
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon, shape
from shapely.ops import unary_union

from gridpatrol.core.categories import Category
from gridpatrol.core.geometry import LocalProjection
from gridpatrol.demo.data import build_compound

DATA = Path(build_compound.__file__).resolve().parent
OVERLAP_M2 = 0.01
PROJECTION = LocalProjection(120.150, 30.280)


def _load(name):
    return json.loads((DATA / name).read_text(encoding="utf-8"))


SITE = _load("site.json")
FEATURES = _load("compound.geojson")["features"]
PEOPLE = _load("people.json")
CHECKPOINTS = _load("checkpoints.json")
PROPS = [f["properties"] for f in FEATURES]
GEOMS = {p["code"]: shape(f["geometry"]) for p, f in zip(PROPS, FEATURES)}
METRES = {code: PROJECTION.to_metres(g) for code, g in GEOMS.items()}
BOUNDARY_M = PROJECTION.to_metres(shape(SITE["boundary"]))
BY_CODE = {p["code"]: p for p in PROPS}


def _polygons(geom):
    return [geom] if isinstance(geom, Polygon) else list(geom.geoms)


def _segments(geom):
    for poly in _polygons(geom):
        for ring in (poly.exterior, *poly.interiors):
            coords = list(ring.coords)
            for a, b in zip(coords[:-1], coords[1:]):
                yield frozenset((a, b))


def _footprints():
    parts = {}
    for p in PROPS:
        if p["level"] == 1:
            parts.setdefault(p["building"], []).append(METRES[p["code"]])
    return {b: unary_union(gs) for b, gs in parts.items()}


# ---------------------------------------------------------------------------------------------- site
def test_site_file():
    assert SITE["code"] == "DHXZ"
    assert SITE["name"] == "东湖区行政中心"
    assert SITE["timezone"] == "Asia/Shanghai"
    assert SITE["boundary"]["type"] == "Polygon"
    boundary = shape(SITE["boundary"])
    assert boundary.is_valid
    assert boundary.exterior.is_ccw
    x0, y0, x1, y1 = BOUNDARY_M.bounds
    assert x1 - x0 == pytest.approx(600, abs=1) and y1 - y0 == pytest.approx(450, abs=1)
    assert BOUNDARY_M.centroid.distance(Point(0, 0)) < 5


def test_data_files_are_up_to_date_with_the_generator():
    files = build_compound.render_files(build_compound.build())
    for name, text in files.items():
        assert (DATA / name).read_text(encoding="utf-8") == text, f"{name} is stale: run build_compound"


# ---------------------------------------------------------------------------------------------- grids
def test_49_grids_with_unique_codes_a01_to_a49():
    assert _load("compound.geojson")["type"] == "FeatureCollection"
    assert len(FEATURES) == 49
    codes = [p["code"] for p in PROPS]
    assert len(set(codes)) == 49
    assert sorted(codes) == [f"A{i:02d}" for i in range(1, 50)]


def test_required_properties_have_the_right_types():
    known = {c.value for c in Category}
    for f in FEATURES:
        assert f["type"] == "Feature"
        p = f["properties"]
        assert re.fullmatch(r"A\d\d", p["code"])
        assert isinstance(p["name"], str) and p["name"].strip()
        assert type(p["level"]) is int and -3 <= p["level"] <= 10
        assert p["building"] is None or (isinstance(p["building"], str) and p["building"].strip())
        assert (p["level"] == 0) == (p["building"] is None), p["code"]
        assert isinstance(p["leader"], str)
        assert p["deputy"] is None or isinstance(p["deputy"], str)
        assert isinstance(p["categories"], list) and p["categories"]
        assert set(p["categories"]) <= known and len(set(p["categories"])) == len(p["categories"])
        assert isinstance(p["description"], str) and p["description"].strip()
    assert len({p["name"] for p in PROPS}) == 49


def test_every_geometry_is_valid_polygonal_rfc7946():
    for p, f in zip(PROPS, FEATURES):
        g = GEOMS[p["code"]]
        assert f["geometry"]["type"] in ("Polygon", "MultiPolygon")
        assert g.is_valid, (p["code"], shapely.is_valid_reason(g))
        assert g.area > 0
        for poly in _polygons(g):
            assert poly.exterior.is_ccw, p["code"]  # RFC 7946: exterior rings counter-clockwise
            assert all(not r.is_ccw for r in poly.interiors), p["code"]
        coords = f["geometry"]["coordinates"]
        for poly in coords if f["geometry"]["type"] == "MultiPolygon" else [coords]:
            for ring in poly:
                assert ring[0] == ring[-1] and len(ring) >= 4
                for lon, lat in ring:
                    assert 120.14 < lon < 120.16 and 30.27 < lat < 30.29


def test_coordinates_have_at_least_six_decimals():
    text = (DATA / "compound.geojson").read_text(encoding="utf-8")
    numbers = re.findall(r"\[(1\d\d\.\d+), (\d\d\.\d+)\]", text)
    assert numbers
    assert max(len(lon.split(".")[1]) for lon, _ in numbers) >= 6
    assert max(len(lat.split(".")[1]) for _, lat in numbers) >= 6


def test_no_overlaps_on_the_same_level():
    by_level = {}
    for p in PROPS:
        by_level.setdefault(p["level"], []).append(p["code"])
    for level, codes in by_level.items():
        for a, b in itertools.combinations(codes, 2):
            area = METRES[a].intersection(METRES[b]).area
            assert area <= OVERLAP_M2, f"level {level}: {a} and {b} overlap by {area:.3f} m²"


def test_outdoor_ground_and_building_footprints_do_not_overlap():
    ground = [p["code"] for p in PROPS if p["level"] == 0]
    for building, fp in _footprints().items():
        for code in ground:
            assert METRES[code].intersection(fp).area <= OVERLAP_M2, (code, building)


def test_upper_floors_lie_within_their_building_footprint():
    footprints = _footprints()
    checked = 0
    for p in PROPS:
        if p["level"] not in (0, 1) and p["building"] in footprints:
            assert METRES[p["code"]].difference(footprints[p["building"]]).area <= OVERLAP_M2, p["code"]
            checked += 1
    assert checked >= 10
    # Each multi-storey building's upper floors cover the footprint exactly (floors share the footprint).
    for p in PROPS:
        if p["level"] >= 2:
            floor = unary_union([METRES[q["code"]] for q in PROPS
                                 if q["building"] == p["building"] and q["level"] == p["level"]])
            assert floor.symmetric_difference(footprints[p["building"]]).area <= 1.0, p["code"]


def test_basements_lie_within_the_compound():
    basements = [p["code"] for p in PROPS if p["level"] < 0]
    assert basements
    for code in basements:
        assert METRES[code].difference(BOUNDARY_M).area < OVERLAP_M2


def test_boundary_contains_all_grids():
    for code, g in METRES.items():
        assert g.difference(BOUNDARY_M).area < 1.0, code


@pytest.mark.parametrize("levels", [(0, 1), None], ids=["ground-and-footprints", "all-levels"])
def test_ground_covers_the_compound_except_the_listed_gaps(levels):
    # Level 0 plus the footprints tile the compound; the importer counts every level as cover: both leave
    # exactly the deliberate gaps listed in build_compound.DELIBERATE_GAPS (and README.md).
    cover = unary_union([METRES[p["code"]] for p in PROPS if levels is None or p["level"] in levels])
    gaps = BOUNDARY_M.difference(cover)
    total = gaps.area
    assert total < 50.0
    listed = [shapely.box(*b) for _, b, _ in build_compound.DELIBERATE_GAPS]
    assert total == pytest.approx(sum(g.area for g in listed), abs=1.0)
    for gap in listed:
        assert gaps.contains(gap.centroid)


def test_there_is_a_hole_a_multipolygon_and_an_exactly_shared_edge():
    assert any(poly.interiors for g in GEOMS.values() for poly in _polygons(g))
    assert any(isinstance(g, MultiPolygon) for g in GEOMS.values())
    ground = [p["code"] for p in PROPS if p["level"] == 0]
    shared = [(a, b) for a, b in itertools.combinations(ground, 2)
              if set(_segments(GEOMS[a])) & set(_segments(GEOMS[b]))]
    assert len(shared) >= 10
    # A shared segment's midpoint lies on both grids' boundaries and in neither interior.
    a, b = shared[0]
    segment = next(iter(set(_segments(GEOMS[a])) & set(_segments(GEOMS[b]))))
    (x0, y0), (x1, y1) = segment
    mid = Point((x0 + x1) / 2, (y0 + y1) / 2)
    for code in (a, b):
        assert GEOMS[code].boundary.distance(mid) < 1e-9 and not GEOMS[code].contains(mid)


def test_code_order_follows_north_to_south_west_to_east():
    order = build_compound.grid_order(FEATURES, PROJECTION)
    assert [PROPS[i]["code"] for i in order] == [f"A{i:02d}" for i in range(1, 50)]
    # Independent of the generator's key: rows (75 m bands from the north) never go back north, and a
    # building's grids are consecutive and ordered by floor.
    north = max(g.bounds[3] for g in METRES.values())
    anchors = {}
    for p in PROPS:
        if p["building"]:
            anchors.setdefault(p["building"], []).append(METRES[p["code"]])
    anchors = {b: unary_union(gs).representative_point() for b, gs in anchors.items()}
    codes = sorted(BY_CODE)
    rows = []
    for code in codes:
        p = BY_CODE[code]
        pt = anchors[p["building"]] if p["building"] else METRES[code].representative_point()
        rows.append(int((north - pt.y) // build_compound.ROW_HEIGHT_M))
    assert rows == sorted(rows)
    assert rows[0] == 0 and rows[-1] >= 5
    groups = [BY_CODE[c]["building"] for c in codes]
    for building in {g for g in groups if g}:
        idx = [i for i, g in enumerate(groups) if g == building]
        assert idx == list(range(idx[0], idx[-1] + 1)), building
        levels = [BY_CODE[codes[i]]["level"] for i in idx]
        assert levels == sorted(levels), building


def test_demo_content_is_what_a_compound_has():
    names = " ".join(p["name"] for p in PROPS)
    for word in ("主楼", "东辅楼", "西辅楼", "会议中心", "职工食堂", "地下车库", "停车场", "北广场", "南广场",
                 "绿", "配电房", "水泵房", "门卫室", "内部道路"):
        assert word in names, word
    main = [p for p in PROPS if p["building"] == "主楼"]
    assert {p["level"] for p in main} >= {1, 2, 3}
    assert any(p["level"] == -1 and p["building"] == "地下车库" for p in PROPS)


def test_each_grids_categories_fit_what_it_is():
    """定责任: a grid's patrols check only its categories' items, so they must fit the place — no lawns in the lobby,
    no kitchen gas on a green belt."""
    def has(code, *categories):
        return set(categories) <= set(BY_CODE[code]["categories"])

    for p in PROPS:
        code, name, cats = p["code"], p["name"], set(p["categories"])
        if p["level"] != 0:
            assert "greening" not in cats, f"{code} {name} is indoors"
        if "绿" in name:
            assert {"greening", "sanitation"} <= cats, f"{code} {name} is a green area"
        if "停车" in name or "道路" in name:
            assert "security" in cats and "greening" not in cats, f"{code} {name}"
    assert BY_CODE["A19"]["name"] == "主楼1层大厅"
    assert set(BY_CODE["A19"]["categories"]) == {"fire_safety", "sanitation", "security", "equipment"}
    for kitchen in ("A02", "A03", "A04"):  # the canteen: water, power and gas, fire
        assert has(kitchen, "water_power", "fire_safety", "sanitation"), kitchen
    for plant in ("A08", "A09", "A17"):  # 配电房, 水泵房, 主楼负一层设备区
        assert set(BY_CODE[plant]["categories"]) == {"water_power", "equipment", "fire_safety"}, plant
    offices = [p for p in PROPS if "办公室" in (p.get("description") or "")]
    assert len(offices) >= 8
    for p in offices:
        assert {"water_power", "fire_safety", "assets"} <= set(p["categories"]), p["name"]


# ---------------------------------------------------------------------------------------------- people
def test_people_file():
    assert 30 <= len(PEOPLE) <= 40
    usernames = [p["username"] for p in PEOPLE]
    assert len(set(usernames)) == len(usernames)
    for person in PEOPLE:
        assert set(person) == {"username", "display_name", "phone", "department"}
        assert re.fullmatch(r"[a-z0-9_.-]{2,40}", person["username"])
        assert re.fullmatch(r"[\u4e00-\u9fff]{2,4}", person["display_name"])
        assert re.fullmatch(r"138\d{8}", person["phone"])
        assert person["department"]
    assert len({p["phone"] for p in PEOPLE}) == len(PEOPLE)


def test_every_leader_and_deputy_is_a_known_person():
    usernames = {p["username"] for p in PEOPLE}
    for p in PROPS:
        assert p["leader"] in usernames, p["code"]
        assert p["deputy"] is None or p["deputy"] in usernames, p["code"]
        assert p["deputy"] != p["leader"], p["code"]
    assert sum(p["deputy"] is not None for p in PROPS) >= 40  # deputies for most grids
    lead = Counter(p["leader"] for p in PROPS)
    assert max(lead.values()) == 2 and sum(n == 2 for n in lead.values()) >= 5  # some lead two grids
    assert {p["leader"] for p in PROPS} | {p["deputy"] for p in PROPS if p["deputy"]} == usernames


# ---------------------------------------------------------------------------------------------- checkpoints
def test_checkpoints_file():
    assert len(CHECKPOINTS) >= 60
    assert len({c["code"] for c in CHECKPOINTS}) == len(CHECKPOINTS)
    per_grid = Counter(c["grid"] for c in CHECKPOINTS)
    assert sum(2 <= n <= 3 for n in per_grid.values()) >= 30
    for c in CHECKPOINTS:
        assert set(c) == {"grid", "code", "name", "lon", "lat"}
        assert c["grid"] in BY_CODE
        assert re.fullmatch(re.escape(c["grid"]) + r"-\d\d", c["code"])
        assert c["name"]


def test_every_checkpoint_is_strictly_inside_its_grid():
    for c in CHECKPOINTS:
        point = Point(c["lon"], c["lat"])
        grid = GEOMS[c["grid"]]
        assert grid.contains(point) and not grid.boundary.intersects(point), c["code"]
        # and not on a level-mate: a scan there locates to this grid alone
        level = BY_CODE[c["grid"]]["level"]
        others = [code for code, p in BY_CODE.items() if p["level"] == level and code != c["grid"]]
        assert not any(GEOMS[o].intersects(point) for o in others), c["code"]
