"""`gridpatrol backup FILE` and `gridpatrol restore FILE [--force]`.

    gridpatrol backup /var/backups/gridpatrol/2026-12-02.tar    while the app runs
    gridpatrol restore /var/backups/gridpatrol/2026-12-02.tar   into an empty installation, the app stopped
"""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from gridpatrol.backups import services


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup(path: Path) -> None:
    """Write one archive with the database and every photo (consistent while the app runs)."""
    try:
        manifest = services.backup_to(path)
    except services.BackupError as error:
        raise click.ClickException(str(error)) from None
    rows = sum(manifest.tables.values())
    click.echo(f"backed up {manifest.database} at revision {manifest.revision}: {rows} rows in "
               f"{len(manifest.tables)} tables, {manifest.photos} photos -> {path} "
               f"({path.stat().st_size / 1e6:.1f} MB)")


@click.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace everything in a database that is not empty.")
@with_appcontext
def restore(path: Path, force: bool) -> None:
    """Restore an archive written by `gridpatrol backup` (stop the web workers and the scheduler first)."""
    try:
        restored = services.restore_from(path, force=force)
    except services.BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"restored a backup at revision {restored.revision} into {restored.database}, migrated to "
               f"{restored.upgraded_to}: {sum(restored.tables.values())} rows in {len(restored.tables)} tables, "
               f"{restored.photos} photos")
    for table, count in sorted(restored.tables.items()):
        click.echo(f"  {table:<28} {count}")
