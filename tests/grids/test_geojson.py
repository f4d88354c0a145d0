"""GeoJSON import/export of grids (gridpatrol.grids.geojson): pure functions, no app or database.

Coordinates are built in metres east/north of a point in Hangzhou (lon 120.15, lat 30.28) and converted to
lon/lat with the same LocalProjection the module uses, so areas can be computed by hand.
"""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import LinearRing, MultiPolygon, Polygon

from gridpatrol.core.geometry import LocalProjection
from gridpatrol.grids.geojson import (
    MAX_BYTES,
    MAX_FEATURES,
    MAX_LENGTHS,
    REASONS,
    CoverageWarning,
    GridFeature,
    GridImportRefused,
    ImportLimits,
    check_overlaps,
    coverage_warnings,
    feature_collection,
    parse_grid_collection,
)

LON0, LAT0 = 120.15, 30.28
PROJ = LocalProjection(LON0, LAT0)
KX, KY = PROJ.metres_per_degree


def ll(x: float, y: float, decimals: int | None = 7) -> list[float]:
    """Metres east/north of (LON0, LAT0) → [lon, lat], rounded to 7 decimals (as exported) by default."""
    lon, lat = LON0 + x / KX, LAT0 + y / KY
    if decimals is not None:
        lon, lat = round(lon, decimals), round(lat, decimals)
    return [lon, lat]


def ring(points, decimals: int | None = 7) -> list[list[float]]:
    coords = [ll(x, y, decimals) for x, y in points]
    return coords + [coords[0]]


def box(x0, y0, x1, y1, decimals: int | None = 7) -> list[list[float]]:
    """A counter-clockwise closed ring for the metre box [x0, x1] × [y0, y1]."""
    return ring([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], decimals)


def polygon_geom(*rings) -> dict:
    return {"type": "Polygon", "coordinates": list(rings)}


def feature(code="A01", name="一号网格", geometry=None, **props) -> dict:
    properties = {"code": code, "name": name, **props}
    if geometry is None:
        geometry = polygon_geom(box(0, 0, 50, 50))
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def collection(*features) -> dict:
    return {"type": "FeatureCollection", "features": list(features)}


def dumps(doc) -> str:
    return json.dumps(doc, ensure_ascii=False)


def refused(data, limits: ImportLimits | None = None) -> list:
    if not isinstance(data, (str, bytes)):
        data = dumps(data)
    with pytest.raises(GridImportRefused) as info:
        parse_grid_collection(data, limits)
    return info.value.problems


def shapely_box(x0, y0, x1, y1, decimals: int | None = 7) -> Polygon:
    return Polygon(box(x0, y0, x1, y1, decimals))


# A valid first feature, then the feature under test at index 1 with code B02, east of it.
GOOD = feature("A01", "一号网格", polygon_geom(box(0, 0, 50, 50)))
B02_BOX = polygon_geom(box(100, 0, 150, 50))


def b02(**overrides) -> dict:
    f = feature("B02", "二号网格", B02_BOX)
    for key, value in overrides.items():
        if key == "geometry":
            f["geometry"] = value
        elif value is _DELETE:
            f["properties"].pop(key, None)
        else:
            f["properties"][key] = value
    return f


_DELETE = object()

