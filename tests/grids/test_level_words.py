"""A level has one name everywhere: 室外, n层, B1 for a basement (never "-1层"), from grids/_level_tabs.html."""

import re

from tests import helpers
from tests.grids import builders


def test_a_basement_is_b1_in_the_queue_filter_the_report_tabs_and_the_posters(app):
    grids = builders.collection(builders.feature("A01", builders.cell(0, 0)),
                                builders.feature("A02", builders.cell(1, 0), level=-1, building="主楼"))
    builders.make_site(app, grids=grids)
    supervisor = helpers.make_user(app, "boss", roles=("supervisor",))
    admin = helpers.make_user(app, "root", roles=("admin",))
    client = app.test_client()
    helpers.login(client, supervisor)
    queue = client.get("/s/TEST/issues").get_data(as_text=True)
    assert re.search(r'<option value="-1"[^>]*>B1</option>', queue) and "-1层" not in queue
    report = client.get("/s/TEST/report").get_data(as_text=True)
    assert ">B1</button>" in report and "-1层" not in report
    admin_client = app.test_client()
    helpers.login(admin_client, admin)
    with app.app_context():
        from sqlalchemy import select

        from gridpatrol.extensions import db
        from gridpatrol.grids.models import Grid
        grid_id = db.session.scalar(select(Grid.id).where(Grid.code == "A02"))
    detail = admin_client.get(f"/s/TEST/grids/{grid_id}").get_data(as_text=True)
    assert "主楼 · B1" in detail and "-1层" not in detail
    posters = admin_client.get(f"/s/TEST/grids/{grid_id}/posters")
    assert posters.status_code == 200 and "-1层" not in posters.get_data(as_text=True)
