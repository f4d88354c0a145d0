"""Importing grids into the database, leader history, locating, checkpoints."""

import datetime as dt
import json

import pytest
import sqlalchemy as sa
from shapely.geometry import box

from gridpatrol.accounts.models import User
from gridpatrol.core.errors import DomainError
from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.grids import geojson, services
from gridpatrol.grids.models import AssignmentRole, Checkpoint, Grid, GridAssignment, Site
from tests import helpers
from tests.grids import builders


def _counts(app):
    with app.app_context():
        return {model.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
                for model in (Site, Grid, GridAssignment, Checkpoint)}


def _import(app, data, code="TEST"):
    with app.app_context(), job_transaction() as session:
        return services.import_grids(session, services.get_site(session, code), data)


@pytest.fixture
def leaders(app):
    return [helpers.make_user(app, f"leader{i}", roles=("grid_leader", "staff")) for i in range(3)]


def test_good_file_imports_in_one_go(app, leaders):
    builders.make_site(app)
    report = _import(app, builders.two_by_two(A01={"leader": "leader0", "deputy": "leader1", "level": 0,
                                                     "categories": ["water_power", "greening"]}))
    assert report.created == ["A01", "A02", "A03", "A04"] and report.warnings == []
    assert _counts(app) == {"Site": 1, "Grid": 4, "GridAssignment": 2, "Checkpoint": 0}
    with app.app_context():
        a01 = db.session.scalar(sa.select(Grid).where(Grid.code == "A01"))
        assert a01.leader.username == "leader0" and a01.deputy.username == "leader1"
        assert a01.categories == ["water_power", "greening"]
        assert [g.code for g in services.grids_without_leader(db.session, a01.site)] == ["A02", "A03", "A04"]


def test_reimporting_the_same_file_changes_nothing(app, leaders):
    builders.make_site(app)
    data = builders.two_by_two(A01={"leader": "leader0"})
    _import(app, data)
    with app.app_context():
        version = db.session.scalar(sa.select(Site.grids_version))
    report = _import(app, data)
    assert report.created == [] and report.updated == [] and report.reassigned == []
    assert report.unchanged == ["A01", "A02", "A03", "A04"]
    assert _counts(app)["GridAssignment"] == 1
    with app.app_context():
        assert db.session.scalar(sa.select(Site.grids_version)) == version


def test_edited_file_updates_grids_in_place_and_keeps_history(app, leaders):
    builders.make_site(app)
    _import(app, builders.two_by_two(A01={"leader": "leader0"}))
    with app.app_context():
        ids = dict(db.session.execute(sa.select(Grid.code, Grid.id)).all())
    edited = builders.collection(
        builders.feature("A01", builders.cell(0, 0), name="北广场", leader="leader2"),
        builders.feature("A02", builders.cell(1, 0, size=builders.STEP / 2)),  # shrunk
        builders.feature("A03", builders.cell(0, 1)),
        builders.feature("A04", builders.cell(1, 1)),
    )
    report = _import(app, edited)
    assert report.updated == ["A01", "A02"] and report.unchanged == ["A03", "A04"] and report.reassigned == ["A01"]
    with app.app_context():
        assert dict(db.session.execute(sa.select(Grid.code, Grid.id)).all()) == ids  # same rows, updated
        a01 = db.session.get(Grid, ids["A01"])
        assert a01.name == "北广场" and a01.leader.username == "leader2"
        history = [(a.user.username, a.effective_to is None) for a in a01.assignments]
        assert history == [("leader0", False), ("leader2", True)]