# (case id, the feature at index 1, expected reason, expected code in the problem)
FEATURE_CASES = [
    ("not_feature-list", [1, 2, 3], "not_feature", None),
    ("not_feature-type", {"type": "Polygon", "coordinates": box(100, 0, 150, 50)}, "not_feature", None),
    ("missing_code-absent", b02(code=_DELETE), "missing_code", None),
    ("missing_code-null", b02(code=None), "missing_code", None),
    ("missing_code-number", b02(code=12), "missing_code", None),
    ("missing_code-blank", b02(code="   "), "missing_code", None),
    ("missing_name-absent", b02(name=_DELETE), "missing_name", "B02"),
    ("missing_name-null", b02(name=None), "missing_name", "B02"),
    ("missing_name-list", b02(name=["x"]), "missing_name", "B02"),
    ("missing_name-blank", b02(name=" \t"), "missing_name", "B02"),
    ("duplicate_code", feature(" A01 ", "重复", B02_BOX), "duplicate_code", "A01"),
    ("bad_level-float", b02(level=1.5), "bad_level", "B02"),
    ("bad_level-bool", b02(level=True), "bad_level", "B02"),
    ("bad_level-text", b02(level="二楼"), "bad_level", "B02"),
    ("bad_level-null", b02(level=None), "bad_level", "B02"),
    ("unknown_category", b02(categories=["water_power", "plumbing"]), "unknown_category", "B02"),
    ("too_long", b02(name="楼" * 121), "too_long", "B02"),
    ("bad_property", b02(building={"no": 1}), "bad_property", "B02"),
    ("null_geometry", b02(geometry=None), "null_geometry", "B02"),
    ("not_polygonal-point", b02(geometry={"type": "Point", "coordinates": ll(120, 20)}), "not_polygonal", "B02"),
    ("not_polygonal-line", b02(geometry={"type": "LineString", "coordinates": box(100, 0, 150, 50)}),
     "not_polygonal", "B02"),
    ("not_polygonal-collection", b02(geometry={"type": "GeometryCollection", "geometries": [B02_BOX]}),
     "not_polygonal", "B02"),
    ("bad_coordinates-missing", b02(geometry={"type": "Polygon"}), "bad_coordinates", "B02"),
    ("bad_coordinates-empty", b02(geometry={"type": "Polygon", "coordinates": []}), "bad_coordinates", "B02"),
    ("bad_coordinates-flat", b02(geometry={"type": "Polygon", "coordinates": box(100, 0, 150, 50)}),
     "bad_coordinates", "B02"),
    ("bad_coordinates-string", b02(geometry=polygon_geom([["120.15", 30.28]] + box(100, 0, 150, 50)[1:-1]
                                                          + [["120.15", 30.28]])), "bad_coordinates", "B02"),
    ("bad_coordinates-bool", b02(geometry=polygon_geom([[True, 30.28], *box(100, 0, 150, 50)])),
     "bad_coordinates", "B02"),
    ("bad_coordinates-one-number", b02(geometry=polygon_geom([[120.15], *box(100, 0, 150, 50)])),
     "bad_coordinates", "B02"),
    ("bad_coordinates-nan", b02(geometry=polygon_geom([[float("nan"), 30.28], *box(100, 0, 150, 50)])),
     "bad_coordinates", "B02"),
    ("bad_coordinates-inf", b02(geometry=polygon_geom([[float("inf"), 30.28], *box(100, 0, 150, 50)])),
     "bad_coordinates", "B02"),
    ("bad_coordinates-empty-multi", b02(geometry={"type": "MultiPolygon", "coordinates": []}),
     "bad_coordinates", "B02"),
    ("coordinate_out_of_range-lon", b02(geometry=polygon_geom([[200.5, 30.28], [200.6, 30.28], [200.6, 30.29],
                                                               [200.5, 30.28]])),
     "coordinate_out_of_range", "B02"),
    ("coordinate_out_of_range-lat", b02(geometry=polygon_geom([[120.15, 95.25], [120.16, 95.25],
                                                               [120.16, 95.26], [120.15, 95.25]])),
     "coordinate_out_of_range", "B02"),
    ("unclosed_ring", b02(geometry=polygon_geom(box(100, 0, 150, 50)[:-1])), "unclosed_ring", "B02"),
    ("unclosed_ring-hole", b02(geometry=polygon_geom(box(100, 0, 150, 50), box(110, 10, 120, 20)[:-1])),
     "unclosed_ring", "B02"),
    ("degenerate_ring-3-positions", b02(geometry=polygon_geom(ring([(100, 0), (150, 0)]))), "degenerate_ring", "B02"),
    ("degenerate_ring-collinear", b02(geometry=polygon_geom(ring([(100, 0), (120, 0), (150, 0)]))),
     "degenerate_ring", "B02"),
    ("degenerate_ring-repeated", b02(geometry=polygon_geom(ring([(100, 0), (100, 0), (100, 0)]))),
     "degenerate_ring", "B02"),
    ("invalid_polygon-bowtie", b02(geometry=polygon_geom(ring([(100, 0), (150, 50), (150, 0), (100, 50)]))),
     "invalid_polygon", "B02"),
    ("overlap", feature("B02", "压线", polygon_geom(box(40, 0, 90, 50))), "overlap", "B02"),
]


@pytest.mark.parametrize("item, reason, code", [c[1:] for c in FEATURE_CASES], ids=[c[0] for c in FEATURE_CASES])
def test_each_refusal_names_the_feature(item, reason, code):
    problems = refused(collection(GOOD, item))
    assert [p.reason for p in problems] == [reason], problems
    problem = problems[0]
    assert problem.index == 1
    assert problem.code == code
    assert "features[1]" in problem.message
    if code:
        assert code in problem.message
    assert reason in REASONS


