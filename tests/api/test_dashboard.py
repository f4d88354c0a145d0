"""/api/v1/sites/<site>/dashboard: the figures of the dashboard's own JSON (`/s/<site>/dashboard.json`, one read
model behind both), for the supervisors and admins of the site only, in the caller's language, and as the document
describes them. The history is the dashboard tests' (tests/dashboard/builders.py), seen at its NOW."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from gridpatrol.accounts.models import User
from gridpatrol.core.transaction import job_transaction
from gridpatrol.dashboard.read_model import WEEKS
from tests import helpers
from tests.api.builders import bearer, token_for
from tests.dashboard import builders
from tests.dashboard import conftest as dashboard_fixtures

API = "/api/v1/sites/{site}/dashboard"
# The dashboard tests' histories, seen at their NOW through this module's `frozen` (which also stops the API's clock).
history = dashboard_fixtures.history
short_history = dashboard_fixtures.short_history


@pytest.fixture
def frozen(monkeypatch):
    """The page, its JSON, the API and the lists behind the figures believe it is builders.NOW."""
    import gridpatrol.api.dashboard as api_dashboard
    import gridpatrol.dashboard.views as dashboard_views
    import gridpatrol.issues.views as issue_views
    import gridpatrol.patrols.views as patrol_views

    for module in (api_dashboard, dashboard_views, issue_views, patrol_views):
        monkeypatch.setattr(module, "utcnow", lambda: builders.NOW)
    return builders.NOW


def _page_json(app, username: str, site: str) -> dict:
    client = app.test_client()
    assert helpers.login(client, helpers.Credentials(0, username, helpers.DEFAULT_PASSWORD)).status_code == 302
    response = client.get(f"/s/{site}/dashboard.json")
    assert response.status_code == 200
    return response.get_json()


def _api(app, username: str, site: str):
    return app.test_client().get(API.format(site=site), headers=bearer(token_for(app, username)))


@pytest.mark.parametrize("username, site", [("boss_t", "TEST"), ("province", "OTHER"), ("root_t", "TEST")])
def test_the_api_gives_the_dashboards_own_figures(app, history, username, site):
    response = _api(app, username, site)
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_json()
    assert body == _page_json(app, username, site)
    # a history with something in every part, so the comparison compares figures, not empty lists
    assert body["site"]["code"] == site and body["now"] == builders.NOW.isoformat()
    assert body["periods"]["month"]["patrols"]["total"] > 0 and body["periods"]["year"]["found"] > 0
    assert body["ranking"] and body["top_grids"] and len(body["charts"]["weeks"]) == WEEKS
    assert sum(body["open_by_category"].values()) == body["to_act"]["open"]


def test_the_names_are_in_the_callers_language(app, short_history):
    with app.app_context(), job_transaction() as session:
        session.scalar(sa.select(User).where(User.username == "province")).locale = "en"
    english = _api(app, "province", "TEST").get_json()
    chinese = _api(app, "boss_t", "TEST").get_json()
    assert english["charts"]["names"]["found"] == "Issues found"
    assert chinese["charts"]["names"]["found"] != "Issues found"
    assert english == _page_json(app, "province", "TEST")
    assert {c["code"] for c in english["charts"]["found_by_category"]} == \
        {c["code"] for c in chinese["charts"]["found_by_category"]}


@pytest.mark.parametrize("username, allowed", [
    ("boss_t", {"TEST"}), ("boss_o", {"OTHER"}), ("root_t", {"TEST"}), ("province", {"TEST", "OTHER"}),
    ("root", {"TEST", "OTHER"}), ("leader0", set()), ("fixer", set()), ("clerk", set()), ("clerk_o", set()),
])
def test_only_the_supervisors_and_admins_of_the_site(app, short_history, username, allowed):
    for site in ("TEST", "OTHER"):
        response = _api(app, username, site)
        assert response.status_code == (200 if site in allowed else 403), (username, site)
        if site not in allowed:
            body = response.get_json()
            assert response.mimetype == "application/problem+json" and body["code"] == "not_allowed"
            assert "to_act" not in body
    assert _api(app, username, "NOPE").status_code == 404


def test_a_refusal_is_audited_and_no_token_is_401(app, short_history):
    assert _api(app, "clerk", "TEST").status_code == 403
    assert [e.actor_name for e in helpers.audit_actions(app, "permission.denied")] == ["clerk"]
    response = app.test_client().get(API.format(site="TEST"))
    assert response.status_code == 401 and response.get_json()["code"] == "unauthenticated"
