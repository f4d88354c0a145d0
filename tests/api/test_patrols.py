"""Plans and patrols in the API: who sees which, the board's filters, start, the tablet's submission (exactly once
per client UUID, photos in a multipart body, bounded before it is read, bad input a 4xx), the checkpoint lookups
and the session's CSRF token; and the page-era endpoints they replace are gone.

The compound is the API tests' (site TEST, leader0 leads A01, leader1 A02, boss a supervisor of every site,
boss_other of OTHER only) with a daily plan over A01 and A02 (08:00, four hours, an hour's grace) from the day
before; the clock stands at 09:00 on 10 October 2026 in Shanghai (ticking), so each grid has yesterday's patrol
(missed), today's (open) and tomorrow's (upcoming)."""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid

import pytest
import sqlalchemy as sa
import time_machine

from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.grids import qr
from gridpatrol.grids import services as grid_services
from gridpatrol.grids.models import Grid
from gridpatrol.patrols.models import CheckpointScan, Patrol, PatrolPhoto, Submission
from tests import helpers
from tests.api import builders
from tests.api.builders import bearer, token_for
from tests.issues.builders import jpeg
from tests.patrols import builders as patrol_builders

NOW = dt.datetime(2026, 10, 10, 9, 0, tzinfo=patrol_builders.SHANGHAI)
API = "/api/v1/sites/TEST"


@pytest.fixture
def compound(app):
    """The compound at NOW: ids of each grid's patrols by day ("yesterday", "today", "tomorrow"), the items of
    the checklist (item 1 needs a photo when failed, item 2 has no N/A, item 4 is critical) and the checkpoints'
    QR posters."""
    with time_machine.travel(NOW, tick=True):
        builders.world(app)
        with app.app_context(), job_transaction() as session:
            patrol_builders.make_template(session, critical=(3,), photo_on_fail=(0,), no_na=(1,))
            grids = {g.code: g for g in session.scalars(sa.select(Grid).where(Grid.code.in_(("A01", "A02"))))}
            posters = {}
            for code, grid in grids.items():
                middle = grid.geometry.centroid
                point = grid_services.add_checkpoint(session, grid, code=f"{code}-CP1", name=f"{code} 东门巡更点",
                                                     lon=middle.x, lat=middle.y, actor=None)
                posters[code] = qr.checkpoint_payload(point)
        patrol_builders.make_plan(app, grids=("A01", "A02"), starts_on=dt.date(2026, 10, 9), window="08:00",
                                  minutes=240, grace=60)
        patrol_builders.materialize(app, NOW)
        with app.app_context():
            rows = db.session.execute(sa.select(Patrol.id, Grid.code, Patrol.window_start).join(Grid)
                                      .order_by(Patrol.window_start, Grid.code)).all()
            days = {dt.date(2026, 10, 9): "yesterday", dt.date(2026, 10, 10): "today",
                    dt.date(2026, 10, 11): "tomorrow"}
            ids = {(code, days[start.astimezone(patrol_builders.SHANGHAI).date()]): pid for pid, code, start in rows}
            patrol = db.session.get(Patrol, ids["A01", "today"])
            items = [i.id for i in patrol.template_version.items]
        yield {"ids": ids, "items": items, "posters": posters}


def _token(app, username):
    return bearer(token_for(app, username))


def _problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and body["code"] == code and body["detail"]
    return body


def _payload(compound, *, results=("pass", "pass", "na", "pass"), client_uuid=None, **extra) -> dict:
    return {"client_uuid": client_uuid or str(uuid.uuid4()), "completed_at": NOW.isoformat(),
            "answers": [{"item_id": i, "result": r, "note": "", "photos": []}
                        for i, r in zip(compound["items"], results)], "scans": [], "location": None, **extra}


def _submission_url(patrol_id: int) -> str:
    return f"{API}/patrols/{patrol_id}/submission"


def _submit(client, patrol_id, payload, headers) -> object:
    return client.post(_submission_url(patrol_id), data=json.dumps(payload), headers=headers,
                       content_type="application/json")


