"""`gridpatrol backup` of a running installation (patrols, issues, photos, a closed month) and `gridpatrol restore`
into an empty one: the same database kind, and SQLite into PostgreSQL (a pilot moving to production). Every row
and photo comes back, and the month's workbook is the same. Refusals: a database that is not empty, a damaged
archive, a PostgreSQL backup into SQLite."""

from __future__ import annotations

import datetime as dt
import io
import tarfile
import threading
import urllib.request
import uuid
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa
import time_machine
from click.testing import CliRunner

from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from tests import helpers
from tests.conftest import _require_postgres

AFTER_NOVEMBER = dt.datetime(2026, 12, 6, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def _cli(url: str, photo_dir: Path, *args: str):
    from gridpatrol.cli import main

    env = {"GRIDPATROL_DATABASE_URL": url, "GRIDPATROL_PHOTO_DIR": str(photo_dir)}
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


@pytest.fixture
def installation(app, tmp_path):
    """Two sites with patrols, issues with photos and November closed for TEST; photos in this test's directory."""
    from gridpatrol.grids.models import Site
    from gridpatrol.points import services as points
    from tests.sites.builders import two_sites

    app.config["PHOTO_DIR"] = str(tmp_path / "photos")
    world = two_sites(app)
    with app.app_context(), job_transaction() as session:
        site = session.get(Site, world["TEST"].site_id)
        assert points.close_month(session, site, dt.date(2026, 11, 1), actor=None, now=AFTER_NOVEMBER)
    return app


@pytest.fixture
def new_postgres_database():
    """Make empty PostgreSQL databases beside the test one; dropped afterwards."""
    base = sa.engine.make_url(helpers.psycopg_url(_require_postgres()))
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    made = []

    def make() -> str:
        name = f"gridpatrol_restore_{uuid.uuid4().hex[:8]}"
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        made.append(name)
        return base.set(database=name).render_as_string(hide_password=False)

    yield make
    with admin.connect() as connection:
        for name in made:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _rows(url: str) -> dict[str, list[tuple]]:
    """Every row of every table, typed by the app's own models (so SQLite and PostgreSQL compare), in key order."""
    engine = sa.create_engine(helpers.psycopg_url(url))
    try:
        with engine.connect() as connection:
            rows = {}
            for table in db.Model.metadata.sorted_tables:
                if table.name == "photo_blobs":
                    continue
                order = list(table.primary_key.columns) or list(table.columns)
                rows[table.name] = [tuple(row) for row in connection.execute(sa.select(table).order_by(*order))]
            return rows
    finally:
        engine.dispose()


def _photos(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.rglob("*") if p.is_file() and len(p.name) == 64}


def _workbook(url: str, photo_dir: Path, out: Path) -> list[list]:
    with time_machine.travel(AFTER_NOVEMBER, tick=False):
        result = _cli(url, photo_dir, "points", "export", "--site", "TEST", "--month", "2026-11", "--out", str(out))
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(out)
    return [[sheet.title] + [[cell for cell in row] for row in sheet.iter_rows(values_only=True)]
            for sheet in book.worksheets]


def _backup_while_serving(app, tmp_path) -> Path:
    """The backup runs while gunicorn serves the same database and a client keeps logging in and out."""
    url = app.config["DATABASE_URL"]
    server = helpers.GunicornServer(url, tmp_path / "server", workers=2)
    stop = threading.Event()

    def browse():
        while not stop.is_set():
            with urllib.request.urlopen(server.url + "/login", timeout=10) as answer:
                answer.read()

    browsing = threading.Thread(target=browse)
    browsing.start()
    try:
        archive = tmp_path / "backup.tar"
        result = _cli(url, tmp_path / "photos", "backup", str(archive))
        assert result.exit_code == 0, result.output
        assert "photos" in result.output and "rows" in result.output
    finally:
        stop.set()
        browsing.join()
        server.stop()
    return archive


def test_a_backup_restores_every_row_photo_and_the_months_workbook(installation, tmp_path, database_backend,
                                                                     new_postgres_database):
    """SQLite: into SQLite and into PostgreSQL. PostgreSQL: into PostgreSQL (and not into SQLite)."""
    app = installation
    source_url = app.config["DATABASE_URL"]
    (tmp_path / "server").mkdir()
    archive = _backup_while_serving(app, tmp_path)
    rows, photos = _rows(source_url), _photos(tmp_path / "photos")
    assert rows["patrols"] and rows["issues"] and rows["issue_photos"] and rows["points_month_closes"]
    assert len(photos) >= 1
    workbook = _workbook(source_url, tmp_path / "photos", tmp_path / "before.xlsx")

    if database_backend[0] == "sqlite":
        _restore_and_compare(f"sqlite:///{tmp_path / 'restored.sqlite'}", archive, tmp_path, "sqlite", rows, photos,
                             workbook)
    _restore_and_compare(new_postgres_database(), archive, tmp_path, "postgresql", rows, photos, workbook)
    if database_backend[0] == "postgresql":
        refused = _cli(f"sqlite:///{tmp_path / 'never.sqlite'}", tmp_path / "p", "restore", str(archive))
        assert refused.exit_code == 1 and "cannot be restored into SQLite" in refused.output


def _restore_and_compare(url, archive, tmp_path, kind, rows, photos, workbook):
    from gridpatrol import create_app

    photo_dir = tmp_path / f"restored-photos-{kind}"
    result = _cli(url, photo_dir, "restore", str(archive))
    assert result.exit_code == 0, result.output
    assert f"{len(photos)} photos" in result.output
    assert _rows(url) == rows
    assert _photos(photo_dir) == photos
    assert _workbook(url, photo_dir, tmp_path / f"after-{kind}.xlsx") == workbook

    # the restored installation keeps working: new rows get new ids (PostgreSQL's sequences moved on)
    restored = create_app({"DATABASE_URL": url})
    newcomer = helpers.make_user(restored, f"after_restore_{kind}")
    assert newcomer.id > max(row[0] for row in rows["users"])
    with restored.app_context():
        db.engine.dispose()
    again = _cli(url, photo_dir, "restore", str(archive))
    assert again.exit_code == 1 and "not empty" in again.output


def test_a_damaged_archive_is_refused_before_anything_changes(installation, tmp_path):
    app = installation
    archive = tmp_path / "backup.tar"
    assert _cli(app.config["DATABASE_URL"], tmp_path / "photos", "backup", str(archive)).exit_code == 0
    damaged = tmp_path / "damaged.tar"
    with tarfile.open(archive) as source, tarfile.open(damaged, "w") as target:
        for member in source:
            data = source.extractfile(member).read()
            if member.name.startswith("photos/"):
                data = data[:-1] + bytes([data[-1] ^ 0xFF])
            member.size = len(data)
            target.addfile(member, io.BytesIO(data))
    empty = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    result = _cli(empty, tmp_path / "other-photos", "restore", str(damaged))
    assert result.exit_code == 1 and "damaged" in result.output
    assert not (tmp_path / "other-photos").exists()
    engine = sa.create_engine(empty)
    with engine.connect() as connection:
        assert sa.inspect(connection).get_table_names() == []
    engine.dispose()

    not_ours = tmp_path / "not-ours.tar"
    with tarfile.open(not_ours, "w") as target:
        info = tarfile.TarInfo("../etc/passwd")
        info.size = 1
        target.addfile(info, io.BytesIO(b"x"))
    result = _cli(empty, tmp_path / "other-photos", "restore", str(not_ours))
    assert result.exit_code == 1 and "no GridPatrol backup has" in result.output


def test_the_nightly_job_keeps_the_newest_backups(app, tmp_path):
    from gridpatrol.backups import jobs, services

    app.config.update(BACKUP_DIR=str(tmp_path / "nightly"), BACKUP_KEEP=2, PHOTO_DIR=str(tmp_path / "photos"))
    with app.app_context():
        for day in (1, 2, 3):
            with time_machine.travel(dt.datetime(2026, 12, day, 3, 0, tzinfo=dt.timezone.utc), tick=False):
                with job_transaction() as session:
                    assert jobs._run(session, dt.datetime.now(dt.timezone.utc)) == \
                        {"state": "wrote", "name": f"gridpatrol-2026-12-0{day}.tar"}
        with job_transaction() as session:
            third = dt.datetime(2026, 12, 3, 5, 0, tzinfo=dt.timezone.utc)
            assert jobs._run(session, third) == {"state": "present"}
            early = dt.datetime(2026, 12, 3, 17, 30, tzinfo=dt.timezone.utc)  # 01:30 on the 4th in Shanghai
            assert jobs._run(session, early) == {"state": "waiting", "hour": 2}
        app.config["BACKUP_DIR"] = ""
        with job_transaction() as session:
            assert jobs._run(session, early) == {"state": "off"}
    assert sorted(p.name for p in (tmp_path / "nightly").iterdir()) == \
        ["gridpatrol-2026-12-02.tar", "gridpatrol-2026-12-03.tar"]
    assert services.NIGHTLY.match("gridpatrol-2026-12-02.tar")
