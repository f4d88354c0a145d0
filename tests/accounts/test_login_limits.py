"""Failed-login limits (accounts/login_limits.py): per account and address or known device, per account from unknown
places, per address; growing locks; unlocking by an administrator or a password reset; the password page's limit;
exact counts under concurrency."""

import concurrent.futures
import datetime as dt

import pytest
import sqlalchemy as sa
import time_machine

from gridpatrol.accounts import login_limits, services
from gridpatrol.accounts.models import LoginAttempt
from gridpatrol.audit import services as audit
from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from tests import helpers

WRONG = "wrong-password1"
T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.timezone.utc)  # 09:00 in Shanghai


def _from(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _fail(app, creds, address: str, times: int) -> list[int]:
    client = _from(app, address)
    return [helpers.login(client, creds, password=WRONG).status_code for _ in range(times)]


def _known_device(app, creds, address: str = "10.0.0.1"):
    """A browser where the owner has logged in (and out again): it keeps the known-device cookie."""
    client = _from(app, address)
    assert helpers.login(client, creds).status_code == 302
    assert client.get_cookie(login_limits.KNOWN_DEVICE_COOKIE) is not None
    helpers.post_form(client, "/logout", token_from="/")
    return client


def _failures(app, **where) -> int:
    with app.app_context():
        query = sa.select(sa.func.count()).select_from(LoginAttempt).where(LoginAttempt.succeeded.is_(False))
        for key, value in where.items():
            query = query.where(getattr(LoginAttempt, key) == value)
        return db.session.scalar(query)


def test_the_lock_grows_with_every_limits_worth_of_failures(app):
    with app.test_request_context():
        assert [login_limits.lock_minutes(n, 5) for n in (4, 5, 9, 10, 15, 20, 25, 30, 35, 100, 10**6)] == \
            [None, 1, 1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_a_lock_is_shown_rounded_up_to_the_minute():
    lock = login_limits.Lock(login_limits.LockScope.PLACE, T0 + dt.timedelta(seconds=61))
    assert lock.shown_until == T0 + dt.timedelta(minutes=2)
    assert login_limits.Lock(login_limits.LockScope.PLACE, T0).shown_until == T0


def test_guesses_from_another_address_lock_that_address_not_the_owner(app, staff):
    owner = _known_device(app, staff)
    assert _fail(app, staff, "203.0.113.9", 6) == [200] * 5 + [429]
    # The owner's known device, and the owner's usual address in another browser, are not held.
    assert helpers.login(owner, staff).status_code == 302
    assert helpers.login(_from(app, "10.0.0.1"), staff).status_code == 302
    assert _failures(app, address="203.0.113.9") == 5


def test_the_locked_place_is_refused_even_with_the_right_password_and_says_until_when(app, staff):
    with time_machine.travel(T0, tick=False):
        _fail(app, staff, "203.0.113.9", 5)
        response = helpers.login(_from(app, "203.0.113.9"), staff)
    assert response.status_code == 429
    html = response.get_data(as_text=True)
    assert "此账号在本处密码错误次数过多" in html and "09:01" in html and "管理员解锁" in html
    throttled = helpers.audit_actions(app, audit.LOGIN_THROTTLED)
    assert throttled[-1].detail["limit"] == "place"


def test_many_addresses_lock_the_account_from_unknown_places_but_not_the_known_device(app, staff):
    owner = _known_device(app, staff)
    with time_machine.travel(T0, tick=False):
        for i in range(4):
            assert _fail(app, staff, f"198.51.100.{i}", 5) == [200] * 5  # 20: the limit from unknown places
        fresh = helpers.login(_from(app, "198.51.100.200"), staff)  # a new address, the right password
        assert fresh.status_code == 429
        html = fresh.get_data(as_text=True)
        assert "此账号已锁定至 09:01" in html and "登录过的设备" in html
        assert helpers.login(_from(app, "10.0.0.1"), staff).status_code == 429  # the owner's address, a new browser
        assert helpers.login(owner, staff).status_code == 302  # the owner's known device
    assert _failures(app) == 20


def test_a_known_devices_own_failures_count_for_it_alone(app, staff):
    owner = _known_device(app, staff)
    assert [helpers.login(owner, staff, password=WRONG).status_code for _ in range(6)] == [200] * 5 + [429]
    # They are not the account's count from unknown places, nor the address's: another browser there logs in.
    assert helpers.login(_from(app, "10.0.0.1"), staff).status_code == 302
    with app.app_context():
        devices = db.session.scalars(sa.select(LoginAttempt.device).where(LoginAttempt.succeeded.is_(False))).all()
    assert len(devices) == 5 and len(set(devices)) == 1 and devices[0] is not None


def test_a_known_device_cookie_is_bound_to_its_user_and_signed(app, staff):
    other = helpers.make_user(app, "other1")
    browser = _known_device(app, other)  # known for other1, not for staff1
    for i in range(4):
        _fail(app, staff, f"198.51.100.{i}", 5)
    assert helpers.login(browser, staff).status_code == 429
    forged = _from(app, "10.0.0.1")
    forged.set_cookie(login_limits.KNOWN_DEVICE_COOKIE, browser.get_cookie(login_limits.KNOWN_DEVICE_COOKIE).value[:-2]
                      + "xx")
    assert helpers.login(forged, staff).status_code == 429


def test_a_new_password_makes_the_known_devices_unknown(app, client, admin, staff):
    browser = _known_device(app, staff)
    helpers.login(client, admin)
    helpers.post_form(client, f"/admin/users/{staff.id}/password", {"new_password": "reset-2026x"},
                      token_from=f"/admin/users/{staff.id}")
    for i in range(4):
        _fail(app, staff, f"198.51.100.{i}", 5)
    assert helpers.login(browser, staff, password="reset-2026x").status_code == 429


def test_a_success_clears_its_places_count(app, staff):
    client = _from(app, "10.0.0.7")
    for _ in range(4):
        helpers.login(client, staff, password=WRONG)
    assert helpers.login(client, staff).status_code == 302
    assert [helpers.login(_from(app, "10.0.0.7"), staff, password=WRONG).status_code for _ in range(4)] == [200] * 4
    assert helpers.login(_from(app, "10.0.0.7"), staff).status_code == 302


def test_each_limits_worth_of_failures_doubles_the_lock(app, staff):
    app.config["LOGIN_LOCK_MAX_MINUTES"] = 3
    client = _from(app, "203.0.113.9")

    def attempt(at: dt.datetime) -> int:
        with time_machine.travel(at, tick=False):
            return helpers.login(client, staff, password=WRONG).status_code

    at = T0
    assert [attempt(at) for _ in range(5)] == [200] * 5  # the 5th locks for 1 minute
    assert attempt(at + dt.timedelta(seconds=50)) == 429
    for _ in range(5):  # the 6th to the 10th, each a minute after the one before; the 10th locks for 2
        at += dt.timedelta(seconds=61)
        assert attempt(at) == 200
    assert attempt(at + dt.timedelta(seconds=90)) == 429
    at += dt.timedelta(seconds=121)
    assert attempt(at) == 200
    assert attempt(at + dt.timedelta(seconds=100)) == 429  # the 11th: still 2 minutes
    for _ in range(4):  # to the 15th, which locks for 4 minutes, capped at 3
        at += dt.timedelta(seconds=121)
        assert attempt(at) == 200
    assert attempt(at + dt.timedelta(seconds=170)) == 429
    assert attempt(at + dt.timedelta(seconds=181)) == 200
    # Failures are forgotten after the window (24 hours).
    assert attempt(at + dt.timedelta(hours=25)) == 200


def test_failures_per_address_are_limited_across_accounts(app):
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 3
    users = [helpers.make_user(app, f"user{i}") for i in range(4)]
    client = _from(app, "203.0.113.5")
    for creds in users[:3]:
        assert helpers.login(client, creds, password=WRONG).status_code == 200
    refused = helpers.login(client, users[3])
    assert refused.status_code == 429 and "本网络地址登录失败次数过多" in refused.get_data(as_text=True)
    assert helpers.login(_from(app, "10.9.9.9"), users[3]).status_code == 302


def _lock_out(app, creds) -> None:
    for i in range(4):
        _fail(app, creds, f"198.51.100.{i}", 5)
    assert helpers.login(_from(app, "10.0.0.50"), creds).status_code == 429


def test_the_admin_sees_the_lock_and_unlocks_the_account(app, client, admin, staff):
    with time_machine.travel(T0, tick=False):
        _lock_out(app, staff)
        helpers.login(client, admin)
        html = client.get("/admin/users").get_data(as_text=True)
        assert "已锁定" in html and "至 2026-03-02 09:01" in html  # the site's zone, not UTC (01:01)
        assert html.count("已锁定") == 1
        response = helpers.post_form(client, f"/admin/users/{staff.id}/unlock", token_from="/admin/users")
        assert response.status_code == 302
        assert "已锁定" not in client.get("/admin/users").get_data(as_text=True)
        assert helpers.login(_from(app, "10.0.0.50"), staff).status_code == 302
        # The failures before the unlock no longer count: the next address has its own 5 again.
        assert _fail(app, staff, "198.51.100.0", 1) == [200]
    unlocked = helpers.audit_actions(app, services.USER_UNLOCKED)
    assert [(e.actor_name, e.target_id) for e in unlocked] == [("admin1", str(staff.id))]


@pytest.mark.parametrize("role", ["supervisor", "grid_leader"])
def test_only_an_admin_unlocks(app, staff, role):
    _lock_out(app, staff)
    other = helpers.make_user(app, "boss1", roles=(role,))
    client = app.test_client()
    helpers.login(client, other)
    response = helpers.post_form(client, f"/admin/users/{staff.id}/unlock", token_from="/")
    assert response.status_code == 403
    assert helpers.login(_from(app, "10.0.0.50"), staff).status_code == 429  # still locked
    assert not helpers.audit_actions(app, services.USER_UNLOCKED)
    assert helpers.audit_actions(app, audit.PERMISSION_DENIED)


def test_unlocking_needs_the_csrf_token(app, client, admin, staff):
    _lock_out(app, staff)
    helpers.login(client, admin)
    assert client.post(f"/admin/users/{staff.id}/unlock").status_code == 400
    assert helpers.login(_from(app, "10.0.0.50"), staff).status_code == 429


def test_an_admins_password_reset_unlocks(app, client, admin, staff):
    _lock_out(app, staff)
    helpers.login(client, admin)
    response = helpers.post_form(client, f"/admin/users/{staff.id}/password", {"new_password": "reset-2026x"},
                                 token_from=f"/admin/users/{staff.id}")
    assert response.status_code == 302
    assert helpers.login(_from(app, "10.0.0.50"), staff, password="reset-2026x").status_code == 302


def test_the_unlock_command_unlocks(app, staff):
    _lock_out(app, staff)
    result = helpers.run_cli(app, ["users", "unlock", "STAFF1"])
    assert result.exit_code == 0, result.output
    assert helpers.login(_from(app, "10.0.0.50"), staff).status_code == 302
    assert helpers.run_cli(app, ["users", "unlock", "nobody"]).exit_code != 0


def _change(client, current: str, new: str = "lamp-corridor-58"):
    return helpers.post_form(client, "/account/password",
                             {"current_password": current, "new_password": new, "confirm": new})


def test_the_current_password_check_is_limited_without_locking_the_owners_known_device(app, staff):
    owner = _known_device(app, staff)
    # Someone holding a copy of a session (no known-device cookie) from elsewhere guesses the current password.
    hijacker = _from(app, "203.0.113.9")
    helpers.login(hijacker, staff)
    statuses = [_change(hijacker, WRONG).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    refused = _change(hijacker, helpers.DEFAULT_PASSWORD)  # even the right one is not checked now
    assert refused.status_code == 429 and "当前密码" in refused.get_data(as_text=True) \
        and "管理员" in refused.get_data(as_text=True)
    assert _failures(app, address="203.0.113.9") == 5
    assert [e.actor_name for e in helpers.audit_actions(app, services.CURRENT_PASSWORD_WRONG)] == ["staff1"] * 5
    assert helpers.audit_actions(app, audit.LOGIN_THROTTLED)[-1].detail["password_page"] is True
    # The password was not changed, and the owner logs in on the known device and changes it there.
    assert helpers.login(owner, staff).status_code == 302
    assert _change(owner, helpers.DEFAULT_PASSWORD).status_code == 302
    assert helpers.login(_from(app, "10.0.0.1"), staff, password="lamp-corridor-58").status_code == 302


def test_wrong_current_passwords_and_wrong_logins_share_the_places_count(app, staff):
    device = _from(app, "203.0.113.9")
    helpers.login(device, staff)  # now a known device
    for _ in range(3):
        _change(device, WRONG)
    helpers.post_form(device, "/logout", token_from="/")
    assert [helpers.login(device, staff, password=WRONG).status_code for _ in range(3)] == [200, 200, 429]
    assert _fail(app, staff, "203.0.113.9", 1) == [200]  # another browser at that address is another place


def _hammer(app, attempts: int, make_args) -> list:
    """`attempts` password checks at once, each in its own transaction (as gunicorn workers run them)."""
    app.config.update(ARGON2_TIME_COST=2, ARGON2_MEMORY_COST_KIB=8192)  # each check takes a while: a real race

    def attempt(i):
        with app.app_context(), job_transaction() as session:
            return services.authenticate(session, *make_args(i)).outcome

    with concurrent.futures.ThreadPoolExecutor(max_workers=attempts) as pool:
        return list(pool.map(attempt, range(attempts)))


def test_the_place_limit_is_exact_under_concurrency(app, staff):
    outcomes = _hammer(app, 9, lambda i: (staff.username, WRONG, "203.0.113.9"))
    assert outcomes.count(services.LoginOutcome.BAD_CREDENTIALS) == 5
    assert outcomes.count(services.LoginOutcome.LOCKED) == 4
    assert _failures(app) == 5


def test_the_account_limit_is_exact_under_concurrency(app, staff):
    app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"] = 6
    outcomes = _hammer(app, 10, lambda i: (staff.username, WRONG, f"198.51.100.{i}"))
    assert outcomes.count(services.LoginOutcome.BAD_CREDENTIALS) == 6
    assert _failures(app) == 6


def test_the_address_limit_is_exact_under_concurrency(app):
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 6
    outcomes = _hammer(app, 10, lambda i: (f"nobody{i}", WRONG, "203.0.113.9"))
    assert outcomes.count(services.LoginOutcome.BAD_CREDENTIALS) == 6
    assert _failures(app) == 6

