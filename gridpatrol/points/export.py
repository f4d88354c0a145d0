"""The monthly points table as a workbook to print and sign, and as CSV.

`write_xlsx(table, path_or_stream, locale=..., issuing_unit=..., prepared_by=...)` writes two sheets:

1. 积分表 / Points table — a title with the site and month, a line with the issuing unit (编制单位), the site,
   the month, whether the month is closed and the rule-set version, a "generated" line (the only cell that
   differs between two exports of the same month), a two-row header (frozen, repeated on every printed page),
   one row per grid leader (in rank order: points per grid held, 并列, pinyin; the figures of `points.table`:
   巡查合格率, problems found by severity and in all, points and points per grid) ending in a 签字确认 cell for
   the leader's own signature, a totals row, notes (the "as of" instant and the ranking and 应巡 rules), and the
   lines 制表人 (the person exporting) / 审核人 / 日期 to sign.
2. 积分明细 / Ledger detail — every ledger entry booked in the month: person, rule (its label, never its code),
   rule-set version, points, source (type and number), event month, the reason told from the entry's facts in
   the workbook's language (`points.reasons`), the entry it corrects; and a total.

`write_csv(table, path_or_stream, locale=...)` writes the main table (header, rows, totals) as UTF-8 with a BOM
so that Excel opens it correctly. `write_period_xlsx(tables, ..., period=...)` writes a quarter, half-year or year
(the 考核's sums): a summary sheet (the months' figures added up, points month by month, the period's points and
points per grid, ranked like a month) and the period's monthly points tables; `write_period_csv` the summary as
CSV; `write_year_xlsx(tables, ...)` is the year's.

**Printing.** Every sheet is A4 landscape, centred, at a fixed scale that fits its columns to the page width,
with its pages broken by the export itself (manual page breaks, rows of fixed height) — so the export knows
how many pages each sheet prints and writes "第 &P 页 共 N 页" with that N. Neither application counts a
sheet's own pages: LibreOffice's &N is always the whole document's pages (its print code passes the document's
total to every sheet; rendered here, the ledger made "共 33 页" of a 2-page table), and Excel's counts the whole
print job when several sheets print together. Each sheet also starts its page numbers at 1 (useFirstPageNumber,
which LibreOffice honours too). Excel ignores manual page breaks under "fit to pages", hence the fixed scale,
computed from the column widths with room for LibreOffice's wider digit (see `_scale`); the default font is
Arial 10, which LibreOffice has as the metric-compatible Liberation Sans, so widths mean the same in both. The footer sits 0.3″ from the paper's
edge inside a 0.75″ bottom margin: LibreOffice makes the difference (0.45″) the footer's height, so the page
number is whole (a 0.6″ margin with the footer at 0.5″ left 0.1″ and cut it in half), and both stay clear of
the ~0.2″ a printer cannot reach.

**Writer.** XlsxWriter (write-only, made for speed; about three times faster than building an openpyxl workbook
of the same cells): the month's ~24,000 cells take ~0.13 s of CPU (bench/README.md). Every value goes through
`gridpatrol.core.spreadsheets` so that no text becomes a formula.

**Words.** Every word of the form (headers, titles, notes, signature lines, the reasons of `points.reasons`, the
rule labels of `gridpatrol.points.rules.RULE_LABELS`) is an English msgid translated by the app's one path,
Flask-Babel's gettext and the Chinese catalogue (gridpatrol/translations; tests/core/test_translations.py keeps it
complete). The Chinese of each is the office's wording of the signed form (tests/points assert it); a word whose
form wording differs from the rest of the app's (责任网格, not 网格, for "Grids") carries the context
"points table". Each export enters its `locale` once (`points.reasons.speaking`, Flask-Babel's force_locale), so
the paper is in the workbook's language whatever the reader's page is in, and it needs an app context.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import os
import zoneinfo
from dataclasses import dataclass
from typing import IO, Any, Callable, Optional, Sequence, Union

from flask_babel import LazyString, pgettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from gridpatrol.core import spreadsheets
from gridpatrol.core.time import Period, end_label, month_bounds
from gridpatrol.points.reasons import speaking
from gridpatrol.points.table import (EntryRow, LeaderRow, MonthlyTable, YearRow, YearSummary, period_summary,
                                     year_summary)

Target = Union[str, "os.PathLike[str]", IO[bytes], IO[str]]
LOCALES = ("zh", "en")


@dataclass(frozen=True)
class Column:
    key: str
    title: Any  # a lazy string: the label in the current locale
    width: float
    value: Callable[[Any], Any]
    group: Any = None  # a lazy string: a header spanning neighbouring columns
    number_format: Optional[str] = None
    align_left: bool = False

    def label(self) -> str:
        return str(self.title)

    def flat_label(self) -> str:
        if self.group is None:
            return self.label()
        return _("%(group)s: %(column)s", group=str(self.group), column=self.label())


def _form_word(make: Callable[[], str]) -> LazyString:
    """A label whose printed form differs from the app's word for it (`pgettext("points table", …)`), lazily."""
    return LazyString(make)


