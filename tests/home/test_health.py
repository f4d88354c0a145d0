"""/healthz for monitoring: 200 when every part is healthy, 503 naming the part that is not; the parts only for an
admin of all sites or a caller with the configured token. /healthz/live for load balancers: the database only."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
import time_machine

from gridpatrol import create_app
from gridpatrol.core.transaction import job_transaction
from gridpatrol.scheduler import jobs as scheduler_jobs
from gridpatrol.scheduler.models import JobHeartbeat
from gridpatrol.workdays import sources
from tests import helpers

# A June day: the next 90 days lie in 2026, which the calendar package covers.
JUNE = dt.datetime(2026, 6, 1, 4, 0, tzinfo=dt.timezone.utc)
TOKEN = "health-probe-secret"


@pytest.fixture
def health_app(database_url):
    from gridpatrol.extensions import db

    app = create_app({"DATABASE_URL": database_url, "HEALTH_DETAILS_TOKEN": TOKEN})
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _beat_all(app, at: dt.datetime, *, ok: bool = True, skip: str | None = None) -> None:
    with app.app_context(), job_transaction() as session:
        for name in scheduler_jobs.names():
            if name != skip:
                session.merge(JobHeartbeat(job=name, last_started_at=at, last_finished_at=at, last_ok=ok,
                                           last_result="ok", runs=1))


def _details(app, **headers):
    answer = app.test_client().get("/healthz", headers={"X-Health-Token": TOKEN, **headers})
    assert answer.headers["Cache-Control"] == "no-store"
    return answer.status_code, answer.get_json()


def test_healthy_installation_answers_200_with_every_part(health_app):
    _beat_all(health_app, JUNE - dt.timedelta(seconds=30))
    with time_machine.travel(JUNE, tick=False):
        status, body = _details(health_app)
    assert status == 200, body
    assert body["status"] == "ok"
    checks = body["checks"]
    assert set(checks) == {"database", "migrations", "scheduler", "uploads", "calendar"}
    assert all(check["ok"] for check in checks.values())
    assert checks["database"]["latency_ms"] >= 0
    assert checks["migrations"]["current"] == checks["migrations"]["head"] != []
    assert set(checks["scheduler"]["jobs"]) == set(scheduler_jobs.names())
    assert all(job["age_seconds"] == 30 for job in checks["scheduler"]["jobs"].values())
    assert checks["uploads"]["free_bytes"] >= checks["uploads"]["min_free_bytes"]
    assert checks["calendar"]["sites"]["*"]["covered_until"] == "2026-08-30"


def test_anonymous_callers_learn_the_status_only(health_app):
    _beat_all(health_app, JUNE)
    with time_machine.travel(JUNE, tick=False):
        anonymous = health_app.test_client().get("/healthz")
        wrong = health_app.test_client().get("/healthz", headers={"X-Health-Token": "guess"})
    assert anonymous.status_code == 200 and anonymous.get_json() == {"status": "ok"}
    assert wrong.get_json() == {"status": "ok"}


def test_an_admin_of_all_sites_sees_the_parts_and_a_site_admin_does_not(health_app):
    from gridpatrol.accounts import services as accounts
    from gridpatrol.core.roles import Role
    from tests.grids.builders import make_site

    site_ids = {code: make_site(health_app, code) for code in ("TEST", "OTHER")}
    root = helpers.make_user(health_app, "root", roles=("admin",))
    with health_app.app_context(), job_transaction() as session:
        accounts.create_user(session, username="siteadmin", display_name="Site Admin",
                             password=helpers.DEFAULT_PASSWORD, roles=[(Role.ADMIN, site_ids["TEST"])])
    site_admin = helpers.Credentials(0, "siteadmin", helpers.DEFAULT_PASSWORD)
    _beat_all(health_app, JUNE)
    with time_machine.travel(JUNE, tick=False):
        admin = health_app.test_client()
        helpers.login(admin, root)
        report = admin.get("/healthz").get_json()
        assert set(report["checks"]["calendar"]["sites"]) == {"TEST", "OTHER"}
        other = health_app.test_client()
        helpers.login(other, site_admin)
        assert other.get("/").status_code in (200, 302)  # logged in
        assert other.get("/healthz").get_json() == {"status": "ok"}


def test_a_stale_job_fails_the_scheduler_part(health_app):
    _beat_all(health_app, JUNE)
    stale = "materialize"
    every = scheduler_jobs.JOBS[stale].every_seconds
    _beat_all(health_app, JUNE - dt.timedelta(seconds=2 * every + 11 * 60))  # every job old now
    _beat_all(health_app, JUNE, skip=stale)  # all but one ran just now
    with time_machine.travel(JUNE, tick=False):
        status, body = _details(health_app)
    assert status == 503 and body["status"] == "failing"
    jobs = body["checks"]["scheduler"]["jobs"]
    assert [name for name, job in jobs.items() if not job["ok"]] == [stale]
    assert jobs[stale]["age_seconds"] == 2 * every + 11 * 60
    assert all(check["ok"] for name, check in body["checks"].items() if name != "scheduler")
    assert health_app.test_client().get("/healthz").get_json() == {"status": "failing"}


def test_a_scheduler_that_never_ran_or_whose_job_failed_is_failing(health_app):
    with time_machine.travel(JUNE, tick=False):
        status, body = _details(health_app)
    assert status == 503
    assert all(job["age_seconds"] is None and not job["ok"] for job in body["checks"]["scheduler"]["jobs"].values())

    _beat_all(health_app, JUNE, ok=False)
    with time_machine.travel(JUNE, tick=False):
        status, body = _details(health_app)
    assert status == 503
    assert all(job["last_ok"] is False for job in body["checks"]["scheduler"]["jobs"].values())


def test_low_disk_for_uploads_fails(health_app):
    _beat_all(health_app, JUNE)
    health_app.config["HEALTH_MIN_FREE_UPLOAD_MB"] = 1024 ** 4  # an exabyte: no disk has that left
    with time_machine.travel(JUNE, tick=False):
        status, body = _details(health_app)
    assert status == 503
    assert body["checks"]["uploads"]["ok"] is False
    assert body["checks"]["uploads"]["free_bytes"] < body["checks"]["uploads"]["min_free_bytes"]


def test_a_calendar_not_covering_the_next_90_days_fails_until_the_notice_is_imported(health_app, monkeypatch):
    from gridpatrol.workdays import notice, services
    from tests.workdays.test_notice_import import NOTICE_2027

    covers = sources.package_covers
    monkeypatch.setattr(sources, "package_covers", lambda year: year < 2027 and covers(year))
    december = dt.datetime(2026, 12, 2, 4, 0, tzinfo=dt.timezone.utc)
    _beat_all(health_app, december)
    with time_machine.travel(december, tick=False):
        status, body = _details(health_app)
        assert status == 503
        assert body["checks"]["calendar"]["sites"]["*"] == {
            "ok": False, "covered_until": None, "first_provisional_day": "2027-01-01"}

        with health_app.app_context(), job_transaction() as session:
            services.import_notice(session, notice.parse(NOTICE_2027), actor=None, now=december)
        status, body = _details(health_app)
    assert status == 200, body["checks"]["calendar"]
    assert body["checks"]["calendar"]["sites"]["*"]["covered_until"] == "2027-03-02"


def test_migrations_behind_the_code_fail(health_app):
    _beat_all(health_app, JUNE)
    engine = sa.create_engine(helpers.psycopg_url(health_app.config["SQLALCHEMY_DATABASE_URI"]))
    try:
        with engine.begin() as conn:
            current = conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
            conn.execute(sa.text("UPDATE alembic_version SET version_num = '0001_initial_older'"))
        with time_machine.travel(JUNE, tick=False):
            status, body = _details(health_app)
        assert status == 503
        assert body["checks"]["migrations"] == {"ok": False, "current": ["0001_initial_older"], "head": [current]}
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": current})
        engine.dispose()


def test_database_down_fails_both_probes_without_a_server_error(tmp_path):
    from gridpatrol.extensions import db

    # Nothing listens on port 9 (discard) of the loopback: the connection is refused at once.
    app = create_app({"DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:9/none",
                      "HEALTH_DETAILS_TOKEN": TOKEN})
    try:
        client = app.test_client()
        answer = client.get("/healthz", headers={"X-Health-Token": TOKEN})
        assert answer.status_code == 503
        checks = answer.get_json()["checks"]
        assert checks["database"]["ok"] is False and "error" in checks["database"]
        assert checks["migrations"] == {"ok": False, "error": "database unreachable"}
        assert client.get("/healthz").get_json() == {"status": "failing"}
        live = client.get("/healthz/live")
        assert live.status_code == 503 and live.get_json() == {"status": "database unreachable"}
    finally:
        with app.app_context():
            db.engine.dispose()


def test_the_live_probe_answers_200_with_the_database_alone(health_app):
    # no scheduler has ever run here, and /healthz says so; the load balancer's probe does not care
    assert health_app.test_client().get("/healthz").status_code == 503
    live = health_app.test_client().get("/healthz/live")
    assert live.status_code == 200 and live.get_json() == {"status": "ok"}
