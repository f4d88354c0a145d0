"""Declarative base, portable column types, and how GridPatrol talks to SQLite and PostgreSQL.

SQLite (the embedded default) runs in WAL mode with synchronous=FULL so a committed patrol survives a
power cut, a busy timeout so concurrent writers wait instead of failing, and `BEGIN IMMEDIATE` for
transactions that intend to write, so two writers never both read then deadlock on upgrade.
PostgreSQL runs through psycopg 3; writers that must not race take a transaction-scoped advisory lock.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import hashlib
import os
import weakref
from typing import Iterator

from sqlalchemy import DateTime, MetaData, event, text
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
        return

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
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _write_intent.get() else "BEGIN")


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
        # The transaction (and with it the write lock) only begins at the first statement.
        session.execute(text("SELECT 1"))


# --- bulk reads and writes ---
# PostgreSQL's protocol allows 65,535 bound parameters per statement: keep IN lists well below that.
IN_CHUNK = 5000


def chunked(values, size: int = IN_CHUNK):
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start:start + size]


# --- bulk writes ---------------------------------------------------------------------------------------
def insert_ignoring_conflicts(session: Session, table, rows: list[dict], conflict_columns: list[str]) -> list:
    """INSERT rows, skipping any that would break the unique key on conflict_columns; returns the primary
    keys of the rows actually inserted.

    Lets idempotent jobs (materialising patrols, sending reminders) run twice, or side by side, safely.
    """
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    # RETURNING counts what was really inserted; executemany's rowcount is unreliable across drivers.
    key = list(table.primary_key.columns)[0]
    statement = insert(table).on_conflict_do_nothing(index_elements=conflict_columns).returning(key)
    return [row[0] for row in session.execute(statement, rows).all()]
