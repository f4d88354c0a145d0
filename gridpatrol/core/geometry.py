"""Geometry plumbing: a local metric plane for a site, and a portable geometry column.

Grids are stored in WGS84 lon/lat. Areas and distances are computed in a local equirectangular plane
centred on the site: at compound scale (a few km) its error is far below a metre, and containment is
unchanged because the transform is affine. No PostGIS is needed: geometries are stored as WKB.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import LargeBinary
from sqlalchemy.types import TypeDecorator

# WGS84 ellipsoid radii of curvature at a latitude give metres per degree.
_A = 6378137.0
_E2 = 6.69437999014e-3


@dataclass(frozen=True)
class LocalProjection:
    """lon/lat (degrees) ⇄ metres east/north of an origin, for one site."""

    lon0: float
    lat0: float

    @property
    def metres_per_degree(self) -> tuple[float, float]:
        phi = math.radians(self.lat0)
        w = math.sqrt(1 - _E2 * math.sin(phi) ** 2)
        meridional = _A * (1 - _E2) / w**3
        prime_vertical = _A / w
        return math.radians(1) * prime_vertical * math.cos(phi), math.radians(1) * meridional

    @classmethod
    def around(cls, geometry: BaseGeometry) -> "LocalProjection":
        c = geometry.centroid
        return cls(c.x, c.y)

    def to_metres_xy(self, lon, lat):
        kx, ky = self.metres_per_degree
        return (np.asarray(lon, dtype=float) - self.lon0) * kx, (np.asarray(lat, dtype=float) - self.lat0) * ky

    def to_metres(self, geometry: BaseGeometry) -> BaseGeometry:
        kx, ky = self.metres_per_degree
        return shapely.transform(geometry, lambda c: (c - (self.lon0, self.lat0)) * (kx, ky))

    def to_degrees(self, geometry: BaseGeometry) -> BaseGeometry:
        kx, ky = self.metres_per_degree
        return shapely.transform(geometry, lambda c: c / (kx, ky) + (self.lon0, self.lat0))


class GeometryType(TypeDecorator):
    """A Shapely geometry stored as 2-D WKB bytes (portable across SQLite and PostgreSQL)."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: BaseGeometry | None, dialect) -> bytes | None:
        if value is None:
            return None
        return shapely.to_wkb(shapely.force_2d(value), output_dimension=2)

    def process_result_value(self, value: bytes | None, dialect) -> BaseGeometry | None:
        if value is None:
            return None
        return shapely.from_wkb(bytes(value))
