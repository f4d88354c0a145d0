"""The checklist form of a 60-item standard in a corridor, and the tables of the patrol pages, on a 768×1024 tablet.

A real headless Chromium against the real app under gunicorn, over the demo compound with a few days of history:
- the sticky count of answered items follows the answers; "本组全部合格" marks only the unanswered items of its
  group as passed (a fail or N/A given stays), each can be changed back, the draft in IndexedDB holds them, and
  the last group action can be undone;
- "下一个未填项" jumps to (and focuses) the next unanswered item, after the one in focus, then from the top;
- the list of unanswered items shown on submitting follows the answers and disappears when all are answered;
- after submitting online, the leader sees the score and the issues the failed items raised, linked; the
  patrol's page links the failed item to its issue;
- no cell of the tables on the form, result, today, board, issue queue and points pages breaks a short word
  (合格, 网格, a name) over two lines, and no page scrolls sideways.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from gridpatrol.core.transaction import job_transaction
from gridpatrol.demo import services as demo
from gridpatrol.extensions import db
from gridpatrol.grids.models import Grid, Site
from gridpatrol.history import services as history
from gridpatrol.issues.models import Issue
from gridpatrol.patrols import services as patrols
from gridpatrol.patrols.models import Patrol, PatrolPlan, PlanGrid, PlanKind, Recurrence
from tests.browser.test_tablet import LOGIN_SUBMIT, translate

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SITE = "DHXZ"
GRID = "A19"  # wangge01 (李建国) leads it in the demo
SUBMIT = "#patrol-form .submit-bar button[type=submit]"
SCREENSHOTS = "/tmp/gridpatrol-form-{}.png"


# --- data -------------------------------------------------------------------------------------------------
@pytest.fixture
def compound(app) -> dict:
    """The demo compound with four days of history, and a patrol of A19 (wangge01) whose window is open now."""
    now = dt.datetime.now(dt.timezone.utc)
    with app.app_context(), job_transaction() as session:
        start = history.days_before(now, 4, "Asia/Shanghai")
        demo.load_demo(session, history_start=start)
        session.commit()
        history.play(session, start=start, end=now)
    with app.app_context(), job_transaction() as session:
        site = session.scalar(sa.select(Site).where(Site.code == SITE))
        grid = session.scalar(sa.select(Grid).where(Grid.site_id == site.id, Grid.code == GRID))
        routine = session.scalar(sa.select(PatrolPlan).join(PlanGrid).where(PlanGrid.grid_id == grid.id,
                                                                            PatrolPlan.kind == PlanKind.ROUTINE.value))
        opens = (now - dt.timedelta(minutes=30)).astimezone(dt.timezone(dt.timedelta(hours=8)))
        plan = patrols.save_plan(session, site, patrols.PlanInput(
            name="午间加巡", kind=PlanKind.SPECIAL, template=routine.template, recurrence=Recurrence.DAILY,
            window_start=opens.time().replace(second=0, microsecond=0), window_minutes=240, grace_minutes=60,
            starts_on=opens.date(), grids=[grid]), actor=None, now=now)
        patrols.materialize(session, now)
        patrol = session.scalar(sa.select(Patrol).where(Patrol.plan_id == plan.id, Patrol.window_start <= now))
        assert patrol is not None, "the extra plan's window does not cover now"
        return {"patrol_id": patrol.id}


def _log_in(page, server, username):
    page.goto(server.url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", demo.DEMO_PASSWORD)
    with page.expect_navigation():
        page.click(LOGIN_SUBMIT)
    assert re.match(re.escape(server.url) + r"/s/[A-Z0-9_-]+/", page.url), f"login landed on {page.url}"


# --- the form ---------------------------------------------------------------------------------------------
def _answers(page) -> list[str | None]:
    return page.evaluate("""() => Array.from(document.querySelectorAll('#patrol-form .check-item')).map(
        (item) => { const c = item.querySelector('input[type=radio]:checked'); return c ? c.value : null; })""")


def _groups(page) -> list[tuple[str, int]]:
    """(category, first item index) of each group, in page order."""
    return page.evaluate("""() => {
        const items = Array.from(document.querySelectorAll('#patrol-form .check-item'));
        return Array.from(document.querySelectorAll('#patrol-form fieldset.category')).map((f) =>
            [f.dataset.category, items.indexOf(f.querySelector('.check-item'))]);
    }""")


def _group_of(page, category: str) -> list[int]:
    return page.evaluate("""(category) => Array.from(document.querySelectorAll('#patrol-form .check-item'))
        .map((item, i) => item.dataset.category === category ? i : -1).filter((i) => i >= 0)""", category)


def _item(page, index: int):
    return page.locator("#patrol-form .check-item").nth(index)


def _answer(page, index: int, result: str) -> None:
    _item(page, index).locator(f"label.answer-{result}").tap()


def _progress(page) -> tuple[int, int]:
    bar = page.locator(".form-progress")
    return int(bar.get_attribute("data-done")), int(bar.get_attribute("data-total"))


def _focused_item(page) -> int:
    return page.evaluate("""() => {
        const item = document.activeElement && document.activeElement.closest('.check-item');
        return item ? Array.from(document.querySelectorAll('#patrol-form .check-item')).indexOf(item) : -1;
    }""")


def _draft_answers(page, patrol_id: int) -> dict:
    return page.evaluate("""(id) => new Promise((resolve, reject) => {
        const open = indexedDB.open('gridpatrol');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const read = open.result.transaction('drafts', 'readonly').objectStore('drafts').get(String(id));
          read.onsuccess = () => resolve(read.result ? read.result.answers : null);
        };
      })""", patrol_id)


def _item_ids(page) -> list[str]:
    return page.evaluate("() => Array.from(document.querySelectorAll('#patrol-form .check-item'))"
                         ".map((item) => item.dataset.itemId)")


def _marked(page) -> set[int]:
    return set(page.evaluate("""() => Array.from(document.querySelectorAll('#patrol-form .check-item'))
        .map((item, i) => item.classList.contains('unanswered') ? i : -1).filter((i) => i >= 0)"""))


def _in_view_below_the_bar(page, index: int) -> bool:
    return page.evaluate("""(i) => {
        const r = document.querySelectorAll('#patrol-form .check-item')[i].getBoundingClientRect();
        const bar = document.querySelector('.form-progress').getBoundingClientRect();
        return r.top >= bar.bottom - 1 && r.top < window.innerHeight;
    }""", index)


def test_progress_group_pass_next_item_and_the_live_list(app, compound, live_server, tablet):
    page, record = tablet
    patrol_id = compound["patrol_id"]
    _log_in(page, live_server, "wangge01")
    page.goto(f"{live_server.url}/s/{SITE}/patrols/{patrol_id}")
    page.locator(".form-progress").wait_for()

    total = page.locator("#patrol-form .check-item").count()
    groups = _groups(page)
    assert total >= 10 and len(groups) >= 3, "the demo's daily standard has several groups"
    assert _progress(page) == (0, total)
    count_text = page.locator(".form-progress .progress-count")
    assert count_text.inner_text() == translate(app, "zh", "Answered %(done)s / %(total)s", done=0, total=total)
    bar_box = page.locator(".form-progress").bounding_box()

    # The count follows the answers, and stays on screen while scrolling (sticky).
    first, second, third = (_group_of(page, groups[n][0]) for n in range(3))
    _answer(page, first[0], "fail")
    _answer(page, first[1], "na")
    assert _progress(page) == (2, total)
    page.mouse.wheel(0, 3000)
    page.wait_for_function("() => window.scrollY > 2000")
    sticky = page.locator(".form-progress").bounding_box()
    assert 0 <= sticky["y"] <= 1 and sticky["height"] == pytest.approx(bar_box["height"], abs=1)
    assert count_text.inner_text() == translate(app, "zh", "Answered %(done)s / %(total)s", done=2, total=total)

    # 本组全部合格: only the unanswered items of that group become 合格.
    group_pass = page.locator(f'button.group-pass[data-category="{groups[0][0]}"]')
    assert group_pass.inner_text().strip() == translate(app, "zh", "All of this group pass")
    group_pass.tap()
    answers = _answers(page)
    assert answers[first[0]] == "fail" and answers[first[1]] == "na", "answers given stay"
    assert all(answers[i] == "pass" for i in first[2:])
    assert all(a is None for i, a in enumerate(answers) if i not in first), "other groups are untouched"
    assert _progress(page) == (len(first), total)

    # The leader changes one back to 不合格; the draft on the tablet holds exactly what the form shows.
    _answer(page, first[2], "fail")
    assert _answers(page)[first[2]] == "fail"
    assert _progress(page) == (len(first), total)
    page.locator('.draft-status[data-state="saved"]').wait_for()
    shown = {item_id: a for item_id, a in zip(_item_ids(page), _answers(page)) if a}
    page.wait_for_function("""([id, n]) => new Promise((resolve) => {
        const open = indexedDB.open('gridpatrol');
        open.onsuccess = () => {
          const read = open.result.transaction('drafts', 'readonly').objectStore('drafts').get(String(id));
          read.onsuccess = () => resolve(!!read.result && Object.keys(read.result.answers).length === n);
        };
      })""", arg=[patrol_id, len(shown)])
    assert _draft_answers(page, patrol_id) == shown
    page.reload()
    page.locator('.draft-status[data-state="restored"]').wait_for()
    assert {i: a for i, a in zip(_item_ids(page), _answers(page)) if a} == shown
    assert _progress(page) == (len(first), total)

    # The last group action can be undone: the second group is empty again.
    page.locator(f'button.group-pass[data-category="{groups[1][0]}"]').tap()
    assert all(_answers(page)[i] == "pass" for i in second)
    undo = page.locator(".form-progress .undo-group")
    assert undo.is_visible()
    undo.tap()
    assert all(_answers(page)[i] is None for i in second)
    assert _progress(page) == (len(first), total)
    assert undo.is_hidden()

    # 下一个未填项: after the item in focus; from the top when nothing after it is open.
    _item(page, first[3]).locator("label.answer-pass").tap()
    page.locator(".form-progress .next-unanswered").tap()
    assert _focused_item(page) == second[0]
    assert _in_view_below_the_bar(page, second[0])
    for group in groups[2:]:
        page.locator(f'button.group-pass[data-category="{group[0]}"]').tap()
    _answer(page, second[-1], "pass")  # focus on the last item of the second group; only earlier ones are open
    page.locator(".form-progress .next-unanswered").tap()
    assert _focused_item(page) == second[0], ("nothing open after the focus: the first open item",
                                              second, groups, _answers(page))

    # The list of unanswered items on submitting follows the answers and goes when all are answered.
    page.locator(SUBMIT).tap()
    errors = page.locator(".form-errors")
    codes = [_item(page, i).locator(".item-code").inner_text() for i in second[:-1]]
    assert all(code in errors.inner_text() for code in codes)
    # Marked: the unanswered items, and a failed item that needs a photo and has none.
    needs_photo = {i for i in (first[0], first[2]) if _item(page, i).get_attribute("data-photo-on-fail") == "1"}
    assert _marked(page) == set(second[:-1]) | needs_photo
    _answer(page, second[0], "pass")
    assert codes[0] not in errors.inner_text() and codes[1] in errors.inner_text()
    assert _marked(page) == set(second[1:-1]) | needs_photo
    for i in second[1:-1] + sorted(needs_photo):
        _answer(page, i, "pass")  # no photo in this test: a failed item that needs one passes after all
    assert errors.inner_text().strip() == ""
    assert _marked(page) == set()
    assert _progress(page) == (total, total)
    assert page.locator(".form-progress .next-unanswered").is_disabled()
    with app.app_context():
        assert db.session.get(Patrol, patrol_id).status != "submitted", "nothing was sent yet"

    # Online: the score and the issues the failed items raised, linked; the leader stays to see them.
    failed = [i for i, a in enumerate(_answers(page)) if a == "fail"]
    if not failed:  # both were photo items: fail one that needs no photo
        plain = next(i for i in second if _item(page, i).get_attribute("data-photo-on-fail") == "0")
        _answer(page, plain, "fail")
        failed = [plain]
    page.locator(SUBMIT).tap()
    notice = page.locator('.queue-notice[data-state="accepted"]')
    notice.wait_for()
    links = notice.locator("a.follow-up")
    assert links.count() == len(failed)
    with app.app_context():
        issues = {i.item_id: i.id for i in db.session.scalars(sa.select(Issue).where(Issue.patrol_id == patrol_id))}
    ids = _item_ids(page)
    expected = sorted(f"/s/{SITE}/issues/{issues[int(ids[i])]}" for i in failed)
    assert sorted(links.nth(n).get_attribute("href") for n in range(links.count())) == expected
    page.wait_for_timeout(1000)
    assert page.url.endswith(f"/patrols/{patrol_id}"), "with issues raised the form does not leave"
    page.screenshot(path=SCREENSHOTS.format("submitted"), full_page=False)

    # The patrol's page links each failed item to its issue.
    page.goto(f"{live_server.url}/s/{SITE}/patrols/{patrol_id}")
    assert sorted(a.get_attribute("href") for a in page.locator(".result-cell a.follow-up").all()) == expected
    for n in range(links.count()):
        assert page.locator(".result-cell a.follow-up").nth(n).bounding_box()["height"] >= 44
    assert not record.page_errors, record.page_errors
    assert not record.csp_violations, record.csp_violations


# --- tables: no short word broken over two lines ------------------------------------------------------------
# For every header and cell of a table, every badge and the facts' labels: each run of 2–6 characters between
# spaces and punctuation (合格, 网格长, 李建国, A19, 已结案问题) must lie on one line.
_BROKEN_WORDS_JS = r"""
() => {
  const broken = [];
  const separators = /[\s,，、。；;：:（）()\[\]·•\/|–—-]+/;
  const nodes = document.querySelectorAll(
    "table.list th, table.list td, .badge, .facts dt, .answer, .group-pass, .progress-count, .patrol-card .badge");
  for (const el of nodes) {
    if (!el.getClientRects().length) continue;
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.nodeValue;
      let at = 0;
      for (const word of text.split(separators)) {
        const start = text.indexOf(word, at);
        at = start + word.length;
        if (word.length < 2 || word.length > 6) continue;
        const range = document.createRange();
        range.setStart(node, start);
        range.setEnd(node, start + word.length);
        const tops = new Set(Array.from(range.getClientRects()).filter((r) => r.width > 0)
                                 .map((r) => Math.round(r.top / 4)));
        if (tops.size > 1) broken.push(el.tagName.toLowerCase() + "." + el.className + ": " + word);
      }
    }
  }
  return {broken, scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth};
}
"""


def _broken_words(page, where: str) -> list[str]:
    found = page.evaluate(_BROKEN_WORDS_JS)
    problems = [f"{where}: {b}" for b in found["broken"]]
    if found["scrollWidth"] > found["innerWidth"]:
        problems.append(f"{where}: the page scrolls sideways ({found['scrollWidth']} > {found['innerWidth']} px)")
    return problems


def test_no_table_cell_breaks_a_short_word_at_768_px(app, compound, live_server, new_tablet_page):
    with app.app_context():
        # The compound's (DHXZ's) latest patrol that raised an issue: the annex's would be another site's page.
        done = db.session.scalar(sa.select(Patrol.id).join(Issue, Issue.patrol_id == Patrol.id)
                                 .join(Site, Site.id == Patrol.site_id)
                                 .where(Patrol.status == "submitted", Site.code == SITE)
                                 .order_by(Patrol.id.desc()).limit(1))
        assert done is not None, "four days of history raise an issue from a failed item"
    problems: list[str] = []

    page, record = new_tablet_page()
    _log_in(page, live_server, "zhuguan")
    for name, path in [("board", "/patrols/board"), ("issue-queue", "/issues"), ("points", "/points/"),
                       ("result", f"/patrols/{done}")]:
        page.goto(f"{live_server.url}/s/{SITE}{path}")
        assert page.locator("table.list tbody tr").count() > 1, f"{name} has rows to measure"
        problems += _broken_words(page, name)
        page.screenshot(path=SCREENSHOTS.format(name), full_page=True)

    page, record = new_tablet_page()
    _log_in(page, live_server, "wangge01")
    for name, path in [("today", "/today"), ("form", f"/patrols/{compound['patrol_id']}"), ("my-points", "/points/me")]:
        page.goto(f"{live_server.url}/s/{SITE}{path}")
        if name == "form":
            page.locator(".form-progress").wait_for()
            assert page.locator(".answer").count() > 0 and page.locator("button.group-pass").count() > 0
        problems += _broken_words(page, name)
        page.screenshot(path=SCREENSHOTS.format(name), full_page=name != "form")
    assert not record.page_errors, record.page_errors
    assert not problems, "short words broken over two lines:\n" + "\n".join(problems)