PATROLS = _form_word(lambda: pgettext("points table", "Patrols"))
FOUND = _l("Valid issues found")
# The table's figures, in the order printed: the workbook's sheet, the CSV and the year summary read these.
# A new figure of the table is one more Column here.
MAIN_COLUMNS: tuple[Column, ...] = (
    Column("rank", _l("Rank"), 6, lambda r: r.rank),
    Column("name", _l("Grid leader"), 12, lambda r: r.name),
    Column("grids", _form_word(lambda: pgettext("points table", "Grids")), 14, lambda r: "、".join(r.grids),
           align_left=True),
    Column("patrols_due", _l("Due"), 6.5, lambda r: r.patrols_due, PATROLS),
    Column("patrols_done", _form_word(lambda: pgettext("points table", "Done")), 6.5, lambda r: r.patrols_done,
           PATROLS),
    Column("on_time", _l("On time"), 6.5, lambda r: r.on_time, PATROLS),
    Column("late", _l("Late"), 6.5, lambda r: r.late, PATROLS),
    Column("missed", _l("Missed"), 6.5, lambda r: r.missed, PATROLS),
    Column("average_score", _l("Pass rate"), 9, lambda r: r.average_score, PATROLS, "0.00"),
    Column("found_minor", _l("Minor"), 6.5, lambda r: r.found_minor, FOUND),
    Column("found_major", _l("Major"), 6.5, lambda r: r.found_major, FOUND),
    Column("found_critical", _l("Critical"), 6.5, lambda r: r.found_critical, FOUND),
    Column("found_total", _l("Total"), 6.5, lambda r: r.found_total, FOUND),
    Column("issues_closed", _form_word(lambda: pgettext("points table", "Issues closed")), 10,
           lambda r: r.issues_closed),
    Column("points", _l("Points"), 7, lambda r: r.points),
    Column("points_per_grid", _l("Points per grid"), 9, lambda r: r.points_per_grid, None, "0.00"),
)
# Printed only (not in the CSV): a cell on every leader's row for the leader's own signature.
SIGN_COLUMN = Column("sign", _l("Signature"), 14, lambda r: None)
SOURCE_LABELS = {"patrol": _l("Patrol"), "issue": _l("Issue"), "appeal": _l("Appeal"), "manual": _l("Manual")}
DETAIL_COLUMNS: tuple[Column, ...] = (
    Column("id", _l("Entry no."), 8, lambda e: e.id),
    Column("name", _l("Person"), 12, lambda e: e.name),
    Column("username", _form_word(lambda: pgettext("points table", "Username")), 12, lambda e: e.username),
    Column("rule", _l("Rule"), 30, None, align_left=True),  # localised in _detail_values
    Column("rule_version", _l("Rule version"), 8, lambda e: e.rule_version),
    Column("points", _l("Points"), 7, lambda e: e.points),
    Column("source_type", _l("Source"), 9, None),  # localised in _detail_values
    Column("source_id", _l("Source no."), 9, lambda e: e.source_id),
    Column("event_month", _l("Event month"), 9, lambda e: f"{e.event_month:%Y-%m}"),
    Column("reason", _l("Reason"), 60, None, align_left=True),  # told from the entry's facts in _detail_values
    Column("corrects_id", _l("Corrects entry"), 9, lambda e: e.corrects_id),
)


def _footer(pages: int) -> str:
    """Page P of this sheet's own N pages (N counted by the export: see the module's note on printing)."""
    return "&C&9" + _("Page &P of %(pages)d", pages=pages)


def _month_title(month: dt.date) -> str:
    return _("%(year)d-%(month)02d", year=month.year, month=month.month)


