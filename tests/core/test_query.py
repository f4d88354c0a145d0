"""core/query.py: a page's query string read typed and bounded, one rule for every page (a value a page cannot read
is a 400 that names the parameter); NUL bytes refused in any page's query and in the plain patrol form."""

from __future__ import annotations

import datetime as dt

import pytest
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from gridpatrol.core import query
from gridpatrol.core.time import Period
from tests import helpers


@pytest.fixture
def request_context(app):
    with app.test_request_context("/"):
        yield


@pytest.mark.parametrize("value, expected", [("", None), ("  ", None), ("7", 7), (" 12 ", 12), ("-3", -3),
                                             ("2147483647", 2**31 - 1), ("-2147483647", -(2**31 - 1))])
def test_whole_numbers_within_an_integer_column(request_context, value, expected):
    assert query.whole(MultiDict({"n": value}), "n") == expected


OUT_OF_RANGE, NOT_WHOLE = "%(name)s is out of range", "%(name)s is not a whole number"


@pytest.mark.parametrize("value, reason", [
    ("2147483648", OUT_OF_RANGE), ("99999999999", OUT_OF_RANGE), ("9" * 5000, OUT_OF_RANGE), ("1.5", NOT_WHOLE),
    ("x", NOT_WHOLE), ("١٢٣", NOT_WHOLE), ("+1", NOT_WHOLE), ("--1", NOT_WHOLE), ("0", "%(name)s is below %(minimum)d"),
])
def test_a_whole_number_it_cannot_read_is_refused_with_its_name(request_context, value, reason):
    with pytest.raises(query.BadQuery) as refused:
        query.whole(MultiDict({"page": value}), "page", minimum=1)
    assert refused.value.status_code == 400
    assert _(reason, name=query.label("page"), minimum=1) in str(refused.value)
    assert "「页码」" in str(refused.value)  # the parameter in the reader's words, not the address's name


def test_a_negative_number_beyond_an_integer_column_is_refused(request_context):
    with pytest.raises(query.BadQuery):
        query.whole(MultiDict({"level": "-2147483648"}), "level")


def test_the_default_stands_for_an_absent_or_empty_value(request_context):
    assert query.whole(MultiDict(), "page", default=1) == 1
    assert query.whole(MultiDict({"page": ""}), "page", minimum=1, default=1) == 1


@pytest.mark.parametrize("value", ["0001-01-01", "1999-12-31", "3000-01-01", "9999-12-31", "10000-01-01", "2026-13-01",
                                   "2026-02-30", "20261118", "2026-11-18T10:00", "-2026-01-01", "２０２６-１１-１８"])
def test_a_day_outside_the_supported_range_or_not_a_date_is_refused(request_context, value):
    with pytest.raises(query.BadQuery, match="起始日期"):
        query.day(MultiDict({"from": value}), "from")


def test_days_months_and_years_within_the_range(request_context):
    args = MultiDict({"from": "2000-01-01", "to": "2999-12-31", "month": "2026-11", "year": "2026", "none": ""})
    assert query.day(args, "from") == dt.date(2000, 1, 1) and query.day(args, "to") == dt.date(2999, 12, 31)
    assert query.month(args, "month") == dt.date(2026, 11, 1) and query.year(args, "year") == 2026
    assert query.day(args, "none") is None and query.month(args, "none") is None and query.year(args, "none") is None


@pytest.mark.parametrize("name, value", [("month", "0001-01"), ("month", "9999-12"), ("month", "2026-13"),
                                         ("month", "2026-1"), ("month", "2026-11-01"), ("year", "1999"),
                                         ("year", "3000"), ("year", "99999999999999999999")])
def test_months_and_years_outside_the_range_are_refused(request_context, name, value):
    with pytest.raises(query.BadQuery, match=query.label(name)):
        getattr(query, name)(MultiDict({name: value}), name)


def test_a_query_passed_on_leaves_out_the_site_and_what_url_for_reserves():
    args = MultiDict([("state", "a"), ("state", "b"), ("site", "OTHER"), ("_external", "1"), ("_anchor", "x")])
    assert query.passed_on(args) == {"state": ["a", "b"]}


def test_a_year_9999_period_is_not_a_period():
    with pytest.raises(ValueError):
        Period.parse("9999-12")
    assert Period.parse("9998-12").end_day == dt.date(9999, 1, 1)


def _boss(app):
    helpers.make_user(app, "boss", roles=("supervisor",))
    client = app.test_client()
    helpers.login(client, helpers.Credentials(0, "boss", helpers.DEFAULT_PASSWORD))
    return client


def test_a_nul_byte_in_a_page_query_is_a_400_with_the_reason(app):
    from tests.grids import builders as grid_builders

    grid_builders.make_site(app)
    client = _boss(app)
    for path in ("/s/TEST/issues?category=%00", "/s/TEST/grids?x%00y=1", "/dashboard?sort=code%00"):
        response = client.get(path)
        assert response.status_code == 400, path
        assert "含有不允许的字符" in response.get_data(as_text=True), path
    problem = client.get("/s/TEST/issues?severity=a%00", headers={"Accept": "application/json"})
    assert problem.status_code == 400 and problem.get_json()["code"] == "bad_query"
    # The API keeps its schemas' answer (422 invalid_request, with the field's errors).
    api = client.get("/api/v1/sites/TEST/issues?category=a%00")
    assert api.status_code == 422 and api.get_json()["code"] == "invalid_request"


def test_another_site_in_the_query_does_not_break_the_site_switcher(app):
    from tests.grids import builders as grid_builders

    grid_builders.make_site(app)
    grid_builders.make_site(app, "OTHER")
    client = _boss(app)  # a supervisor of every site: the header links the same page on the other site
    html = client.get("/s/TEST/issues?site=OTHER&_external=1&state=closed").get_data(as_text=True)
    assert "/s/OTHER/issues?state=closed" in html