def test_every_reason_code_is_exercised():
    file_level = {"too_large", "broken_json", "not_feature_collection", "unsupported_crs", "empty",
                  "too_many_features",
                  "too_many_vertices", "too_many_vertices_in_file"}  # test_import_bounds.py
    assert {c[2] for c in FEATURE_CASES} | file_level == set(REASONS)


def test_duplicate_code_names_both_features():
    (problem,) = refused(collection(GOOD, feature(" A01 ", "重复", B02_BOX)))
    assert problem.details["other_index"] == 0
    assert "features[0]" in problem.message and "features[1]" in problem.message


def test_overlap_names_both_features_and_the_area():
    # B02 covers x 40…90 m: 10 m × 50 m = 500 m² over A01.
    (problem,) = refused(collection(GOOD, feature("B02", "压线", polygon_geom(box(40, 0, 90, 50)))))
    assert problem.details["other_index"] == 0 and problem.details["other_code"] == "A01"
    assert problem.details["area_m2"] == pytest.approx(500, abs=0.5)
    assert "A01" in problem.message and "B02" in problem.message and "m²" in problem.message
    assert f"{problem.details['area_m2']:.2f}" in problem.message


@pytest.mark.parametrize("geometry, shapely_reason", [
    (polygon_geom(ring([(100, 0), (150, 50), (150, 0), (100, 50)])), "Self-intersection"),
    (polygon_geom(box(100, 0, 150, 50), box(200, 0, 210, 10)), "Hole lies outside shell"),
    (polygon_geom(ring([(100, 0), (150, 0), (150, 50), (125, 0), (100, 50)])), "Ring Self-intersection"),
    (polygon_geom(box(100, 0, 150, 50), box(110, 10, 120, 20), box(110, 10, 120, 20)), "Self-intersection"),
    ({"type": "MultiPolygon", "coordinates": [[box(100, 0, 150, 50)], [box(110, 10, 120, 20)]]}, "Nested shells"),
    ({"type": "MultiPolygon", "coordinates": [[box(100, 0, 150, 50)], [box(140, 0, 180, 50)]]},
     "Self-intersection"),
])
def test_invalid_polygon_reports_shapely_reason(geometry, shapely_reason):
    (problem,) = refused(collection(GOOD, b02(geometry=geometry)))
    assert problem.reason == "invalid_polygon"
    assert problem.details["shapely_reason"].startswith(shapely_reason)
    assert problem.details["shapely_reason"] in problem.message


def test_ring_self_intersection_is_invalid():
    # A figure-eight ring touching itself at one vertex (125, 25).
    pts = [(100, 0), (125, 25), (150, 0), (150, 50), (125, 25), (100, 50)]
    (problem,) = refused(collection(GOOD, b02(geometry=polygon_geom(ring(pts)))))
    assert problem.reason == "invalid_polygon"
    assert "Ring Self-intersection" in problem.message


@pytest.mark.parametrize("value, text", [(200.5, "200.5"), (-181.0, "-181.0"), (3365000.25, "3365000.25")])
def test_out_of_range_names_the_value(value, text):
    coords = [[value, 30.28], [value, 30.29], [120.15, 30.29], [value, 30.28]]
    (problem,) = refused(collection(GOOD, b02(geometry=polygon_geom(coords))))
    assert problem.reason == "coordinate_out_of_range"
    assert problem.details == {"axis": "lon", "value": value}
    assert text in problem.message
    if abs(value) > 1000:
        assert "EPSG:4326" in problem.message  # hint: projected metres


@pytest.mark.parametrize("geometry, kind", [
    ({"type": "Point", "coordinates": [120.15, 30.28]}, "Point"),
    ({"type": "MultiLineString", "coordinates": [box(0, 0, 1, 1)]}, "MultiLineString"),
    ({"type": "GeometryCollection", "geometries": []}, "GeometryCollection"),
])
def test_not_polygonal_says_which_type(geometry, kind):
    (problem,) = refused(collection(GOOD, b02(geometry=geometry)))
    assert problem.reason == "not_polygonal"
    assert problem.details["type"] == kind
    assert kind in problem.message