@pytest.mark.parametrize("data, reason", [
    ("{not json", "broken_json"),
    (json.dumps({"type": "Feature"}), "not_feature_collection"),
    (json.dumps({"type": "FeatureCollection", "features": []}), "empty"),
    (builders.collection(builders.feature("A01", builders.cell(0, 0)), builders.feature("A01", builders.cell(1, 0))),
     "duplicate_code"),
    (builders.collection(builders.feature("A01", box(120.15, 30.28, 120.1515, 30.2815)),
                         builders.feature("A02", box(120.151, 30.281, 120.152, 30.282))), "overlap"),
    (builders.collection(builders.feature("A01", builders.cell(0, 0), leader="ghost")), "unknown_leader"),
    (builders.collection(builders.feature("A01", builders.cell(0, 0), deputy="ghost")), "unknown_deputy"),
    (json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": None, "properties": {"code": "A01", "name": "x"}}]}), "null_geometry"),
    (json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [120.15, 30.28]},
         "properties": {"code": "A01", "name": "x"}}]}), "not_polygonal"),
    (json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[120.15, 30.28], [120.151, 30.281],
                                                                              [120.151, 30.28], [120.15, 30.281],
                                                                              [120.15, 30.28]]]},
         "properties": {"code": "A01", "name": "bow tie"}}]}), "invalid_polygon"),
    (json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[120.15, 30.28], [120.151, 30.28],
                                                                              [120.151, 30.281], [120.15, 30.281]]]},
         "properties": {"code": "A01", "name": "open ring"}}]}), "unclosed_ring"),
    (json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[120.15, 30.28], [120.151, 30.28],
                                                                              [120.15, 30.28], [120.15, 30.28]]]},
         "properties": {"code": "A01", "name": "flat"}}]}), "degenerate_ring"),
    (json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[120.15, 95.0], [120.151, 95.0],
                                                                              [120.151, 95.001], [120.15, 95.0]]]},
         "properties": {"code": "A01", "name": "north of the pole"}}]}), "coordinate_out_of_range"),
    (json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": None, "properties": {"name": "no code"}}]}), "missing_code"),
    (json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": None, "properties": {"code": "A01"}}]}), "missing_name"),
    (builders.collection(builders.feature("A01", builders.cell(0, 0), leader="plain")), "leader_without_role"),
])
def test_refused_file_imports_nothing(app, leaders, data, reason):
    helpers.make_user(app, "plain", roles=("staff",))
    builders.make_site(app)
    before = _counts(app)
    with pytest.raises(geojson.GridImportRefused) as refused:
        _import(app, data)
    assert reason in refused.value.reasons
    assert _counts(app) == before


def test_overlap_with_a_stored_grid_not_in_the_file_is_refused(app):
    builders.make_site(app, grids=builders.two_by_two())
    intruder = builders.collection(builders.feature("B01", builders.cell(0, 0)))
    with pytest.raises(geojson.GridImportRefused) as refused:
        _import(app, intruder)
    assert refused.value.reasons == {"overlap"}
    assert _counts(app)["Grid"] == 4
    # the same footprint on another floor is fine: floors of one building share it
    _import(app, builders.collection(builders.feature("B01", builders.cell(0, 0), level=2)))
    assert _counts(app)["Grid"] == 5


def test_gaps_and_parts_outside_are_warnings(app):
    builders.make_site(app)
    data = builders.collection(
        builders.feature("A01", builders.cell(0, 0)), builders.feature("A02", builders.cell(1, 0)),
        builders.feature("A03", builders.cell(0, 1)), builders.feature("A04", builders.cell(2, 1)),  # A04 outside
    )
    report = _import(app, data)
    kinds = sorted(w.kind for w in report.warnings)
    assert kinds == ["gap", "outside_boundary"]
    gap = next(w for w in report.warnings if w.kind == "gap")
    assert gap.area_m2 == pytest.approx(96.2 * 111.0, rel=0.02)  # the empty cell (1, 1)
    assert _counts(app)["Grid"] == 4


def test_export_imports_back_to_the_same_grids(app, leaders):
    builders.make_site(app)
    _import(app, builders.two_by_two(A02={"leader": "leader1", "building": "主楼", "level": 3}))
    with app.app_context():
        exported = json.dumps(services.export_grids(db.session, services.get_site(db.session, "TEST")))
    report = _import(app, exported)
    assert report.unchanged == ["A01", "A02", "A03", "A04"] and not report.updated and not report.reassigned


def test_leader_history_answers_who_was_responsible_when(app, leaders):
    builders.make_site(app, grids=builders.two_by_two())
    t1 = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
    t2 = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)
    with app.app_context(), job_transaction() as session:
        grid = session.scalar(sa.select(Grid).where(Grid.code == "A01"))
        users = {u.username: u for u in session.scalars(sa.select(User))}
        services.assign(session, grid, users["leader0"], AssignmentRole.LEADER, actor=None, at=t1)
        services.assign(session, grid, users["leader1"], AssignmentRole.DEPUTY, actor=None, at=t1)
        services.assign(session, grid, users["leader1"], AssignmentRole.LEADER, actor=None, at=t2)  # deputy steps up
        assert grid.leader.username == "leader1" and grid.deputy is None
        assert services.responsible_at(grid, AssignmentRole.LEADER, t1 + dt.timedelta(days=1)).username == "leader0"
        assert services.responsible_at(grid, AssignmentRole.LEADER, t2).username == "leader1"
        assert services.responsible_at(grid, AssignmentRole.DEPUTY, t2) is None
        assert [g.code for g in services.grids_of_user(session, users["leader1"])] == ["A01"]
        assert services.assign(session, grid, users["leader1"], AssignmentRole.LEADER, actor=None) is None
        with pytest.raises(DomainError):
            services.assign(session, grid, users["leader1"], AssignmentRole.DEPUTY, actor=None)



