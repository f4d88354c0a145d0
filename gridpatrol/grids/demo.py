"""Demo sites: the compound with its 49 grids, leaders, deputies and checkpoints, and a small annex with five
grids, its own leaders and supervisor, through the real services.

Data files live in gridpatrol/demo/data (made by build_compound.py there). The first person in
people.json is played by the demo login `wangge01`, so that login leads real grids.
"""

from __future__ import annotations

import json
from pathlib import Path

import shapely
from sqlalchemy.orm import Session

from gridpatrol.accounts import services as accounts
from gridpatrol.core.roles import Role
from gridpatrol.demo import services as demo
from gridpatrol.grids import services

DATA = Path(__file__).resolve().parents[1] / "demo" / "data"
DEMO_LEADER_LOGIN = "wangge01"


def load_sites(session: Session) -> None:
    """Both demo sites, before the accounts that are given roles at them."""
    site_data = json.loads((DATA / "site.json").read_text(encoding="utf-8"))
    services.create_site(session, code=site_data["code"], name=site_data["name"],
                         timezone=site_data.get("timezone", "Asia/Shanghai"),
                         boundary=shapely.from_geojson(json.dumps(site_data["boundary"])))
    services.create_site(session, code=demo.ANNEX_SITE, name=ANNEX_NAME, boundary=shapely.box(*ANNEX_BOUNDS))


def load_compound(session: Session) -> None:
    site = services.get_site(session, demo.MAIN_SITE)
    people = json.loads((DATA / "people.json").read_text(encoding="utf-8"))
    collection = json.loads((DATA / "compound.geojson").read_text(encoding="utf-8"))

    stand_in = people[0]["username"]
    for person in people[1:]:
        accounts.create_user(session, username=person["username"], display_name=person["display_name"],
                             phone=person.get("phone"), password=demo.DEMO_PASSWORD,
                             password_hash=demo.demo_password_hash(),
                             roles=[(Role.GRID_LEADER, site.id), (Role.STAFF, site.id)])
    for feature in collection["features"]:
        for key in ("leader", "deputy"):
            if feature["properties"].get(key) == stand_in:
                feature["properties"][key] = DEMO_LEADER_LOGIN

    services.import_grids(session, site, json.dumps(collection, ensure_ascii=False), at=demo.starts_at())
    grids = {g.code: g for g in services.list_grids(session, site)}
    for cp in json.loads((DATA / "checkpoints.json").read_text(encoding="utf-8")):
        services.add_checkpoint(session, grids[cp["grid"]], code=cp["code"], name=cp["name"],
                                lon=cp["lon"], lat=cp["lat"], actor=None)


# --- the annex: 泗水办公区, a two-storey office building with its yard, about 3 km east of the centre --------
ANNEX_NAME = "泗水办公区"
ANNEX_BOUNDS = (120.1800, 30.2790, 120.1820, 30.2806)  # lon/lat of the compound wall
_BUILDING = (120.1804, 30.2797, 120.1814, 30.2803)
# code, name, level, building, leader, deputy, categories, area (lon/lat box) or None for the building's outline
ANNEX_GRIDS = (
    ("A01", "综合楼一层", 1, "综合楼", "sishui01", None, ["water_power", "equipment", "fire_safety", "sanitation"],
     None),
    ("A02", "综合楼二层", 2, "综合楼", "sishui02", "sishui01", ["water_power", "equipment", "fire_safety", "assets"],
     None),
    ("A03", "南门及停车场", 0, None, "sishui01", None, ["security", "equipment", "sanitation"],
     (120.1800, 30.2790, 120.1820, 30.2797)),
    ("A04", "后院及绿地", 0, None, "sishui02", None, ["greening", "sanitation", "water_power"],
     (120.1800, 30.2803, 120.1820, 30.2806)),
    ("A05", "综合楼周边", 0, None, "sishui02", None, ["fire_safety", "security", "greening"],
     None),
)
ANNEX_CHECKPOINTS = (("A01", "A01-01", "一层配电间", 120.1806, 30.2799), ("A02", "A02-01", "二层消防通道", 120.1812, 30.2801),
                     ("A03", "A03-01", "南门门岗", 120.1810, 30.2791))


def _annex_collection() -> dict:
    building = shapely.box(*_BUILDING)
    ground_between = shapely.box(ANNEX_BOUNDS[0], 30.2797, ANNEX_BOUNDS[2], 30.2803).difference(building)
    features = []
    for code, name, level, building_name, leader, deputy, categories, area in ANNEX_GRIDS:
        geometry = shapely.box(*area) if area else (building if level > 0 else ground_between)
        features.append({"type": "Feature", "geometry": json.loads(shapely.to_geojson(geometry)), "properties": {
            "code": code, "name": name, "level": level, "building": building_name, "leader": leader,
            "deputy": deputy, "categories": categories}})
    return {"type": "FeatureCollection", "features": features}


def load_annex(session: Session) -> None:
    site = services.get_site(session, demo.ANNEX_SITE)
    services.import_grids(session, site, json.dumps(_annex_collection(), ensure_ascii=False), at=demo.starts_at())
    grids = {g.code: g for g in services.list_grids(session, site)}
    for grid, code, name, lon, lat in ANNEX_CHECKPOINTS:
        services.add_checkpoint(session, grids[grid], code=code, name=name, lon=lon, lat=lat, actor=None)


demo.register_loader("sites", load_sites, before="accounts")
demo.register_loader("compound", load_compound)
demo.register_loader("annex", load_annex)
