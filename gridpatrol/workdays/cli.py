"""`gridpatrol calendar show YEAR [--site CODE]` and `gridpatrol calendar import FILE [--yes]`."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from gridpatrol.core.errors import DomainError
from gridpatrol.core.time import utcnow
from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.grids.models import Site
from gridpatrol.workdays import notice, services
from gridpatrol.workdays.sources import DaySource

SOURCE_WORDS = {DaySource.PACKAGE: "package", DaySource.IMPORTED: "imported", DaySource.SITE: "site override",
                DaySource.PROVISIONAL: "provisional"}
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@click.group("calendar")
def calendar() -> None:
    """The workday calendar: official years, provisional years, the State Council's notice."""


@calendar.command("show")
@click.argument("year", type=click.IntRange(2000, 2100))
@click.option("--site", "site_code", help="Include this site's overrides (its code).")
@with_appcontext
def show(year: int, site_code: str | None) -> None:
    """Every day off on a weekday, make-up working day and holiday of YEAR, with its source."""
    site = None
    if site_code:
        site = db.session.scalar(select(Site).where(Site.code == site_code))
        if site is None:
            raise click.BadParameter(f"no site with code {site_code!r}", param_hint="--site")
    cal = services.calendar_for(db.session, site)
    click.echo(f"{year}: {SOURCE_WORDS[cal.year_source(year)]}" + (f" (site {site.code})" if site else ""))
    for info in services.year_listing(cal, year):
        kind = "working day" if info.is_workday else "day off"
        click.echo(f"{info.day.isoformat()} {WEEKDAYS[info.day.weekday()]}  {kind:<11}  "
                   f"{SOURCE_WORDS[info.source]:<13}  {info.name or ''}".rstrip())


@calendar.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Apply without asking after the preview.")
@with_appcontext
def import_(path: Path, yes: bool) -> None:
    """Enter the State Council's holiday notice for a year from FILE (see docs/calendar.md), after a preview."""
    try:
        parsed = notice.parse(path.read_bytes())
        preview = services.preview_notice(db.session, parsed, actor=None, now=utcnow())
    except notice.NoticeRefused as refused:
        for problem in refused.problems:
            click.echo(f"refused: {problem}", err=True)
        sys.exit(2)
    except DomainError as refused:
        click.echo(f"refused: {refused}", err=True)
        sys.exit(2)
    db.session.rollback()
    click.echo(f"{parsed.year}" + (f" · {parsed.reference}" if parsed.reference else "") +
               (" (replaces the earlier import)" if preview.replaces_import else ""))
    for holiday in parsed.holidays:
        worked = ", ".join(day.isoformat() for day in holiday.workdays) or "none"
        click.echo(f"  {holiday.name}: {holiday.first.isoformat()} – {holiday.last.isoformat()} "
                   f"({len(holiday.days)} days off), make-up working days: {worked}")
    if preview.missing_holidays:
        click.echo(f"warning: the file does not name {', '.join(preview.missing_holidays)}: "
                   "their days will be ordinary days of the week")
    click.echo(f"days that change: {len(preview.changes)}")
    for change in preview.changes:
        click.echo(f"  {change.after.day.isoformat()} {WEEKDAYS[change.after.day.weekday()]}: "
                   f"{'working day' if change.before.is_workday else 'day off'} → "
                   f"{'working day' if change.after.is_workday else 'day off'}")
    for effect in preview.effects:
        click.echo(f"{effect.label}")
        for line in effect.details:
            click.echo(f"  {line}")
    if not yes and not click.confirm("Apply?", default=False):
        click.echo("nothing changed")
        return
    with job_transaction() as session:
        result = services.import_notice(session, parsed, actor=None, now=utcnow())
    click.echo(f"imported {parsed.year}: " + "; ".join(effect.label for effect in result.effects))
