"""Photo storage: the directory and the database backends behind one interface, `gridpatrol photos migrate|check`,
and a store that cannot write refusing the request whole (a 503 that says so; nothing of the patrol or report
saved; the retry succeeds once the store is back)."""

from __future__ import annotations

import io
import json

import pytest
import sqlalchemy as sa
import time_machine
from click.testing import CliRunner

from gridpatrol.core import photo_store
from gridpatrol.core.photo_store import PhotoBlob
from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.issues.models import Issue, IssuePhoto
from gridpatrol.patrols.models import Patrol, PatrolPhoto, Submission
from tests import helpers
from tests.api.test_patrols import NOW, _payload, _submission_url, _token, compound  # noqa: F401 (fixture)
from tests.issues import builders
from tests.issues.builders import jpeg


@pytest.fixture
def photos_in(app, tmp_path):
    """Set the app's photo store: photos_in("database") or photos_in("directory"); the directory is this test's."""
    def choose(backend: str, directory=None):
        app.config["PHOTO_STORAGE"] = backend
        app.config["PHOTO_DIR"] = str(directory or tmp_path / "photos")
    choose("directory")
    return choose


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _files(tmp_path) -> list:
    return sorted(p.name for p in (tmp_path / "photos").rglob("*") if p.is_file())


def _client(app, username):
    client = app.test_client()
    assert helpers.login(client, helpers.Credentials(0, username, helpers.DEFAULT_PASSWORD)).status_code == 302
    return client


def test_the_database_store_keeps_a_reports_photo_in_the_transaction_and_serves_it(app, tmp_path, photos_in):
    builders.world(app)
    photos_in("database")
    issue_id = builders.file_report(app, "clerk")
    with app.app_context():
        photo = db.session.get(Issue, issue_id).photos[0]
        photo_id, sha = photo.id, photo.sha256
    assert _files(tmp_path) == []
    assert _count(app, PhotoBlob) == 1
    answer = _client(app, "clerk").get(f"/s/TEST/issues/photos/{photo_id}")
    assert answer.status_code == 200 and answer.mimetype == "image/jpeg"
    assert photo_store.sha256_of(answer.data) == sha
    assert _client(app, "clerk2").get(f"/s/TEST/issues/photos/{photo_id}").status_code == 403


def test_a_rolled_back_transaction_leaves_no_photo_in_the_database(app, photos_in):
    builders.world(app)
    photos_in("database")
    from gridpatrol.grids.models import Site
    from gridpatrol.issues import services

    with app.app_context(), pytest.raises(RuntimeError):
        with job_transaction() as session:
            services.report(session, builders.user(session, "clerk"), session.scalar(sa.select(Site)),
                            lon=120.1505, lat=30.2795, level=0, category="water_power", description="漏水",
                            photos={"p1": jpeg((1, 2, 3))}, now=builders.at("2026-11-18 09:00"))
            raise RuntimeError("the request failed after the photo was stored")
    assert _count(app, PhotoBlob) == 0 and _count(app, Issue) == 0


@pytest.mark.parametrize("backend", ["directory", "database"])
def test_a_patrols_photos_go_to_the_configured_store(app, compound, tmp_path, photos_in, backend):  # noqa: F811
    photos_in(backend)
    patrol_id = compound["ids"]["A01", "today"]
    payload = _payload(compound, results=("fail", "pass", "pass", "pass"))
    payload["answers"][0]["photos"] = ["p0"]
    payload["answers"][0]["note"] = "灭火器压力不足"
    client = app.test_client()
    with time_machine.travel(NOW, tick=True):
        answer = client.post(_submission_url(patrol_id), headers=_token(app, "leader0"),
                             content_type="multipart/form-data",
                             data={"payload": json.dumps(payload), "p0": (io.BytesIO(jpeg((9, 9, 9))), "p0.jpg")})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    with app.app_context():
        sha = db.session.scalar(sa.select(PatrolPhoto.sha256))
    assert (sha in _files(tmp_path)) == (backend == "directory")
    assert _count(app, PhotoBlob) == (1 if backend == "database" else 0)


