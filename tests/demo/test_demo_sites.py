"""The demo installation holds two sites, so a newcomer sees the site model: the 49-grid compound and a small
annex with its own leaders and supervisor, a provincial supervisor over both, and contractors serving both."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from gridpatrol.accounts.models import Team, User
from gridpatrol.core.roles import Role
from gridpatrol.core.transaction import job_transaction
from gridpatrol.demo import services as demo
from gridpatrol.extensions import db
from gridpatrol.grids.models import Grid, Site
from gridpatrol.patrols.models import PatrolPlan
from tests import helpers


@pytest.fixture
def demo_world(app):
    with app.app_context(), job_transaction() as session:
        demo.load_demo(session)


def _client(app, username):
    client = app.test_client()
    assert helpers.login(client, helpers.Credentials(0, username, demo.DEMO_PASSWORD)).status_code == 302
    return client


def test_two_sites_with_their_own_grids_plans_and_people(app, demo_world):
    with app.app_context():
        sites = {s.code: s for s in db.session.scalars(sa.select(Site))}
        assert set(sites) == {demo.MAIN_SITE, demo.ANNEX_SITE}
        grids = dict(db.session.execute(sa.select(Site.code, sa.func.count(Grid.id)).join(Grid)
                                        .group_by(Site.code)).all())
        assert grids == {demo.MAIN_SITE: 49, demo.ANNEX_SITE: 5}
        annex = sites[demo.ANNEX_SITE]
        annex_grids = db.session.scalars(sa.select(Grid).where(Grid.site_id == annex.id)).all()
        assert all(g.leader is not None for g in annex_grids), "every annex grid has its leader"
        assert {g.leader.username for g in annex_grids} == {"sishui01", "sishui02"}
        plans = dict(db.session.execute(sa.select(Site.code, sa.func.count(PatrolPlan.id)).join(PatrolPlan)
                                        .group_by(Site.code)).all())
        assert plans[demo.ANNEX_SITE] >= 1 and plans[demo.MAIN_SITE] >= 3

        def grants(username):
            user = db.session.scalar(sa.select(User).where(User.username == username))
            return {(r.role, r.site_id) for r in user.role_rows}

        assert grants("zhuguan") == {("supervisor", sites[demo.MAIN_SITE].id)}
        assert grants("sishui") == {("supervisor", annex.id)}
        assert grants("shengji") == {("supervisor", None)}
        assert grants("weixiu") == {("rectifier", None)}
        leaders_at_main = db.session.scalar(sa.select(User).join(User.role_rows).where(User.username == "caiyun"))
        assert {(r.role, r.site_id) for r in leaders_at_main.role_rows} == {
            ("grid_leader", sites[demo.MAIN_SITE].id), ("staff", sites[demo.MAIN_SITE].id)}
        for team in db.session.scalars(sa.select(Team)):
            assert any(m.active and m.has_role(Role.RECTIFIER) for m in team.members), f"{team.name} has nobody"


def test_each_supervisor_keeps_to_their_site_and_the_province_sees_both(app, demo_world):
    annex = _client(app, "sishui")
    assert annex.get("/").headers["Location"].endswith(f"/s/{demo.ANNEX_SITE}/")
    assert annex.get(f"/s/{demo.ANNEX_SITE}/plans").status_code == 200
    assert annex.get(f"/s/{demo.MAIN_SITE}/plans").status_code == 403
    assert _client(app, "zhuguan").get(f"/s/{demo.ANNEX_SITE}/issues").status_code == 403
    province = _client(app, "shengji")
    for code in (demo.MAIN_SITE, demo.ANNEX_SITE):
        page = province.get(f"/s/{code}/grids").get_data(as_text=True)
        assert "site-switch" in page, "a supervisor of several sites can switch between them"
    leader = _client(app, "sishui01")
    today = leader.get(f"/s/{demo.ANNEX_SITE}/today")
    assert today.status_code == 200 and "site-switch" not in today.get_data(as_text=True)
