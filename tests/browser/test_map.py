"""The map on a tablet and a monitor: grids in their status colours with the legend, a tap (on a grid, on its
label, or on the label outside a small grid) opens the grid, no sideways scrolling, no CSP violation."""

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
    # Tap the grid's code, as a finger would: inside the grid it lets the tap through to the grid; outside a
    # small grid it is a link to it.
    box = page.locator(f'[data-label-for="{code}"] text.grid-code').bounding_box()
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

    # A narrow grid (a road between two blocks) carries its code outside, joined by a line: a tap on it opens it.
    page.goto(live_server.url + "/s/DHXZ/map")
    outside = page.locator("a.grid-label-link text.grid-code.outside").evaluate_all(
        "texts => texts.map(t => t.textContent)")
    assert outside, "the demo compound's narrow grids are labelled outside"
    _tap_grid(page, outside[0])
    page.wait_for_url(re.compile(r"/grids/\d+$"))
    assert page.locator("h1").inner_text().startswith(outside[0])
    assert not record.console_errors and not record.csp_violations and not record.bad_responses


@pytest.fixture
def status_world(app):
    import time

    from gridpatrol.core.time import day_bounds, local_day, utcnow
    from tests.grids import map_world

    # The live server runs on the real clock, and A03's patrol of today (00:00, one minute, no grace) is missed
    # only from 00:01 local time: in the first two minutes of the site's day, wait until it is.
    now = utcnow()
    since_midnight = (now - day_bounds(local_day(now, map_world.TZ), map_world.TZ)[0]).total_seconds()
    if since_midnight < 120:
        time.sleep(120 - since_midnight)
    return map_world.build(app, utcnow())


_FILLS = """() => Object.fromEntries([...document.querySelectorAll('a.grid-link')].map(a =>
  [a.dataset.code, {status: a.dataset.status, fill: getComputedStyle(a.querySelector('path.grid')).fill}]))"""
_SWATCHES = """() => Object.fromEntries([...document.querySelectorAll('.map-legend li[data-status]')].map(li =>
  [li.dataset.status, getComputedStyle(li.querySelector('.swatch')).backgroundColor]))"""


@pytest.mark.parametrize("viewport", [{"width": 768, "height": 1024}, {"width": 1920, "height": 1080}],
                         ids=["tablet", "monitor"])
def test_the_map_shows_each_grids_status_in_colour(status_world, live_server, new_tablet_page, viewport):
    from tests.grids import map_world

    page, record = new_tablet_page(viewport)
    page.goto(live_server.url + "/login")
    page.fill("input[name=username]", "boss")
    page.fill("input[name=password]", "patrol2026!")
    page.click(LOGIN_SUBMIT)
    page.wait_for_load_state()
    page.goto(live_server.url + "/s/TEST/map")
    grids = page.evaluate(_FILLS)
    assert {code: g["status"] for code, g in grids.items()} == map_world.EXPECTED
    fills = {}
    for code, g in grids.items():
        fills.setdefault(g["status"], set()).add(g["fill"])
    assert all(len(f) == 1 for f in fills.values()), fills  # one colour per status
    assert len({f.pop() for f in fills.values()}) == 4  # and four different colours for the four statuses
    # The legend: one row per status of the rule, its swatch in the same colour as the grids of that status.
    swatches = page.evaluate(_SWATCHES)
    assert list(swatches) == ["overdue", "attention", "uncovered", "ok"]
    for code, g in grids.items():
        assert swatches[g["status"]] == g["fill"], code
    assert page.locator(".map-legend .swatch.no-leader").count() == 1
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the page scrolls sideways at {viewport}: {width}"
    page.screenshot(path=f"/tmp/gridpatrol-map-status-{viewport['width']}.png", full_page=True)

    _tap_grid(page, "A01")
    page.wait_for_url(re.compile(r"/grids/\d+$"))
    assert page.locator("h1").inner_text().startswith("A01")
    assert page.locator("[data-section=issues]").count() == 1
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the grid page scrolls sideways at {viewport}: {width}"
    assert not record.console_errors and not record.csp_violations and not record.bad_responses
