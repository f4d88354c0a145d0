"""The metrics report over a month, quarter, half-year or year, taken as of an instant (截至): figures worked out by
hand, the page and its CSV, bad parameters and per-site access.

The issues are rows with chosen timestamps (as in test_metrics.py). Shanghai wall-clock, 2026 unless marked:

    name reported     dispatched   deadline     closed            rework
    s1   07-10 09:00  07-10 10:00  07-12 10:00  07-11 10:00       0     (24 h)
    s2   09-28 09:00  09-28 10:00  09-30 10:00  10-02 10:00       0     (96 h, late; due in Q3, closed in Q4)
    o1   10-05 09:00  10-05 10:00  10-08 10:00  10-07 10:00       0     (48 h)
    o2   10-20 09:00  10-20 10:00  10-22 10:00  11-03 10:00       1     (336 h, late; due in Oct, closed in Nov)
    n1   11-02 09:00  11-02 10:00  11-05 10:00  11-04 10:00       0     (48 h)
    n2   11-10 09:00  11-10 10:00  11-12 10:00  11-12 09:00       0     (47 h)
    n3   11-20 09:00  11-20 10:00  11-25 10:00  11-28 10:00       1     (192 h, late)
    n4   11-25 09:00  11-25 10:00  11-29 10:00  -                 0
    n5   11-26 09:00  11-26 10:00  11-28 10:00  12-05 10:00       0     (216 h, late; due in Nov, closed in Dec)
    r1   11-15 09:00  -            -            rejected 11-15 11:00
    d1   12-01 09:00  12-01 10:00  12-03 10:00  12-02 10:00       0     (24 h)
    d2   12-10 09:00  12-10 10:00  12-20 10:00  2027-01-05 10:00  0
    d3   12-15 09:00  12-15 10:00  12-18 10:00  2027-02-01 10:00  0
    x1   another site, like n1: never counted here

Q4 as of its end (2027-01-01 00:00):
    due o1 o2 n1 n2 n3 n4 n5 d1 d2 d3 = 10; closed o1 o2 n1 n2 n3 n5 d1 = 7; on time o1 n1 n2 d1 = 4
    → 结案率 70.00 %, 按期结案率 40.00 %
    closed in Q4: s2 o1 o2 n1 n2 n3 n5 d1 = 8, reworked o2 n3 = 2 → 返工率 25.00 %;
    hours 96+48+336+48+47+192+216+24 = 1007 → mean 125.875
    reported o1 o2 n1–n5 r1 d1 d2 d3 = 11, rejected r1 = 1; open n4 d2 d3 = 3, all overdue
  its months, each as of the same instant:
    Oct due 2 closed 2 on time 1 | closed in Oct s2 o1 = 2, reworked 0 | reported 2 rejected 0
    Nov due 5 closed 4 on time 2 | closed in Nov o2 n1 n2 n3 = 4, reworked 2 | reported 6 rejected 1
    Dec due 3 closed 1 on time 1 | closed in Dec n5 d1 = 2, reworked 0 | reported 3 rejected 0
    monthly 结案率 100 %, 80 %, 33.33 %: their mean (71.11 %) is not the quarter's 70.00 %.
Q3 as of the same instant: due s1 s2 = 2, closed 2, on time 1; closed in Q3 s1 = 1 (24 h); reported 2.
H2 = Q3 + Q4: due 12, closed 9, on time 5 → 75.00 %, 41.67 %; closed in H2 9, reworked 2 → 22.22 %;
    mean (1007 + 24) ÷ 9 = 114.5556 h; reported 13, rejected 1.
Q4 as of 11-25 12:00: due (dispatched by then) o1 o2 n1 n2 n3 n4 = 6; closed o1 o2 n1 n2 = 4 (n3 closed later);
    on time o1 n1 n2 = 3; closed in Q4 s2 o1 o2 n1 n2 = 5, reworked o2 = 1; open n3 n4 = 2; overdue n3 = 1.
November as of its end (12-01 00:00): due n1–n5 = 5; closed n1 n2 n3 = 3 → 60.00 %; on time 2 → 40.00 %;
    open n4 n5 = 2 (n5 closed only on 12-05), both overdue. On 2027-03-10 only n4 is still open.
"""

