"""Who sees which dashboard, where each role lands, the sites overview, bad input, and what a page costs."""

from __future__ import annotations

import re

import pytest

from tests import helpers
from tests.dashboard.conftest import client_of
from tests.sites.test_request_statements import _statements

PAGES = ("/s/{site}/dashboard", "/s/{site}/dashboard.json")


@pytest.mark.parametrize("username, allowed", [
    ("boss_t", {"TEST"}), ("boss_o", {"OTHER"}), ("root_t", {"TEST"}), ("province", {"TEST", "OTHER"}),
    ("root", {"TEST", "OTHER"}), ("leader0", set()), ("fixer", set()), ("clerk", set()),
])
def test_a_dashboard_is_for_the_supervisors_and_admins_of_its_site(app, short_history, username, allowed):
    client = client_of(app, username)
    for site in ("TEST", "OTHER"):
        for page in PAGES:
            response = client.get(page.format(site=site))
            assert response.status_code == (200 if site in allowed else 403), (username, site, page)
    assert client.get("/s/NOPE/dashboard").status_code == 404


def test_a_supervisor_of_one_site_never_sees_another_sites_figures(app, short_history):
    page = client_of(app, "boss_t").get("/s/TEST/dashboard").get_data(as_text=True)
    assert "/s/OTHER/" not in page
    refused = client_of(app, "boss_t").get("/s/OTHER/dashboard.json")
    assert refused.status_code == 403 and b'"site"' not in refused.data


def _overview_sites(page: str) -> list[str]:
    return re.findall(r'<tr data-site="([^"]+)">', page)


def test_the_overview_lists_only_the_users_sites(app, short_history):
    assert _overview_sites(client_of(app, "province").get("/dashboard").get_data(as_text=True)) == ["OTHER", "TEST"]
    assert _overview_sites(client_of(app, "root").get("/dashboard").get_data(as_text=True)) == ["OTHER", "TEST"]
    assert _overview_sites(client_of(app, "boss_t").get("/dashboard").get_data(as_text=True)) == ["TEST"]
    assert _overview_sites(client_of(app, "boss_o").get("/dashboard").get_data(as_text=True)) == ["OTHER"]
    for username in ("leader0", "fixer", "clerk"):
        assert client_of(app, username).get("/dashboard").status_code == 403


def test_the_overview_rows_agree_with_the_sites_dashboards_and_sort(app, history):
    client = client_of(app, "province")
    page = client.get("/dashboard").get_data(as_text=True)
    for code in ("TEST", "OTHER"):
        data = client.get(f"/s/{code}/dashboard.json").get_json()
        row = page.split(f'<tr data-site="{code}">')[1].split("</tr>")[0]
        cells = [re.sub(r"<[^>]+>", " ", c).split() for c in row.split("<td>")[1:]]
        today, month = data["today"]["patrols"], data["periods"]["month"]["closing"]
        assert f"/s/{code}/dashboard" in row
        assert cells[2] == [_rate(today["completion_rate"]), f"{today['done'] + today['done_late']}/{today['decided']}"]
        assert cells[3] == [str(data["to_act"]["overdue"])]
        assert cells[4] == [_rate(month["close_rate"]), f"{month['closed']}/{month['due']}"]
        assert cells[5] == [_rate(month["on_time_rate"]), f"{month['closed_on_time']}/{month['due']}"]
    overdue = {code: client.get(f"/s/{code}/dashboard.json").get_json()["to_act"]["overdue"] for code in ("TEST", "OTHER")}
    assert overdue["TEST"] != overdue["OTHER"]
    most_first = sorted(overdue, key=lambda c: -overdue[c])
    assert _overview_sites(client.get("/dashboard?sort=overdue&dir=desc").get_data(as_text=True)) == most_first
    assert _overview_sites(client.get("/dashboard?sort=overdue").get_data(as_text=True)) == most_first[::-1]
    assert _overview_sites(client.get("/dashboard?sort=name&dir=sideways").get_data(as_text=True))
    assert client.get("/dashboard?sort=%3Cscript%3E").status_code == 200  # unknown: by code


