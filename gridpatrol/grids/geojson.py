"""GeoJSON import and export of a site's grids (网格单元), as pure functions.

No database and no Flask app are needed. The importer (a service) reads the upload, calls
`parse_grid_collection`, adds `check_overlaps` against the grids already stored for the site that the
file does not replace, shows `coverage_warnings` (gaps, parts outside the site boundary) and writes.

Import rules
------------
* Input is an RFC 7946 FeatureCollection in WGS84 lon/lat, UTF-8 (a BOM is tolerated), of at most `MAX_FEATURES`
  features and within `ImportLimits`: the file's size in bytes (refused before it is parsed), positions per grid
  and per file (counted while walking the parsed JSON, before any Shapely geometry is built). The operator sets
  the limits (``GRID_IMPORT_MAX_*`` in config/defaults.py); the defaults here are the same values. A legacy top-level ``crs`` member is accepted only when it
  names a geographic CRS (CRS84, EPSG:4326, EPSG:4490 CGCS2000); projected exports are refused up front.
* Each feature has ``properties``: ``code`` and ``name`` (required, trimmed strings), ``level`` (integer floor,
  default 0; integral numbers and integer strings such as ``"2"`` are accepted, booleans are not),
  ``building``, ``leader``/``deputy`` (usernames), ``description`` (optional strings; blank means none),
  ``categories`` (list of `Category` values, or one comma-separated string). Other keys are ignored.
* Geometry is a Polygon or MultiPolygon, holes allowed, either winding order (RFC 7946 asks for
  counter-clockwise exteriors but many tools do not follow it); heights are dropped. Rings must be closed in the
  file itself (Shapely would silently close them). Accepted geometries are normalised with
  ``orient(polygon, 1.0)``: counter-clockwise exteriors, clockwise holes.
* Grids on the same level must not overlap by more than `OVERLAP_TOLERANCE_M2` (areas in metres through
  `LocalProjection`); touching along an edge or at a corner is fine.

Every problem found is collected, then `GridImportRefused` is raised with all of them. Problems carry a stable
machine-readable ``reason`` (the codes in `REASONS`) and a translated human ``message`` naming the feature as
``features[i]`` - the 0-based position in the file's ``features`` array, which is also ``ImportProblem.index`` -
and its code when it has one.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import numpy as np
import shapely
from flask_babel import lazy_gettext as _l
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient

from gridpatrol.core.errors import DomainError
from gridpatrol.core.categories import Category
from gridpatrol.core.geometry import LocalProjection

__all__ = [
    "CoverageWarning",
    "GridFeature",
    "GridImportRefused",
    "ImportLimits",
    "ImportProblem",
    "MAX_BYTES",
    "MAX_VERTICES_PER_FILE",
    "MAX_VERTICES_PER_GRID",
    "MAX_FEATURES",
    "REASONS",
    "check_overlaps",
    "coverage_warnings",
    "feature_collection",
    "parse_grid_collection",
    "read_bounded",
    "too_large",
]

# Defaults of the import limits, the same as GRID_IMPORT_MAX_* in config/defaults.py (where the reasons are given).
MAX_BYTES = 4 * 1024 * 1024
MAX_VERTICES_PER_GRID = 1_000
MAX_VERTICES_PER_FILE = 20_000
MAX_FEATURES = 10_000
OVERLAP_TOLERANCE_M2 = 0.01  # overlaps up to this area are drawing noise, not overlaps
MIN_GAP_M2 = 1.0  # smaller uncovered slivers are not reported
MIN_OUTSIDE_M2 = 0.01
MIN_RING_AREA_M2 = 1e-4  # a ring enclosing less than 1 cm² is taken as having zero area
EXPORT_DECIMALS = 7  # 1e-7 degree is about 1 cm
LEVEL_RANGE = (-99, 999)
# Column lengths of gridpatrol.grids.models.Grid and accounts User.username (checked by the tests).
MAX_LENGTHS = {"code": 20, "name": 120, "building": 80, "leader": 40, "deputy": 40}

# Stable reason codes, in the order the checks run.
REASONS = (
    "too_large",  # over MAX_BYTES
    "broken_json",  # not UTF-8, or not JSON (line and column given)
    "not_feature_collection",  # top level not {"type": "FeatureCollection", "features": [...]}
    "unsupported_crs",  # legacy "crs" member naming a projected or unknown CRS
    "empty",  # no features
    "too_many_features",  # over MAX_FEATURES
    "too_many_vertices",  # one grid has more positions than ImportLimits.max_vertices_per_grid
    "too_many_vertices_in_file",  # all grids together have more than ImportLimits.max_vertices_per_file
    "not_feature",  # an item of "features" that is not a Feature object (or whose properties are not an object)
    "missing_code",
    "missing_name",
    "too_long",  # a text longer than its database column
    "bad_property",  # building, leader, deputy, description or categories of the wrong JSON type
    "duplicate_code",
    "bad_level",
    "unknown_category",
    "null_geometry",
    "not_polygonal",
    "bad_coordinates",
    "coordinate_out_of_range",
    "unclosed_ring",
    "degenerate_ring",
    "invalid_polygon",
    "overlap",
)

_GEOGRAPHIC_CRS = {"CRS84", "4326", "4490"}  # OGC CRS84, WGS 84, CGCS2000 (same axes, cm-level apart)
_CATEGORY_VALUES = tuple(c.value for c in Category)
_CATEGORY_SPLIT = re.compile(r"[,;，、；\s]+")


# --------------------------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class ImportProblem:
    """One reason to refuse an import.

    ``index`` is the 0-based position in ``features`` (None for file-level problems), ``code`` the feature's
    grid code when it has a usable one, ``reason`` one of `REASONS`, ``message`` the translated explanation.
    ``details`` holds machine-readable extras, e.g. ``other_index``/``other_code``/``area_m2`` for
    ``duplicate_code`` and ``overlap``, ``line``/``column`` for ``broken_json``, ``value`` for bad values.
    """

    index: int | None
    code: str | None
    reason: str
    message: str
    details: dict[str, Any] = field(default_factory=dict, compare=False)


class GridImportRefused(DomainError):
    """The file was refused; ``problems`` lists everything found, ordered by feature index."""

    def __init__(self, problems: list[ImportProblem]):
        self.problems = list(problems)
        first = self.problems[0].message if self.problems else ""
        super().__init__(f"{len(self.problems)} problem(s) in the grid file: {first}")

    @property
    def reasons(self) -> set[str]:
        return {p.reason for p in self.problems}


@dataclass(frozen=True)
class ImportLimits:
    """How large a grid file may be: its size in bytes, and positions (vertices, the closing repeat of each ring
    included, as written in the file) per grid and in the whole file."""

    max_bytes: int = MAX_BYTES
    max_vertices_per_grid: int = MAX_VERTICES_PER_GRID
    max_vertices_per_file: int = MAX_VERTICES_PER_FILE

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "ImportLimits":
        """The limits set by the operator (GRID_IMPORT_MAX_BYTES, …_VERTICES_PER_GRID, …_VERTICES_PER_FILE)."""
        return cls(max_bytes=int(config["GRID_IMPORT_MAX_BYTES"]),
                   max_vertices_per_grid=int(config["GRID_IMPORT_MAX_VERTICES_PER_GRID"]),
                   max_vertices_per_file=int(config["GRID_IMPORT_MAX_VERTICES_PER_FILE"]))


@dataclass
class GridFeature:
    """One accepted grid from a file. ``index`` (position in the file) does not take part in equality."""

    index: int = field(compare=False)
    code: str
    name: str
    geometry: BaseGeometry  # 2-D Polygon or MultiPolygon in lon/lat, valid, orient(…, 1.0)
    level: int = 0
    building: str | None = None
    leader: str | None = None  # username
    deputy: str | None = None  # username
    categories: list[str] = field(default_factory=list)
    description: str | None = None


@dataclass(frozen=True)
class CoverageWarning:
    """A coverage finding: ``kind`` is "gap" or "outside_boundary". Warnings never refuse an import."""

    kind: str
    area_m2: float
    point: tuple[float, float]  # (lon, lat) of a point inside the area, for the map
    message: str
    code: str | None = None  # the grid, for "outside_boundary"
    geometry: BaseGeometry | None = field(default=None, compare=False)  # the area itself, lon/lat


class _Refuse(Exception):
    """Internal: one problem with a feature's geometry; checking that geometry stops there."""

    def __init__(self, reason: str, message, **details):
        super().__init__(reason)
        self.reason = reason
        self.message = message
        self.details = details


