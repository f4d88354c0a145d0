"""The points workbook on paper: rendered by LibreOffice (whole page numbers, each sheet counting its own pages),
the signing lines (签字确认 per leader, 编制单位, 制表人, 审核人), and text that looks like a formula staying text.

LibreOffice renders where it is installed; outside CI the rendering tests skip without it, under CI=true they
fail (.ci/run installs libreoffice-calc and poppler-utils)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from gridpatrol.accounts import services as accounts
from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.points import export as exporting
from gridpatrol.points import reasons
from gridpatrol.points import table as tables
from tests import helpers
from tests.conftest import UNDER_CI
from tests.points.test_table import NOV, build_november, the_site, user
from tests.points.test_views import client_for

FORMULAS = ["=1+1", "@SUM(A1)", "-2+3"]


def _tools():
    missing = [tool for tool in ("soffice", "pdftotext") if shutil.which(tool) is None]
    if missing:
        if UNDER_CI:
            pytest.fail(f"{' and '.join(missing)} missing under CI (.ci/run installs libreoffice-calc, poppler-utils)")
        pytest.skip(f"LibreOffice / poppler not installed ({', '.join(missing)} missing)")


def _pdf(xlsx: bytes, tmp_path) -> tuple[list[str], list[list[tuple[str, float, float]]], float]:
    """Render with LibreOffice; the text of each page, its words with their vertical extent, the page height."""
    _tools()
    source = tmp_path / "table.xlsx"
    source.write_bytes(xlsx)
    profile = (tmp_path / "lo-profile").as_uri()  # a profile of its own: no clash with another soffice
    subprocess.run(["soffice", f"-env:UserInstallation={profile}", "--headless", "--convert-to", "pdf",
                    "--outdir", str(tmp_path), str(source)], check=True, capture_output=True, timeout=180)
    pdf = tmp_path / "table.pdf"
    pages = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True,
                           text=True).stdout.split("\f")[:-1]
    bbox = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    height = float(re.search(r'<page width="[\d.]+" height="([\d.]+)"', bbox).group(1))
    words = [[(m.group(3), float(m.group(1)), float(m.group(2))) for m in re.finditer(
        r'<word xMin="[\d.]+" yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">([^<]*)</word>', page)]
        for page in bbox.split("<page ")[1:]]
    return pages, words, height


def _footers(pages: list[str]) -> list[tuple[int, int]]:
    found = []
    for text in pages:
        numbers = re.findall(r"第\s*(\d+)\s*页\s*共\s*(\d+)\s*页", text)
        assert len(numbers) == 1, text[-300:]
        found.append(tuple(int(n) for n in numbers[0]))
    return found


def _big_table(leaders: int = 38, entries: int = 400) -> tables.MonthlyTable:
    """A month of 38 leaders (names that look like formulas among them) and a ledger of `entries` lines."""
    rows = [tables.LeaderRow(user_id=i, username=f"u{i}", name=(FORMULAS + [f"网格长{i:02d}"] * leaders)[i],
                             grids=(f"A{i + 1:02d}",), patrols_due=30, patrols_done=28, on_time=25, late=3, missed=2,
                             score_sum=2700.0, scored=28, points=20 - i, rank=i + 1) for i in range(leaders)]
    # the reason is told from the entry's facts (points.reasons): a grid code that looks like a formula starts it
    ledger = [tables.EntryRow(id=i + 1, user_id=0, username="u0", name="=1+1", rule_code="patrol_missed",
                              rule_version=1, points=-3, source_type="patrol", source_id=i + 1, month=NOV,
                              event_month=NOV, reason="", corrects_id=None,
                              facts=reasons.Facts(i + 1, "patrol_missed", -3, NOV, NOV,
                                                  reasons.Source("patrol", i + 1, f"@SUM(A{i})", NOV)))
              for i in range(entries)]
    fields = tables.MonthlyTable.__dataclass_fields__
    extra = {"as_of": dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)} if "as_of" in fields else {}
    return tables.MonthlyTable(site_id=1, site_code="TEST", site_name="测试办公区", timezone="Asia/Shanghai", month=NOV,
                               rule_version=1, closed_at=None, rows=rows, entries=ledger,
                               totals=tables.sum_rows(rows), **extra)


def test_libreoffice_prints_whole_page_numbers_counted_per_sheet(app, tmp_path):
    buffer = io.BytesIO()
    with app.app_context():
        exporting.write_xlsx(_big_table(), buffer, issuing_unit="机关事务服务中心", prepared_by="张三")
    pages, words, height = _pdf(buffer.getvalue(), tmp_path)
    footers = _footers(pages)
    main_pages = footers[0][1]
    assert main_pages > 1 and len(pages) > main_pages + 1  # both sheets run over several pages
    # each sheet counts itself: 1…n over the points table, then 1…m over the ledger, n + m = the whole document
    assert footers == [(p, main_pages) for p in range(1, main_pages + 1)] + [
        (p, len(pages) - main_pages) for p in range(1, len(pages) - main_pages + 1)]
    assert sum("网格长37" in page for page in pages) == 1 and "制表人：张三" in pages[main_pages - 1]
    assert all(" 签字确认" in page or "签字确认" in page for page in pages[:main_pages])  # the header on every page
    # whole, not cut: every footer word lies inside the footer's band (bottom margin … footer distance)
    for page in words:
        footer = [w for w in page if w[1] > height * 0.88]  # the body ends above 86 % of the page (SAFETY)
        assert {"第", "共"} <= {w[0] for w in footer}
        for _text, top, bottom in footer:
            assert top >= height - exporting.MARGIN_BOTTOM * 72 - 1
            assert bottom <= height - exporting.FOOTER_AT * 72 + 2


def test_the_printed_month_names_its_unit_its_preparer_and_has_a_signature_cell_per_leader(app, tmp_path):
    build_november(app)
    assert helpers.run_cli(app, ["sites", "set", "TEST", "--issuing-unit", "  机关事务 服务中心 "]).exit_code == 0
    with app.app_context(), job_transaction() as session:
        boss = user(session, "boss")
        accounts.update_user(session, boss, display_name="王主任", phone=None, locale=None,
                             roles=boss.roles_granted(), teams=list(boss.teams), actor=None)
    data = client_for(app, "boss").get("/s/TEST/points/export.xlsx?month=2026-11").data
    ws = load_workbook(io.BytesIO(data))["积分表"]
    texts = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert ws["A2"].value.startswith("编制单位：机关事务 服务中心　办公区：测试办公区（TEST）")
    assert ws["Q4"].value == "签字确认" and "A4:A5" in {str(r) for r in ws.merged_cells.ranges}
    leaders = [r for r in range(6, ws.max_row + 1) if isinstance(ws.cell(row=r, column=2).value, str)
               and ws.cell(row=r, column=2).value.startswith("Leader")]
    assert len(leaders) == 3 and all(ws.cell(row=r, column=17).border.left.style == "thin" for r in leaders)
    assert "制表人：王主任" in texts and any(t.startswith("审核人：＿") for t in texts)
    # without a unit the site's own name; the CLI puts the default back with ''
    assert helpers.run_cli(app, ["sites", "set", "TEST", "--issuing-unit", ""]).exit_code == 0
    again = load_workbook(io.BytesIO(client_for(app, "boss").get("/s/TEST/points/export.xlsx?month=2026-11").data))
    assert again["积分表"]["A2"].value.startswith("编制单位：测试办公区　")
    assert helpers.run_cli(app, ["sites", "set", "TEST", "--issuing-unit", "单" * 121]).exit_code != 0
    assert helpers.run_cli(app, ["sites", "set", "TEST"]).exit_code != 0
    with app.app_context():
        assert the_site(db.session).issuing_unit is None
    pages, _words, _height = _pdf(data, tmp_path)
    assert _footers(pages) == [(1, 1), (1, 1)]  # the table's one page and the ledger's one page
    assert "编制单位：机关事务 服务中心" in pages[0] and "制表人：王主任" in pages[0]


def test_formula_like_names_open_as_text_and_negative_points_stay_numbers(app, tmp_path):
    table = _big_table(leaders=4, entries=3)
    buffer, text = io.BytesIO(), io.BytesIO()
    with app.app_context():
        exporting.write_xlsx(table, buffer, prepared_by="=HYPERLINK(\"x\")")
        exporting.write_csv(table, text)
    wb = load_workbook(io.BytesIO(buffer.getvalue()))
    ws, detail = wb["积分表"], wb["积分明细"]
    names = [ws.cell(row=r, column=2) for r in range(6, 9)]
    assert [c.value for c in names] == FORMULAS and all(c.data_type == "s" for c in names)
    cells = [c for sheet in wb.worksheets for row in sheet.iter_rows() for c in row]
    assert not any(c.data_type == "f" for c in cells)  # no formula anywhere
    assert (detail["B4"].value, detail["B4"].data_type) == ("=1+1", "s")
    assert detail["J4"].value.startswith("@SUM(A0) 网格") and detail["J4"].data_type == "s"  # the reason
    assert (detail["F4"].value, detail["F4"].data_type) == (-3, "n")  # −3 points: a number cell
    rows = list(csv.reader(io.StringIO(text.getvalue().decode("utf-8-sig"))))
    assert [row[1] for row in rows[1:4]] == ["'" + f for f in FORMULAS]
    assert rows[4][1] == "网格长03" and rows[1][-2] == "20" and rows[4][-2] == "17"  # points (then per grid)
    negative = _big_table(leaders=1, entries=0)
    negative.rows[0].__dict__["points"] = -3  # frozen dataclass: a leader who lost points
    out = io.BytesIO()
    with app.app_context():  # the words come from the app's catalogue
        exporting.write_csv(negative, out)
    assert list(csv.reader(io.StringIO(out.getvalue().decode("utf-8-sig"))))[1][-2] == "-3"


def test_leaders_named_like_formulas_export_as_text_from_the_pages(app):
    """Display names set through the accounts service, exported by the points page as xlsx and CSV."""
    build_november(app)
    with app.app_context(), job_transaction() as session:
        for username, name in (("leader0", "@SUM(A1)"), ("leader1", "-2+3"), ("leader2", "=1+1")):
            leader = user(session, username)
            accounts.update_user(session, leader, display_name=name, phone=None, locale=None,
                                 roles=leader.roles_granted(), teams=list(leader.teams), actor=None)
    boss = client_for(app, "boss")
    wb = load_workbook(io.BytesIO(boss.get("/s/TEST/points/export.xlsx?month=2026-11").data))
    ws, detail = wb["积分表"], wb["积分明细"]
    name_col, points_col = _col(ws, "网格长"), _col(ws, "积分")
    names = {ws.cell(row=r, column=name_col).value: ws.cell(row=r, column=name_col).data_type for r in range(6, 9)}
    assert names == {"@SUM(A1)": "s", "-2+3": "s", "=1+1": "s"}
    assert all(isinstance(ws.cell(row=r, column=points_col).value, int) for r in range(6, 9))
    assert not any(c.data_type == "f" for sheet in wb.worksheets for row in sheet.iter_rows() for c in row)
    person, points = _col(detail, "人员"), _col(detail, "积分")
    missed = [r for r in range(4, detail.max_row) if detail.cell(row=r, column=points).value == -3]
    assert missed and all(detail.cell(row=r, column=points).data_type == "n" for r in missed)  # −3: a number
    assert {detail.cell(row=r, column=person).value for r in missed} <= {"@SUM(A1)", "-2+3"}
    body = boss.get("/s/TEST/points/export.csv?month=2026-11").data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    assert sorted(row[1] for row in rows[1:4]) == ["'-2+3", "'=1+1", "'@SUM(A1)"]
    assert all(re.fullmatch(r"-?\d+", row[rows[0].index("积分")]) for row in rows[1:])


def _col(ws, label: str, rows=(3, 4, 5)) -> int:
    """The column (1-based) whose header reads `label`, whatever other columns the table has."""
    return next(c.column for r in rows for c in ws[r] if c.value == label)


@given(st.lists(st.floats(min_value=8, max_value=120), min_size=6, max_size=300), st.integers(20, 100),
       st.integers(2, 5))
@settings(max_examples=200, deadline=None)
def test_pages_hold_what_the_export_counts(heights, scale, tail_rows):
    """Each page the export counts holds its rows within the printable height at the scale (the header rows again
    on every later page), the totals-to-signatures block stays on one page, and no page is empty."""
    first, tail = 5, max(5, len(heights) - tail_rows)
    repeat = sum(heights[3:5])
    breaks = exporting.paginate(heights, first=first, repeat=repeat, scale=scale, keep_together_from=tail)
    capacity = (exporting.PAPER_H - exporting.MARGIN_TOP - exporting.MARGIN_BOTTOM) * 72 * exporting.SAFETY * 100 / scale
    assert breaks == sorted(set(breaks)) and all(first < b <= tail for b in breaks)
    bounds = [0] + breaks + [len(heights)]
    for page, (start, end) in enumerate(zip(bounds, bounds[1:])):
        used = sum(heights[start:end]) + (repeat if page else 0)
        body = first if page == 0 else start  # a page overflows only when its table holds a single block
        assert used <= capacity or end - body == 1 or body == tail
        assert end > start
