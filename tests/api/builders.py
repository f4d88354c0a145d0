"""A compound for the API tests: the issues world (site TEST, four grids, every role at every site) and a second
site OTHER with people who hold their roles there only; API tokens made through the service."""

from __future__ import annotations

import datetime as dt

from shapely.geometry import box

from gridpatrol.accounts import services as accounts
from gridpatrol.accounts import tokens
from gridpatrol.core.roles import Role
from gridpatrol.core.time import utcnow
from gridpatrol.core.transaction import job_transaction
from gridpatrol.grids import services as grid_services
from tests import helpers
from tests.grids import builders as grid_builders
from tests.issues import builders as issue_builders
from tests.issues.builders import user

OTHER_GRIDS = grid_builders.collection(grid_builders.feature("Z01", box(121.0, 31.0, 121.005, 31.005), name="泗水一区"))


def world(app) -> None:
    issue_builders.world(app)
    with app.app_context(), job_transaction() as session:
        other = grid_services.create_site(session, code="OTHER", name="泗水办公区",
                                          boundary=box(121.0, 31.0, 121.01, 31.01))
        grid_services.import_grids(session, other, OTHER_GRIDS)
        for username, role in (("boss_other", Role.SUPERVISOR), ("clerk_other", Role.STAFF)):
            accounts.create_user(session, username=username, display_name=username.title(),
                                 password=helpers.DEFAULT_PASSWORD, roles=[(role, other.id)])


def token_for(app, username: str, *, days: int | None = None, name: str = "test") -> str:
    with app.app_context(), job_transaction() as session:
        _row, token = tokens.create(session, user(session, username), name=name, expires_days=days, now=utcnow())
        return token


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def revoke_all(app, username: str) -> None:
    with app.app_context(), job_transaction() as session:
        for row in tokens.live(session, user(session, username), utcnow()):
            tokens.revoke(session, row, now=utcnow())


def expire_all(app, username: str) -> None:
    with app.app_context(), job_transaction() as session:
        for row in tokens.live(session, user(session, username), utcnow()):
            row.expires_at = utcnow() - dt.timedelta(seconds=1)