def _counts(app) -> tuple[int, str]:
    with app.app_context():
        return (db.session.scalar(sa.select(sa.func.count()).select_from(Submission)),
                db.session.scalar(sa.select(Patrol.status).where(Patrol.status == "submitted")) or "")


# --- plans -----------------------------------------------------------------------------------------------------
def test_plans_are_for_the_sites_supervisors_and_admins(app, compound):
    client = app.test_client()
    with time_machine.travel(NOW, tick=True):
        body = client.get(f"{API}/plans", headers=_token(app, "boss")).get_json()
        assert body["total"] == 1 and body["page"] == 1
        plan = body["items"][0]
        assert plan["name"] == "每日巡查" and plan["recurrence"] == "daily" and plan["window_start"] == "08:00"
        assert plan["recurrence_text"] == "每天" and plan["kind_label"] and plan["rest_day_text"] is None
        assert [g["code"] for g in plan["grids"]] == ["A01", "A02"] and plan["template"] == "DAILY 标准"
        assert client.get(f"{API}/plans", headers=_token(app, "root")).status_code == 200
        for who in ("leader0", "clerk"):
            _problem(client.get(f"{API}/plans", headers=_token(app, who)), 403, "not_allowed")
        _problem(client.get(f"{API}/plans", headers=_token(app, "boss_other")), 403, "not_allowed")
        assert client.get("/api/v1/sites/OTHER/plans", headers=_token(app, "boss_other")).get_json()["items"] == []


