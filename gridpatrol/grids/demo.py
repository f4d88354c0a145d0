"""Demo compound: the site, its 49 grids, leaders, deputies and checkpoints, through the real services.

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


def load_compound(session: Session) -> None:
    site_data = json.loads((DATA / "site.json").read_text(encoding="utf-8"))
    people = json.loads((DATA / "people.json").read_text(encoding="utf-8"))
    collection = json.loads((DATA / "compound.geojson").read_text(encoding="utf-8"))

    stand_in = people[0]["username"]
    for person in people[1:]:
        accounts.create_user(session, username=person["username"], display_name=person["display_name"],
                             phone=person.get("phone"), password=demo.DEMO_PASSWORD,
                             roles=[Role.GRID_LEADER, Role.STAFF])
    for feature in collection["features"]:
        for key in ("leader", "deputy"):
            if feature["properties"].get(key) == stand_in:
                feature["properties"][key] = DEMO_LEADER_LOGIN

    boundary = shapely.from_geojson(json.dumps(site_data["boundary"]))
    site = services.create_site(session, code=site_data["code"], name=site_data["name"],
                                timezone=site_data.get("timezone", "Asia/Shanghai"), boundary=boundary)
    services.import_grids(session, site, json.dumps(collection, ensure_ascii=False))
    grids = {g.code: g for g in services.list_grids(session, site)}
    for cp in json.loads((DATA / "checkpoints.json").read_text(encoding="utf-8")):
        services.add_checkpoint(session, grids[cp["grid"]], code=cp["code"], name=cp["name"],
                                lon=cp["lon"], lat=cp["lat"], actor=None)


demo.register_loader("compound", load_compound)