from __future__ import annotations

import csv
import datetime as dt
from html import unescape
import io
import re

import pytest
import sqlalchemy as sa

from gridpatrol.accounts import services as accounts
from gridpatrol.accounts.models import TeamKind
from gridpatrol.core.roles import Role
from gridpatrol.core.time import Period
from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.grids.models import Grid, Site
from gridpatrol.issues import metrics as m
from gridpatrol.issues.models import Issue
from tests import helpers
from tests.grids import builders as grid_builders
from tests.issues import builders
from tests.issues.builders import at, user

Q4_END = at("2027-01-01 00:00")
LATER = at("2027-03-10 10:00")

#       name  reported             dispatched     deadline       closed                 rework
ISSUES = [
    ("s1", "2026-07-10 09:00", "2026-07-10 10:00", "2026-07-12 10:00", "2026-07-11 10:00", 0),
    ("s2", "2026-09-28 09:00", "2026-09-28 10:00", "2026-09-30 10:00", "2026-10-02 10:00", 0),
    ("o1", "2026-10-05 09:00", "2026-10-05 10:00", "2026-10-08 10:00", "2026-10-07 10:00", 0),
    ("o2", "2026-10-20 09:00", "2026-10-20 10:00", "2026-10-22 10:00", "2026-11-03 10:00", 1),
    ("n1", "2026-11-02 09:00", "2026-11-02 10:00", "2026-11-05 10:00", "2026-11-04 10:00", 0),
    ("n2", "2026-11-10 09:00", "2026-11-10 10:00", "2026-11-12 10:00", "2026-11-12 09:00", 0),
    ("n3", "2026-11-20 09:00", "2026-11-20 10:00", "2026-11-25 10:00", "2026-11-28 10:00", 1),
    ("n4", "2026-11-25 09:00", "2026-11-25 10:00", "2026-11-29 10:00", None, 0),
    ("n5", "2026-11-26 09:00", "2026-11-26 10:00", "2026-11-28 10:00", "2026-12-05 10:00", 0),
    ("d1", "2026-12-01 09:00", "2026-12-01 10:00", "2026-12-03 10:00", "2026-12-02 10:00", 0),
    ("d2", "2026-12-10 09:00", "2026-12-10 10:00", "2026-12-20 10:00", "2027-01-05 10:00", 0),
    ("d3", "2026-12-15 09:00", "2026-12-15 10:00", "2026-12-18 10:00", "2027-02-01 10:00", 0),
]


def _add(session, site_id, grid_id, name, reported, dispatched=None, deadline=None, closed=None, rework=0,
         rejected=None) -> None:
    when = lambda text: at(text) if text else None  # noqa: E731
    state = "rejected" if rejected else "closed" if closed else "in_progress"
    session.add(Issue(site_id=site_id, grid_id=grid_id, category="water_power", severity="minor", title=name,
                      source="report", reporter_id=user(session, "clerk").id, state=state,
                      team_id=builders.team(session).id if dispatched else None,
                      reported_at=when(reported), dispatched_at=when(dispatched), deadline=when(deadline),
                      closed_at=when(closed), rejected_at=when(rejected),
                      reject_reason="invalid" if rejected else None, rework_count=rework))


@pytest.fixture
def data(app):
    builders.world(app)
    other = grid_builders.make_site(app, "OTHER")
    with app.app_context(), job_transaction() as session:
        site = session.scalar(sa.select(Site).where(Site.code == "TEST"))
        grid = session.scalar(sa.select(Grid).where(Grid.site_id == site.id, Grid.code == "A01"))
        for name, reported, dispatched, deadline, closed, rework in ISSUES:
            _add(session, site.id, grid.id, name, reported, dispatched, deadline, closed, rework)
        _add(session, site.id, grid.id, "r1", "2026-11-15 09:00", rejected="2026-11-15 11:00")
        _add(session, other, None, "x1", "2026-11-02 09:00", "2026-11-02 10:00", "2026-11-05 10:00",
             "2026-11-04 10:00")
        accounts.create_user(session, username="boss_en", display_name="Boss", password=helpers.DEFAULT_PASSWORD,
                             roles=[(Role.SUPERVISOR, site.id)], locale="en")  # reads the CSV's headers in English
        accounts.create_user(session, username="boss_other", display_name="Boss Other",
                             password=helpers.DEFAULT_PASSWORD, roles=[(Role.SUPERVISOR, other)])


