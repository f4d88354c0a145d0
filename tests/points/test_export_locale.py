"""The ledger's reasons and the printed points table speak through the app's one translation path (Flask-Babel
gettext and the Chinese catalogue): an export in the locale asked for whatever the reader's page is in, `describe`
in the current locale or the one given, the odd facts worded as before, and no words without an app."""

from __future__ import annotations

import csv
import io
import re

import pytest
from flask_babel import force_locale, gettext
from openpyxl import load_workbook

from gridpatrol.core.time import Period
from gridpatrol.extensions import db
from gridpatrol.points import export as exporting
from gridpatrol.points import reasons
from gridpatrol.points import table as tables
from tests.patrols.builders import at
from tests.points.test_export_print import _big_table
from tests.points.test_table import DEC, NOV, build_november, the_site

CJK = re.compile(r"[\u4e00-\u9fff]")
ENGLISH_WORD = re.compile(r"[A-Za-z]{3,}")


@pytest.fixture
def november(app):
    return build_november(app)


def _month(app) -> tables.MonthlyTable:
    with app.app_context():
        return tables.monthly_table(db.session, the_site(db.session), NOV)


def _detail_reasons(workbook, sheet: str) -> list[str]:
    ws = workbook[sheet]
    return [ws.cell(row=r, column=10).value for r in range(4, ws.max_row)]  # the last row is the total


def test_an_export_speaks_its_own_locale_whatever_the_readers_page(app, november):
    table = _month(app)
    chinese, english, english_csv = io.BytesIO(), io.BytesIO(), io.BytesIO()
    with app.test_request_context(), force_locale("en"):  # a reader whose page is in English
        exporting.write_xlsx(table, chinese, locale="zh", generated_at=at("2026-12-01 08:30"))
        assert gettext("Total") == "Total"  # …and still is after the export
    with app.test_request_context(), force_locale("zh"):
        exporting.write_xlsx(table, english, locale="en", generated_at=at("2026-12-01 08:30"))
        exporting.write_csv(table, english_csv, locale="en")
        assert gettext("Total") == "合计"
    zh = load_workbook(io.BytesIO(chinese.getvalue()))
    assert zh.sheetnames == ["积分表", "积分明细"]
    assert zh["积分表"]["A1"].value == "测试办公区网格长巡查情况积分表（2026年11月）"
    assert zh["积分表"].oddFooter.center.text == "第 &P 页　共 1 页"
    told = _detail_reasons(zh, "积分明细")
    assert len(told) == 20 and not [r for r in told if not r or ENGLISH_WORD.search(r)]
    en = load_workbook(io.BytesIO(english.getvalue()))
    assert en.sheetnames == ["Points table", "Ledger detail"]
    assert en["Points table"]["A2"].value == ("Issued by: 测试办公区   Site: 测试办公区 (TEST)   Month: 2026-11   "
                                             "Status: open (figures may still change)   Points rules: version 1")
    assert en["Points table"].oddFooter.center.text == "Page &P of 1"
    assert en["Ledger detail"]["A2"].value == "20 entries, 17 points in all."
    told = _detail_reasons(en, "Ledger detail")
    assert len(told) == 20 and not [r for r in told if not r or CJK.search(r)]
    header = next(csv.reader(io.StringIO(english_csv.getvalue().decode("utf-8-sig"))))
    assert header[:5] == ["Rank", "Grid leader", "Grids", "Patrols: Due", "Patrols: Done"]
    assert header[-3:] == ["Issues closed", "Points", "Points per grid"]


