"""Browser fixtures: one headless Chromium per session, a live gunicorn per test, tablet-sized pages.

The browser is Debian's /usr/bin/chromium driven by Playwright (never a downloaded one). Without it the
browser tests are skipped, except under CI, where they fail. The flags keep Chromium from reaching for the
network (the test machines, like the compound's intranet, have no internet) and from hanging on first-run work.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests import helpers

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
UNDER_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}

PORTRAIT = {"width": 768, "height": 1024}
LANDSCAPE = {"width": 1024, "height": 768}
# The browser asks for English: the app must still answer in Chinese until the user chooses otherwise.
BROWSER_LOCALE = "en-US"
TIMEOUT_MS = 15_000

# Registered before any page script runs; reports every CSP violation to Python (the binding is not
# subject to the page's Content-Security-Policy).
_CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", function (e) {
  window.__gridpatrolCsp(e.violatedDirective + " blocked " + (e.blockedURI || "inline") +
                         " at " + e.sourceFile + ":" + e.lineNumber);
});
"""


@pytest.fixture(scope="session")
def chromium_browser():
    if not CHROMIUM.exists():
        reason = f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)"
        if UNDER_CI:
            pytest.fail("CI must run the browser tests: " + reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


@pytest.fixture
def live_server(database_url, tmp_path):
    """The real app under gunicorn (2 workers) over this test's database."""
    server = helpers.GunicornServer(database_url, tmp_path, workers=2)
    yield server
    server.stop()


@dataclass
class PageRecord:
    """What a browser context did: every request, failed or erroring response, console error, CSP report."""

    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    bad_responses: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)


@pytest.fixture
def new_tablet_page(chromium_browser):
    """Factory: a fresh context (own cookies) and page; returns (page, record). Default: 768×1024 portrait."""
    contexts = []

    def make(viewport: dict | None = None):
        context = chromium_browser.new_context(viewport=viewport or PORTRAIT, locale=BROWSER_LOCALE,
                                               has_touch=True)
        contexts.append(context)
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        record = PageRecord()
        context.expose_function("__gridpatrolCsp", lambda report: record.csp_violations.append(report))
        context.add_init_script(_CSP_LISTENER)
        page = context.new_page()
        page.on("request", lambda request: record.requests.append(request.url))
        # A request the browser itself cancels because the page navigated away (net::ERR_ABORTED) is no error.
        page.on("requestfailed", lambda request: "ERR_ABORTED" not in str(request.failure)
                and record.failed.append(f"{request.url}: {request.failure}"))
        page.on("response", lambda response: response.status >= 400
                and record.bad_responses.append(f"{response.status} {response.url}"))
        page.on("console", lambda message: message.type == "error"
                and record.console_errors.append(f"{message.text} ({message.location})"))
        page.on("pageerror", lambda error: record.page_errors.append(str(error)))
        return page, record

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def tablet(new_tablet_page):
    """A 768×1024 page with its record, for tests that need only one."""
    return new_tablet_page()