# -------------------------------------------------------------------------------------------- messages


def feature_label(index: int, code: str | None) -> str:
    """How messages name a feature: its position in the file's features array and its code."""
    if code:
        return str(_l("features[%(index)s] “%(code)s”", index=index, code=code))
    return str(_l("features[%(index)s]", index=index))


def _number_text(value: Any) -> str:
    try:
        return json.dumps(value, allow_nan=True)[:60]
    except (TypeError, ValueError):
        return repr(value)[:60]


# ------------------------------------------------------------------------------------------------ parse


def parse_grid_collection(data: bytes | str, limits: ImportLimits | None = None) -> list[GridFeature]:
    """Parse and check a GeoJSON FeatureCollection of grids; return them in file order.

    Raises `GridImportRefused` with every problem found. File-level problems (size, JSON, structure) stop
    there, and so do too many positions (every grid over its limit is named, with the file's total when that is
    over too), before any geometry is built; otherwise each feature is checked fully (properties and geometry),
    then codes for duplicates and geometries for overlaps on the same level.
    """
    limits = limits or ImportLimits()
    problems: list[ImportProblem] = []

    def refuse(reason: str, message, **details) -> GridImportRefused:
        return GridImportRefused([ImportProblem(None, None, reason, str(message), details)])

    if isinstance(data, str):
        raw = data.encode("utf-8", "surrogatepass")
    else:
        raw = bytes(data)
    if len(raw) > limits.max_bytes:
        raise too_large(len(raw), limits.max_bytes)
    if isinstance(data, str):
        text = data
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise refuse("broken_json",
                         _l("The file is not UTF-8 text (invalid byte at position %(position)d). "
                            "Save it as UTF-8 GeoJSON.", position=exc.start),
                         position=exc.start) from None
    text = text.removeprefix("\ufeff")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise refuse("broken_json",
                     _l("The file is not valid JSON: %(error)s at line %(line)d, column %(column)d.",
                        error=exc.msg, line=exc.lineno, column=exc.colno),
                     line=exc.lineno, column=exc.colno, error=exc.msg) from None
    except (RecursionError, ValueError) as exc:
        raise refuse("broken_json", _l("The file is not valid JSON: %(error)s.", error=str(exc)[:200]),
                     error=str(exc)[:200]) from None

    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        found = doc.get("type") if isinstance(doc, dict) else type(doc).__name__
        raise refuse("not_feature_collection",
                     _l("The file is not a GeoJSON FeatureCollection (found %(found)s).",
                        found=_number_text(found)),
                     found=found if isinstance(found, str) else None)
    features = doc.get("features")
    if not isinstance(features, list):
        raise refuse("not_feature_collection",
                     _l("The FeatureCollection has no \"features\" list."))
    crs_code = _legacy_crs(doc.get("crs"))
    if crs_code is not None and crs_code not in _GEOGRAPHIC_CRS:
        raise refuse("unsupported_crs",
                     _l("The file uses the coordinate system %(crs)s. Export it in WGS84 longitude/latitude "
                        "(EPSG:4326).", crs=crs_code),
                     crs=crs_code)
    if not features:
        raise refuse("empty", _l("The file contains no features."))
    if len(features) > MAX_FEATURES:
        raise refuse("too_many_features",
                     _l("The file contains %(count)d features; at most %(limit)d can be imported.",
                        count=len(features), limit=MAX_FEATURES),
                     count=len(features), limit=MAX_FEATURES)
    vertex_problems = _vertex_problems(features, limits)
    if vertex_problems:
        raise GridImportRefused(vertex_problems)

    parsed: list[GridFeature] = []
    overlap_items: list[tuple[int, str | None, int, BaseGeometry]] = []
    first_index_of_code: dict[str, int] = {}

    for index, item in enumerate(features):
        feature_problems, feature = _parse_feature(index, item)
        problems.extend(feature_problems)
        code = feature.get("code")
        if code is not None:
            if code in first_index_of_code:
                first = first_index_of_code[code]
                problems.append(ImportProblem(
                    index, code, "duplicate_code",
                    str(_l("%(feature)s: the code %(code)s is already used by features[%(other)s].",
                           feature=feature_label(index, code), code=code, other=first)),
                    {"other_index": first, "other_code": code}))
            else:
                first_index_of_code[code] = index
        if feature.get("geometry") is not None and feature.get("level") is not None:
            overlap_items.append((index, code, feature["level"], feature["geometry"]))
        if not feature_problems:
            parsed.append(GridFeature(index=index, **feature))

    problems.extend(_overlap_problems(overlap_items, ()))
    if problems:
        problems.sort(key=lambda p: -1 if p.index is None else p.index)
        raise GridImportRefused(problems)
    return parsed


