"""Rectification metrics (结案率, 按期结案率, 返工率, 平均处置时长 …) against figures worked out by hand.

The issues are written as rows with chosen timestamps (walking the workflow would only be slower). The
period is November 2026 in Shanghai time, [11-01 00:00, 12-01 00:00), and the report is taken as of
12-05 00:00 unless a test says otherwise. All times below are Shanghai wall-clock.

    name grid team  cat  state        reported    dispatched  deadline     closed       rejected    rework
    i1   A01  T1    W    closed       11-02 09:00 11-02 10:00 11-04 10:00  11-04 10:00  -           0
    i2   A01  T1    W    closed       11-10 09:00 11-10 10:00 11-11 10:00  11-12 10:00  -           2
    i3   A01  T2    E    closed       11-27 09:00 11-27 10:00 11-30 10:00  12-02 10:00  -           1
    i4   A02  T2    E    in_progress  11-20 09:00 11-20 10:00 11-21 10:00  -            -           0
    i5   A02  -*    W    awaiting_v.  11-28 09:00 11-28 10:00 12-10 10:00  -            -           0
    i6   A02  -     W    rejected     11-15 09:00 -           -            -            11-15 11:00 0
    i7   A01  T1    E    rejected     11-05 09:00 11-05 10:00 11-06 10:00  -            11-05 12:00 0
    i8   A01  T1    W    closed       10-29 09:00 10-29 10:00 10-31 10:00  11-01 10:00  -           1
    i9   A02  T2    E    in_progress  10-10 09:00 10-10 10:00 10-12 10:00  -            -           0
    i10  A02  -     E    reported     11-30 20:00 -           -            -            -           0
    i11  A01  T1    W    closed       11-29 09:00 11-29 10:00 11-30 17:00  12-08 10:00  -           0
    i12  A01  T1    W    closed       10-31 19:00 10-31 20:00 11-01 00:00  10-31 23:00  -           0
    i13  A02  T1    E    dispatched   11-30 09:00 11-30 10:00 12-01 00:00  -            -           0
    x1   (another site) closed, like i1 — never counted here
    (* i5 is dispatched to the person fixer, not to a team; i7 was dispatched and then rejected, which the
     workflow does not allow today — it stands for any rejected issue with a deadline: still not due.)

Per issue, for November as of 12-05 00:00:
    reported in Nov: i1 i2 i3 i4 i5 i6 i7 i10 i11 i13              (i8 i9 i12 were reported in October)
    rejected in Nov: i6 i7
    due (deadline in Nov, not rejected): i1 i2 i3 i4 i11 i12       (i12: deadline == start is inside;
        i13: deadline == end is outside; i5 falls due in December; i7 is rejected)
    closed (of the due, closed by as_of): i1 i2 i3 i12             (i3 closed 12-02 — after the period, before
        as_of — counts; i11 closed 12-08, after as_of, does not)
    closed on time (closed_at <= deadline): i1 (exactly at it) i12
    closed in Nov: i1 (48 h) i2 (48 h) i8 (72 h)                    (i12 closed in October, i3 in December)
        reworked among them: i2 (twice, counted once) i8
    open as of 12-05: i4 i5 i9 i10 i11 (closed only 12-08) i13
    overdue as of 12-05 (open, deadline < as_of): i4 i9 i11 i13
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from gridpatrol.accounts import services as accounts
from gridpatrol.accounts.models import TeamKind
from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.grids.models import Grid, Site
from gridpatrol.issues import metrics as m
from gridpatrol.issues.models import Issue
from tests.grids import builders as grid_builders
from tests.issues import builders
from tests.issues.builders import at, user

START, END, AS_OF = at("2026-11-01 00:00"), at("2026-12-01 00:00"), at("2026-12-05 00:00")

#      name  grid   team  category       state                    reported       dispatched     deadline
#            closed         rejected       rework
ISSUES = [
    ("i1", "A01", "T1", "water_power", "closed", "11-02 09:00", "11-02 10:00", "11-04 10:00",
     "11-04 10:00", None, 0),
    ("i2", "A01", "T1", "water_power", "closed", "11-10 09:00", "11-10 10:00", "11-11 10:00",
     "11-12 10:00", None, 2),
    ("i3", "A01", "T2", "equipment", "closed", "11-27 09:00", "11-27 10:00", "11-30 10:00",
     "12-02 10:00", None, 1),
    ("i4", "A02", "T2", "equipment", "in_progress", "11-20 09:00", "11-20 10:00", "11-21 10:00",
     None, None, 0),
    ("i5", "A02", None, "water_power", "awaiting_verification", "11-28 09:00", "11-28 10:00", "12-10 10:00",
     None, None, 0),
    ("i6", "A02", None, "water_power", "rejected", "11-15 09:00", None, None,
     None, "11-15 11:00", 0),
    ("i7", "A01", "T1", "equipment", "rejected", "11-05 09:00", "11-05 10:00", "11-06 10:00",
     None, "11-05 12:00", 0),
    ("i8", "A01", "T1", "water_power", "closed", "10-29 09:00", "10-29 10:00", "10-31 10:00",
     "11-01 10:00", None, 1),
    ("i9", "A02", "T2", "equipment", "in_progress", "10-10 09:00", "10-10 10:00", "10-12 10:00",
     None, None, 0),
    ("i10", "A02", None, "equipment", "reported", "11-30 20:00", None, None,
     None, None, 0),
    ("i11", "A01", "T1", "water_power", "closed", "11-29 09:00", "11-29 10:00", "11-30 17:00",
     "12-08 10:00", None, 0),
    ("i12", "A01", "T1", "water_power", "closed", "10-31 19:00", "10-31 20:00", "11-01 00:00",
     "10-31 23:00", None, 0),
    ("i13", "A02", "T1", "equipment", "dispatched", "11-30 09:00", "11-30 10:00", "12-01 00:00",
     None, None, 0),
]


def _when(text):
    return at(f"2026-{text}") if text else None


def _add(session, site_id, *, name, grid_id, team_id, category, state, reported, dispatched, deadline, closed,
         rejected, rework, assignee_id=None) -> Issue:
    issue = Issue(site_id=site_id, grid_id=grid_id, category=category, severity="minor", title=name,
                  source="report", reporter_id=user(session, "clerk").id, state=state, team_id=team_id,
                  assignee_id=assignee_id, reported_at=_when(reported), dispatched_at=_when(dispatched),
                  deadline=_when(deadline), closed_at=_when(closed), rejected_at=_when(rejected),
                  reject_reason="invalid" if rejected else None, rework_count=rework)
    session.add(issue)
    return issue


@pytest.fixture
def ids(app):
    """The issues of the table above; returns the ids of grids and teams by name."""
    builders.world(app)
    other_site = grid_builders.make_site(app, "OTHER")
    with app.app_context(), job_transaction() as session:
        t1 = builders.team(session)
        t2 = accounts.save_team(session, None, name="物业公司", kind=TeamKind.PROPERTY, phone=None, active=True,
                                actor=None)
        site = session.scalar(sa.select(Site).where(Site.code == "TEST"))
        grids = {g.code: g.id for g in session.scalars(sa.select(Grid).where(Grid.site_id == site.id))}
        teams = {"T1": t1.id, "T2": t2.id, None: None}
        fixer = user(session, "fixer").id
        for name, grid, team, category, state, reported, dispatched, deadline, closed, rejected, rework in ISSUES:
            _add(session, site.id, name=name, grid_id=grids[grid], team_id=teams[team], category=category,
                 state=state, reported=reported, dispatched=dispatched, deadline=deadline, closed=closed,
                 rejected=rejected, rework=rework, assignee_id=fixer if name == "i5" else None)
        _add(session, other_site, name="x1", grid_id=None, team_id=t1.id, category="water_power", state="closed",
             reported="11-02 09:00", dispatched="11-02 10:00", deadline="11-04 10:00", closed="11-04 10:00",
             rejected=None, rework=1)
        return {"A01": grids["A01"], "A02": grids["A02"], "T1": t1.id, "T2": t2.id, "site": site.id}


def report(app, group_by=None, *, start=START, end=END, as_of=AS_OF) -> list[m.MetricRow]:
    with app.app_context():
        site = db.session.scalar(sa.select(Site).where(Site.code == "TEST"))
        return m.metrics(db.session, site, start, end, group_by=group_by, as_of=as_of)


def figures(row: m.MetricRow) -> dict:
    return {"reported": row.reported, "rejected": row.rejected, "due": row.due, "closed": row.closed,
            "closed_on_time": row.closed_on_time, "closed_in_period": row.closed_in_period,
            "reworked": row.reworked, "open": row.open, "overdue": row.overdue,
            "close_rate": row.close_rate, "on_time_rate": row.on_time_rate, "rework_rate": row.rework_rate,
            "mean_hours": row.mean_hours, "median_hours": row.median_hours}


def expect(reported, rejected, due, closed, on_time, closed_in_period, reworked, open_, overdue, *, close_rate,
           on_time_rate, rework_rate, mean_hours, median_hours) -> dict:
    return {"reported": reported, "rejected": rejected, "due": due, "closed": closed, "closed_on_time": on_time,
            "closed_in_period": closed_in_period, "reworked": reworked, "open": open_, "overdue": overdue,
            "close_rate": close_rate, "on_time_rate": on_time_rate, "rework_rate": rework_rate,
            "mean_hours": mean_hours, "median_hours": median_hours}


def assert_figures(row: m.MetricRow, expected: dict) -> None:
    got = figures(row)
    for name, value in expected.items():
        if value is None:
            assert got[name] is None, (row.label, name, got[name])
        elif name.endswith(("_rate", "_hours")):
            assert got[name] == pytest.approx(value, abs=1e-6), (row.label, name, got[name], value)
        else:
            assert got[name] == value, (row.label, name, got[name], value)


def test_overall(app, ids):
    [row] = report(app)
    assert row.key is None and row.group_by is None
    # due i1 i2 i3 i4 i11 i12 = 6; closed i1 i2 i3 i12 = 4; on time i1 i12 = 2
    # closed in Nov i1 i2 i8 = 3, of them reworked i2 i8 = 2; handling 48, 48, 72 h → mean 56, median 48
    assert_figures(row, expect(10, 2, 6, 4, 2, 3, 2, 6, 4, close_rate=4 / 6, on_time_rate=2 / 6,
                               rework_rate=2 / 3, mean_hours=56.0, median_hours=48.0))


def test_by_grid(app, ids):
    rows = report(app, "grid")
    assert [r.key for r in rows] == [ids["A01"], ids["A02"]]
    assert [r.label for r in rows] == ["A01 网格A01", "A02 网格A02"]
    a01, a02 = rows
    # A01 holds i1 i2 i3 i7 i8 i11 i12: reported i1 i2 i3 i7 i11; rejected i7; due i1 i2 i3 i11 i12;
    # closed i1 i2 i3 i12; on time i1 i12; closed in Nov i1 i2 i8 (reworked i2 i8); open/overdue i11.
    assert_figures(a01, expect(5, 1, 5, 4, 2, 3, 2, 1, 1, close_rate=4 / 5, on_time_rate=2 / 5,
                               rework_rate=2 / 3, mean_hours=56.0, median_hours=48.0))
    # A02 holds i4 i5 i6 i9 i10 i13: reported i4 i5 i6 i10 i13; rejected i6; due i4 only, not closed;
    # nothing closed in Nov; open i4 i5 i9 i10 i13; overdue i4 i9 i13.
    assert_figures(a02, expect(5, 1, 1, 0, 0, 0, 0, 5, 3, close_rate=0.0, on_time_rate=0.0,
                               rework_rate=None, mean_hours=None, median_hours=None))


def test_by_team(app, ids):
    rows = report(app, "team")
    # ordered by name (物业公司 sorts before 维修班组 by code point), the no-team group last
    assert [(r.key, r.label) for r in rows[:2]] == [(ids["T2"], "物业公司"), (ids["T1"], "维修班组")]
    assert rows[2].key is None and len(rows) == 3
    by_key = {r.key: r for r in rows}
    # T1 holds i1 i2 i7 i8 i11 i12 i13: reported i1 i2 i7 i11 i13; rejected i7; due i1 i2 i11 i12;
    # closed i1 i2 i12; on time i1 i12; closed in Nov i1 i2 i8 (reworked i2 i8); open i11 i13, both overdue.
    assert_figures(by_key[ids["T1"]], expect(5, 1, 4, 3, 2, 3, 2, 2, 2, close_rate=3 / 4, on_time_rate=2 / 4,
                                             rework_rate=2 / 3, mean_hours=56.0, median_hours=48.0))
    # T2 holds i3 i4 i9: reported i3 i4; due i3 i4; closed i3 (late); none closed in Nov; open i4 i9, overdue.
    assert_figures(by_key[ids["T2"]], expect(2, 0, 2, 1, 0, 0, 0, 2, 2, close_rate=1 / 2, on_time_rate=0.0,
                                             rework_rate=None, mean_hours=None, median_hours=None))
    # No team: i5 (sent to a person) i6 i10: nothing due → rates None; open i5 i10, neither overdue.
    assert_figures(by_key[None], expect(3, 1, 0, 0, 0, 0, 0, 2, 0, close_rate=None, on_time_rate=None,
                                        rework_rate=None, mean_hours=None, median_hours=None))


def test_by_category(app, ids):
    rows = report(app, "category")
    assert [r.key for r in rows] == ["water_power", "equipment"]  # in the order of the Category enum
    water, equipment = rows
    # W: i1 i2 i5 i6 i8 i11 i12: reported i1 i2 i5 i6 i11; rejected i6; due i1 i2 i11 i12; closed i1 i2 i12;
    # on time i1 i12; closed in Nov i1 i2 i8 (reworked i2 i8); open i5 i11; overdue i11.
    assert_figures(water, expect(5, 1, 4, 3, 2, 3, 2, 2, 1, close_rate=3 / 4, on_time_rate=2 / 4,
                                 rework_rate=2 / 3, mean_hours=56.0, median_hours=48.0))
    # E: i3 i4 i7 i9 i10 i13: reported i3 i4 i7 i10 i13; rejected i7; due i3 i4; closed i3 (late);
    # none closed in Nov; open i4 i9 i10 i13; overdue i4 i9 i13.
    assert_figures(equipment, expect(5, 1, 2, 1, 0, 0, 0, 4, 3, close_rate=1 / 2, on_time_rate=0.0,
                                     rework_rate=None, mean_hours=None, median_hours=None))


@pytest.mark.parametrize("group_by", ["grid", "team", "category"])
def test_groups_add_up_to_the_overall_row(app, ids, group_by):
    [overall] = report(app)
    rows = report(app, group_by)
    for name in ("reported", "rejected", "due", "closed", "closed_on_time", "closed_in_period", "reworked", "open",
                 "overdue"):
        assert sum(getattr(r, name) for r in rows) == getattr(overall, name), name


def test_a_later_report_sees_a_later_close(app, ids):
    # As of 12-10 00:00, i11 (closed 12-08) is closed — late, deadline 11-30 17:00 — and no longer open/overdue.
    [row] = report(app, as_of=at("2026-12-10 00:00"))
    assert (row.due, row.closed, row.closed_on_time, row.open, row.overdue) == (6, 5, 2, 5, 3)
    assert row.close_rate == pytest.approx(5 / 6)
    # December's own closes (as of 12-10): i3 (12-02 10:00, dispatched 11-27 10:00: 120 h, reworked) and
    # i11 (12-08 10:00, dispatched 11-29 10:00: 216 h) → rework 1/2, mean 168, median 168.
    [december] = report(app, start=END, end=at("2027-01-01 00:00"), as_of=at("2026-12-10 00:00"))
    assert (december.closed_in_period, december.reworked) == (2, 1)
    assert december.rework_rate == pytest.approx(0.5)
    assert december.mean_hours == pytest.approx(168.0) and december.median_hours == pytest.approx(168.0)
    # December's due issues: i13 (deadline 12-01 00:00 = the start) and i5 (12-10 10:00): neither closed.
    assert (december.due, december.closed) == (2, 0) and december.close_rate == 0.0


def test_an_earlier_report_sees_only_what_had_happened(app, ids):
    # As of 11-11 00:00: reported in Nov by then i1 i2 i7; i2 was dispatched 11-10, deadline 11-11 10:00 in Nov.
    [row] = report(app, as_of=at("2026-11-11 00:00"))
    # due: i1 i2 i7(rejected, no) i12 → 3; closed by then: i1 i12 → 2; i2 still open.
    assert (row.reported, row.rejected, row.due, row.closed, row.closed_on_time) == (3, 1, 3, 2, 2)
    # closed in Nov by then: i1 and i8; open by then: i2 i9 (i8/i1/i12 closed, i7 rejected); overdue: i9.
    assert (row.closed_in_period, row.reworked, row.open, row.overdue) == (2, 1, 2, 1)


def test_a_period_with_nothing_due_has_no_rates(app, ids):
    [row] = report(app, start=at("2027-01-01 00:00"), end=at("2027-02-01 00:00"), as_of=at("2027-02-01 00:00"))
    assert (row.reported, row.rejected, row.due, row.closed, row.closed_in_period) == (0, 0, 0, 0, 0)
    assert row.close_rate is None and row.on_time_rate is None and row.rework_rate is None
    assert row.mean_hours is None and row.median_hours is None
    # what is still open (i4 i5 i9 i10 i13; all past their deadline but i10, which has none) still shows
    assert (row.open, row.overdue) == (5, 4)
    assert report(app, "grid", start=at("2020-01-01 00:00"), end=at("2020-02-01 00:00"),
                  as_of=at("2020-02-01 00:00")) == []


def test_rejected_issues_are_never_due_and_rework_counts_once(app, ids):
    [row] = report(app, start=at("2026-11-06 00:00"), end=at("2026-11-07 00:00"))
    assert row.due == 0 and row.rejected == 0  # only i7 falls due that day, and it was rejected on 11-05
    [row] = report(app, start=at("2026-11-12 00:00"), end=at("2026-11-13 00:00"))
    assert (row.closed_in_period, row.reworked, row.rework_rate) == (1, 1, 1.0)  # i2, reworked twice


def test_the_median_of_an_even_count_is_the_mean_of_the_middle_two(app, ids):
    # Closed in November so far: i1 (48 h), i2 (48 h), i8 (72 h). Add two in a new category: 10 h and 100 h.
    with app.app_context(), job_transaction() as session:
        site_id, a01 = ids["site"], ids["A01"]
        _add(session, site_id, name="e1", grid_id=a01, team_id=None, category="greening", state="closed",
             reported="11-03 07:00", dispatched="11-03 08:00", deadline="11-20 08:00", closed="11-03 18:00",
             rejected=None, rework=0)
        _add(session, site_id, name="e2", grid_id=a01, team_id=None, category="greening", state="closed",
             reported="11-03 07:00", dispatched="11-03 08:00", deadline="11-20 08:00", closed="11-07 12:00",
             rejected=None, rework=0)
    rows = {r.key: r for r in report(app, "category")}
    # greening: 10 h and 100 h → median 55, mean 55
    assert rows["greening"].median_hours == pytest.approx(55.0) and rows["greening"].mean_hours == pytest.approx(55)
    # overall closed in Nov: 10, 48, 48, 72, 100 → median 48, mean 278/5; greening's 2 are due in Nov, closed on time
    [row] = report(app)
    assert row.closed_in_period == 5 and row.median_hours == pytest.approx(48.0)
    assert row.mean_hours == pytest.approx(278 / 5)
    assert (row.due, row.closed, row.closed_on_time) == (8, 6, 4)
    # a sixth, 12 h (11-04 08:00 → 20:00): greening 10, 12, 100; overall 10, 12, 48, 48, 72, 100
    with app.app_context(), job_transaction() as session:
        _add(session, ids["site"], name="e3", grid_id=a01, team_id=None, category="greening", state="closed",
             reported="11-04 07:00", dispatched="11-04 08:00", deadline="11-20 08:00", closed="11-04 20:00",
             rejected=None, rework=0)
    rows = {r.key: r for r in report(app, "category")}
    assert rows["greening"].median_hours == pytest.approx(12.0)  # 10, 12, 100
    [row] = report(app)
    assert row.median_hours == pytest.approx(48.0)  # 10 12 48 | 48 72 100 → (48 + 48) / 2


def test_as_of_defaults_to_now(app, ids, monkeypatch):
    monkeypatch.setattr(m, "utcnow", lambda: AS_OF)
    with app.app_context():
        site = db.session.get(Site, ids["site"])
        [row] = m.metrics(db.session, site, START, END)
    assert (row.due, row.closed, row.open, row.overdue) == (6, 4, 6, 4)


def test_figures_come_from_a_few_queries_whatever_the_number_of_issues(app, ids):
    statements = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    with app.app_context():
        site = db.session.get(Site, ids["site"])
        sa.event.listen(db.engine, "before_cursor_execute", record)
        try:
            m.metrics(db.session, site, START, END, group_by="grid", as_of=AS_OF)
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", record)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) <= 3  # the GROUP BY pass, the median, the grid labels
    assert "GROUP BY" in selects[0].upper()


def test_month_period_and_bad_arguments(app, ids):
    with app.app_context():
        site = db.session.get(Site, ids["site"])
        assert m.month_period(site, 2026, 11) == (START, END)
        assert m.month_period(site, 2026, 12)[1] == at("2027-01-01 00:00")
        with pytest.raises(ValueError):
            m.metrics(db.session, site, START, END, group_by="building")
        with pytest.raises(ValueError):
            m.metrics(db.session, site, END, START)
        with pytest.raises(ValueError):
            m.metrics(db.session, site, dt.datetime(2026, 11, 1), END)