def test_nan_and_overflow_in_json_text_are_bad_coordinates():
    text = dumps(collection(GOOD, b02()))
    lon = json.dumps(ll(100, 0)[0])
    for replacement in ("NaN", "Infinity", "-Infinity", "1e400"):
        broken = text.replace(lon, replacement, 1)
        assert broken != text
        (problem,) = refused(broken)
        assert (problem.reason, problem.index, problem.code) == ("bad_coordinates", 1, "B02")


# ------------------------------------------------------------------------------------------ file level


def _too_many():
    f = feature("A01")
    return dumps(collection(*[f] * (MAX_FEATURES + 1)))


FILE_CASES = [
    ("too_large", lambda: b" " * (MAX_BYTES + 1), "too_large"),
    ("too_large-str", lambda: " " * (MAX_BYTES + 1), "too_large"),
    ("broken_json", lambda: '{"type": "FeatureCollection",\n "features": [}', "broken_json"),
    ("broken_json-empty", lambda: "", "broken_json"),
    ("not_utf8", lambda: dumps(collection(GOOD)).encode("gb18030"), "broken_json"),
    ("not_object", lambda: "[]", "not_feature_collection"),
    ("not_collection", lambda: dumps(GOOD), "not_feature_collection"),
    ("features_not_list", lambda: dumps({"type": "FeatureCollection", "features": {"a": GOOD}}),
     "not_feature_collection"),
    ("features_missing", lambda: '{"type": "FeatureCollection"}', "not_feature_collection"),
    ("empty", lambda: dumps(collection()), "empty"),
    ("too_many_features", _too_many, "too_many_features"),
    ("unsupported_crs", lambda: dumps({**collection(GOOD), "crs": {"type": "name", "properties": {
        "name": "urn:ogc:def:crs:EPSG::4547"}}}), "unsupported_crs"),
]


@pytest.mark.parametrize("make, reason", [c[1:] for c in FILE_CASES], ids=[c[0] for c in FILE_CASES])
def test_file_level_refusals(make, reason):
    problems = refused(make())
    assert [(p.reason, p.index, p.code) for p in problems] == [(reason, None, None)]
    assert problems[0].message


def test_broken_json_gives_line_and_column():
    (problem,) = refused('{"type": "FeatureCollection",\n "features": [}')
    assert (problem.details["line"], problem.details["column"]) == (2, 15)
    assert "line 2" in problem.message and "column 15" in problem.message


def test_not_utf8_names_the_byte_position():
    (problem,) = refused('{"name": "东区"}'.encode("gbk"))
    assert problem.reason == "broken_json"
    assert problem.details["position"] == 10


def test_exception_lists_problems_in_its_text():
    with pytest.raises(GridImportRefused, match="1 problem"):
        parse_grid_collection("{}")


# ------------------------------------------------------------------------------- many problems at once


def test_all_problems_are_collected_at_once():
    doc = collection(
        GOOD,
        b02(name=None, level="x", categories=["plumbing"]),
        feature("", "无编号", polygon_geom(box(200, 0, 250, 50)[:-1])),
        "not a feature",
        feature("A01", "重复且压线", polygon_geom(box(10, 10, 20, 20))),
        feature("C05", "点", {"type": "Point", "coordinates": [120.15, 30.28]}),
    )
    problems = refused(doc)
    got = [(p.index, p.code, p.reason) for p in problems]
    assert got == [
        (1, "B02", "missing_name"),
        (1, "B02", "bad_level"),
        (1, "B02", "unknown_category"),
        (2, None, "missing_code"),
        (2, None, "unclosed_ring"),
        (3, None, "not_feature"),
        (4, "A01", "duplicate_code"),
        (4, "A01", "overlap"),
        (5, "C05", "not_polygonal"),
    ]
    for p in problems:
        assert f"features[{p.index}]" in p.message
        if p.code:
            assert p.code in p.message


# ---------------------------------------------------------------------------------------------- accept


