"""The monthly points table as a workbook to print and sign, and as CSV.

`write_xlsx(table, path_or_stream, locale=...)` writes two sheets:

1. 积分表 / Points table — a title with the site and month (merged), a line with the site, month, whether the
   month is closed and the rule-set version, a "generated" line (the only cell that differs between two exports
   of the same month), a two-row header (frozen, repeated on every printed page), one row per grid leader, a
   totals row, notes, and a signature block (网格长签字 / 主管领导签字 / 日期). A4 landscape, fitted to one page
   wide, as many pages tall as needed, centred, page numbers in the footer.
2. 积分明细 / Ledger detail — every ledger entry booked in the month: person, rule (label and code), rule-set
   version, points, source (type and number), event month, reason, the entry it corrects; and a total.

`write_csv(table, path_or_stream, locale=...)` writes the main table (header, rows, totals) as UTF-8 with a BOM
so that Excel opens it correctly. `write_year_xlsx(tables, ...)` writes a year: a summary sheet (the year's
figures added up, points month by month, ranked by the year's points) and the twelve monthly points tables.

The wording of the printed form (headers, title, signature lines) is the form's own, fixed per language here
rather than in the message catalogue, so the printed table never depends on the state of a translation. Rule
labels come from `gridpatrol.points.rules.RULE_LABELS` in the requested locale.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import os
import zoneinfo
from dataclasses import dataclass
from typing import IO, Any, Callable, Optional, Sequence, Union

from flask_babel import force_locale
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from gridpatrol.points.table import EntryRow, LeaderRow, MonthlyTable, YearRow, YearSummary, year_summary

Target = Union[str, "os.PathLike[str]", IO[bytes], IO[str]]
LOCALES = ("zh", "en")
EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
             "November", "December")


@dataclass(frozen=True)
class Column:
    key: str
    zh: str
    en: str
    width: float
    value: Callable[[Any], Any]
    group: Optional[tuple[str, str]] = None  # (zh, en) of a header spanning neighbouring columns
    number_format: Optional[str] = None

    def label(self, locale: str) -> str:
        return self.zh if locale == "zh" else self.en

    def flat_label(self, locale: str) -> str:
        if self.group is None:
            return self.label(locale)
        group = self.group[0] if locale == "zh" else self.group[1]
        return f"{group}（{self.zh}）" if locale == "zh" else f"{group}: {self.en}"


PATROLS = ("巡查任务", "Patrols")
FOUND = ("发现有效问题", "Valid issues found")
MAIN_COLUMNS: tuple[Column, ...] = (
    Column("rank", "排名", "Rank", 6, lambda r: r.rank),
    Column("name", "网格长", "Grid leader", 13, lambda r: r.name),
    Column("grids", "责任网格", "Grids", 14, lambda r: "、".join(r.grids)),
    Column("patrols_due", "应巡", "Due", 7, lambda r: r.patrols_due, PATROLS),
    Column("patrols_done", "已巡", "Done", 7, lambda r: r.patrols_done, PATROLS),
    Column("on_time", "按时", "On time", 7, lambda r: r.on_time, PATROLS),
    Column("late", "超时", "Late", 7, lambda r: r.late, PATROLS),
    Column("missed", "漏巡", "Missed", 7, lambda r: r.missed, PATROLS),
    Column("average_score", "平均得分", "Avg. score", 9, lambda r: r.average_score, PATROLS, "0.0"),
    Column("found_minor", "一般", "Minor", 7, lambda r: r.found_minor, FOUND),
    Column("found_major", "较大", "Major", 7, lambda r: r.found_major, FOUND),
    Column("found_critical", "重大", "Critical", 7, lambda r: r.found_critical, FOUND),
    Column("issues_closed", "本网格结案", "Issues closed", 10, lambda r: r.issues_closed),
    Column("points", "积分", "Points", 8, lambda r: r.points),
)
SOURCE_LABELS = {"patrol": ("巡查", "Patrol"), "issue": ("问题", "Issue"), "appeal": ("申诉", "Appeal"),
                 "manual": ("手工更正", "Manual")}
DETAIL_COLUMNS: tuple[Column, ...] = (
    Column("id", "条目号", "Entry no.", 8, lambda e: e.id),
    Column("name", "人员", "Person", 12, lambda e: e.name),
    Column("username", "账号", "Username", 12, lambda e: e.username),
    Column("rule", "规则", "Rule", 30, None),  # localised in _detail_values
    Column("rule_code", "规则代码", "Rule code", 22, lambda e: e.rule_code),
    Column("rule_version", "规则版本", "Rule version", 8, lambda e: e.rule_version),
    Column("points", "积分", "Points", 7, lambda e: e.points),
    Column("source_type", "来源", "Source", 9, None),  # localised in _detail_values
    Column("source_id", "来源编号", "Source no.", 9, lambda e: e.source_id),
    Column("event_month", "事件月份", "Event month", 9, lambda e: f"{e.event_month:%Y-%m}"),
    Column("reason", "原因", "Reason", 48, lambda e: e.reason),
    Column("corrects_id", "更正条目", "Corrects entry", 9, lambda e: e.corrects_id),
)

TEXT = {
    "sheet_main": ("积分表", "Points table"),
    "sheet_detail": ("积分明细", "Ledger detail"),
    "sheet_year": ("年度汇总", "Year summary"),
    "total": ("合计", "Total"),
    "closed": ("已锁定", "closed"),
    "open": ("未锁定（数字可能变化）", "open (figures may still change)"),
    "leader_sign": ("网格长签字：", "Grid leader's signature:"),
    "supervisor_sign": ("主管领导签字：", "Supervisor's signature:"),
    "date": ("日期：", "Date:"),
    "footer": ("第 &P 页，共 &N 页", "Page &P of &N"),
}


def _t(key: str, locale: str) -> str:
    zh, en = TEXT[key]
    return zh if locale == "zh" else en


def _month_title(month: dt.date, locale: str) -> str:
    return f"{month.year}年{month.month}月" if locale == "zh" else f"{EN_MONTHS[month.month - 1]} {month.year}"


def _local(when: dt.datetime, timezone: str) -> str:
    return when.astimezone(zoneinfo.ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


def _check_locale(locale: str) -> str:
    locale = (locale or "zh").split("_")[0].split("-")[0].lower()
    if locale not in LOCALES:
        raise ValueError(f"locale must be one of {LOCALES}")
    return locale


# --- styles -----------------------------------------------------------------------------------------------
THIN = Side(style="thin", color="000000")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
HEADER_FILL = PatternFill("solid", fgColor="E7E6E6")
TOTAL_FILL = PatternFill("solid", fgColor="F2F2F2")
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
LEFT = Alignment(horizontal="left", vertical="center", wrap_text=True)
LEFT_TOP = Alignment(horizontal="left", vertical="top", wrap_text=True)


def _font(locale: str, **kwargs) -> Font:
    return Font(name="宋体" if locale == "zh" else "Calibri", size=kwargs.pop("size", 11), **kwargs)


# Table cells take named styles, registered once per workbook: styling thousands of ledger lines cell by cell
# (font, border, alignment each) costs about ten times as much.
CELL, CELL_LEFT, CELL_SCORE, HEADER, TOTAL, TOTAL_SCORE = (
    "gp-cell", "gp-cell-left", "gp-cell-score", "gp-header", "gp-total", "gp-total-score")


def _register_styles(workbook: Workbook, locale: str) -> None:
    plain, bold = _font(locale), _font(locale, bold=True)
    for name, font, alignment, fill, number_format in (
            (CELL, plain, CENTER, None, "General"), (CELL_LEFT, plain, LEFT, None, "General"),
            (CELL_SCORE, plain, CENTER, None, "0.0"), (HEADER, bold, CENTER, HEADER_FILL, "General"),
            (TOTAL, bold, CENTER, TOTAL_FILL, "General"), (TOTAL_SCORE, bold, CENTER, TOTAL_FILL, "0.0")):
        style = NamedStyle(name=name, font=font, alignment=alignment, border=BORDER, number_format=number_format)
        if fill is not None:
            style.fill = fill
        workbook.add_named_style(style)


def _print_setup(ws: Worksheet, *, title_rows: str, last_row: int, last_col: int, locale: str) -> None:
    ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0  # as many pages tall as the rows need
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top, ws.page_margins.bottom = 0.5, 0.6
    ws.print_title_rows = title_rows
    ws.print_area = f"A1:{get_column_letter(last_col)}{last_row}"
    ws.oddFooter.center.text = _t("footer", locale)
    ws.oddFooter.center.size = 9


def _title(ws: Worksheet, row: int, text: str, width: int, locale: str, *, size: int = 16, bold: bool = True,
           height: Optional[float] = None) -> None:
    ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=width)
    cell = ws.cell(row=row, column=1, value=text)
    cell.font = _font(locale, size=size, bold=bold)
    cell.alignment = CENTER if size >= 14 else LEFT
    if height:
        ws.row_dimensions[row].height = height


def _header(ws: Worksheet, first_row: int, columns: Sequence[Column], locale: str) -> int:
    """Two header rows (a group header over its columns, others merged vertically). Returns the next row."""
    index = 0
    while index < len(columns):
        column = columns[index]
        col = index + 1
        if column.group is None:
            ws.merge_cells(start_row=first_row, start_column=col, end_row=first_row + 1, end_column=col)
            ws.cell(row=first_row, column=col, value=column.label(locale))
            index += 1
            continue
        span = 1
        while index + span < len(columns) and columns[index + span].group == column.group:
            span += 1
        ws.merge_cells(start_row=first_row, start_column=col, end_row=first_row, end_column=col + span - 1)
        ws.cell(row=first_row, column=col, value=column.group[0] if locale == "zh" else column.group[1])
        for offset in range(span):
            ws.cell(row=first_row + 1, column=col + offset, value=columns[index + offset].label(locale))
        index += span
    for row in (first_row, first_row + 1):
        ws.row_dimensions[row].height = 22
        for col in range(1, len(columns) + 1):
            cell = ws.cell(row=row, column=col)
            cell.style = HEADER
    return first_row + 2


def _row_styles(columns: Sequence[Column], *, total: bool = False, align_left: Sequence[int] = ()) -> list[str]:
    """The named style of each column's cells in a data row (or a totals row)."""
    if total:
        return [TOTAL_SCORE if c.number_format else TOTAL for c in columns]
    return [CELL_SCORE if c.number_format else CELL_LEFT if col in align_left else CELL
            for col, c in enumerate(columns, start=1)]


