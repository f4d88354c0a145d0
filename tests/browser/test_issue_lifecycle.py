"""One issue's whole life on tablets: 随手拍 → 派单 → 整改 → 核查结案, each person in their own browser.

A staff member taps the problem's place on the quick-report map, picks a category, writes a line and attaches
a photo; a supervisor dispatches it to the maintenance crew; a rectifier starts, then reports the fix with an
after-photo and a note; the grid's leader verifies and closes it. Every step is checked on the page (badge
texts come from the Chinese catalogue, never hard-coded) and in the database; no context may log a console
error, a page error, a CSP violation or an erroring response.
"""

from __future__ import annotations

import random
import re

import pytest
import sqlalchemy as sa
from PIL import Image

from gridpatrol.core import photos as photo_files
from gridpatrol.issues.models import Issue, IssueEvent, IssuePhoto
from tests import helpers
from tests.browser.test_tablet import LOGIN_FORM, LOGIN_SUBMIT, Catalog
from tests.grids.builders import LAT0, LON0, STEP
from tests.issues.builders import world

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENSHOT = "/tmp/gridpatrol-issue-closed.png"
BADGE = ".page-head .badge[class*='issue-']"
# What the state badge says (issues/_labels.html), by state.
BADGE_MSGIDS = {"reported": "To accept", "dispatched": "Dispatched", "in_progress": "Being fixed",
                "awaiting_verification": "Awaiting verification", "closed": "Closed", "rejected": "Rejected"}
DESCRIPTION = "二楼东侧走廊吸顶灯不亮，开关无反应"
FIX_NOTE = "已更换灯管和启辉器，通电正常"


