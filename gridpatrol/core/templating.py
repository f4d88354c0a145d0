"""Jinja globals and filters shared by every page."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from flask_babel import format_date, get_locale
from flask_wtf.csrf import generate_csrf

from gridpatrol.core import navigation
from gridpatrol.core.categories import Category
from gridpatrol.core.i18n import LANGUAGE_NAMES
from gridpatrol.core.roles import Role
from gridpatrol.core.time import format_local


def init_app(app: Flask) -> None:
    app.jinja_env.filters["localtime"] = format_local
    # "周日" / "Sun": the locale's short weekday name, from Babel's CLDR data.
    app.jinja_env.filters["weekday_label"] = lambda day: format_date(day, "EEE")
    app.jinja_env.globals["csrf_token"] = generate_csrf
    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.globals["language_names"] = LANGUAGE_NAMES
    app.jinja_env.globals["nav_items"] = navigation.items_for_current_user
    app.jinja_env.globals["category_label"] = lambda code: Category(code).label
    app.jinja_env.globals["role_label"] = lambda code: Role(code).label
    app.jinja_env.globals["timedelta_minutes"] = lambda n: dt.timedelta(minutes=n)