def _data_row(ws: Worksheet, row: int, values: Sequence[Any], styles: Sequence[str]) -> None:
    for col, (value, style) in enumerate(zip(values, styles), start=1):
        cell = ws.cell(row=row, column=col, value=value)
        cell.style = style


def _widths(ws: Worksheet, columns: Sequence[Column]) -> None:
    for col, column in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(col)].width = column.width


def _signature(ws: Worksheet, row: int, width: int, locale: str) -> int:
    """网格长签字 / 主管领导签字 / 日期 under the table, with room to sign. Returns the last row used."""
    thirds = [(1, width // 3), (width // 3 + 1, 2 * width // 3), (2 * width // 3 + 1, width)]
    for (first, last), key in zip(thirds, ("leader_sign", "supervisor_sign", "date")):
        ws.merge_cells(start_row=row, start_column=first, end_row=row, end_column=last)
        cell = ws.cell(row=row, column=first, value=_t(key, locale))
        cell.font = _font(locale, size=12)
        cell.alignment = Alignment(horizontal="left", vertical="bottom")
    ws.row_dimensions[row].height = 42
    return row


# --- the monthly table ------------------------------------------------------------------------------------
def main_rows(table: MonthlyTable) -> list[list[Any]]:
    """The main table's cells, row by row: the leaders, then the totals row (for the workbook, CSV and tests)."""
    return [[column.value(row) for column in MAIN_COLUMNS] for row in table.rows]


def totals_row(total: LeaderRow, locale: str) -> list[Any]:
    values = [column.value(total) for column in MAIN_COLUMNS]
    values[0], values[1], values[2] = _t("total", locale), None, None
    return values


def _detail_values(entry: EntryRow, locale: str, labels: dict[str, str]) -> list[Any]:
    """One ledger line's cells; `labels` caches the rule labels already looked up in this locale."""
    values = []
    for column in DETAIL_COLUMNS:
        if column.key == "source_type":
            zh, en = SOURCE_LABELS.get(entry.source_type, (entry.source_type, entry.source_type))
            values.append(zh if locale == "zh" else en)
        elif column.key == "rule":
            if entry.rule_code not in labels:
                labels[entry.rule_code] = entry.rule_label
            values.append(labels[entry.rule_code])
        else:
            values.append(column.value(entry))
    return values


def _info_line(table: MonthlyTable, locale: str) -> str:
    status = (f"{_t('closed', locale)}（{_local(table.closed_at, table.timezone)}）" if locale == "zh" and table.closed
              else f"{_t('closed', locale)} ({_local(table.closed_at, table.timezone)})" if table.closed
              else _t("open", locale))
    if locale == "zh":
        return (f"院区：{table.site_name}（{table.site_code}）　月份：{table.label}　状态：{status}　"
                f"积分规则：第 {table.rule_version} 版")
    return (f"Site: {table.site_name} ({table.site_code})   Month: {table.label}   Status: {status}   "
            f"Points rules: version {table.rule_version}")


def _generated_line(generated_at: dt.datetime, timezone: str, locale: str) -> str:
    stamp = _local(generated_at, timezone)
    return f"生成时间：{stamp}（{timezone}）" if locale == "zh" else f"Generated: {stamp} ({timezone})"


def _notes(table: MonthlyTable, locale: str) -> list[str]:
    notes = []
    if locale == "zh":
        notes.append("说明：巡查任务与发现问题按本月发生的事项统计；积分为本月入账的积分合计（含更正及上月锁定后顺延入账的积分），"
                     "明细见“积分明细”。排名按积分从高到低，积分相同者名次相同。")
        if table.others_entries:
            notes.append(f"另有 {table.others_entries} 条积分记录属于本月未担任网格长的人员，共 {table.others_points} 分，"
                         f"见“积分明细”。")
    else:
        notes.append("Note: patrols and issues count what happened in the month; points are the entries booked in the "
                     "month (corrections, and events of a closed month booked into this one, included); see "
                     "\"Ledger detail\". Ranked by points, highest first; equal points share a rank.")
        if table.others_entries:
            notes.append(f"{table.others_entries} more entries ({table.others_points} points) belong to people who "
                         f"led no grid this month; see \"Ledger detail\".")
    return notes


def _main_sheet(ws: Worksheet, table: MonthlyTable, locale: str, generated_at: dt.datetime) -> None:
    width = len(MAIN_COLUMNS)
    title = (f"{table.site_name}网格长巡查情况积分表（{_month_title(table.month, locale)}）" if locale == "zh"
             else f"{table.site_name}: grid leaders' patrol points, {_month_title(table.month, locale)}")
    _title(ws, 1, title, width, locale, height=30)
    _title(ws, 2, _info_line(table, locale), width, locale, size=10, bold=False)
    _title(ws, 3, _generated_line(generated_at, table.timezone, locale), width, locale, size=10, bold=False)
    row = _header(ws, 4, MAIN_COLUMNS, locale)
    styles = _row_styles(MAIN_COLUMNS, align_left=(3,))
    for values in main_rows(table):
        _data_row(ws, row, values, styles)
        row += 1
    _data_row(ws, row, totals_row(table.totals, locale), _row_styles(MAIN_COLUMNS, total=True))
    ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=3)
    row += 1
    for note in _notes(table, locale):
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=width)
        cell = ws.cell(row=row, column=1, value=note)
        cell.font, cell.alignment = _font(locale, size=9), LEFT_TOP
        ws.row_dimensions[row].height = 30
        row += 1
    last = _signature(ws, row + 1, width, locale)
    _widths(ws, MAIN_COLUMNS)
    ws.freeze_panes = "C6"  # the two header rows and the rank and name columns stay in view
    _print_setup(ws, title_rows="4:5", last_row=last, last_col=width, locale=locale)
    ws.sheet_view.zoomScale = 100
    ws.title = _t("sheet_main", locale)


