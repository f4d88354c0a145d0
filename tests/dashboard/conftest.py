from __future__ import annotations

import pytest

from tests import helpers
from tests.dashboard import builders


@pytest.fixture
def frozen(monkeypatch):
    """The dashboard, the queue and the patrol board believe it is builders.NOW."""
    import gridpatrol.dashboard.views as dashboard_views
    import gridpatrol.issues.views as issue_views
    import gridpatrol.patrols.views as patrol_views

    for module in (dashboard_views, issue_views, patrol_views):
        monkeypatch.setattr(module, "utcnow", lambda: builders.NOW)
    return builders.NOW


@pytest.fixture
def history(app, frozen):
    """Three months of history at TEST, three weeks at OTHER (tests/dashboard/builders.py)."""
    return builders.build(app)


@pytest.fixture
def short_history(app, frozen):
    """The same people and plans with three days of history: for the tests of who may see what."""
    import datetime as dt

    return builders.build(app, history_from=builders.NOW.date() - dt.timedelta(days=3))


def client_of(app, username: str):
    client = app.test_client()
    response = helpers.login(client, helpers.Credentials(0, username, helpers.DEFAULT_PASSWORD))
    assert response.status_code == 302, username
    return client
