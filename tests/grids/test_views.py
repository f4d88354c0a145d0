"""Grid pages, the upload page, the locate endpoint and the grids CLI, with who may use what."""

import io
import json

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from gridpatrol.accounts.models import User
from gridpatrol.audit import services as audit
from gridpatrol.cli import main
from gridpatrol.extensions import db
from gridpatrol.grids import qr
from gridpatrol.grids.models import Checkpoint, Grid
from tests import helpers
from tests.grids import builders


@pytest.fixture
def site(app):
    helpers.make_user(app, "leader0", roles=("grid_leader", "staff"))
    helpers.make_user(app, "leader1", roles=("grid_leader", "staff"))
    builders.make_site(app, grids=builders.two_by_two(A01={"leader": "leader0"}, A02={"leader": "leader1"}))
    with app.app_context():
        grid = db.session.scalar(sa.select(Grid).where(Grid.code == "A01"))
        db.session.add(Checkpoint(grid_id=grid.id, code="A01-01", name="配电柜", lon=120.1505, lat=30.2795))
        db.session.commit()
        return {g.code: g.id for g in db.session.scalars(sa.select(Grid))}


def _login(app, username, roles=("staff",)):
    creds = helpers.make_user(app, username, roles=roles)
    client = app.test_client()
    helpers.login(client, creds)
    return client


def _leader_client(app, username):
    client = app.test_client()
    helpers.login(client, helpers.Credentials(0, username, helpers.DEFAULT_PASSWORD))
    return client


def test_map_shows_every_grid_as_a_link(app, site):
    client = _login(app, "someone")
    html = client.get("/s/TEST/map").get_data(as_text=True)
    for code, grid_id in site.items():
        assert f'href="/s/TEST/grids/{grid_id}"' in html and f'data-code="{code}"' in html
    assert html.count("no-leader") >= 2  # A03 and A04 have no leader: flagged on the map


def test_grid_list_flags_missing_leaders(app, site):
    html = _login(app, "someone").get("/s/TEST/grids").get_data(as_text=True)
    assert "A01" in html and "Leader0" in html
    assert html.count("badge-warn") == 2


def test_grid_detail_shows_the_four_fixes(app, site):
    html = _login(app, "someone").get(f"/s/TEST/grids/{site['A01']}").get_data(as_text=True)
    assert "Leader0" in html and "A01-01" in html and "配电柜" in html


def test_missing_grid_and_site_are_404(app, site):
    client = _login(app, "someone")
    assert client.get("/s/TEST/grids/99999").status_code == 404
    assert client.get("/s/NOPE/map").status_code == 404


def test_posters_for_the_own_grid_only(app, site):
    own = _leader_client(app, "leader0")
    response = own.get(f"/s/TEST/grids/{site['A01']}/posters")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "GP1.TEST." in html and "<svg" in html
    other = _leader_client(app, "leader1")
    assert other.get(f"/s/TEST/grids/{site['A01']}/posters").status_code == 403
    assert [d.actor_name for d in helpers.audit_actions(app, audit.PERMISSION_DENIED)] == ["leader1"]
    supervisor = _login(app, "boss", roles=("supervisor",))
    assert supervisor.get(f"/s/TEST/grids/{site['A01']}/posters").status_code == 200


def test_poster_payload_verifies_back_to_the_checkpoint(app, site):
    html = _leader_client(app, "leader0").get(f"/s/TEST/grids/{site['A01']}/posters").get_data(as_text=True)
    import re

    payload = re.search(r"GP1\.[A-Z0-9_-]+\.\d+\.[A-Z2-7]+", html).group(0)
    with app.app_context():
        scan = qr.verify_payload(payload)
        checkpoint = db.session.get(Checkpoint, scan.checkpoint_id)
        assert scan.site_code == "TEST" and checkpoint.code == "A01-01"
        forged = payload[:-1] + ("A" if payload[-1] != "A" else "B")
        with pytest.raises(qr.ForgedCode):
            qr.verify_payload(forged)


@pytest.mark.parametrize("path", ["/admin/sites/TEST/import", "/admin/sites/TEST/export"])
def test_only_admins_import_and_export(app, site, path):
    assert _leader_client(app, "leader0").get(path).status_code == 403


