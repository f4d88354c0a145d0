"""/api/v1/sites/<site>/issues: the queue as the queue page shows it, an issue as its page shows it, quick reports,
every action of the workflow table, comments and 延期, each with its refusals in the one error format."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re

import pytest
import sqlalchemy as sa

from gridpatrol.core.time import day_bounds, local_day, utcnow
from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.grids.models import Grid, Site
from gridpatrol.issues import services, workflow
from gridpatrol.issues.models import Issue
from tests import helpers
from tests.api.builders import bearer, token_for
from tests.issues import builders
from tests.issues.builders import at, jpeg, user

API = "/api/v1/sites/TEST/issues"
# The centres of the 2×2 grids (tests/grids/builders.py).
CENTRES = {"A01": (120.1505, 30.2795), "A02": (120.1515, 30.2795), "A03": (120.1505, 30.2785),
           "A04": (120.1515, 30.2785)}
ROW_LINK = re.compile(r'class="row-link" href="[^"]*/issues/(\d+)"')
TOTAL = re.compile(r'data-total="(\d+)"')


def _problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and body["code"] == code and body["detail"]
    return body


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class Caller:
    """A token's user calling the API."""

    def __init__(self, app, username: str):
        self.client = app.test_client()
        self.headers = bearer(token_for(app, username))

    def get(self, path: str, **kwargs):
        return self.client.get(path, headers=self.headers, **kwargs)

    def post(self, path: str, json=None, *, headers=None, **kwargs):
        return self.client.post(path, json=json, headers={**self.headers, **(headers or {})}, **kwargs)

    def act(self, issue_id: int, action: str, json=None, **kwargs):
        return self.post(f"{API}/{issue_id}/actions/{action}", json, **kwargs)


def _issue_in(app, grid: str, *, reporter="clerk", category="water_power", when="2026-11-18 09:00") -> int:
    lon, lat = CENTRES[grid]
    return builders.file_report(app, reporter, lon=lon, lat=lat, category=category, when=when)


def _set(app, issue_id: int, **values) -> None:
    with app.app_context(), job_transaction() as session:
        session.execute(sa.update(Issue).where(Issue.id == issue_id).values(**values))


def _version(app, issue_id: int) -> int:
    with app.app_context():
        return db.session.get(Issue, issue_id).version


def _queue(app) -> dict[str, int]:
    """Issues in every position of the queue: each grid, each state, overdue or not, on time, reworked, due
    today, of another category and severity."""
    now = utcnow()
    ids = {"a01_fresh": _issue_in(app, "A01"),
           "a02_fresh": _issue_in(app, "A02", category="sanitation"),
           "a03_mine": _issue_in(app, "A03", reporter="leader0", category="greening", when="2026-11-10 09:00"),
           "a01_dispatched": _issue_in(app, "A01", category="equipment", when="2026-11-12 09:00"),
           "a02_in_progress": _issue_in(app, "A02", category="equipment", when="2026-11-13 09:00"),
           "a04_fixed": _issue_in(app, "A04", category="security", when="2026-11-14 09:00"),
           "a01_closed": _issue_in(app, "A01", category="assets", when="2026-11-15 09:00"),
           "a02_closed_late": _issue_in(app, "A02", category="assets", when="2026-11-16 09:00"),
           "a03_deferred": _issue_in(app, "A03", category="fire_safety", when="2026-11-17 09:00"),
           "a04_rejected": _issue_in(app, "A04", category="sanitation", when="2026-11-19 09:00")}
    builders.advance(app, ids["a01_dispatched"], "dispatched")
    builders.advance(app, ids["a02_in_progress"], "in_progress")
    builders.advance(app, ids["a04_fixed"], "awaiting_verification")
    for name in ("a01_closed", "a02_closed_late"):
        builders.advance(app, ids[name], "closed", when="2026-11-20 10:00")
    builders.advance(app, ids["a03_deferred"], "deferred")
    _set(app, ids["a04_rejected"], state="rejected")
    _set(app, ids["a01_dispatched"], deadline=day_bounds(local_day(now, "Asia/Shanghai"), "Asia/Shanghai")[1]
         - dt.timedelta(minutes=1))  # due today, late in the day
    _set(app, ids["a02_in_progress"], deadline=now - dt.timedelta(days=3), rework_count=1, severity="major")
    _set(app, ids["a01_closed"], deadline=at("2026-11-25 17:30"))
    _set(app, ids["a02_closed_late"], deadline=at("2026-11-19 17:30"), rework_count=2)
    return ids