def test_accepts_holes_multipolygons_3d_and_either_winding():
    cw_box = box(100, 0, 150, 50)[::-1]
    with_hole = polygon_geom(box(200, 0, 260, 60), box(220, 20, 240, 40))  # CCW hole: wrong per RFC 7946
    three_d = polygon_geom([p + [12.5] for p in box(300, 0, 350, 50)])
    multi = {"type": "MultiPolygon", "coordinates": [[box(400, 0, 450, 50)], [box(500, 0, 550, 50)[::-1]]]}
    doc = collection(GOOD, b02(geometry=polygon_geom(cw_box)),
                     feature("C03", "天井", with_hole), feature("D04", "立体", three_d),
                     feature("E05", "两块", multi))
    grids = parse_grid_collection(dumps(doc))
    assert [g.code for g in grids] == ["A01", "B02", "C03", "D04", "E05"]
    assert [g.index for g in grids] == [0, 1, 2, 3, 4]
    for g in grids:
        assert g.geometry.is_valid
        assert not g.geometry.has_z
        polygons = g.geometry.geoms if isinstance(g.geometry, MultiPolygon) else [g.geometry]
        for p in polygons:
            assert p.exterior.is_ccw
            assert all(not hole.is_ccw for hole in p.interiors)
            assert p.equals(shapely.geometry.polygon.orient(p, 1.0))
    assert isinstance(grids[4].geometry, MultiPolygon)
    assert len(grids[2].geometry.interiors) == 1
    area = PROJ.to_metres(grids[2].geometry).area
    assert area == pytest.approx(60 * 60 - 20 * 20, abs=0.5)
    assert grids[1].geometry.equals(Polygon(box(100, 0, 150, 50)))


def test_properties_are_normalised_and_extras_ignored():
    doc = collection(
        feature("  A01 ", " 东门岗亭 ", level=2, building=" 1号楼 ", leader="zhang.san", deputy="",
                categories="water_power, fire_safety、water_power", description="  ", colour="red",
                fid=17),
        feature("A02", "B1", polygon_geom(box(100, 0, 150, 50)), level="-1", building=3, categories=None),
        feature("A03", "三楼", polygon_geom(box(200, 0, 250, 50)), level=3.0),
    )
    doc["features"][0]["properties"]["nested"] = {"x": [1, 2]}
    doc["features"][1]["properties"].pop("categories")
    a01, a02, a03 = parse_grid_collection(dumps(doc).encode("utf-8-sig"))
    assert (a01.code, a01.name, a01.level, a01.building) == ("A01", "东门岗亭", 2, "1号楼")
    assert (a01.leader, a01.deputy, a01.description) == ("zhang.san", None, None)
    assert a01.categories == ["water_power", "fire_safety"]
    assert (a02.level, a02.building, a02.categories, a02.leader) == (-1, "3", [], None)
    assert a03.level == 3


def test_level_defaults_to_ground_and_properties_may_be_null():
    doc = collection(feature("A01", "室外"))
    grids = parse_grid_collection(dumps(doc))
    assert grids[0].level == 0
    doc["features"][0]["properties"] = None
    assert [p.reason for p in refused(doc)] == ["missing_code", "missing_name"]


def test_geographic_legacy_crs_is_accepted():
    for name in ("urn:ogc:def:crs:OGC:1.3:CRS84", "EPSG:4326", "urn:ogc:def:crs:EPSG::4490"):
        doc = {**collection(GOOD), "crs": {"type": "name", "properties": {"name": name}}}
        assert len(parse_grid_collection(dumps(doc))) == 1


def test_column_limits_match_the_models():
    from gridpatrol.accounts.models import User
    from gridpatrol.grids.models import Grid

    for key in ("code", "name", "building"):
        assert MAX_LENGTHS[key] == Grid.__table__.c[key].type.length
    assert MAX_LENGTHS["leader"] == MAX_LENGTHS["deputy"] == User.__table__.c.username.type.length


# --------------------------------------------------------------------------------------------- overlap


def test_shared_edge_and_shared_corner_are_not_overlaps():
    doc = collection(
        feature("A01", "西", polygon_geom(box(0, 0, 50, 50))),
        feature("A02", "东", polygon_geom(box(50, 0, 100, 50))),  # shares an edge
        feature("A03", "东北", polygon_geom(box(100, 50, 150, 100))),  # shares a corner with A02
        feature("A04", "北", polygon_geom(ring([(0, 50), (25, 50), (50, 50), (50, 100), (0, 100)]))),  # T-junction
    )
    assert len(parse_grid_collection(dumps(doc))) == 4


