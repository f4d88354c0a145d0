from __future__ import annotations

import pytest

from tests.grids import map_world


@pytest.fixture
def status_world(app, monkeypatch):
    """map_world's six grids, one in each map status at map_world.NOW, and the grid pages believing it is then."""
    grids = map_world.build(app, map_world.NOW)
    monkeypatch.setattr("gridpatrol.grids.views.utcnow", lambda: map_world.NOW)
    return grids
