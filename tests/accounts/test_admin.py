"""Admin pages for users and teams: who may use them, what they change, what they refuse."""

import pytest
import sqlalchemy as sa
import sqlalchemy.orm

from gridpatrol.accounts.models import Team, User, UserSession
from gridpatrol.audit import services as audit
from gridpatrol.extensions import db
from tests import helpers

ADMIN_PAGES = ["/admin/users", "/admin/users/new", "/admin/teams", "/admin/teams/new", "/admin/audit/"]


def _user(app, username):
    with app.app_context():
        return db.session.scalar(sa.select(User).where(User.username == username)
                                 .options(sa.orm.selectinload(User.role_rows), sa.orm.selectinload(User.teams)))


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_staff_gets_403_on_admin_pages_and_the_denial_is_audited(app, client, staff, path):
    helpers.login(client, staff)
    response = client.get(path)
    assert response.status_code == 403
    denials = helpers.audit_actions(app, audit.PERMISSION_DENIED)
    assert len(denials) == 1
    assert denials[0].actor_name == "staff1" and denials[0].detail["path"] == path


def test_denied_post_is_audited_and_changes_nothing(app, client, staff, admin):
    helpers.login(client, staff)
    response = helpers.post_form(client, f"/admin/users/{admin.id}/active", {"active": "0"}, token_from="/")
    assert response.status_code == 403
    assert _user(app, "admin1").active is True
    assert [d.detail["method"] for d in helpers.audit_actions(app, audit.PERMISSION_DENIED)] == ["POST"]


@pytest.mark.parametrize("role", ["supervisor", "grid_leader", "rectifier", "staff"])
def test_only_admins_see_the_admin_navigation(app, role):
    creds = helpers.make_user(app, f"u-{role.replace('_', '-')}", roles=(role,))
    client = app.test_client()
    helpers.login(client, creds)
    html = client.get("/").get_data(as_text=True)
    assert "/admin/users" not in html


def test_anonymous_is_sent_to_login(client):
    response = client.get("/admin/users")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_admin_creates_a_user_with_roles_and_teams(app, client, admin):
    helpers.login(client, admin)
    helpers.post_form(client, "/admin/teams/new", {"name": "维修班组", "kind": "maintenance", "active": "y"})
    with app.app_context():
        team_id = db.session.scalar(sa.select(Team.id).where(Team.name == "维修班组"))
    response = helpers.post_form(client, "/admin/users/new", {
        "username": "Zhang.Wei", "display_name": "张伟", "phone": "13800000000", "email": " zhang.wei@example.cn ",
        "locale": "",
        "roles": ["rectifier", "staff"], "teams": [str(team_id)], "password": "lamp-corridor-58",
    })
    assert response.status_code == 302
    user = _user(app, "zhang.wei")  # usernames are stored in lower case
    assert user.display_name == "张伟" and user.email == "zhang.wei@example.cn"
    assert {(r.role, r.site_id) for r in user.role_rows} == {("rectifier", None), ("staff", None)}
    assert [t.name for t in user.teams] == ["维修班组"]
    created = helpers.audit_actions(app, "user.created")
    assert created[-1].actor_name == "admin1" and created[-1].detail["roles"] == ["rectifier", "staff"]
    assert helpers.audit_actions(app, "team.created")
    assert helpers.login(app.test_client(), helpers.Credentials(user.id, "zhang.wei", "lamp-corridor-58")).status_code == 302


