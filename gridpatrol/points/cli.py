"""`gridpatrol points …`: check and rebuild a month's ledger, export the monthly table, close a month.

    gridpatrol points rebuild --site CODE --month YYYY-MM [--check]
    gridpatrol points export  --site CODE --month YYYY-MM --out FILE.xlsx|FILE.csv [--locale zh|en] [--prepared-by NAME]
    gridpatrol points export  --site CODE --year YYYY --out FILE.xlsx [--prepared-by NAME]
    gridpatrol points export  --site CODE --period 2026-Q4|2026-H2|2026 --out FILE.xlsx|FILE.csv [--prepared-by NAME]
    gridpatrol points close   --site CODE --month YYYY-MM

Writing commands run in one `job_transaction()`; a refusal prints the reason and exits with status 1.
"""

from __future__ import annotations

import os
import sys
from typing import Optional

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from gridpatrol.accounts.models import User
from gridpatrol.core.errors import DomainError
from gridpatrol.core.time import Period
from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.grids import services as grids
from gridpatrol.points import export as exporting
from gridpatrol.points import services, table as tables


@click.group()
def points() -> None:
    """Points (积分): the ledger, the monthly table, closing months."""


def _site_and_month(session, site_code: Optional[str], month_text: str):
    try:
        return grids.get_site(session, site_code), services.parse_month(month_text)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None


@points.command("rebuild")
@click.option("--site", "site_code", help="Site code (may be left out when there is only one site).")
@click.option("--month", "month_text", required=True, metavar="YYYY-MM")
@click.option("--check", is_flag=True, help="Only compare the ledger with the events; exit 1 on any difference.")
@with_appcontext
def rebuild(site_code: Optional[str], month_text: str, check: bool) -> None:
    """Book what the month's events earned and the ledger lacks (or, with --check, list the differences)."""
    if check:
        site, month = _site_and_month(db.session, site_code, month_text)
        differences = services.check_month(db.session, site, month)
        names = dict(db.session.execute(select(User.id, User.username).where(
            User.id.in_(sorted({d.user_id for d in differences})))).all()) if differences else {}
        for d in differences:
            click.echo(f"{names.get(d.user_id, d.user_id)}\t{d.source_type} {d.source_id}\t"
                       f"expected {d.expected:+d}\tbooked {d.booked:+d}")
        click.echo(f"site {site.code} {month:%Y-%m}: {len(differences)} difference(s)")
        db.session.rollback()
        if differences:
            sys.exit(1)
        return
    with job_transaction() as session:
        site, month = _site_and_month(session, site_code, month_text)
        count = services.rebuild_missing(session, site, month)
    click.echo(f"site {site.code} {month:%Y-%m}: {count} missing entr{'y' if count == 1 else 'ies'} booked")


@points.command("export")
@click.option("--site", "site_code", help="Site code (may be left out when there is only one site).")
@click.option("--month", "month_text", metavar="YYYY-MM", help="The month of the points table.")
@click.option("--year", type=int, help="A whole year instead: a summary sheet and the monthly tables (.xlsx).")
@click.option("--period", "period_key", metavar="KEY",
              help="A quarter (2026-Q4), half-year (2026-H2) or year (2026) instead: the months added up (the 考核), "
                   "in .xlsx with the monthly tables, or the summary in .csv.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True),
              help="The file to write; .xlsx (to print and sign) or .csv (the main table).")
@click.option("--locale", type=click.Choice(["zh", "en"]), default=None,
              help="Language of the headers (default: the site's default language).")
@click.option("--prepared-by", "prepared_by", metavar="NAME",
              help="The 制表人 printed on the workbook (default: a blank line to write the name on).")
@with_appcontext
def export(site_code: Optional[str], month_text: Optional[str], year: Optional[int], period_key: Optional[str],
           out: str, locale: Optional[str], prepared_by: Optional[str]) -> None:
    """Write the monthly points table (or a year's) to FILE, picking the format by its extension."""
    locale = locale or current_app.config["DEFAULT_LOCALE"]
    extension = os.path.splitext(out)[1].lower()
    if extension not in (".xlsx", ".csv"):
        raise click.ClickException("--out must end in .xlsx or .csv")
    if sum(x is not None for x in (month_text, year, period_key)) != 1:
        raise click.UsageError("give --month YYYY-MM, --year YYYY or --period KEY")
    session = db.session
    try:
        site = grids.get_site(session, site_code)
        if period_key is not None:
            try:
                period = Period.parse(period_key)
            except ValueError:
                raise click.UsageError("--period is a quarter (2026-Q4), a half-year (2026-H2) or a year (2026)") \
                    from None
            months = tables.period_tables(session, site, period)
            if not months:
                raise click.ClickException(f"{period.key} has not begun")
            write = exporting.write_period_xlsx if extension == ".xlsx" else exporting.write_period_csv
            write(months, out, period=period, locale=locale,
                  **({"issuing_unit": site.issuing_unit, "prepared_by": prepared_by} if extension == ".xlsx" else {}))
            click.echo(f"wrote {out}: site {site.code} {period.key}, {len(months)} months")
            return
        if year is not None:
            if extension != ".xlsx":
                raise click.ClickException("a year is written as .xlsx")
            months = tables.yearly_tables(session, site, year)
            if not months:
                raise click.ClickException(f"{year} has not begun")
            exporting.write_year_xlsx(months, out, locale=locale, issuing_unit=site.issuing_unit,
                                      prepared_by=prepared_by)
            click.echo(f"wrote {out}: site {site.code} {year}, {len(months)} months, "
                       f"{len(months[-1].rows)} leaders in the last month")
            return
        month = services.parse_month(month_text)
        table = tables.monthly_table(session, site, month)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        session.rollback()
    exporting.write(table, out, locale=locale, issuing_unit=site.issuing_unit, prepared_by=prepared_by)
    click.echo(f"wrote {out}: site {site.code} {month:%Y-%m}, {len(table.rows)} leaders, "
               f"{len(table.entries)} entries, {'closed' if table.closed else 'open'}")


@points.command("close")
@click.option("--site", "site_code", help="Site code (may be left out when there is only one site).")
@click.option("--month", "month_text", required=True, metavar="YYYY-MM")
@with_appcontext
def close(site_code: Optional[str], month_text: str) -> None:
    """Close (月度锁定) a month that has ended. Closing a closed month does nothing."""
    try:
        with job_transaction() as session:
            site, month = _site_and_month(session, site_code, month_text)
            closed = services.close_month(session, site, month, actor=None)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"site {site.code} {month:%Y-%m}: " + ("closed" if closed else "was closed already; nothing changed"))
