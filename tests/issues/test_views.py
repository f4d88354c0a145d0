"""Issue pages over HTTP: visibility per role, transitions, stale pages, quick report, CSV, time limits."""

import csv
import io

import pytest
import sqlalchemy as sa

from gridpatrol.audit import services as audit
from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.issues.models import Issue
from tests import helpers
from tests.issues import builders
from tests.issues.builders import jpeg


@pytest.fixture
def world(app):
    builders.world(app)


def client_for(app, username):
    client = app.test_client()
    assert helpers.login(client, helpers.Credentials(0, username, helpers.DEFAULT_PASSWORD)).status_code == 302
    return client


def _ids_in_queue(client, query=""):
    html = client.get("/s/TEST/issues" + query).get_data(as_text=True)
    return sorted(int(i) for i in __import__("re").findall(r'href="/s/TEST/issues/(\d+)"', html))


def test_queue_shows_each_role_only_what_it_may_see(app, world):
    in_a01 = builders.file_report(app, "clerk")  # grid A01: leader0
    in_a02 = builders.file_report(app, "clerk2", lon=120.1515, lat=30.2795)  # grid A02: leader1
    builders.advance(app, in_a02, "dispatched")  # to the maintenance crew (fixer, fixer2)
    assert _ids_in_queue(client_for(app, "boss")) == [in_a01, in_a02]
    assert _ids_in_queue(client_for(app, "clerk")) == [in_a01]  # a staff member sees only their own reports
    assert _ids_in_queue(client_for(app, "leader0")) == [in_a01]
    assert _ids_in_queue(client_for(app, "leader1")) == [in_a02]
    assert _ids_in_queue(client_for(app, "fixer")) == [in_a02]
    assert _ids_in_queue(client_for(app, "outsider")) == []


def test_issue_page_refuses_others_and_audits(app, world):
    issue_id = builders.file_report(app, "clerk")
    assert client_for(app, "clerk2").get(f"/s/TEST/issues/{issue_id}").status_code == 403
    assert client_for(app, "leader1").get(f"/s/TEST/issues/{issue_id}").status_code == 403
    denied = {e.actor_name for e in helpers.audit_actions(app, audit.PERMISSION_DENIED)}
    assert denied == {"clerk2", "leader1"}
    page = client_for(app, "clerk").get(f"/s/TEST/issues/{issue_id}").get_data(as_text=True)
    assert "三楼卫生间水龙头漏水" in page and "/s/TEST/issues/photos/" in page


def test_photos_follow_issue_visibility(app, world):
    issue_id = builders.file_report(app, "clerk")
    with app.app_context():
        photo_id = db.session.get(Issue, issue_id).photos[0].id
    assert client_for(app, "clerk").get(f"/s/TEST/issues/photos/{photo_id}").status_code == 200
    assert client_for(app, "clerk2").get(f"/s/TEST/issues/photos/{photo_id}").status_code == 403


def _act(client, issue_id, action, data=None, **kwargs):
    return helpers.post_form(client, f"/s/TEST/issues/{issue_id}/{action}", data or {}, token_from=f"/s/TEST/issues/{issue_id}",
                             **kwargs)


def _version(app, issue_id):
    with app.app_context():
        return str(db.session.get(Issue, issue_id).version)


def test_dispatch_over_http_and_stale_page(app, world):
    issue_id = builders.file_report(app)
    boss, boss2 = client_for(app, "boss"), client_for(app, "boss2")
    stale = _version(app, issue_id)
    with app.app_context():
        team_id = str(db.session.scalar(sa.text("SELECT id FROM teams")))
    response = _act(boss, issue_id, "dispatch", {"version": stale, "team_id": team_id, "assignee_id": "0",
                                                 "severity": "major", "note": ""})
    assert response.status_code == 302
    response = _act(boss2, issue_id, "redispatch", {"version": stale, "team_id": team_id, "assignee_id": "0",
                                                    "severity": "minor", "note": ""})
    assert response.status_code == 409  # boss2's page was stale
    with app.app_context():
        issue = db.session.get(Issue, issue_id)
        assert issue.state == "dispatched" and issue.severity == "major" and len(issue.events) == 2


def test_rectifier_cannot_dispatch_and_it_is_audited(app, world):
    issue_id = builders.file_report(app)
    builders.advance(app, issue_id, "dispatched")
    fixer = client_for(app, "fixer")
    response = _act(fixer, issue_id, "redispatch", {"version": _version(app, issue_id), "team_id": "0",
                                                    "assignee_id": "0", "severity": "minor"})
    assert response.status_code == 403
    assert helpers.audit_actions(app, audit.PERMISSION_DENIED)[-1].actor_name == "fixer"