@pytest.mark.parametrize("form, error", [
    ({"username": "staff1", "display_name": "Dup", "roles": ["staff"], "password": "lamp-corridor-58"}, "taken"),
    ({"username": "newbie", "display_name": "N", "roles": [], "password": "lamp-corridor-58"}, None),
    ({"username": "newbie", "display_name": "N", "roles": ["staff"], "password": "short1"}, None),
    ({"username": "newbie", "display_name": "N", "roles": ["staff"], "password": "onlyletters"}, None),
    ({"username": "newbie", "display_name": "N", "roles": ["staff"], "password": ""}, None),
    ({"username": "bad name!", "display_name": "N", "roles": ["staff"], "password": "lamp-corridor-58"}, None),
    ({"username": "newbie", "display_name": "N", "roles": ["emperor"], "password": "lamp-corridor-58"}, None),
    ({"username": "newbie", "display_name": "N", "roles": ["staff"], "password": "lamp-corridor-58", "email": "not-mail"},
     "not-mail"),
    ({"username": "newbie", "display_name": "N", "roles": ["staff"], "password": "lamp-corridor-58", "site": "999"}, None),
])
def test_refused_user_form_saves_nothing(app, client, admin, staff, form, error):
    helpers.login(client, admin)
    before = len(helpers.audit_actions(app))
    response = helpers.post_form(client, "/admin/users/new", form)
    assert response.status_code == 422
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 2
    assert len(helpers.audit_actions(app)) == before
    if error:
        assert error in response.get_data(as_text=True) or "已被占用" in response.get_data(as_text=True)


def test_editing_roles_is_audited_with_the_change(app, client, admin, staff):
    helpers.login(client, admin)
    response = helpers.post_form(client, f"/admin/users/{staff.id}", {
        "username": "ignored", "display_name": "Staff One", "roles": ["staff", "grid_leader"], "locale": "en"})
    assert response.status_code == 302
    user = _user(app, "staff1")
    assert user.username == "staff1"  # usernames never change
    assert {r.role for r in user.role_rows} == {"staff", "grid_leader"} and user.locale == "en"
    change = helpers.audit_actions(app, "user.updated")[-1].detail["changes"]
    assert change["roles"] == [["staff"], ["grid_leader", "staff"]]


def test_admin_cannot_remove_own_admin_role_or_deactivate_self(app, client, admin):
    helpers.login(client, admin)
    response = helpers.post_form(client, f"/admin/users/{admin.id}", {
        "display_name": "Admin", "roles": ["staff"]})
    assert response.status_code == 422
    assert {r.role for r in _user(app, "admin1").role_rows} == {"admin"}
    helpers.post_form(client, f"/admin/users/{admin.id}/active", {"active": "0"}, token_from="/admin/users")
    assert _user(app, "admin1").active is True


def test_deactivation_ends_existing_logins(app, client, admin, staff):
    staff_client = app.test_client()
    helpers.login(staff_client, staff)
    assert staff_client.get("/").status_code == 200
    helpers.login(client, admin)
    helpers.post_form(client, f"/admin/users/{staff.id}/active", {"active": "0"}, token_from="/admin/users")
    assert staff_client.get("/").status_code == 302
    with app.app_context():
        open_sessions = db.session.scalar(sa.select(sa.func.count()).select_from(UserSession).where(
            UserSession.user_id == staff.id, UserSession.revoked_at.is_(None)))
    assert open_sessions == 0
    assert helpers.audit_actions(app, "user.deactivated")


def test_admin_password_reset_ends_the_users_logins(app, client, admin, staff):
    staff_client = app.test_client()
    helpers.login(staff_client, staff)
    helpers.login(client, admin)
    helpers.post_form(client, f"/admin/users/{staff.id}/password", {"new_password": "reset-2026x"},
                      token_from=f"/admin/users/{staff.id}")
    assert staff_client.get("/").status_code == 302
    assert helpers.login(app.test_client(), staff, password="reset-2026x").status_code == 302
    assert helpers.audit_actions(app, "user.password_reset")


def test_duplicate_team_name_is_refused(app, client, admin):
    helpers.login(client, admin)
    helpers.post_form(client, "/admin/teams/new", {"name": "物业公司", "kind": "property", "active": "y"})
    response = helpers.post_form(client, "/admin/teams/new", {"name": "物业公司", "kind": "vendor", "active": "y"})
    assert response.status_code == 422
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Team)) == 1


def test_audit_log_page_lists_events_for_admins(app, client, admin):
    helpers.login(client, admin)
    html = client.get("/admin/audit/?action=login.succeeded").get_data(as_text=True)
    assert "login.succeeded" in html and "admin1" in html