def test_only_grid_leaders_can_lead(app):
    plain = helpers.make_user(app, "plain", roles=("staff",))
    builders.make_site(app, grids=builders.two_by_two())
    with app.app_context(), job_transaction() as session:
        grid = session.scalar(sa.select(Grid).where(Grid.code == "A01"))
        user = session.get(User, plain.id)
        with pytest.raises(DomainError):
            services.assign(session, grid, user, AssignmentRole.LEADER, actor=None)
    assert _counts(app)["GridAssignment"] == 0


def test_database_allows_one_open_leader_per_grid(app, leaders):
    """The partial unique index backs the rule even if a bug bypassed the service."""
    builders.make_site(app, grids=builders.two_by_two(A01={"leader": "leader0"}))
    with app.app_context():
        grid_id = db.session.scalar(sa.select(Grid.id).where(Grid.code == "A01"))
        db.session.add(GridAssignment(grid_id=grid_id, user_id=leaders[1].id, role="leader",
                                      effective_from=dt.datetime.now(dt.timezone.utc)))
        with pytest.raises(sa.exc.IntegrityError):
            db.session.flush()
        db.session.rollback()


def test_locate_inside_on_shared_edge_and_outside(app):
    builders.make_site(app, grids=builders.two_by_two())
    with app.app_context():
        site = services.get_site(db.session, "TEST")
        inside = services.locate(db.session, site, builders.LON0 + 0.0015, builders.LAT0 - 0.0005)
        assert inside.inside and inside.grid.code == "A02"
        edge = services.locate(db.session, site, builders.LON0 + builders.STEP, builders.LAT0 - 0.0005)
        assert edge.grid.code == "A01"  # shared edge of A01|A02: the lower code wins
        corner = services.locate(db.session, site, builders.LON0 + builders.STEP, builders.LAT0 - builders.STEP)
        assert corner.grid.code == "A01"  # the corner of all four
        outside = services.locate(db.session, site, builders.LON0 + 0.003, builders.LAT0 - 0.0005)
        assert not outside.inside and outside.nearest.code == "A02"
        assert outside.distance_m == pytest.approx(96.2, abs=1.0)
        with pytest.raises(DomainError):
            services.locate(db.session, site, 120.15, 120.28)


def test_locator_cache_follows_imports(app):
    builders.make_site(app, grids=builders.two_by_two())
    point = (builders.LON0 + 0.0025, builders.LAT0 - 0.0005)
    with app.app_context():
        assert not services.locate(db.session, services.get_site(db.session, "TEST"), *point).inside
    _import(app, builders.collection(builders.feature("A05", builders.cell(2, 0))))
    with app.app_context():
        assert services.locate(db.session, services.get_site(db.session, "TEST"), *point).grid.code == "A05"


def test_checkpoint_must_lie_inside_its_grid(app):
    builders.make_site(app, grids=builders.two_by_two())
    with app.app_context(), job_transaction() as session:
        grid = session.scalar(sa.select(Grid).where(Grid.code == "A01"))
        services.add_checkpoint(session, grid, code="A01-01", name="配电柜", lon=120.1505, lat=30.2795, actor=None)
        for bad in ({"lon": 120.1515, "lat": 30.2795}, {"lon": 120.1505, "lat": 30.2795}):
            with pytest.raises(DomainError):
                services.add_checkpoint(session, grid, code="A01-01" if bad["lon"] < 120.151 else "A01-02",
                                        name="x", actor=None, **bad)
    assert _counts(app)["Checkpoint"] == 1


def test_site_codes_and_time_zones_are_checked(app):
    with app.app_context(), job_transaction() as session:
        for kwargs in ({"code": "bad code!"}, {"code": "OK", "timezone": "Mars/Base"}):
            with pytest.raises(DomainError):
                services.create_site(session, name="x", **{"code": "OK", **kwargs})