def overall(app, key: str, as_of: dt.datetime) -> m.MetricRow:
    with app.app_context():
        site = db.session.scalar(sa.select(Site).where(Site.code == "TEST"))
        start, end = Period.parse(key).bounds(site.timezone)
        return m.metrics(db.session, site, start, end, as_of=as_of)[0]


COUNTS = ("due", "closed", "closed_on_time", "closed_in_period", "reworked", "reported", "rejected")


def counts(row: m.MetricRow) -> dict:
    return {name: getattr(row, name) for name in COUNTS}


def test_a_quarter_is_its_months_added_up_and_its_rates_come_from_the_sums(app, data):
    quarter = overall(app, "2026-Q4", Q4_END)
    assert counts(quarter) == {"due": 10, "closed": 7, "closed_on_time": 4, "closed_in_period": 8, "reworked": 2,
                               "reported": 11, "rejected": 1}
    assert (quarter.open, quarter.overdue, quarter.mean_hours) == (3, 3, 125.875)
    months = [overall(app, key, Q4_END) for key in ("2026-10", "2026-11", "2026-12")]
    assert [counts(row) for row in months] == [
        {"due": 2, "closed": 2, "closed_on_time": 1, "closed_in_period": 2, "reworked": 0, "reported": 2,
         "rejected": 0},
        {"due": 5, "closed": 4, "closed_on_time": 2, "closed_in_period": 4, "reworked": 2, "reported": 6,
         "rejected": 1},
        {"due": 3, "closed": 1, "closed_on_time": 1, "closed_in_period": 2, "reworked": 0, "reported": 3,
         "rejected": 0}]
    assert counts(quarter) == {name: sum(getattr(row, name) for row in months) for name in COUNTS}
    # the rates are recomputed from the summed counts, not averaged over the months
    assert (quarter.close_rate, quarter.on_time_rate, quarter.rework_rate) == (7 / 10, 4 / 10, 2 / 8)
    monthly_mean = sum(row.close_rate for row in months) / 3
    assert round(monthly_mean, 4) == 0.7111 and quarter.close_rate != monthly_mean
    weighted_hours = sum(row.mean_hours * row.closed_in_period for row in months) / quarter.closed_in_period
    assert round(weighted_hours, 4) == quarter.mean_hours


def test_a_half_year_is_its_quarters_and_its_months_added_up(app, data):
    half = overall(app, "2026-H2", Q4_END)
    assert counts(half) == {"due": 12, "closed": 9, "closed_on_time": 5, "closed_in_period": 9, "reworked": 2,
                            "reported": 13, "rejected": 1}
    assert (round(half.close_rate, 4), round(half.on_time_rate, 4), round(half.rework_rate, 4)) == (0.75, 0.4167,
                                                                                                   0.2222)
    assert half.mean_hours == 114.5556
    quarters = [overall(app, key, Q4_END) for key in ("2026-Q3", "2026-Q4")]
    assert counts(quarters[0]) == {"due": 2, "closed": 2, "closed_on_time": 1, "closed_in_period": 1,
                                   "reworked": 0, "reported": 2, "rejected": 0}
    months = [overall(app, month.strftime("%Y-%m"), Q4_END) for month in Period.parse("2026-H2").months]
    for parts in (quarters, months):
        assert counts(half) == {name: sum(getattr(row, name) for row in parts) for name in COUNTS}
    year = overall(app, "2026", Q4_END)  # nothing in the first half: the year is the second half
    assert counts(year) == counts(half) and counts(overall(app, "2026-H1", Q4_END)) == dict.fromkeys(COUNTS, 0)


def test_as_of_a_mid_period_instant_excludes_what_happened_later(app, data):
    row = overall(app, "2026-Q4", at("2026-11-25 12:00"))
    assert counts(row) == {"due": 6, "closed": 4, "closed_on_time": 3, "closed_in_period": 5, "reworked": 1,
                           "reported": 7, "rejected": 1}
    assert (row.open, row.overdue) == (2, 1)  # n3 (closed only on 11-28, past its deadline) and n4


