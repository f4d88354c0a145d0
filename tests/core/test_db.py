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


# --- the SQLite writer gate ---------------------------------------------------------------------------------
def _gated_engine(tmp_path, timeout_ms=2000):
    from gridpatrol.core.db import configure_engine

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'gate.sqlite'}", connect_args={"timeout": timeout_ms / 1000})
    configure_engine(engine, sqlite_busy_timeout_ms=timeout_ms)
    with write_intent(), engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (n INTEGER)")
    return engine, str(tmp_path / "gate.sqlite.writer-gate")


def _gate_is_free(gate: str) -> bool:
    import fcntl

    fd = os.open(gate, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def test_a_writer_holds_the_gate_until_its_commit_or_rollback(tmp_path):
    engine, gate = _gated_engine(tmp_path)
    for finish in ("commit", "rollback"):
        with write_intent(), engine.connect() as conn:
            conn.begin()
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
            assert not _gate_is_free(gate)
            getattr(conn, finish)()
        assert _gate_is_free(gate), finish
    with engine.connect() as conn:  # readers never take it
        conn.exec_driver_sql("SELECT count(*) FROM t").scalar()
        assert _gate_is_free(gate)
    engine.dispose()


def test_a_waiting_writer_goes_as_soon_as_the_holder_commits(tmp_path):
    engine, gate = _gated_engine(tmp_path)
    holder_in, release = threading.Event(), threading.Event()
    order = []

    def holder():
        with write_intent(), engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
            holder_in.set()
            release.wait(5)
            order.append("holder commits")

    def waiter():
        holder_in.wait(5)
        with write_intent(), engine.begin() as conn:
            order.append("waiter begins")
            conn.exec_driver_sql("INSERT INTO t VALUES (2)")

    threads = [threading.Thread(target=holder), threading.Thread(target=waiter)]
    for t in threads:
        t.start()
    holder_in.wait(5)
    time.sleep(0.2)  # the waiter is at the gate by now, and must still be waiting
    assert order == []
    release.set()
    for t in threads:
        t.join(10)
    assert order == ["holder commits", "waiter begins"]
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT n FROM t ORDER BY n").scalars().all() == [1, 2]
    engine.dispose()


def test_a_gate_held_past_the_busy_timeout_fails_like_a_locked_database(tmp_path):
    import fcntl

    engine, gate = _gated_engine(tmp_path, timeout_ms=200)
    fd = os.open(gate, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another process's writer, stuck
    try:
        began = time.monotonic()
        with pytest.raises(sa.exc.OperationalError, match="locked"):
            with write_intent(), engine.begin() as conn:
                conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        assert time.monotonic() - began < 2
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0
    with write_intent(), engine.begin() as conn:  # and once it is free, writing works again
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    engine.dispose()


def _backend_pid(conn) -> int:
    return conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()


def test_postgres_replaces_a_pooled_connection_the_server_closed_while_it_was_idle(app, monkeypatch):
    """Idle longer than PING_AFTER_IDLE_S, a pooled connection is pinged before use: one the server has closed (a
    restart, an idle timeout) is replaced and the request never sees it."""
    from gridpatrol.core import db as core_db

    if _is_sqlite(app):
        pytest.skip("PostgreSQL connections")
    with app.app_context():
        engine = db.engine
        with engine.connect() as conn:
            old_pid = _backend_pid(conn)
        killer = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"], poolclass=sa.pool.NullPool)
        with killer.begin() as conn:
            assert conn.exec_driver_sql(f"SELECT pg_terminate_backend({old_pid})").scalar()
        killer.dispose()
        monkeypatch.setattr(core_db, "PING_AFTER_IDLE_S", 0.0)
        with engine.connect() as conn:  # the connection that was killed, pinged, found dead, replaced
            assert _backend_pid(conn) not in (old_pid, None)


def test_postgres_pings_only_connections_that_sat_idle(app, monkeypatch):
    from gridpatrol.core import db as core_db

    if _is_sqlite(app):
        pytest.skip("PostgreSQL connections")
    pings = []
    with app.app_context():
        engine = db.engine
        real_ping = engine.dialect.do_ping
        monkeypatch.setattr(engine.dialect, "do_ping", lambda c: pings.append(1) or real_ping(c))
        for _ in range(3):  # in steady use: no round trip before each use
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        assert pings == []
        monkeypatch.setattr(core_db, "PING_AFTER_IDLE_S", 0.0)
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        assert pings == [1]
