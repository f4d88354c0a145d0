import pytest

from gridpatrol.workdays import sources


@pytest.fixture
def no_official_2027(monkeypatch):
    """2027 with no official data, whatever release of the calendar package is installed."""
    covers = sources.package_covers
    monkeypatch.setattr(sources, "package_covers", lambda year: year < 2027 and covers(year))