def test_admin_assigns_a_leader_and_history_is_kept(app, site):
    admin = _login(app, "admin1", roles=("admin",))
    with app.app_context():
        leader1 = db.session.scalar(sa.select(User).where(User.username == "leader1"))
    response = helpers.post_form(admin, f"/s/TEST/grids/{site['A01']}/assign",
                                 {"role": "leader", "user_id": str(leader1.id), "note": "轮岗"},
                                 token_from=f"/s/TEST/grids/{site['A01']}")
    assert response.status_code == 302
    with app.app_context():
        grid = db.session.get(Grid, site["A01"])
        assert grid.leader.username == "leader1"
        assert [(a.user.username, a.effective_to is None) for a in grid.assignments] == [
            ("leader0", False), ("leader1", True)]
    assert helpers.audit_actions(app, "grid.leader_assigned")


def test_leader_cannot_assign(app, site):
    client = _leader_client(app, "leader0")
    response = helpers.post_form(client, f"/s/TEST/grids/{site['A02']}/assign", {"role": "leader", "user_id": "1"},
                                 token_from=f"/s/TEST/grids/{site['A02']}")
    assert response.status_code == 403



@pytest.mark.parametrize("features, reasons", [
    # problems in the file itself are all listed together
    ([{"type": "Feature", "geometry": None, "properties": {"code": "Z02", "name": "x"}},
      {"type": "Feature", "geometry": None, "properties": {"name": "y"}}], ["null_geometry", "missing_code"]),
    # a valid file that overlaps a stored grid it does not mention
    ([builders.feature("Z01", builders.cell(0, 0))], ["overlap"]),
])
def test_upload_refusal_lists_problems_and_imports_nothing(app, site, features, reasons):
    admin = _login(app, "admin1", roles=("admin",))
    bad = builders.collection(*features)
    token = helpers.csrf_token(admin, "/admin/sites/TEST/import")
    response = admin.post("/admin/sites/TEST/import", data={
        "csrf_token": token, "file": (io.BytesIO(bad.encode()), "grids.geojson")}, content_type="multipart/form-data")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    for reason in reasons:
        assert f"<code>{reason}</code>" in html
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Grid)) == 4


def test_upload_imports_a_good_file(app, site):
    admin = _login(app, "admin1", roles=("admin",))
    good = builders.collection(builders.feature("A05", builders.cell(2, 0)))
    token = helpers.csrf_token(admin, "/admin/sites/TEST/import")
    response = admin.post("/admin/sites/TEST/import", data={
        "csrf_token": token, "file": (io.BytesIO(good.encode()), "grids.geojson")}, content_type="multipart/form-data")
    assert response.status_code == 200
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Grid)) == 5


def test_locate_is_the_apis(app, site):
    """The page-era /api/sites/<code>/locate is gone: locating is the API's (/api/v1/sites/<site>/locate), with the
    same answer, here for a logged-in browser."""
    client = _login(app, "someone")
    assert client.get("/api/sites/TEST/locate?lon=120.1505&lat=30.2795").status_code == 404
    inside = client.get("/api/v1/sites/TEST/locate?lon=120.1505&lat=30.2795").get_json()
    assert inside["inside"] and inside["grid"]["code"] == "A01" and inside["grid"]["leader"]["username"] == "leader0"
    outside = client.get("/api/v1/sites/TEST/locate?lon=120.1530&lat=30.2795").get_json()
    assert not outside["inside"] and outside["nearest"]["code"] == "A02"
    assert outside["nearest"]["distance_m"] == pytest.approx(96.2, abs=1.0)
    for query in ("lon=abc&lat=1", "lon=120&lat=95"):
        refused = client.get(f"/api/v1/sites/TEST/locate?{query}")
        assert refused.status_code == 422 and refused.mimetype == "application/problem+json"
        assert refused.get_json()["code"] == "invalid_request" and refused.get_json()["detail"]
    assert app.test_client().get("/api/v1/sites/TEST/locate?lon=120.15&lat=30.28").status_code == 401


def _cli(app, args, stdin=None):
    return CliRunner().invoke(main, args, input=stdin, env={"GRIDPATROL_DATABASE_URL": app.config["DATABASE_URL"]})


