"""The demo compound's map on a tablet: tap a grid, land on its page."""

from __future__ import annotations

import re

import pytest

from gridpatrol.core.transaction import job_transaction
from gridpatrol.demo import services as demo
from tests.browser.test_tablet import LOGIN_SUBMIT

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def demo_compound(app):
    with app.app_context(), job_transaction() as session:
        demo.load_demo(session)


def _log_in(page, server, username):
    page.goto(server.url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", demo.DEMO_PASSWORD)
    page.click(LOGIN_SUBMIT)
    page.wait_for_url(re.compile(re.escape(server.url) + r"/s/[A-Z0-9_-]+/$"))


def _tap_grid(page, code: str) -> None:
    # The label sits at a point on the grid's surface (shapely point_on_surface): tap there, as a finger would.
    box = page.locator(f'a.grid-link[data-code="{code}"] text').bounding_box()
    assert box, f"grid {code} is not on the map"
    page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def test_tap_a_grid_on_the_map_opens_its_page(demo_compound, live_server, tablet):
    page, record = tablet
    _log_in(page, live_server, "zhigong")
    page.goto(live_server.url + "/s/DHXZ/map")
    assert re.search(r"/s/DHXZ/map$", page.url)
    assert page.locator("a.grid-link").count() >= 20  # outdoor grids of the demo compound
    page.screenshot(path="/tmp/gridpatrol-map-zh.png", full_page=True)

    _tap_grid(page, "A11")  # 北广场
    page.wait_for_url(re.compile(r"/grids/\d+$"))
    assert page.locator("h1").inner_text().startswith("A11")
    assert "北广场" in page.locator("h1").inner_text()

    # Upper floors: the level tabs switch the map, and a tap there opens that floor's grid.
    page.goto(live_server.url + "/s/DHXZ/map?level=3")
    codes = page.locator("a.grid-link").evaluate_all("links => links.map(a => a.dataset.code)")
    assert set(codes) == {"A15", "A23", "A24", "A30"}
    _tap_grid(page, "A23")
    page.wait_for_url(re.compile(r"/grids/\d+$"))
    assert page.locator("h1").inner_text().startswith("A23")
    assert not record.console_errors and not record.csp_violations and not record.bad_responses