def test_overlaps_below_a_hundredth_square_metre_are_tolerated():
    # 1 mm × 50 m = 0.05 m² is reported; 0.1 mm × 50 m = 0.005 m² is drawing noise.
    ok = collection(feature("A01", "西", polygon_geom(box(0, 0, 50, 50, None))),
                    feature("A02", "东", polygon_geom(box(49.9999, 0, 100, 50, None))))
    assert len(parse_grid_collection(dumps(ok))) == 2
    bad = collection(feature("A01", "西", polygon_geom(box(0, 0, 50, 50, None))),
                     feature("A02", "东", polygon_geom(box(49.999, 0, 100, 50, None))))
    (problem,) = refused(bad)
    assert problem.reason == "overlap"
    assert problem.details["area_m2"] == pytest.approx(0.05, rel=0.01)


def test_containment_and_identical_grids_overlap_but_other_levels_do_not():
    doc = collection(
        feature("A01", "大院", polygon_geom(box(0, 0, 100, 100))),
        feature("A02", "院中院", polygon_geom(box(10, 10, 20, 20))),
        feature("A03", "同一块", polygon_geom(box(0, 0, 100, 100))),
        feature("F1-01", "一楼", polygon_geom(box(0, 0, 100, 100)), level=1, building="1号楼"),
        feature("F2-01", "二楼", polygon_geom(box(0, 0, 100, 100)), level=2, building="1号楼"),
    )
    problems = refused(doc)
    got = [(p.index, p.details["other_index"], round(p.details["area_m2"])) for p in problems]
    assert got == [(1, 0, 100), (2, 0, 10000), (2, 1, 100)]
    assert all(p.details["level"] == 0 for p in problems)


def test_check_overlaps_against_stored_grids():
    grids = parse_grid_collection(dumps(collection(
        feature("A01", "西", polygon_geom(box(0, 0, 50, 50))),
        feature("A02", "东", polygon_geom(box(50, 0, 100, 50))),
    )))
    existing = [
        ("S01", 0, shapely_box(90, 0, 140, 50)),  # overlaps A02 by 10 × 50 m
        ("S02", 0, shapely_box(0, 50, 100, 100)),  # shares A01's and A02's northern edges
        ("S03", 1, shapely_box(0, 0, 100, 50)),  # another level
        ("A01", 0, shapely_box(0, 0, 60, 50)),  # replaced by the file's A01: not checked
        ("S04", 0, shapely_box(95, 0, 145, 50)),  # overlaps S01 too (stored vs stored: not reported)
    ]
    problems = check_overlaps(grids, existing)
    got = [(p.index, p.code, p.reason, p.details["other_code"], round(p.details["area_m2"])) for p in problems]
    assert got == [(1, "A02", "overlap", "S01", 500), (1, "A02", "overlap", "S04", 250)]
    assert "S01" in problems[0].message and "A02" in problems[0].message and "features[1]" in problems[0].message
    assert check_overlaps(grids) == []


def test_five_thousand_grids_are_checked_quickly():
    cols, rows, size = 100, 50, 20.0
    features = [feature(f"G{r:02d}{c:03d}", f"网格{r}-{c}", polygon_geom(box(c * size, r * size, (c + 1) * size,
                                                                          (r + 1) * size)))
                for r in range(rows) for c in range(cols)]
    features.append(feature("X", "压线", polygon_geom(box(15, 15, 25, 25))))  # over 4 lattice cells
    text = dumps(collection(*features))
    started = time.perf_counter()
    problems = refused(text, ImportLimits(max_vertices_per_file=30_000))  # 25,005 vertices: over the default
    elapsed = time.perf_counter() - started
    assert [(p.index, p.reason) for p in problems] == [(5000, "overlap")] * 4
    assert sum(p.details["area_m2"] for p in problems) == pytest.approx(100, abs=0.5)
    assert elapsed < 15, elapsed


# -------------------------------------------------------------------------------------------- coverage


def _grids(*boxes_and_levels):
    return [GridFeature(index=i, code=f"A{i + 1:02d}", name="n", level=level, geometry=geom)
            for i, (geom, level) in enumerate(boxes_and_levels)]


def test_gap_in_the_boundary_is_reported_with_its_area():
    boundary = shapely_box(0, 0, 100, 100)
    west = shapely_box(0, 0, 50, 100)
    east = shapely_box(50, 0, 100, 100).difference(shapely_box(90, 90, 100, 100))  # 10 × 10 m notch
    (warning,) = coverage_warnings(_grids((west, 0), (east, 0)), boundary)
    assert isinstance(warning, CoverageWarning)
    assert warning.kind == "gap"
    assert warning.area_m2 == pytest.approx(100, abs=0.5)
    x, y = PROJ.to_metres_xy(*warning.point)
    assert 90 <= x <= 100 and 90 <= y <= 100
    assert "100.0 m²" in warning.message
    assert warning.geometry.within(boundary.buffer(1e-9))


