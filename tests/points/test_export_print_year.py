"""The year's workbook on paper: the summary and each month's table count their own pages (LibreOffice)."""

from __future__ import annotations

import io

from gridpatrol.extensions import db
from gridpatrol.points import export as exporting
from gridpatrol.points import table as tables
from tests.patrols.builders import at
from tests.points.test_export_print import _footers, _pdf
from tests.points.test_table import DEC, build_november, the_site


def test_each_sheet_of_the_year_numbers_its_own_pages(app, tmp_path):
    build_november(app)
    with app.app_context():
        months = tables.yearly_tables(db.session, the_site(db.session), 2026, until=DEC)
        buffer = io.BytesIO()
        exporting.write_year_xlsx(months, buffer, generated_at=at("2027-01-05 09:00"), issuing_unit="机关事务服务中心",
                                  prepared_by="张三")
    pages, _words, _height = _pdf(buffer.getvalue(), tmp_path)
    assert len(months) == 12 and _footers(pages) == [(1, 1)] * 13  # the summary, then January … December
    assert "编制单位：机关事务服务中心" in pages[0] and "制表人：张三" in pages[0]
    assert all("签字确认" in page and "制表人：张三" in page for page in pages[1:])
