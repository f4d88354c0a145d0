"""Sites, their grids as GeoJSON, and which grid a point is in."""

from __future__ import annotations

import marshmallow as ma
from flask import g
from flask.views import MethodView
from flask_login import current_user
from marshmallow import validate

from gridpatrol.api.auth import authenticate
from gridpatrol.api.schemas import Person
from gridpatrol.api.spec import ApiBlueprint
from gridpatrol.extensions import db
from gridpatrol.grids import services as grids

blp = ApiBlueprint("api_sites", __name__, url_prefix="/api/v1", description="Sites (办公区), grids and locating")
blp.before_request(authenticate)


class SiteOut(ma.Schema):
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    timezone = ma.fields.String(required=True)
    issuing_unit = ma.fields.String(required=True, allow_none=True)


class SiteList(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(SiteOut), required=True)


class GridOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    level = ma.fields.Integer(required=True)
    leader = ma.fields.Nested(Person, required=True, allow_none=True)


class NearestGrid(GridOut):
    distance_m = ma.fields.Float(required=True)


class LocateQuery(ma.Schema):
    lon = ma.fields.Float(required=True, validate=validate.Range(min=-180, max=180))
    lat = ma.fields.Float(required=True, validate=validate.Range(min=-90, max=90))
    level = ma.fields.Integer(load_default=0, validate=validate.Range(min=-20, max=200),
                              metadata={"description": "floor: 0 outdoors or the ground floor, -1 the first basement"})


class LocateOut(ma.Schema):
    site = ma.fields.String(required=True)
    lon = ma.fields.Float(required=True)
    lat = ma.fields.Float(required=True)
    level = ma.fields.Integer(required=True)
    inside = ma.fields.Boolean(required=True)
    grid = ma.fields.Nested(GridOut, allow_none=True, metadata={"description": "the grid the point is in"})
    nearest = ma.fields.Nested(NearestGrid, allow_none=True,
                               metadata={"description": "outside every grid: the nearest one on that level"})


class FeatureCollection(ma.Schema):
    class Meta:
        unknown = ma.INCLUDE

    type = ma.fields.String(required=True, validate=validate.Equal("FeatureCollection"))
    features = ma.fields.List(ma.fields.Dict(), required=True)


def grid_json(grid) -> dict:
    leader = grid.leader
    return {"id": grid.id, "code": grid.code, "name": grid.name, "level": grid.level,
            "leader": {"username": leader.username, "name": leader.display_name} if leader else None}


@blp.route("/sites", tags=["sites"])
class Sites(MethodView):
    @blp.response(200, SiteList)
    def get(self):
        """The sites the caller works at"""
        allowed = current_user.site_ids()
        return {"items": [{"code": s.code, "name": s.name, "timezone": s.timezone, "issuing_unit": s.issuing_unit}
                          for s in grids.list_sites(db.session) if allowed is None or s.id in allowed]}


@blp.route("/sites/<site>/grids", tags=["sites"])
class Grids(MethodView):
    @blp.response(200, FeatureCollection)
    def get(self):
        """The site's grids as a GeoJSON FeatureCollection (the grid file's own format)"""
        return grids.export_grids(db.session, g.site)


@blp.route("/sites/<site>/locate", tags=["sites"])
class Locate(MethodView):
    @blp.arguments(LocateQuery, location="query", as_kwargs=True)
    @blp.response(200, LocateOut)
    def get(self, lon: float, lat: float, level: int):
        """Which grid a point is in (WGS 84), or the nearest grid on that level"""
        answer = grids.locate(db.session, g.site, lon, lat, level)
        body = {"site": g.site.code, "lon": lon, "lat": lat, "level": level, "inside": answer.inside,
                "grid": grid_json(answer.grid) if answer.grid is not None else None, "nearest": None}
        if not answer.inside and answer.nearest is not None:
            body["nearest"] = {**grid_json(answer.nearest), "distance_m": round(answer.distance_m, 1)}
        return body
