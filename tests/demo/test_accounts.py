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
    with app.app_context(), job_transaction() as session:
        demo.load_accounts(session)
        teams = session.scalars(sa.select(Team)).all()
        assert {t.name for t in teams} == {name for name, _kind, _phone in demo.DEMO_TEAMS}
        # the demo gives roles for every site, so any site id answers the same
        assert [t.name for t in teams if not issues._team_can_act(session, t, site_id=0)] == []


def test_the_readme_lists_every_demo_login():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    listed = dict(re.findall(r"^\| `([a-z0-9_]+)` \| (\S+) \|", readme, re.M))
    assert {login.username: login.display_name for login in demo.DEMO_LOGINS} == listed