def size_text(size: int) -> str:
    """A size in bytes as people read it: "4 MB", "4.01 MB", "800 KB", "512 B"."""
    if size >= 2**20:
        return f"{size / 2**20:.2f}".rstrip("0").rstrip(".") + " MB"
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size} B"


def too_large(size: int | None, limit: int) -> GridImportRefused:
    """The refusal of a file over `limit` bytes; `size` None when only "more than the limit" is known (a stream
    that was read no further)."""
    if size is None:
        message = _l("The file is larger than %(limit)s, the most that can be imported.", limit=size_text(limit))
    else:
        message = _l("The file is %(size)s; at most %(limit)s can be imported.",
                     size=size_text(size), limit=size_text(limit))
    return GridImportRefused([ImportProblem(None, None, "too_large", str(message), {"size": size, "limit": limit})])


def read_bounded(stream: BinaryIO, max_bytes: int) -> bytes:
    """A grid file from a binary stream (an upload, a file given to the CLI), read no further than
    ``max_bytes + 1`` bytes: a longer file is refused (`too_large`, with its size when the stream is a regular
    file) without being read whole."""
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise too_large(_file_size(stream), max_bytes)
    return data


def _file_size(stream: Any) -> int | None:
    try:
        info = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def count_positions(geometry: Any) -> int:
    """The positions of a GeoJSON Polygon or MultiPolygon as written in the file (each ring's closing repeat
    included), counted on the parsed JSON without checking them; 0 for anything else (refused later)."""
    if not isinstance(geometry, dict) or not isinstance(geometry.get("coordinates"), list):
        return 0
    coords = geometry["coordinates"]
    if geometry.get("type") == "Polygon":
        polygons = [coords]
    elif geometry.get("type") == "MultiPolygon":
        polygons = coords
    else:
        return 0
    return sum(len(ring) for polygon in polygons if isinstance(polygon, list)
               for ring in polygon if isinstance(ring, list))


