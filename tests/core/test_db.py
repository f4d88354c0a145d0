"""How GridPatrol uses its databases: SQLite durability settings, write transactions, UTC, forks."""

import datetime as dt
import os
import sqlite3
import threading
import time

import pytest
import sqlalchemy as sa

from gridpatrol.core.db import UTCDateTime, lock_key, serialize_writers, write_intent
from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db


def _is_sqlite(app):
    return app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")


def test_sqlite_pragmas(app):
    if not _is_sqlite(app):
        pytest.skip("SQLite-only settings")
    with app.app_context():
        conn = db.session.connection()
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == app.config["SQLITE_BUSY_TIMEOUT_MS"]


def test_sqlite_write_transactions_begin_immediate(app):
    """A write transaction holds the write lock from its first statement, so another writer waits."""
    if not _is_sqlite(app):
        pytest.skip("SQLite locking")
    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    with app.app_context(), write_intent():
        db.session.execute(sa.text("SELECT 1"))  # only a read, but the transaction began IMMEDIATE
        other = sqlite3.connect(path, timeout=0.05, isolation_level=None)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        other.close()
        db.session.rollback()


def test_sqlite_read_transactions_do_not_block_writers(app):
    if not _is_sqlite(app):
        pytest.skip("SQLite locking")
    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    with app.app_context():
        db.session.execute(sa.text("SELECT count(*) FROM users"))
        other = sqlite3.connect(path, timeout=0.05, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        other.close()
        db.session.rollback()


def test_utc_datetime_round_trip(app):
    table = sa.Table("utc_probe", sa.MetaData(), sa.Column("at", UTCDateTime()))
    shanghai = dt.timezone(dt.timedelta(hours=8))
    with app.app_context():
        engine = db.engine
        table.create(engine)
        try:
            with engine.begin() as conn:
                conn.execute(table.insert(), {"at": dt.datetime(2026, 1, 1, 8, 30, tzinfo=shanghai)})
            with engine.connect() as conn:
                value = conn.execute(sa.select(table.c.at)).scalar_one()
        finally:
            table.drop(engine)
    assert value == dt.datetime(2026, 1, 1, 0, 30, tzinfo=dt.timezone.utc)
    assert value.tzinfo == dt.timezone.utc


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="naive"):
        UTCDateTime().process_bind_param(dt.datetime(2026, 1, 1), sa.create_engine("sqlite://").dialect)


def test_job_transaction_rolls_back_everything_on_error(app):
    from gridpatrol.accounts import services
    from gridpatrol.core.roles import Role

    with app.app_context():
        with pytest.raises(RuntimeError):
            with job_transaction() as session:
                services.create_user(session, username="ghost", display_name="Ghost", password="abc12345",
                                     roles=[Role.STAFF])
                raise RuntimeError("boom")
        assert services.get_user_by_username(db.session, "ghost") is None


def test_serialize_writers_makes_writers_take_turns(app):
    """Two transactions taking the same writer lock never overlap, on either database."""
    spans = []

    def worker():
        with app.app_context(), job_transaction() as session:
            serialize_writers(session, "test-lock")
            start = time.monotonic()
            time.sleep(0.3)
            spans.append((start, time.monotonic()))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (a_start, a_end), (b_start, b_end) = sorted(spans)
    assert b_start >= a_end - 0.01


def test_serialize_writers_on_sqlite_needs_a_write_transaction(app):
    if not _is_sqlite(app):
        pytest.skip("the guard is SQLite-specific")
    with app.app_context():
        with pytest.raises(RuntimeError, match="write-intent"):
            serialize_writers(db.session, "x")


def test_lock_keys_are_stable_64_bit():
    assert lock_key("login:alice") == lock_key("login:alice")
    assert lock_key("login:alice") != lock_key("login:bob")
    assert -(2 ** 63) <= lock_key("x") < 2 ** 63


def test_no_pooled_connection_survives_a_fork(app):
    """A forked child must open its own connections, never reuse the parent's pooled ones."""
    with app.app_context():
        engine = db.engine
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        assert engine.pool.checkedin() >= 1
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # child
            os.close(read_fd)
            os.write(write_fd, str(engine.pool.checkedin()).encode())
            os._exit(0)
        os.close(write_fd)
        child_checked_in = int(os.read(read_fd, 16).decode())
        os.close(read_fd)
        os.waitpid(pid, 0)
    assert child_checked_in == 0
