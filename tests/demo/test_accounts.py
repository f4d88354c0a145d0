"""The demo's logins and teams: every team has someone who can work on what is dispatched to it, and the README's
table lists every login."""

from __future__ import annotations

import re

import sqlalchemy as sa

from gridpatrol.accounts.models import Team
from gridpatrol.core.transaction import job_transaction
from gridpatrol.demo import services as demo
from gridpatrol.issues import services as issues
from tests.helpers import REPO_ROOT


def test_every_demo_team_has_an_active_rectifier(app):
    from gridpatrol.grids import demo as grids_demo
    from gridpatrol.grids.models import Site

    with app.app_context(), job_transaction() as session:
        grids_demo.load_sites(session)  # the logins are given roles at the demo's sites
        demo.load_accounts(session)
        teams = session.scalars(sa.select(Team)).all()
        assert {t.name for t in teams} == {name for name, _kind, _phone in demo.DEMO_TEAMS}
        for site in session.scalars(sa.select(Site)):
            assert [t.name for t in teams if not issues._team_can_act(session, t, site_id=site.id)] == []


def test_the_readme_lists_every_demo_login():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    listed = dict(re.findall(r"^\| `([a-z0-9_]+)` \| (\S+) \|", readme, re.M))
    assert {login.username: login.display_name for login in demo.DEMO_LOGINS} == listed


def test_every_demo_login_opens_with_the_demo_password(app):
    """The accounts share one hash of the public demo password (hashed once for the load): each still logs in."""
    from gridpatrol.grids import demo as grids_demo
    from tests import helpers

    with app.app_context(), job_transaction() as session:
        grids_demo.load_sites(session)
        demo.load_accounts(session)
    for login in demo.DEMO_LOGINS:
        client = app.test_client()
        answer = helpers.login(client, helpers.Credentials(0, login.username, demo.DEMO_PASSWORD))
        assert answer.status_code == 302, login.username
        wrong = app.test_client()
        assert helpers.login(wrong, helpers.Credentials(0, login.username, "demo2027")).status_code != 302
