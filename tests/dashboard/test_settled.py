"""The dashboard keeps the patrol counts of days before today (patrols.stats.SettledCounts) and counts only
today's onwards in the database; the figures are the same as counting everything, and a kept count lives
`ttl` seconds."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from gridpatrol.core.transaction import job_transaction
from gridpatrol.dashboard import read_model
from gridpatrol.grids.models import Site
from gridpatrol.patrols import stats
from gridpatrol.patrols.models import Patrol
from tests import helpers
from tests.dashboard.builders import NOW


def _periods(site: Site):
    cal = read_model.calendar(site, NOW)
    return cal, {p.name: p.bounds for p in (cal.today, cal.month, cal.last_month, cal.year, *cal.weeks)}


def test_kept_counts_give_the_figures_of_a_full_count(app, history):
    store = stats.SettledCounts()
    with app.app_context(), job_transaction() as session:
        site = session.scalar(sa.select(Site).where(Site.code == "TEST"))
        cal, periods = _periods(site)
        full = stats.counts_by_period(session, site, periods, NOW)
        first = stats.counts_by_period(session, site, periods, NOW, settled=store, settled_before=cal.today.start)
        with helpers.statements_run(session.get_bind()) as statements:
            second = stats.counts_by_period(session, site, periods, NOW, settled=store,
                                            settled_before=cal.today.start)
    assert first == full and second == full
    assert full["year"].total > full["today"].total > 0  # the history has patrols before today and today
    # the second count asked the database only for patrols from today on
    assert len(statements) == 1


def test_a_kept_count_expires(app, history, monkeypatch):
    store = stats.SettledCounts(ttl=60)
    clock = [1000.0]
    monkeypatch.setattr(stats.time, "monotonic", lambda: clock[0])
    with app.app_context(), job_transaction() as session:
        site = session.scalar(sa.select(Site).where(Site.code == "TEST"))
        cal, periods = _periods(site)
        before = stats.counts_by_period(session, site, periods, NOW, settled=store, settled_before=cal.today.start)
        # a patrol of last month changes by hand (as a late offline submission would change its state)
        patrol = session.scalar(sa.select(Patrol).where(Patrol.site_id == site.id,
                                                        Patrol.window_start >= cal.last_month.start,
                                                        Patrol.window_start < cal.last_month.end,
                                                        Patrol.status == "missed").limit(1))
        assert patrol is not None
        patrol.status, patrol.submitted_at = "submitted", patrol.due_at - dt.timedelta(minutes=5)
        session.flush()
        clock[0] += 30  # within the kept time: the last month's figures are the kept ones
        kept = stats.counts_by_period(session, site, periods, NOW, settled=store, settled_before=cal.today.start)
        clock[0] += 31  # past it: counted again
        fresh = stats.counts_by_period(session, site, periods, NOW, settled=store, settled_before=cal.today.start)
    assert kept["last_month"] == before["last_month"]
    assert fresh["last_month"].missed == before["last_month"].missed - 1
    assert fresh["last_month"].done == before["last_month"].done + 1