def _grid_ids(app) -> dict[str, int]:
    with app.app_context():
        return {code: grid_id for grid_id, code in db.session.execute(sa.select(Grid.id, Grid.code))}


def _team_id(app) -> int:
    with app.app_context():
        return builders.team(db.session).id


def _page_ids(client, path: str) -> tuple[list[int], int]:
    html = client.get(path).get_data(as_text=True)
    return [int(i) for i in ROW_LINK.findall(html)], int(TOTAL.search(html).group(1))


def _api_ids(caller: Caller, query: str) -> tuple[list[int], int]:
    response = caller.get(f"{API}?per_page=50&{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    return [item["id"] for item in body["items"]], body["total"]


QUERIES = ["", "all=1", "state=closed", "state=reported&state=in_progress", "state=deferred", "grid={A02}",
           "grid={A01}&all=1", "level=0", "category=equipment", "severity=major", "team={team}", "overdue=1",
           "due=today", "from=2026-11-14&to=2026-11-17", "from=2026-11-14&all=1",
           "due_from=2026-11-19&due_to=2026-11-26&all=1", "closed_from=2026-11-20&closed_to=2026-11-21&all=1",
           "on_time=1&all=1", "reworked=1&all=1", "state=closed&on_time=1", "category=assets&severity=minor&all=1"]


@pytest.mark.parametrize("username", ["boss", "leader0", "leader1", "fixer", "clerk"])
def test_the_list_is_the_queue_page_for_the_same_filters(app, world, username):
    _queue(app)
    grid_ids, team = _grid_ids(app), _team_id(app)
    page = app.test_client()
    helpers.login(page, helpers.Credentials(0, username, helpers.DEFAULT_PASSWORD))
    caller = Caller(app, username)
    seen = set()
    for query in QUERIES:
        page_query = query.format(A01=grid_ids["A01"], A02=grid_ids["A02"], team=team)
        api_query = query.format(A01="A01", A02="A02", team=team)
        expected, expected_total = _page_ids(page, f"/s/TEST/issues?{page_query}")
        assert _api_ids(caller, api_query) == (expected, expected_total), query
        seen.update(expected)
    assert seen, "the filters found something to compare"
    if username == "fixer":  # "my work": the page of a rectifier's own queue
        assert _api_ids(caller, "mine=1") == _page_ids(page, "/s/TEST/issues/mine")


def test_each_filter_narrows_to_what_it_says(app, world):
    """The comparison above is only as good as the data: each filter picks out the issues placed for it."""
    ids = _queue(app)
    boss = Caller(app, "boss")
    assert set(_api_ids(boss, "")[0]) == {ids[n] for n in ("a01_fresh", "a02_fresh", "a03_mine", "a01_dispatched",
                                                           "a02_in_progress", "a04_fixed", "a03_deferred")}
    assert _api_ids(boss, "grid=A02")[0] == [ids["a02_fresh"], ids["a02_in_progress"]]
    assert _api_ids(boss, "grid=Z99") == ([], 0)  # an unknown code matches nothing
    assert _api_ids(boss, "overdue=1")[0] == [ids["a04_fixed"], ids["a02_in_progress"]]  # due 11-21, 3 days ago
    assert ids["a01_dispatched"] in _api_ids(boss, "due=today")[0]
    assert _api_ids(boss, "on_time=1&all=1")[0] == [ids["a01_closed"]]
    assert _api_ids(boss, "reworked=1&all=1")[0] == [ids["a02_closed_late"], ids["a02_in_progress"]]
    assert _api_ids(boss, "state=rejected")[0] == [ids["a04_rejected"]]
    assert _api_ids(Caller(app, "fixer"), "mine=1")[1] == 4  # dispatched to the team, deferred included


def test_a_row_says_what_the_queue_row_says(app, world):
    ids = _queue(app)
    body = Caller(app, "boss").get(f"{API}?state=in_progress").get_json()
    (row,) = body["items"]
    assert row["id"] == ids["a02_in_progress"] and row["url"] == f"{API}/{row['id']}"
    assert (row["state"], row["state_label"], row["severity"], row["category"], row["grid"], row["overdue"]) == \
        ("in_progress", "整改中", "major", "equipment", "A02", True)
    assert row["reported_at"] == "2026-11-13T09:00:00+08:00"  # in the site's zone, with its offset


def test_pages_have_a_stable_order_totals_and_links_that_keep_the_filters(app, world):
    made = [_issue_in(app, grid, category="greening", when=f"2026-11-{10 + n:02d} 09:00")
            for n, grid in enumerate(["A01", "A02", "A03", "A04", "A01", "A02", "A03"])]
    boss = Caller(app, "boss")
    first = boss.get(f"{API}?state=reported&category=greening&per_page=3").get_json()
    assert (first["page"], first["per_page"], first["total"]) == (1, 3, 7)
    links = first["links"]
    assert links["prev"] is None and "page=3" in links["last"] and "page=2" in links["next"]
    assert "state=reported" in links["next"] and "category=greening" in links["next"]
    second = boss.get(links["next"]).get_json()
    third = boss.get(second["links"]["next"]).get_json()
    assert third["links"]["next"] is None and "page=2" in third["links"]["prev"]
    listed = [item["id"] for body in (first, second, third) for item in body["items"]]
    assert listed == sorted(made)  # none dispatched: no deadline, so the id decides, and each appears once
    assert boss.get(f"{API}?state=reported&category=greening&per_page=3&page=9").get_json()["items"] == []


def test_visibility_is_the_pages(app, world):
    ids = _queue(app)
    leader0 = Caller(app, "leader0")
    listed = set(_api_ids(leader0, "all=1")[0])
    with app.app_context():
        grids = dict(db.session.execute(sa.select(Issue.id, Grid.code).join(Grid, Grid.id == Issue.grid_id)).all())
    assert listed and all(grids[i] == "A01" or i == ids["a03_mine"] for i in listed)  # their grid, their report
    page = app.test_client()
    helpers.login(page, helpers.Credentials(0, "leader0", helpers.DEFAULT_PASSWORD))
    for issue_id, status in ((ids["a01_fresh"], 200), (ids["a02_fresh"], 403), (ids["a03_mine"], 200)):
        assert page.get(f"/s/TEST/issues/{issue_id}").status_code == status
        response = leader0.get(f"{API}/{issue_id}")
        assert response.status_code == status
        if status == 403:
            _problem(response, 403, "not_allowed")
    _problem(leader0.post(f"{API}/{ids['a02_fresh']}/comments", {"text": "看看"}), 403, "not_allowed")
    _problem(leader0.get(f"{API}/999999"), 404, "not_found")


def test_another_sites_issue_and_site_are_refused(app, world):
    with app.app_context(), job_transaction() as session:
        other = session.scalar(sa.select(Site).where(Site.code == "OTHER"))
        elsewhere = services.report(session, user(session, "clerk_other"), other, lon=121.0025, lat=31.0025, level=0,
                                    category="greening", description="草坪枯黄", photos={"p": jpeg()},
                                    now=at("2026-11-18 09:00")).id
    mine = _issue_in(app, "A01")
    boss = Caller(app, "boss")  # a supervisor of every site
    _problem(boss.get(f"{API}/{elsewhere}"), 404, "not_found")  # not an issue of TEST
    assert boss.get(f"/api/v1/sites/OTHER/issues/{elsewhere}").status_code == 200
    boss_other = Caller(app, "boss_other")
    _problem(boss_other.get(API), 403, "not_allowed")
    _problem(boss_other.get(f"{API}/{mine}"), 403, "not_allowed")
    _problem(boss_other.act(mine, "dispatch", {"team_id": _team_id(app)}), 403, "not_allowed")
    assert [i["id"] for i in boss_other.get("/api/v1/sites/OTHER/issues").get_json()["items"]] == [elsewhere]


def test_the_detail_is_the_issue_page_with_its_version_as_etag(app, world):
    issue_id = _issue_in(app, "A01")
    response = Caller(app, "boss").get(f"{API}/{issue_id}")
    assert response.status_code == 200 and response.headers["ETag"] == 'W/"1"'
    body = response.get_json()
    assert (body["id"], body["site"], body["version"], body["state"], body["state_label"]) == \
        (issue_id, "TEST", 1, "reported", "待受理")
    assert body["grid"]["code"] == "A01" and body["reporter"]["username"] == "clerk" and body["deadline"] is None
    assert body["category_label"] == "水电" and body["source"] == "report"
    assert [(e["action"], e["actor"]["username"]) for e in body["events"]] == [("reported", "clerk")]
    assert [a["action"] for a in body["actions"]] == ["dispatch", "reject", "comment"]
    dispatch = body["actions"][0]
    assert dispatch["needs"] == ["team_or_assignee"] and dispatch["url"] == f"{API}/{issue_id}/actions/dispatch"
    assert body["actions"][2]["url"] == f"{API}/{issue_id}/comments"
    (photo,) = body["photos"]
    assert photo["kind"] == "before" and photo["content_type"] == "image/jpeg"
    image = Caller(app, "clerk").get(photo["url"])
    assert image.status_code == 200 and image.mimetype == "image/jpeg" and image.data == jpeg()
    _problem(Caller(app, "leader1").get(photo["url"]), 403, "not_allowed")  # the issue's rule, for its photos
    _problem(Caller(app, "boss").get(f"{API}/{issue_id}/photos/999999"), 404, "not_found")
    # The reporter sees it but may only comment.
    assert [a["action"] for a in Caller(app, "clerk").get(f"{API}/{issue_id}").get_json()["actions"]] == ["comment"]


def test_labels_are_in_the_callers_language(app, world):
    from gridpatrol.accounts import services as accounts

    issue_id = _issue_in(app, "A01")
    with app.app_context(), job_transaction() as session:
        accounts.set_locale(session, user(session, "boss2"), "en")
    caller = Caller(app, "boss2")
    body = caller.get(f"{API}/{issue_id}").get_json()
    assert (body["state_label"], body["events"][0]["label"]) == ("To accept", "reported it")
    refused = _problem(caller.act(issue_id, "start"), 422, "refused")
    assert refused["detail"] == "This cannot be done while the issue is reported."


def test_the_whole_workflow_through_the_api(app, world):
    issue_id = _issue_in(app, "A01")
    boss, fixer, leader0 = Caller(app, "boss"), Caller(app, "fixer"), Caller(app, "leader0")
    response = boss.act(issue_id, "dispatch", {"team_id": _team_id(app), "severity": "major", "note": "尽快处理",
                                               "should_have_been_found": True}, headers={"If-Match": 'W/"1"'})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert (body["state"], body["severity"], body["team"]["name"], body["should_have_been_found"]) == \
        ("dispatched", "major", "维修班组", True)
    assert body["deadline"] is not None and response.headers["ETag"] == f'W/"{body["version"]}"'
    etag = response.headers["ETag"]
    response = boss.act(issue_id, "redispatch", {"assignee": "fixer2"}, headers={"If-Match": etag})
    assert response.get_json()["assignee"]["username"] == "fixer2" and response.get_json()["team"] is None
    _problem(fixer.act(issue_id, "start"), 403, "not_allowed")  # no longer theirs
    response = Caller(app, "fixer2").act(issue_id, "start", {"version": response.get_json()["version"]})
    assert response.get_json()["state"] == "in_progress"
    fixer2 = Caller(app, "fixer2")
    response = fixer2.act(issue_id, "report_fix", {"note": "已更换阀芯", "photos": [_b64(jpeg((20, 200, 20)))]})
    body = response.get_json()
    assert body["state"] == "awaiting_verification"
    assert [p["kind"] for p in body["photos"]] == ["before", "after"]
    response = leader0.act(issue_id, "verify_fail", {"note": "仍在滴水"})
    assert (response.get_json()["state"], response.get_json()["rework_count"]) == ("in_progress", 1)
    fixer2.act(issue_id, "report_fix", {"note": "再次更换", "photos": [_b64(jpeg((10, 10, 200)))]})
    response = leader0.act(issue_id, "verify_pass", headers={"If-Match": f'W/"{_version(app, issue_id)}"'})
    body = response.get_json()
    assert body["state"] == "closed" and body["closed_at"] and body["actions"] == [
        {"action": "comment", "label": "添加留言", "to_state": "closed", "needs": ["text"],
         "url": f"{API}/{issue_id}/comments"}]
    assert [e["action"] for e in body["events"]] == ["reported", "dispatch", "redispatch", "start", "report_fix",
                                                     "rework", "report_fix", "verify_pass"]


def test_reject_defer_and_resume(app, world):
    rejected, deferred = _issue_in(app, "A01"), _issue_in(app, "A02", category="greening")
    boss = Caller(app, "boss")
    response = boss.act(rejected, "reject", {"reason": "duplicate", "duplicate_of": deferred, "note": "重复上报"})
    body = response.get_json()
    assert (body["state"], body["reject_reason"], body["duplicate_of"]) == ("rejected", "duplicate", deferred)
    builders.advance(app, deferred, "dispatched")
    response = boss.act(deferred, "defer", {"note": "等待预算"})
    assert response.get_json()["state"] == "deferred"
    day = (utcnow() + dt.timedelta(days=20)).date()
    response = boss.act(deferred, "resume", {"deadline": day.isoformat(), "note": "预算已批"})
    body = response.get_json()
    assert body["state"] == "dispatched" and body["deadline"].startswith(day.isoformat())


def test_every_action_of_the_table_has_its_operation(app, world):
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    actions = {path.rsplit("/", 1)[1] for path in spec["paths"] if "/actions/" in path}
    assert actions == {a.value for a in workflow.Action} - {"comment"}
    assert "/api/v1/sites/{site}/issues/{issue_id}/comments" in spec["paths"]
    fix = spec["components"]["schemas"]["ReportFixBody"]
    assert set(fix["properties"]) == {"note", "photos", "version"} and fix["additionalProperties"] is False


def test_action_refusals(app, world):
    issue_id = _issue_in(app, "A01")
    boss, clerk = Caller(app, "boss"), Caller(app, "clerk")
    _problem(boss.act(issue_id, "start"), 422, "refused")  # the state does not allow it
    _problem(boss.act(issue_id, "resume", {"deadline": "2026-12-20"}), 422, "refused")
    _problem(clerk.act(issue_id, "dispatch", {"team_id": _team_id(app)}), 403, "not_allowed")  # not theirs
    body = _problem(boss.act(issue_id, "dispatch", {}), 422, "refused")  # a need is missing
    assert body["detail"] == "请选择班组或人员。"
    _problem(boss.act(issue_id, "dispatch", {"team_id": 4242}), 422, "refused")  # no such team
    _problem(boss.act(issue_id, "dispatch", {"assignee": "clerk"}), 422, "refused")  # not a rectifier
    _problem(boss.act(issue_id, "reject", {"reason": "invalid"}), 422, "refused")  # no note
    _problem(boss.act(999999, "dispatch", {"team_id": _team_id(app)}), 404, "not_found")
    assert _version(app, issue_id) == 1, "nothing refused changed the issue"
    assert boss.act(issue_id, "dispatch", {"team_id": _team_id(app)}, headers={"If-Match": 'W/"1"'}).status_code == 200
    # The page it was read from is stale now: by If-Match, by the body's version, or when the two disagree.
    _problem(boss.act(issue_id, "redispatch", {"assignee": "fixer"}, headers={"If-Match": 'W/"1"'}), 409, "conflict")
    _problem(boss.act(issue_id, "defer", {"note": "等", "version": 1}), 409, "conflict")
    current = _version(app, issue_id)
    _problem(boss.act(issue_id, "defer", {"note": "等", "version": current}, headers={"If-Match": 'W/"1"'}), 409,
             "conflict")
    _problem(boss.act(issue_id, "defer", {"note": "等"}, headers={"If-Match": "1"}), 422, "invalid_request")
    assert _version(app, issue_id) == current
    with app.app_context():
        assert db.session.get(Issue, issue_id).state == "dispatched"


def test_a_fix_needs_a_readable_photo(app, world):
    issue_id = _issue_in(app, "A01")
    builders.advance(app, issue_id, "in_progress")
    fixer = Caller(app, "fixer")
    _problem(fixer.act(issue_id, "report_fix", {"note": "修好了"}), 422, "refused")
    body = _problem(fixer.act(issue_id, "report_fix", {"note": "修好了", "photos": [_b64(b"not an image")]}), 422,
                    "refused")
    assert "photo 1" in body["detail"]
    body = _problem(fixer.act(issue_id, "report_fix", {"note": "修好了", "photos": ["%%%"]}), 422, "invalid_request")
    assert "photos" in body["errors"]["json"]
    _problem(fixer.act(issue_id, "report_fix", {"note": "修好了", "photos": [_b64(jpeg())] * 9}), 422,
             "invalid_request")


@pytest.mark.parametrize("body, status, code", [
    (b'{"note": ', 400, "malformed_body"),
    (b'{"note": "x", "colour": "red"}', 422, "invalid_request"),  # unknown field
    (b'{"team_id": "one"}', 422, "invalid_request"),  # wrong type
    (b'{"team_id": 1.5}', 422, "invalid_request"),
    (b'{"team_id": 100000000000000000000000000000}', 422, "invalid_request"),  # huge number
    (b'{"team_id": 1, "note": "a\\u0000b"}', 422, "invalid_request"),  # NUL byte
    (b'{"team_id": 1, "note": "\\ud800"}', 422, "invalid_request"),  # lone surrogate
    (b'{"team_id": 1, "note": "' + b"x" * 2001 + b'"}', 422, "invalid_request"),  # too long
    (b'[1, 2]', 422, "invalid_request"),
])
def test_bad_bodies_are_4xx_problems(app, world, body, status, code):
    issue_id = _issue_in(app, "A01")
    boss = Caller(app, "boss")
    response = boss.client.post(f"{API}/{issue_id}/actions/dispatch", data=body,
                                headers={**boss.headers, "Content-Type": "application/json"})
    _problem(response, status, code)
    assert _version(app, issue_id) == 1


@pytest.mark.parametrize("query", ["page=0", "per_page=101", "page=99999999999999999999", "state=open", "due=tomorrow",
                                   "from=2026-13-01", "from=1900-01-01", "team=99999999999", "level=abc",
                                   "grid=A%00", "colour=red"])
def test_bad_queries_are_422(app, world, query):
    body = _problem(Caller(app, "boss").get(f"{API}?{query}"), 422, "invalid_request")
    assert body["errors"]["query"]


def test_a_quick_report_with_and_without_photos(app, world):
    clerk = Caller(app, "clerk")
    lon, lat = CENTRES["A02"]
    report = {"lon": lon, "lat": lat, "category": "sanitation", "description": "楼道垃圾未清理\n三楼东侧"}
    body = _problem(clerk.post(API, report), 422, "refused")  # the page's rule: at least one photo
    assert body["detail"] == "请至少添加一张照片。"
    response = clerk.post(API, {**report, "photos": [_b64(jpeg()), _b64(jpeg((200, 10, 10)))], "severity": "major"})
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert response.headers["Location"] == body["url"] and response.headers["ETag"] == 'W/"1"'
    assert (body["state"], body["grid"]["code"], body["severity"], body["title"], body["reporter"]["username"]) == \
        ("reported", "A02", "major", "楼道垃圾未清理", "clerk")
    assert len(body["photos"]) == 2 and clerk.get(body["photos"][1]["url"]).status_code == 200
    assert body["id"] in _api_ids(Caller(app, "boss"), "grid=A02")[0]
    outside = clerk.post(API, {**report, "lon": 120.16, "lat": 30.29, "photos": [_b64(jpeg())]})
    assert outside.status_code == 201 and outside.get_json()["grid"] is None  # filed without a grid, as the page


def test_a_quick_report_like_an_open_one_nearby_asks_first(app, world):
    first = _issue_in(app, "A01", when=(utcnow() - dt.timedelta(days=2)).strftime("%Y-%m-%d %H:%M"))
    lon, lat = CENTRES["A01"]
    report = {"lon": lon + 0.0001, "lat": lat, "category": "water_power", "description": "水龙头漏水",
              "photos": [_b64(jpeg())]}
    clerk2 = Caller(app, "clerk2")
    body = _problem(clerk2.post(API, report), 409, "possible_duplicates")
    assert body["errors"] == {"duplicates": [first]} and str(first) in body["detail"]
    assert _api_ids(Caller(app, "boss"), "grid=A01")[0] == [first]
    response = clerk2.post(API, {**report, "file_anyway": True})
    assert response.status_code == 201 and response.get_json()["id"] != first


@pytest.mark.parametrize("change, code", [
    ({"lon": 500}, "invalid_request"), ({"lat": "north"}, "invalid_request"), ({"lon": 1e400}, "invalid_request"),
    ({"level": 10**30}, "invalid_request"), ({"category": "weather"}, "invalid_request"),
    ({"description": ""}, "invalid_request"), ({"description": "漏\x00水"}, "invalid_request"),
    ({"reporter": "boss"}, "invalid_request"), ({"photos": "abc"}, "invalid_request"),
])
def test_a_bad_quick_report_is_refused(app, world, change, code):
    lon, lat = CENTRES["A03"]
    report = {"lon": lon, "lat": lat, "category": "greening", "description": "树枝折断", "photos": [_b64(jpeg())],
              **change}
    response = Caller(app, "clerk").client.post(
        API, data=json.dumps(report).replace("Infinity", "1e400"),
        headers={**bearer(token_for(app, "clerk")), "Content-Type": "application/json"})
    body = _problem(response, 422, code)
    assert set(body["errors"]["json"]) <= set(report)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Issue)) == 0


