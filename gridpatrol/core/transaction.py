"""The transaction boundary: one commit per request or job, a rollback on any error.

Services only flush. A request commits once, after the view, when the response is a success
(status < 400); an error status or an exception rolls everything back, so a refused form or a failed
check never half-saves. Security records that must outlive that rollback (a denied request in the
audit log) are queued with `record_despite_rollback` and written in a transaction of their own.
"""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator

from flask import Flask, Response, g, request
from sqlalchemy.orm import Session

from gridpatrol.core.db import reset_write_intent, set_write_intent, write_intent
from gridpatrol.extensions import db

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def record_despite_rollback(callback: Callable[[Session], None]) -> None:
    """Run callback(session) after this request's own work is committed or rolled back, and commit it."""
    g.setdefault("_records_despite_rollback", []).append(callback)


def _flush_deferred_records() -> None:
    callbacks = g.pop("_records_despite_rollback", [])
    if not callbacks:
        return
    with write_intent():
        try:
            for callback in callbacks:
                callback(db.session)
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise


def roll_back_request() -> None:
    """Undo this request's work now, before a refusal re-renders its page (the error adapter calls this),
    so the page shows the state from before the request. The boundary rolls back again after it: harmless."""
    db.session.rollback()


def init_app(app: Flask) -> None:
    # Before anything reads the database: the URL's site is loaded by a URL value preprocessor (grids), which
    # Flask runs before the before_request functions, and on SQLite a transaction that began as a read cannot
    # become a write while another writer holds the lock ("database is locked"). This preprocessor is registered
    # first (extensions before blueprints), so a writing request begins BEGIN IMMEDIATE from its first statement.
    @app.url_value_preprocessor
    def _declare_write_intent(_endpoint, _values) -> None:
        if "_write_intent_token" not in g:
            g._write_intent_token = set_write_intent(request.method not in SAFE_METHODS)

    @app.after_request
    def _commit_or_roll_back(response: Response) -> Response:
        if response.status_code < 400:
            db.session.commit()
        else:
            db.session.rollback()
        _flush_deferred_records()
        return response

    @app.teardown_request
    def _roll_back_on_exception(exc: BaseException | None) -> None:
        if exc is not None:
            db.session.rollback()
            try:
                _flush_deferred_records()
            except Exception:  # the original exception matters more than a failed audit write
                app.logger.exception("could not write deferred security records")
        token = g.pop("_write_intent_token", None)
        if token is not None:
            reset_write_intent(token)


@contextlib.contextmanager
def job_transaction() -> Iterator[Session]:
    """For CLI commands and scheduler jobs: one write transaction, committed at the end or rolled back."""
    with write_intent():
        try:
            yield db.session
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