def _rate(value) -> str:
    return "—" if value is None else f"{value * 100:.2f}%"


def test_where_each_role_lands(app, short_history):
    assert client_of(app, "province").get("/").headers["Location"] == "/dashboard"
    assert client_of(app, "root").get("/").headers["Location"] == "/dashboard"
    boss = client_of(app, "boss_t")
    assert boss.get("/").headers["Location"] == "/s/TEST/"
    assert boss.get("/s/TEST/").headers["Location"] == "/s/TEST/dashboard"
    assert client_of(app, "root_t").get("/s/TEST/").headers["Location"] == "/s/TEST/dashboard"
    # the provincial supervisor opening one site's home gets that site's dashboard
    assert client_of(app, "province").get("/s/OTHER/").headers["Location"] == "/s/OTHER/dashboard"
    for username in ("leader0", "fixer", "clerk"):
        home = client_of(app, username).get("/s/TEST/")
        assert home.status_code == 200, username


def test_the_dashboard_page_costs_at_most_15_statements(app, history):
    client = client_of(app, "province")  # all sites: the switcher's list of sites comes too
    client.get("/s/TEST/dashboard")
    with _statements(app) as statements:
        page = client.get("/s/TEST/dashboard")
    assert page.status_code == 200
    assert len(statements) <= 15, "\n".join(statements)
    # no statement reads ORM rows of the history: every read of patrols or issues aggregates or is limited
    for statement in statements:
        if "FROM patrols" in statement or "FROM issues" in statement:
            assert "sum(" in statement.lower() or "count(" in statement.lower() or "LIMIT" in statement, statement
    with _statements(app) as statements:
        assert client.get("/s/TEST/dashboard.json").status_code == 200
    assert len(statements) <= 15
    with _statements(app) as statements:
        assert client.get("/dashboard").status_code == 200
    assert len(statements) <= 8, "\n".join(statements)


def test_anonymous_users_are_sent_to_log_in(app, short_history):
    anonymous = app.test_client()
    for path in ("/s/TEST/dashboard", "/s/TEST/dashboard.json", "/dashboard"):
        response = anonymous.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path


def test_a_site_without_any_history_shows_dashes_not_errors(app, frozen):
    from tests.grids import builders as grid_builders

    grid_builders.make_site(app, "EMPTY")
    helpers.make_user(app, "lonely", roles=("supervisor",))
    client = client_of(app, "lonely")
    page = client.get("/s/EMPTY/dashboard")
    assert page.status_code == 200 and "—" in page.get_data(as_text=True)
    data = client.get("/s/EMPTY/dashboard.json").get_json()
    assert data["today"]["patrols"]["total"] == 0 and data["periods"]["month"]["closing"]["close_rate"] is None
    assert data["charts"]["patrol_completion"] == [None] * 12 and data["ranking"] == []


def test_the_overview_takes_each_sites_day_in_its_own_time_zone(app, short_history):
    import sqlalchemy as sa

    from gridpatrol.core.transaction import job_transaction
    from gridpatrol.grids.models import Site

    with app.app_context(), job_transaction() as session:  # OTHER's day has already ended in Shanghai's evening
        session.execute(sa.update(Site).where(Site.code == "OTHER").values(timezone="America/New_York"))
    client = client_of(app, "province")
    other = client.get("/s/OTHER/dashboard.json").get_json()
    test = client.get("/s/TEST/dashboard.json").get_json()
    assert other["today"]["day"] == "2026-11-17" and test["today"]["day"] == "2026-11-18"
    row = client.get("/dashboard").get_data(as_text=True).split('<tr data-site="OTHER">')[1].split("</tr>")[0]
    today = other["today"]["patrols"]
    assert today["total"] == 1 and today["late"] == 1  # 2026-11-18 08:00 in Shanghai is the 17th's evening there
    assert f"{today['done'] + today['done_late']}/{today['decided']}" in row