def test_comments(app, world):
    issue_id = _issue_in(app, "A01")
    clerk, boss = Caller(app, "clerk"), Caller(app, "boss")
    response = clerk.post(f"{API}/{issue_id}/comments", {"text": "  还在漏水  "})
    assert response.status_code == 201
    assert (response.get_json()["text"], response.get_json()["author"]["username"]) == ("还在漏水", "clerk")
    for n in range(3):
        assert boss.post(f"{API}/{issue_id}/comments", {"text": f"第{n}条"}).status_code == 201
    page = boss.get(f"{API}/{issue_id}/comments?per_page=3").get_json()
    assert page["total"] == 4 and [c["text"] for c in page["items"]] == ["还在漏水", "第0条", "第1条"]
    assert [c["text"] for c in boss.get(page["links"]["next"]).get_json()["items"]] == ["第2条"]
    assert _version(app, issue_id) == 1, "a comment is never stale and changes no version"
    assert len(boss.get(f"{API}/{issue_id}").get_json()["comments"]) == 4
    _problem(clerk.post(f"{API}/{issue_id}/comments", {"text": "   "}), 422, "refused")
    _problem(clerk.post(f"{API}/{issue_id}/comments", {"text": ""}), 422, "invalid_request")
    _problem(clerk.post(f"{API}/{issue_id}/comments", {"text": "x", "version": 1}), 422, "invalid_request")
    _problem(Caller(app, "clerk2").get(f"{API}/{issue_id}/comments"), 403, "not_allowed")


