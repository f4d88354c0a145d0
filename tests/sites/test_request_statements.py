"""What one request reads: the live session, its user and their roles, the site named in the URL and the unread
count of a page come in one statement (the user loader's); the cheapest authenticated write, POST
/notifications/read, is that statement and its UPDATE. Counts of statements, never timings."""

from __future__ import annotations

import contextlib
import re

import sqlalchemy as sa

from gridpatrol.accounts import services as accounts
from gridpatrol.accounts.models import User, UserRole
from gridpatrol.core.roles import Role
from gridpatrol.core.time import utcnow
from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.notifications import services as notifications
from gridpatrol.notifications.models import Notification
from tests import helpers

UNREAD = re.compile(r'class="notice-count"[^>]*>(\d+)<')
TRANSACTION = ("BEGIN", "COMMIT", "ROLLBACK")


def _client(app, username: str):
    client = app.test_client()
    assert helpers.login(client, helpers.Credentials(0, username, helpers.DEFAULT_PASSWORD)).status_code == 302
    return client


@contextlib.contextmanager
def _statements(app):
    """The SQL statements run inside the block (transaction control left out)."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        if not statement.lstrip().upper().startswith(TRANSACTION):
            seen.append(" ".join(statement.split()))

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def _notify(app, username: str, count: int) -> int:
    with app.app_context(), job_transaction() as session:
        user_id = session.scalar(sa.select(User.id).where(User.username == username))
        notifications.notify_many(session, [
            notifications.Note("legacy", user_id, f"probe-{i}", notifications.Target("issue", i, None), {"text": "x"})
            for i in range(count)], utcnow())
        return user_id


def _unread(app, user_id: int) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Notification).where(
            Notification.user_id == user_id, Notification.read_at.is_(None)))


def test_marking_notifications_read_is_the_user_statement_and_one_update(app, two_sites):
    user_id = _notify(app, "leader_a", 3)
    client = _client(app, "leader_a")
    token = helpers.csrf_token(client, "/notifications/")
    with _statements(app) as statements:
        response = client.post("/notifications/read", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/notifications/"
    # The live session with its user and roles; the UPDATE. No unread count, site or navigation: it redirects.
    assert len(statements) <= 2, statements
    assert "user_sessions" in statements[0] and statements[-1].startswith("UPDATE notifications")
    assert _unread(app, user_id) == 0
    # Nothing in the session changed, so its cookie is not signed and sent again.
    assert "Set-Cookie" not in response.headers


def test_marking_read_without_the_csrf_token_is_refused_and_changes_nothing(app, two_sites):
    user_id = _notify(app, "leader_a", 2)
    before = _unread(app, user_id)
    client = _client(app, "leader_a")
    assert client.post("/notifications/read").status_code == 400
    assert client.post("/notifications/read", data={"csrf_token": "forged"}).status_code == 400
    assert _unread(app, user_id) == before >= 2


def test_a_site_page_gets_user_roles_site_and_unread_count_in_one_statement(app, two_sites):
    unread = _unread(app, _notify(app, "boss_a", 3))
    client = _client(app, "boss_a")
    with _statements(app) as statements:
        page = client.get("/s/TEST/issues")
    assert page.status_code == 200
    loader = [s for s in statements if "user_sessions" in s]
    assert len(loader) == 1, statements
    assert "sites.code =" in loader[0] and "FROM notifications" in loader[0] and "user_roles" in loader[0]
    others = [s for s in statements if s not in loader]
    assert not [s for s in others if "FROM sites" in s or "FROM notifications" in s or "FROM user_roles" in s]
    assert UNREAD.search(page.get_data(as_text=True)).group(1) == str(unread)


def test_a_user_of_all_sites_sees_the_switcher_only_when_there_are_several(app):
    from tests.grids import builders as grid_builders

    grid_builders.make_site(app, "TEST")
    helpers.make_user(app, "province", roles=("supervisor",))  # all sites
    client = _client(app, "province")
    with _statements(app) as statements:  # a supervisor's home is the site's dashboard
        page = client.get("/s/TEST/", follow_redirects=True).get_data(as_text=True)
    assert 'class="site-switch"' not in page
    assert not [s for s in statements if "FROM sites" in s and "user_sessions" not in s]  # counted with the user
    grid_builders.make_site(app, "OTHER")
    page = client.get("/s/TEST/", follow_redirects=True).get_data(as_text=True)
    assert 'class="site-switch"' in page and 'href="/s/OTHER/dashboard"' in page


def test_the_site_of_the_url_is_found_with_or_without_a_live_session(app, two_sites):
    anonymous = app.test_client()
    assert anonymous.get("/s/NOPE/issues").status_code == 404
    assert "/login" in anonymous.get("/s/TEST/issues").headers["Location"]
    client = _client(app, "boss_a")
    assert client.get("/s/NOPE/issues").status_code == 404
    assert client.get("/s/OTHER/issues").status_code == 403  # not one of hers, whether loaded with her or not
    saved = client.get_cookie("session").value
    helpers.post_form(client, "/logout", token_from="/s/TEST/")
    replay = app.test_client()
    replay.set_cookie("session", saved)
    assert "/login" in replay.get("/s/TEST/issues").headers["Location"]  # the session was revoked


def test_roles_read_with_the_user_give_way_to_the_role_rows(app, two_sites):
    site_a, site_b = two_sites["TEST"].site_id, two_sites["OTHER"].site_id
    with app.app_context(), job_transaction() as session:
        boss = session.scalar(sa.select(User).where(User.username == "boss_a"))
        token = accounts.open_session(session, boss, address=None, user_agent=None)
    with app.test_request_context("/"):
        user = accounts.user_for_session_token(token)
        assert user.loaded_grants == ((Role.SUPERVISOR, site_a),) and "role_rows" not in user.__dict__
        assert user.roles_at(site_a) == {Role.SUPERVISOR} and user.roles_at(site_b) == set()
        assert user.site_ids() == {site_a} and user.roles_granted() == [(Role.SUPERVISOR, site_a)]
        # Changed through the rows (an admin editing their own roles): the rows count from then on.
        user.role_rows.append(UserRole(role=Role.STAFF.value, site_id=site_b))
        assert user.roles_at(site_b) == {Role.STAFF} and user.site_ids() == {site_a, site_b}
        db.session.rollback()
        db.session.expire(user)  # expired: read again, from the rows, not from what the loader read
        assert "loaded_grants" not in user.__dict__ and user.roles_at(site_b) == set()
        assert accounts._grants_from_text(None) == () and accounts._grants_from_text("admin:,staff:7") == (
            (Role.ADMIN, None), (Role.STAFF, 7))
