"""The app on a tablet: a real headless Chromium against the real app under gunicorn, at 768×1024 and 1024×768.

Expected Chinese strings come from the message catalog (not hard-coded), and a string the catalog leaves
untranslated is reported as such, so these tests follow the catalog as it is completed.
"""

from __future__ import annotations

import re

import shutil
import struct

import pytest
from playwright.sync_api import Page

from tests import helpers
from tests.browser.conftest import LANDSCAPE, PORTRAIT

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TAP = 44  # px: the smallest touch target the app promises (see app.css)
LOGIN_FORM = "main form:has(input[name=password])"
LOGIN_SUBMIT = LOGIN_FORM + " button[type=submit]"
LOGOUT_BUTTON = ".topbar-tools form:not(.language-form) button[type=submit]"
SWITCH_TO = ".language-form button[name=locale][value={}]"


# --- helpers ------------------------------------------------------------------------------------------
def translate(app, locale: str, msgid: str, **variables) -> str:
    from flask_babel import force_locale, gettext

    with app.test_request_context(), force_locale(locale):
        return gettext(msgid, **variables)


class Catalog:
    """Chinese strings from the catalog; remembers msgids it has no Chinese for."""

    def __init__(self, app):
        self.app = app
        self.untranslated: list[str] = []

    def zh(self, msgid: str, **variables) -> str:
        text = translate(self.app, "zh", msgid, **variables)
        if text == translate(self.app, "en", msgid, **variables) and msgid not in self.untranslated:
            self.untranslated.append(msgid)
        return text

    def assert_complete(self) -> None:
        assert not self.untranslated, (
            "the Chinese catalog (gridpatrol/translations/zh) has no translation for: "
            + ", ".join(repr(m) for m in self.untranslated)
        )


def html_lang(page: Page) -> str:
    return page.locator("html").get_attribute("lang")


def heading(page: Page) -> str:
    return page.locator("main h1").inner_text().strip()


def log_in(page: Page, server, creds: helpers.Credentials) -> None:
    """Through the real login form, as a person would: from /login to the home page."""
    if not page.url.startswith(server.url + "/login"):
        page.goto(server.url + "/login")
    page.locator(LOGIN_FORM + " input[name=username]").fill(creds.username)
    page.locator(LOGIN_FORM + " input[name=password]").fill(creds.password)
    with page.expect_navigation():
        page.locator(LOGIN_SUBMIT).tap()
    # The home page: its site's (/s/<code>/), or the bare one of an installation without a site yet.
    assert re.fullmatch(re.escape(server.url) + r"/(s/[A-Z0-9_-]+/)?", page.url), \
        f"login did not land on the home page but on {page.url}"


def switch_language(page: Page, locale: str) -> None:
    button = page.locator(SWITCH_TO.format(locale))
    assert button.is_visible(), f"no visible language button for {locale!r} in the header"
    with page.expect_navigation():
        button.tap()


def log_out(page: Page, server) -> None:
    with page.expect_navigation():
        page.locator(LOGOUT_BUTTON).tap()
    page.wait_for_url(server.url + "/login*")


# Everything a finger may need to hit, with its size and a selector-like description for the report.
_MEASURE_JS = """
() => {
  const describe = (el) => {
    const parts = [];
    for (let node = el; node && node !== document.body; node = node.parentElement) {
      let part = node.tagName.toLowerCase();
      if (node.id) part += "#" + node.id;
      else if (node.classList.length) part += "." + Array.from(node.classList).join(".");
      if (node === el) {
        for (const attr of ["type", "name", "value"]) {
          if (node.hasAttribute(attr) && !(attr === "value" && node.tagName === "INPUT" && node.type !== "submit"))
            part += "[" + attr + "=" + node.getAttribute(attr) + "]";
        }
      }
      parts.unshift(part);
    }
    return parts.join(" > ");
  };
  const elements = [];
  for (const el of document.querySelectorAll("a, button, input, select")) {
    const r = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (!el.getClientRects().length || style.visibility === "hidden" || r.width === 0 || r.height === 0) continue;
    elements.push({selector: describe(el), tag: el.tagName.toLowerCase(),
                   text: (el.innerText || el.value || el.getAttribute("aria-label") || "").trim().slice(0, 40),
                   left: r.left, right: r.right, width: r.width, height: r.height});
  }
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth, elements};
}
"""