# --- the list ----------------------------------------------------------------------------------------------------
def _listed(client, headers, query="") -> list[tuple[str, str]]:
    response = client.get(f"{API}/patrols{query}", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return [(row["grid"]["code"], row["state"]) for row in response.get_json()["items"]]


def test_a_leader_lists_their_own_patrols_a_supervisor_the_sites(app, compound):
    client = app.test_client()
    with time_machine.travel(NOW, tick=True):
        assert _listed(client, _token(app, "boss")) == [("A01", "due"), ("A02", "due")]  # today by default
        assert _listed(client, _token(app, "leader0")) == [("A01", "due")]
        assert _listed(client, _token(app, "leader1")) == [("A02", "due")]
        assert _listed(client, _token(app, "clerk")) == []
        _problem(client.get(f"{API}/patrols", headers=_token(app, "boss_other")), 403, "not_allowed")
        # The board's filters: a range of days, states, a grid.
        week = "?from=2026-10-09&to=2026-10-11"
        assert _listed(client, _token(app, "leader0"), week) == [("A01", "missed"), ("A01", "due"),
                                                                 ("A01", "upcoming")]
        assert _listed(client, _token(app, "boss"), week + "&state=missed&state=upcoming&grid=A02") == \
            [("A02", "missed"), ("A02", "upcoming")]
        assert _listed(client, _token(app, "leader0"), week + "&grid=A02") == []  # not theirs: nothing, no hint
        assert _listed(client, _token(app, "boss"), "?day=2026-10-09") == [("A01", "missed"), ("A02", "missed")]


def test_the_list_is_paged_in_a_stable_order_with_the_filters_in_its_links(app, compound):
    client = app.test_client()
    headers = _token(app, "boss")
    with time_machine.travel(NOW, tick=True):
        seen = []
        url = f"{API}/patrols?from=2026-10-09&to=2026-10-11&per_page=4"
        while url:
            body = client.get(url, headers=headers).get_json()
            assert body["total"] == 6 and body["counts"]["missed"] == 2 and body["counts"]["due"] == 2
            seen += [row["id"] for row in body["items"]]
            assert all(row["url"] == f"{API}/patrols/{row['id']}" for row in body["items"])
            url = body["links"]["next"]
            assert url is None or ("from=2026-10-09" in url and "to=2026-10-11" in url)
        ids = compound["ids"]
        assert seen == [ids[g, d] for d in ("yesterday", "today", "tomorrow") for g in ("A01", "A02")]
        first = client.get(f"{API}/patrols?day=2026-10-10", headers=headers).get_json()["items"][0]
        assert first["window_start"] == "2026-10-10T08:00:00+08:00" and first["assignee"] == "Leader0"
        assert first["state_label"] and first["score"] is None


@pytest.mark.parametrize("query, code", [
    ("?state=nope", "invalid_request"), ("?day=2026-13-01", "invalid_request"), ("?per_page=1000", "invalid_request"),
    ("?level=99999999999999999999", "invalid_request"), ("?grid=A%00", "invalid_request"),
    ("?from=2026-10-11&to=2026-10-01", "bad_filter"), ("?from=2025-01-01&to=2026-10-01", "bad_filter"),
    ("?day=9999-12-31", "bad_filter"), ("?day=0001-01-01", "bad_filter"),
])
def test_a_filter_the_board_cannot_read_is_a_422(app, compound, query, code):
    with time_machine.travel(NOW, tick=True):
        _problem(app.test_client().get(f"{API}/patrols{query}", headers=_token(app, "boss")), 422, code)


# --- one patrol --------------------------------------------------------------------------------------------------
def test_a_patrol_with_its_checklist_for_those_who_may_see_it(app, compound):
    client = app.test_client()
    patrol_id = compound["ids"]["A01", "today"]
    with time_machine.travel(NOW, tick=True):
        body = client.get(f"{API}/patrols/{patrol_id}", headers=_token(app, "leader0")).get_json()
        assert body["fillable"] is True and body["state"] == "due" and body["status"] == "scheduled"
        assert [i["id"] for i in body["items"]] == compound["items"]
        assert [(i["critical"], i["photo_on_fail"], i["allow_na"]) for i in body["items"]] == \
            [(False, True, True), (False, False, False), (False, False, True), (True, False, True)]
        assert body["assignee"] == {"username": "leader0", "name": "Leader0"} and body["answers"] == []
        assert body["links"]["submission"] == _submission_url(patrol_id)
        assert body["due_at"] == "2026-10-10T12:00:00+08:00"
        seen_by_boss = client.get(f"{API}/patrols/{patrol_id}", headers=_token(app, "boss")).get_json()
        assert seen_by_boss["fillable"] is False and seen_by_boss["items"] == body["items"]
        _problem(client.get(f"{API}/patrols/{patrol_id}", headers=_token(app, "leader1")), 403, "not_allowed")
        assert helpers.audit_actions(app, "permission.denied")[-1].actor_name == "leader1"
        _problem(client.get(f"{API}/patrols/{patrol_id}", headers=_token(app, "clerk")), 403, "not_allowed")
        _problem(client.get(f"/api/v1/sites/OTHER/patrols/{patrol_id}", headers=_token(app, "boss")), 404,
                 "not_found")  # a patrol of another site
        _problem(client.get(f"{API}/patrols/{patrol_id}", headers=_token(app, "boss_other")), 403, "not_allowed")
        _problem(client.get(f"{API}/patrols/99999999", headers=_token(app, "boss")), 404, "not_found")


def test_start_marks_the_assignees_patrol_in_progress(app, compound):
    client = app.test_client()
    patrol_id = compound["ids"]["A01", "today"]
    with time_machine.travel(NOW, tick=True):
        _problem(client.post(f"{API}/patrols/{patrol_id}/start", headers=_token(app, "leader1")), 403, "not_allowed")
        _problem(client.post(f"{API}/patrols/{patrol_id}/start", headers=_token(app, "boss")), 403, "not_allowed")
        body = client.post(f"{API}/patrols/{patrol_id}/start", headers=_token(app, "leader0")).get_json()
        assert body["status"] == "in_progress" and body["started_at"].startswith("2026-10-10T09:00")
        tomorrow = compound["ids"]["A01", "tomorrow"]
        assert client.post(f"{API}/patrols/{tomorrow}/start",
                           headers=_token(app, "leader0")).get_json()["status"] == "scheduled"  # not yet begun


# --- the submission ----------------------------------------------------------------------------------------------
def test_a_replay_answers_the_first_result_and_other_content_is_a_409(app, compound):
    client = app.test_client()
    patrol_id = compound["ids"]["A01", "today"]
    headers = _token(app, "leader0")
    payload = _payload(compound)
    with time_machine.travel(NOW, tick=True):
        first = _submit(client, patrol_id, payload, headers)
        assert first.status_code == 200, first.get_data(as_text=True)
        assert first.get_json() == {"patrol_id": patrol_id, "status": "submitted", "score": 100.0,
                                    "failed_critical": False, "late": False, "failed_items": 0, "scans": 0,
                                    "location_outside": None, "follow_ups": []}
        again = _submit(client, patrol_id, payload, headers)
        assert again.status_code == 200 and again.get_json() == first.get_json()
        changed = dict(payload, answers=[dict(a, note="补充说明") for a in payload["answers"]])
        _problem(_submit(client, patrol_id, changed, headers), 409, "conflict")
        # Another UUID for the patrol already in: 409 as well.
        _problem(_submit(client, patrol_id, _payload(compound), headers), 409, "conflict")
        assert _counts(app)[0] == 1
        assert client.get(f"{API}/patrols/{patrol_id}", headers=headers).get_json()["state"] == "done"


def test_photos_come_in_a_multipart_body_and_failed_items_answer_what_they_raised(app, compound):
    client = app.test_client()
    patrol_id = compound["ids"]["A01", "today"]
    headers = _token(app, "leader0")
    payload = _payload(compound, results=("fail", "pass", "fail", "pass"),
                       scans=[{"code": compound["posters"]["A01"], "scanned_at": NOW.isoformat(), "method": "qr"},
                              {"code": "A02-CP1", "scanned_at": NOW.isoformat(), "method": "typed"}],
                       location={"lon": 120.1505, "lat": 30.2795, "accuracy": 8.0})
    payload["answers"][0]["photos"] = ["p0"]
    payload["answers"][0]["note"] = "灭火器压力不足"
    photo = jpeg()

    def send():
        return client.post(_submission_url(patrol_id), headers=headers, content_type="multipart/form-data",
                           data={"payload": json.dumps(payload), "p0": (io.BytesIO(photo), "p0.jpg")})

    with time_machine.travel(NOW, tick=True):
        first = send()
        assert first.status_code == 200, first.get_data(as_text=True)
        body = first.get_json()
        assert body["failed_items"] == 2 and body["scans"] == 2 and body["location_outside"] is False
        assert sorted(f["item_id"] for f in body["follow_ups"]) == [compound["items"][0], compound["items"][2]]
        assert all(f["kind"] == "issue" and f["url"].startswith("/s/TEST/issues/") for f in body["follow_ups"])
        assert send().get_json() == body  # the same photo again: the same submission
        detail = client.get(f"{API}/patrols/{patrol_id}", headers=headers).get_json()
        assert [(s["code"], s["method"], s["flags"]) for s in detail["scans"]] == \
            [("A01-CP1", "qr", []), ("A02-CP1", "typed", ["other_grid"])]
        assert detail["answers"][0] == {"item_id": compound["items"][0], "result": "fail", "note": "灭火器压力不足"}
        assert len(detail["follow_ups"]) == 2
        other_photo = client.post(_submission_url(patrol_id), headers=headers, content_type="multipart/form-data",
                                  data={"payload": json.dumps(payload),
                                        "p0": (io.BytesIO(jpeg((200, 10, 10))), "p0.jpg")})
        _problem(other_photo, 409, "conflict")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PatrolPhoto)) == 1
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CheckpointScan)) == 2


