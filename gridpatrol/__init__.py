"""GridPatrol (网格巡查): grid-based inspection of a government office compound."""

from __future__ import annotations

import logging
import os
from typing import Any, Mapping

from flask import Flask

from gridpatrol.core import settings as settings_module

MIGRATIONS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "migrations")


def create_app(config: Mapping[str, Any] | None = None, *, serving: bool = True) -> Flask:
    """Build and wire the application. Never runs DDL and never starts the scheduler.

    `serving=False` is for CLI commands, which do not sign cookies and so may run with the default
    secret key (e.g. `gridpatrol db upgrade` on a fresh checkout).
    """
    app = Flask(__name__, instance_relative_config=True)
    settings = settings_module.load_configuration(config)
    settings_module.validate(settings, serving=serving)
    app.config.update(settings)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config["SQLALCHEMY_DATABASE_URI"] = settings_module.normalise_database_url(
        settings["DATABASE_URL"], app.instance_path
    )
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = _engine_options(app.config["SQLALCHEMY_DATABASE_URI"], settings)
    app.config["PERMANENT_SESSION_LIFETIME"] = settings["SESSION_LIFETIME_HOURS"] * 3600
    # The login's server-side record expires SESSION_LIFETIME_HOURS after the login, however busy the user is, and so
    # does the cookie then: it is signed and sent again only when its content changes, not re-signed on every answer.
    app.config["SESSION_REFRESH_EACH_REQUEST"] = False
    app.config["BABEL_DEFAULT_LOCALE"] = settings["DEFAULT_LOCALE"]
    app.config["BABEL_DEFAULT_TIMEZONE"] = settings["DEFAULT_TIMEZONE"]
    app.config["WTF_CSRF_TIME_LIMIT"] = settings["SESSION_LIFETIME_HOURS"] * 3600
    app.logger.setLevel(getattr(logging, settings["LOG_LEVEL"].upper(), logging.INFO))

    _init_extensions(app)
    _register_blueprints(app)
    return app


def _engine_options(url: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": settings["SQLITE_BUSY_TIMEOUT_MS"] / 1000}}
    # No pool_pre_ping: it costs a round trip on every checkout; core.db pings only connections left idle a while.
    return {"pool_size": 5, "max_overflow": 5}


def _init_extensions(app: Flask) -> None:
    from gridpatrol.core import bodies, errors, i18n, query, request_log, security, templating, transaction
    from gridpatrol.core.db import configure_engine
    from gridpatrol.extensions import babel, csrf, db, login_manager, migrate

    request_log.init_app(app)  # first: its after_request then runs last, after the transaction's commit
    db.init_app(app)
    with app.app_context():
        configure_engine(db.engine, sqlite_busy_timeout_ms=app.config["SQLITE_BUSY_TIMEOUT_MS"])
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True, compare_type=True)
    bodies.init_app(app)  # each request's body bound, before the CSRF check reads a form
    csrf.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale, timezone_selector=i18n.select_timezone)
    i18n.install_template_gettext(app)
    login_manager.init_app(app)
    security.init_app(app)
    transaction.init_app(app)
    templating.init_app(app)
    errors.init_app(app)
    query.init_app(app)  # no NUL byte or lone surrogate in a page's query string


def _register_blueprints(app: Flask) -> None:
    from gridpatrol import (accounts, api, audit, backups, dashboard, grids, history, home, issues, notifications,
                            open311, patrols, points, scheduler, standards, workdays)

    for module in (home, accounts, audit, grids, standards, workdays, patrols, issues, points, notifications,
                   scheduler, dashboard, history, api, open311, backups):
        module.init_app(app)
