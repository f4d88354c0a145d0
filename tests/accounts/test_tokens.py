"""Personal API tokens: made from the shell or the account page, shown once, stored hashed, listed and revoked;
a user sees and revokes only their own."""

from __future__ import annotations

import re

import sqlalchemy as sa

from gridpatrol.accounts.models import ApiToken
from gridpatrol.accounts.tokens import hash_token
from gridpatrol.extensions import db
from tests import helpers


def _rows(app) -> list[ApiToken]:
    with app.app_context():
        return list(db.session.scalars(sa.select(ApiToken).order_by(ApiToken.id)))


def test_the_shell_makes_lists_and_revokes_tokens(app):
    helpers.make_user(app, "bridge", roles=("staff",))
    made = helpers.run_cli(app, ["tokens", "create", "bridge", "--name", "报修热线", "--expires", "30"])
    assert made.exit_code == 0, made.output
    token = made.stdout.strip().splitlines()[0]
    assert token.startswith("gp_") and len(token) > 40
    (row,) = _rows(app)
    assert row.token_hash == hash_token(token) and token not in (row.prefix + row.name)  # only the hash is kept
    listed = helpers.run_cli(app, ["tokens", "list", "bridge"])
    assert row.prefix in listed.output and "报修热线" in listed.output and "live" in listed.output
    assert token not in listed.output
    revoked = helpers.run_cli(app, ["tokens", "revoke", "bridge", row.prefix])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert _rows(app)[0].revoked_at is not None
    assert "revoked" in helpers.run_cli(app, ["tokens", "list", "bridge"]).output
    events = helpers.audit_actions(app)
    assert [e.action for e in events if e.action.startswith("api_token")] == ["api_token.created", "api_token.revoked"]
    assert all(token not in str(e.detail) for e in events)


def test_the_shell_refuses_bad_requests_and_changes_nothing(app):
    helpers.make_user(app, "bridge", roles=("staff",))
    assert helpers.run_cli(app, ["tokens", "create", "nobody"]).exit_code != 0
    refused = helpers.run_cli(app, ["tokens", "create", "bridge", "--expires", "0"])
    assert refused.exit_code != 0 and "1" in refused.output
    assert helpers.run_cli(app, ["tokens", "revoke", "bridge", "gp_nothing"]).exit_code != 0
    assert _rows(app) == []


def test_the_account_page_shows_a_new_token_once_and_revokes_it(app):
    helpers.make_user(app, "bridge", roles=("staff",))
    client = app.test_client()
    helpers.login(client, helpers.Credentials(0, "bridge", helpers.DEFAULT_PASSWORD))
    answer = helpers.post_form(client, "/account/tokens", {"name": "巡检脚本", "expires_days": "90"})
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    token = re.search(r'data-testid="new-token">(gp_[^<]+)<', answer.get_data(as_text=True)).group(1)
    page = client.get("/account/tokens").get_data(as_text=True)
    assert token not in page and "巡检脚本" in page and "有效" in page  # listed, never shown again
    assert client.get("/api/v1/sites", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    (row,) = _rows(app)
    assert helpers.post_form(client, f"/account/tokens/{row.id}/revoke", token_from="/account/tokens").status_code == 302
    assert client.get("/api/v1/sites", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert "已吊销" in client.get("/account/tokens").get_data(as_text=True)


def test_a_form_without_a_name_makes_nothing(app):
    helpers.make_user(app, "bridge", roles=("staff",))
    client = app.test_client()
    helpers.login(client, helpers.Credentials(0, "bridge", helpers.DEFAULT_PASSWORD))
    assert helpers.post_form(client, "/account/tokens", {"name": "", "expires_days": "90"}).status_code == 422
    assert helpers.post_form(client, "/account/tokens", {"name": "x", "expires_days": "99999"}).status_code == 422
    assert _rows(app) == []


def test_nobody_revokes_another_users_token(app):
    helpers.make_user(app, "bridge", roles=("staff",))
    helpers.make_user(app, "other", roles=("staff",))
    assert helpers.run_cli(app, ["tokens", "create", "bridge"]).exit_code == 0
    (row,) = _rows(app)
    client = app.test_client()
    helpers.login(client, helpers.Credentials(0, "other", helpers.DEFAULT_PASSWORD))
    assert helpers.post_form(client, f"/account/tokens/{row.id}/revoke", token_from="/account/tokens").status_code == 403
    assert _rows(app)[0].revoked_at is None
    assert row.prefix not in client.get("/account/tokens").get_data(as_text=True)
