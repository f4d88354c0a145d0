"""A day without network: opening today's list online keeps every patrol on it on the tablet.

A real headless Chromium (Debian's, through Playwright) against the real app under gunicorn at 768×1024, with a
persistent profile so that a browser restart keeps what a tablet keeps (see test_patrol_offline.py):
- the leader opens 今日 at the office; the service worker keeps the form and checkpoint table (from the API) of
  each patrol on it (sw-today.js) and the list marks them "已存本机"; offline, the leader opens a patrol never opened before,
  fills it (本组全部合格, one failed item with a photo, a checkpoint looked up in the kept table), queues it; the
  browser is closed and started again; back online the patrol arrives once, with its photo and its issue;
- the cache is bounded: opening today's list drops the pages of patrols not on it (yesterday's), except one
  with a draft on the tablet; logging out drops them all.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.grids import qr
from gridpatrol.grids import services as grid_services
from gridpatrol.grids.models import Grid
from gridpatrol.issues.models import Issue
from gridpatrol.patrols.models import Patrol
from tests.browser.test_patrol_offline import (INSIDE_A01, SUBMIT, Recorder, answer, item, launch_tablet, leader0,
                                               log_in, patrol_state, photo_file, submit_posts,
                                               wait_for_service_worker)
from tests.browser.test_tablet import LOGOUT_BUTTON, translate
from tests.patrols import builders

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHECKPOINT_CODE = "A01-CP1"
CHECKPOINT_NAME = "一楼东门巡更点"
READY = "#offline-ready"
READY_SENTENCE = "%(ready)s / %(total)s patrols ready offline"
PAGES_KEPT = """() => caches.keys().then((names) => Promise.all(names
    .filter((name) => name.startsWith('gridpatrol-pages-'))
    .map((name) => caches.open(name).then((cache) => cache.keys()))))
  .then((lists) => lists.flat().map((request) => new URL(request.url).pathname).sort())"""


def two_days(app) -> dict:
    """leader0 has two patrols of A01 open now (two plans), and had two yesterday between 00:00 and 03:00 (two
    plans of yesterday only; missed, and not on today's list). A01 has a checkpoint (and its poster's text)."""
    builders.compound(app)
    now = dt.datetime.now(dt.timezone.utc)
    midnight = now.astimezone(builders.SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
    for minutes_ago in (30, 20):
        # Today's windows, never before today's midnight (run at 00:10, both open at 00:00), and plans of today
        # only: a daily plan would also make tomorrow's patrol (within the 24 hours materialised), which shortly
        # after midnight lands on today's list.
        opens = max((now - dt.timedelta(minutes=minutes_ago)).astimezone(builders.SHANGHAI), midnight).replace(
            second=0, microsecond=0)
        builders.make_plan(app, starts_on=opens.date(), ends_on=opens.date(), window=opens.strftime("%H:%M"),
                           minutes=240)
    yesterday = now.astimezone(builders.SHANGHAI).date() - dt.timedelta(days=1)
    for window in ("00:00", "01:00"):
        builders.make_plan(app, starts_on=yesterday, ends_on=yesterday, window=window, minutes=60)
    builders.materialize(app, now)
    with app.app_context(), job_transaction() as session:
        grid = session.scalar(sa.select(Grid).where(Grid.code == "A01"))
        checkpoint = grid_services.add_checkpoint(session, grid, code=CHECKPOINT_CODE, name=CHECKPOINT_NAME,
                                                  lon=INSIDE_A01["longitude"], lat=INSIDE_A01["latitude"], actor=None)
        poster = qr.checkpoint_payload(checkpoint)
    with app.app_context():
        patrols = list(db.session.scalars(sa.select(Patrol).order_by(Patrol.window_start)))
        today = [p.id for p in patrols if p.window_start <= now < p.due_at]
        yesterday = [p.id for p in patrols if p.grace_until <= now]
        assert len(today) == 2 and len(yesterday) == 2, "the plans' windows do not cover now"
        return {"today": today, "yesterday": yesterday, "poster": poster}


def wait_until_kept(page, ready: int, total: int) -> None:
    page.locator(f'{READY}[data-state="done"]').wait_for()
    assert (page.locator(READY).get_attribute("data-ready"), page.locator(READY).get_attribute("data-total")) \
        == (str(ready), str(total))


def card(page, patrol_id: int):
    return page.locator(f'.patrol-card[data-offline-patrol="{patrol_id}"]')


def fill_offline(page, tmp_path) -> None:
    """本组全部合格 for the (one) category, then item 1 fails with a note and a photo."""
    group_pass = page.locator("#patrol-form button.group-pass")
    assert group_pass.count() == 1, "one 本组全部合格 button for the checklist's one category"
    group_pass.tap()  # its script (patrol-form-progress.js) came from the tablet too: it was never loaded before
    assert page.locator("#patrol-form .check-item input[value=pass]:checked").count() == 4
    answer(page, 0, "fail")
    item(page, 0).locator("textarea").fill("消火栓箱门损坏")
    item(page, 0).locator("input.photo-input").set_input_files(photo_file(tmp_path))
    page.locator("#patrol-form .check-item >> nth=0 >> .photo-previews img").wait_for()


def test_a_patrol_never_opened_is_filled_offline_and_arrives_once(app, live_server, chromium_browser, tmp_path):
    world = two_days(app)
    first, second = world["today"]
    profile = tmp_path / "tablet-profile"
    recorder = Recorder()

    # 1. At the office: today's list keeps both patrols on the tablet and says so.
    context = launch_tablet(chromium_browser, profile, live_server, recorder)
    page = recorder.page(context)
    log_in(page, live_server, leader0())
    page.goto(live_server.url + "/s/TEST/today")
    wait_for_service_worker(page)
    wait_until_kept(page, 2, 2)
    sentence = translate(app, "zh", READY_SENTENCE, ready=2, total=2)
    assert page.locator(READY).inner_text().strip() == sentence
    mark = translate(app, "zh", "Saved on this tablet")
    for patrol_id in (first, second):
        assert card(page, patrol_id).get_attribute("data-offline-ready") == "1"
        assert card(page, patrol_id).locator(".offline-mark").is_visible()
        assert card(page, patrol_id).locator(".offline-mark").inner_text().strip() == mark
    # Neither form was opened in a page: the service worker fetched them.
    assert page.evaluate("() => performance.getEntriesByType('navigation').length") == 1
    kept = page.evaluate(PAGES_KEPT)
    assert f"/s/TEST/patrols/{second}" in kept and f"/api/v1/sites/TEST/patrols/{second}/checkpoints" in kept

    # 2. In the basement: no network. The patrol never opened comes from the tablet and is filled there.
    context.set_offline(True)
    with page.expect_navigation():
        card(page, second).locator("a").tap()
    page.locator("#patrol-form").wait_for()
    assert page.locator("#patrol-form").get_attribute("data-patrol-id") == str(second)
    fill_offline(page, tmp_path)
    # The poster's text (as a scanner might give it, in lower case) is recognised by its digest in the table.
    page.locator(".scan-code").fill(world["poster"].lower())
    page.locator(".scan-add").tap()
    page.locator('.scan-list li[data-verified="1"]').wait_for()
    assert CHECKPOINT_NAME in page.locator(".scan-list").inner_text()
    page.locator(".scan-list li .scan-remove").tap()
    # A code of no checkpoint of this grid cannot be judged offline: kept unverified, no refusal.
    page.locator(".scan-code").fill("A02-CP9")
    page.locator(".scan-add").tap()
    page.locator('.scan-list li[data-verified="0"]').wait_for()
    page.locator(".scan-list li .scan-remove").tap()
    assert page.locator(".scan-list li").count() == 0
    page.locator(".scan-code").fill(CHECKPOINT_CODE)
    page.locator(".scan-add").tap()
    page.locator('.scan-list li[data-verified="1"]').wait_for()  # found in the checkpoint table kept offline
    assert CHECKPOINT_NAME in page.locator(".scan-list").inner_text()
    page.locator(SUBMIT).tap()
    page.locator('.queue-notice[data-state="queued"]').wait_for()
    assert patrol_state(app, second)["submissions"] == 0
    assert submit_posts(live_server, second) == []

    # 3. The browser is closed and started again, still offline: the list and the queue are on the tablet.
    context.close()
    context = launch_tablet(chromium_browser, profile, live_server, recorder, offline=True)
    page = recorder.page(context)
    page.goto(live_server.url + "/s/TEST/today")
    page.locator("#offline-queue .queue-entry").wait_for()
    assert page.locator("#offline-queue").get_attribute("data-pending") == "1"
    wait_until_kept(page, 2, 2)  # offline it only asks which forms are kept

    # 4. Back online: the queue sends the patrol once.
    context.set_offline(False)
    page.locator('#offline-queue .queue-result[data-state="accepted"]').wait_for(timeout=20_000)
    assert page.locator("#offline-queue").get_attribute("data-pending") == "0"
    # The list is refreshed: the submitted patrol is no longer one to keep; the other one still is.
    page.wait_for_function(f"() => !document.querySelector('.patrol-card[data-offline-patrol=\"{second}\"]')")
    wait_until_kept(page, 1, 1)

    state = patrol_state(app, second)
    assert state["status"] == "submitted" and state["submissions"] == 1
    assert state["answers"] == {0: ("fail", "消火栓箱门损坏"), 1: ("pass", None), 2: ("pass", None),
                                3: ("pass", None)}
    assert state["photos"] == [(state["items"][0], "image/jpeg", 1600, 1200)]
    assert state["scans"] == [(CHECKPOINT_CODE, "typed")]
    assert submit_posts(live_server, second, ["200"]) == ["200"]
    with app.app_context():
        issues = list(db.session.scalars(sa.select(Issue).where(Issue.patrol_id == second)))
        a01 = db.session.scalar(sa.select(Grid.id).where(Grid.code == "A01"))
        assert [(i.item_id, i.grid_id) for i in issues] == [(state["items"][0], a01)]
    untouched = patrol_state(app, first)
    assert untouched["status"] != "submitted" and untouched["submissions"] == 0
    context.close()
    recorder.assert_clean()


def test_todays_list_drops_yesterdays_pages_but_keeps_a_draft_and_logging_out_drops_all(
        app, live_server, chromium_browser, tmp_path):
    world = two_days(app)
    dropped, drafted = world["yesterday"]
    recorder = Recorder()
    context = launch_tablet(chromium_browser, tmp_path / "tablet-profile", live_server, recorder)
    page = recorder.page(context)
    log_in(page, live_server, leader0())
    wait_for_service_worker(page)

    # Yesterday: both patrols' pages were opened, so the tablet has them; one has a draft on the tablet.
    for patrol_id in (dropped, drafted):
        page.goto(f"{live_server.url}/s/TEST/patrols/{patrol_id}")
    page.wait_for_function(f"""() => caches.keys().then((names) => Promise.all(names.map((n) => caches.open(n)
        .then((c) => c.match('{live_server.url}/s/TEST/patrols/{drafted}'))))).then((found) => found.some(Boolean))""")
    assert f"/s/TEST/patrols/{dropped}" in page.evaluate(PAGES_KEPT)
    page.evaluate("""(patrolId) => new Promise((resolve, reject) => {
        const open = indexedDB.open('gridpatrol');
        open.onsuccess = () => {
          const tx = open.result.transaction('drafts', 'readwrite');
          tx.objectStore('drafts').put({patrolId: String(patrolId), answers: {}, updatedAt: new Date().toISOString()});
          tx.oncomplete = () => resolve();
          tx.onerror = () => reject(tx.error);
        };
      })""", drafted)

    # Today: opening the list keeps today's patrols and drops yesterday's, except the one with a draft.
    page.goto(live_server.url + "/s/TEST/today")
    wait_until_kept(page, 2, 2)
    kept = page.evaluate(PAGES_KEPT)
    assert f"/s/TEST/patrols/{dropped}" not in kept
    assert f"/s/TEST/patrols/{drafted}" in kept
    assert [path for path in kept if "/patrols/" in path] == sorted(
        [f"/s/TEST/patrols/{i}" for i in (*world["today"], drafted)]
        + [f"/api/v1/sites/TEST/patrols/{i}/checkpoints" for i in world["today"]])

    # Offline, the dropped page is not on the tablet any more; the drafted one is.
    context.set_offline(True)
    page.goto(f"{live_server.url}/s/TEST/patrols/{dropped}")
    assert "这一页没有保存在本机" in page.locator("main").inner_text()
    page.goto(f"{live_server.url}/s/TEST/patrols/{drafted}")
    assert "这一页没有保存在本机" not in page.locator("main").inner_text()
    assert "A01" in page.locator("main h1").inner_text()

    # Logging out drops every kept page and table: the next person on the tablet must not see them.
    context.set_offline(False)
    page.goto(live_server.url + "/s/TEST/today")
    wait_until_kept(page, 2, 2)
    with page.expect_navigation():
        page.locator(LOGOUT_BUTTON).tap()
    page.wait_for_function(PAGES_KEPT.replace(".sort())", ".sort()).then((paths) => paths.length === 0)"))
    context.close()
    recorder.assert_clean()
