"""`gridpatrol points …` and the month-close job: rebuild --check exit codes, export by extension, close."""

from __future__ import annotations

import csv
import datetime as dt

import pytest
import sqlalchemy as sa
import time_machine
from openpyxl import load_workbook

from gridpatrol.extensions import db
from gridpatrol.points import jobs
from gridpatrol.points.cli import points
from gridpatrol.points.models import MonthClose, PointsEntry
from gridpatrol.scheduler.jobs import JOBS, run_job
from tests.patrols.builders import at
from tests.points.test_export import EXPECTED_ROWS, EXPECTED_TOTALS
from tests.points.test_table import DEC, NOV, build_november, dispatch

NOW = dt.datetime(2026, 12, 2, 2, 0, tzinfo=dt.timezone.utc)  # 2 December, 10:00 in Shanghai


@pytest.fixture
def world(app):
    with time_machine.travel(NOW, tick=False):
        yield build_november(app)


def run(app, *args):
    return app.test_cli_runner().invoke(points, list(args), catch_exceptions=False)


def test_rebuild_check_is_clean_then_finds_a_deleted_entry_and_rebuild_books_it(app, world):
    result = run(app, "rebuild", "--site", "TEST", "--month", "2026-11", "--check")
    assert result.exit_code == 0 and "0 difference(s)" in result.output
    with app.app_context():
        lost = db.session.scalar(sa.select(PointsEntry).where(PointsEntry.rule_code == "patrol_late")
                                 .order_by(PointsEntry.id))
        lost_key = (lost.user_id, lost.source_id)
        db.session.execute(sa.text("DELETE FROM points_entries WHERE id = :id"), {"id": lost.id})
        db.session.commit()
    result = run(app, "rebuild", "--site", "TEST", "--month", "2026-11", "--check")
    assert result.exit_code == 1
    assert f"patrol {lost_key[1]}\texpected +1\tbooked +0" in result.output and "1 difference(s)" in result.output
    result = run(app, "rebuild", "--site", "TEST", "--month", "2026-11")
    assert result.exit_code == 0 and "1 missing entry booked" in result.output
    assert run(app, "rebuild", "--site", "TEST", "--month", "2026-11", "--check").exit_code == 0
    assert "0 missing entries booked" in run(app, "rebuild", "--site", "TEST", "--month", "2026-11").output


def test_rebuild_of_a_closed_month_books_into_the_next_open_month(app, world):
    assert run(app, "close", "--site", "TEST", "--month", "2026-11").exit_code == 0
    with app.app_context():
        lost = db.session.scalar(sa.select(PointsEntry).where(PointsEntry.rule_code == "patrol_missed")
                                 .order_by(PointsEntry.id))
        source_id = lost.source_id
        db.session.execute(sa.text("DELETE FROM points_entries WHERE id = :id"), {"id": lost.id})
        db.session.commit()
    assert run(app, "rebuild", "--month", "2026-11").exit_code == 0
    with app.app_context():
        rebooked = db.session.scalar(sa.select(PointsEntry).where(PointsEntry.rule_code == "patrol_missed",
                                                                  PointsEntry.source_id == source_id))
        assert (rebooked.month, rebooked.event_month, rebooked.points) == (DEC, NOV, -3)
    assert run(app, "rebuild", "--month", "2026-11", "--check").exit_code == 0


