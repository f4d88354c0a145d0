"""Builders for sites and grids in tests: small, hand-checkable maps around a real compound's position."""

from __future__ import annotations

import datetime as dt
import json

from shapely.geometry import box, mapping

from gridpatrol.core.transaction import job_transaction
from gridpatrol.grids import services

LON0, LAT0 = 120.15, 30.28
STEP = 0.001  # ≈ 96 m east-west, 111 m north-south here


def cell(col: int, row: int, size: float = STEP):
    """The lattice cell `col` east and `row` south of the origin (lon/lat box)."""
    x = LON0 + col * STEP
    y = LAT0 - row * STEP
    return box(x, y - size, x + size, y)


def feature(code: str, geometry, **properties) -> dict:
    return {"type": "Feature", "geometry": mapping(geometry), "properties": {"code": code, "name": f"网格{code}", **properties}}


def collection(*features: dict) -> str:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}, ensure_ascii=False)


def two_by_two(**extra) -> str:
    """Four grids A01..A04 in a 2×2 block, numbered west→east, north→south, on level 0."""
    return collection(*(feature(f"A0{i + 1}", cell(i % 2, i // 2), **extra.get(f"A0{i + 1}", {})) for i in range(4)))


ASSIGNED_AT = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)  # leaders in test worlds hold their grids all year


def make_site(app, code: str = "TEST", *, boundary=None, grids: str | None = None, at=ASSIGNED_AT):
    with app.app_context(), job_transaction() as session:
        site = services.create_site(session, code=code, name="测试办公区",
                                    boundary=boundary if boundary is not None else box(LON0, LAT0 - 2 * STEP,
                                                                                       LON0 + 2 * STEP, LAT0))
        if grids is not None:
            services.import_grids(session, site, grids, at=at)
        return site.id