def _detail_sheet(ws: Worksheet, table: MonthlyTable, locale: str) -> None:
    width = len(DETAIL_COLUMNS)
    title = (f"{table.site_name}积分明细（{_month_title(table.month, locale)}）" if locale == "zh"
             else f"{table.site_name}: ledger detail, {_month_title(table.month, locale)}")
    _title(ws, 1, title, width, locale, size=14, height=26)
    info = (f"共 {len(table.entries)} 条，合计 {table.entries_points} 分。" if locale == "zh"
            else f"{len(table.entries)} entries, {table.entries_points} points in all.")
    _title(ws, 2, info, width, locale, size=10, bold=False)
    for col, column in enumerate(DETAIL_COLUMNS, start=1):
        cell = ws.cell(row=3, column=col, value=column.label(locale))
        cell.style = HEADER
    row = 4
    styles = _row_styles(DETAIL_COLUMNS, align_left=(4, 11))
    labels: dict[str, str] = {}
    with _locale_context(locale):
        for entry in table.entries:
            _data_row(ws, row, _detail_values(entry, locale, labels), styles)
            row += 1
    totals = [None] * width
    totals[0], totals[6] = _t("total", locale), table.entries_points
    _data_row(ws, row, totals, _row_styles(DETAIL_COLUMNS, total=True))
    _widths(ws, DETAIL_COLUMNS)
    ws.freeze_panes = "A4"
    _print_setup(ws, title_rows="3:3", last_row=row, last_col=width, locale=locale)
    ws.title = _t("sheet_detail", locale)


