"""The monthly points workbook and CSV, read back: every figure of every row, the print setup, the ledger
detail, stability across exports, the English variant, and a year. (Printing through LibreOffice, the signing
lines and formula-like text: test_export_print.py.)"""

from __future__ import annotations

import csv
import io

import pytest
import sqlalchemy as sa
from flask_babel import force_locale
from openpyxl import load_workbook

from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.points import export as exporting
from gridpatrol.points import services as points
from gridpatrol.points import table as tables
from gridpatrol.points.models import PointsEntry
from gridpatrol.points.rules import RULE_LABELS
from tests.patrols.builders import at
from tests.points.test_table import DEC, NOV, build_november, dispatch, the_site

WIDTH = 16
# Sheet 1, rows 6…9: the leaders in rank order (points per grid), then the totals — computed by hand (see
# test_table.py): rank, name, grids, due, done, on time, late, missed, pass rate, found minor / major / critical /
# total, issues closed, points, points per grid.
EXPECTED_ROWS = [
    [1, "Leader0", "A01", 4, 3, 2, 1, 1, 90.0, 0, 1, 0, 1, 1, 4, 4.0],
    [2, "Leader2", "A04", 0, 0, 0, 0, 0, None, 0, 1, 0, 1, 0, 3, 3.0],
    [3, "Leader1", "A02、A03", 4, 3, 2, 1, 1, 93.33, 2, 0, 0, 2, 2, 3, 1.5],  # 3 points over 2 grids
]
EXPECTED_TOTALS = ["合计", None, None, 8, 6, 4, 2, 2, 91.67, 2, 2, 0, 4, 3, 10, None]
HEADER_ZH = (["排名", "网格长", "责任网格", "巡查任务", None, None, None, None, None, "发现有效问题", None, None, None,
              "本网格结案", "积分", "每网格积分", "签字确认"],
             [None, None, None, "应巡", "已巡", "按时", "逾时", "漏巡", "巡查合格率", "一般", "较大", "重大", "合计",
              None, None, None, None])
HEADER_EN = (["Rank", "Grid leader", "Grids", "Patrols", None, None, None, None, None, "Valid issues found", None, None,
              None, "Issues closed", "Points", "Points per grid", "Signature"],
             [None, None, None, "Due", "Done", "On time", "Late", "Missed", "Pass rate", "Minor", "Major",
              "Critical", "Total", None, None, None, None])


@pytest.fixture
def november(app):
    return build_november(app)


def _table(app, month=NOV) -> tables.MonthlyTable:
    with app.app_context():
        return tables.monthly_table(db.session, the_site(db.session), month)


def _xlsx(app, table, locale="zh", generated_at=None):
    buffer = io.BytesIO()
    with app.app_context():
        exporting.write_xlsx(table, buffer, locale=locale, generated_at=generated_at)
    buffer.seek(0)
    return load_workbook(buffer)


def _row(ws, row, width=WIDTH):
    return [ws.cell(row=row, column=col).value for col in range(1, width + 1)]


def _cells(workbook, skip=()):
    return {(ws.title, c.coordinate): c.value for ws in workbook.worksheets for r in ws.iter_rows() for c in r
            if (ws.title, c.coordinate) not in skip}


def test_sheet_one_has_every_figure_of_every_row(app, november):
    table = _table(app)
    wb = _xlsx(app, table, generated_at=at("2026-12-01 08:30"))
    assert wb.sheetnames == ["积分表", "积分明细"]
    ws = wb["积分表"]
    assert ws["A1"].value == "测试办公区网格长巡查情况积分表（2026年11月）"
    assert "A1:Q1" in {str(r) for r in ws.merged_cells.ranges}
    assert ws["A2"].value == "编制单位：测试办公区　办公区：测试办公区（TEST）　月份：2026-11　状态：未锁定（数字可能变化）　积分规则：第 1 版"
    assert ws["A3"].value == "生成时间：2026-12-01 08:30（Asia/Shanghai）"
    assert (_row(ws, 4, WIDTH + 1), _row(ws, 5, WIDTH + 1)) == HEADER_ZH
    for offset, expected in enumerate(EXPECTED_ROWS):
        assert _row(ws, 6 + offset) == expected
    assert _row(ws, 9) == EXPECTED_TOTALS
    # …and the same against the table object and the ledger, cell by cell
    with app.app_context():
        ledger = points.totals(db.session, table.site_id, NOV)
    for offset, row in enumerate(table.rows):
        cells = _row(ws, 6 + offset)
        assert cells == [row.rank, row.name, "、".join(row.grids), row.patrols_due, row.patrols_done, row.on_time,
                         row.late, row.missed, row.average_score, row.found_minor, row.found_major,
                         row.found_critical, row.found_total, row.issues_closed, row.points, row.points_per_grid]
        assert cells[-2] == ledger[row.user_id] and cells[-1] == round(cells[-2] / len(row.grids), 2)
        assert cells[4] == cells[5] + cells[6] and cells[3] == cells[4] + cells[7]  # done = on time + late
    for col in range(4, WIDTH):
        if col != 9:
            assert ws.cell(row=9, column=col).value == sum(ws.cell(row=r, column=col).value for r in (6, 7, 8))
    assert ws["I6"].number_format == "0.00" and ws["I9"].number_format == "0.00" and ws["P6"].number_format == "0.00"
    assert "排名按每网格积分" in ws["A10"].value and "统计截至" in ws["A10"].value
    assert "另有 3 条积分记录属于本月未担任网格长的人员，共 7 分" in ws["A11"].value
    assert ws["A6"].border.left.style == "thin" and ws["N9"].border.bottom.style == "thin"


