"""Configuration layers and the refusals that keep a misconfigured app from starting."""

import pytest

from gridpatrol import create_app
from gridpatrol.core.settings import ConfigurationError, load_configuration, normalise_database_url


def test_layers_apply_in_order(tmp_path):
    settings_file = tmp_path / "settings.py"
    settings_file.write_text('DEFAULT_TIMEZONE = "Asia/Urumqi"\nLOGIN_MAX_FAILURES_PER_ACCOUNT = 7\n')
    environ = {"GRIDPATROL_SETTINGS": str(settings_file), "GRIDPATROL_LOGIN_MAX_FAILURES_PER_ACCOUNT": "5"}
    settings = load_configuration(environ=environ)
    assert settings["DEFAULT_TIMEZONE"] == "Asia/Urumqi"  # from the file
    assert settings["LOGIN_MAX_FAILURES_PER_ACCOUNT"] == 5  # the environment wins over the file
    assert settings["SESSION_LIFETIME_HOURS"] == 12  # untouched default


def test_environment_values_are_typed():
    settings = load_configuration(environ={"GRIDPATROL_FORCE_HTTPS": "true", "GRIDPATROL_LANGUAGES": '["zh"]',
                                           "GRIDPATROL_DEFAULT_LOCALE": "zh"})
    assert settings["FORCE_HTTPS"] is True
    assert settings["LANGUAGES"] == ["zh"]


@pytest.mark.parametrize("environ, message", [
    ({"GRIDPATROL_NO_SUCH_KEY": "1"}, "unknown setting NO_SUCH_KEY"),
    ({"GRIDPATROL_FORCE_HTTPS": "perhaps"}, "expected true or false"),
    ({"GRIDPATROL_PROXY_COUNT": "one"}, "expected a whole number"),
    ({"GRIDPATROL_SETTINGS": "/nonexistent/settings.py"}, "does not exist"),
])
def test_bad_settings_are_refused_with_a_reason(environ, message):
    with pytest.raises(ConfigurationError, match=message):
        load_configuration(environ=environ)


def test_unknown_key_in_settings_file_is_refused(tmp_path):
    settings_file = tmp_path / "settings.py"
    settings_file.write_text('SECRET_KEYS = "typo"\n')
    with pytest.raises(ConfigurationError, match="SECRET_KEYS"):
        load_configuration(environ={"GRIDPATROL_SETTINGS": str(settings_file)})


def test_production_refuses_the_default_secret_key(monkeypatch):
    monkeypatch.delenv("GRIDPATROL_SETTINGS")  # no testing settings: production defaults
    with pytest.raises(ConfigurationError, match="SECRET_KEY still has its default value"):
        create_app()


def test_production_starts_with_a_real_secret_key(monkeypatch, tmp_path):
    monkeypatch.delenv("GRIDPATROL_SETTINGS")
    monkeypatch.setenv("GRIDPATROL_SECRET_KEY", "a-long-random-production-secret")
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite"})
    assert not app.testing and not app.debug


def test_cli_may_run_with_the_default_key(monkeypatch):
    monkeypatch.delenv("GRIDPATROL_SETTINGS")
    app = create_app(serving=False)
    assert app.config["SECRET_KEY"] == "insecure-default-change-me"


def test_bad_timezone_is_refused():
    with pytest.raises(ConfigurationError, match="not a known time zone"):
        create_app({"DEFAULT_TIMEZONE": "Mars/Olympus"})


def test_create_app_runs_no_ddl(tmp_path):
    """DDL belongs to migrations: building the app must not create tables (or even the file)."""
    db_file = tmp_path / "untouched.sqlite"
    create_app({"DATABASE_URL": f"sqlite:///{db_file}"})
    assert not db_file.exists()


def test_database_url_normalisation(tmp_path):
    assert normalise_database_url("", str(tmp_path)) == f"sqlite:///{tmp_path}/gridpatrol.sqlite"
    assert normalise_database_url("postgres://u@h/db", "x") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("postgresql://u@h/db", "x") == "postgresql+psycopg://u@h/db"