def test_fix_needs_a_photo_and_a_note(app, world):
    issue_id = builders.file_report(app)
    builders.advance(app, issue_id, "in_progress")
    fixer = client_for(app, "fixer")
    response = _act(fixer, issue_id, "report_fix", {"version": _version(app, issue_id), "note": "修好了"},
                    content_type="multipart/form-data")
    assert response.status_code == 422
    response = _act(fixer, issue_id, "report_fix", {"version": _version(app, issue_id), "note": "修好了",
                                                    "photos": [(io.BytesIO(jpeg()), "after.jpg")]},
                    content_type="multipart/form-data")
    assert response.status_code == 302
    with app.app_context():
        issue = db.session.get(Issue, issue_id)
        assert issue.state == "awaiting_verification" and [p.kind for p in issue.photos] == ["before", "after"]
    # the one who reported the fix sees no verify buttons and is refused if they try
    assert "verify_pass" not in client_for(app, "fixer").get(f"/s/TEST/issues/{issue_id}").get_data(as_text=True)
    assert _act(client_for(app, "fixer"), issue_id, "verify_pass", {"version": _version(app, issue_id)}).status_code == 403
    assert _act(client_for(app, "leader0"), issue_id, "verify_pass", {"version": _version(app, issue_id)}).status_code == 302


def test_quick_report_offers_duplicates_before_filing(app, world):
    first = builders.file_report(app)
    clerk2 = client_for(app, "clerk2")
    form = {"lon": "120.15051", "lat": "30.27951", "level": "0", "category": "water_power", "severity": "minor",
            "description": "水龙头漏水"}
    response = helpers.post_form(clerk2, "/s/TEST/report", dict(form, photos=[(io.BytesIO(jpeg()), "p.jpg")]),
                                 content_type="multipart/form-data")
    assert response.status_code == 200 and f'href="/s/TEST/issues/{first}"' in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Issue)) == 1
    response = helpers.post_form(clerk2, "/s/TEST/report", dict(form, file_anyway="y", photos=[(io.BytesIO(jpeg()), "p.jpg")]),
                                 content_type="multipart/form-data")
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Issue)) == 2


def test_quick_report_without_a_point_or_photo_is_refused(app, world):
    clerk = client_for(app, "clerk")
    response = helpers.post_form(clerk, "/s/TEST/report", {"category": "water_power", "description": "x", "level": "0"})
    assert response.status_code == 422
    response = helpers.post_form(clerk, "/s/TEST/report", {"lon": "120.1505", "lat": "30.2795", "level": "0",
                                                    "category": "water_power", "description": "x"})
    assert response.status_code == 422
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Issue)) == 0


def test_csv_export_of_the_filtered_queue_follows_visibility(app, world):
    builders.file_report(app, "clerk")
    builders.file_report(app, "clerk2", lon=120.1515, lat=30.2795)
    rows = list(csv.reader(io.StringIO(client_for(app, "boss").get("/s/TEST/issues/export.csv").get_data(as_text=True)
                                        .lstrip("\ufeff"))))
    # Headers and values in the reader's language (Chinese by default), never codes.
    assert rows[0][:6] == ["编号", "状态", "逾期", "等级", "类别", "网格"] and len(rows) == 3
    assert {row[1] for row in rows[1:]} <= {"待受理", "已派单", "整改中", "待复核", "已结案", "不予受理"}
    assert not {row[3] for row in rows[1:]} & {"minor", "major", "critical"}
    mine = list(csv.reader(io.StringIO(client_for(app, "clerk").get("/s/TEST/issues/export.csv").get_data(as_text=True)
                                        .lstrip("\ufeff"))))
    assert len(mine) == 2 and mine[1][8] == "Clerk"  # the reporter's name, not the login
    filtered = client_for(app, "boss").get("/s/TEST/issues/export.csv?grid=999999").get_data(as_text=True)
    assert len(list(csv.reader(io.StringIO(filtered.lstrip("\ufeff"))))) == 1


def test_my_work_is_for_rectifiers(app, world):
    issue_id = builders.file_report(app)
    builders.advance(app, issue_id, "dispatched")
    assert f'href="/s/TEST/issues/{issue_id}"' in client_for(app, "fixer").get("/s/TEST/issues/mine").get_data(as_text=True)
    assert client_for(app, "clerk").get("/s/TEST/issues/mine").status_code == 403