# --- helpers ------------------------------------------------------------------------------------------
def photo(tmp_path, name: str, seed: int, tint: tuple[int, int, int]) -> str:
    """A real 320×240 JPEG: a tinted gradient plus a seeded speckle, so its bytes (and its content-addressed
    file under instance/photos) are this test's own."""
    rng = random.Random(seed)
    image = Image.new("RGB", (320, 240))
    image.putdata([((x * tint[0]) // 320, (y * tint[1]) // 240, ((x + y) * tint[2]) // 560)
                   for y in range(240) for x in range(320)])
    for _ in range(200):
        image.putpixel((rng.randrange(320), rng.randrange(240)), (255, 255, 255))
    path = tmp_path / name
    image.save(path, "JPEG", quality=85)
    return str(path)


def credentials(app, username: str) -> helpers.Credentials:
    from gridpatrol.accounts.models import User
    from gridpatrol.extensions import db

    with app.app_context():
        user_id = db.session.scalar(sa.select(User.id).where(User.username == username))
        db.session.remove()
    return helpers.Credentials(user_id, username, helpers.DEFAULT_PASSWORD)


def log_in(page, server, app, username: str) -> None:
    creds = credentials(app, username)
    page.goto(server.url + "/login")
    page.locator(LOGIN_FORM + " input[name=username]").fill(creds.username)
    page.locator(LOGIN_FORM + " input[name=password]").fill(creds.password)
    with page.expect_navigation():
        page.locator(LOGIN_SUBMIT).tap()
    # Their site's home page; a supervisor's is the site's dashboard.
    assert re.fullmatch(re.escape(server.url) + r"/s/[A-Z0-9_-]+/(dashboard)?", page.url), \
        f"{username} did not land on their site's home page but on {page.url}"


def issue_state(app, issue_id: int) -> dict:
    from gridpatrol.extensions import db

    with app.app_context():
        issue = db.session.get(Issue, issue_id)
        state = {
            "state": issue.state, "grid": issue.grid.code if issue.grid else None, "lon": issue.lon,
            "lat": issue.lat, "category": issue.category, "description": issue.description,
            "reporter": issue.reporter.username, "team": issue.team.name if issue.team else None,
            "deadline": issue.deadline, "fixed_by": issue.fixed_by.username if issue.fixed_by else None,
            "closed_at": issue.closed_at, "version": issue.version,
            "events": [(e.action, e.actor.username if e.actor else None, e.from_state, e.to_state, e.note)
                       for e in db.session.scalars(sa.select(IssueEvent).where(IssueEvent.issue_id == issue_id)
                                                   .order_by(IssueEvent.id))],
            "photos": [(p.kind, p.content_type, p.sha256) for p in db.session.scalars(
                sa.select(IssuePhoto).where(IssuePhoto.issue_id == issue_id).order_by(IssuePhoto.id))],
        }
        db.session.remove()
    return state


def assert_badge(page, catalog: Catalog, state: str) -> None:
    badge = page.locator(BADGE)
    assert badge.count() == 1, f"expected one state badge, found {badge.count()}"
    assert f"issue-{state}" in badge.get_attribute("class")
    assert badge.inner_text().strip() == catalog.zh(BADGE_MSGIDS[state])


def assert_flash_done(page, catalog: Catalog, state_msgid: str) -> None:
    """The view's flash after a transition names the new state (services.state_label)."""
    expected = catalog.zh("Done: the issue is now %(state)s.", state=catalog.zh(state_msgid))
    flashes = page.locator(".flash-success").all_inner_texts()
    assert expected in [f.strip() for f in flashes], f"no flash {expected!r} among {flashes}"


def act(page, issue_id: int, action: str) -> None:
    """Submit the issue page's form for `action` and land on the issue page again."""
    form = page.locator(f"form[action$='/issues/{issue_id}/{action}']")
    assert form.count() == 1, f"no {action} form on the page"
    with page.expect_navigation():
        form.locator("button[type=submit]").tap()
    assert re.fullmatch(rf".*/issues/{issue_id}(#.*)?", page.url), f"{action} landed on {page.url}"
    assert not page.locator(".flash-error, p.error").count(), page.locator(".flash-error, p.error").all_inner_texts()


def forms_on(page, issue_id: int) -> set[str]:
    actions = page.locator(f"form[action*='/issues/{issue_id}/']").evaluate_all(
        "forms => forms.map(f => f.getAttribute('action').split('/').pop())")
    return set(actions)


def assert_clean(records: dict) -> None:
    for who, record in records.items():
        assert not record.console_errors, f"{who}: console errors {record.console_errors}"
        assert not record.page_errors, f"{who}: page errors {record.page_errors}"
        assert not record.csp_violations, f"{who}: CSP violations {record.csp_violations}"
        assert not record.bad_responses, f"{who}: bad responses {record.bad_responses}"
        assert not record.failed, f"{who}: failed requests {record.failed}"


# --- the test ------------------------------------------------------------------------------------------
@pytest.fixture
def stored(app):
    """sha256 of the photos the test uploaded (unique noise, so this test's own files): removed afterwards."""
    shas: list[str] = []
    yield shas
    with app.app_context():
        for sha in set(shas):
            photo_files.path_for(sha).unlink(missing_ok=True)


def test_an_issue_from_quick_report_to_closed(app, live_server, new_tablet_page, tmp_path, stored):
    world(app)
    catalog = Catalog(app)
    records = {}

    # 1. 随手拍: the clerk taps the place on the map, picks a category, writes a line, attaches a photo.
    clerk, records["clerk"] = new_tablet_page()
    log_in(clerk, live_server, app, "clerk")
    clerk.goto(live_server.url + "/s/TEST/report")
    assert clerk.locator("svg.pick-map").count() == 1, "one level: one map"
    label = clerk.locator("svg.pick-map [data-label-for='A01'] text.grid-code")
    label.scroll_into_view_if_needed()
    box = label.bounding_box()
    assert box, "grid A01 is not on the quick-report map"
    clerk.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert clerk.locator(".pick-status").inner_text().strip() == "A01"
    assert clerk.locator("svg.pick-map .pick-marker").count() == 1
    lon = float(clerk.locator("#report-form [name=lon]").input_value())
    lat = float(clerk.locator("#report-form [name=lat]").input_value())
    assert LON0 < lon < LON0 + STEP and LAT0 - STEP < lat < LAT0, f"the tap gave {lon}, {lat}: not inside A01"
    clerk.locator("#report-form select[name=category]").select_option("equipment")
    clerk.locator("#report-form textarea[name=description]").fill(DESCRIPTION)
    clerk.locator("#report-form input[name=photos]").set_input_files(photo(tmp_path, "before.jpg", 1, (220, 60, 40)))
    with clerk.expect_navigation():
        clerk.locator("#report-form button[type=submit]").tap()
    match = re.fullmatch(rf"{re.escape(live_server.url)}/s/TEST/issues/(\d+)", clerk.url)
    assert match, f"the report landed on {clerk.url}: {clerk.locator('p.error').all_inner_texts()}"
    issue_id = int(match.group(1))
    assert catalog.zh("Thank you: report no. %(id)d has been filed.", id=issue_id) in \
        clerk.locator(".flash-success").inner_text()
    assert_badge(clerk, catalog, "reported")
    assert DESCRIPTION in clerk.locator("main h1").inner_text()
    state = issue_state(app, issue_id)
    stored += [sha for _, _, sha in state["photos"]]
    assert (state["state"], state["grid"], state["category"], state["description"], state["reporter"]) == \
        ("reported", "A01", "equipment", DESCRIPTION, "clerk")
    assert state["lon"] == pytest.approx(lon, abs=1e-6) and state["lat"] == pytest.approx(lat, abs=1e-6)
    assert [(kind, ctype) for kind, ctype, _ in state["photos"]] == [("before", "image/jpeg")]
    assert forms_on(clerk, issue_id) == {"comment"}, "the reporter may only comment"

    # 2. 派单: the supervisor sends it to the maintenance crew from the issue page.
    boss, records["boss"] = new_tablet_page()
    log_in(boss, live_server, app, "boss")
    boss.goto(f"{live_server.url}/s/TEST/issues/{issue_id}")
    assert_badge(boss, catalog, "reported")
    assert {"dispatch", "reject"} <= forms_on(boss, issue_id)
    dispatch = boss.locator(f"form[action$='/issues/{issue_id}/dispatch']")
    assert dispatch.locator("input[name=version]").input_value() == str(state["version"])
    dispatch.locator("select[name=team_id]").select_option(label="维修班组")
    act(boss, issue_id, "dispatch")
    assert_badge(boss, catalog, "dispatched")
    assert_flash_done(boss, catalog, "dispatched")
    state = issue_state(app, issue_id)
    assert (state["state"], state["team"]) == ("dispatched", "维修班组") and state["deadline"] is not None
    assert "维修班组" in boss.locator("dl.facts").inner_text()

    # 3. 整改: the rectifier starts, then reports the fix with an after-photo and a note.
    fixer, records["fixer"] = new_tablet_page()
    log_in(fixer, live_server, app, "fixer")
    fixer.goto(f"{live_server.url}/s/TEST/issues/{issue_id}")
    assert_badge(fixer, catalog, "dispatched")
    # The rectifier may start, comment, or ask for a later deadline (延期).
    assert forms_on(fixer, issue_id) == {"start", "comment", "extensions"}
    act(fixer, issue_id, "start")
    assert_badge(fixer, catalog, "in_progress")
    assert_flash_done(fixer, catalog, "in progress")
    assert issue_state(app, issue_id)["state"] == "in_progress"
    fix = fixer.locator(f"form[action$='/issues/{issue_id}/report_fix']")
    fix.locator("textarea[name=note]").fill(FIX_NOTE)
    fix.locator("input[name=photos]").set_input_files(photo(tmp_path, "after.jpg", 2, (40, 200, 90)))
    act(fixer, issue_id, "report_fix")
    assert_badge(fixer, catalog, "awaiting_verification")
    assert_flash_done(fixer, catalog, "awaiting verification")
    assert "verify_pass" not in forms_on(fixer, issue_id), "who reported the fix may not verify it"
    state = issue_state(app, issue_id)
    stored += [sha for _, _, sha in state["photos"]]
    assert (state["state"], state["fixed_by"]) == ("awaiting_verification", "fixer")
    assert [kind for kind, _, _ in state["photos"]] == ["before", "after"]

    # 4. 核查结案: the grid's leader verifies and closes it.
    leader, records["leader0"] = new_tablet_page()
    log_in(leader, live_server, app, "leader0")
    leader.goto(f"{live_server.url}/s/TEST/issues/{issue_id}")
    assert_badge(leader, catalog, "awaiting_verification")
    assert {"verify_pass", "verify_fail"} <= forms_on(leader, issue_id)
    act(leader, issue_id, "verify_pass")
    assert_badge(leader, catalog, "closed")
    assert_flash_done(leader, catalog, "closed")
    assert forms_on(leader, issue_id) == {"comment"}, "nothing left to do on a closed issue"

    state = issue_state(app, issue_id)
    assert state["state"] == "closed" and state["closed_at"] is not None
    assert [(action, actor) for action, actor, *_ in state["events"]] == [
        ("reported", "clerk"), ("dispatch", "boss"), ("start", "fixer"), ("report_fix", "fixer"),
        ("verify_pass", "leader0")]
    assert [(frm, to) for _, _, frm, to, _ in state["events"]] == [
        (None, "reported"), ("reported", "dispatched"), ("dispatched", "in_progress"),
        ("in_progress", "awaiting_verification"), ("awaiting_verification", "closed")]
    assert state["events"][3][4] == FIX_NOTE
    timeline = leader.locator("#timeline").inner_text()
    assert FIX_NOTE in timeline
    # The timeline names each step in words (issues/_labels.html action_label), in Chinese.
    for label in ("reported it", "dispatched it", "started the fix", "reported it fixed", "verified and closed it"):
        assert catalog.zh(label) in timeline

    # Before and after side by side, both images loaded.
    compare = leader.locator("section.photo-compare")
    before_img = compare.locator("> div").nth(0).locator("img.photo")
    after_img = compare.locator("> div").nth(1).locator("img.photo")
    assert before_img.count() == 1 and after_img.count() == 1
    compare.scroll_into_view_if_needed()
    leader.wait_for_function("""() => [...document.querySelectorAll('section.photo-compare img.photo')]
                                      .every(img => img.complete && img.naturalWidth > 0)""")
    assert before_img.evaluate("img => img.naturalWidth") == 320
    assert after_img.evaluate("img => img.naturalWidth") == 320
    left, right = before_img.bounding_box(), after_img.bounding_box()
    assert abs(left["y"] - right["y"]) < 2, f"before and after are not side by side: {left} {right}"
    assert left["x"] + left["width"] <= right["x"], f"before is not left of after: {left} {right}"
    assert left["width"] > 100 and right["width"] > 100
    leader.screenshot(path=SCREENSHOT, full_page=True)

    # The reporter follows the outcome too.
    clerk.reload()
    assert_badge(clerk, catalog, "closed")

    assert_clean(records)
    # Whether those strings are really Chinese is test_the_issue_workflow_speaks_chinese's business.


# Everything the workflow above shows from the catalogue: the badges (issues/_labels.html), the state names in
# the flash after a transition (services.state_label) and the flashes themselves (issues/views.py).
SHOWN_MSGIDS = [*BADGE_MSGIDS.values(), "reported", "dispatched", "in progress", "awaiting verification", "closed",
                "rejected", "Done: the issue is now %(state)s.", "Thank you: report no. %(id)d has been filed.",
                "Before", "After", "Timeline", "Dispatch", "Start the fix", "Report fixed", "Verified: close",
                "Send report", "Report a problem", "Tap where the problem is"]


def test_the_issue_workflow_speaks_chinese(app):
    """The app is Chinese by default: every string of the workflow above has a Chinese translation."""
    catalog = Catalog(app)
    for msgid in SHOWN_MSGIDS:
        catalog.zh(msgid)
    catalog.assert_complete()