def test_only_the_assignee_submits(app, compound):
    client = app.test_client()
    patrol_id = compound["ids"]["A01", "today"]
    with time_machine.travel(NOW, tick=True):
        for who in ("leader1", "boss"):
            _problem(_submit(client, patrol_id, _payload(compound), _token(app, who)), 403, "not_allowed")
        _problem(_submit(client, patrol_id, _payload(compound), _token(app, "boss_other")), 403, "not_allowed")
    assert _counts(app) == (0, "")


def test_a_browser_session_submits_with_its_csrf_token(app, compound):
    client = app.test_client()
    patrol_id = compound["ids"]["A01", "today"]
    with time_machine.travel(NOW, tick=True):
        helpers.login(client, helpers.Credentials(0, "leader0", helpers.DEFAULT_PASSWORD))
        refused = _submit(client, patrol_id, _payload(compound), {})
        assert _problem(refused, 400, "csrf")["type"] == "urn:gridpatrol:problem:csrf"
        _problem(_submit(client, patrol_id, _payload(compound), {"X-CSRFToken": "stale-garbage"}), 400, "csrf")
        token = client.get("/api/v1/session/csrf-token")
        assert token.headers["Cache-Control"] == "no-store"
        accepted = _submit(client, patrol_id, _payload(compound), {"X-CSRFToken": token.get_json()["token"]})
        assert accepted.status_code == 200 and accepted.get_json()["status"] == "submitted"


