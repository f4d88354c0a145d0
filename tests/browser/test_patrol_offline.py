"""The checklist form on a tablet with flaky Wi-Fi: drafts, photos, the offline outbox and the service worker.

A real headless Chromium (Debian's, through Playwright) against the real app under gunicorn at 768×1024:
- a patrol filled online and submitted offline is queued on the tablet, survives a reload from the service
  worker's cache and a browser restart, and arrives exactly once when the network is back, despite stale
  CSRF tokens (patrol-form.js, offline-queue.js, sw.js);
- a double tap on submit makes one submission, after the client-side checks (every item answered, a photo
  for a failed item that needs one) have marked what is missing;
- a submission the server refuses (422: a checkpoint code typed offline that does not exist) leaves the
  outbox, keeps the draft and is shown; the corrected patrol goes in once;
- the camera reads a checkpoint's signed QR poster (Chromium's fake camera playing a generated video).

The offline test uses a *persistent* browser context (a user-data directory on disk) so that closing and
launching the browser again keeps what a tablet keeps across a restart: cookies, IndexedDB (the draft and the
outbox) and the service worker with its caches. "Offline" is Playwright's network emulation
(`context.set_offline`), which makes the page's requests fail as they do in a corridor without Wi-Fi.

A stale CSRF token is simulated twice over, since waiting for the real one to expire (hours) is too slow:
the page's <meta name="csrf-token"> is replaced with garbage (the queue must not depend on the page's token),
and the first fresh token the queue fetches from /api/v1/session/csrf-token is swapped for garbage by a Playwright
route, so the first POST to the API is refused (400, problem+json of type urn:gridpatrol:problem:csrf) and the
queue must fetch another token and retry once. The form's script submits to the API
(/api/v1/sites/<site>/patrols/<id>/submission) with the session and that token.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time

import pytest
import sqlalchemy as sa
from PIL import Image

from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.grids import qr
from gridpatrol.grids import services as grid_services
from gridpatrol.grids.models import Grid
from gridpatrol.patrols.models import CheckpointScan, Patrol, PatrolAnswer, PatrolPhoto, Submission
from tests import helpers
from tests.browser.conftest import _CSP_LISTENER, BROWSER_LOCALE, CHROMIUM, CHROMIUM_ARGS, PORTRAIT, TIMEOUT_MS
from tests.patrols import builders

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENSHOT = "/tmp/gridpatrol-patrol-form.png"
LOGIN_FORM = "main form:has(input[name=password])"
SUBMIT = "#patrol-form .submit-bar button[type=submit]"
CHECKPOINT_CODE = "A01-CP1"
# The middle of grid A01 (see tests/grids/builders.py), as a tablet's GPS fix.
INSIDE_A01 = {"latitude": 30.2795, "longitude": 120.1505, "accuracy": 12}
TABLET_TIMEZONE = "Asia/Shanghai"


# --- data -------------------------------------------------------------------------------------------------
def open_patrol_now(app) -> tuple[int, str]:
    """leader0's patrol of A01 whose window is open right now (real time: the server checks it), and the
    signed QR payload of A01's checkpoint.

    The window starts 30 minutes ago, in Shanghai time; just after midnight that is yesterday, so the plan
    starts on the date of the window start, not on today's date.
    """
    now = dt.datetime.now(dt.timezone.utc)
    start = (now - dt.timedelta(minutes=30)).astimezone(builders.SHANGHAI).replace(second=0, microsecond=0)
    builders.compound(app)
    builders.make_plan(app, starts_on=start.date(), window=start.strftime("%H:%M"), minutes=240)
    builders.materialize(app, now)
    with app.app_context(), job_transaction() as session:
        grid = session.scalar(sa.select(Grid).where(Grid.code == "A01"))
        checkpoint = grid_services.add_checkpoint(session, grid, code=CHECKPOINT_CODE, name="一楼东门巡更点",
                                                  lon=INSIDE_A01["longitude"], lat=INSIDE_A01["latitude"], actor=None)
        poster = qr.checkpoint_payload(checkpoint)
    with app.app_context():
        patrol = db.session.scalar(sa.select(Patrol).join(Grid).where(
            Grid.code == "A01", Patrol.window_start <= now, Patrol.due_at > now))
        assert patrol is not None, "no open patrol: the plan's window does not cover now"
        return patrol.id, poster


def leader0() -> helpers.Credentials:
    return helpers.Credentials(0, "leader0", helpers.DEFAULT_PASSWORD)


def patrol_state(app, patrol_id: int) -> dict:
    with app.app_context():
        db.session.expire_all()
        patrol = db.session.get(Patrol, patrol_id)
        answers = {a.item.position: (a.result, a.note) for a in db.session.scalars(
            sa.select(PatrolAnswer).where(PatrolAnswer.patrol_id == patrol_id))}
        photos = [(p.item_id, p.content_type, p.width, p.height) for p in db.session.scalars(
            sa.select(PatrolPhoto).where(PatrolPhoto.patrol_id == patrol_id))]
        scans = [(s.checkpoint.code, s.method) for s in db.session.scalars(
            sa.select(CheckpointScan).where(CheckpointScan.patrol_id == patrol_id))]
        submissions = list(db.session.scalars(sa.select(Submission).where(Submission.patrol_id == patrol_id)))
        items = {i.position: i.id for i in patrol.template_version.items}
        return {"status": patrol.status, "submissions": len(submissions),
                "client_uuids": [s.client_uuid for s in submissions], "answers": answers, "photos": photos,
                "scans": scans, "items": items, "completed_at": patrol.completed_at,
                "location_outside": patrol.location_outside, "score": patrol.score}


def submit_posts(server, patrol_id: int, expect: list[str] | None = None) -> list[str]:
    """HTTP statuses of the POSTs to the patrol's submission (the API's) that reached gunicorn, in order.

    gunicorn writes a request's access-log line just after sending the response, so the browser may have the
    answer a moment before the line is there: with `expect`, wait (briefly) until that many lines are.
    """
    pattern = re.compile(rf'"POST /api/v1/sites/TEST/patrols/{patrol_id}/submission HTTP/[0-9.]+" (\d{{3}})')
    deadline = time.monotonic() + 5
    while True:
        found = pattern.findall(server.access_log.read_text()) if server.access_log.exists() else []
        if expect is None or len(found) >= len(expect) or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def photo_file(tmp_path, name="leak.jpg", size=(2400, 1800)):
    """A camera-sized JPEG: the form must downscale it to 1600 px on the long side."""
    path = tmp_path / name
    image = Image.new("RGB", size, (200, 60, 40))
    for x in range(0, size[0], 200):
        image.paste((30, 90, 160), (x, 0, x + 100, size[1]))
    image.save(path, "JPEG", quality=90)
    return path


# --- the browser --------------------------------------------------------------------------------------
class Recorder:
    def __init__(self):
        self.csp: list[str] = []
        self.page_errors: list[str] = []

    def watch(self, context):
        context.expose_function("__gridpatrolCsp", lambda report: self.csp.append(report))
        context.add_init_script(_CSP_LISTENER)

    def page(self, context):
        page = context.pages[0] if context.pages else context.new_page()
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        return page

    def assert_clean(self):
        assert not self.csp, f"Content-Security-Policy violations: {self.csp}"
        assert not self.page_errors, f"script errors: {self.page_errors}"


def launch_tablet(chromium_browser, user_data_dir, server, recorder: Recorder, *, offline: bool = False):
    """A persistent Chromium profile at 768×1024: what survives a browser restart survives here.

    `offline` emulates no network from the first moment (before the service worker or any page runs)."""
    context = chromium_browser.browser_type.launch_persistent_context(
        str(user_data_dir), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
        viewport=PORTRAIT, locale=BROWSER_LOCALE, has_touch=True, timezone_id=TABLET_TIMEZONE, offline=offline)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    context.grant_permissions(["geolocation"], origin=server.url)
    context.set_geolocation(INSIDE_A01)
    recorder.watch(context)
    return context


def log_in(page, server, creds: helpers.Credentials) -> None:
    page.goto(server.url + "/login")
    page.locator(LOGIN_FORM + " input[name=username]").fill(creds.username)
    page.locator(LOGIN_FORM + " input[name=password]").fill(creds.password)
    with page.expect_navigation():
        page.locator(LOGIN_FORM + " button[type=submit]").tap()
    assert "/login" not in page.url, "login failed"


def wait_for_service_worker(page) -> None:
    page.wait_for_function("() => navigator.serviceWorker && navigator.serviceWorker.controller !== null")


def item(page, position: int):
    return page.locator("#patrol-form .check-item").nth(position)


def answer(page, position: int, result: str) -> None:
    item(page, position).locator(f"label.answer-{result}").tap()


def fill_form(page, tmp_path, *, fail_first: bool) -> None:
    """Item 1 (photo if failed) fails with a note and a photo; item 2 (no N/A) passes; 3 N/A; 4 passes."""
    if fail_first:
        answer(page, 0, "fail")
        item(page, 0).locator("textarea").fill("水管接头渗水")
        item(page, 0).locator("input.photo-input").set_input_files(photo_file(tmp_path))
        page.locator("#patrol-form .check-item >> nth=0 >> .photo-previews img").wait_for()
    else:
        answer(page, 0, "pass")
    answer(page, 1, "pass")
    answer(page, 2, "na")
    answer(page, 3, "pass")


# --- tests --------------------------------------------------------------------------------------------
def test_offline_submission_survives_a_browser_restart_and_arrives_once(app, live_server, chromium_browser, tmp_path):
    patrol_id, _poster = open_patrol_now(app)
    profile = tmp_path / "tablet-profile"
    recorder = Recorder()

    # 1. Online: log in, open today's list and the patrol, fill everything in.
    context = launch_tablet(chromium_browser, profile, live_server, recorder)
    page = recorder.page(context)
    log_in(page, live_server, leader0())
    page.goto(live_server.url + "/s/TEST/today")
    wait_for_service_worker(page)
    worker = next(w for w in context.service_workers if w.url == live_server.url + "/sw.js")
    assert worker.evaluate("() => typeof self.GridPatrolQueue.flush") == "function", "Background Sync can flush"
    with page.expect_navigation():
        page.locator(f'.patrol-card a[href$="/patrols/{patrol_id}"]').tap()
    form = page.locator("#patrol-form")
    form.wait_for()
    assert page.locator(".scan-camera").is_visible(), "a camera API exists here, so the scan button shows"

    fill_form(page, tmp_path, fail_first=True)
    page.locator(".scan-code").fill(CHECKPOINT_CODE)
    page.locator(".scan-add").tap()
    page.locator('.scan-list li[data-verified="1"]').wait_for()  # online: the server named the checkpoint
    assert "一楼东门巡更点" in page.locator(".scan-list").inner_text()
    page.locator(".location-stamp").tap()
    page.locator('.location-status[data-state="located"]').wait_for()
    page.locator('.draft-status[data-state="saved"]').wait_for()
    remove = item(page, 0).locator(".photo-previews .remove-photo")
    box = remove.bounding_box()
    assert box["width"] >= 44 and box["height"] >= 44, f"the remove-photo button is too small: {box}"
    page.screenshot(path=SCREENSHOT, full_page=True)

    # 2. Offline: submitting queues it on the tablet; nothing reaches the server.
    context.set_offline(True)
    page.locator(SUBMIT).tap()
    notice = page.locator('.queue-notice[data-state="queued"]')
    notice.wait_for()
    assert notice.inner_text().strip()
    assert page.locator(SUBMIT).is_disabled()
    state = patrol_state(app, patrol_id)
    assert state["status"] != "submitted" and state["submissions"] == 0
    assert submit_posts(live_server, patrol_id) == []

    # 3. Still offline, the form reloads from the service worker's cache with the draft and the photo.
    page.reload()
    page.locator('.draft-status[data-state="restored"]').wait_for()
    page.locator('.queue-notice[data-state="queued"]').wait_for()
    assert item(page, 0).locator(".photo-previews img").count() == 1
    assert item(page, 0).locator("input[value=fail]").is_checked()
    assert item(page, 0).locator("textarea").input_value() == "水管接头渗水"

    # 4. The browser is closed and started again (still offline): the queue is still there.
    context.close()
    context = launch_tablet(chromium_browser, profile, live_server, recorder, offline=True)
    page = recorder.page(context)
    page.goto(live_server.url + "/s/TEST/today")
    banner = page.locator("#offline-queue")
    banner.locator(".queue-entry").wait_for()
    assert banner.is_visible()
    assert banner.get_attribute("data-pending") == "1"
    assert "A01" in banner.locator(".queue-entry").inner_text()
    assert patrol_state(app, patrol_id)["submissions"] == 0

    # 5. The tokens are stale; the network comes back; the queue sends the patrol, once.
    page.evaluate("() => document.querySelector('meta[name=csrf-token]').setAttribute('content', 'stale-garbage')")
    token_calls = []

    def stale_first_token(route):
        token_calls.append(route.request.url)
        if len(token_calls) == 1:
            route.fulfill(status=200, content_type="application/json", body=json.dumps({"token": "stale-garbage"}))
        else:
            route.continue_()

    page.route("**/api/v1/session/csrf-token", stale_first_token)
    context.set_offline(False)
    # Sooner than the 30 s periodic flush: the `online` event itself sends the outbox.
    page.locator('#offline-queue .queue-result[data-state="accepted"]').wait_for(timeout=20_000)
    assert banner.get_attribute("data-pending") == "0"
    assert banner.locator(".queue-entry").count() == 0
    page.locator(f'.patrol-card.state-done a[href$="/patrols/{patrol_id}"], '
                 f'.patrol-card.state-done_late a[href$="/patrols/{patrol_id}"]').wait_for()

    state = patrol_state(app, patrol_id)
    assert state["status"] == "submitted"
    assert state["submissions"] == 1
    assert state["answers"] == {0: ("fail", "水管接头渗水"), 1: ("pass", None), 2: ("na", None), 3: ("pass", None)}
    assert state["photos"] == [(state["items"][0], "image/jpeg", 1600, 1200)], "one photo, downscaled"
    assert state["scans"] == [(CHECKPOINT_CODE, "typed")]
    assert state["location_outside"] is False
    assert len(token_calls) >= 2, "the queue fetched a fresh token after the stale one was refused"
    assert submit_posts(live_server, patrol_id, ["400", "200"]) == ["400", "200"], "refused once (token), then in"

    # The completion time is when the leader pressed submit (offline), not when the server got it.
    with app.app_context():
        patrol = db.session.get(Patrol, patrol_id)
        assert patrol.completed_at < patrol.submitted_at

    # 6. Later: nothing waits any more; the draft is gone from the tablet.
    page.unroute("**/api/v1/session/csrf-token")
    page.reload()
    page.wait_for_function("() => document.getElementById('offline-queue').dataset.pending === '0'")
    assert page.locator("#offline-queue .queue-entry").count() == 0
    assert page.evaluate("""() => new Promise((resolve) => {
        const open = indexedDB.open('gridpatrol');
        open.onsuccess = () => {
          const tx = open.result.transaction(['outbox', 'drafts'], 'readonly');
          const outbox = tx.objectStore('outbox').count();
          const drafts = tx.objectStore('drafts').count();
          tx.oncomplete = () => resolve([outbox.result, drafts.result]);
        };
      })""") == [0, 0]

    # 7. Offline again, the form page comes from the cache (as it was before submitting): the tablet knows the
    #    patrol is in and does not offer to submit it again.
    context.set_offline(True)
    page.goto(f"{live_server.url}/s/TEST/patrols/{patrol_id}")
    page.locator('.queue-notice[data-state="accepted"]').wait_for()
    assert page.locator(SUBMIT).is_disabled()
    context.set_offline(False)
    context.close()
    recorder.assert_clean()
    assert patrol_state(app, patrol_id)["submissions"] == 1


def test_double_tap_on_submit_makes_one_submission(app, live_server, tablet, tmp_path):
    patrol_id, _poster = open_patrol_now(app)
    page, record = tablet
    page.context.grant_permissions(["geolocation"], origin=live_server.url)
    log_in(page, live_server, leader0())
    page.goto(f"{live_server.url}/s/TEST/patrols/{patrol_id}")
    page.locator("#patrol-form").wait_for()

    # The checks the server makes run first: every item answered, a photo for a failed photo item.
    page.locator(SUBMIT).tap()
    assert page.locator("#patrol-form .check-item.unanswered").count() == 4
    assert page.locator(".form-errors").inner_text().strip()
    answer(page, 0, "fail")
    answer(page, 1, "pass")
    answer(page, 2, "pass")
    answer(page, 3, "pass")
    page.locator(SUBMIT).tap()
    assert page.locator("#patrol-form .check-item.unanswered").count() == 1
    assert item(page, 0).get_attribute("class").split().count("unanswered") == 1
    assert submit_posts(live_server, patrol_id) == []

    answer(page, 0, "pass")
    assert page.locator("#patrol-form .check-item.unanswered").count() == 0
    with page.expect_navigation(url=f"{live_server.url}/s/TEST/today"):
        # Two taps before the first one's request could even start, and a third submit that bypasses the
        # (by then disabled) button.
        page.evaluate("() => { const b = document.querySelector('%s'); b.click(); b.click(); "
                      "b.form.requestSubmit(); }" % SUBMIT)
    page.locator('#offline-queue .queue-result[data-state="accepted"]').wait_for()

    state = patrol_state(app, patrol_id)
    assert state["status"] == "submitted"
    assert state["submissions"] == 1
    assert state["score"] == 100.0
    assert submit_posts(live_server, patrol_id, ["200"]) == ["200"]
    assert sum(1 for url in record.requests if url.endswith(f"/patrols/{patrol_id}/submission")) == 1
    assert not record.csp_violations, record.csp_violations
    assert not record.page_errors, record.page_errors


def test_refused_submission_keeps_the_draft_and_the_fixed_one_is_accepted_once(app, live_server, tablet):
    """A code typed offline cannot be checked; the server refuses it (422) when the network is back. The
    refusal is shown, the outbox entry is dropped, the draft stays, and the corrected patrol goes in once."""
    patrol_id, _poster = open_patrol_now(app)
    page, record = tablet
    log_in(page, live_server, leader0())
    page.goto(f"{live_server.url}/s/TEST/patrols/{patrol_id}")
    wait_for_service_worker(page)
    fill_form(page, None, fail_first=False)
    page.context.set_offline(True)
    page.locator(".scan-code").fill("NO-SUCH-POINT")
    page.locator(".scan-code").press("Enter")  # adds the code; must not submit the form
    page.locator('.scan-list li[data-verified="0"]').wait_for()
    assert page.locator(".queue-notice").count() == 0
    page.locator(SUBMIT).tap()
    page.locator('.queue-notice[data-state="queued"]').wait_for()

    page.context.set_offline(False)  # the `online` event flushes the outbox; the form shows the answer
    page.wait_for_function("() => document.querySelector('.form-errors').textContent.includes('NO-SUCH-POINT')")
    assert page.locator(SUBMIT).is_enabled()
    assert page.locator(".queue-notice").is_hidden()
    assert submit_posts(live_server, patrol_id, ["422"]) == ["422"]
    state = patrol_state(app, patrol_id)
    assert state["status"] != "submitted" and state["submissions"] == 0
    outbox, drafts = page.evaluate("""() => new Promise((resolve) => {
        const open = indexedDB.open('gridpatrol');
        open.onsuccess = () => {
          const tx = open.result.transaction(['outbox', 'drafts'], 'readonly');
          const outbox = tx.objectStore('outbox').count();
          const drafts = tx.objectStore('drafts').count();
          tx.oncomplete = () => resolve([outbox.result, drafts.result]);
        };
      })""")
    assert (outbox, drafts) == (0, 1), "the refused entry leaves the outbox; the draft stays to be fixed"

    page.locator(".scan-list li .scan-remove").tap()
    with page.expect_request(lambda r: r.url.endswith(f"/patrols/{patrol_id}/submission")) as sent:
        with page.expect_navigation(url=f"{live_server.url}/s/TEST/today"):
            page.locator(SUBMIT).tap()
    # No photos: the payload goes as the JSON body (no multipart for the server to parse).
    assert sent.value.headers["content-type"] == "application/json"
    assert json.loads(sent.value.post_data)["client_uuid"]
    page.locator('#offline-queue .queue-result[data-state="accepted"]').wait_for()
    state = patrol_state(app, patrol_id)
    assert state["status"] == "submitted" and state["submissions"] == 1 and state["scans"] == []
    assert submit_posts(live_server, patrol_id, ["422", "200"]) == ["422", "200"]
    assert not record.csp_violations, record.csp_violations
    assert not record.page_errors, record.page_errors


def fake_camera_video(path, text: str, size=(640, 480), frames: int = 15):
    """A Y4M video of a checkpoint poster's QR code, for Chromium's fake camera (4:2:0, as Chromium reads it)."""
    import io

    buffer = io.BytesIO()
    qr.qr_symbol(text).save(buffer, kind="png", scale=8, border=4)
    symbol = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    frame = Image.new("RGB", size, (235, 235, 228))
    frame.paste(symbol, ((size[0] - symbol.width) // 2, (size[1] - symbol.height) // 2))
    y, cb, cr = frame.convert("YCbCr").split()
    half = (size[0] // 2, size[1] // 2)
    planes = y.tobytes() + cb.resize(half, Image.BOX).tobytes() + cr.resize(half, Image.BOX).tobytes()
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{size[0]} H{size[1]} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            f.write(b"FRAME\n" + planes)
    return path


def test_camera_scan_reads_a_checkpoint_poster(app, live_server, chromium_browser, tmp_path):
    """The camera button reads the signed QR poster (jsQR, or BarcodeDetector where the browser has it)."""
    patrol_id, poster = open_patrol_now(app)
    video = fake_camera_video(tmp_path / "poster.y4m", poster)
    browser = chromium_browser.browser_type.launch(
        executable_path=str(CHROMIUM), headless=True,
        args=CHROMIUM_ARGS + ["--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={video}"])
    recorder = Recorder()
    try:
        context = browser.new_context(viewport=PORTRAIT, locale=BROWSER_LOCALE, has_touch=True)
        context.set_default_timeout(TIMEOUT_MS)
        context.grant_permissions(["camera"], origin=live_server.url)
        recorder.watch(context)
        page = recorder.page(context)
        log_in(page, live_server, leader0())
        page.goto(f"{live_server.url}/s/TEST/patrols/{patrol_id}")
        camera = page.locator(".scan-camera")
        assert camera.is_visible()
        camera.tap()
        page.locator('.scan-list li[data-verified="1"]').wait_for()
        entry = page.locator(".scan-list li").first
        assert entry.get_attribute("data-code") == poster
        assert "一楼东门巡更点" in entry.inner_text()
        assert page.locator(".scan-video").is_hidden(), "the camera stops once a code is read"
        assert page.evaluate("() => !document.querySelector('.scan-video').srcObject")
        # The scan is kept in the draft like everything else.
        page.locator('.draft-status[data-state="saved"]').wait_for()
        page.reload()
        page.locator('.draft-status[data-state="restored"]').wait_for()
        assert page.locator(".scan-list li").first.get_attribute("data-code") == poster
        context.close()
    finally:
        browser.close()
    recorder.assert_clean()


def test_what_a_form_of_before_the_api_queued_or_kept_goes_to_the_api(app, live_server, tablet):
    """A tablet updated with a patrol in its outbox: the entry carries the form's old addresses (its submit URL,
    /api/csrf-token), which are gone; the outbox sends it to the API, once. A form page kept from then looks
    checkpoints up at the old address: the service worker asks the API online, and offline answers from the
    table kept then (v3's address, carried over)."""
    patrol_id, _poster = open_patrol_now(app)
    page, record = tablet
    log_in(page, live_server, leader0())
    page.goto(f"{live_server.url}/s/TEST/today")
    wait_for_service_worker(page)
    with app.app_context():
        items = [i.id for i in db.session.get(Patrol, patrol_id).template_version.items]
    payload = {"client_uuid": "0f6c1f0e-legacy-entry", "completed_at": dt.datetime.now(dt.timezone.utc).isoformat(),
               "answers": [{"item_id": i, "result": "pass", "note": "", "photos": []} for i in items],
               "scans": [], "location": None}
    old = {"submit": f"{live_server.url}/s/TEST/patrols/{patrol_id}/submit", "csrf": f"{live_server.url}/api/csrf-token"}
    page.evaluate("""([old, patrolId, payload]) => GridPatrolQueue.enqueue({
        id: JSON.parse(payload).client_uuid, patrolId: patrolId, url: old.submit, csrfUrl: old.csrf,
        todayUrl: location.href, gridCode: "A01", gridName: "", payload: payload, photos: []})""",
                  [old, str(patrol_id), json.dumps(payload)])
    page.locator('#offline-queue .queue-result[data-state="accepted"]').wait_for(timeout=40_000)
    state = patrol_state(app, patrol_id)
    assert state["status"] == "submitted" and state["client_uuids"] == ["0f6c1f0e-legacy-entry"]
    assert submit_posts(live_server, patrol_id, ["200"]) == ["200"]
    assert f"/s/TEST/patrols/{patrol_id}/submit" not in live_server.access_log.read_text()
    assert not any(url.endswith("/api/csrf-token") for url in record.requests)

    legacy = f"{live_server.url}/s/TEST/api/patrols/{patrol_id}/checkpoint?code={CHECKPOINT_CODE}"
    lookup = """(url) => fetch(url, {headers: {Accept: 'application/json'}})
        .then((r) => r.json().then((body) => [r.status, body.name || body.detail || null, !!body.offline]))"""
    assert page.evaluate(lookup, legacy) == [200, "一楼东门巡更点", False]  # asked of the API
    # Only the table kept then: the one today's list keeps now (at the API's address) would be asked first.
    page.evaluate("""([table, current, body]) => caches.keys().then((names) => caches.open(
        names.filter((n) => n.startsWith('gridpatrol-pages-'))[0] || 'gridpatrol-pages-v4'))
        .then((cache) => cache.delete(current).then(() =>
          cache.put(table, new Response(body, {headers: {'Content-Type': 'application/json'}}))))""",
                  [legacy.split("?")[0] + "s", f"{live_server.url}/api/v1/sites/TEST/patrols/{patrol_id}/checkpoints",
                   json.dumps({"patrol_id": patrol_id, "grid": "A01", "checkpoints": [
                       {"code": CHECKPOINT_CODE, "name": "旧表里的巡更点", "poster_sha256": "0" * 64}]})])
    page.context.set_offline(True)
    assert page.evaluate(lookup, legacy) == [200, "旧表里的巡更点", True]  # from the table kept then
    page.context.set_offline(False)
    assert not record.page_errors, record.page_errors