def test_grid_sticking_out_of_the_boundary_is_reported():
    boundary = shapely_box(0, 0, 100, 100)
    grids = _grids((shapely_box(0, 0, 50, 100), 0), (shapely_box(50, 0, 100, 100), 0),
                   (shapely_box(100, 0, 105, 20), 0))  # 5 m × 20 m entirely outside
    (warning,) = coverage_warnings(grids, boundary)
    assert (warning.kind, warning.code) == ("outside_boundary", "A03")
    assert warning.area_m2 == pytest.approx(100, abs=0.5)
    assert "A03" in warning.message
    x, _ = PROJ.to_metres_xy(*warning.point)
    assert 100 <= x <= 105


def test_partly_outside_and_gap_together():
    boundary = shapely_box(0, 0, 100, 100)
    grids = [("A01", 0, shapely_box(0, 0, 60, 100)), ("A02", 0, shapely_box(60, 0, 105, 80))]
    warnings = coverage_warnings(grids, boundary)
    got = [(w.kind, w.code, round(w.area_m2)) for w in warnings]
    assert got == [("gap", None, 40 * 20), ("outside_boundary", "A02", 5 * 80)]


def test_without_boundary_holes_in_the_union_are_gaps():
    # Four grids around a 20 × 20 m courtyard with a 5 × 5 m kiosk grid in it (on another level).
    grids = _grids((shapely_box(0, 0, 60, 20), 0), (shapely_box(0, 40, 60, 60), 0),
                   (shapely_box(0, 20, 20, 40), 0), (shapely_box(40, 20, 60, 40), 2),
                   (shapely_box(25, 25, 30, 30), 1))
    (warning,) = coverage_warnings(grids)
    assert warning.kind == "gap"
    assert warning.area_m2 == pytest.approx(400 - 25, abs=0.5)
    x, y = PROJ.to_metres_xy(*warning.point)
    assert 20 <= x <= 40 and 20 <= y <= 40
    assert coverage_warnings(grids[:2]) == []  # no boundary: the open space between two grids is not a gap


def test_slivers_are_ignored_and_floors_cover_the_footprint():
    boundary = shapely_box(0, 0, 100, 100)
    grids = _grids((shapely_box(0, 0, 50, 100), 0),
                   (Polygon([ll(50.005, 0, None), ll(100, 0), ll(100, 100), ll(50.005, 100, None)]), 0),  # sliver
                   (shapely_box(50, 0, 60, 100), 3))  # a third floor covers the sliver anyway
    sliver = boundary.difference(grids[0].geometry.union(grids[1].geometry))
    assert 0.1 < PROJ.to_metres(sliver).area < 1
    assert coverage_warnings(grids[:2], boundary) == []
    assert coverage_warnings(grids, boundary) == []
    assert coverage_warnings([g.geometry for g in grids], boundary) == []


def test_coverage_of_parsed_features_with_a_projection():
    grids = parse_grid_collection(dumps(collection(
        feature("A01", "西", polygon_geom(box(0, 0, 50, 100))),
        feature("A02", "东", polygon_geom(box(50, 0, 100, 90))),
    )))
    (warning,) = coverage_warnings(grids, shapely_box(0, 0, 100, 100), projection=PROJ)
    assert (warning.kind, round(warning.area_m2)) == ("gap", 500)


# ---------------------------------------------------------------------------------------------- export