def _vertex_problems(features: list[Any], limits: ImportLimits) -> list[ImportProblem]:
    """Every grid with more positions than a grid may have, and the file's total when it is over its limit."""
    problems = []
    total, largest = 0, (0, 0, None)
    for index, item in enumerate(features):
        if not isinstance(item, dict):
            continue
        count = count_positions(item.get("geometry"))
        total += count
        props = item.get("properties")
        code = _required_text(props.get("code")) if isinstance(props, dict) else None
        if count > largest[0]:
            largest = (count, index, code)
        if count > limits.max_vertices_per_grid:
            problems.append(ImportProblem(
                index, code, "too_many_vertices",
                str(_l("%(feature)s has %(count)d vertices; a grid may have at most %(limit)d. Simplify its outline "
                       "(a few hundred vertices draw any grid of a compound).",
                       feature=feature_label(index, code), count=count, limit=limits.max_vertices_per_grid)),
                {"count": count, "limit": limits.max_vertices_per_grid}))
    if total > limits.max_vertices_per_file:
        count, index, code = largest
        problems.insert(0, ImportProblem(
            None, None, "too_many_vertices_in_file",
            str(_l("The file has %(count)d vertices in all; at most %(limit)d can be imported at once (the largest "
                   "grid is %(feature)s with %(largest)d).", count=total, limit=limits.max_vertices_per_file,
                   feature=feature_label(index, code), largest=count)),
            {"count": total, "limit": limits.max_vertices_per_file, "largest_index": index, "largest_code": code}))
    return problems


def _legacy_crs(crs: Any) -> str | None:
    """The code named by a GeoJSON-2008 ``crs`` member ("4326", "CRS84", ...), or None when absent/unnamed."""
    if not isinstance(crs, dict):
        return None
    props = crs.get("properties")
    name = props.get("name") if isinstance(props, dict) else None
    if not isinstance(name, str) or not name.strip():
        return None
    return name.strip().rsplit(":", 1)[-1].upper()