def test_time_limit_table(app, world):
    boss = client_for(app, "boss")
    response = helpers.post_form(boss, "/s/TEST/admin/time-limits", {"amount-fire_safety-critical": "2",
                                                             "unit-fire_safety-critical": "hours"})
    assert response.status_code == 302
    assert 'value="2"' in boss.get("/s/TEST/admin/time-limits").get_data(as_text=True)
    bad = helpers.post_form(boss, "/s/TEST/admin/time-limits", {"amount-fire_safety-critical": "0",
                                                        "unit-fire_safety-critical": "hours"})
    assert bad.status_code == 422
    assert client_for(app, "clerk").get("/s/TEST/admin/time-limits").status_code == 403


def test_metrics_page_for_supervisors(app, world):
    issue_id = builders.file_report(app, when="2026-11-18 09:00")
    builders.advance(app, issue_id, "closed", when="2026-11-18 10:00")
    html = client_for(app, "boss").get("/s/TEST/issues/metrics?month=2026-11&group=grid").get_data(as_text=True)
    assert "100.00%" in html  # one due (deadline in November), closed on time
    assert client_for(app, "boss").get("/s/TEST/issues/metrics?month=bad").status_code == 422
    assert client_for(app, "clerk").get("/s/TEST/issues/metrics").status_code == 403


def test_queue_page_labels_rows_in_the_viewers_language(app, world):
    issue_id = builders.file_report(app, "clerk")
    builders.advance(app, issue_id, "dispatched")
    with app.app_context(), job_transaction() as session:
        session.execute(sa.update(Issue).where(Issue.id == issue_id).values(
            deadline=builders.at("2026-01-05 17:30")))  # long past: overdue
    page = client_for(app, "boss").get("/s/TEST/issues").get_data(as_text=True)
    row = page[page.index(f'href="/s/TEST/issues/{issue_id}"'):]
    row = row[:row.index("</tr>")]
    assert "已派单" in row and "逾期" in row and "一般" in row and "水电" in row and "A01" in row
    assert "2026-01-05 17:30" in row  # the deadline in the site's time zone
    assert '<option value="in_progress" selected>整改中</option>' in page  # the state filter, translated too


def _bulk_form(page: str) -> tuple[str, list[str]]:
    """The CSRF token and the team options of the queue's bulk-dispatch form, as the browser sees them."""
    import re
    form = page[page.index('action="/s/TEST/issues/bulk-dispatch"'):]
    form = form[:form.index("</form>")]
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    return token, re.findall(r'<option value="(\d+)">', form[form.index('name="team_id"'):])


def test_bulk_dispatch_from_the_queue(app, world):
    first, second = builders.file_report(app, "clerk"), builders.file_report(app, "clerk2")
    boss = client_for(app, "boss")
    token, teams = _bulk_form(boss.get("/s/TEST/issues").get_data(as_text=True))
    assert len(teams) == 1
    response = boss.post("/s/TEST/issues/bulk-dispatch", data={"csrf_token": token, "team_id": teams[0],
                                                       "issue": [str(first), str(second)]})
    assert response.status_code == 302
    with app.app_context():
        rows = db.session.execute(sa.select(Issue.state, Issue.team_id, Issue.deadline)
                                  .where(Issue.id.in_([first, second]))).all()
    assert [(state, str(team)) for state, team, _ in rows] == [("dispatched", teams[0])] * 2
    assert all(deadline is not None for _, _, deadline in rows)


def test_bulk_dispatch_refusals_change_nothing(app, world):
    issue_id = builders.file_report(app, "clerk")
    boss = client_for(app, "boss")
    token, teams = _bulk_form(boss.get("/s/TEST/issues").get_data(as_text=True))
    for data in ({"csrf_token": token, "team_id": teams[0]},  # no issue chosen
                 {"csrf_token": token, "team_id": "999", "issue": str(issue_id)}):  # not a team on offer
        response = boss.post("/s/TEST/issues/bulk-dispatch", data=data)
        assert response.status_code == 302
        assert "请选择问题和班组。" in boss.get(response.location).get_data(as_text=True)  # the flash, in Chinese
    forged = boss.post("/s/TEST/issues/bulk-dispatch", data={"csrf_token": "forged", "team_id": teams[0],
                                                     "issue": str(issue_id)})
    assert forged.status_code == 400
    fixer = client_for(app, "fixer")  # a rectifier may not dispatch, even with a good token
    assert fixer.post("/s/TEST/issues/bulk-dispatch", data={"csrf_token": helpers.csrf_token(fixer, "/s/TEST/issues"),
                                                     "team_id": teams[0], "issue": str(issue_id)}).status_code == 403
    with app.app_context():
        assert db.session.get(Issue, issue_id).state == "reported"