def test_the_csrf_token_is_for_a_session_only(app, compound):
    client = app.test_client()
    _problem(client.get("/api/v1/session/csrf-token"), 401, "unauthenticated")
    _problem(client.get("/api/v1/session/csrf-token", headers=_token(app, "leader0")), 403, "session_required")
    assert not helpers.audit_actions(app, "permission.denied"), "not a denial of anything: a token needs none"


class Unreadable(io.RawIOBase):
    """A request body that must never be read."""

    def readable(self):
        return True

    def seekable(self):
        return True

    def seek(self, offset, whence=0):
        return 0

    def readinto(self, buffer):
        raise AssertionError("the body was read")


def test_a_body_over_the_bound_is_refused_before_it_is_read(app, compound):
    from gridpatrol.patrols.services import MAX_SUBMISSION_BYTES

    client = app.test_client()
    patrol_id = compound["ids"]["A01", "today"]
    with time_machine.travel(NOW, tick=True):
        for content_type in ("application/json", "multipart/form-data; boundary=x"):
            response = client.post(_submission_url(patrol_id), headers=_token(app, "leader0"),
                                   input_stream=Unreadable(), content_type=content_type,
                                   environ_overrides={"CONTENT_LENGTH": str(MAX_SUBMISSION_BYTES + 1)})
            _problem(response, 413, "too_large")
        # Up to the bound it is read (here: not JSON).
        small = client.post(_submission_url(patrol_id), headers=_token(app, "leader0"), data=b"x" * 2_000_000,
                            content_type="application/json")
        _problem(small, 400, "malformed_body")
    assert _counts(app) == (0, "")


@pytest.mark.parametrize("content_type", ["application/json", "multipart/form-data; boundary=x"])
def test_a_chunked_body_is_counted_as_it_streams(app, compound, monkeypatch, content_type):
    """Without a Content-Length the bound is applied while reading (here lowered to 4 KB for the test)."""
    from gridpatrol.api import patrols as api_patrols

    monkeypatch.setattr(api_patrols.Submission.post, "max_body_bytes", 4096)
    client = app.test_client()
    patrol_id = compound["ids"]["A01", "today"]
    body = json.dumps(_payload(compound, completed_at=NOW.isoformat() + " " * 10_000)).encode()
    if content_type.startswith("multipart"):
        body = (b'--x\r\nContent-Disposition: form-data; name="payload"\r\n\r\n' + body + b"\r\n--x--\r\n")
    with time_machine.travel(NOW, tick=True):
        response = client.post(_submission_url(patrol_id), headers=_token(app, "leader0"),
                               input_stream=io.BytesIO(body), content_type=content_type,
                               environ_overrides={"wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"})
        _problem(response, 413, "too_large")
    assert _counts(app) == (0, "")