def _parse_feature(index: int, item: Any) -> tuple[list[ImportProblem], dict[str, Any]]:
    """Check one feature. Returns its problems and the values that could be read (None where not)."""
    problems: list[ImportProblem] = []
    out: dict[str, Any] = {}

    if not isinstance(item, dict) or item.get("type") != "Feature":
        found = item.get("type") if isinstance(item, dict) else type(item).__name__
        problems.append(ImportProblem(
            index, None, "not_feature",
            str(_l("%(feature)s is not a GeoJSON Feature (found %(found)s).",
                   feature=feature_label(index, None), found=_number_text(found))),
            {"found": found if isinstance(found, str) else None}))
        return problems, out
    props = item.get("properties")
    if props is None:
        props = {}
    if not isinstance(props, dict):
        problems.append(ImportProblem(
            index, None, "not_feature",
            str(_l("%(feature)s: \"properties\" is not an object.", feature=feature_label(index, None)))))
        props = {}

    # code and name
    code = _required_text(props.get("code"))
    out["code"] = code
    label = feature_label(index, code)
    if code is None:
        problems.append(ImportProblem(
            index, None, "missing_code",
            str(_l("%(feature)s has no code: the property \"code\" must be a non-empty text.", feature=label)),
            {"value": _json_safe(props.get("code"))}))
    name = _required_text(props.get("name"))
    out["name"] = name
    if name is None:
        problems.append(ImportProblem(
            index, code, "missing_name",
            str(_l("%(feature)s has no name: the property \"name\" must be a non-empty text.", feature=label)),
            {"value": _json_safe(props.get("name"))}))

    # optional texts
    for key in ("building", "leader", "deputy", "description"):
        value = props.get(key)
        text, ok = _optional_text(value)
        out[key] = text
        if not ok:
            problems.append(ImportProblem(
                index, code, "bad_property",
                str(_l("%(feature)s: the property \"%(property)s\" must be a text, not %(value)s.",
                       feature=label, property=key, value=_number_text(value))),
                {"property": key, "value": _json_safe(value)}))
    for key in ("code", "name", "building", "leader", "deputy"):
        text = out.get(key)
        if text is not None and len(text) > MAX_LENGTHS[key]:
            problems.append(ImportProblem(
                index, code, "too_long",
                str(_l("%(feature)s: the property \"%(property)s\" is %(length)d characters long; "
                       "at most %(limit)d are allowed.",
                       feature=label, property=key, length=len(text), limit=MAX_LENGTHS[key])),
                {"property": key, "length": len(text), "limit": MAX_LENGTHS[key]}))

    # level
    level = _level(props.get("level", 0))
    out["level"] = level
    if level is None:
        problems.append(ImportProblem(
            index, code, "bad_level",
            str(_l("%(feature)s: the level %(value)s is not a whole number between %(low)d and %(high)d.",
                   feature=label, value=_number_text(props.get("level")),
                   low=LEVEL_RANGE[0], high=LEVEL_RANGE[1])),
            {"value": _json_safe(props.get("level"))}))

    # categories
    raw_categories = props.get("categories")
    categories: list[str] = []
    if raw_categories is None:
        pass
    elif isinstance(raw_categories, str):
        raw_categories = [c for c in _CATEGORY_SPLIT.split(raw_categories) if c]
    elif not isinstance(raw_categories, list):
        problems.append(ImportProblem(
            index, code, "bad_property",
            str(_l("%(feature)s: the property \"%(property)s\" must be a list, not %(value)s.",
                   feature=label, property="categories", value=_number_text(raw_categories))),
            {"property": "categories", "value": _json_safe(raw_categories)}))
        raw_categories = []
    for value in raw_categories or ():
        if isinstance(value, str) and value.strip() in _CATEGORY_VALUES:
            if value.strip() not in categories:
                categories.append(value.strip())
        else:
            problems.append(ImportProblem(
                index, code, "unknown_category",
                str(_l("%(feature)s: unknown category %(value)s; the categories are %(known)s.",
                       feature=label, value=_number_text(value), known=", ".join(_CATEGORY_VALUES))),
                {"value": _json_safe(value)}))
    out["categories"] = categories

    # geometry
    try:
        out["geometry"] = _parse_geometry(item.get("geometry"), label)
    except _Refuse as refusal:
        out["geometry"] = None
        problems.append(ImportProblem(index, code, refusal.reason, str(refusal.message), refusal.details))
    return problems, out


def _required_text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _optional_text(value: Any) -> tuple[str | None, bool]:
    """(text or None, acceptable). Whole numbers are taken as text (a building "3"); blank means none."""
    if value is None:
        return None, True
    if isinstance(value, str):
        return (value.strip() or None), True
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value), True
    return None, False


