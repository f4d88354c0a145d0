"""Points pages over HTTP: who may see and do what, appeals filed and decided, closing a month (twice),
downloads, the ledger check and a rules change. The clock stands at 2 December 2026, 10:00 in Shanghai."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
import sqlalchemy as sa
import time_machine
from flask_babel import force_locale
from openpyxl import load_workbook

from gridpatrol.audit import services as audit
from gridpatrol.extensions import db
from gridpatrol.points.models import Appeal, MonthClose, PointsEntry, RuleSet
from gridpatrol.points.rules import RULE_LABELS
from tests import helpers
from tests.points.test_table import DEC, NOV, build_november, user

NOW = dt.datetime(2026, 12, 2, 2, 0, tzinfo=dt.timezone.utc)  # 10:00 in Shanghai
ROLES = ("root", "boss", "leader0", "clerk", "fixer")  # admin, supervisor, grid leader, staff, rectifier


@pytest.fixture
def world(app):
    with time_machine.travel(NOW, tick=False):
        ids = build_november(app)
        yield ids


def client_for(app, username):
    client = app.test_client()
    assert helpers.login(client, helpers.Credentials(0, username, helpers.DEFAULT_PASSWORD)).status_code == 302
    return client


def _entry_id(app, username, rule_code, month=NOV):
    with app.app_context():
        return db.session.scalar(sa.select(PointsEntry.id).join(PointsEntry.user).where(
            PointsEntry.rule_code == rule_code, PointsEntry.month == month,
            PointsEntry.user.has(username=username)).order_by(PointsEntry.id))


def _user_id(app, username):
    with app.app_context():
        return user(db.session, username).id


def _post(client, path, data=None, token_from="/"):
    return helpers.post_form(client, path, data or {}, token_from=token_from)


def test_pages_per_role(app, world):
    leader1 = _user_id(app, "leader1")
    gets = {
        "/s/TEST/points/?month=2026-11": {"root": 200, "boss": 200, "leader0": 403, "clerk": 403, "fixer": 403},
        "/s/TEST/points/me?month=2026-11": {"root": 200, "boss": 200, "leader0": 200, "clerk": 403, "fixer": 403},
        f"/s/TEST/points/me?month=2026-11&user={leader1}": {"root": 200, "boss": 200, "leader0": 403, "clerk": 403,
                                                    "fixer": 403},
        "/s/TEST/points/check?month=2026-11": {"root": 200, "boss": 200, "leader0": 403, "clerk": 403, "fixer": 403},
        "/s/TEST/points/rules": {"root": 200, "boss": 200, "leader0": 403, "clerk": 403, "fixer": 403},
        "/s/TEST/points/export.xlsx?month=2026-11": {"root": 200, "boss": 200, "leader0": 403, "clerk": 403, "fixer": 403},
        "/s/TEST/points/export.csv?month=2026-11": {"root": 200, "boss": 200, "leader0": 403, "clerk": 403, "fixer": 403},
        "/s/TEST/points/export-year.xlsx?year=2026": {"root": 200, "boss": 200, "leader0": 403, "clerk": 403, "fixer": 403},
    }
    clients = {name: client_for(app, name) for name in ROLES}
    for path, expected in gets.items():
        got = {name: clients[name].get(path).status_code for name in ROLES}
        assert got == expected, path
        assert app.test_client().get(path).status_code == 302  # not logged in: to the login page
    denied = [e.actor_name for e in helpers.audit_actions(app, audit.PERMISSION_DENIED)]
    assert sorted(set(denied)) == ["clerk", "fixer", "leader0"]
    assert len(denied) == sum(1 for expected in gets.values() for status in expected.values() if status == 403)


def test_writes_per_role_are_refused_and_audited(app, world):
    entry = _entry_id(app, "leader0", "missed_in_own_grid")
    clerk_entry = _entry_id(app, "clerk", "issue_found_critical")
    with app.app_context():
        appeal_id = db.session.scalar(sa.select(Appeal.id))
    for name in ("leader0", "clerk", "fixer"):
        client = client_for(app, name)
        token_page = "/s/TEST/points/me" if name == "leader0" else "/login"
        assert _post(client, "/s/TEST/points/close", {"site": "TEST", "month": "2026-11"}, token_page).status_code == 403
        assert _post(client, f"/s/TEST/points/appeals/{appeal_id}/decide",
                     {f"a{appeal_id}-decision": "uphold", f"a{appeal_id}-note": "x"}, token_page).status_code == 403
        assert _post(client, "/s/TEST/points/rules", {"effective_from": "2027-01"}, token_page).status_code == 403
    # appeals: only grid leaders, only their own entries
    assert _post(client_for(app, "clerk"), f"/s/TEST/points/entries/{clerk_entry}/appeal", {f"e{clerk_entry}-reason": "x"},
                 "/login").status_code == 403
    boss = client_for(app, "boss")
    assert _post(boss, f"/s/TEST/points/entries/{entry}/appeal", {f"e{entry}-reason": "x"}).status_code == 403
    leader1 = client_for(app, "leader1")
    assert _post(leader1, f"/s/TEST/points/entries/{entry}/appeal", {f"e{entry}-reason": "x"}, "/s/TEST/points/me").status_code == 403
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(MonthClose)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Appeal)) == 1
        assert db.session.scalar(sa.select(sa.func.count()).select_from(RuleSet)) == 0
    assert len(helpers.audit_actions(app, audit.PERMISSION_DENIED)) == 3 * 3 + 3


def test_a_leader_sees_only_their_own_entries_with_links_and_appeals(app, world):
    page = client_for(app, "leader0").get("/s/TEST/points/me?month=2026-11").get_data(as_text=True)
    with app.app_context():
        own = list(db.session.scalars(sa.select(PointsEntry).where(PointsEntry.month == NOV).join(PointsEntry.user)
                                      .where(PointsEntry.user.has(username="leader0"))))
        others = list(db.session.scalars(sa.select(PointsEntry.id).where(
            PointsEntry.month == NOV, ~PointsEntry.user.has(username="leader0"))))
    shown = {int(i) for i in re.findall(r'id="entry-(\d+)"', page)}
    assert shown == {e.id for e in own} and not shown & set(others)
    assert "<strong>+4</strong>" in page
    for e in own:
        if e.source_type == "patrol":
            assert f'href="/s/TEST/patrols/{e.source_id}"' in page
        elif e.source_type == "issue":
            assert f'href="/s/TEST/issues/{e.source_id}"' in page
    # one appeal form per entry: not for the correction, not for the entry appealed already
    forms = set(int(i) for i in re.findall(r'action="/s/TEST/points/entries/(\d+)/appeal"', page))
    appealed = next(e.id for e in own if e.rule_code == "missed_in_own_grid" and e.id in {
        a for a in _appealed_entries(app)})
    correction = next(e.id for e in own if e.rule_code == "appeal_overturned")
    assert forms == {e.id for e in own} - {appealed, correction}
    assert "该问题当日已报修" in page and "核实属实" in page  # their appeal and its decision
    assert _label(app, "patrol_on_time") in page and _label(app, "missed_in_own_grid") in page  # rule labels


def _label(app, code, locale="zh"):
    with app.app_context(), force_locale(locale):
        return str(RULE_LABELS[code])


def _differences(page: str) -> int:
    return int(re.search(r'class="difference-count">(\d+)', page).group(1))


def _appealed_entries(app):
    with app.app_context():
        return set(db.session.scalars(sa.select(Appeal.entry_id)))


def test_a_supervisor_sees_a_leaders_page_read_only(app, world):
    page = client_for(app, "boss").get(f"/s/TEST/points/me?month=2026-11&user={_user_id(app, 'leader1')}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Leader1" in html and "/appeal" not in html
    assert "<strong>+3</strong>" in html


def test_appeal_filed_and_overturned_over_http(app, world):
    leader0 = client_for(app, "leader0")
    entry = _entry_id(app, "leader0", "patrol_missed")
    path = f"/s/TEST/points/entries/{entry}/appeal"
    response = _post(leader0, path, {f"e{entry}-reason": "  "}, "/s/TEST/points/me")
    assert response.status_code == 422
    response = _post(leader0, path, {f"e{entry}-reason": "当天在市里开会，已请假"}, "/s/TEST/points/me")
    assert response.status_code == 302
    assert _post(leader0, path, {f"e{entry}-reason": "again"}, "/s/TEST/points/me").status_code == 422  # once only
    correction = _entry_id(app, "leader0", "appeal_overturned")
    assert _post(leader0, f"/s/TEST/points/entries/{correction}/appeal", {f"e{correction}-reason": "x"},
                 "/s/TEST/points/me").status_code == 422  # a correction cannot be appealed
    with app.app_context():
        appeal = db.session.scalar(sa.select(Appeal).where(Appeal.entry_id == entry))
        assert appeal.state == "open" and appeal.reason == "当天在市里开会，已请假"
    boss = client_for(app, "boss")
    page = boss.get("/s/TEST/points/?month=2026-11").get_data(as_text=True)
    assert f'id="appeal-{appeal.id}"' in page and "当天在市里开会" in page
    decide = f"/s/TEST/points/appeals/{appeal.id}/decide?month=2026-11"
    assert _post(boss, decide, {f"a{appeal.id}-decision": "overturn", f"a{appeal.id}-note": ""}).status_code == 422
    response = _post(boss, decide, {f"a{appeal.id}-decision": "overturn", f"a{appeal.id}-note": "请假属实"})
    assert response.status_code == 302
    assert _post(boss, decide, {f"a{appeal.id}-decision": "uphold", f"a{appeal.id}-note": "x"}).status_code == 422
    with app.app_context():
        appeal = db.session.get(Appeal, appeal.id)
        correction = db.session.get(PointsEntry, appeal.correction_id)
        assert (appeal.state, appeal.decision_note) == ("overturned", "请假属实")
        # decided on 2 December: the correction is December's, and names the entry it corrects
        assert (correction.points, correction.month, correction.corrects_id) == (3, DEC, entry)
    assert [e.action for e in helpers.audit_actions(app) if e.action.startswith("points.appeal")][-2:] == [
        "points.appeal_filed", "points.appeal_overturned"]
    page = leader0.get("/s/TEST/points/me?month=2026-11").get_data(as_text=True)
    assert "请假属实" in page


def test_upholding_needs_a_note_and_changes_nothing(app, world):
    leader0 = client_for(app, "leader0")
    entry = _entry_id(app, "leader0", "patrol_late")
    _post(leader0, f"/s/TEST/points/entries/{entry}/appeal", {f"e{entry}-reason": "网络故障"}, "/s/TEST/points/me")
    with app.app_context():
        appeal_id = db.session.scalar(sa.select(Appeal.id).where(Appeal.entry_id == entry))
        before = db.session.scalar(sa.select(sa.func.count()).select_from(PointsEntry))
    boss = client_for(app, "boss")
    response = _post(boss, f"/s/TEST/points/appeals/{appeal_id}/decide?month=2026-11",
                     {f"a{appeal_id}-decision": "uphold", f"a{appeal_id}-note": "系统记录为准"})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Appeal, appeal_id).state == "upheld"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PointsEntry)) == before


def test_close_month_over_http_twice_is_a_no_op_and_later_corrections_go_to_december(app, world):
    boss = client_for(app, "boss")
    page = boss.get("/s/TEST/points/?month=2026-11").get_data(as_text=True)
    assert 'action="/s/TEST/points/close"' in page
    assert 'action="/s/TEST/points/close"' not in boss.get("/s/TEST/points/?month=2026-12").get_data(as_text=True)  # not ended
    assert _post(boss, "/s/TEST/points/close", {"site": "TEST", "month": "2026-11"}).status_code == 302
    assert _post(boss, "/s/TEST/points/close", {"site": "TEST", "month": "2026-11"}).status_code == 302  # nothing new
    assert _post(boss, "/s/TEST/points/close", {"site": "TEST", "month": "2026-12"}).status_code == 422  # not ended
    with app.app_context():
        assert [(c.month, c.closed_by_id) for c in db.session.scalars(sa.select(MonthClose))] == [
            (NOV, _user_id(app, "boss"))]
    assert len(helpers.audit_actions(app, "points.month_closed")) == 1
    page = boss.get("/s/TEST/points/?month=2026-11").get_data(as_text=True)
    assert 'action="/s/TEST/points/close"' not in page and "2026-12-02 10:00" in page  # closed, and when
    # an appeal of a November entry decided now: the correction goes to December; November stays as closed
    november_xlsx = boss.get("/s/TEST/points/export.xlsx?month=2026-11").data
    leader0 = client_for(app, "leader0")
    entry = _entry_id(app, "leader0", "patrol_missed")
    _post(leader0, f"/s/TEST/points/entries/{entry}/appeal", {f"e{entry}-reason": "已请假"}, "/s/TEST/points/me")
    with app.app_context():
        appeal_id = db.session.scalar(sa.select(Appeal.id).where(Appeal.entry_id == entry))
    _post(boss, f"/s/TEST/points/appeals/{appeal_id}/decide?month=2026-11",
          {f"a{appeal_id}-decision": "overturn", f"a{appeal_id}-note": "请假属实"})
    with app.app_context():
        assert db.session.scalar(sa.select(PointsEntry.month).where(PointsEntry.source_type == "appeal",
                                                                    PointsEntry.corrects_id == entry)) == DEC
    again = boss.get("/s/TEST/points/export.xlsx?month=2026-11").data
    first, second = load_workbook(io.BytesIO(november_xlsx)), load_workbook(io.BytesIO(again))
    for name in ("积分表", "积分明细"):
        a = [[c.value for c in row] for row in first[name].iter_rows()]
        b = [[c.value for c in row] for row in second[name].iter_rows()]
        if name == "积分表":
            a[2] = b[2] = None  # the "generated" line
        assert a == b
    december = boss.get("/s/TEST/points/export.csv?month=2026-12").data.decode("utf-8-sig")
    rows = {r[1]: r for r in csv.reader(io.StringIO(december))}
    assert rows["Leader0"][-2:] == ["3", "3.0"]  # points, points per grid


def test_downloads_are_named_and_typed(app, world):
    boss = client_for(app, "boss")
    response = boss.get("/s/TEST/points/export.xlsx?month=2026-11")
    assert response.headers["Content-Disposition"] == 'attachment; filename="points-TEST-2026-11.xlsx"'
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert load_workbook(io.BytesIO(response.data))["积分表"]["O9"].value == 10
    response = boss.get("/s/TEST/points/export.csv?month=2026-11")
    assert response.data.startswith(b"\xef\xbb\xbf") and response.mimetype == "text/csv"
    assert boss.get("/s/TEST/points/export.pdf?month=2026-11").status_code == 404
    assert boss.get("/s/TEST/points/?month=2026-13").status_code == 400  # the address: core/query.py
    year = load_workbook(io.BytesIO(boss.get("/s/TEST/points/export-year.xlsx?year=2026").data))
    assert year.sheetnames[0] == "年度汇总" and year.sheetnames[-1] == "2026-12"


def test_the_ranking_page_shows_the_table_and_the_check(app, world):
    boss = client_for(app, "boss")
    page = boss.get("/s/TEST/points/?month=2026-11").get_data(as_text=True)
    for name in ("Leader0", "Leader1", "Leader2"):
        assert name in page
    assert "/s/TEST/points/check?month=2026-11" in page
    assert 'href="/s/TEST/points/export.xlsx?month=2026-11"' in page
    assert _differences(boss.get("/s/TEST/points/check?month=2026-11").get_data(as_text=True)) == 0
    with app.app_context():
        db.session.execute(sa.delete(PointsEntry).where(PointsEntry.id == _entry_id(app, "leader1", "patrol_late")))
        db.session.commit()
    page = boss.get("/s/TEST/points/check?month=2026-11").get_data(as_text=True)
    assert _differences(page) == 1 and "Leader1" in page


def test_rules_change_over_http(app, world):
    boss = client_for(app, "boss")
    page = boss.get("/s/TEST/points/rules").get_data(as_text=True)
    assert 'value="2026-12"' in page and 'value="2026-11"' not in page  # only open months from this one on
    values = {"rule_patrol_on_time": "3", "rule_patrol_late": "1", "rule_patrol_missed": "-5",
              "rule_issue_found_minor": "1", "rule_issue_found_major": "3", "rule_issue_found_critical": "5",
              "rule_report_rejected": "0", "rule_missed_in_own_grid": "-1"}
    bad = dict(values, rule_patrol_on_time="500", effective_from="2027-01")
    assert _post(boss, "/s/TEST/points/rules", bad, "/s/TEST/points/rules").status_code == 422
    assert _post(boss, "/s/TEST/points/rules", dict(values, effective_from="2026-11"), "/s/TEST/points/rules").status_code == 422
    response = _post(boss, "/s/TEST/points/rules", dict(values, effective_from="2027-01", note="加大漏巡扣分"),
                     "/s/TEST/points/rules")
    assert response.status_code == 302
    with app.app_context():
        row = db.session.scalar(sa.select(RuleSet))
        assert (row.version, row.effective_from, row.rules["patrol_missed"], row.note) == (
            2, dt.date(2027, 1, 1), -5, "加大漏巡扣分")
    page = boss.get("/s/TEST/points/rules").get_data(as_text=True)
    timeline = re.findall(r'<td class="nowrap">(\d{4}-\d{2})[^<]*(?:<span[^>]*>[^<]*</span>)*[^<]*</td>\s*'
                          r"<td>v(\d+)</td>", page)
    versions = dict(timeline)
    assert versions["2026-12"] == "1" and versions["2027-01"] == "2" and versions["2027-03"] == "2"
    assert _post(client_for(app, "leader0"), "/s/TEST/points/rules", dict(values, effective_from="2027-02"),
                 "/s/TEST/points/me").status_code == 403


def test_navigation_entries(app, world):
    assert 'href="/s/TEST/points/me"' in client_for(app, "leader0").get("/s/TEST/points/me").get_data(as_text=True)
    boss_page = client_for(app, "boss").get("/s/TEST/points/").get_data(as_text=True)
    assert 'href="/s/TEST/points/"' in boss_page and 'href="/s/TEST/points/me"' not in boss_page
    clerk_page = client_for(app, "clerk").get("/").get_data(as_text=True)
    assert "/s/TEST/points/" not in clerk_page

