"""The one helper every CSV and workbook goes through: formula-like text is neutralised, numbers stay numbers."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from gridpatrol.core import spreadsheets

DANGEROUS = ["=1+1", "@SUM(A1)", "-2+3", "+1-1", "\t=1", "\r=1", "=HYPERLINK(\"http://x\",\"y\")"]


@pytest.mark.parametrize("text", DANGEROUS)
def test_formula_like_text_is_quoted_in_csv(text):
    assert spreadsheets.formula_like(text)
    assert spreadsheets.csv_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["", "灭火器压力不足", "A01", "a=b", "-3", "+1.5", "-0.5", 12, -3, 2.5, 0])
def test_plain_values_pass_unchanged(value):
    assert spreadsheets.csv_cell(value) == value
    assert spreadsheets.csv_cell(None) == ""


def test_the_csv_writer_neutralises_every_cell_and_keeps_numbers():
    out = io.StringIO()
    spreadsheets.csv_writer(out).writerows([["=1+1", -3, "@SUM(A1)", None, "普通"]])
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [["'=1+1", "-3", "'@SUM(A1)", "", "普通"]]


def test_a_workbook_stores_formula_like_text_as_strings_and_numbers_as_numbers():
    buffer = io.BytesIO()
    workbook = spreadsheets.new_workbook(buffer, in_memory=True)
    ws = workbook.add_worksheet("s")
    for col, value in enumerate(DANGEROUS + [-3, 2.5, None, "http://example.org"]):
        spreadsheets.write_cell(ws, 0, col, value)
    ws.write(1, 0, "=1+1")  # even the generic write() keeps a string a string in this workbook
    workbook.close()
    sheet = load_workbook(io.BytesIO(buffer.getvalue())).active
    cells = [sheet.cell(row=1, column=c + 1) for c in range(len(DANGEROUS) + 4)]
    # openpyxl leaves the carriage return in its OOXML escape (_x000D_), which Excel and LibreOffice decode
    assert [c.value.replace("_x000D_", "\r") for c in cells[:len(DANGEROUS)]] == DANGEROUS
    assert all(c.data_type == "s" for c in cells[:len(DANGEROUS)])
    assert (cells[-4].value, cells[-4].data_type) == (-3, "n") and cells[-3].value == 2.5
    assert cells[-2].value is None and cells[-1].hyperlink is None
    assert sheet["A2"].value == "=1+1" and sheet["A2"].data_type == "s"