def _local(when: dt.datetime, timezone: str) -> str:
    return when.astimezone(zoneinfo.ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


def _check_locale(locale: str) -> str:
    locale = (locale or "zh").split("_")[0].split("-")[0].lower()
    if locale not in LOCALES:
        raise ValueError(f"locale must be one of {LOCALES}")
    return locale


# --- the page ------------------------------------------------------------------------------------------------
# A4 landscape in inches; margins chosen so that the footer has a band of its own in both applications.
PAPER_W, PAPER_H = 11.69, 8.27
MARGIN_SIDE, MARGIN_TOP, MARGIN_BOTTOM, HEADER_AT, FOOTER_AT = 0.4, 0.6, 0.75, 0.3, 0.3
# Row heights in points (fixed, so that the pages can be counted): a leader's row leaves room to sign.
TITLE_H, INFO_H, HEADER_H, LEADER_H, TOTAL_H, NOTE_H, GAP_H, SIGN_H, DETAIL_H = 30, 18, 22, 24, 22, 30, 8, 36, 16
# What the page holds, with a margin for the two applications' slightly different font metrics.
SAFETY = 0.94
LIBREOFFICE_DIGIT = 7.5  # px


def _column_pixels(width: float) -> int:
    """Excel's rule for a column of `width` characters of the default font (Arial 10: 7 px a digit)."""
    return int(width * 7 + 5) if width >= 1 else int(width * 12 + 0.5)


def text_height(text: str, pixels: float, size: float) -> float:
    """The height (points) a wrapped text of font `size` needs in a cell `pixels` wide: a CJK character is as wide
    as the font is high, another about half that; 10 % for where lines break; 1.35 × size a line, 4 points of
    padding. Rows have fixed heights (so that the pages can be counted), so they are made tall enough here."""
    width = sum(size if ord(ch) >= 0x2E80 else size * 0.55 for ch in text) * 1.1
    usable = max(pixels - 6, 1) * 0.75  # pixels at 96 dpi → points
    return math.ceil(width / usable) * size * 1.35 + 4


def _scale(columns: Sequence[Column]) -> int:
    """The print scale (percent, ≤ 100) at which the columns fit the width of the page."""
    usable = (PAPER_W - 2 * MARGIN_SIDE) * 96 * SAFETY
    # LibreOffice takes the digit unrounded (Liberation Sans 10: 7.41 px where Excel rounds to 7): up to 6 % wider
    needed = sum(_column_pixels(c.width) for c in columns) * LIBREOFFICE_DIGIT / 7
    return max(10, min(100, math.floor(100 * usable / needed)))


def paginate(heights: Sequence[float], *, first: int, repeat: float, scale: int,
             keep_together_from: Optional[int] = None) -> list[int]:
    """Where the pages break (0-based rows that begin a new page) for rows of the given heights (points) from
    row `first` on; rows before `first` (the title and header) print on page 1 only, `repeat` points of header
    rows print again on every later page. Rows from `keep_together_from` on (totals, notes, signatures) are kept
    on one page."""
    capacity = (PAPER_H - MARGIN_TOP - MARGIN_BOTTOM) * 72 * SAFETY * 100 / scale
    breaks: list[int] = []
    used = sum(heights[:first])
    row = first
    while row < len(heights):
        block_end = len(heights) if keep_together_from is not None and row == keep_together_from else row + 1
        block = sum(heights[row:block_end])
        if used + block > capacity and used > (sum(heights[:first]) if not breaks else repeat):
            breaks.append(row)
            used = repeat
        used += block
        row = block_end
    return breaks


class Formats:
    """The workbook's cell formats, made once per workbook (XlsxWriter shares them by reference)."""

    def __init__(self, workbook, locale: str) -> None:
        font = {"font_name": "宋体" if locale == "zh" else "Calibri", "font_size": 11}
        boxed = {**font, "border": 1, "valign": "vcenter", "text_wrap": True}
        self.cell = workbook.add_format({**boxed, "align": "center"})
        self.cell_left = workbook.add_format({**boxed, "align": "left"})
        self.cell_score = workbook.add_format({**boxed, "align": "center", "num_format": "0.00"})
        self.detail = workbook.add_format({**font, "border": 1, "valign": "vcenter", "align": "center"})
        self.detail_left = workbook.add_format({**font, "border": 1, "valign": "vcenter", "align": "left"})
        total = {**boxed, "align": "center", "bold": True, "bg_color": "#F2F2F2"}
        self.total = workbook.add_format(total)
        self.total_score = workbook.add_format({**total, "num_format": "0.00"})
        self.header = workbook.add_format({**boxed, "align": "center", "bold": True, "bg_color": "#E7E6E6"})
        self.title = workbook.add_format({**font, "font_size": 16, "bold": True, "align": "center",
                                          "valign": "vcenter"})
        self.subtitle = workbook.add_format({**font, "font_size": 14, "bold": True, "align": "center",
                                             "valign": "vcenter"})
        self.info = workbook.add_format({**font, "font_size": 10, "align": "left", "valign": "vcenter"})
        self.note = workbook.add_format({**font, "font_size": 9, "align": "left", "valign": "top",
                                         "text_wrap": True})
        self.sign = workbook.add_format({**font, "font_size": 12, "align": "left", "valign": "bottom"})

    def row(self, columns: Sequence[Column], *, total: bool = False, detail: bool = False) -> list[Any]:
        if total:
            return [self.total_score if c.number_format else self.total for c in columns]
        if detail:
            return [self.detail_left if c.align_left else self.detail for c in columns]
        return [self.cell_score if c.number_format else self.cell_left if c.align_left else self.cell
                for c in columns]


class Sheet:
    """One printable sheet being written top to bottom: it keeps each row's height to count the pages."""

    def __init__(self, workbook, name: str, columns: Sequence[Column], formats: Formats) -> None:
        self.ws = workbook.add_worksheet(name)
        self.columns, self.formats = columns, formats
        self.width = len(columns)
        self.heights: list[float] = []
        self.pixels = [_column_pixels(column.width) for column in columns]
        for col, column in enumerate(columns):
            self.ws.set_column(col, col, column.width)

    @property
    def row(self) -> int:
        return len(self.heights)

    def _height(self, height: float) -> int:
        row = self.row
        self.ws.set_row(row, height)
        self.heights.append(height)
        return row

    def merged(self, text: str, cell_format, height: float, first: int = 0, last: Optional[int] = None,
               *, same_row: bool = False) -> None:
        row = self.row - 1 if same_row else self._height(height)
        last = self.width - 1 if last is None else last
        if last > first:
            self.ws.merge_range(row, first, row, last, None, cell_format)
        spreadsheets.write_cell(self.ws, row, first, text, cell_format)

    def fitting(self, values: Sequence[Any], minimum: float) -> float:
        """A row's height: `minimum`, or taller where a text (a leader's many grids, a long name) wraps."""
        return max([minimum] + [text_height(value, pixels, 11) for value, pixels in zip(values, self.pixels)
                                if isinstance(value, str)])

    def values(self, values: Sequence[Any], formats: Sequence[Any], height: float) -> None:
        row = self._height(height)
        for col, (value, cell_format) in enumerate(zip(values, formats)):
            spreadsheets.write_cell(self.ws, row, col, value, cell_format)

    def header(self) -> None:
        """Two header rows: a group header over its columns, other labels merged over both rows; each row as tall
        as its longest label needs."""
        ws, fmt, columns = self.ws, self.formats.header, self.columns

        def needed(column: Column) -> float:
            return text_height(column.label(), _column_pixels(column.width), 11)

        second = max([HEADER_H] + [needed(c) for c in columns if c.group is not None])
        first = self._height(max([HEADER_H] + [needed(c) - second for c in columns if c.group is None]))
        self._height(second)
        index = 0
        while index < len(columns):
            column = columns[index]
            if column.group is None:
                ws.merge_range(first, index, first + 1, index, column.label(), fmt)
                index += 1
                continue
            span = 1
            while index + span < len(columns) and columns[index + span].group == column.group:
                span += 1
            group = str(column.group)
            if span > 1:
                ws.merge_range(first, index, first, index + span - 1, group, fmt)
            else:
                ws.write_string(first, index, group, fmt)
            for offset in range(span):
                ws.write_string(first + 1, index + offset, columns[index + offset].label(), fmt)
            index += span

    def signatures(self, prepared_by: Optional[str]) -> None:
        """制表人 (who exported), 审核人 and 日期, each with room to sign, in thirds of the width."""
        width = self.width
        thirds = [(0, width // 3 - 1), (width // 3, 2 * width // 3 - 1), (2 * width // 3, width - 1)]
        blank = _("________________")  # a line to write a name on
        texts = (_("Prepared by:") + (prepared_by or blank), _("Reviewed by:") + blank,
                 _("Date:") + _("____-__-__"))  # a date to fill in
        self._height(SIGN_H)
        for (first, last), text in zip(thirds, texts):
            self.merged(text, self.formats.sign, SIGN_H, first, last, same_row=True)

    def finish(self, *, header_rows: tuple[int, int], body_from: int, freeze: tuple[int, int],
               keep_together_from: Optional[int] = None) -> int:
        """Print setup: A4 landscape, centred, a fixed scale fitting the width, page breaks counted here, the
        header rows repeated, page numbers of this sheet alone. Returns the sheet's number of pages."""
        ws = self.ws
        scale = _scale(self.columns)
        first_header, last_header = header_rows
        repeat = sum(self.heights[first_header:last_header + 1])
        breaks = paginate(self.heights, first=body_from, repeat=repeat, scale=scale,
                          keep_together_from=keep_together_from)
        ws.set_landscape()
        ws.set_paper(9)  # A4
        ws.center_horizontally()
        ws.set_margins(left=MARGIN_SIDE, right=MARGIN_SIDE, top=MARGIN_TOP, bottom=MARGIN_BOTTOM)
        ws.set_print_scale(scale)
        ws.set_h_pagebreaks(breaks)
        ws.repeat_rows(first_header, last_header)
        ws.print_area(0, 0, max(self.row - 1, 0), self.width - 1)
        ws.set_start_page(1)
        pages = len(breaks) + 1
        ws.set_header("", {"margin": HEADER_AT})
        ws.set_footer(_footer(pages), {"margin": FOOTER_AT})
        ws.freeze_panes(*freeze)
        return pages


# --- the monthly table ------------------------------------------------------------------------------------
def main_rows(table: MonthlyTable) -> list[list[Any]]:
    """The main table's cells, row by row: the leaders (for the workbook, CSV and tests)."""
    return [[column.value(row) for column in MAIN_COLUMNS] for row in table.rows]


def totals_row(total: LeaderRow) -> list[Any]:
    """The totals row's cells, worded in the current locale."""
    values = [column.value(total) for column in MAIN_COLUMNS]
    values[0], values[1], values[2] = _("Total"), None, None
    return values


def _detail_values(entry: EntryRow, labels: dict[tuple[str, str], str]) -> list[Any]:
    """One ledger line's cells in the current locale; `labels` caches the rule and source labels already looked
    up (the reason is told per entry, `points.reasons`)."""
    values = []
    for column in DETAIL_COLUMNS:
        if column.key == "source_type":
            key = ("source", entry.source_type)
            if key not in labels:
                label = SOURCE_LABELS.get(entry.source_type)
                labels[key] = str(label) if label is not None else entry.source_type
            values.append(labels[key])
        elif column.key == "rule":
            key = ("rule", entry.rule_code)
            if key not in labels:
                labels[key] = entry.rule_label
            values.append(labels[key])
        elif column.key == "reason":
            values.append(entry.reason_text())
        else:
            values.append(column.value(entry))
    return values


def _info_line(table: MonthlyTable, issuing_unit: str) -> str:
    status = (_("closed (%(when)s)", when=_local(table.closed_at, table.timezone)) if table.closed
              else _("open (figures may still change)"))
    return _("Issued by: %(unit)s   Site: %(site)s (%(code)s)   Month: %(month)s   Status: %(status)s   "
             "Points rules: version %(version)d", unit=issuing_unit, site=table.site_name, code=table.site_code,
             month=table.label, status=status, version=table.rule_version)


def _generated_line(generated_at: dt.datetime, timezone: str) -> str:
    return _("Generated: %(when)s (%(timezone)s)", when=_local(generated_at, timezone), timezone=timezone)


def _as_of(table: MonthlyTable) -> str:
    """The instant the figures are taken at, as the office writes it (the end of a month is its last day 24:00)."""
    return end_label(min(table.as_of, month_bounds(table.month, table.timezone)[1]), table.timezone)


def _notes(table: MonthlyTable) -> list[str]:
    notes = [_("Note: as of %(as_of)s. Patrols and issues count what happened in the month; due counts the patrols "
               "whose due time had come by then, or that were done by then (patrols not yet due are not counted). "
               "Pass rate: the average score of the leader's submitted patrols (the condition of the grids). Points "
               "are the entries booked in the month (corrections, and events of a closed month booked into this "
               "one, included); see \"Ledger detail\". Ranked by points per grid held (points ÷ grids held in the "
               "month), highest first; equal values share a rank and are listed by the pinyin of the name. Each "
               "grid leader signs in the \"Signature\" cell of their own row.", as_of=_as_of(table))]
    if table.others_entries:
        notes.append(_("%(entries)d more entries (%(points)d points) belong to people who led no grid this month; "
                       "see \"Ledger detail\".", entries=table.others_entries, points=table.others_points))
    return notes


@dataclass(frozen=True)
class Signing:
    """Who the printed form names: the issuing unit (编制单位; the site's name when the site sets none) and the
    person exporting (制表人)."""
    issuing_unit: Optional[str] = None
    prepared_by: Optional[str] = None

    def unit(self, site_name: str) -> str:
        return (self.issuing_unit or "").strip() or site_name


def _main_sheet(workbook, name: str, formats: Formats, table: MonthlyTable, generated_at: dt.datetime,
                signing: Signing) -> int:
    columns = MAIN_COLUMNS + (SIGN_COLUMN,)
    sheet = Sheet(workbook, name, columns, formats)
    title = _("%(site)s: grid leaders' patrol points, %(month)s", site=table.site_name,
              month=_month_title(table.month))
    sheet.merged(title, formats.title, TITLE_H)
    sheet.merged(_info_line(table, signing.unit(table.site_name)), formats.info, INFO_H)
    sheet.merged(_generated_line(generated_at, table.timezone), formats.info, INFO_H)
    header = sheet.row
    sheet.header()
    body = sheet.row
    row_formats = formats.row(columns)
    for values in main_rows(table):
        sheet.values(values + [None], row_formats, sheet.fitting(values, LEADER_H))
    tail = sheet.row
    total_formats = formats.row(columns, total=True)
    sheet.values(totals_row(table.totals) + [None], total_formats, TOTAL_H)
    sheet.ws.merge_range(tail, 0, tail, 2, _("Total"), formats.total)
    for note in _notes(table):
        sheet.merged(note, formats.note, max(NOTE_H, text_height(note, sum(sheet.pixels), 9)))
    sheet._height(GAP_H)
    sheet.signatures(signing.prepared_by)
    return sheet.finish(header_rows=(header, header + 1), body_from=body, freeze=(body, 2), keep_together_from=tail)


def _detail_sheet(workbook, formats: Formats, table: MonthlyTable) -> int:
    sheet = Sheet(workbook, _("Ledger detail"), DETAIL_COLUMNS, formats)
    title = _("%(site)s: ledger detail, %(month)s", site=table.site_name, month=_month_title(table.month))
    sheet.merged(title, formats.subtitle, 26)
    info = _("%(entries)d entries, %(points)d points in all.", entries=len(table.entries),
             points=table.entries_points)
    sheet.merged(info, formats.info, INFO_H)
    header = sheet._height(HEADER_H)
    for col, column in enumerate(DETAIL_COLUMNS):
        sheet.ws.write_string(header, col, column.label(), formats.header)
    row_formats = formats.row(DETAIL_COLUMNS, detail=True)
    labels: dict[tuple[str, str], str] = {}
    write = spreadsheets.write_cell
    ws, heights = sheet.ws, sheet.heights
    # the hot loop (~2,000 lines × 12 cells), in the locale the export entered once: rows keep the default height
    for entry in table.entries:
        row = len(heights)
        heights.append(DETAIL_H)
        for col, (value, cell_format) in enumerate(zip(_detail_values(entry, labels), row_formats)):
            write(ws, row, col, value, cell_format)
    ws.set_default_row(DETAIL_H)
    totals: list[Any] = [None] * sheet.width
    totals[0], totals[[c.key for c in DETAIL_COLUMNS].index("points")] = _("Total"), table.entries_points
    sheet.values(totals, formats.row(DETAIL_COLUMNS, total=True), DETAIL_H)
    return sheet.finish(header_rows=(header, header), body_from=header + 1, freeze=(header + 1, 0))


# The workbook's default font sets the unit of column widths (its digit's width). Arial 10 has a 7-pixel digit in
# Excel and, as Liberation Sans (metric-compatible, shipped with LibreOffice), in LibreOffice too; with Calibri,
# LibreOffice on a machine without it falls back to a wider font, widens every column by ~30 % and splits the
# table across two pages side by side. Cells still print in 宋体 / Calibri.
DEFAULT_FONT = {"default_format_properties": {"font_name": "Arial", "font_size": 10}}


def _new_workbook(target: Target, title: str, generated_at: dt.datetime):
    if isinstance(target, (str, os.PathLike)):
        workbook = spreadsheets.new_workbook(os.fspath(target), **DEFAULT_FONT)
    else:
        workbook = spreadsheets.new_workbook(target, in_memory=True, **DEFAULT_FONT)
    workbook.set_properties({"title": title, "author": "GridPatrol",
                             "created": generated_at.astimezone(dt.timezone.utc).replace(tzinfo=None)})
    return workbook


def write_xlsx(table: MonthlyTable, target: Target, *, locale: str = "zh",
               generated_at: Optional[dt.datetime] = None, issuing_unit: Optional[str] = None,
               prepared_by: Optional[str] = None) -> None:
    """Write the month's workbook, in `locale` ("zh" or "en"), to a path or a binary stream. `issuing_unit`
    (编制单位) defaults to the site's name; `prepared_by` (制表人) is the person exporting, or a blank line to write
    on."""
    locale = _check_locale(locale)
    generated_at = generated_at or dt.datetime.now(dt.timezone.utc)
    with speaking(locale):
        workbook = _new_workbook(target, f"{table.site_name} {table.label}", generated_at)
        formats = Formats(workbook, locale)
        _main_sheet(workbook, pgettext("points table", "Points table"), formats, table, generated_at,
                    Signing(issuing_unit, prepared_by))
        _detail_sheet(workbook, formats, table)
        workbook.close()


def write_csv(table: MonthlyTable, target: Target, *, locale: str = "zh") -> None:
    """The main table as CSV (UTF-8 with BOM), in `locale`: a header row, one row per leader, the totals row."""
    locale = _check_locale(locale)
    buffer = io.StringIO(newline="")
    writer = spreadsheets.csv_writer(buffer, lineterminator="\r\n")
    with speaking(locale):
        writer.writerow([column.flat_label() for column in MAIN_COLUMNS])
        writer.writerows(main_rows(table))
        writer.writerow(totals_row(table.totals))
    _write_text("\ufeff" + buffer.getvalue(), target)


# --- a period: a quarter, a half-year, a year (the 考核's sums) -------------------------------------------------
# Per kind: the summary sheet's name and the period's points column.
PERIOD_SHEETS = {"month": _l("Month summary"), "quarter": _l("Quarter summary"), "half": _l("Half-year summary"),
                 "year": _l("Year summary")}
PERIOD_POINTS = {"month": _l("Month points"), "quarter": _l("Quarter points"), "half": _l("Half-year points"),
                 "year": _l("Year points")}
QUARTERS = (_l("Q1 %(year)d"), _l("Q2 %(year)d"), _l("Q3 %(year)d"), _l("Q4 %(year)d"))
# The columns of points month by month, under "Points by month".
MONTHS = (_l("Jan"), _l("Feb"), _l("Mar"), _l("Apr"), _l("May"), _l("Jun"), _l("Jul"), _l("Aug"), _l("Sep"),
          _l("Oct"), _l("Nov"), _l("Dec"))
BY_MONTH = _l("Points by month")


def _period_name(summary: YearSummary) -> str:
    """2026年第四季度 / Q4 2026, 2026年下半年 / second half of 2026, 2026年 / year 2026."""
    year, period = summary.year, summary.period
    kind, number = (period.kind, period.number) if period is not None else ("year", 1)
    if kind == "quarter":
        return str(QUARTERS[number - 1]) % {"year": year}
    if kind == "half":
        return _("first half of %(year)d", year=year) if number == 1 else _("second half of %(year)d", year=year)
    if kind == "month":
        return _month_title(period.first)
    return _("year %(year)d", year=year)


def _period_title(summary: YearSummary) -> str:
    site, name = summary.site_name, _period_name(summary)
    if summary.kind == "month":
        return _("%(site)s: grid leaders' patrol points, month summary (%(period)s)", site=site, period=name)
    if summary.kind == "quarter":
        return _("%(site)s: grid leaders' patrol points, quarter summary (%(period)s)", site=site, period=name)
    if summary.kind == "half":
        return _("%(site)s: grid leaders' patrol points, half-year summary (%(period)s)", site=site, period=name)
    return _("%(site)s: grid leaders' patrol points, year summary (%(period)s)", site=site, period=name)


def _year_columns(summary: YearSummary) -> tuple[Column, ...]:
    """The period's columns: the table's figures added up, points month by month, the period's points and its
    points per grid (the months' values added up)."""
    months = tuple(Column(f"m{m.month:02d}", MONTHS[m.month - 1], 5.5, (lambda i: lambda r: r.monthly_points[i])(i),
                          BY_MONTH)
                   for i, m in enumerate(summary.months))
    base = tuple(Column(c.key, c.title, c.width, (lambda f: lambda r: f(r.total))(c.value), c.group,
                        c.number_format, c.align_left) for c in MAIN_COLUMNS
                 if c.key not in ("points", "points_per_grid"))
    per_grid = next(c for c in MAIN_COLUMNS if c.key == "points_per_grid")
    return base + months + (Column("points", PERIOD_POINTS[summary.kind], 9, lambda r: r.total.points),
                            Column(per_grid.key, per_grid.title, per_grid.width,
                                   lambda r: r.total.points_per_grid, None, per_grid.number_format))


def _year_sheet(workbook, formats: Formats, summary: YearSummary, generated_at: dt.datetime, timezone: str,
                signing: Signing) -> int:
    columns = _year_columns(summary)
    sheet = Sheet(workbook, str(PERIOD_SHEETS[summary.kind]), columns, formats)
    sheet.merged(_period_title(summary), formats.title, TITLE_H)
    info = _("Issued by: %(unit)s   Site: %(site)s (%(code)s)   Months: %(months)s   %(points)s and points per grid "
             "= the months' added up", unit=signing.unit(summary.site_name), site=summary.site_name,
             code=summary.site_code, months=f"{summary.months[0]:%Y-%m} – {summary.months[-1]:%Y-%m}",
             points=str(PERIOD_POINTS[summary.kind]))
    sheet.merged(info, formats.info, INFO_H)
    sheet.merged(_generated_line(generated_at, timezone), formats.info, INFO_H)
    header = sheet.row
    sheet.header()
    body = sheet.row
    row_formats = formats.row(columns)
    for year_row in summary.rows:
        values = [c.value(year_row) for c in columns]
        sheet.values(values, row_formats, sheet.fitting(values, LEADER_H))
    tail = sheet.row
    sheet.values(_period_totals(summary, columns), formats.row(columns, total=True), TOTAL_H)
    sheet.ws.merge_range(tail, 0, tail, 2, _("Total"), formats.total)
    sheet._height(GAP_H)
    sheet.signatures(signing.prepared_by)
    return sheet.finish(header_rows=(header, header + 1), body_from=body, freeze=(body, 2), keep_together_from=tail)


def _period_totals(summary: YearSummary, columns: Sequence[Column]) -> list[Any]:
    totals = [c.value(YearRow(summary.totals, summary.monthly_totals)) for c in columns]
    totals[0], totals[1], totals[2] = _("Total"), None, None
    return totals


def write_year_xlsx(tables: list[MonthlyTable], target: Target, *, locale: str = "zh",
                    generated_at: Optional[dt.datetime] = None, issuing_unit: Optional[str] = None,
                    prepared_by: Optional[str] = None) -> None:
    """Sheet 1: the year summary; then one printable points table per month (no ledger detail: that is
    the monthly workbook's)."""
    write_period_xlsx(tables, target, period=year_summary(tables).period, locale=locale, generated_at=generated_at,
                      issuing_unit=issuing_unit, prepared_by=prepared_by)


def write_period_xlsx(tables: list[MonthlyTable], target: Target, *, period: Period, locale: str = "zh",
                      generated_at: Optional[dt.datetime] = None, issuing_unit: Optional[str] = None,
                      prepared_by: Optional[str] = None) -> None:
    """Sheet 1: the period's summary (a quarter, half-year or year: its months added up, ranked by points per
    grid); then one printable points table per month of it. In `locale` ("zh" or "en")."""
    locale = _check_locale(locale)
    generated_at = generated_at or dt.datetime.now(dt.timezone.utc)
    summary = period_summary(tables, period)
    signing = Signing(issuing_unit, prepared_by)
    with speaking(locale):
        workbook = _new_workbook(target, f"{summary.site_name} {period.key}", generated_at)
        formats = Formats(workbook, locale)
        _year_sheet(workbook, formats, summary, generated_at, tables[0].timezone, signing)
        for table in tables:
            _main_sheet(workbook, table.label, formats, table, generated_at, signing)
        workbook.close()


def period_rows(summary: YearSummary, locale: str = "zh") -> list[list[Any]]:
    """The period summary's cells in `locale`: one row per person, then the totals row (for the CSV and tests)."""
    with speaking(_check_locale(locale)):
        columns = _year_columns(summary)
        return [[c.value(row) for c in columns] for row in summary.rows] + [_period_totals(summary, columns)]


def write_period_csv(tables: list[MonthlyTable], target: Target, *, period: Period, locale: str = "zh") -> None:
    """The period's summary as CSV (UTF-8 with BOM), in `locale`: a header row, one row per person, the totals
    row."""
    locale = _check_locale(locale)
    summary = period_summary(tables, period)
    buffer = io.StringIO(newline="")
    writer = spreadsheets.csv_writer(buffer, lineterminator="\r\n")
    with speaking(locale):
        writer.writerow([column.flat_label() for column in _year_columns(summary)])
        writer.writerows(period_rows(summary, locale))
    _write_text("\ufeff" + buffer.getvalue(), target)


def _write_text(text: str, target: Target) -> None:
    if isinstance(target, (str, os.PathLike)):
        with open(target, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
    elif isinstance(target, io.TextIOBase):
        target.write(text)
    else:
        target.write(text.encode("utf-8"))


def write(table: MonthlyTable, path: str, *, locale: str = "zh", issuing_unit: Optional[str] = None,
          prepared_by: Optional[str] = None) -> str:
    """Pick the format by the file's extension (.xlsx or .csv); returns the format written."""
    extension = os.path.splitext(path)[1].lower()
    if extension == ".xlsx":
        write_xlsx(table, path, locale=locale, issuing_unit=issuing_unit, prepared_by=prepared_by)
        return "xlsx"
    if extension == ".csv":
        write_csv(table, path, locale=locale)
        return "csv"
    raise ValueError("the file name must end in .xlsx or .csv")
