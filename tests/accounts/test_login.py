"""Logging in and out, server-side sessions, CSRF, the password page; the failed-login limits across gunicorn
workers (the limits themselves: test_login_limits.py)."""

import concurrent.futures
import re
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

import pytest
import sqlalchemy as sa

from gridpatrol.accounts.models import LoginAttempt, UserSession
from gridpatrol.audit import services as audit
from gridpatrol.extensions import db
from tests import helpers


def test_login_with_right_password_opens_a_server_side_session(app, client, staff):
    response = helpers.login(client, staff)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    with app.app_context():
        sessions = db.session.scalars(sa.select(UserSession).where(UserSession.user_id == staff.id)).all()
    assert len(sessions) == 1 and sessions[0].revoked_at is None
    assert [e.actor_name for e in helpers.audit_actions(app, audit.LOGIN_SUCCEEDED)] == ["staff1"]


def test_wrong_password_is_refused_and_recorded(app, client, staff):
    response = helpers.login(client, staff, password="not-the-password1")
    assert response.status_code == 200
    assert client.get("/").status_code == 302  # still logged out
    failures = helpers.audit_actions(app, audit.LOGIN_FAILED)
    assert [(e.actor_name, e.detail["reason"]) for e in failures] == [("staff1", "wrong password")]


def test_unknown_user_and_inactive_user_cannot_log_in(app, client, admin, staff):
    unknown = helpers.Credentials(0, "nobody", "whatever123")
    assert helpers.login(client, unknown).status_code == 200
    helpers.login(client, admin)
    helpers.post_form(client, f"/admin/users/{staff.id}/active", {"active": "0"}, token_from="/admin/users")
    other = client.application.test_client()
    assert helpers.login(other, staff).status_code == 200
    assert other.get("/").status_code == 302
    reasons = [e.detail["reason"] for e in helpers.audit_actions(app, audit.LOGIN_FAILED)]
    assert reasons == ["unknown user", "inactive"]


def test_post_without_csrf_token_is_refused(app, client, staff):
    response = client.post("/login", data={"username": staff.username, "password": staff.password})
    assert response.status_code == 400
    assert client.get("/").status_code == 302
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(LoginAttempt)) == 0


def test_post_with_forged_csrf_token_is_refused(client, staff):
    helpers.csrf_token(client)
    response = client.post("/login", data={"csrf_token": "forged", "username": staff.username,
                                           "password": staff.password})
    assert response.status_code == 400


def test_logout_invalidates_the_saved_cookie(app, client, staff):
    """A cookie copied before logout must not work afterwards: the session row is revoked."""
    helpers.login(client, staff)
    saved_cookie = client.get_cookie("session").value
    helpers.post_form(client, "/logout", token_from="/")
    assert client.get("/").status_code == 302

    replay = app.test_client()
    replay.set_cookie("session", saved_cookie)
    response = replay.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert helpers.audit_actions(app, audit.LOGOUT)


def test_password_change_ends_other_logins(app, staff):
    tablet, desktop = app.test_client(), app.test_client()
    helpers.login(tablet, staff)
    helpers.login(desktop, staff)
    response = helpers.post_form(desktop, "/account/password", {
        "current_password": staff.password, "new_password": "new-secret-42", "confirm": "new-secret-42"})
    assert response.status_code == 302
    assert desktop.get("/").status_code == 200  # the device that changed it stays logged in
    assert tablet.get("/").status_code == 302  # every other login has ended
    assert helpers.login(app.test_client(), staff, password="new-secret-42").status_code == 302


@pytest.mark.parametrize("form, message, status", [
    # A wrong current password is counted as a failed login, so that answer commits (200, as the login page's).
    ({"current_password": "wrong-password1", "new_password": "new-secret-42", "confirm": "new-secret-42"},
     "当前密码不正确", 200),
    ({"current_password": helpers.DEFAULT_PASSWORD, "new_password": "abcdefghij", "confirm": "abcdefghij"},
     "太容易被猜到", 422),
    ({"current_password": helpers.DEFAULT_PASSWORD, "new_password": "new-secret-42", "confirm": "other-secret-42"},
     None, 422),
])
def test_refused_password_change_changes_nothing(app, client, staff, form, message, status):
    helpers.login(client, staff)
    response = helpers.post_form(client, "/account/password", form)
    assert response.status_code == status
    if message:
        assert message in response.get_data(as_text=True)
    assert client.get("/").status_code == 200  # the session was not revoked
    assert helpers.login(app.test_client(), staff).status_code == 302  # old password still works
    assert not helpers.audit_actions(app, audit.PASSWORD_CHANGED)


@pytest.fixture
def costly_staff(app):
    """A user whose password hash has the production cost, so each check keeps a worker busy."""
    app.config.update(ARGON2_TIME_COST=3, ARGON2_MEMORY_COST_KIB=65536, ARGON2_PARALLELISM=4)
    return helpers.make_user(app, "staff1")


@pytest.fixture
def single_threaded_server(database_url, tmp_path):
    # Sync workers take one connection at a time, so a burst has to spread over the processes.
    server = helpers.GunicornServer(database_url, tmp_path, workers=4, env={
        "GRIDPATROL_WORKER_CLASS": "sync", "GRIDPATROL_LOGIN_MAX_FAILURES_PER_PLACE": "10"})
    yield server
    server.stop()


@pytest.mark.slow
def test_account_limit_holds_across_four_gunicorn_workers(app, costly_staff, single_threaded_server):
    """11 wrong passwords at once from one address against 4 worker processes, with a limit of 10 per account and
    address: exactly 10 are checked, the 11th refused."""
    staff, gunicorn_server = costly_staff, single_threaded_server

    def attempt(_):
        jar = CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        html = opener.open(gunicorn_server.url + "/login", timeout=30).read().decode()
        token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
        body = urllib.parse.urlencode({"csrf_token": token, "username": staff.username,
                                       "password": "wrong-password1"}).encode()
        try:
            return opener.open(gunicorn_server.url + "/login", data=body, timeout=30).status
        except urllib.error.HTTPError as exc:
            return exc.code

    with concurrent.futures.ThreadPoolExecutor(max_workers=11) as pool:
        statuses = sorted(pool.map(attempt, range(11)))
    assert statuses == [200] * 10 + [429]
    assert len(gunicorn_server.worker_pids_seen()) > 1, "requests should have been spread over workers"
    with app.app_context():
        failures = db.session.scalar(sa.select(sa.func.count()).select_from(LoginAttempt).where(
            LoginAttempt.succeeded.is_(False)))
    assert failures == 10
    assert attempt(None) == 429
