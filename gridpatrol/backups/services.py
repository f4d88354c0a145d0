"""One archive with everything an installation needs to come back: the database and every photo.

The archive is a tar file:

    database.sqlite | database.pgdump   the database (photo_blobs' rows left out: the photos are below)
    photos/<sha256>                     every photo, from whichever store holds it
    manifest.json                       format, app version, migration revision, database kind, rows per table,
                                        photo count, and the SHA-256 of every other member

A consistent copy of a running installation:
- SQLite: the online backup API copies the database page by page while the app keeps writing;
- PostgreSQL: the counts are read in a REPEATABLE READ transaction whose snapshot `pg_dump --snapshot` then dumps,
  so the manifest and the dump see the same rows. pg_dump must be at least the server's major version.
Photos are content-addressed and never change, so every photo a row of the copy names is in the store already.

Restoring goes into an empty installation (a non-empty one is refused unless `force`), checks every checksum
before touching anything, loads the database (same kind: the native copy; a SQLite backup into PostgreSQL: row by
row, for moving a pilot to production; a PostgreSQL backup into SQLite is refused), runs the migrations forward when
the backup is older, puts the photos into the configured store, and reports what it restored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import IO, Iterator, Optional

import sqlalchemy as sa

from gridpatrol.core import photo_store
from gridpatrol.core.time import utcnow
from gridpatrol.extensions import db

FORMAT = 1
MANIFEST = "manifest.json"
PHOTOS = "photos/"
SKIPPED_TABLES = {"alembic_version", "photo_blobs"}  # the revision is in the manifest; photos are their own members


class BackupError(Exception):
    """Said to the operator as it is: the backup or the restore did not happen, and why."""


@dataclass
class Manifest:
    app_version: str
    revision: str
    database: str
    created_at: str
    tables: dict[str, int]
    photos: int
    files: dict[str, str] = field(default_factory=dict)
    format: int = FORMAT

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, ensure_ascii=False, indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> "Manifest":
        raw = json.loads(data)
        if raw.get("format") != FORMAT:
            raise BackupError(f"this archive's format ({raw.get('format')!r}) is not one this release reads ({FORMAT})")
        return cls(**raw)


@dataclass
class Restored:
    database: str
    revision: str
    upgraded_to: str
    tables: dict[str, int]
    photos: int


def _app_version() -> str:
    try:
        return metadata.version("gridpatrol")
    except metadata.PackageNotFoundError:
        return "unknown"


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _app_tables(connection: sa.Connection) -> list[str]:
    return sorted(name for name in sa.inspect(connection).get_table_names() if name not in SKIPPED_TABLES)


def _counts(connection: sa.Connection) -> dict[str, int]:
    return {name: connection.scalar(sa.text(f'SELECT count(*) FROM "{name}"')) for name in _app_tables(connection)}


def _revision(connection: sa.Connection) -> str:
    revisions = list(connection.scalars(sa.text("SELECT version_num FROM alembic_version")))
    if len(revisions) != 1:
        raise BackupError(f"the database has no single migration revision ({revisions}): run `gridpatrol db upgrade`")
    return revisions[0]


def _add_file(archive: tarfile.TarFile, path: Path, name: str, manifest: Manifest) -> None:
    manifest.files[name] = _sha256_file(path)
    archive.add(path, arcname=name, recursive=False)


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes, manifest: Optional[Manifest] = None) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), int(utcnow().timestamp()), 0o600
    archive.addfile(info, io.BytesIO(data))
    if manifest is not None:
        manifest.files[name] = hashlib.sha256(data).hexdigest()


# --- backup --------------------------------------------------------------------------------------------------------
def _sqlite_copy(engine: sa.Engine, target: Path) -> None:
    source = sqlite3.connect(engine.url.database)
    try:
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)  # online: a consistent copy while other connections write
            if copy.execute("SELECT 1 FROM sqlite_master WHERE name = 'photo_blobs'").fetchone():
                copy.execute("DELETE FROM photo_blobs")
                copy.commit()
            copy.execute("VACUUM")
        finally:
            copy.close()
    finally:
        source.close()


def _pg_command(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed (Debian: apt-get install postgresql-client)")
    return found


def _major(version_text: str) -> int:
    match = re.search(r"(\d+)(?:\.\d+)?", version_text)
    if not match:
        raise BackupError(f"cannot read a version in {version_text!r}")
    return int(match.group(1))


def _check_pg_dump_version(connection: sa.Connection) -> str:
    pg_dump = _pg_command("pg_dump")
    client = _major(subprocess.run([pg_dump, "--version"], capture_output=True, text=True, check=True).stdout)
    server = int(connection.scalar(sa.text("SHOW server_version_num"))) // 10000
    if client < server:
        raise BackupError(f"pg_dump {client} cannot dump a PostgreSQL {server} server: install the client of "
                          f"version {server} or newer")
    return pg_dump


def _libpq_url(engine: sa.Engine) -> str:
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def _pg_env(engine: sa.Engine) -> dict[str, str]:
    env = dict(os.environ)
    if engine.url.password:
        env["PGPASSWORD"] = str(engine.url.password)
    return env


def _pg_dump(engine: sa.Engine, target: Path) -> tuple[str, dict[str, int]]:
    """(revision, counts), read in the snapshot the dump is taken from."""
    options = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
    with engine.connect().execution_options(**options) as connection:
        pg_dump = _check_pg_dump_version(connection)
        snapshot = connection.scalar(sa.text("SELECT pg_export_snapshot()"))
        revision, counts = _revision(connection), _counts(connection)
        url = engine.url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
        done = subprocess.run(
            [pg_dump, "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
             "--exclude-table-data=photo_blobs", f"--file={target}", f"--dbname={url}"],
            capture_output=True, text=True, env=_pg_env(engine))
        connection.rollback()  # read only: the snapshot was only needed while pg_dump ran
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
    return revision, counts


def _photos(session) -> Iterator[tuple[str, bytes]]:
    store = photo_store.current_store()
    for sha256 in list(store.hashes(session)):
        data = store.read(session, sha256)
        if data is not None:
            yield sha256, data


def write_backup(out: IO[bytes]) -> Manifest:
    """Write the archive to `out` (a file opened for writing in binary) and return its manifest."""
    engine = db.engine
    kind = engine.dialect.name
    with tempfile.TemporaryDirectory(prefix="gridpatrol-backup-") as scratch:
        dump = Path(scratch) / ("database.sqlite" if kind == "sqlite" else "database.pgdump")
        if kind == "sqlite":
            _sqlite_copy(engine, dump)
            copy = sa.create_engine(f"sqlite:///{dump}")
            try:
                with copy.connect() as connection:
                    revision, counts = _revision(connection), _counts(connection)
            finally:
                copy.dispose()
        else:
            revision, counts = _pg_dump(engine, dump)
        manifest = Manifest(app_version=_app_version(), revision=revision, database=kind,
                            created_at=utcnow().isoformat(), tables=counts, photos=0)
        with tarfile.open(fileobj=out, mode="w|") as archive:
            _add_file(archive, dump, dump.name, manifest)
            for sha256, data in _photos(db.session):
                _add_bytes(archive, PHOTOS + sha256, data, manifest)
                manifest.photos += 1
            _add_bytes(archive, MANIFEST, manifest.to_json())
    return manifest


def backup_to(path: Path) -> Manifest:
    """Write the archive to `path` through a temporary name, so a half-written archive never has the name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    try:
        with open(partial, "wb") as out:
            manifest = write_backup(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return manifest


# --- restore -------------------------------------------------------------------------------------------------------
def read_archive(path: Path, scratch: Path) -> Manifest:
    """Unpack into `scratch` (regular files only, no path outside it) and check every checksum."""
    manifest_data: Optional[bytes] = None
    with tarfile.open(path, mode="r") as archive:
        for member in archive:
            name = member.name
            if not member.isfile() or name.startswith("/") or ".." in Path(name).parts:
                raise BackupError(f"the archive holds {name!r}, which no GridPatrol backup has")
            data = archive.extractfile(member)
            assert data is not None
            if name == MANIFEST:
                manifest_data = data.read()
                continue
            target = scratch / name
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as f:
                shutil.copyfileobj(data, f)
    if manifest_data is None:
        raise BackupError("the archive has no manifest.json: it is not a GridPatrol backup, or it was cut short")
    manifest = Manifest.from_json(manifest_data)
    found = {str(p.relative_to(scratch)) for p in scratch.rglob("*") if p.is_file()}
    if found != set(manifest.files):
        raise BackupError(f"the archive's files differ from its manifest: missing {sorted(set(manifest.files) - found)[:3]}, "
                          f"unexpected {sorted(found - set(manifest.files))[:3]}")
    for name, expected in manifest.files.items():
        if _sha256_file(scratch / name) != expected:
            raise BackupError(f"{name} is damaged: its checksum does not match the manifest")
    return manifest


def _rows_in(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        names = _app_tables(connection)
        return sum(connection.scalar(sa.text(f'SELECT count(*) FROM "{name}"')) for name in names)


def _upgrade(revision: str = "head") -> None:
    from flask_migrate import upgrade

    upgrade(revision=revision)


def _restore_sqlite_file(source: Path, engine: sa.Engine) -> None:
    target = Path(engine.url.database)
    engine.dispose()
    for suffix in ("-wal", "-shm"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    shutil.copyfile(source, target)


def _drop_everything_pg(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        connection.execute(sa.text("DROP SCHEMA public CASCADE"))
        connection.execute(sa.text("CREATE SCHEMA public"))


def _restore_pgdump(source: Path, engine: sa.Engine) -> None:
    pg_restore = _pg_command("pg_restore")
    url = engine.url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    engine.dispose()
    done = subprocess.run([pg_restore, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
                           f"--dbname={url}", str(source)], capture_output=True, text=True, env=_pg_env(engine))
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed: {done.stderr.strip()}")


def _copy_sqlite_into(source: Path, engine: sa.Engine, revision: str) -> None:
    """A SQLite backup into PostgreSQL: the schema of the backup's revision by the migrations, then every row."""
    _upgrade(revision)
    reader = sa.create_engine(f"sqlite:///{source}")
    try:
        source_meta = sa.MetaData()
        source_meta.reflect(reader)
        target_meta = sa.MetaData()
        target_meta.reflect(engine)
        with reader.connect() as src, engine.begin() as dst:
            dst.execute(sa.text("SET CONSTRAINTS ALL DEFERRED"))
            for table in target_meta.sorted_tables:
                if table.name in SKIPPED_TABLES or table.name not in source_meta.tables:
                    continue
                columns = [c.name for c in table.columns]
                # SQLite keeps instants as UTC without a zone; PostgreSQL's timestamptz must be told they are UTC.
                zoned = {c.name for c in table.columns if isinstance(c.type, sa.DateTime) and c.type.timezone}
                rows = src.execute(sa.select(*[source_meta.tables[table.name].c[c] for c in columns]))
                while batch := rows.fetchmany(1000):
                    dst.execute(table.insert(), [
                        {name: (value.replace(tzinfo=dt.timezone.utc) if name in zoned and
                                isinstance(value, dt.datetime) and value.tzinfo is None else value)
                         for name, value in zip(columns, row)}
                        for row in batch])
            for table in target_meta.sorted_tables:  # serial ids continue after the highest one copied
                for column in table.primary_key.columns:
                    if column.autoincrement is True or (column.autoincrement == "auto" and
                                                        isinstance(column.type, sa.Integer)):
                        sequence = dst.scalar(sa.text("SELECT pg_get_serial_sequence(:t, :c)"),
                                              {"t": table.name, "c": column.name})
                        if sequence:
                            dst.execute(sa.text(f'SELECT setval(:s, coalesce((SELECT max("{column.name}") FROM '
                                                f'"{table.name}"), 0) + 1, false)'), {"s": sequence})
    finally:
        reader.dispose()


def restore_from(path: Path, *, force: bool = False) -> Restored:
    """Restore the archive at `path` into this app's database and photo store (the app must not be serving)."""
    engine = db.engine
    kind = engine.dialect.name
    with tempfile.TemporaryDirectory(prefix="gridpatrol-restore-") as scratch_name:
        scratch = Path(scratch_name)
        manifest = read_archive(Path(path), scratch)
        if manifest.database == "postgresql" and kind == "sqlite":
            raise BackupError("a PostgreSQL backup cannot be restored into SQLite: restore it into PostgreSQL")
        try:
            existing = _rows_in(engine)
        except sa.exc.SQLAlchemyError:
            existing = 0  # no schema yet
        if existing and not force:
            raise BackupError(f"this installation is not empty ({existing} rows): restore into an empty database, "
                              "or say --force to replace everything in it")
        db.session.remove()
        if kind == "postgresql":
            _drop_everything_pg(engine)
        dump = scratch / ("database.sqlite" if manifest.database == "sqlite" else "database.pgdump")
        if manifest.database == kind == "sqlite":
            _restore_sqlite_file(dump, engine)
        elif manifest.database == kind == "postgresql":
            _restore_pgdump(dump, engine)
        else:
            _copy_sqlite_into(dump, engine, manifest.revision)
        _upgrade("head")
        store = photo_store.current_store()
        photos = 0
        with engine.connect() as connection:
            upgraded_to = _revision(connection)
        for photo in sorted((scratch / "photos").glob("*")) if (scratch / "photos").exists() else []:
            data = photo.read_bytes()
            store.put(db.session, photo.name, data)
            photos += 1
            if photos % 50 == 0:
                db.session.commit()
        db.session.commit()
        with engine.connect() as connection:
            tables = {name: count for name, count in _counts(connection).items() if name in manifest.tables}
    return Restored(database=kind, revision=manifest.revision, upgraded_to=upgraded_to, tables=tables, photos=photos)


# --- nightly backups -----------------------------------------------------------------------------------------------
NIGHTLY = re.compile(r"^gridpatrol-(\d{4}-\d{2}-\d{2})\.tar$")


def nightly_backup(directory: Path, keep: int, today: dt.date) -> Optional[str]:
    """Write today's backup into `directory` unless it is there, then keep only the newest `keep`: the file's name
    when one was written."""
    directory.mkdir(parents=True, exist_ok=True)
    name = f"gridpatrol-{today:%Y-%m-%d}.tar"
    written = None
    if not (directory / name).exists():
        backup_to(directory / name)
        written = name
    dated = sorted((p for p in directory.iterdir() if NIGHTLY.match(p.name)), key=lambda p: p.name, reverse=True)
    for old in dated[keep:]:
        old.unlink()
    return written