def _bad_bodies(compound) -> list[tuple[str, bytes | str, int, str]]:
    good = _payload(compound)

    def changed(**fields):
        return json.dumps({**good, **fields})

    answer = good["answers"][0]
    return [
        ("not json", "{nope", 400, "malformed_body"),
        ("a list", "[1, 2]", 400, "malformed_body"),
        ("a string", '"text"', 400, "malformed_body"),
        ("not utf-8", b'{"client_uuid": "\xff\xfe"}', 400, "malformed_body"),
        ("nested too deep", "[" * 200_000 + "]" * 200_000, 400, "malformed_body"),
        ("a 5000-digit number", '{"client_uuid": ' + "9" * 5000 + "}", 400, "malformed_body"),
        ("empty object", "{}", 422, "invalid_request"),
        ("unknown field", changed(extra=1), 422, "invalid_request"),
        ("unknown answer field", changed(answers=[{**answer, "score": 5}] + good["answers"][1:]), 422,
         "invalid_request"),
        ("NUL in a note", changed(answers=[{**answer, "note": "a\u0000b"}] + good["answers"][1:]), 422,
         "invalid_request"),
        ("NUL in the uuid", changed(client_uuid="1234\u00005678"), 422, "invalid_request"),
        ("huge item id", changed(answers=[{**answer, "item_id": 10**30}] + good["answers"][1:]), 422,
         "invalid_request"),
        ("item id as text", changed(answers=[{**answer, "item_id": "1"}] + good["answers"][1:]), 422,
         "invalid_request"),
        ("infinite longitude", json.dumps(good)[:-1] + ', "location": {"lon": 1e400, "lat": 30}}'.replace(
            ', "location": null', ""), 422, "invalid_request"),
        ("NaN", changed(location={"lon": float("nan"), "lat": 30}), 422, "invalid_request"),
        ("unknown result", changed(answers=[{**answer, "result": "maybe"}] + good["answers"][1:]), 422,
         "invalid_request"),
        ("year 1 in Shanghai", changed(completed_at="0001-01-01T00:00:00+08:00"), 422, "refused"),
        ("not a time", changed(completed_at="yesterday"), 422, "refused"),
        ("a missing answer", changed(answers=good["answers"][:-1]), 422, "refused"),
        ("another checklist's item", changed(answers=[{**answer, "item_id": 2**31 - 1}] + good["answers"][1:]), 422,
         "refused"),
    ]


def test_bad_bodies_are_4xx_and_save_nothing(app, compound):
    client = app.test_client()
    patrol_id = compound["ids"]["A01", "today"]
    headers = _token(app, "leader0")
    with time_machine.travel(NOW, tick=True):
        for name, body, status, code in _bad_bodies(compound):
            response = client.post(_submission_url(patrol_id), data=body, headers=headers,
                                   content_type="application/json")
            assert response.status_code == status, (name, response.get_data(as_text=True)[:300])
            assert response.get_json()["code"] == code, name
        multipart = [({"payload": "{nope"}, 400, "malformed_body"), ({"note": "x"}, 422, "invalid_request"),
                     ({"payload": json.dumps(_payload(compound)), "stray": (io.BytesIO(jpeg()), "s.jpg")}, 422,
                      "refused"),
                     ({"payload": json.dumps(dict(_payload(compound, results=("fail", "pass", "pass", "pass"))))},
                      422, "refused")]  # a failed item 1 needs its photo
        for data, status, code in multipart:
            response = client.post(_submission_url(patrol_id), data=data, headers=headers,
                                   content_type="multipart/form-data")
            _problem(response, status, code)
        _problem(client.post(_submission_url(patrol_id), data="client_uuid=x", headers=headers,
                             content_type="application/x-www-form-urlencoded"), 415, "unsupported_media_type")
    assert _counts(app) == (0, "")


def test_a_patrol_whose_window_closed_is_refused(app, compound):
    client = app.test_client()
    yesterday = compound["ids"]["A01", "yesterday"]
    with time_machine.travel(NOW, tick=True):
        _problem(_submit(client, yesterday, _payload(compound), _token(app, "leader0")), 409, "conflict")
    assert _counts(app) == (0, "")


