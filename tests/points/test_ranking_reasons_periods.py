"""Issue 13 in the points: a fair ranking (points per grid held, 并列, pinyin), 应巡 as of an instant, reasons told
from facts in the reader's language (never a rule code, no English on a Chinese page or paper), and the quarter,
half-year and year sums of the table. The November world is test_table.py's (its docstring has the figures)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from fractions import Fraction

import pytest
import sqlalchemy as sa
import time_machine
from openpyxl import load_workbook

from gridpatrol.accounts import services as accounts
from gridpatrol.core.time import Period
from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.issues.models import Issue
from gridpatrol.patrols.models import Patrol
from gridpatrol.points import export as exporting
from gridpatrol.points import ranking
from gridpatrol.points import services as points
from gridpatrol.points import table as tables
from gridpatrol.points.models import PointsEntry
from gridpatrol.points.rules import CORRECTION_RULES, DEFAULT_RULES
from tests import helpers
from tests.patrols.builders import at
from tests.points.test_table import DEC, NOV, build_november, dispatch, submit, the_site, user

NOW = dt.datetime(2026, 12, 2, 2, 0, tzinfo=dt.timezone.utc)  # 10:00 in Shanghai
RULE_CODES = set(DEFAULT_RULES) | set(CORRECTION_RULES)
ENGLISH_WORD = re.compile(r"[A-Za-z]{2,}")  # a grid code (A01) has one letter; any word has two or more
FIGURES = ("patrols_due", "patrols_done", "on_time", "late", "missed", "score_sum", "scored", "found_minor",
           "found_major", "found_critical", "issues_closed", "points")


@pytest.fixture
def world(app):
    with time_machine.travel(NOW, tick=False):
        yield build_november(app)


def _rename(app, names: dict[str, str]) -> None:
    with app.app_context(), job_transaction() as session:
        for username, name in names.items():
            person = user(session, username)
            accounts.update_user(session, person, display_name=name, phone=person.phone, locale=person.locale,
                                 roles=person.roles_granted(), teams=list(person.teams), actor=None)


def _client(app, username):
    client = app.test_client()
    assert helpers.login(client, helpers.Credentials(0, username, helpers.DEFAULT_PASSWORD)).status_code == 302
    return client


# --- the ranking ---------------------------------------------------------------------------------------------
def test_rank_by_points_per_grid_ties_share_a_rank_and_list_by_pinyin():
    rows = [ranking.RankedLeader(1, "u1", "张伟", 4, 2), ranking.RankedLeader(2, "u2", "王芳", 2, 1),
            ranking.RankedLeader(3, "u3", "陈明", 3, 1), ranking.RankedLeader(4, "u4", "李娜", 6, 3),
            ranking.RankedLeader(5, "u5", "曾静", 1, 1), ranking.RankedLeader(6, "u6", "蔡文", 1, 1),
            ranking.RankedLeader(7, "u7", "单军", 1, 1), ranking.RankedLeader(8, "u8", "Zoe", 0, 2)]
    ranked = ranking.rank(rows)
    # 陈明 3 per grid; 李娜 6/3, 王芳 2/1, 张伟 4/2 all 2 (并列 2nd, by pinyin li < wang < zhang); then 1 per grid:
    # 蔡 cài < 单 shàn (a surname, not dān) < 曾 zēng (a surname, not céng); Zoe 0 over two grids
    assert [(r.name, r.rank) for r in ranked] == [
        ("陈明", 1), ("李娜", 2), ("王芳", 2), ("张伟", 2), ("蔡文", 5), ("单军", 5), ("曾静", 5), ("Zoe", 8)]
    assert [r.points_per_grid for r in ranked] == [3.0, 2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 0.0]
    # exact comparison: 10 points over 3 grids print as 3.33, as 333 over 100 do, but 10/3 is more: no tie
    assert ranking.per_grid_display(ranking.per_grid(10, 3)) == ranking.per_grid_display(ranking.per_grid(333, 100))
    close = ranking.rank([ranking.RankedLeader(2, "b", "乙", 333, 100), ranking.RankedLeader(1, "a", "甲", 10, 3)])
    assert [(r.name, r.rank, r.points_per_grid) for r in close] == [("甲", 1, 3.33), ("乙", 2, 3.33)]
    assert ranking.pinyin_key("战") < ranking.pinyin_key("张")  # the alphabet first, the tone second
    assert ranking.pinyin_key("曾") == ("zeng1",) and ranking.pinyin_key("曾国") == ("zeng1", "guo2")


def test_the_table_and_the_dashboard_rank_by_points_per_grid_with_ties_in_pinyin_order(app, world):
    _rename(app, {"leader0": "张三", "leader1": "李四", "leader2": "王五"})
    with app.app_context():
        site = the_site(db.session)
        november = tables.monthly_table(db.session, site, NOV)
        december = tables.monthly_table(db.session, site, DEC)
        dashboard = {month: ranking.month_ranking(db.session, site, month) for month in (NOV, DEC)}
    # November: 张三 4 points / 1 grid, 王五 3 / 1, 李四 3 / 2 grids (A02, A03): raw points would tie the last two
    assert [(r.name, r.points, r.grids_held, r.points_per_grid, r.rank) for r in november.rows] == [
        ("张三", 4, 1, 4.0, 1), ("王五", 3, 1, 3.0, 2), ("李四", 3, 2, 1.5, 3)]
    # December: nobody has points yet, all 并列 first, listed by pinyin (li, wang, zhang), not by code point
    assert [(r.name, r.rank) for r in december.rows] == [("李四", 1), ("王五", 1), ("张三", 1)]
    assert sorted(["张三", "李四", "王五"]) != [r.name for r in december.rows]
    for month, table in ((NOV, november), (DEC, december)):
        assert [(r.user_id, r.points, r.grids_held, r.rank) for r in dashboard[month]] == \
            [(r.user_id, r.points, r.grids_held, r.rank) for r in table.rows]


def test_the_page_shows_points_per_grid_and_the_rule(app, world):
    page = _client(app, "boss").get("/s/TEST/points/?month=2026-11").get_data(as_text=True)
    cells = re.findall(r'<td class="points-per-grid"><strong>([0-9.]+)</strong></td>', page)
    assert cells == ["4.00", "3.00", "1.50"]
    assert "ranking-notes" in page and "2026-11-30 24:00" in page  # the "as of" of an ended month


# --- 应巡 as of an instant ---------------------------------------------------------------------------------
def _due(app, as_of: str) -> dict[str, tuple[int, int, int, int, int]]:
    with app.app_context():
        table = tables.monthly_table(db.session, the_site(db.session), NOV, as_of=at(as_of))
    return {r.username: (r.patrols_due, r.patrols_done, r.on_time, r.late, r.missed) for r in table.rows}


def test_patrols_due_count_only_what_was_due_by_the_as_of_instant(app, world):
    # patrols on 2–5 November, window 08:00–10:00 (due 10:00, grace to 11:00); see test_table.py
    with app.app_context():
        due_at = {p.due_at for p in db.session.scalars(sa.select(Patrol))}
    assert at("2026-11-02 10:00") in due_at
    # 2 Nov 09:30: leader0 finished at 09:00 (done before it was due: counted), leader1's is not due yet
    assert _due(app, "2026-11-02 09:30") == {"leader0": (1, 1, 1, 0, 0), "leader1": (0, 0, 0, 0, 0),
                                             "leader2": (0, 0, 0, 0, 0)}
    # 3 Nov 12:00: two days due each, tomorrow's (and the 5th's) not counted; the 4th's are not yet missed
    assert _due(app, "2026-11-03 12:00") == {"leader0": (2, 2, 1, 1, 0), "leader1": (2, 2, 1, 1, 0),
                                             "leader2": (0, 0, 0, 0, 0)}
    # 4 Nov 12:00: the 4th's were missed
    assert _due(app, "2026-11-04 12:00") == {"leader0": (3, 2, 1, 1, 1), "leader1": (3, 2, 1, 1, 1),
                                             "leader2": (0, 0, 0, 0, 0)}
    # the month as a whole (as of now): all eight
    assert _due(app, "2026-12-02 10:00") == {"leader0": (4, 3, 2, 1, 1), "leader1": (4, 3, 2, 1, 1),
                                             "leader2": (0, 0, 0, 0, 0)}


# --- reasons ---------------------------------------------------------------------------------------------------
def _entries(app, month=NOV) -> dict[int, tables.EntryRow]:
    with app.app_context():
        return {e.id: e for e in tables.monthly_table(db.session, the_site(db.session), month).entries}


def test_reasons_are_told_from_facts_in_the_readers_language(app, world):
    entries = _entries(app)
    with app.app_context():
        missed = db.session.scalar(sa.select(PointsEntry).where(PointsEntry.rule_code == "patrol_missed",
                                                                PointsEntry.user.has(username="leader0")))
        patrol = db.session.get(Patrol, missed.source_id)
        appealed_issue = db.session.get(Issue, world["leader1_a01"])
        correction = db.session.scalar(sa.select(PointsEntry).where(PointsEntry.rule_code == "appeal_overturned"))
        rejected = db.session.scalar(sa.select(PointsEntry).where(PointsEntry.rule_code == "report_rejected"))
        found = db.session.scalar(sa.select(PointsEntry).where(PointsEntry.rule_code == "issue_found_critical"))
        missed_en = entries[missed.id].reason_text("en")
        told = {i: e.reason_text("zh") for i, e in entries.items()}
    assert told[missed.id] == f"A01 网格2026年11月4日的巡查（第 {patrol.id} 号）漏巡"
    assert missed_en == f"patrol no. {patrol.id} of grid A01 on 2026-11-04, missed"
    assert told[correction.id] == (
        f"申诉（第 {correction.source_id} 号）成立，更正 2026-11 第 {correction.corrects_id} 条「本网格问题由他人先发现："
        f"A01 网格的问题（第 {appealed_issue.id} 号，2026年11月7日上报）」")
    assert told[rejected.id].startswith("上报不予受理：A02 网格的问题") and told[rejected.id].endswith("原因：无效上报")
    assert told[found.id] == f"发现有效问题：A01 网格的问题（第 {found.source_id} 号，2026年11月5日上报），受理为重大问题"
    for text in told.values():
        assert text and not ENGLISH_WORD.search(text) and not RULE_CODES & set(re.findall(r"[a-z_]+", text))


def test_an_entry_moved_out_of_a_closed_month_says_so(app, world):
    with app.app_context(), job_transaction() as session:
        assert points.close_month(session, the_site(session), NOV, actor=None, now=at("2026-12-02 09:00"))
    dispatch(app, world["unaccepted_issue"], "major", "2026-12-02 10:00")
    app.config["OFFLINE_SUBMISSION_HOURS"] = 31 * 24  # a site that accepts offline submissions for up to a month
    submit(app, "A01", "2026-11-04", completed="2026-11-04 09:00", now="2026-12-02 11:00")  # arrived offline
    entries = _entries(app, DEC)
    with app.app_context():  # the words come from the app's catalogue
        told = {e.rule_code: e.reason_text("zh") for e in entries.values()}
    assert told["issue_found_major"].endswith("；事件发生在 2026-11，该月已锁定，计入 2026-12")
    assert re.fullmatch(r"更正 2026-11 第 \d+ 条「A01 网格2026年11月4日的巡查（第 \d+ 号）漏巡」：该巡查已按时完成，离线提交到达较晚"
                        r"；事件发生在 2026-11，该月已锁定，计入 2026-12", told["patrol_missed_reversed"])


def test_the_leaders_points_page_in_chinese_has_no_rule_code_and_no_english_reason(app, world):
    page = _client(app, "leader0").get("/s/TEST/points/me?month=2026-11").get_data(as_text=True)
    reasons = re.findall(r'<td class="entry-reason">([^<]*)</td>', page)
    assert len(reasons) == 8  # leader0's November entries (test_table.EXPECTED_LEDGER)
    for text in reasons:
        assert text and not ENGLISH_WORD.search(text)
    assert not [code for code in RULE_CODES if code in page]
    assert "漏巡" in " ".join(reasons)
    boss_page = _client(app, "boss").get("/s/TEST/points/?month=2026-11").get_data(as_text=True)
    assert not [code for code in RULE_CODES if code in boss_page]


def test_the_workbook_read_back_has_no_rule_code_and_its_reasons_in_chinese(app, world):
    data = _client(app, "boss").get("/s/TEST/points/export.xlsx?month=2026-11").data
    workbook = load_workbook(io.BytesIO(data))
    texts = [c.value for ws in workbook.worksheets for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert not [t for t in texts if RULE_CODES & set(re.findall(r"[a-z_]+", t))]
    detail = workbook["积分明细"]
    header = [c.value for c in detail[3]]
    reasons = [detail.cell(row=r, column=header.index("原因") + 1).value for r in range(4, 24)]
    assert len(reasons) == 20 and all(reasons)
    assert not [r for r in reasons if ENGLISH_WORD.search(r)]
    rules = [detail.cell(row=r, column=header.index("规则") + 1).value for r in range(4, 24)]
    assert not [r for r in rules if not r or ENGLISH_WORD.search(r)]


# --- periods: quarter, half-year, year -------------------------------------------------------------------------
def _summary(app, period: Period):
    with app.app_context():
        site = the_site(db.session)
        months = tables.period_tables(db.session, site, period, until=DEC)
        return months, tables.period_summary(months, period)


@pytest.mark.parametrize("key", ["2026-Q4", "2026-H2", "2026"])
def test_quarter_half_year_and_year_sums_equal_the_months(app, world, key):
    period = Period.parse(key)
    months, summary = _summary(app, period)
    assert [m.month for m in months] == list(period.months) and summary.months == list(period.months)
    for row in summary.rows:
        monthly = [r for m in months for r in m.rows if r.user_id == row.total.user_id]
        for figure in FIGURES:
            assert getattr(row.total, figure) == sum(getattr(r, figure) for r in monthly), figure
        assert row.total.per_grid_exact == sum((r.per_grid_exact for r in monthly), Fraction(0))
        assert row.monthly_points == tuple(next((r.points for r in m.rows if r.user_id == row.total.user_id), None)
                                           for m in months)
    for figure in FIGURES:
        assert getattr(summary.totals, figure) == sum(getattr(m.totals, figure) for m in months)
    assert summary.monthly_totals == tuple(m.totals.points for m in months)
    # Leader0 held two grids in October (0 points) and one in November (4): 0/2 + 4/1, not 4 over two grids
    leader0 = next(r.total for r in summary.rows if r.total.username == "leader0")
    assert leader0.points_per_grid == 4.0 and leader0.grids == ("A01", "A04")
    assert [r.total.rank for r in summary.rows] == [1, 2, 3]


def test_the_period_page_and_its_exports(app, world):
    boss = _client(app, "boss")
    page = boss.get("/s/TEST/points/?kind=quarter&month=2026-11")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'href="/s/TEST/points/export.xlsx?kind=quarter&amp;month=2026-10"' in text
    assert re.findall(r'<td class="points-per-grid"><strong>([0-9.]+)</strong></td>', text) == ["4.00", "3.00", "1.50"]
    response = boss.get("/s/TEST/points/export.xlsx?kind=half&month=2026-11")
    assert response.headers["Content-Disposition"] == 'attachment; filename="points-TEST-2026-H2.xlsx"'
    workbook = load_workbook(io.BytesIO(response.data))
    assert workbook.sheetnames == ["半年汇总"] + [f"2026-{m:02d}" for m in range(7, 13)]
    ws = workbook["半年汇总"]
    assert ws["A1"].value == "测试办公区网格长巡查情况积分半年度汇总表（2026年下半年）"
    header = [c.value for c in ws[4]]
    points_col, per_grid_col = header.index("半年积分") + 1, header.index("每网格积分") + 1
    got = {ws.cell(row=r, column=2).value: (ws.cell(row=r, column=points_col).value,
                                            ws.cell(row=r, column=per_grid_col).value) for r in (6, 7, 8)}
    assert got == {"Leader0": (4, 4.0), "Leader2": (3, 3.0), "Leader1": (3, 1.5)}
    csv_response = boss.get("/s/TEST/points/export.csv?kind=quarter&month=2026-12")
    rows = list(csv.reader(io.StringIO(csv_response.data.decode("utf-8-sig"))))
    assert rows[0][-2:] == ["本季度积分", "每网格积分"]
    assert rows[0][14:17] == ["月度积分（10月）", "月度积分（11月）", "月度积分（12月）"]
    assert [r[1] for r in rows[1:]] == ["Leader0", "Leader2", "Leader1", ""]
    assert rows[-1][0] == "合计" and rows[-1][-2] == "10"
    _months, summary = _summary(app, Period.parse("2026-Q4"))
    with app.app_context():
        assert rows[1:] == [["" if v is None else str(v) for v in r] for r in exporting.period_rows(summary)]


def test_a_period_refuses_a_bad_kind_and_a_period_not_begun(app, world):
    boss = _client(app, "boss")
    assert boss.get("/s/TEST/points/?kind=decade&month=2026-11").status_code == 422
    assert boss.get("/s/TEST/points/export.xlsx?kind=weekly&month=2026-11").status_code == 422
    assert boss.get("/s/TEST/points/?kind=quarter&month=2027-04").status_code == 422
    assert boss.get("/s/TEST/points/export.csv?kind=year&month=2028-01").status_code == 422
    assert _client(app, "leader0").get("/s/TEST/points/?kind=quarter&month=2026-11").status_code == 403


def test_the_cli_exports_a_period_and_refuses_a_bad_one(app, world, tmp_path):
    from gridpatrol.points.cli import points as points_cli

    def run(*args):
        return app.test_cli_runner().invoke(points_cli, list(args), catch_exceptions=False)

    xlsx, text = tmp_path / "q4.xlsx", tmp_path / "h2.csv"
    result = run("export", "--site", "TEST", "--period", "2026-Q4", "--out", str(xlsx), "--prepared-by", "王主任")
    assert result.exit_code == 0 and "2026-Q4, 3 months" in result.output
    workbook = load_workbook(xlsx)
    assert workbook.sheetnames == ["季度汇总", "2026-10", "2026-11", "2026-12"]
    assert workbook["季度汇总"]["A1"].value == "测试办公区网格长巡查情况积分季度汇总表（2026年第四季度）"
    assert run("export", "--period", "2026-H2", "--out", str(text)).exit_code == 0
    rows = list(csv.reader(io.StringIO(text.read_bytes().decode("utf-8-sig"))))
    assert rows[0][-2:] == ["半年积分", "每网格积分"] and [r[1] for r in rows[1:4]] == ["Leader0", "Leader2", "Leader1"]
    assert run("export", "--period", "2026-Q5", "--out", str(xlsx)).exit_code == 2
    assert run("export", "--period", "2027-Q2", "--out", str(xlsx)).exit_code == 1  # not begun
    assert run("export", "--period", "2026", "--month", "2026-11", "--out", str(xlsx)).exit_code == 2


def test_a_reader_who_chose_english_reads_the_reasons_in_english(app, world):
    with app.app_context(), job_transaction() as session:
        leader = user(session, "leader0")
        accounts.update_user(session, leader, display_name=leader.display_name, phone=None, locale="en",
                             roles=leader.roles_granted(), teams=list(leader.teams), actor=None)
    page = _client(app, "leader0").get("/s/TEST/points/me?month=2026-11").get_data(as_text=True)
    reasons = re.findall(r'<td class="entry-reason">([^<]*)</td>', page)
    assert len(reasons) == 8 and not [r for r in reasons if re.search(r"[\u4e00-\u9fff]", r)]
    assert any(r.startswith("patrol no. ") and r.endswith(", missed") for r in reasons)
    assert any(r.startswith("Appeal no. ") and "Problem in own grid first found by someone else" in r
               for r in reasons)
    assert not [code for code in RULE_CODES if code in page]
