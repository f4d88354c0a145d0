"""The month-close job catches up after an outage (every ended month still open, oldest first, once), and on
PostgreSQL a close and a booking of the same site take the same lock."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
import time_machine

from gridpatrol.core.db import lock_key, write_intent
from gridpatrol.extensions import db
from gridpatrol.grids.models import Site
from gridpatrol.points import jobs, rules, services
from gridpatrol.points.models import MonthClose
from gridpatrol.scheduler.jobs import run_job
from tests import helpers
from tests.patrols.builders import at
from tests.points.test_table import DEC, NOV, build_november
from tests.scheduler import builders as scheduler_builders

NOW = dt.datetime(2026, 12, 2, 2, 0, tzinfo=dt.timezone.utc)
JAN = dt.date(2027, 1, 1)


@pytest.fixture
def world(app):
    with time_machine.travel(NOW, tick=False):
        yield build_november(app)  # entries and patrols from November 2026 on, nothing closed


def closed_months(app) -> list[tuple[str, dt.date]]:
    with app.app_context():
        return list(db.session.execute(sa.select(Site.code, MonthClose.month).join(Site, Site.id == MonthClose.site_id)
                                       .order_by(Site.code, MonthClose.month)).all())


def test_two_month_ends_missed_in_one_outage_are_closed_by_one_run_once(app, world):
    with app.app_context():
        # Down from late November to 20 January: November and December both ended unclosed.
        assert run_job("close_month", now=at("2027-01-20 01:00")).summary == "closed TEST 2026-11, TEST 2026-12"
        assert run_job("close_month", now=at("2027-01-20 02:00")).summary == "no month to close"
        assert run_job("close_month", now=at("2027-02-06 00:00")).summary == "closed TEST 2027-01"
    assert closed_months(app) == [("TEST", NOV), ("TEST", DEC), ("TEST", JAN)]


def test_before_the_close_day_only_the_older_months_are_closed(app, world):
    with app.app_context():
        # 4 January: December (just ended) waits for the 5th, November is closed at once.
        assert run_job("close_month", now=at("2027-01-04 23:59")).summary == "closed TEST 2026-11"
        assert run_job("close_month", now=at("2027-01-05 00:00")).summary == "closed TEST 2026-12"
    assert closed_months(app) == [("TEST", NOV), ("TEST", DEC)]


def test_months_to_close_start_at_the_first_activity_or_after_the_last_close(app, world):
    with app.app_context():
        site = db.session.scalar(sa.select(Site).where(Site.code == "TEST"))
        later = at("2027-03-10 12:00")
        assert jobs.months_to_close(db.session, site, later, close_day=5) == [NOV, DEC, JAN, dt.date(2027, 2, 1)]
        assert jobs.months_to_close(db.session, site, at("2026-11-30 23:00"), close_day=5) == []
        db.session.add(MonthClose(site_id=site.id, month=DEC, closed_at=at("2027-01-05 00:00")))
        db.session.flush()
        assert jobs.months_to_close(db.session, site, later, close_day=5) == [JAN, dt.date(2027, 2, 1)]
        db.session.rollback()


def test_a_site_without_entries_or_patrols_has_nothing_to_close(app, world):
    scheduler_builders.second_site(app, starts_on=dt.date(2027, 3, 1))  # a plan, but no patrol made yet
    with app.app_context():
        assert run_job("close_month", now=at("2027-01-20 01:00")).summary == "closed TEST 2026-11, TEST 2026-12"
    assert closed_months(app) == [("TEST", NOV), ("TEST", DEC)]


def test_a_failing_site_does_not_keep_the_others_open(app, world, monkeypatch):
    scheduler_builders.second_site(app, starts_on=dt.date(2026, 12, 1))
    with app.app_context():
        assert run_job("materialize", now=at("2026-12-01 06:00")).ok  # OTHER has December patrols
        assert run_job("mark_missed", now=at("2027-01-20 00:30")).ok  # ...all missed (a month closes once decided)
    real = services.close_month

    def broken_for_test(session, site, month, **kwargs):
        if site.code == "TEST":
            raise RuntimeError("ledger of TEST is inconsistent")
        return real(session, site, month, **kwargs)

    monkeypatch.setattr(services, "close_month", broken_for_test)
    with app.app_context():
        result = run_job("close_month", now=at("2027-01-20 01:00"))
    assert not result.ok
    assert result.summary == "closed OTHER 2026-12; FAILED TEST: RuntimeError: ledger of TEST is inconsistent"
    assert closed_months(app) == [("OTHER", DEC)]


def _hold_lock(database_url: str, key: int):
    engine = sa.create_engine(helpers.psycopg_url(database_url))
    conn = engine.connect()
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
    return engine, conn


def test_on_postgresql_a_close_and_a_booking_of_the_site_wait_for_each_other(app, world, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite serialises them with its single write lock (BEGIN IMMEDIATE)")
    leader = helpers.make_user(app, "someone", roles=("grid_leader",)).id
    with app.app_context():
        site_id = db.session.scalar(sa.select(Site.id).where(Site.code == "TEST"))
    # Another transaction is booking into TEST (or closing it): it holds the site's month lock.
    engine, other = _hold_lock(database_url, lock_key(f"points-months:{site_id}"))
    earning = rules.Earning(leader, "issue_found_minor", "issue", 999_999, at("2026-11-20 10:00"), "test")
    try:
        with app.app_context(), write_intent():
            for attempt in (lambda s: services.close_month(s, s.get(Site, site_id), NOV, actor=None,
                                                           now=at("2026-12-10 00:00")),
                            lambda s: services.book(s, site_id, earning),
                            lambda s: services.book_many(s, site_id, [earning])):
                db.session.execute(sa.text("SET LOCAL lock_timeout = '200ms'"))
                with pytest.raises(sa.exc.OperationalError, match="lock timeout"):
                    attempt(db.session)
                db.session.rollback()
        other.rollback()  # released: now the close goes through, and a late booking goes to December
        with app.app_context(), write_intent():
            assert services.close_month(db.session, db.session.get(Site, site_id), NOV, actor=None,
                                        now=at("2026-12-10 00:00"))
            entry_id = services.book(db.session, site_id, earning)
            db.session.commit()
            assert services.entries(db.session, site_id, DEC)[-1].id == entry_id
    finally:
        other.close()
        engine.dispose()