def test_extension_request_and_decision(app, world):
    issue_id = _issue_in(app, "A01")
    builders.advance(app, issue_id, "in_progress", when=(utcnow() - dt.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M"))
    fixer, boss, clerk = Caller(app, "fixer"), Caller(app, "boss"), Caller(app, "clerk")
    day = (utcnow() + dt.timedelta(days=30)).date().isoformat()
    _problem(clerk.post(f"{API}/{issue_id}/extensions", {"reason": "缺零件", "deadline": day}), 403, "not_allowed")
    _problem(fixer.post(f"{API}/{issue_id}/extensions", {"reason": "缺零件", "deadline": "2000-01-01"}), 422,
             "refused")  # not later than the deadline in force
    assert fixer.get(f"{API}/{issue_id}").get_json()["may_request_extension"] is True
    response = fixer.post(f"{API}/{issue_id}/extensions", {"reason": "等待零件到货", "deadline": day})
    assert response.status_code == 201, response.get_data(as_text=True)
    extension = response.get_json()
    assert extension["state"] == "pending" and extension["requested_deadline"].startswith(day)
    _problem(fixer.post(f"{API}/{issue_id}/extensions", {"reason": "再等等", "deadline": day}), 422, "refused")
    decision = extension["url"]
    _problem(fixer.post(decision, {"decision": "approve"}), 403, "not_allowed")
    _problem(boss.post(decision, {"decision": "approve", "version": extension["version"] + 1}), 409, "conflict")
    _problem(boss.post(decision, {"decision": "maybe"}), 422, "invalid_request")
    other = _issue_in(app, "A02", category="greening")
    _problem(boss.post(f"{API}/{other}/extensions/{extension['id']}/decision", {"decision": "approve"}), 404,
             "not_found")
    response = boss.post(decision, {"decision": "approve", "note": "同意", "version": extension["version"]})
    assert response.status_code == 200 and response.get_json()["state"] == "approved"
    detail = boss.get(f"{API}/{issue_id}").get_json()
    assert detail["deadline"].startswith(day) and [e["state"] for e in detail["extensions"]] == ["approved"]
    assert detail["events"][-1]["action"] == "extension_approved"
    _problem(boss.post(decision, {"decision": "refuse"}), 422, "refused")  # decided already


def test_a_refused_extension_leaves_the_deadline(app, world):
    issue_id = _issue_in(app, "A01")
    builders.advance(app, issue_id, "dispatched", when=(utcnow() - dt.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M"))
    before = Caller(app, "boss").get(f"{API}/{issue_id}").get_json()["deadline"]
    day = (utcnow() + dt.timedelta(days=30)).date().isoformat()
    extension = Caller(app, "fixer2").post(f"{API}/{issue_id}/extensions", {"reason": "人手不足", "deadline": day}).get_json()
    response = Caller(app, "boss").post(extension["url"], {"decision": "refuse", "note": "按期完成"})
    assert response.get_json()["state"] == "refused" and response.get_json()["decision_note"] == "按期完成"
    assert Caller(app, "boss").get(f"{API}/{issue_id}").get_json()["deadline"] == before


def _noise_png(width: int = 800, height: int = 600) -> bytes:
    """A real image that does not compress: over 1 MB, the bound of a body without photos."""
    import io
    import random

    from PIL import Image

    image = Image.frombytes("RGB", (width, height), random.Random(7).randbytes(width * height * 3))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def test_photo_bodies_have_their_own_bound(app, world):
    big = _noise_png()
    assert len(big) > 1024 * 1024
    clerk = Caller(app, "clerk")
    lon, lat = CENTRES["A04"]
    response = clerk.post(API, {"lon": lon, "lat": lat, "category": "security", "description": "门禁损坏",
                                "photos": [_b64(big)]})
    assert response.status_code == 201, response.get_data(as_text=True)
    issue_id = response.get_json()["id"]
    assert clerk.get(response.get_json()["photos"][0]["url"]).data == big
    # A comment has the default bound; a report's is larger, but bounded too.
    _problem(clerk.post(f"{API}/{issue_id}/comments", {"text": "长" * (1024 * 1024)}), 413, "too_large")
    oversized = b'{"photos": ["' + b"A" * (33 * 1024 * 1024) + b'"]}'
    _problem(clerk.client.post(API, data=oversized, headers={**clerk.headers, "Content-Type": "application/json"}),
             413, "too_large")


def test_a_page_of_the_list_is_one_count_and_one_query(app, world):
    for n in range(12):
        _issue_in(app, ["A01", "A02", "A03", "A04"][n % 4], category="greening", when=f"2026-11-{n + 1:02d} 09:00")
    for username in ("boss", "leader0", "fixer"):
        caller = Caller(app, username)
        for per_page in (2, 50):
            with app.app_context():
                engine = db.engine
            with helpers.statements_run(engine) as seen:
                assert caller.get(f"{API}?per_page={per_page}&all=1").status_code == 200
            on_issues = [s for s in seen if re.search(r"\bFROM issues\b", s)]
            assert len(on_issues) == 2, on_issues  # the total and the page: no query per row
