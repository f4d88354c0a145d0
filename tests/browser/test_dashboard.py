"""The supervisor's dashboard in Chromium, in Chinese, on a 1920×1080 monitor and a 768×1024 tablet: nothing wider
than the screen, every chart drawn on its canvas (pixels, not a blank), no CSP violation, no console error."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from tests import helpers
from tests.browser.test_tablet import LOGIN_SUBMIT
from tests.dashboard import builders

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MONITOR = {"width": 1920, "height": 1080}
TABLET = {"width": 768, "height": 1024}

# Pixels of each chart canvas that are painted (not transparent and not white): a chart with its axes, labels and
# series paints thousands; a blank canvas none.
_PAINTED = """
() => Array.from(document.querySelectorAll('[data-chart] canvas')).map(canvas => {
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0, coloured = 0;
  for (let i = 0; i < data.length; i += 4) {
    const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
    if (a > 0 && !(r > 245 && g > 245 && b > 245)) {
      painted++;
      if (Math.max(r, g, b) - Math.min(r, g, b) > 60) coloured++;  // series colours, not grey axes
    }
  }
  return {painted, coloured, width: canvas.width, height: canvas.height};
})
"""


@pytest.fixture
def history_until_now(app):
    now = dt.datetime.now(builders.SHANGHAI)
    return builders.build(app, history_from=now.date() - dt.timedelta(days=95), now=now)


def _log_in(page, server, username):
    page.goto(server.url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", helpers.DEFAULT_PASSWORD)
    page.click(LOGIN_SUBMIT)
    page.wait_for_url(re.compile(re.escape(server.url) + r"/s/TEST/dashboard$"))


@pytest.mark.parametrize("viewport, name", [(MONITOR, "monitor"), (TABLET, "tablet")])
def test_the_dashboard_fits_the_screen_and_draws_every_chart(history_until_now, live_server, new_tablet_page,
                                                             viewport, name):
    page, record = new_tablet_page(viewport)
    _log_in(page, live_server, "boss_t")  # a supervisor's home is the site's dashboard
    page.wait_for_function("document.querySelectorAll('[data-chart][data-drawn=true] canvas').length === 3")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    text = page.locator("main").inner_text()
    assert "结案率" in text and "按期结案率" in text and "待受理" in text and "待复核" in text
    assert page.evaluate("document.documentElement.scrollWidth") <= page.evaluate("window.innerWidth")
    charts = page.evaluate(_PAINTED)
    assert len(charts) == 3
    for chart in charts:
        assert chart["width"] > 200 and chart["height"] > 150, chart
        assert chart["painted"] > 2000 and chart["coloured"] > 200, chart
    # every chart's figures are in a table too (read by screen readers; shown without script)
    assert page.locator(".chart-table table").count() == 3
    page.screenshot(path=f"/tmp/gridpatrol-dashboard-{name}.png", full_page=True)
    if viewport is MONITOR:  # one screen: the whole dashboard within the monitor's height (less the browser's bar)
        assert page.evaluate("document.documentElement.scrollHeight") <= 1080
    assert not record.csp_violations, record.csp_violations
    assert not record.console_errors and not record.page_errors and not record.bad_responses, record


def test_the_sites_overview_opens_a_sites_dashboard(history_until_now, live_server, new_tablet_page):
    page, record = new_tablet_page(TABLET)
    page.goto(live_server.url + "/login")
    page.fill("input[name=username]", "province")
    page.fill("input[name=password]", helpers.DEFAULT_PASSWORD)
    page.click(LOGIN_SUBMIT)
    page.wait_for_url(re.compile(re.escape(live_server.url) + r"/dashboard$"))
    assert page.locator("tr[data-site]").count() == 2
    assert page.evaluate("document.documentElement.scrollWidth") <= page.evaluate("window.innerWidth")
    page.locator('tr[data-site="OTHER"] a.row-link').tap()
    page.wait_for_url(re.compile(r"/s/OTHER/dashboard$"))
    page.wait_for_function("document.querySelectorAll('[data-chart][data-drawn=true] canvas').length === 3")
    assert not record.csp_violations and not record.console_errors and not record.bad_responses, record