def test_sheet_one_is_set_up_to_be_printed_and_signed(app, november):
    ws = _xlsx(app, _table(app))["积分表"]
    assert ws.page_setup.orientation == "landscape"
    assert int(ws.page_setup.paperSize) == 9  # A4
    # a fixed scale fitting the width (Excel ignores manual page breaks under "fit to pages")
    assert not ws.sheet_properties.pageSetUpPr or not ws.sheet_properties.pageSetUpPr.fitToPage
    assert int(ws.page_setup.scale or 100) == exporting._scale(exporting.MAIN_COLUMNS + (exporting.SIGN_COLUMN,)) <= 100
    assert ws.freeze_panes == "C6"
    assert ws.print_title_rows == "$4:$5"
    last = ws.max_row
    assert ws.print_area == f"'积分表'!$A$1:$Q${last}"
    texts = [c.value for row in ws.iter_rows(min_row=10) for c in row if isinstance(c.value, str)]
    assert any(t.startswith("制表人：") for t in texts) and any(t.startswith("审核人：") for t in texts)
    signature_row = next(r for r in range(10, last + 1) if str(ws.cell(row=r, column=1).value).startswith("制表人："))
    assert signature_row == last
    assert all(ws.column_dimensions[c].width >= 6 for c in "ABCDEFGHIJKLMNOPQ")
    # page numbers of this sheet alone: numbering starts at 1 and the count is the sheet's own (one page here)
    assert ws.oddFooter.center.text == "第 &P 页　共 1 页"
    assert (ws.page_setup.firstPageNumber or 1) == 1 and ws.page_setup.useFirstPageNumber  # 1 is the default
    assert not ws.row_breaks.brk
    # the footer has a band of its own inside the bottom margin (LibreOffice: footer height = the difference)
    assert ws.page_margins.bottom - ws.page_margins.footer >= 0.4 and ws.page_margins.footer >= 0.25


def test_the_detail_sheet_lists_every_entry_with_rule_version_and_source(app, november):
    table = _table(app)
    ws = _xlsx(app, table)["积分明细"]
    assert ws["A1"].value == "测试办公区积分明细（2026年11月）"
    assert ws["A2"].value == "共 20 条，合计 17 分。"
    assert _row(ws, 3, 11) == ["条目号", "人员", "账号", "规则", "规则版本", "积分", "来源", "来源编号",
                               "事件月份", "原因", "更正条目"]
    assert ws.freeze_panes == "A4" and ws.print_title_rows == "$3:$3"
    assert ws.page_setup.orientation == "landscape" and ws.oddFooter.center.text == "第 &P 页　共 1 页"
    with app.app_context(), force_locale("zh"):
        stored = list(db.session.scalars(sa.select(PointsEntry).where(PointsEntry.month == NOV)))
        source = {"patrol": "巡查", "issue": "问题", "appeal": "申诉"}
        told = {e.id: e.reason_text("zh") for e in table.entries}  # the reasons told from facts (test_reasons.py)
        expected = sorted(([e.user.display_name, e.id, e.user.username, str(RULE_LABELS[e.rule_code]),
                            e.rule_version, e.points, source[e.source_type], e.source_id, f"{e.event_month:%Y-%m}",
                            told[e.id], e.corrects_id] for e in stored), key=lambda v: (v[0], v[1]))
        overturned = str(RULE_LABELS["appeal_overturned"])
    got = [_row(ws, r, 11) for r in range(4, 4 + len(stored))]
    assert got == [[v[1], v[0], *v[2:]] for v in expected]
    assert _row(ws, 4 + len(stored), 11) == ["合计", None, None, None, None, 17, None, None, None, None, None]
    assert 4 + len(stored) == ws.max_row
    correction = next(r for r in got if r[3] == overturned)
    assert correction[5] == 1 and correction[6] == "申诉" and correction[10] is not None


def test_exporting_a_closed_month_twice_gives_the_same_cells(app, november):
    with app.app_context(), job_transaction() as session:
        points.close_month(session, the_site(session), NOV, actor=None, now=at("2026-12-05 00:10"))
    first = _xlsx(app, _table(app), generated_at=at("2026-12-05 09:00"))
    dispatch(app, november["unaccepted_issue"], "minor", "2026-12-06 10:00")  # lands in December
    second = _xlsx(app, _table(app), generated_at=at("2026-12-20 15:45"))
    generated = {("积分表", "A3")}
    assert _cells(first, generated) == _cells(second, generated)
    assert first["积分表"]["A3"].value != second["积分表"]["A3"].value
    assert "状态：已锁定（2026-12-05 00:10）" in first["积分表"]["A2"].value
    assert [_row(first["积分表"], r) for r in range(6, 10)] == EXPECTED_ROWS + [EXPECTED_TOTALS]
    december = _xlsx(app, _table(app, DEC))["积分表"]
    assert {_row(december, r)[1]: _row(december, r)[-2] for r in range(6, 9)} == {
        "Leader0": 0, "Leader1": 1, "Leader2": 0}  # Leader1's late acceptance: December's points