def test_export_is_rfc7946_sorted_and_rounded():
    hole = LinearRing(box(10, 10, 20, 20, None)[::-1])  # deliberately counter-clockwise hole
    shell = LinearRing(box(0, 0, 50, 50, None)[::-1])  # and clockwise exterior
    grids = [
        SimpleNamespace(code="B02", name="乙", level=1, building="1号楼", categories=["security"],
                        description="门厅", geometry=Polygon(shell, [hole]),
                        leader=SimpleNamespace(username="li.si"), deputy=None),
        SimpleNamespace(code="A01", name="甲", level=0, building=None, categories=[], description=None,
                        geometry=MultiPolygon([shapely_box(100, 0, 120, 20), shapely_box(130, 0, 150, 20)]),
                        leader_username="wang.wu", deputy_username="zhao.liu"),
    ]
    doc = feature_collection(grids)
    assert doc["type"] == "FeatureCollection"
    assert [f["properties"]["code"] for f in doc["features"]] == ["A01", "B02"]
    a01, b02_ = doc["features"]
    assert a01["properties"]["leader"] == "wang.wu" and a01["properties"]["deputy"] == "zhao.liu"
    assert b02_["properties"]["leader"] == "li.si" and b02_["properties"]["deputy"] is None
    assert b02_["geometry"]["type"] == "Polygon" and a01["geometry"]["type"] == "MultiPolygon"
    exterior, interior = b02_["geometry"]["coordinates"]
    assert LinearRing(exterior).is_ccw and not LinearRing(interior).is_ccw
    for lon, lat in exterior + interior:
        assert round(lon, 7) == lon and round(lat, 7) == lat
    json.dumps(doc, allow_nan=False)  # plain JSON

    back = parse_grid_collection(json.dumps(doc))
    assert [(g.code, g.level, g.building, g.leader, g.deputy, g.categories, g.description) for g in back] == [
        ("A01", 0, None, "wang.wu", "zhao.liu", [], None),
        ("B02", 1, "1号楼", "li.si", None, ["security"], "门厅"),
    ]
    assert back[1].geometry.equals_exact(shapely.geometry.polygon.orient(Polygon(shell, [hole]), 1.0), 1e-7)


def test_export_parse_round_trip_of_parsed_features():
    doc = collection(
        feature("C03", "天井", polygon_geom(box(200, 0, 260, 60), box(220, 20, 240, 40)), level=-1,
                categories=["sanitation", "greening"], leader="a", deputy="b", description="地下一层"),
        feature("A01", "甲", polygon_geom(box(0, 0, 50, 50)[::-1])),
        feature("B02", "乙", {"type": "MultiPolygon", "coordinates": [[box(100, 0, 120, 20)],
                                                                       [box(130, 0, 150, 20)]]}),
    )
    grids = parse_grid_collection(dumps(doc))
    exported = feature_collection(grids)
    again = parse_grid_collection(json.dumps(exported))
    assert again == sorted(grids, key=lambda g: g.code)
    assert feature_collection(again) == exported


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    xs=st.lists(st.integers(min_value=1, max_value=80), min_size=1, max_size=6),
    ys=st.lists(st.integers(min_value=1, max_value=80), min_size=1, max_size=6),
    levels=st.lists(st.integers(min_value=-2, max_value=20), min_size=36, max_size=36),
    categories=st.lists(st.sampled_from(["water_power", "equipment", "assets", "fire_safety", "sanitation",
                                         "security", "greening"]), unique=True, max_size=3),
    reverse=st.booleans(),
)
def test_round_trip_of_random_rectangle_lattices(xs, ys, levels, categories, reverse):
    """A lattice of rectangles (column widths xs, row heights ys, in metres) survives export → parse."""
    x_edges = [sum(xs[:i]) for i in range(len(xs) + 1)]
    y_edges = [sum(ys[:i]) for i in range(len(ys) + 1)]
    grids = []
    for r in range(len(ys)):
        for c in range(len(xs)):
            coords = box(x_edges[c], y_edges[r], x_edges[c + 1], y_edges[r + 1])
            geometry = Polygon(coords[::-1] if reverse else coords)
            grids.append(GridFeature(index=len(grids), code=f"A{r}{c:02d}", name=f"网格 {r}-{c}",
                                     level=levels[len(grids)], geometry=geometry, categories=categories,
                                     building="1号楼" if r % 2 else None))
    exported = feature_collection(grids)
    parsed = parse_grid_collection(json.dumps(exported, ensure_ascii=False).encode("utf-8"))
    expected = sorted(grids, key=lambda g: g.code)
    assert parsed == [GridFeature(**{**vars(g), "geometry": shapely.geometry.polygon.orient(g.geometry, 1.0)})
                      for g in expected]
    total = sum(PROJ.to_metres(g.geometry).area for g in parsed)
    # Shared edges are identical; only the outline moves, by at most half of 1e-7° (≈ 0.5 cm).
    assert total == pytest.approx(sum(xs) * sum(ys), abs=0.006 * 2 * (sum(xs) + sum(ys)))
    assert feature_collection(parsed) == exported
    assert coverage_warnings(parsed, shapely_box(0, 0, sum(xs), sum(ys))) == []