def test_cli_import_refusal_exits_non_zero(app, site, tmp_path):
    path = tmp_path / "bad.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [')
    result = _cli(app, ["grids", "import", str(path), "--site", "TEST"])
    assert result.exit_code == 1 and "broken_json" in result.output


def test_cli_export_then_import_changes_nothing(app, site, tmp_path):
    out = tmp_path / "grids.geojson"
    assert _cli(app, ["grids", "export", "--site", "TEST", "--out", str(out)]).exit_code == 0
    assert len(json.loads(out.read_text())["features"]) == 4
    result = _cli(app, ["grids", "import", str(out), "--site", "TEST"])
    assert result.exit_code == 0 and "0 created, 0 updated, 4 unchanged" in result.output


def test_cli_locate_single_and_csv(app, site):
    assert _cli(app, ["grids", "locate", "120.1505", "30.2795"]).output.strip() == "A01"
    far = _cli(app, ["grids", "locate", "120.1530", "30.2795"]).output
    assert far.startswith("outside (nearest A02")
    rows = "lon,lat,level\n120.1505,30.2795\n120.1515,30.2785,0\n120.1530,30.2795\n120.1505,30.2795,3\n"
    result = _cli(app, ["grids", "locate", "--csv", "-"], stdin=rows)
    lines = result.output.strip().splitlines()
    assert [line.split(",")[3] for line in lines] == ["A01", "A04", "outside", "outside"]
    assert lines[2].split(",")[4] == "A02"
    bad = _cli(app, ["grids", "locate", "--csv", "-"], stdin="120.15,north\n")
    assert bad.exit_code != 0 and "line 1" in bad.output


def test_refused_category_and_checkpoint_change_nothing(app, site):
    admin = _login(app, "admin1", roles=("admin",))
    page = f"/s/TEST/grids/{site['A01']}"
    response = helpers.post_form(admin, f"{page}/categories", {"categories": ["weather"]}, token_from=page)
    assert response.status_code == 302
    assert "flash flash-error" in admin.get(page).get_data(as_text=True)  # the refusal is explained
    outside = helpers.post_form(admin, f"{page}/checkpoints", {"code": "A01-09", "name": "门口", "lon": "120.1530",
                                                               "lat": "30.2795"}, token_from=page)
    # Refused by the service: the grid page again, with the input kept and the reason beside the field.
    assert outside.status_code == 422
    shown = outside.get_data(as_text=True)
    assert 'value="A01-09"' in shown and 'value="门口"' in shown and "has-error" in shown
    with app.app_context():
        grid = db.session.get(Grid, site["A01"])
        assert grid.categories == [] and [c.code for c in grid.checkpoints] == ["A01-01"]
    assert not helpers.audit_actions(app, "checkpoint.created")


def test_an_admin_sets_the_responsibility_categories_and_others_cannot(app, site):
    """定责任: the categories decide what the grid's patrols check; only an admin changes them, audited."""
    page = f"/s/TEST/grids/{site['A01']}"
    supervisor = _login(app, "boss", roles=("supervisor",))
    token = helpers.csrf_token(supervisor, page)
    refused = supervisor.post(f"{page}/categories", data={"csrf_token": token, "categories": ["greening"]})
    assert refused.status_code == 403
    admin = _login(app, "admin1", roles=("admin",))
    form = admin.get(page).get_data(as_text=True)
    assert 'name="categories"' in form and 'value="fire_safety"' in form
    saved = helpers.post_form(admin, f"{page}/categories", {"categories": ["water_power", "fire_safety"]},
                              token_from=page)
    assert saved.status_code == 302
    with app.app_context():
        assert db.session.get(Grid, site["A01"]).categories == ["fire_safety", "water_power"]
    [event] = helpers.audit_actions(app, "grid.categories_changed")
    assert event.detail == {"grid": "A01", "before": [], "after": ["fire_safety", "water_power"]}
    # Shown on the grid page to everyone who may see it, in words.
    shown = _leader_client(app, "leader0").get(page).get_data(as_text=True)
    assert '<span class="badge">水电</span>' in shown and '<span class="badge">消防安全</span>' in shown
    assert 'name="categories"' not in shown, "a leader sees the categories, not the form"
