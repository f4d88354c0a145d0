"""`gridpatrol sites …` and `gridpatrol grids …`: the map from the shell."""

from __future__ import annotations

import csv
import json
import sys

import click
import shapely
from flask.cli import with_appcontext

from gridpatrol.core import spreadsheets
from gridpatrol.core.errors import DomainError
from gridpatrol.core.transaction import job_transaction
from gridpatrol.extensions import db
from gridpatrol.grids import geojson, services


@click.group()
def sites() -> None:
    """Sites (办公区)."""


@sites.command("create")
@click.argument("code")
@click.argument("name")
@click.option("--timezone", default="Asia/Shanghai", show_default=True)
@click.option("--boundary", type=click.File("rb"), help="GeoJSON Polygon (geometry, Feature or one-feature collection).")
@with_appcontext
def create_site(code: str, name: str, timezone: str, boundary) -> None:
    geometry = _read_boundary(boundary) if boundary else None
    try:
        with job_transaction() as session:
            site = services.create_site(session, code=code, name=name, timezone=timezone, boundary=geometry)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created site {site.code} {site.name}")


def _read_boundary(stream) -> shapely.Geometry:
    try:
        data = json.load(stream)
        if data.get("type") == "FeatureCollection":
            data = data["features"][0]
        if data.get("type") == "Feature":
            data = data["geometry"]
        return shapely.force_2d(shapely.from_geojson(json.dumps(data)))
    except (ValueError, KeyError, IndexError, TypeError, shapely.errors.GEOSException) as exc:
        raise click.ClickException(f"cannot read the boundary: {exc}") from None


@sites.command("list")
@with_appcontext
def list_sites() -> None:
    for site in services.list_sites(db.session):
        click.echo(f"{site.code}\t{site.name}\t{site.timezone}\t{len(site.grids)} grids\t"
                   f"uncovered after {site.uncovered_after_days} days\tissuing unit {site.issuing_unit or site.name}")


@sites.command("set")
@click.argument("code")
@click.option("--uncovered-after-days", type=int,
              help="The map shows a grid grey (uncovered) after this many days without a patrol (1 to 365).")
@click.option("--issuing-unit", metavar="NAME",
              help="编制单位 printed on the points table (default: the site's name; '' puts the default back).")
@with_appcontext
def set_site(code: str, uncovered_after_days: int | None, issuing_unit: str | None) -> None:
    """Change a site's settings."""
    if uncovered_after_days is None and issuing_unit is None:
        raise click.UsageError("give --uncovered-after-days and/or --issuing-unit")
    try:
        with job_transaction() as session:
            site = services.get_site(session, code)
            if uncovered_after_days is not None:
                services.set_uncovered_after_days(session, site, uncovered_after_days, actor=None)
            if issuing_unit is not None:
                services.set_issuing_unit(session, site, issuing_unit, actor=None)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    if uncovered_after_days is not None:
        click.echo(f"site {site.code}: grids are uncovered after {uncovered_after_days} days without a patrol")
    if issuing_unit is not None:
        click.echo(f"site {site.code}: issuing unit {site.issuing_unit or site.name}"
                   + ("" if site.issuing_unit else " (the site's name)"))


@click.group()
def grids() -> None:
    """Grid units (网格单元): import, export, locate."""


@grids.command("import")
@click.argument("file", type=click.File("rb"))
@click.option("--site", "site_code", help="Site code (may be left out when there is only one site).")
@with_appcontext
def import_grids(file, site_code: str | None) -> None:
    """Import a GeoJSON FeatureCollection of grids. Any problem: nothing is imported, exit status 1.
    A file larger than GRID_IMPORT_MAX_BYTES is refused without being read whole."""
    limits = services.import_limits()
    try:
        data = geojson.read_bounded(file, limits.max_bytes)
        with job_transaction() as session:
            site = services.get_site(session, site_code)
            report = services.import_grids(session, site, data, limits=limits)
    except geojson.GridImportRefused as refused:
        click.echo(f"refused: {len(refused.problems)} problem(s); nothing was imported", err=True)
        for problem in refused.problems:
            click.echo(f"  [{problem.reason}] {problem.message}", err=True)
        sys.exit(1)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"site {report.site.code}: {len(report.created)} created, {len(report.updated)} updated, "
               f"{len(report.unchanged)} unchanged, {len(set(report.reassigned))} reassigned")
    for warning in report.warnings:
        click.echo(f"warning: {warning.message}")


@grids.command("export")
@click.option("--site", "site_code")
@click.option("--out", type=click.File("w", encoding="utf-8"), default="-", show_default=True)
@with_appcontext
def export_grids(site_code: str | None, out) -> None:
    """Write the site's grids as GeoJSON (imports back to the same grids)."""
    try:
        site = services.get_site(db.session, site_code)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    json.dump(services.export_grids(db.session, site), out, ensure_ascii=False, indent=1)
    out.write("\n")


@grids.command("locate")
@click.argument("lon", type=float, required=False)
@click.argument("lat", type=float, required=False)
@click.option("--level", type=int, default=0, show_default=True)
@click.option("--site", "site_code")
@click.option("--csv", "csv_file", type=click.File("r", encoding="utf-8"),
              help="Rows lon,lat[,level] ('-' for stdin); one answer per row.")
@with_appcontext
def locate(lon: float | None, lat: float | None, level: int, site_code: str | None, csv_file) -> None:
    """Print the grid code at LON LAT, or 'outside' with the nearest grid and its distance in metres."""
    try:
        site = services.get_site(db.session, site_code)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    if csv_file is None:
        if lon is None or lat is None:
            raise click.UsageError("give LON LAT, or --csv FILE")
        try:
            click.echo(_answer_line(services.locate(db.session, site, lon, lat, level)))
        except DomainError as exc:
            raise click.ClickException(str(exc)) from None
        return
    locator = services.locators.get(db.session, site)
    writer = spreadsheets.csv_writer(sys.stdout, lineterminator="\n")  # grid codes are imported text
    for number, row in enumerate(csv.reader(csv_file), start=1):
        if not row or row[0].strip().lower() in ("lon", "longitude", "#"):
            continue
        try:
            x, y = float(row[0]), float(row[1])
            row_level = int(row[2]) if len(row) > 2 and row[2].strip() else level
            if not (-180 <= x <= 180 and -90 <= y <= 90):
                raise ValueError
        except (ValueError, IndexError):
            raise click.ClickException(f"line {number}: expected lon,lat[,level], got {','.join(row)!r}") from None
        found = locator.locate_or_nearest(x, y, row_level)
        if found is None:
            writer.writerow([x, y, row_level, "outside", "", ""])
        elif found.inside:
            writer.writerow([x, y, row_level, found.key, "", ""])
        else:
            writer.writerow([x, y, row_level, "outside", found.key, f"{found.distance_m:.1f}"])


def _answer_line(answer: services.LocateAnswer) -> str:
    if answer.inside:
        return answer.grid.code
    if answer.nearest is None:
        return "outside"
    return f"outside (nearest {answer.nearest.code}, {answer.distance_m:.1f} m)"
