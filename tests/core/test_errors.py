"""The one adapter from domain refusals to answers (gridpatrol/core/errors.py), tried on a small view of its own
that writes first and is refused afterwards, the way a real service call is."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import render_template_string, request
from wtforms import StringField

from gridpatrol.core.errors import ConflictError, DomainError, NotAllowed, reshow_on_refusal
from gridpatrol.extensions import db
from tests import helpers


def _install_probe(app):
    """POST /_probe/<kind>: adds a team (a write), then refuses as `kind` says; a form page re-shows on refusal."""
    from flask_wtf import FlaskForm

    from gridpatrol.accounts import services as accounts
    from gridpatrol.accounts.models import TeamKind

    class ProbeForm(FlaskForm):
        class Meta:
            csrf = False

        name = StringField()

    def probe(kind):
        form = ProbeForm()
        if request.args.get("reshow"):
            reshow_on_refusal(lambda: render_template_string(
                "{% extends 'base.html' %}{% block content %}<input value='{{ form.name.data }}'>"
                "{% for e in form.name.errors %}<em>{{ e }}</em>{% endfor %}{% endblock %}", form=form),
                field=form.name if request.args.get("reshow") == "field" else None)
        accounts.save_team(db.session, None, name=f"probe-{kind}", kind=TeamKind.VENDOR, phone=None, active=True,
                           actor=None)
        raise {"domain": DomainError("refused for a reason"), "conflict": ConflictError("changed meanwhile"),
               "denied": NotAllowed("probe denial")}[kind]

    from gridpatrol.extensions import csrf

    app.add_url_rule("/_probe/<kind>", "probe", csrf.exempt(probe), methods=["POST"])


@pytest.fixture
def prober(app):
    """A logged-in member of staff, with the probe view installed."""
    _install_probe(app)
    client = app.test_client()
    helpers.login(client, helpers.make_user(app, "prober", roles=("staff",)))
    return client


def _teams(app) -> int:
    from gridpatrol.accounts.models import Team

    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Team))


@pytest.mark.parametrize("kind,status", [("domain", 422), ("conflict", 409), ("denied", 403)])
def test_json_requests_get_problem_json_and_nothing_is_kept(app, prober, kind, status):
    client = prober
    response = client.post(f"/_probe/{kind}", json={"name": "x"})
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and body["type"] == "about:blank" and body["detail"]
    if kind != "denied":
        assert body["detail"] in ("refused for a reason", "changed meanwhile")
    assert _teams(app) == 0, "the write before the refusal was rolled back"


def test_a_refused_form_is_shown_again_with_the_input_and_the_reason(app, prober):
    client = prober
    beside = client.post("/_probe/domain?reshow=field", data={"name": "水泵房"})
    assert beside.status_code == 422
    html = beside.get_data(as_text=True)
    assert "value='水泵房'" in html and "<em>refused for a reason</em>" in html
    on_top = client.post("/_probe/conflict?reshow=top", data={"name": "水泵房"})
    assert on_top.status_code == 409
    assert 'class="flash flash-error refusal"' in on_top.get_data(as_text=True)
    plain = client.post("/_probe/domain", data={"name": "x"})
    assert plain.status_code == 422 and "refused for a reason" in plain.get_data(as_text=True)
    assert _teams(app) == 0


def test_a_denial_is_answered_403_and_audited_despite_the_rollback(app, prober):
    client = prober
    response = client.post("/_probe/denied", data={"name": "x"})
    assert response.status_code == 403
    denials = helpers.audit_actions(app, "permission.denied")
    assert len(denials) == 1 and denials[0].detail["reason"] == "probe denial"
    assert _teams(app) == 0


def test_http_errors_answer_json_to_json_callers(client):
    response = client.get("/no/such/page", headers={"Accept": "application/json"})
    assert response.status_code == 404 and response.mimetype == "application/problem+json"
    assert client.get("/no/such/page").mimetype == "text/html"


def test_a_refused_csrf_token_has_its_own_problem_type(app, prober):
    """The tablet's outbox tells a stale token (fetch a fresh one, send again) from a refused patrol by this type."""
    from gridpatrol.core.errors import CSRF_PROBLEM

    response = prober.post("/notifications/read", headers={"Accept": "application/json", "X-CSRFToken": "stale"})
    assert response.status_code == 400 and response.get_json()["type"] == CSRF_PROBLEM
