"""`gridpatrol standards …`: checklist standards from the shell."""

from __future__ import annotations

import json
import sys

import click
from flask.cli import with_appcontext

from gridpatrol.core.errors import DomainError
from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.standards import services


@click.group()
def standards() -> None:
    """Checklist standards (检查标准): list, export, import."""


@standards.command("list")
@with_appcontext
def list_standards() -> None:
    """One line per standard: code, name, published version and items, draft, active."""
    for template in services.list_templates(db.session):
        published, draft = template.published, template.draft
        columns = [
            template.code, template.name,
            f"v{published.number} ({len(published.items)} items)" if published else "unpublished",
            f"draft v{draft.number}" if draft else "",
            "" if template.active else "inactive",
        ]
        click.echo("\t".join(columns).rstrip())


@standards.command("export")
@click.argument("code")
@click.option("--version", "number", type=int, help="Version number (default: the published one, else the draft).")
@click.option("--out", type=click.File("w", encoding="utf-8"), default="-", show_default=True)
@with_appcontext
def export_standard(code: str, number: int | None, out) -> None:
    """Write a standard as JSON (gridpatrol-checklist/1); `standards import` reads it back."""
    try:
        template = services.get_template(db.session, code)
        version = services.get_version(template, number) if number is not None else None
        data = services.export_template(template, version)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    json.dump(data, out, ensure_ascii=False, indent=1)
    out.write("\n")


@standards.command("import")
@click.argument("file", type=click.File("rb"))
@with_appcontext
def import_standard(file) -> None:
    """Import a JSON standard: a new code is created and published, a known one gets a new draft.
    Any problem: nothing is imported, exit status 1."""
    data = file.read(services.MAX_IMPORT_BYTES + 1)
    try:
        with job_transaction() as session:
            template = services.import_template(session, data)
            draft = template.draft
            result = (f"{template.code}: draft version {draft.number} with {len(draft.items)} items "
                      "(review and publish it in the editor)" if draft else
                      f"{template.code}: created and published version {template.published.number} "
                      f"with {len(template.published.items)} items")
    except services.ImportRefused as refused:
        click.echo(f"refused: {len(refused.problems)} problem(s); nothing was imported", err=True)
        for problem in refused.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(1)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(result)