def layout_problems(page: Page, where: str) -> list[str]:
    """Horizontal scrolling, touch targets under 44 px, controls outside the viewport — each as a line."""
    found = page.evaluate(_MEASURE_JS)
    problems = []
    if found["scrollWidth"] > found["innerWidth"]:
        problems.append(f"{where}: page scrolls sideways: documentElement.scrollWidth {found['scrollWidth']}px "
                        f"> innerWidth {found['innerWidth']}px (by {found['scrollWidth'] - found['innerWidth']}px)")
    for el in found["elements"]:
        size = f"{el['width']:.1f}×{el['height']:.1f}px"
        label = f"{where}: {el['selector']} ({el['text']!r}, {size})"
        if el["height"] < TAP - 0.01:
            problems.append(f"{label}: height {el['height']:.1f}px < {TAP}px (short by {TAP - el['height']:.1f}px)")
        if el["tag"] == "button" and el["width"] < TAP - 0.01:
            problems.append(f"{label}: width {el['width']:.1f}px < {TAP}px (short by {TAP - el['width']:.1f}px)")
        if el["left"] < -0.5 or el["right"] > found["innerWidth"] + 0.5:
            problems.append(f"{label}: outside the viewport horizontally (left {el['left']:.1f}px, "
                            f"right {el['right']:.1f}px, viewport {found['innerWidth']}px)")
    return problems


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


# --- 1. language: Chinese by default, English on request, remembered on the user ------------------------
def test_grid_leader_switches_to_english_and_it_is_remembered(app, live_server, new_tablet_page):
    from gridpatrol.accounts.models import User
    from gridpatrol.extensions import db

    name = "王网格"
    leader = helpers.make_user(app, "leader1", roles=("grid_leader",), display_name=name)
    catalog = Catalog(app)
    page, record = new_tablet_page(PORTRAIT)

    # The browser asks for en-US; the compound's default is Chinese all the same.
    page.goto(live_server.url + "/login")
    assert html_lang(page) == "zh-CN"
    assert heading(page) == catalog.zh("Log in")
    assert page.locator(LOGIN_SUBMIT).inner_text().strip() == catalog.zh("Log in")

    log_in(page, live_server, leader)
    assert html_lang(page) == "zh-CN"
    welcome = heading(page)
    assert name in welcome
    assert welcome == catalog.zh("Welcome, %(name)s", name=name)
    assert page.locator(SWITCH_TO.format("en")).inner_text().strip() == "English"
    assert page.locator(SWITCH_TO.format("zh")).count() == 0, "the button for the current language is shown"

    # Switch to English with the header button: back on the same page, in English.
    here = page.url
    switch_language(page, "en")
    assert page.url == here
    assert html_lang(page) == "en"
    assert heading(page) == f"Welcome, {name}"
    assert page.locator(SWITCH_TO.format("zh")).inner_text().strip() == "中文"
    assert page.locator(SWITCH_TO.format("en")).count() == 0
    with app.app_context():
        assert db.session.get(User, leader.id).locale == "en", "the choice was not stored on the user"
        db.session.remove()

    page.reload()
    assert html_lang(page) == "en"
    assert heading(page) == f"Welcome, {name}"

    # Out and in again: still English.
    log_out(page, live_server)
    log_in(page, live_server, leader)
    assert html_lang(page) == "en"
    assert heading(page) == f"Welcome, {name}"

    # Another tablet, no cookies from before: Chinese until the leader logs in, then their English.
    other, other_record = new_tablet_page(PORTRAIT)
    other.goto(live_server.url + "/login")
    assert html_lang(other) == "zh-CN"
    log_in(other, live_server, leader)
    assert html_lang(other) == "en"
    assert heading(other) == f"Welcome, {name}"

    for rec in (record, other_record):
        assert not rec.console_errors and not rec.page_errors, rec
    catalog.assert_complete()


