"""Test fixtures: a fresh app from the factory for every test, on SQLite and on PostgreSQL.

Every test that uses `app` runs once per database backend. The PostgreSQL run reads its URL from
GRIDPATROL_TEST_POSTGRES_URL; without it those runs are skipped, except under CI, where they fail.
The schema is built by the Alembic migrations (never create_all), once per backend and session.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests import helpers

REPO_ROOT = Path(__file__).resolve().parents[1]
TESTING_SETTINGS = REPO_ROOT / "config" / "testing.py"
POSTGRES_URL = os.environ.get("GRIDPATROL_TEST_POSTGRES_URL", "")
UNDER_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def pytest_configure(config):
    # Every app built in the tests (and every gunicorn started by them) reads the testing settings.
    os.environ["GRIDPATROL_SETTINGS"] = str(TESTING_SETTINGS)
    for key in [k for k in os.environ if k.startswith("GRIDPATROL_") and k not in helpers.ALLOWED_TEST_ENV]:
        del os.environ[key]


def _require_postgres() -> str:
    if POSTGRES_URL:
        return POSTGRES_URL
    message = ("PostgreSQL run skipped: set GRIDPATROL_TEST_POSTGRES_URL, e.g. "
               "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    if UNDER_CI:
        pytest.fail("CI must run the PostgreSQL tests but GRIDPATROL_TEST_POSTGRES_URL is not set")
    pytest.skip(message)


def _upgrade(url: str) -> None:
    from flask_migrate import upgrade

    from gridpatrol import create_app

    app = create_app({"DATABASE_URL": url})
    with app.app_context():
        upgrade()
        from gridpatrol.extensions import db

        db.engine.dispose()


def reset_postgres_schema(url: str) -> None:
    engine = sa.create_engine(helpers.psycopg_url(url))
    try:
        with engine.connect() as conn:
            reachable = True
            conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
            conn.commit()
    except sa.exc.OperationalError as exc:
        reachable = False
        error = exc
    finally:
        engine.dispose()
    if not reachable:
        pytest.fail(f"PostgreSQL at {url} is not reachable: {error}")


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_backend(request, tmp_path_factory):
    """(backend name, template): the schema migrated once per session for each backend."""
    if request.param == "sqlite":
        template = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite"
        _upgrade(f"sqlite:///{template}")
        return "sqlite", template
    url = _require_postgres()
    reset_postgres_schema(url)
    _upgrade(url)
    return "postgresql", url


@pytest.fixture
def database_url(database_backend, tmp_path):
    backend, template = database_backend
    if backend == "sqlite":
        path = tmp_path / "gridpatrol.sqlite"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    yield template
    helpers.truncate_postgres(template)


@pytest.fixture
def app(database_url):
    from gridpatrol import create_app
    from gridpatrol.extensions import db

    app = create_app({"DATABASE_URL": database_url})
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def admin(app):
    return helpers.make_user(app, "admin1", roles=("admin",))


@pytest.fixture
def staff(app):
    return helpers.make_user(app, "staff1", roles=("staff",))


@pytest.fixture
def two_sites(app):
    """Two compounds, TEST and OTHER, each with its people, grids, plan, patrols and issues, and a provincial
    supervisor and an admin for both (tests/sites/builders.py): {code: SiteObjects}."""
    from tests.sites.builders import two_sites as build

    return build(app)


@pytest.fixture
def gunicorn_server(database_url, tmp_path):
    """A 4-worker gunicorn on loopback over this test's database."""
    server = helpers.GunicornServer(database_url, tmp_path, workers=4)
    yield server
    server.stop()
