"""Photos and bodies on the issue pages: the quick report (随手拍) and the rectification step say how many photos
and how many bytes they take (ISSUE_MAX_PHOTOS, ISSUE_MAX_PHOTOS_BYTES), refuse more with the form again and
nothing saved — the quick report also when possible duplicates are offered —, and read nothing of a large body
before the login and the user's right to the issue and the action are checked."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from gridpatrol.core.categories import Category
from gridpatrol.extensions import db
from gridpatrol.issues.models import Issue, IssuePhoto, TimeLimit
from tests import helpers
from tests.core.test_bodies import post_unread
from tests.issues import builders
from tests.issues.builders import jpeg

MB = 1024 * 1024
HINT = "照片最多 8 张，每张不超过 12 MB，合计不超过 24 MB。"
FORM = {"lon": "120.15051", "lat": "30.27951", "level": "0", "category": "water_power", "severity": "minor",
        "description": "水龙头漏水"}


@pytest.fixture
def world(app):
    builders.world(app)


def client_for(app, username):
    client = app.test_client()
    assert helpers.login(client, helpers.Credentials(0, username, helpers.DEFAULT_PASSWORD)).status_code == 302
    return client


def photos(n: int, *, bad: int = 0, padding: int = 0) -> list:
    """n photos (distinct JPEGs, each `padding` bytes longer), the last `bad` of them not images."""
    return [(io.BytesIO(b"not an image" if i >= n - bad else jpeg((i, 9, 9)) + b"\0" * padding), f"p{i}.jpg")
            for i in range(n)]


def _report(client, **fields):
    return helpers.post_form(client, "/s/TEST/report", {**FORM, **fields}, content_type="multipart/form-data")


def counts(app) -> tuple[int, int]:
    with app.app_context():
        return (db.session.scalar(sa.select(sa.func.count()).select_from(Issue)),
                db.session.scalar(sa.select(sa.func.count()).select_from(IssuePhoto)))


def test_the_forms_say_the_photo_limits(app, world):
    assert HINT in client_for(app, "clerk").get("/s/TEST/report").get_data(as_text=True)
    issue_id = builders.file_report(app)
    builders.advance(app, issue_id, "in_progress")
    page = client_for(app, "fixer").get(f"/s/TEST/issues/{issue_id}").get_data(as_text=True)
    assert "action-report_fix" in page and HINT in page


def test_a_quick_report_over_the_photo_limits_saves_nothing(app, world):
    clerk = client_for(app, "clerk")
    response = _report(clerk, photos=photos(9))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "一次最多上传 8 张照片，本次有 9 张。" in html and "水龙头漏水" in html  # the form again, as typed
    assert counts(app) == (0, 0)
    assert _report(clerk, photos=photos(8)).status_code == 302
    assert counts(app) == (1, 8)


def test_the_total_is_a_setting(database_url):
    from gridpatrol import create_app

    app = create_app({"DATABASE_URL": database_url, "ISSUE_MAX_PHOTOS_BYTES": 30_000})
    try:
        builders.world(app)
        clerk = client_for(app, "clerk")
        assert "合计不超过 29 KB" in clerk.get("/s/TEST/report").get_data(as_text=True)
        response = _report(clerk, photos=photos(2, padding=20_000))
        assert response.status_code == 422 and "照片合计不得超过 29 KB" in response.get_data(as_text=True)
        assert counts(app) == (0, 0)
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_a_refused_quick_report_saves_nothing_when_duplicates_are_offered(app, world):
    """A report next to an open one of the same grid and category is offered the duplicates first. A photo that
    would be refused is said then (422), and refused again when the reporter files anyway: the form again with the
    reason and the duplicates, and no issue, no photo saved. With good photos it is filed."""
    first = builders.file_report(app)
    before = counts(app)
    clerk2 = client_for(app, "clerk2")
    for fields in ({"photos": photos(2, bad=1)}, {"file_anyway": "y", "photos": photos(2, bad=1)},
                   {"file_anyway": "y", "photos": photos(9)}):
        response = _report(clerk2, **fields)
        html = response.get_data(as_text=True)
        assert response.status_code == 422, fields
        assert "不是可读取的图片" in html or "一次最多上传 8 张照片" in html
        assert f'href="/s/TEST/issues/{first}"' in html and "水龙头漏水" in html
        assert counts(app) == before, fields
    offered = _report(clerk2, photos=photos(1))
    assert offered.status_code == 200 and f'href="/s/TEST/issues/{first}"' in offered.get_data(as_text=True)
    assert counts(app) == before
    assert _report(clerk2, file_anyway="y", photos=photos(1)).status_code == 302
    assert counts(app) == (before[0] + 1, before[1] + 1)


def test_a_rectification_step_over_the_photo_limits_changes_nothing(app, world):
    issue_id = builders.file_report(app)
    builders.advance(app, issue_id, "in_progress")
    fixer = client_for(app, "fixer")
    path = f"/s/TEST/issues/{issue_id}/report_fix"
    with app.app_context():
        version = db.session.get(Issue, issue_id).version
    for files, refusal in ((photos(9), "一次最多上传 8 张照片"), (photos(2, bad=1), "不是可读取的图片")):
        response = helpers.post_form(fixer, path, {"version": str(version), "note": "已更换阀芯", "photos": files},
                                     token_from=f"/s/TEST/issues/{issue_id}", content_type="multipart/form-data")
        assert response.status_code == 422 and refusal in response.get_data(as_text=True)
        with app.app_context():
            issue = db.session.get(Issue, issue_id)
            assert (issue.state, issue.version, issue.fixed_at) == ("in_progress", version, None)
            assert not [p for p in issue.photos if p.kind == "after"]
    done = helpers.post_form(fixer, path, {"version": str(version), "note": "已更换阀芯", "photos": photos(8)},
                             token_from=f"/s/TEST/issues/{issue_id}", content_type="multipart/form-data")
    assert done.status_code == 302


def test_a_large_upload_is_read_only_for_whom_may_act(app, world):
    """The issue's actions: the reporter sees the issue but may not report it fixed, a rectifier of another team
    may not see it: 403 before a byte of their 20 MB is read; an anonymous caller goes to the login page. The
    rectifier working on it is bounded (24 MiB of photos and the form's 64 KiB): more is a 413, unread. The quick
    report reads nothing for an anonymous caller either."""
    issue_id = builders.file_report(app)
    builders.advance(app, issue_id, "in_progress")
    path = f"/s/TEST/issues/{issue_id}/report_fix"
    for username in ("clerk", "outsider", "leader0", "leader1"):
        assert post_unread(client_for(app, username), path, declared=20 * MB).status_code == 403, username
        assert post_unread(client_for(app, username), path, declared=None).status_code == 403, username
    for target in (path, "/s/TEST/report"):
        anonymous = post_unread(app.test_client(), target, declared=20 * MB)
        assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert post_unread(client_for(app, "fixer"), path, declared=25 * MB).status_code == 413
    assert post_unread(client_for(app, "clerk"), "/s/TEST/report", declared=25 * MB).status_code == 413
    with app.app_context():
        issue = db.session.get(Issue, issue_id)
        assert issue.state == "in_progress" and not [p for p in issue.photos if p.kind == "after"]


def test_a_refused_time_limit_table_saves_none_of_its_cells(app, world):
    """The table is saved cell by cell; a refused cell after saved ones rolls them all back (422)."""
    first, last = list(Category)[0].value, list(Category)[-1].value
    response = helpers.post_form(client_for(app, "boss"), "/s/TEST/admin/time-limits", {
        f"amount-{first}-minor": "5", f"unit-{first}-minor": "days",
        f"amount-{last}-critical": "0", f"unit-{last}-critical": "hours"})
    assert response.status_code == 422
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(TimeLimit)) == 0