# --- the page and its CSV ------------------------------------------------------------------------------
@pytest.fixture
def clock(monkeypatch):
    """Sets the instant the metrics views take as now."""
    def set_now(instant: dt.datetime) -> None:
        monkeypatch.setattr("gridpatrol.issues.views.utcnow", lambda: instant)
    return set_now


def client_for(app, username):
    client = app.test_client()
    assert helpers.login(client, helpers.Credentials(0, username, helpers.DEFAULT_PASSWORD)).status_code == 302
    return client


def table(client, query: str) -> list[dict[str, str]]:
    """The CSV export's rows (the overall row first) as {header: value}, read as a spreadsheet would."""
    response = client.get("/s/TEST/issues/metrics.csv" + query)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    header, *rows = csv.reader(io.StringIO(text[1:]))
    return [dict(zip(header, row)) for row in rows]


FIGURES = ("Due to close", "Closed", "Close rate", "On-time rate", "Rework rate", "Mean handling (h)", "Reported",
           "Open", "Overdue")


def shown(row: dict, *names: str) -> list[str]:
    return [row[name] for name in (names or FIGURES)]


def test_a_past_month_viewed_later_shows_the_open_count_as_of_its_end(app, data, clock):
    clock(LATER)
    html = client_for(app, "boss").get("/s/TEST/issues/metrics?period=2026-11").get_data(as_text=True)
    assert "2026-11-30 24:00" in html
    total = table(client_for(app, "boss_en"), "?period=2026-11")[0]
    assert (total["Period"], total["As of"], total["Grid"]) == ("11/2026", "2026-11-30 24:00", "All")
    assert shown(total) == ["5", "3", "60.00%", "40.00%", "50.00%", "155.8", "6", "2", "2"]
    # today n5 is closed too: November's figures did not follow it
    assert overall(app, "2026-11", LATER).open == 1


def test_the_csv_speaks_the_readers_language(app, data, clock):
    clock(LATER)
    total = table(client_for(app, "boss"), "?period=2026-11")[0]
    assert total["应结案数"] == "5" and total["网格"] == "全部"


def test_a_quarter_and_a_half_year_on_the_page_and_in_the_csv_with_two_decimals(app, data, clock):
    clock(LATER)
    html = client_for(app, "boss").get("/s/TEST/issues/metrics?kind=quarter&period=2026-Q4").get_data(as_text=True)
    assert "<td>70.00%</td>" in html and "<td>40.00%</td>" in html and "<td>25.00%</td>" in html
    assert "2026-12-31 24:00" in html
    assert 'href="/s/TEST/issues/metrics?kind=quarter&amp;period=2026-Q3' in html  # previous
    assert 'href="/s/TEST/issues/metrics?kind=quarter&amp;period=2027-Q1' in html  # next: it has begun
    boss = client_for(app, "boss_en")
    quarter = table(boss, "?kind=quarter&period=2026-Q4")[0]
    assert (quarter["Period"], quarter["As of"]) == ("Q4 2026", "2026-12-31 24:00")
    assert shown(quarter) == ["10", "7", "70.00%", "40.00%", "25.00%", "125.9", "11", "3", "3"]
    half = table(boss, "?kind=half&period=2026-H2&group=team")
    assert half[0]["Period"] == "Second half of 2026"
    assert shown(half[0], "Due to close", "Closed", "Close rate", "On-time rate", "Rework rate") == [
        "12", "9", "75.00%", "41.67%", "22.22%"]
    assert half[1]["Team"] == "维修班组" and shown(half[1], "Due to close", "Closed") == ["12", "9"]
    # switching the kind keeps the time: November's key asked as a quarter is Q4
    assert shown(table(boss, "?kind=quarter&period=2026-11")[0], "Due to close", "Closed") == ["10", "7"]


