"""Language and time zone selection for Flask-Babel. Chinese unless the user chose English."""

from __future__ import annotations

from flask import Flask, current_app, g, has_request_context, session
from flask_babel import get_locale, get_translations
from flask_login import current_user
from markupsafe import Markup

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


# --- templates' gettext ------------------------------------------------------------------------------
# Flask-Babel's template callables find the catalogue anew on every call (context, domain, locale), and Jinja's
# new-style wrapper adds its own layers: ~14 µs per label, and a page shows 40 to 100 labels. `_` below keeps
# the new-style meaning (the translation is markup, the variables are escaped into it) on a shorter path.
def _catalogue():
    locale = get_locale()
    cached = g.get("gridpatrol_catalogue")
    if cached is None or cached[0] is not locale:
        cached = g.gridpatrol_catalogue = (locale, get_translations())
    return cached[1]


def _template_gettext(message: str, **variables) -> Markup:
    translated = Markup(_catalogue().ugettext(message))
    # Formatting even without variables, as Jinja does ("%%" becomes "%"), but only when there is a "%".
    return translated % variables if variables or "%" in translated else translated


def install_template_gettext(app: Flask) -> None:
    """Call after babel.init_app: `_()` and `gettext()` in templates (and {% trans %} blocks, which call the
    `gettext` global) take the shorter path; Flask-Babel's ngettext and pgettext stay as installed."""
    app.jinja_env.globals.update(_=_template_gettext, gettext=_template_gettext)
