"""`gridpatrol photos …`: move photos between stores and check that every photo a record names is there.

    gridpatrol photos migrate --to database|directory   copy every photo of the other store into this one
    gridpatrol photos check                             every photo named by a record is in the configured store

`migrate` copies, checking each photo's hash, and can be run again (photos already there are skipped); it
deletes nothing. Then set PHOTO_STORAGE to the new store and restart the web workers.
"""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from gridpatrol.core import photo_store
from gridpatrol.core.photos import StoredPhotoColumns
from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db

BATCH = 50  # photos per transaction when copying into the database


@click.group()
def photos() -> None:
    """Photos: the store they live in (PHOTO_STORAGE)."""


@photos.command("migrate")
@click.option("--to", "target_name", required=True, type=click.Choice(photo_store.BACKENDS),
              help="The store to copy into; the other one is read.")
@with_appcontext
def migrate(target_name: str) -> None:
    source_name = next(name for name in photo_store.BACKENDS if name != target_name)
    source, target = photo_store.store_named(source_name), photo_store.store_named(target_name)
    with job_transaction() as session:
        names = list(source.hashes(session))
    copied = present = 0
    for start in range(0, len(names), BATCH):
        with job_transaction() as session:
            try:
                done = photo_store.copy_missing(session, source, target, names[start:start + BATCH])
            except ValueError as error:
                raise click.ClickException(str(error)) from None
        copied, present = copied + done[0], present + done[1]
    click.echo(f"{copied} photos copied from the {source_name} store to the {target_name} store, "
               f"{present} already there.")
    if current_app.config["PHOTO_STORAGE"] != target_name:
        click.echo(f"Now set PHOTO_STORAGE = \"{target_name}\" and restart the web workers.")


def photo_record_classes() -> list[type]:
    """Every mapped class whose rows name a stored photo (they share StoredPhotoColumns)."""
    return sorted((mapper.class_ for mapper in db.Model.registry.mappers
                   if issubclass(mapper.class_, StoredPhotoColumns)), key=lambda cls: cls.__name__)


def missing_photos(session) -> dict[str, list[str]]:
    """table → the hashes its rows name that the configured store does not have."""
    store = photo_store.current_store()
    missing: dict[str, list[str]] = {}
    for cls in photo_record_classes():
        for sha256 in session.scalars(select(cls.sha256).distinct().order_by(cls.sha256)):
            if not store.has(session, sha256):
                missing.setdefault(cls.__tablename__, []).append(sha256)
    return missing


@photos.command("check")
@with_appcontext
def check() -> None:
    with job_transaction() as session:
        missing = missing_photos(session)
    store = current_app.config["PHOTO_STORAGE"]
    if not missing:
        click.echo(f"every photo named by a record is in the {store} store")
        return
    for table, hashes in missing.items():
        click.echo(f"{table}: {len(hashes)} photos missing from the {store} store, e.g. {hashes[0]}")
    raise SystemExit(1)