@pytest.mark.parametrize(("key", "locale", "sheet", "title", "by_month", "points"), [
    ("2026-11", "zh", "月度汇总", "测试办公区网格长巡查情况积分月度汇总表（2026年11月）", ["11月"], "本月积分"),
    ("2026-H1", "zh", "半年汇总", "测试办公区网格长巡查情况积分半年度汇总表（2026年上半年）",
     [f"{m}月" for m in range(1, 7)], "半年积分"),
    ("2026-11", "en", "Month summary", "测试办公区: grid leaders' patrol points, month summary (2026-11)", ["Nov"],
     "Month points"),
    ("2026-Q4", "en", "Quarter summary", "测试办公区: grid leaders' patrol points, quarter summary (Q4 2026)",
     ["Oct", "Nov", "Dec"], "Quarter points"),
    ("2026-H2", "en", "Half-year summary",
     "测试办公区: grid leaders' patrol points, half-year summary (second half of 2026)",
     ["Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], "Half-year points"),
    ("2026", "en", "Year summary", "测试办公区: grid leaders' patrol points, year summary (year 2026)",
     ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], "Year points"),
])
def test_a_period_workbook_is_worded_in_its_locale(app, november, key, locale, sheet, title, by_month, points):
    period = Period.parse(key)
    buffer, text = io.BytesIO(), io.BytesIO()
    with app.app_context():
        months = tables.period_tables(db.session, the_site(db.session), period, until=DEC)
        exporting.write_period_xlsx(months, buffer, period=period, locale=locale, generated_at=at("2027-01-05 09:00"))
        exporting.write_period_csv(months, text, period=period, locale=locale)
    workbook = load_workbook(io.BytesIO(buffer.getvalue()))
    assert workbook.sheetnames == [sheet] + [f"{m:%Y-%m}" for m in period.months]
    ws = workbook[sheet]
    assert ws["A1"].value == title
    width = 14 + len(by_month) + 2
    assert [c.value for c in ws[5]][14:14 + len(by_month)] == by_month
    group = "月度积分" if locale == "zh" else "Points by month"
    assert ws[4][14].value == group and ws[4][-2].value == points and len(ws[4]) == width
    header = next(csv.reader(io.StringIO(text.getvalue().decode("utf-8-sig"))))
    assert header[-2] == points
    assert header[14:14 + len(by_month)] == ([f"{group}（{m}）" for m in by_month] if locale == "zh"
                                             else [f"{group}: {m}" for m in by_month])


# Facts that the November world does not make: no grid, no day, a manual source, a reject reason and a severity
# the words do not know, a correction of a rule added later, an entry moved out of a closed month. Each reads
# as it did when the words were kept per language in the module.
SOURCE = reasons.Source
ODD = [
    (reasons.Facts(1, "patrol_missed", -3, NOV, NOV, SOURCE("patrol", 7)),
     "网格外的巡查（第 7 号）漏巡", "patrol no. 7 of no grid on an unknown day, missed"),
    (reasons.Facts(2, "missed_in_own_grid", -1, NOV, NOV, SOURCE("issue", 8)),
     "本网格问题由他人先发现：网格外的问题（第 8 号，上报）",
     "Problem in own grid first found by someone else: problem no. 8 in no grid, reported an unknown day"),
    (reasons.Facts(3, "manual_fix", 2, NOV, NOV, SOURCE("manual", 3)), "手工更正（第 3 号）", "Manual correction no. 3"),
    (reasons.Facts(4, "report_rejected", 0, NOV, NOV, SOURCE("issue", 9, "A02", NOV, "spam")),
     "上报不予受理：A02 网格的问题（第 9 号，2026年11月1日上报），原因：spam",
     "Report rejected: problem no. 9 in grid A02, reported 2026-11-01; reason: spam"),
    (reasons.Facts(5, "report_rejected", 0, NOV, NOV, SOURCE("issue", 9, "A02", NOV, None)),
     "上报不予受理：A02 网格的问题（第 9 号，2026年11月1日上报），原因：—",
     "Report rejected: problem no. 9 in grid A02, reported 2026-11-01; reason: —"),
    (reasons.Facts(6, "issue_found_urgent", 5, DEC, NOV, SOURCE("issue", 10, "A01", NOV)),
     "发现有效问题：A01 网格的问题（第 10 号，2026年11月1日上报），受理为urgent问题；事件发生在 2026-11，该月已锁定，计入 2026-12",
     "Valid problem found: problem no. 10 in grid A01, reported 2026-11-01, accepted as urgent; the event was in "
     "2026-11, which is closed, so it is booked in 2026-12"),
    (reasons.Facts(7, "some_correction", 1, DEC, DEC, SOURCE("appeal", 11), 4, "report_rejected", NOV,
                   SOURCE("issue", 9, "A02", NOV, "duplicate")),
     "更正 2026-11 第 4 条「上报不予受理：A02 网格的问题（第 9 号，2026年11月1日上报），原因：重复上报」",
     'Corrects entry 4 of 2026-11 ("Report rejected: problem no. 9 in grid A02, reported 2026-11-01; reason: a '
     'duplicate")'),
    (reasons.Facts(8, "patrol_late", 1, NOV, NOV, SOURCE("patrol", 12, "A03", NOV)),
     "A03 网格2026年11月1日的巡查（第 12 号）逾时完成",
     "patrol no. 12 of grid A03 on 2026-11-01, done late (within the grace period)"),
    (reasons.Facts(9, "patrol_on_time", 2, NOV, NOV, SOURCE("patrol", 14, None, NOV)),
     "网格外2026年11月1日的巡查（第 14 号）按时完成", "patrol no. 14 of no grid on 2026-11-01, done on time"),
]


def test_describe_speaks_the_current_locale_or_the_one_asked_for(app):
    with app.app_context():
        with force_locale("en"):
            assert [reasons.describe(facts) for facts, _zh, _en in ODD] == [en for _f, _zh, en in ODD]
            assert [reasons.describe(facts, "zh") for facts, _zh, _en in ODD] == [zh for _f, zh, _en in ODD]
            assert gettext("Total") == "Total"  # the locale asked for is left behind
        with force_locale("zh"):
            assert [reasons.describe(facts) for facts, _zh, _en in ODD] == [zh for _f, zh, _en in ODD]
            assert [reasons.describe(facts, "en_US") for facts, _zh, _en in ODD] == [en for _f, _zh, en in ODD]
        with reasons.speaking("en") as locale:
            assert locale == "en" and reasons.describe(ODD[0][0]) == ODD[0][2]


def test_no_words_without_an_app():
    """The words are the catalogue's: outside an app they would silently come out in English, so they refuse."""
    table = _big_table(leaders=2, entries=2)
    with pytest.raises(RuntimeError, match="app context"):
        reasons.describe(ODD[0][0], "zh")
    with pytest.raises(RuntimeError, match="app context"):
        exporting.write_xlsx(table, io.BytesIO(), locale="zh")
    with pytest.raises(RuntimeError, match="app context"):
        exporting.write_csv(table, io.BytesIO(), locale="en")
    with pytest.raises(RuntimeError, match="app context"):
        exporting.period_rows(tables.period_summary([table], Period.parse("2026-11")))