def test_an_explicit_as_of_within_the_period(app, data, clock):
    clock(LATER)
    boss = client_for(app, "boss_en")
    row = table(boss, "?kind=quarter&period=2026-Q4&as_of=2026-11-25T12:00")[0]
    assert row["As of"] == "2026-11-25 12:00"
    assert shown(row, "Due to close", "Closed", "Open", "Overdue") == ["6", "4", "2", "1"]
    by_day = table(boss, "?period=2026-Q4&as_of=2026-11-27")[0]  # a date: the end of that day
    assert by_day["As of"] == "2026-11-27 24:00" and shown(by_day, "Due to close", "Closed") == ["7", "4"]
    html = boss.get("/s/TEST/issues/metrics?period=2026-Q4&as_of=2026-11-27").get_data(as_text=True)
    assert "As of 2026-11-27 24:00" in html
    assert 'value="2026-11-27"' in html  # the chosen date stays in the form
    assert "metrics.csv?kind=quarter&amp;period=2026-Q4&amp;as_of=2026-11-27" in html  # and in the export link


def test_the_current_period_is_taken_as_of_now(app, data, clock):
    clock(at("2026-11-26 12:00"))
    boss = client_for(app, "boss_en")
    html = boss.get("/s/TEST/issues/metrics").get_data(as_text=True)  # default: this month
    assert "As of 2026-11-26 12:00" in html
    assert "period=2026-12" not in html  # no link to a month that has not begun
    row = table(boss, "")[0]
    assert (row["Period"], row["As of"]) == ("11/2026", "2026-11-26 12:00")
    assert shown(row, "Due to close", "Closed") == ["5", "2"]  # n1–n5 dispatched by now; n1 n2 closed
    assert table(boss, "?as_of=2026-11-26")[0]["As of"] == "2026-11-26 12:00"  # today: now, not tonight


@pytest.mark.parametrize("query, shown", [
    ("?period=2026-13", "2026-13"), ("?period=2026-Q5", "2026-Q5"), ("?kind=week", "week"),
    ("?period=2026-11&as_of=yesterday", "yesterday"), ("?period=2026-11&as_of=2026-12-05", "2026-11-30 24:00"),
    ("?period=2026-11&as_of=2026-10-31", "2026-11-30 24:00"), ("?period=2027-04", "2027-04-01"),
    ("?period=2027-03&as_of=2027-03-20", "2027-03-10 10:00"), ("?group=grade", None), ("?month=bad", "bad"),
    ("?period=0001-01", "2000"), ("?period=1999-Q4", "2000"), ("?period=2026-11&as_of=0001-01-01", "2026-11-30 24:00"),
    ("?period=2026-11&as_of=2026-11-15T25:00", "25:00"),
])
def test_bad_period_parameters_are_refused_with_the_reason(app, data, clock, query, shown):
    clock(LATER)
    boss = client_for(app, "boss")
    for path in ("/s/TEST/issues/metrics", "/s/TEST/issues/metrics.csv"):
        response = boss.get(path + query)
        assert response.status_code == 422, path + query
        body = response.get_data(as_text=True)
        reason = re.search(r'role="alert">([^<]*)</p>' if path.endswith("metrics") else r'<p class="hint">([^<]*)</p>',
                           body)
        assert reason is not None and reason.group(1).strip()
        if shown is not None:
            assert shown in unescape(reason.group(1))
        if not path.endswith(".csv"):  # the page again (this month), the reason on top, to pick again
            assert 'id="m-period"' in body and "2027-03-10 10:00" in body


def test_only_supervisors_of_the_site_see_its_metrics(app, data, clock):
    clock(LATER)
    for path in ("/s/TEST/issues/metrics?period=2026-11", "/s/TEST/issues/metrics.csv?period=2026-11"):
        assert client_for(app, "boss_other").get(path).status_code == 403  # a supervisor of another site
        assert client_for(app, "clerk").get(path).status_code == 403
        assert client_for(app, "root").get(path).status_code == 200
    assert client_for(app, "boss_other").get("/s/OTHER/issues/metrics?period=2026-11").status_code == 200


def test_a_formula_like_team_name_is_exported_as_text(app, data, clock):
    clock(LATER)
    with app.app_context(), job_transaction() as session:
        team = builders.team(session)
        accounts.save_team(session, team, name="=HYPERLINK(\"http://x\")", kind=TeamKind(team.kind), phone=None, active=True,
                           actor=None)
    rows = table(client_for(app, "boss_en"), "?period=2026-11&group=team")
    assert rows[1]["Team"] == "'=HYPERLINK(\"http://x\")"  # a spreadsheet shows it, never runs it
    assert rows[1]["Due to close"] == "5"