def _locale_context(locale: str):
    try:
        return force_locale(locale)
    except RuntimeError:  # pragma: no cover - outside an app context the labels stay in English
        return contextlib.nullcontext()


def build_workbook(table: MonthlyTable, *, locale: str = "zh", generated_at: Optional[dt.datetime] = None) -> Workbook:
    locale = _check_locale(locale)
    generated_at = generated_at or dt.datetime.now(dt.timezone.utc)
    workbook = Workbook()
    _register_styles(workbook, locale)
    _main_sheet(workbook.active, table, locale, generated_at)
    _detail_sheet(workbook.create_sheet(), table, locale)
    _properties(workbook, table.site_name, table.label, generated_at)
    return workbook


def _properties(workbook: Workbook, site_name: str, period: str, generated_at: dt.datetime) -> None:
    workbook.properties.title = f"{site_name} {period}"
    workbook.properties.creator = "GridPatrol"
    workbook.properties.created = workbook.properties.modified = generated_at.astimezone(dt.timezone.utc).replace(
        tzinfo=None)


def write_xlsx(table: MonthlyTable, target: Target, *, locale: str = "zh",
               generated_at: Optional[dt.datetime] = None) -> None:
    """Write the month's workbook to a path or a binary stream."""
    build_workbook(table, locale=locale, generated_at=generated_at).save(target)


