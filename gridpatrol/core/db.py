"""Declarative base, portable column types, and how GridPatrol talks to SQLite and PostgreSQL.

SQLite (the embedded default) runs in WAL mode with synchronous=FULL so a committed patrol survives a
power cut, a busy timeout so concurrent writers wait instead of failing, and `BEGIN IMMEDIATE` for
transactions that intend to write, so two writers never both read then deadlock on upgrade. Writers queue
for that lock at a gate of their own (a file lock beside the database) rather than in SQLite's busy
handler, which retries with sleeps that grow to 100 ms and leaves the database idle while writers sleep.
PostgreSQL runs through psycopg 3; writers that must not race take a transaction-scoped advisory lock; pooled
connections are pinged before use only after sitting idle (see `PING_AFTER_IDLE_S`).
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import fcntl
import hashlib
import os
import time
import weakref
from typing import Iterator

from sqlalchemy import DateTime, MetaData, event, text
from sqlalchemy.exc import InvalidatePoolError, OperationalError
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, registry
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Timestamps are stored in UTC and always come back timezone-aware (UTC).

    PostgreSQL keeps them as timestamptz; SQLite has no time zone, so naive UTC is stored there.
    A naive datetime handed in is refused: it is a bug to not know which zone a time is in.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use gridpatrol.core.time.utcnow()")
        value = value.astimezone(dt.timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


class Base(DeclarativeBase):
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={dt.datetime: UTCDateTime()},
    )


# --- write intent -------------------------------------------------------------------------------
# Set for requests with an unsafe method and for jobs/CLI commands that write; read when SQLite
# begins a transaction.
_write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar("gridpatrol_write_intent", default=False)


def set_write_intent(value: bool) -> contextvars.Token:
    return _write_intent.set(value)


def reset_write_intent(token: contextvars.Token) -> None:
    _write_intent.reset(token)


@contextlib.contextmanager
def write_intent() -> Iterator[None]:
    token = _write_intent.set(True)
    try:
        yield
    finally:
        _write_intent.reset(token)


# --- engines --------------------------------------------------------------------------------------
_engines: "weakref.WeakSet[Engine]" = weakref.WeakSet()


def configure_engine(engine: Engine, *, sqlite_busy_timeout_ms: int) -> None:
    """Install the per-dialect behaviour described in the module docstring on one engine."""
    _engines.add(engine)
    if engine.dialect.name != "sqlite":
        _ping_idle_connections(engine)
        return

    gate_path = _writer_gate_path(engine)

    @event.listens_for(engine, "connect")
    def _sqlite_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy's "begin" event below emit BEGIN itself, instead of pysqlite's implicit one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(sqlite_busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(conn) -> None:
        if not _write_intent.get():
            conn.exec_driver_sql("BEGIN")
            return
        if gate_path is not None:
            _enter_writer_gate(conn.info, gate_path, sqlite_busy_timeout_ms / 1000)
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    if gate_path is not None:
        # Checked in means committed or rolled back: the next writer may go.
        event.listen(engine, "checkin", lambda _dbapi, record: _leave_writer_gate(record.info))
        event.listen(engine, "close", lambda _dbapi, record: _close_writer_gate(record.info))
        event.listen(engine, "invalidate", lambda _dbapi, record, _exc: _close_writer_gate(record.info))


# --- PostgreSQL: pinging pooled connections ------------------------------------------------------------------
# A pooled connection that sat unused for PING_AFTER_IDLE_S is tested with a round trip before it is handed out, and
# replaced (with every older one) when the server has closed it: a restarted server, an idle timeout, a dropped
# network. SQLAlchemy's pool_pre_ping does the same on every checkout, which was one round trip in five of the
# cheapest request. A connection in steady use worked a moment ago; should the server go away under load, the request
# that finds out fails (as the requests running at that moment do anyway), SQLAlchemy sees the disconnect and
# replaces every older pooled connection.
PING_AFTER_IDLE_S = 2.0


def _ping_idle_connections(engine: Engine) -> None:
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _idle_from_now(_dbapi_connection, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, _proxy) -> None:
        idle_since = record.info.get("idle_since")  # none yet: a connection just made
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if not dialect.is_disconnect(error, dbapi_connection, None):
                raise
            # The pool replaces this connection and every older one, and tries again.
            raise InvalidatePoolError("a pooled connection was closed by the server") from error


# --- the SQLite writer gate ----------------------------------------------------------------------------
def _writer_gate_path(engine: Engine) -> str | None:
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return os.path.abspath(database) + ".writer-gate"


def _enter_writer_gate(info: dict, path: str, timeout_s: float) -> None:
    """Take the gate for this pooled connection (kept until check-in), or fail as a busy SQLite would."""
    if info.get("writer_gate_held"):
        return
    fd = info.get("writer_gate_fd")
    if fd is None:
        fd = info["writer_gate_fd"] = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + timeout_s
    delay = 0.0002
    while True:
        try:
            # Polled with short sleeps (≤ 2 ms) rather than blocking, so the busy timeout still bounds the wait.
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise OperationalError("BEGIN IMMEDIATE", None, Exception("database is locked (writer gate)"))
            time.sleep(delay)
            delay = min(delay * 2, 0.002)
    info["writer_gate_held"] = True


def _leave_writer_gate(info: dict) -> None:
    if info.pop("writer_gate_held", False):
        fcntl.flock(info["writer_gate_fd"], fcntl.LOCK_UN)


def _close_writer_gate(info: dict) -> None:
    info.pop("writer_gate_held", None)
    fd = info.pop("writer_gate_fd", None)
    if fd is not None:
        os.close(fd)  # closing the descriptor also releases its lock


def _dispose_engines_after_fork() -> None:
    # A pooled connection inherited through fork would be shared by two processes; drop the
    # references without closing (the parent still owns those sockets).
    for engine in list(_engines):
        engine.dispose(close=False)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_dispose_engines_after_fork)


# --- locks ------------------------------------------------------------------------------------------
def lock_key(name: str) -> int:
    """A stable signed 64-bit key for a lock name (pg advisory locks take a bigint)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