# --- checkpoints -----------------------------------------------------------------------------------------------
def test_the_checkpoint_lookups_are_the_assignees(app, compound):
    client = app.test_client()
    patrol_id = compound["ids"]["A01", "today"]
    leader0 = _token(app, "leader0")
    with time_machine.travel(NOW, tick=True):
        table = client.get(f"{API}/patrols/{patrol_id}/checkpoints", headers=leader0).get_json()
        assert table["patrol_id"] == patrol_id and table["grid"] == "A01"
        assert [c["code"] for c in table["checkpoints"]] == ["A01-CP1"]
        assert compound["posters"]["A01"] not in json.dumps(table), "the digest, never the signed text"
        url = f"{API}/patrols/{patrol_id}/checkpoint"
        scanned = client.get(url, query_string={"code": compound["posters"]["A01"]}, headers=leader0).get_json()
        assert scanned == {"code": "A01-CP1", "name": "A01 东门巡更点", "grid": "A01", "other_grid": False}
        assert client.get(url, query_string={"code": "A02-CP1"}, headers=leader0).get_json()["other_grid"] is True
        _problem(client.get(url, query_string={"code": "NO-SUCH"}, headers=leader0), 422, "refused")
        forged = compound["posters"]["A01"][:-2] + ("AA" if not compound["posters"]["A01"].endswith("AA") else "BB")
        _problem(client.get(url, query_string={"code": forged}, headers=leader0), 422, "refused")
        _problem(client.get(url, headers=leader0), 422, "invalid_request")
        for who in ("leader1", "boss"):
            _problem(client.get(url, query_string={"code": "A01-CP1"}, headers=_token(app, who)), 403,
                     "not_allowed")
            _problem(client.get(f"{API}/patrols/{patrol_id}/checkpoints", headers=_token(app, who)), 403,
                     "not_allowed")


# --- what they replace ----------------------------------------------------------------------------------------
def test_the_page_era_json_endpoints_are_gone(app, compound):
    client = app.test_client()
    patrol_id = compound["ids"]["A01", "today"]
    with time_machine.travel(NOW, tick=True):
        helpers.login(client, helpers.Credentials(0, "leader0", helpers.DEFAULT_PASSWORD))
        assert client.get("/api/csrf-token").status_code == 404
        assert client.get(f"/s/TEST/api/patrols/{patrol_id}/checkpoints").status_code == 404
        assert client.get(f"/s/TEST/api/patrols/{patrol_id}/checkpoint?code=A01-CP1").status_code == 404
        assert client.get("/api/sites/TEST/locate?lon=120.15&lat=30.28").status_code == 404
        token = helpers.csrf_token(client, f"/s/TEST/patrols/{patrol_id}")
        assert client.post(f"/s/TEST/patrols/{patrol_id}/start", headers={"X-CSRFToken": token}).status_code == 404
        # A script's payload on the form's address (a tablet still running the scripts of before) is sent on to
        # the API with its method and body; nothing is applied here.
        moved = client.post(f"/s/TEST/patrols/{patrol_id}/submit", data=json.dumps(_payload(compound)),
                            content_type="application/json", headers={"X-CSRFToken": token})
        assert moved.status_code == 308 and moved.headers["Location"].endswith(_submission_url(patrol_id))
        assert _counts(app) == (0, "")
        payload = {"payload": json.dumps(_payload(compound))}
        moved = client.post(f"/s/TEST/patrols/{patrol_id}/submit", data=payload, headers={"X-CSRFToken": token})
        assert moved.status_code == 308 and moved.headers["Location"].endswith(_submission_url(patrol_id))
        assert _counts(app) == (0, "")
        followed = client.post(moved.headers["Location"], data=payload, headers={"X-CSRFToken": token},
                               content_type="multipart/form-data")
        assert followed.status_code == 200 and followed.get_json()["status"] == "submitted"
    assert _counts(app)[0] == 1


def test_the_form_page_points_its_script_at_the_api(app, compound):
    client = app.test_client()
    patrol_id = compound["ids"]["A01", "today"]
    with time_machine.travel(NOW, tick=True):
        helpers.login(client, helpers.Credentials(0, "leader0", helpers.DEFAULT_PASSWORD))
        html = client.get(f"/s/TEST/patrols/{patrol_id}").get_data(as_text=True)
    assert f'data-submit-url="{_submission_url(patrol_id)}"' in html
    assert f'data-start-url="{API}/patrols/{patrol_id}/start"' in html
    assert f'data-checkpoint-url="{API}/patrols/{patrol_id}/checkpoint"' in html
    assert 'data-csrf-url="/api/v1/session/csrf-token"' in html
    assert f'action="/s/TEST/patrols/{patrol_id}/submit"' in html  # the plain form, without script
