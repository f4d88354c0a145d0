"""Two web hosts on one PostgreSQL: two real gunicorn servers on two ports, each with its own photo directory (so
they share nothing but the database), PHOTO_STORAGE = "database".

- a photo uploaded through one is served by the other, byte for byte;
- a session made on one is a logged-in session on the other;
- failed logins spread over both count against one limit, which is reached exactly.

One scheduler's advisory lock holding another off is shown with real processes by
tests/scheduler/test_process.py::test_two_schedulers_side_by_side_make_every_patrol_once (two `gridpatrol scheduler
run` against one database: every startup run either ran or logged "another scheduler is running this job", and
every patrol exists once) and in process by tests/scheduler/test_jobs.py (a run while another connection holds the
job's lock is skipped); it is not repeated here.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from gridpatrol.accounts.models import LoginAttempt
from gridpatrol.core.photo_store import PhotoBlob
from gridpatrol.extensions import db
from gridpatrol.issues.models import Issue, IssuePhoto
from tests import helpers
from tests.issues import builders as issue_builders
from tests.operations.web import Browser

pytestmark = pytest.mark.slow

PLACE_LIMIT = 3


@pytest.fixture
def two_hosts(app, database_url, tmp_path):
    if not database_url.startswith("postgresql"):
        pytest.skip("several web hosts need PostgreSQL: SQLite is one file on one host")
    servers = []
    try:
        for name in ("host-a", "host-b"):
            folder = tmp_path / name
            folder.mkdir()
            servers.append(helpers.GunicornServer(database_url, folder, workers=2, env={
                "GRIDPATROL_PHOTO_STORAGE": "database", "GRIDPATROL_PHOTO_DIR": str(folder / "photos"),
                "GRIDPATROL_LOGIN_MAX_FAILURES_PER_PLACE": str(PLACE_LIMIT)}))
        yield servers
    finally:
        for server in servers:
            server.stop()


def _count(app, query) -> int:
    with app.app_context():
        return db.session.scalar(query)


def test_two_hosts_share_photos_sessions_and_login_limits_through_postgresql(app, two_hosts, tmp_path):
    """(One test: starting the two servers is most of its cost.)"""
    issue_builders.world(app)
    a, b = (server.url for server in two_hosts)
    _photo_and_session(app, a, b, tmp_path)
    _login_limit(app, a, b)


def _photo_and_session(app, a: str, b: str, tmp_path) -> None:
    clerk = Browser()
    assert clerk.login(a, "clerk", helpers.DEFAULT_PASSWORD).status == 302
    assert clerk.get(b + "/s/TEST/").status == 200, "the session made on host A is not known to host B"
    assert Browser().get(b + "/s/TEST/").status == 302  # (without it: the login page)

    photo = issue_builders.jpeg((11, 22, 33))
    filed = clerk.post_form(a + "/s/TEST/report", {
        "lon": "120.1505", "lat": "30.2795", "level": "0", "category": "water_power", "severity": "minor",
        "description": "二楼走廊灯不亮"}, files={"photos": ("corridor.jpg", photo, "image/jpeg")})
    assert filed.status == 302, filed.text
    with app.app_context():
        photo_id = db.session.scalar(sa.select(IssuePhoto.id))
    assert _count(app, sa.select(sa.func.count()).select_from(Issue)) == 1
    assert _count(app, sa.select(sa.func.count()).select_from(PhotoBlob)) == 1

    served = clerk.get(f"{b}/s/TEST/issues/photos/{photo_id}")
    assert served.status == 200 and served.headers["Content-Type"] == "image/jpeg"
    assert served.body == photo
    # Neither host wrote a file: the photo lives in the database only.
    assert not [p for name in ("host-a", "host-b") for p in (tmp_path / name / "photos").rglob("*") if p.is_file()]

    # Logged out on host B: the session has ended on host A too.
    assert clerk.post_form(b + "/logout", {}, token_from=b + "/s/TEST/").status == 302
    assert clerk.get(a + "/s/TEST/").status == 302


def _login_limit(app, a: str, b: str) -> None:
    staff = helpers.make_user(app, "staff1")
    spare = helpers.make_user(app, "staff2")
    hosts = [a, b]

    # One failure short of the limit, spread over both hosts: the right password still opens.
    for i in range(PLACE_LIMIT - 1):
        assert Browser().login(hosts[i % 2], spare.username, "wrong-password1").status == 200
    assert Browser().login(a, spare.username, spare.password).status == 302

    # The limit's worth of failures, alternating hosts: each is checked (200, wrong password); then both hosts
    # refuse even the right password (429), because they counted the same failures.
    for i in range(PLACE_LIMIT):
        wrong = Browser().login(hosts[i % 2], staff.username, "wrong-password1")
        assert wrong.status == 200 and "用户名或密码错误" in wrong.text
    for host in (a, b):
        refused = Browser().login(host, staff.username, staff.password)
        assert refused.status == 429, (host, refused.status)
    failures = sa.select(sa.func.count()).select_from(LoginAttempt).where(
        LoginAttempt.succeeded.is_(False), LoginAttempt.username == staff.username)
    assert _count(app, failures) == PLACE_LIMIT