def test_export_writes_xlsx_and_csv_by_extension(app, world, tmp_path):
    xlsx, text = tmp_path / "nov.xlsx", tmp_path / "nov.csv"
    result = run(app, "export", "--site", "TEST", "--month", "2026-11", "--out", str(xlsx))
    assert result.exit_code == 0 and "3 leaders, 20 entries, open" in result.output
    ws = load_workbook(xlsx)["积分表"]
    assert [[ws.cell(row=r, column=c).value for c in range(1, 17)] for r in range(6, 10)] == (
        EXPECTED_ROWS + [EXPECTED_TOTALS])
    assert run(app, "export", "--month", "2026-11", "--out", str(text)).exit_code == 0
    raw = text.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert rows[1][:3] == ["1", "Leader0", "A01"] and rows[-1][0] == "合计" and rows[-1][-2:] == ["10", ""]
    english = tmp_path / "nov-en.xlsx"
    assert run(app, "export", "--month", "2026-11", "--out", str(english), "--locale", "en").exit_code == 0
    assert load_workbook(english).sheetnames == ["Points table", "Ledger detail"]
    year = tmp_path / "2026.xlsx"
    result = run(app, "export", "--year", "2026", "--out", str(year))
    assert result.exit_code == 0 and "12 months" in result.output
    assert load_workbook(year).sheetnames[:2] == ["年度汇总", "2026-01"]
    for bad in (["--month", "2026-11", "--out", str(tmp_path / "nov.pdf")],
                ["--month", "2026-13", "--out", str(xlsx)],
                ["--month", "2026-11", "--year", "2026", "--out", str(xlsx)],
                ["--year", "2026", "--out", str(text)],
                ["--site", "NOPE", "--month", "2026-11", "--out", str(xlsx)]):
        assert run(app, "export", *bad).exit_code != 0, bad


def test_close_once_then_nothing_and_never_a_month_not_over(app, world, tmp_path):
    result = run(app, "close", "--site", "TEST", "--month", "2026-11")
    assert result.exit_code == 0 and "2026-11: closed" in result.output
    result = run(app, "close", "--site", "TEST", "--month", "2026-11")
    assert result.exit_code == 0 and "closed already" in result.output
    result = run(app, "close", "--site", "TEST", "--month", "2026-12")
    assert result.exit_code == 1 and result.output.startswith("Error: ")  # only a month that has ended
    with app.app_context():
        assert list(db.session.scalars(sa.select(MonthClose.month))) == [NOV]
    # a closed month takes nothing new: the late acceptance goes to December; November exports the same
    before = tmp_path / "before.xlsx"
    run(app, "export", "--month", "2026-11", "--out", str(before))
    dispatch(app, world["unaccepted_issue"], "major", "2026-12-02 10:00")
    after = tmp_path / "after.xlsx"
    run(app, "export", "--month", "2026-11", "--out", str(after))
    first, second = load_workbook(before), load_workbook(after)
    for name in first.sheetnames:
        a = [[c.value for c in row] for row in first[name].iter_rows()]
        b = [[c.value for c in row] for row in second[name].iter_rows()]
        if name == "积分表":
            a[2] = b[2] = None  # the "generated" line
        assert a == b
    with app.app_context():
        late = db.session.scalar(sa.select(PointsEntry).where(PointsEntry.source_id == world["unaccepted_issue"],
                                                              PointsEntry.source_type == "issue"))
        assert (late.month, late.event_month) == (DEC, NOV)


def test_the_close_job_closes_last_month_from_the_close_day_on_once(app, world):
    assert "close_month" in JOBS and JOBS["close_month"].every_seconds == 3600
    assert app.config["POINTS_CLOSE_DAY"] == 5
    with app.app_context():
        # 4 December 23:59 in Shanghai: too early
        assert run_job("close_month", now=at("2026-12-04 23:59")).summary == "no month to close"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(MonthClose)) == 0
        # 5 December 00:00 in Shanghai (still 4 December in UTC): close November
        assert run_job("close_month", now=at("2026-12-05 00:00")).summary == "closed TEST 2026-11"
        assert run_job("close_month", now=at("2026-12-05 01:00")).summary == "no month to close"
        assert run_job("close_month", now=at("2027-01-20 01:00")).summary == "closed TEST 2026-12"
        assert list(db.session.scalars(sa.select(MonthClose.month).order_by(MonthClose.month))) == [NOV, DEC]
        assert jobs.close_months(db.session, at("2027-01-20 02:00")) == []
        assert jobs.previous_month(dt.date(2027, 1, 1)) == DEC
