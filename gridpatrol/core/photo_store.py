"""Where photo files live: one interface, two backends, chosen by the PHOTO_STORAGE setting.

- "directory" (the default): files named by their SHA-256 under PHOTO_DIR (empty: the instance folder's
  `photos/`), written and fsynced before the transaction that points at them commits. A file left by a transaction
  that rolled back is harmless: nothing points at it, and the same bytes map to the same name next time.
- "database": a blob table (`photo_blobs`) in the app's own database, written in the same transaction as the row
  that points at it, so a rolled-back transaction leaves nothing behind and several web hosts need nothing shared
  but their database (ODK Central keeps its form attachments this way). Meant for PostgreSQL (`bytea`); it works on
  SQLite too.

Photos are content-addressed either way, so `gridpatrol photos migrate` copies them from one backend to the other
and can be run again safely. A store that cannot write (a full disk, a failing database) raises
`StorageUnavailable`: the request is refused with a clear message and nothing of it is saved.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path
from typing import Iterator, Optional, Protocol

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import Integer, LargeBinary, String, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column

from gridpatrol.core.errors import DomainError
from gridpatrol.core.time import utcnow
from gridpatrol.extensions import db

BACKENDS = ("directory", "database")


class StorageUnavailable(DomainError):
    """The photo could not be stored (no space left, the store refused): try again later; nothing was saved."""

    status_code = 503
    code = "storage_unavailable"


class PhotoBlob(db.Model):
    __tablename__ = "photo_blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size_bytes: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PhotoStore(Protocol):
    name: str

    def put(self, session: Session, sha256: str, data: bytes) -> None: ...

    def read(self, session: Session, sha256: str) -> Optional[bytes]: ...

    def has(self, session: Session, sha256: str) -> bool: ...

    def hashes(self, session: Session) -> Iterator[str]: ...


def _refused() -> StorageUnavailable:
    return StorageUnavailable(_("The photos could not be stored (the server's storage is full or unavailable). "
                                "Nothing was saved; please try again later."))


class DirectoryStore:
    name = "directory"

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def put(self, session: Session, sha256: str, data: bytes) -> None:
        path = self.path_for(sha256)
        if path.exists():
            return
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())  # the row that points at it commits durably; so must the file
            os.replace(tmp, path)
        except OSError:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass  # nothing was written there either
            raise _refused() from None

    def read(self, session: Session, sha256: str) -> Optional[bytes]:
        try:
            return self.path_for(sha256).read_bytes()
        except FileNotFoundError:
            return None

    def has(self, session: Session, sha256: str) -> bool:
        return self.path_for(sha256).exists()

    def hashes(self, session: Session) -> Iterator[str]:
        if not self.root.exists():
            return
        for folder in sorted(self.root.iterdir()):
            if folder.is_dir() and len(folder.name) == 2:
                for path in sorted(folder.iterdir()):
                    if len(path.name) == 64 and path.name.startswith(folder.name):
                        yield path.name


class DatabaseStore:
    name = "database"

    def put(self, session: Session, sha256: str, data: bytes) -> None:
        values = {"sha256": sha256, "size_bytes": len(data), "data": data, "created_at": utcnow()}
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        try:
            with session.begin_nested():  # a failed write leaves the request's own work as it was, to be refused
                session.execute(insert(PhotoBlob).values(**values).on_conflict_do_nothing(index_elements=["sha256"]))
        except SQLAlchemyError:
            raise _refused() from None

    def read(self, session: Session, sha256: str) -> Optional[bytes]:
        return session.scalar(select(PhotoBlob.data).where(PhotoBlob.sha256 == sha256))

    def has(self, session: Session, sha256: str) -> bool:
        return session.scalar(select(PhotoBlob.sha256).where(PhotoBlob.sha256 == sha256)) is not None

    def hashes(self, session: Session) -> Iterator[str]:
        yield from session.scalars(select(PhotoBlob.sha256).order_by(PhotoBlob.sha256))


def photo_dir() -> Path:
    configured = current_app.config["PHOTO_DIR"]
    return Path(configured) if configured else Path(current_app.instance_path) / "photos"


def store_named(name: str) -> PhotoStore:
    if name == "directory":
        return DirectoryStore(photo_dir())
    if name == "database":
        return DatabaseStore()
    raise ValueError(f"unknown photo storage {name!r}")


def current_store() -> PhotoStore:
    """The configured store (PHOTO_STORAGE)."""
    return store_named(current_app.config["PHOTO_STORAGE"])


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def copy_missing(session: Session, source: PhotoStore, target: PhotoStore, hashes: list[str]) -> tuple[int, int]:
    """Copy the photos named by `hashes` from `source` to `target` where it lacks them, checking each one's hash:
    (copied, already there). A photo whose bytes do not match its name is refused (ValueError) before anything of
    it is written."""
    copied = present = 0
    for sha256 in hashes:
        if target.has(session, sha256):
            present += 1
            continue
        data = source.read(session, sha256)
        if data is None or sha256_of(data) != sha256:
            raise ValueError(f"photo {sha256} in the {source.name} store is damaged: its bytes do not match its name; "
                             "nothing of it was copied")
        target.put(session, sha256, data)
        copied += 1
    return copied, present
