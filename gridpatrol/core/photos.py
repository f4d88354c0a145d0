"""Photos: checked to be real images with Pillow, stored by content hash in the configured store (photo_store.py:
a directory outside the web root, or the database).

Storing by SHA-256 makes a retried upload a no-op and means bytes written by a transaction that later rolled back
are harmless: nothing points at them, and the same bytes map to the same name next time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from PIL import Image, UnidentifiedImageError
from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gridpatrol.core.bodies import size_text
from gridpatrol.core import photo_store
from gridpatrol.core.errors import DomainError
from gridpatrol.core.time import utcnow

ALLOWED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
MAX_BYTES = 12 * 1024 * 1024
MAX_PIXELS = 40_000_000  # about 7700 × 5200; the tablet downscales long before that
MIN_SIDE = 16


@dataclass(frozen=True)
class CheckedPhoto:
    data: bytes
    sha256: str
    content_type: str
    width: int
    height: int


def check_image(data: bytes, name: str = "") -> CheckedPhoto:
    """Refuse anything that is not a sane JPEG, PNG or WebP image (DomainError says which file and why)."""
    label = name or _("photo")
    if len(data) > MAX_BYTES:
        raise DomainError(_("%(name)s is larger than %(mb)d MB.", name=label, mb=MAX_BYTES // (1024 * 1024)))
    if not data:
        raise DomainError(_("%(name)s is empty.", name=label))
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt, (width, height) = probe.format, probe.size
            if fmt not in ALLOWED_FORMATS:
                raise DomainError(_("%(name)s is not a JPEG, PNG or WebP image.", name=label))
            if width * height > MAX_PIXELS:
                raise DomainError(_("%(name)s has too many pixels.", name=label))
            if min(width, height) < MIN_SIDE:
                raise DomainError(_("%(name)s is too small to show anything.", name=label))
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # verify() does not decode the pixels; a truncated file fails here
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise DomainError(_("%(name)s is not a readable image.", name=label)) from None
    return CheckedPhoto(data, hashlib.sha256(data).hexdigest(), ALLOWED_FORMATS[fmt], width, height)


@dataclass(frozen=True)
class PhotoLimits:
    """How many photos one submission may carry and how many bytes together (settings: ISSUE_MAX_PHOTOS and
    ISSUE_MAX_PHOTOS_BYTES for a quick report or a rectification step, PATROL_… for a patrol); each photo is at
    most `MAX_BYTES` besides."""

    count: int
    total_bytes: int
    each_bytes: int = MAX_BYTES

    @classmethod
    def of(cls, kind: str) -> "PhotoLimits":
        """"issue" or "patrol", from the app's settings."""
        config = current_app.config
        prefix = {"issue": "ISSUE", "patrol": "PATROL"}[kind]
        return cls(config[f"{prefix}_MAX_PHOTOS"], config[f"{prefix}_MAX_PHOTOS_BYTES"])

    def check(self, files: dict[str, bytes]) -> None:
        """Refuse too many photos, or too many bytes together (DomainError); each one is checked by `check_image`."""
        if len(files) > self.count:
            raise DomainError(_("At most %(n)d photos at once; this has %(given)d.", n=self.count,
                                given=len(files)), code="too_many_photos")
        total = sum(len(data) for data in files.values())
        if total > self.total_bytes:
            raise DomainError(_("The photos together may be at most %(size)s; these are %(given)s.",
                                size=size_text(self.total_bytes), given=size_text(total)), code="photos_too_large")

    def said(self) -> str:
        """The limits in words, for the form's hint."""
        return _("At most %(n)d photos, each at most %(each)s, together at most %(total)s.", n=self.count,
                 each=size_text(self.each_bytes), total=size_text(self.total_bytes))


def photo_dir() -> Path:
    """The directory of the "directory" store (PHOTO_DIR, else the instance folder's `photos/`)."""
    return photo_store.photo_dir()


def path_for(sha256: str) -> Path:
    """Where the "directory" store keeps a photo."""
    return photo_store.DirectoryStore(photo_dir()).path_for(sha256)


def store(photo: CheckedPhoto) -> None:
    """Keep the photo's bytes in the configured store (PHOTO_STORAGE), as part of the current transaction."""
    from gridpatrol.extensions import db

    photo_store.current_store().put(db.session, photo.sha256, photo.data)


class StoredPhotoColumns:
    """The columns every stored photo row has (patrol photos, issue photos): the file is found by its hash."""

    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(40))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


def send_stored(record: StoredPhotoColumns):
    """The photo as a response, for a view that has already checked the user may see it."""
    from flask import abort, send_file

    from gridpatrol.extensions import db

    data = photo_store.current_store().read(db.session, record.sha256)
    if data is None:
        abort(404)
    response = send_file(io.BytesIO(data), mimetype=record.content_type, max_age=86400, etag=record.sha256,
                         conditional=True)
    response.headers["Cache-Control"] = "private, max-age=86400"  # never in a shared proxy cache
    return response
