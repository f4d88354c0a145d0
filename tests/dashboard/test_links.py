"""Each figure of the dashboard is a link to the list behind it, and that list has as many rows as the figure says:
the queue's total and the patrol board's total (their data-total), the points table."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

from tests.dashboard.conftest import client_of

FIGURE = re.compile(r'<a class="figure-link[^"]*" href="([^"]+)">([^<]*)</a>')
TOTAL = re.compile(r'data-total="(\d+)"')


def _figures(page: str) -> list[tuple[str, str]]:
    return [(html.unescape(href), text.strip()) for href, text in FIGURE.findall(page)]


def _total(client, url: str) -> int:
    response = client.get(url)
    assert response.status_code == 200, url
    found = TOTAL.search(response.get_data(as_text=True))
    assert found, f"{url} shows no data-total"
    return int(found.group(1))


def test_every_issue_figure_opens_a_queue_with_that_many_rows(app, history):
    client = client_of(app, "boss_t")
    figures = _figures(client.get("/s/TEST/dashboard").get_data(as_text=True))
    queue = [(href, text) for href, text in figures if urlsplit(href).path == "/s/TEST/issues"]
    assert len(queue) > 100  # to act on, severities, categories, periods, 12 weeks × categories, grids
    checked = 0
    for href, text in queue:
        if not text.isdigit():  # the mean handling time links to the issues it is the mean of
            assert re.fullmatch(r"\d+\.\d\d|—", text), (href, text)
            continue
        assert _total(client, href) == int(text), href
        checked += 1
    # every kind of filter the dashboard uses was followed, with figures that are not all zero
    used = {key for href, text in queue for key in parse_qs(urlsplit(href).query)}
    assert {"state", "overdue", "due", "due_from", "due_to", "closed_from", "closed_to", "on_time", "reworked",
            "severity", "category", "grid", "from", "to"} <= used
    assert sum(int(text) for _href, text in queue if text.isdigit()) > 500 and checked > 100


def test_every_patrol_figure_opens_the_board_with_that_many_patrols(app, history):
    client = client_of(app, "boss_t")
    figures = _figures(client.get("/s/TEST/dashboard").get_data(as_text=True))
    board = [(href, text) for href, text in figures if urlsplit(href).path == "/s/TEST/patrols/board"]
    assert len(board) > 30
    for href, text in board:
        assert _total(client, href) == int(text), href
    assert sum(int(text) for _href, text in board) > 500


def test_the_ranking_opens_the_points_table_of_the_month(app, history):
    client = client_of(app, "boss_t")
    page = client.get("/s/TEST/dashboard").get_data(as_text=True)
    assert 'href="/s/TEST/points/?month=2026-11"' in page
    table = client.get("/s/TEST/points/?month=2026-11").get_data(as_text=True)
    data = client.get("/s/TEST/dashboard.json").get_json()
    for row in data["ranking"]:
        assert row["name"] in table

