from __future__ import annotations

import pytest

from tests.api import builders


@pytest.fixture
def world(app):
    builders.world(app)


@pytest.fixture
def world_for_schemathesis(app, world):
    """The headers schemathesis sends: a token of a supervisor of every site (it reaches every operation)."""
    from tests.api.builders import bearer, token_for

    return bearer(token_for(app, "boss"))