def serialize_writers(session: Session, name: str) -> None:
    """Make concurrent transactions that call this with the same name run one after another.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: write transactions begin IMMEDIATE, which
    takes the database's single write lock (the caller must be in a write-intent context).
    """
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(name)})
    else:
        if not _write_intent.get():
            raise RuntimeError("serialize_writers on SQLite outside a write-intent transaction")
        # Begin the transaction now if it has not begun: checking out the connection runs the "begin" event
        # above (BEGIN IMMEDIATE, which takes the write lock). No statement of its own.
        session.connection()


# --- bulk reads and writes ---
# PostgreSQL's protocol allows 65,535 bound parameters per statement: keep IN lists well below that.
IN_CHUNK = 5000


def chunked(values, size: int = IN_CHUNK):
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start:start + size]


# --- bulk writes ---------------------------------------------------------------------------------------
def insert_ignoring_conflicts(session: Session, table, rows: list[dict], conflict_columns: list[str], *,
                              returning: list | None = None) -> list:
    """INSERT rows, skipping any that would break the unique key on conflict_columns; returns the primary
    keys of the rows actually inserted (or, with `returning`, those columns of them, as tuples).

    Lets idempotent jobs (materialising patrols, sending reminders) run twice, or side by side, safely.
    """
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    columns = tuple(returning or [list(table.primary_key.columns)[0]])
    # The statement is built once per shape: building it (and its cache key) cost more than running it for the
    # one-row inserts done on every patrol submission (a points entry) and every notification.
    key = (table, dialect, tuple(conflict_columns), tuple(c.key for c in columns))
    statement = _insert_ignoring.get(key)
    if statement is None:
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        # RETURNING counts what was really inserted; executemany's rowcount is unreliable across drivers.
        statement = _insert_ignoring[key] = insert(table).on_conflict_do_nothing(
            index_elements=conflict_columns).returning(*columns)
    result = session.execute(statement, rows[0] if len(rows) == 1 else rows).all()
    return [tuple(row) for row in result] if returning else [row[0] for row in result]


_insert_ignoring: dict[tuple, object] = {}