def test_english_headers_and_sheet_names(app, november):
    wb = _xlsx(app, _table(app), locale="en", generated_at=at("2026-12-01 08:30"))
    assert wb.sheetnames == ["Points table", "Ledger detail"]
    ws = wb["Points table"]
    assert ws["A1"].value == "测试办公区: grid leaders' patrol points, 2026-11"
    assert ws["A3"].value == "Generated: 2026-12-01 08:30 (Asia/Shanghai)"
    assert (_row(ws, 4, WIDTH + 1), _row(ws, 5, WIDTH + 1)) == HEADER_EN
    assert _row(ws, 6) == EXPECTED_ROWS[0] and _row(ws, 9) == ["Total"] + EXPECTED_TOTALS[1:]
    texts = {c.value for row in ws.iter_rows() for c in row}
    assert {"Prepared by:________________", "Reviewed by:________________", "Date:____-__-__"} <= texts
    detail = wb["Ledger detail"]
    assert _row(detail, 3, 3) == ["Entry no.", "Person", "Username"]
    assert "Patrol missed" in {detail.cell(row=r, column=4).value for r in range(4, 24)}
    reasons = [detail.cell(row=r, column=10).value for r in range(4, 24)]
    assert any(r.startswith("patrol no. ") and r.endswith(", missed") for r in reasons)


def test_csv_is_the_main_table_in_utf8_with_a_bom(app, november):
    table = _table(app)
    buffer = io.BytesIO()
    with app.app_context():
        exporting.write_csv(table, buffer, locale="zh")
    data = buffer.getvalue()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["排名", "网格长", "责任网格", "巡查任务（应巡）", "巡查任务（已巡）", "巡查任务（按时）",
                       "巡查任务（逾时）", "巡查任务（漏巡）", "巡查任务（巡查合格率）", "发现有效问题（一般）",
                       "发现有效问题（较大）", "发现有效问题（重大）", "发现有效问题（合计）", "本网格结案", "积分",
                       "每网格积分"]

    def text(values):
        return ["" if v is None else str(v) for v in values]

    assert rows[1:] == [text(r) for r in EXPECTED_ROWS] + [text(EXPECTED_TOTALS)]
    assert len(rows) == 5


def test_the_file_writer_picks_the_format_by_extension(app, november, tmp_path):
    table = _table(app)
    with app.app_context():
        assert exporting.write(table, str(tmp_path / "m.xlsx")) == "xlsx"
        assert exporting.write(table, str(tmp_path / "m.CSV")) == "csv"
        with pytest.raises(ValueError):
            exporting.write(table, str(tmp_path / "m.pdf"))
    assert load_workbook(tmp_path / "m.xlsx")["积分表"]["O9"].value == 10
    assert (tmp_path / "m.CSV").read_bytes().startswith(b"\xef\xbb\xbf")


def test_a_year_workbook_has_a_summary_and_the_twelve_months(app, november):
    with app.app_context():
        months = tables.yearly_tables(db.session, the_site(db.session), 2026, until=DEC)
        buffer = io.BytesIO()
        exporting.write_year_xlsx(months, buffer, locale="zh", generated_at=at("2027-01-05 09:00"))
    wb = load_workbook(io.BytesIO(buffer.getvalue()))
    assert wb.sheetnames == ["年度汇总"] + [f"2026-{m:02d}" for m in range(1, 13)]
    ws = wb["年度汇总"]
    assert ws["A1"].value == "测试办公区网格长巡查情况积分年度汇总表（2026年）"
    width = 14 + 12 + 2
    assert _row(ws, 5, width)[14:] == [f"{m}月" for m in range(1, 13)] + [None, None]
    assert _row(ws, 4, width)[-2:] == ["全年积分", "每网格积分"]
    assert _row(ws, 6, width) == [1, "Leader0", "A01、A04", 4, 3, 2, 1, 1, 90.0, 0, 1, 0, 1, 1] + [0] * 10 + [4, 0] \
        + [4, 4.0]  # per grid: October's 0 over two grids + November's 4 over one
    assert _row(ws, 7, width) == [2, "Leader2", "A04", 0, 0, 0, 0, 0, None, 0, 1, 0, 1, 0] + [None] * 10 + [3, 0] \
        + [3, 3.0]
    assert _row(ws, 9, width)[-4:] == [10, 0, 10, None]
    assert ws.freeze_panes == "C6" and ws.print_title_rows == "$4:$5" and ws.oddFooter.center.text == "第 &P 页　共 1 页"
    assert [_row(wb["2026-11"], r) for r in range(6, 10)] == EXPECTED_ROWS + [EXPECTED_TOTALS]