def test_a_store_that_cannot_write_refuses_the_submission_whole_and_the_retry_succeeds(app, compound, tmp_path,  # noqa: F811
                                                                                    photos_in):
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the photo directory should be: every write fails, as on a full disk")
    photos_in("directory", blocked)
    patrol_id = compound["ids"]["A01", "today"]
    payload = _payload(compound, results=("fail", "pass", "pass", "pass"))
    payload["answers"][0]["photos"] = ["p0"]
    payload["answers"][0]["note"] = "灭火器压力不足"
    client = app.test_client()

    def send():
        return client.post(_submission_url(patrol_id), headers=_token(app, "leader0"),
                           content_type="multipart/form-data",
                           data={"payload": json.dumps(payload), "p0": (io.BytesIO(jpeg((8, 8, 8))), "p0.jpg")})

    with time_machine.travel(NOW, tick=True):
        refused = send()
        assert refused.status_code == 503 and refused.mimetype == "application/problem+json"
        assert refused.get_json()["code"] == "storage_unavailable" and refused.get_json()["detail"]
        with app.app_context():
            assert db.session.get(Patrol, patrol_id).status != "submitted"
        assert _count(app, Submission) == 0 and _count(app, PatrolPhoto) == 0 and _count(app, Issue) == 0

        photos_in("directory")  # the disk has room again: the tablet's retry of the same submission goes through
        assert send().status_code == 200
    assert _count(app, Submission) == 1 and _count(app, PatrolPhoto) == 1


def test_a_quick_report_refused_by_the_store_says_so_and_saves_nothing(app, tmp_path, photos_in):
    builders.world(app)
    blocked = tmp_path / "blocked"
    blocked.write_text("not a directory")
    photos_in("directory", blocked)
    clerk = _client(app, "clerk")
    form = {"lon": "120.1505", "lat": "30.2795", "level": "0", "category": "water_power", "severity": "minor",
            "description": "水龙头漏水", "photos": [(io.BytesIO(jpeg()), "p.jpg")]}
    answer = helpers.post_form(clerk, "/s/TEST/report", form, content_type="multipart/form-data")
    assert answer.status_code == 503
    assert "照片无法保存" in answer.get_data(as_text=True)
    assert _count(app, Issue) == 0 and _count(app, IssuePhoto) == 0


def _cli(app, tmp_path, storage: str, *args: str):
    env = {"GRIDPATROL_DATABASE_URL": app.config["DATABASE_URL"], "GRIDPATROL_PHOTO_STORAGE": storage,
           "GRIDPATROL_PHOTO_DIR": str(tmp_path / "photos")}
    from gridpatrol.cli import main

    return CliRunner().invoke(main, ["photos", *args], env=env)


def test_photos_migrate_both_ways_and_check(app, tmp_path, photos_in):
    builders.world(app)
    builders.file_report(app, "clerk")
    builders.file_report(app, "clerk2", lon=120.1515, lat=30.2795, description="灯不亮")  # the same photo
    with app.app_context():
        sha = db.session.scalar(sa.select(IssuePhoto.sha256))
    assert _files(tmp_path) == [sha]

    missing = _cli(app, tmp_path, "database", "check")
    assert missing.exit_code == 1 and "issue_photos: 1 photos missing from the database store" in missing.output

    moved = _cli(app, tmp_path, "directory", "migrate", "--to", "database")
    assert moved.exit_code == 0, moved.output
    assert "1 photos copied from the directory store to the database store, 0 already there" in moved.output
    assert 'set PHOTO_STORAGE = "database"' in moved.output
    again = _cli(app, tmp_path, "directory", "migrate", "--to", "database")
    assert "0 photos copied" in again.output and "1 already there" in again.output
    assert _cli(app, tmp_path, "database", "check").exit_code == 0

    (tmp_path / "photos" / sha[:2] / sha).unlink()  # the directory lost it: copy it back from the database
    back = _cli(app, tmp_path, "database", "migrate", "--to", "directory")
    assert back.exit_code == 0 and "1 photos copied from the database store to the directory store" in back.output
    assert _files(tmp_path) == [sha]
    assert _cli(app, tmp_path, "directory", "check").exit_code == 0


def test_a_damaged_photo_is_not_migrated(app, tmp_path, photos_in):
    builders.world(app)
    builders.file_report(app, "clerk")
    with app.app_context():
        sha = db.session.scalar(sa.select(IssuePhoto.sha256))
    (tmp_path / "photos" / sha[:2] / sha).write_bytes(b"flipped bits")
    damaged = _cli(app, tmp_path, "directory", "migrate", "--to", "database")
    assert damaged.exit_code == 1 and "damaged" in damaged.output
    assert _count(app, PhotoBlob) == 0
