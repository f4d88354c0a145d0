"""Configuration in layers: config/defaults.py → the file named by GRIDPATROL_SETTINGS → GRIDPATROL_* env vars.

Each layer may only set keys the defaults know, so a typo in a settings file or an env var is an error,
not a silently ignored value. Values from the environment are parsed to the type of the default.
"""

from __future__ import annotations

import json
import os
import zoneinfo
from pathlib import Path
from types import ModuleType
from typing import Any, Mapping

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
DEFAULTS_FILE = CONFIG_DIR / "defaults.py"
ENV_PREFIX = "GRIDPATROL_"
# Env vars with the prefix that belong to gunicorn.conf.py or the tests, not to the app.
_NON_APP_ENV = {
    "SETTINGS", "BIND", "WORKERS", "THREADS", "WORKER_CLASS", "ACCESS_LOG", "GUNICORN_LOGLEVEL",
    "FORWARDED_ALLOW_IPS", "TEST_POSTGRES_URL", "BENCH_POSTGRES_URL",
}
DEFAULT_SECRET_KEY = "insecure-default-change-me"


class ConfigurationError(RuntimeError):
    """The configuration cannot be used; the message says which key and why."""


def _read_pyfile(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigurationError(f"settings file {path} does not exist")
    module = ModuleType("gridpatrol_settings")
    module.__file__ = str(path)
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), module.__dict__)
    return {k: v for k, v in vars(module).items() if k.isupper()}


def _parse_env(key: str, raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigurationError(f"{ENV_PREFIX}{key}={raw!r}: expected true or false")
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            raise ConfigurationError(f"{ENV_PREFIX}{key}={raw!r}: expected a whole number") from None
    if isinstance(default, (list, dict)):
        try:
            value = json.loads(raw)
        except ValueError:
            raise ConfigurationError(f"{ENV_PREFIX}{key}: expected JSON") from None
        if not isinstance(value, type(default)):
            raise ConfigurationError(f"{ENV_PREFIX}{key}: expected a JSON {type(default).__name__}")
        return value
    return raw


def load_configuration(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Return the merged settings; raises ConfigurationError on unknown keys or bad values."""
    environ = os.environ if environ is None else environ
    settings = _read_pyfile(DEFAULTS_FILE)
    known = set(settings)

    def merge(layer: Mapping[str, Any], origin: str) -> None:
        unknown = sorted(set(layer) - known)
        if unknown:
            raise ConfigurationError(f"{origin}: unknown setting(s) {', '.join(unknown)}")
        settings.update(layer)

    settings_file = environ.get(ENV_PREFIX + "SETTINGS")
    if settings_file:
        merge(_read_pyfile(Path(settings_file)), settings_file)

    env_layer = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        key = name[len(ENV_PREFIX):]
        if key in _NON_APP_ENV:
            continue
        if key not in known:
            raise ConfigurationError(f"environment variable {name}: unknown setting {key}")
        env_layer[key] = _parse_env(key, raw, settings[key])
    merge(env_layer, "environment")

    if overrides:
        merge(dict(overrides), "create_app overrides")
    return settings


def validate(settings: dict[str, Any], *, serving: bool) -> None:
    """Refuse settings that would make the app unsafe or broken, saying why."""
    if serving and not (settings["DEBUG"] or settings["TESTING"]):
        if settings["SECRET_KEY"] in ("", DEFAULT_SECRET_KEY, "REPLACE-ME"):
            raise ConfigurationError(
                "SECRET_KEY still has its default value; set GRIDPATROL_SECRET_KEY (or SECRET_KEY in the "
                "file named by GRIDPATROL_SETTINGS) to a long random string before serving requests"
            )
        if len(settings["SECRET_KEY"]) < 16:
            raise ConfigurationError("SECRET_KEY is shorter than 16 characters")
    try:
        zoneinfo.ZoneInfo(settings["DEFAULT_TIMEZONE"])
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(f"DEFAULT_TIMEZONE {settings['DEFAULT_TIMEZONE']!r} is not a known time zone") from None
    if settings["DEFAULT_LOCALE"] not in settings["LANGUAGES"]:
        raise ConfigurationError("DEFAULT_LOCALE must be one of LANGUAGES")
    if settings["LOG_FORMAT"] not in ("text", "json"):
        raise ConfigurationError('LOG_FORMAT must be "text" or "json"')
    if settings["PHOTO_STORAGE"] not in ("directory", "database"):
        raise ConfigurationError('PHOTO_STORAGE must be "directory" or "database"')
    for key in ("LOGIN_MAX_FAILURES_PER_PLACE", "LOGIN_MAX_FAILURES_PER_ACCOUNT", "LOGIN_MAX_FAILURES_PER_ADDRESS",
                "LOGIN_FAILURE_WINDOW_MINUTES", "LOGIN_LOCK_MINUTES", "LOGIN_LOCK_MAX_MINUTES", "KNOWN_DEVICE_DAYS",
                "SESSION_LIFETIME_HOURS"):
        if settings[key] <= 0:
            raise ConfigurationError(f"{key} must be positive")
    if settings["LOGIN_LOCK_MAX_MINUTES"] < settings["LOGIN_LOCK_MINUTES"]:
        raise ConfigurationError("LOGIN_LOCK_MAX_MINUTES must not be less than LOGIN_LOCK_MINUTES")
    if not 8 <= settings["PASSWORD_MIN_LENGTH"] <= 64:
        raise ConfigurationError("PASSWORD_MIN_LENGTH must be from 8 to 64")
    if not 0 <= settings["PASSWORD_MIN_SCORE"] <= 4:
        raise ConfigurationError("PASSWORD_MIN_SCORE must be a zxcvbn score from 0 to 4")
    hours = settings["OFFLINE_SUBMISSION_HOURS"]
    if isinstance(hours, bool) or not isinstance(hours, int) or not 0 <= hours <= 31 * 24:
        raise ConfigurationError("OFFLINE_SUBMISSION_HOURS must be a whole number of hours from 0 to 744 (31 days)")
    url = settings["DATABASE_URL"]
    if url and not url.startswith(("sqlite", "postgresql")):
        raise ConfigurationError("DATABASE_URL must be a sqlite:/// or postgresql:// URL")


def normalise_database_url(url: str, instance_path: str) -> str:
    """Empty → the instance SQLite file; postgres:// and postgresql:// → the psycopg 3 driver."""
    if not url:
        return "sqlite:///" + str(Path(instance_path) / "gridpatrol.sqlite")
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url