# --- 2. layout: no sideways scrolling, 44 px targets, the menu folds in portrait -----------------------
@pytest.mark.parametrize("viewport", [PORTRAIT, LANDSCAPE], ids=["portrait-768x1024", "landscape-1024x768"])
def test_layout_fits_the_tablet(app, live_server, new_tablet_page, viewport):
    admin = helpers.make_user(app, "admin1", roles=("admin",), display_name="系统管理员")
    page, record = new_tablet_page(viewport)
    size = f"{viewport['width']}x{viewport['height']}"
    problems: list[str] = []

    page.goto(live_server.url + "/login")
    assert page.viewport_size == viewport
    assert page.evaluate("window.innerWidth") == viewport["width"]
    problems += layout_problems(page, f"{size} login (zh)")
    assert page.locator(".nav-toggle").count() == 0, "the login page shows a menu button without a menu"

    log_in(page, live_server, admin)
    problems += layout_problems(page, f"{size} home (zh, admin)")

    toggle = page.locator(".nav-toggle")
    nav = page.locator("#main-nav")
    links = nav.locator("a")
    assert links.count() >= 4, "an admin should see at least Home, Users, Teams and Audit log"
    if viewport["width"] <= 820:
        # Portrait: the menu is folded behind the button and opens (and closes) on a tap.
        assert toggle.is_visible(), "no visible .nav-toggle in portrait"
        assert toggle.get_attribute("aria-expanded") == "false"
        assert not nav.is_visible(), "#main-nav is not folded away in portrait"
        toggle.tap()
        assert toggle.get_attribute("aria-expanded") == "true"
        assert nav.is_visible(), "#main-nav did not open on tapping .nav-toggle"
        hidden = [links.nth(i).inner_text() for i in range(links.count()) if not links.nth(i).is_visible()]
        assert not hidden, f"menu entries still hidden after opening: {hidden}"
        problems += layout_problems(page, f"{size} home (zh, admin, menu open)")
        toggle.tap()
        assert toggle.get_attribute("aria-expanded") == "false"
        assert not nav.is_visible(), "#main-nav did not close on a second tap"
    else:
        # Landscape: the menu is simply there.
        assert not toggle.is_visible(), ".nav-toggle is shown in landscape"
        assert nav.is_visible()
        hidden = [links.nth(i).inner_text() for i in range(links.count()) if not links.nth(i).is_visible()]
        assert not hidden, f"menu entries hidden in landscape: {hidden}"

    # English labels are longer than Chinese ones: the same checks in English.
    switch_language(page, "en")
    assert html_lang(page) == "en"
    if viewport["width"] <= 820:
        toggle.tap()
        assert nav.is_visible()
        problems += layout_problems(page, f"{size} home (en, admin, menu open)")
    else:
        problems += layout_problems(page, f"{size} home (en, admin)")

    assert not problems, "layout problems:\n" + "\n".join(problems)
    assert not record.console_errors and not record.page_errors, record


# --- 3. nothing leaves the origin; no console errors, no CSP violations --------------------------------
def test_every_request_stays_on_the_server_and_the_console_is_clean(app, live_server, tablet):
    page, record = tablet
    leader = helpers.make_user(app, "leader1", roles=("grid_leader",), display_name="王网格")
    origin = live_server.url + "/"

    page.goto(live_server.url + "/login")
    page.wait_for_load_state("networkidle")
    log_in(page, live_server, leader)
    page.wait_for_load_state("networkidle")
    switch_language(page, "en")
    page.wait_for_load_state("networkidle")

    assert record.requests, "no requests recorded"
    assert any("/static/css/app.css" in url for url in record.requests), record.requests
    assert any("/static/js/app.js" in url for url in record.requests), record.requests
    foreign = [url for url in record.requests if not url.startswith(origin)]
    assert not foreign, f"requests that leave {origin}: {foreign}"
    assert not record.failed, f"failed requests: {record.failed}"
    assert not record.bad_responses, f"error responses: {record.bad_responses}"
    assert not record.csp_violations, f"CSP violations: {record.csp_violations}"
    assert not record.console_errors, f"console errors: {record.console_errors}"
    assert not record.page_errors, f"uncaught script errors: {record.page_errors}"
    # app.js ran (the CSP let it): it marks the document.
    assert "js" in (page.locator("html").get_attribute("class") or "").split()


# --- 4. screenshots for people to look at (no pixel assertions) ----------------------------------------
def test_screenshots_of_the_chinese_pages(app, live_server, tablet, tmp_path):
    page, record = tablet
    admin = helpers.make_user(app, "admin1", roles=("admin",), display_name="系统管理员")

    page.goto(live_server.url + "/login")
    assert html_lang(page) == "zh-CN"
    login_png = tmp_path / "gridpatrol-login-zh.png"
    page.screenshot(path=str(login_png), full_page=True)

    log_in(page, live_server, admin)
    assert html_lang(page) == "zh-CN"
    assert "系统管理员" in heading(page)
    home_png = tmp_path / "gridpatrol-home-zh.png"
    page.screenshot(path=str(home_png), full_page=True)

    for png in (login_png, home_png):
        width, height = png_size(png)
        assert width == PORTRAIT["width"] and height >= PORTRAIT["height"], (png, width, height)
        shutil.copyfile(png, f"/tmp/{png.name}")
    assert not record.console_errors and not record.page_errors, record
