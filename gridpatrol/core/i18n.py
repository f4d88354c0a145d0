"""Language and time zone selection for Flask-Babel. Chinese unless the user chose English."""

from __future__ import annotations

from flask import current_app, has_request_context, session
from flask_login import current_user

from gridpatrol.core.time import display_timezone

LANGUAGE_NAMES = {"zh": "中文", "en": "English"}


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # CLI commands and scheduler jobs speak the site's default language
        return current_app.config["DEFAULT_LOCALE"]
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    chosen = session.get("locale")
    if chosen in languages:
        return chosen
    return current_app.config["DEFAULT_LOCALE"]


def select_timezone() -> str:
    return str(display_timezone())
