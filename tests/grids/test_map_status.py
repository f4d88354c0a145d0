"""The map coloured by status: red overdue, amber attention, grey uncovered, green ok, and the no-leader mark,
from facts the patrols and issues domains register with grids (grids/status.py), on the page's SVG."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.grids import services as grid_services
from gridpatrol.grids import status
from gridpatrol.grids.models import Site
from tests import helpers
from tests.grids import map_world

NOW = map_world.NOW



def _statuses(app, grids, now=NOW):
    with app.app_context():
        site = db.session.scalar(sa.select(Site))
        found = status.statuses(db.session, site, list(grids.values()), now)
        by_id = {v: k for k, v in grids.items()}
        return {by_id[grid_id]: s.value for grid_id, s in found.items()}


def _svg_statuses(html: str) -> dict[str, str]:
    """code → the status class of its shape on the map."""
    out = {}
    for code, classes in re.findall(r'<a class="grid-link" href="[^"]+" data-code="([^"]+)" data-status="[^"]+">'
                                    r'<title>[^<]*</title><path class="([^"]+)"', html):
        out[code] = classes
    return out


def _client(app, username):
    client = app.test_client()
    helpers.login(client, helpers.Credentials(0, username, helpers.DEFAULT_PASSWORD))
    return client


def test_each_grid_gets_the_colour_its_facts_give(app, status_world):
    assert _statuses(app, status_world) == map_world.EXPECTED


def test_the_map_page_paints_the_statuses_and_marks_the_grid_without_a_leader(app, status_world):
    html = _client(app, "clerk").get("/s/TEST/map").get_data(as_text=True)
    classes = _svg_statuses(html)
    assert set(classes) == set(map_world.CODES)
    for code, expected in map_world.EXPECTED.items():
        assert f"status-{expected}" in classes[code].split(), (code, classes[code])
        assert ("no-leader" in classes[code].split()) == (code == "A06")
    # The legend says the rule, in Chinese words once translated; here the rule's rows, with counts of this level.
    legend = re.search(r'<ul class="legend map-legend" data-legend>(.*?)</ul>', html, re.S).group(1)
    assert [s for s in re.findall(r'<li data-status="([a-z]+)">', legend)] == [r.status.value for r in status.RULES]
    assert re.search(r'data-status="uncovered">.*?\(2\)', legend, re.S)
    assert "7" in re.search(r'data-status="uncovered">(.*?)</li>', legend, re.S).group(1)


def test_the_grid_page_map_is_coloured_too(app, status_world):
    html = _client(app, "boss").get(f"/s/TEST/grids/{status_world['A05']}").get_data(as_text=True)
    classes = _svg_statuses(html)
    assert "status-ok" in classes["A05"].split() and "selected" in classes["A05"].split()
    assert "status-overdue" in classes["A01"].split()
    assert 'data-grid-status="ok"' in html


def test_the_site_says_when_a_grid_is_uncovered(app, status_world):
    with app.app_context(), job_transaction() as session:
        site = session.scalar(sa.select(Site))
        grid_services.set_uncovered_after_days(session, site, 14, actor=None)
    found = _statuses(app, status_world)
    assert found["A04"] == "ok"  # patrolled 10 days ago: covered when N = 14
    assert found["A06"] == "uncovered"
    with app.app_context(), job_transaction() as session:
        site = session.scalar(sa.select(Site))
        with pytest.raises(Exception, match="365"):
            grid_services.set_uncovered_after_days(session, site, 0, actor=None)


def test_the_cli_sets_the_days(app, status_world):
    result = helpers.run_cli(app, ["sites", "set", "TEST", "--uncovered-after-days", "3"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalar(sa.select(Site.uncovered_after_days)) == 3
    assert helpers.run_cli(app, ["sites", "set", "TEST", "--uncovered-after-days", "400"]).exit_code != 0
    assert helpers.run_cli(app, ["sites", "set", "NOPE", "--uncovered-after-days", "3"]).exit_code != 0


def test_an_issue_is_amber_until_its_deadline_passes(app, status_world):
    """The day A01's issue was dispatched it was open, not overdue: amber then, red now."""
    assert _statuses(app, status_world, NOW - dt.timedelta(days=10) + dt.timedelta(minutes=1))["A01"] == "attention"
    assert _statuses(app, status_world)["A01"] == "overdue"


def test_facts_are_read_in_a_few_queries_whatever_the_number_of_grids(app, status_world):
    with app.app_context():
        site = db.session.scalar(sa.select(Site))
        with helpers.statements_run(db.engine) as statements:
            status.statuses(db.session, site, list(status_world.values()), NOW)
    assert len(statements) == 2  # one grouped query per provider (patrols, issues), not one per grid