def _level(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        level = value
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        level = int(value)
    elif isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d{1,4}\s*", value):
        level = int(value)
    else:
        return None
    return level if LEVEL_RANGE[0] <= level <= LEVEL_RANGE[1] else None


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return _number_text(value)


# --------------------------------------------------------------------------------------------- geometry


def _parse_geometry(geom: Any, label: str) -> BaseGeometry:
    if geom is None:
        raise _Refuse("null_geometry", _l("%(feature)s has no geometry.", feature=label))
    kind = geom.get("type") if isinstance(geom, dict) else None
    if kind not in ("Polygon", "MultiPolygon"):
        shown = kind if isinstance(kind, str) else _number_text(kind if isinstance(geom, dict) else geom)
        raise _Refuse("not_polygonal",
                      _l("%(feature)s has a %(type)s geometry; a grid must be a Polygon or a MultiPolygon.",
                         feature=label, type=shown),
                      type=shown)
    coords = geom.get("coordinates")
    if kind == "Polygon":
        polygons_raw = [_polygon_rings(coords, label)]
    else:
        if not isinstance(coords, list) or not coords:
            raise _bad(label, _l("a MultiPolygon needs a non-empty list of polygons"))
        polygons_raw = [_polygon_rings(p, label) for p in coords]

    # Range, closure and size checks work on the raw positions, before Shapely closes or repairs anything.
    for rings in polygons_raw:
        for ring in rings:
            for lon, lat in ring:
                if not (-180.0 <= lon <= 180.0):
                    raise _out_of_range(label, "lon", lon)
                if not (-90.0 <= lat <= 90.0):
                    raise _out_of_range(label, "lat", lat)
    for rings in polygons_raw:
        for ring_no, ring in enumerate(rings):
            if len(ring) < 4:
                raise _Refuse("degenerate_ring",
                              _l("%(feature)s: ring %(ring)d has only %(count)d positions; a ring needs at least "
                                 "4, the last repeating the first.", feature=label, ring=ring_no, count=len(ring)),
                              ring=ring_no, positions=len(ring))
            if ring[0] != ring[-1]:
                raise _Refuse("unclosed_ring",
                              _l("%(feature)s: ring %(ring)d is not closed: its first position %(first)s differs "
                                 "from its last %(last)s.", feature=label, ring=ring_no,
                                 first=_position_text(ring[0]), last=_position_text(ring[-1])),
                              ring=ring_no)
            area_m2 = _ring_area_m2(ring)
            if area_m2 < MIN_RING_AREA_M2:
                raise _Refuse("degenerate_ring",
                              _l("%(feature)s: ring %(ring)d encloses no area (all its positions lie on one line).",
                                 feature=label, ring=ring_no),
                              ring=ring_no, area_m2=area_m2)

    polygons = [Polygon(rings[0], rings[1:]) for rings in polygons_raw]
    geometry: BaseGeometry = polygons[0] if kind == "Polygon" else MultiPolygon(polygons)
    reason = shapely.is_valid_reason(geometry)
    if reason != "Valid Geometry":
        raise _Refuse("invalid_polygon",
                      _l("%(feature)s: the polygon is not valid (%(reason)s). Fix self-intersections, holes outside "
                         "their polygon and overlapping parts.", feature=label, reason=reason),
                      shapely_reason=reason)
    return _orient(geometry)


def _polygon_rings(coords: Any, label: str) -> list[list[tuple[float, float]]]:
    if not isinstance(coords, list) or not coords:
        raise _bad(label, _l("a polygon needs a non-empty list of rings"))
    rings = []
    for ring in coords:
        if not isinstance(ring, list):
            raise _bad(label, _l("a ring must be a list of positions, not %(value)s", value=_number_text(ring)))
        rings.append([_position(p, label) for p in ring])
    return rings


def _position(p: Any, label: str) -> tuple[float, float]:
    if not isinstance(p, list) or len(p) < 2:
        raise _bad(label, _l("a position must be a list of at least 2 numbers, not %(value)s",
                             value=_number_text(p)))
    xy = []
    for v in p[:2]:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise _bad(label, _l("%(value)s is not a number", value=_number_text(v)))
        try:
            f = float(v)
        except OverflowError:
            f = math.inf
        if not math.isfinite(f):
            raise _bad(label, _l("%(value)s is not a finite number", value=_number_text(v)))
        xy.append(f)
    return xy[0], xy[1]


def _bad(label: str, why) -> _Refuse:
    return _Refuse("bad_coordinates",
                   _l("%(feature)s has malformed coordinates: %(why)s.", feature=label, why=str(why)))


def _out_of_range(label: str, axis: str, value: float) -> _Refuse:
    axis_name = _l("longitude") if axis == "lon" else _l("latitude")
    hint = ""
    if abs(value) > 1000:
        hint = str(_l(" It looks like projected metres: export the grids in WGS84 longitude/latitude (EPSG:4326)."))
    return _Refuse("coordinate_out_of_range",
                   _l("%(feature)s: the %(axis)s %(value)s is out of range (longitude -180…180, latitude -90…90)."
                      "%(hint)s", feature=label, axis=str(axis_name), value=_number_text(value), hint=hint),
                   axis=axis, value=value)


def _position_text(p: tuple[float, float]) -> str:
    return f"[{_number_text(p[0])}, {_number_text(p[1])}]"


def _ring_area_m2(ring: list[tuple[float, float]]) -> float:
    """Area of the convex hull of the ring's positions: zero only when they all lie on one line.

    (The ring's own signed area would also be zero for a symmetric bow-tie, which is an invalid polygon.)
    """
    xy = np.asarray(ring, dtype=float)
    hull = shapely.convex_hull(shapely.multipoints(xy - xy[0]))
    kx, ky = LocalProjection(float(xy[0, 0]), float(xy[0, 1])).metres_per_degree
    return float(shapely.area(hull)) * kx * ky


def _orient(geometry: BaseGeometry) -> BaseGeometry:
    if isinstance(geometry, Polygon):
        return orient(geometry, 1.0)
    return MultiPolygon([orient(p, 1.0) for p in geometry.geoms])


# ----------------------------------------------------------------------------------------------- overlap


def _projection_for(geoms: Sequence[BaseGeometry]) -> LocalProjection:
    minx, miny, maxx, maxy = shapely.total_bounds(np.asarray(geoms, dtype=object))
    return LocalProjection((minx + maxx) / 2.0, (miny + maxy) / 2.0)


def check_overlaps(features: Sequence[GridFeature],
                   existing: Iterable[tuple[str, int, BaseGeometry]] = (),
                   *, projection: LocalProjection | None = None) -> list[ImportProblem]:
    """Overlaps between the features on one level, and between them and stored grids of the site.

    ``existing`` is (code, level, geometry) of grids already stored that the import keeps; entries whose code
    is also in ``features`` are skipped, since the import replaces them. Overlaps among ``existing`` are not
    reported. Two grids overlap when their interiors share more than `OVERLAP_TOLERANCE_M2` square metres.
    """
    items = [(f.index, f.code, f.level, f.geometry) for f in features]
    return _overlap_problems(items, existing, projection)


def _overlap_problems(items: Sequence[tuple[int, str | None, int, BaseGeometry]],
                      existing: Iterable[tuple[str, int, BaseGeometry]],
                      projection: LocalProjection | None = None) -> list[ImportProblem]:
    file_codes = {code for _, code, _, _ in items if code is not None}
    kept = [(code, int(level or 0), geom) for code, level, geom in existing
            if code not in file_codes and geom is not None and not geom.is_empty]
    if not items:
        return []
    n_file = len(items)
    geoms = [g for _, _, _, g in items] + [g for _, _, g in kept]
    levels = np.array([lv for _, _, lv, _ in items] + [lv for _, lv, _ in kept])
    projection = projection or _projection_for(geoms)
    metres = np.array([projection.to_metres(shapely.force_2d(g)) for g in geoms], dtype=object)

    tree = shapely.STRtree(metres)
    left, right = tree.query(metres[:n_file], predicate="intersects")
    # Each file feature against later file features, and against every kept stored grid.
    keep = (levels[left] == levels[right]) & (left < right)
    left, right = left[keep], right[keep]
    if left.size == 0:
        return []
    areas = shapely.area(shapely.intersection(metres[left], metres[right]))
    problems = []
    for i, j, area in zip(left.tolist(), right.tolist(), areas.tolist()):
        if area <= OVERLAP_TOLERANCE_M2:
            continue
        index_i, code_i, level, _ = items[i]
        if j < n_file:
            index_j, code_j, _, _ = items[j]
            later, later_code = (index_j, code_j) if index_j > index_i else (index_i, code_i)
            other, other_code = (index_i, code_i) if index_j > index_i else (index_j, code_j)
            message = _l("%(feature)s overlaps %(other)s on level %(level)d by %(area).2f m².",
                         feature=feature_label(later, later_code), other=feature_label(other, other_code),
                         level=level, area=area)
            details = {"other_index": other, "other_code": other_code, "area_m2": area, "level": level}
            problems.append(ImportProblem(later, later_code, "overlap", str(message), details))
        else:
            stored_code = kept[j - n_file][0]
            message = _l("%(feature)s overlaps the stored grid %(other)s on level %(level)d by %(area).2f m².",
                         feature=feature_label(index_i, code_i), other=stored_code, level=level, area=area)
            details = {"other_index": None, "other_code": stored_code, "area_m2": area, "level": level}
            problems.append(ImportProblem(index_i, code_i, "overlap", str(message), details))
    problems.sort(key=lambda p: (p.index, p.details["other_index"] if p.details["other_index"] is not None
                                 else -1, str(p.details["other_code"])))
    return problems


# ---------------------------------------------------------------------------------------------- coverage


def _grid_items(items: Iterable[Any]) -> list[tuple[str | None, BaseGeometry]]:
    """(code, geometry) from GridFeature-like objects, (code, level, geometry) tuples or bare geometries."""
    out = []
    for item in items:
        if isinstance(item, BaseGeometry):
            out.append((None, item))
        elif isinstance(item, tuple):
            out.append((item[0] if len(item) > 1 else None, item[-1]))
        else:
            out.append((getattr(item, "code", None), item.geometry))
    return [(code, shapely.force_2d(g)) for code, g in out if g is not None and not g.is_empty]


def coverage_warnings(grids: Iterable[Any], boundary: BaseGeometry | None = None,
                      *, projection: LocalProjection | None = None) -> list[CoverageWarning]:
    """Gaps in the grid cover and parts of grids outside the site boundary.

    ``grids``: GridFeature-like objects (``.code``, ``.geometry``), ``(code, level, geometry)`` tuples or bare
    geometries. Footprints of every level count: a building's floors cover its footprint on the ground.

    * ``gap``: each connected part of the boundary not covered by any footprint (without a boundary: each hole
      in the union of the footprints), of at least `MIN_GAP_M2`; slivers are ignored.
    * ``outside_boundary``: per grid, the part of it outside the boundary, of at least `MIN_OUTSIDE_M2`.

    Gaps come first, largest first; then grids outside the boundary by code.
    """
    items = _grid_items(grids)
    if boundary is not None and (boundary.is_empty or boundary.area == 0):
        boundary = None
    if boundary is not None:
        boundary = shapely.force_2d(boundary)
        if not boundary.is_valid:
            boundary = shapely.make_valid(boundary)
    if not items and boundary is None:
        return []
    projection = projection or _projection_for([boundary] if boundary is not None else [g for _, g in items])
    footprints = [projection.to_metres(g) for _, g in items]
    cover = shapely.union_all(footprints) if footprints else Polygon()

    if boundary is not None:
        boundary_m = projection.to_metres(boundary)
        uncovered = boundary_m.difference(cover) if not cover.is_empty else boundary_m
        gap_parts = _parts(uncovered)
    else:
        gap_parts = []
        for poly in _parts(cover):
            for hole in poly.interiors:
                gap_parts.extend(_parts(Polygon(hole).difference(cover)))

    warnings = []
    for part in sorted(gap_parts, key=lambda p: -p.area):
        if part.area < MIN_GAP_M2:
            continue
        lon, lat = _lonlat(projection, part)
        warnings.append(CoverageWarning(
            "gap", part.area, (lon, lat),
            str(_l("An area of %(area).1f m² is not covered by any grid (around %(lon).6f, %(lat).6f).",
                   area=part.area, lon=lon, lat=lat)),
            None, projection.to_degrees(part)))

    if boundary is not None:
        outside = []
        for (code, _), footprint in zip(items, footprints):
            part = footprint.difference(boundary_m)
            if part.is_empty or part.area < MIN_OUTSIDE_M2:
                continue
            lon, lat = _lonlat(projection, max(_parts(part), key=lambda p: p.area))
            outside.append(CoverageWarning(
                "outside_boundary", part.area, (lon, lat),
                str(_l("Grid %(code)s has %(area).2f m² outside the site boundary (around %(lon).6f, %(lat).6f).",
                       code=code or "?", area=part.area, lon=lon, lat=lat)),
                code, projection.to_degrees(part)))
        warnings.extend(sorted(outside, key=lambda w: (w.code or "", -w.area_m2)))
    return warnings


def _parts(geometry: BaseGeometry) -> list[Polygon]:
    """The polygons of a geometry (lines and points from overlay results are dropped)."""
    if geometry.is_empty:
        return []
    if isinstance(geometry, Polygon):
        return [geometry]
    return [part for g in getattr(geometry, "geoms", ()) for part in _parts(g)]


def _lonlat(projection: LocalProjection, part: BaseGeometry) -> tuple[float, float]:
    p = projection.to_degrees(part.representative_point())
    return float(p.x), float(p.y)


# ------------------------------------------------------------------------------------------------ export


def feature_collection(grids: Iterable[Any]) -> dict[str, Any]:
    """An RFC 7946 FeatureCollection of grids, sorted by code, that `parse_grid_collection` reads back equal.

    ``grids``: `GridFeature` objects, or any objects with ``code, name, level, building, categories,
    description, geometry`` and either ``leader_username``/``deputy_username`` or ``leader``/``deputy`` (a
    username, or an object with ``.username`` such as a `Grid`'s current User). Exteriors are written
    counter-clockwise and holes clockwise; coordinates are 2-D, rounded to 7 decimals (about 1 cm).
    """
    features = []
    for grid in sorted(grids, key=lambda g: g.code):
        features.append({
            "type": "Feature",
            "id": grid.code,
            "properties": {
                "code": grid.code,
                "name": grid.name,
                "level": int(grid.level or 0),
                "building": grid.building,
                "leader": _username(grid, "leader"),
                "deputy": _username(grid, "deputy"),
                "categories": list(grid.categories or []),
                "description": grid.description,
            },
            "geometry": _geometry_json(grid.geometry),
        })
    return {"type": "FeatureCollection", "features": features}


def _username(grid: Any, role: str) -> str | None:
    if hasattr(grid, f"{role}_username"):
        return getattr(grid, f"{role}_username")
    person = getattr(grid, role, None)
    if person is None or isinstance(person, str):
        return person
    return getattr(person, "username", None)


def _geometry_json(geometry: BaseGeometry) -> dict[str, Any]:
    geometry = shapely.force_2d(geometry)
    if isinstance(geometry, Polygon):
        return {"type": "Polygon", "coordinates": _polygon_json(orient(geometry, 1.0))}
    if isinstance(geometry, MultiPolygon):
        return {"type": "MultiPolygon", "coordinates": [_polygon_json(orient(p, 1.0)) for p in geometry.geoms]}
    raise ValueError(f"a grid geometry must be a Polygon or MultiPolygon, not {geometry.geom_type}")


def _polygon_json(polygon: Polygon) -> list[list[list[float]]]:
    return [_ring_json(polygon.exterior)] + [_ring_json(r) for r in polygon.interiors]


def _ring_json(ring) -> list[list[float]]:
    return [[round(x, EXPORT_DECIMALS), round(y, EXPORT_DECIMALS)] for x, y in ring.coords]