def write_csv(table: MonthlyTable, target: Target, *, locale: str = "zh") -> None:
    """The main table as CSV (UTF-8 with BOM): a header row, one row per leader, the totals row."""
    locale = _check_locale(locale)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([column.flat_label(locale) for column in MAIN_COLUMNS])
    for values in main_rows(table):
        writer.writerow(["" if v is None else v for v in values])
    writer.writerow(["" if v is None else v for v in totals_row(table.totals, locale)])
    text = "\ufeff" + buffer.getvalue()
    if isinstance(target, (str, os.PathLike)):
        with open(target, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
    elif isinstance(target, io.TextIOBase):
        target.write(text)
    else:
        target.write(text.encode("utf-8"))


# --- a year -----------------------------------------------------------------------------------------------
def _year_columns(summary: YearSummary) -> tuple[Column, ...]:
    months = tuple(Column(f"m{m.month:02d}", f"{m.month}月", EN_MONTHS[m.month - 1][:3], 6,
                          (lambda i: lambda r: r.monthly_points[i])(i), ("月度积分", "Points by month"))
                   for i, m in enumerate(summary.months))
    base = tuple(Column(c.key, c.zh, c.en, c.width, (lambda f: lambda r: f(r.total))(c.value), c.group,
                        c.number_format) for c in MAIN_COLUMNS[:-1])
    return base + months + (Column("points", "全年积分", "Year points", 9, lambda r: r.total.points),)


def _year_sheet(ws: Worksheet, summary: YearSummary, locale: str, generated_at: dt.datetime, timezone: str) -> None:
    columns = _year_columns(summary)
    width = len(columns)
    title = (f"{summary.site_name}网格长巡查情况积分年度汇总表（{summary.year}年）" if locale == "zh"
             else f"{summary.site_name}: grid leaders' patrol points, year {summary.year}")
    _title(ws, 1, title, width, locale, height=30)
    months = f"{summary.months[0]:%Y-%m} – {summary.months[-1]:%Y-%m}"
    info = (f"院区：{summary.site_name}（{summary.site_code}）　月份：{months}　全年积分为各月入账积分之和"
            if locale == "zh" else
            f"Site: {summary.site_name} ({summary.site_code})   Months: {months}   "
            "Year points = the months' points added up")
    _title(ws, 2, info, width, locale, size=10, bold=False)
    _title(ws, 3, _generated_line(generated_at, timezone, locale), width, locale, size=10, bold=False)
    row = _header(ws, 4, columns, locale)
    styles = _row_styles(columns, align_left=(3,))
    for year_row in summary.rows:
        _data_row(ws, row, [c.value(year_row) for c in columns], styles)
        row += 1
    totals = [c.value(YearRow(summary.totals, summary.monthly_totals)) for c in columns]
    totals[0], totals[1], totals[2] = _t("total", locale), None, None
    _data_row(ws, row, totals, _row_styles(columns, total=True))
    ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=3)
    last = _signature(ws, row + 2, width, locale)
    _widths(ws, columns)
    ws.freeze_panes = "C6"
    _print_setup(ws, title_rows="4:5", last_row=last, last_col=width, locale=locale)
    ws.title = _t("sheet_year", locale)


def build_year_workbook(tables: list[MonthlyTable], *, locale: str = "zh",
                        generated_at: Optional[dt.datetime] = None) -> Workbook:
    """Sheet 1: the year summary; then one printable points table per month (no ledger detail: that is
    the monthly workbook's)."""
    locale = _check_locale(locale)
    generated_at = generated_at or dt.datetime.now(dt.timezone.utc)
    summary = year_summary(tables)
    workbook = Workbook()
    _register_styles(workbook, locale)
    _year_sheet(workbook.active, summary, locale, generated_at, tables[0].timezone)
    for table in tables:
        ws = workbook.create_sheet()
        _main_sheet(ws, table, locale, generated_at)
        ws.title = table.label
    _properties(workbook, summary.site_name, str(summary.year), generated_at)
    return workbook


def write_year_xlsx(tables: list[MonthlyTable], target: Target, *, locale: str = "zh",
                    generated_at: Optional[dt.datetime] = None) -> None:
    build_year_workbook(tables, locale=locale, generated_at=generated_at).save(target)


def write(table: MonthlyTable, path: str, *, locale: str = "zh") -> str:
    """Pick the format by the file's extension (.xlsx or .csv); returns the format written."""
    extension = os.path.splitext(path)[1].lower()
    if extension == ".xlsx":
        write_xlsx(table, path, locale=locale)
        return "xlsx"
    if extension == ".csv":
        write_csv(table, path, locale=locale)
        return "csv"
    raise ValueError("the file name must end in .xlsx or .csv")
