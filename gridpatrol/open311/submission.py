"""`POST requests`: a quick report (随手拍) filed by the api_key's user, through the service the /report page uses.

The request names a service (our category), a point (lat/long, WGS84) and in words what is wrong; the attributes
give the severity and the level of the site's map. The point must fall in a grid of the site on that level (or
within `issues.services.MAX_OUTSIDE_METRES` of one, as on the page): a report no grid holds would have no one
responsible, so it is refused with a 400 rather than filed. An address_string or address_id alone cannot be
placed in a grid and is refused too; given with lat/long, the address_string is kept in the description.

Unlike the page, a report without a photo is filed: `media_url` is only a link, kept in the description and never
fetched. The reporter's contact (first_name, last_name, phone, email) is kept in the description as well; no user
is ever made from it. The issue is an ordinary quick report (source `report`) whose reporter is the token's user.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from gridpatrol.accounts.models import User
from gridpatrol.grids.models import Site
from gridpatrol.issues import services as issues
from gridpatrol.issues.models import Severity
from gridpatrol.open311 import catalogue
from gridpatrol.open311.params import Open311Error, Params, shown

MAX_DESCRIPTION = 4000  # the spec's limit
MAX_URL = 2000
ATTRIBUTES = ("severity", "level")


def submit(session: Session, site: Site, user: User, params: Params, now: dt.datetime) -> dict[str, Any]:
    """File the report; the spec's record of it (service_request_id, service_notice, account_id)."""
    code = params.text("service_code", max_chars=100, required=True)
    if code not in catalogue.service_codes():
        raise Open311Error(404, _("service_code %(code)s was not found.", code=shown(code)))
    severity, level = _attributes(params)
    lat = params.number("lat", low=-90, high=90)
    lon = params.number("long", low=-180, high=180)
    if lat is None or lon is None:
        raise Open311Error(400, _("A location is needed as lat and long (WGS84): an address_string or address_id "
                                  "alone cannot be placed in a grid."))
    description = params.text("description", max_chars=MAX_DESCRIPTION, multiline=True, required=True)
    footer = _footer(params)
    where = issues.locate_report(session, site, lon, lat, level)
    if where.grid is None:
        raise Open311Error(400, _("The point %(lat)s, %(long)s on level %(level)d lies in none of the site's "
                                  "grids.", lat=lat, long=lon, level=level))
    nearby = issues.possible_duplicates(session, site, grid=where.grid, category=code, lon=lon, lat=lat, now=now)
    issue = issues.report(session, user, site, lon=lon, lat=lat, level=level, category=code, severity=severity,
                          description="\n\n".join([description, *footer]), photos={}, photos_required=False,
                          now=now)
    notice = _("Filed in grid %(grid)s; waiting to be accepted.", grid=f"{where.grid.code} {where.grid.name}")
    if nearby:
        notice += " " + _("Possibly the same as request %(ids)s.", ids=", ".join(str(i.id) for i in nearby))
    return {"service_request_id": issue.id, "service_notice": notice, "account_id": user.username}


def _attributes(params: Params) -> tuple[str, int]:
    given = params.attributes()
    unknown = sorted(set(given) - set(ATTRIBUTES))
    if unknown:
        raise Open311Error(400, _("Unknown attribute %(code)s: this service takes %(codes)s.",
                                  code=shown(unknown[0]), codes=", ".join(ATTRIBUTES)))
    values = Params({code: given[code] for code in ATTRIBUTES if code in given})
    severity = values.text("severity", max_chars=20) or Severity.MINOR.value
    if severity not in {s.value for s in Severity}:
        raise Open311Error(400, _("attribute[severity] takes %(keys)s.", keys=", ".join(s.value for s in Severity)))
    level = values.whole_number("level", low=catalogue.LOWEST_LEVEL, high=catalogue.HIGHEST_LEVEL)
    return severity, 0 if level is None else level


def _footer(params: Params) -> list[str]:
    """The lines kept below the description: where in words, the media link, the reporter's contact."""
    lines = []
    address = params.text("address_string", max_chars=400)
    if address:
        lines.append(_("Place: %(address)s", address=address))
    media_url = params.text("media_url", max_chars=MAX_URL)
    if media_url:
        try:
            parts = urlsplit(media_url)
        except ValueError:  # e.g. an unclosed IPv6 bracket
            parts = None
        if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.netloc \
                or any(c.isspace() for c in media_url):
            raise Open311Error(400, _("media_url must be an http or https URL."))
        lines.append(_("Media: %(url)s", url=media_url))
    name = " ".join(filter(None, (params.text("first_name", max_chars=80), params.text("last_name", max_chars=80))))
    phone = params.text("phone", max_chars=32)
    email = params.text("email", max_chars=254)
    if email and ("@" not in email or any(c.isspace() for c in email)):
        raise Open311Error(400, _("%(name)s is not valid.", name="email"))
    contact = [part for part in (name, phone, email) if part]
    if contact:
        lines.append(_("Reporter's contact: %(contact)s", contact=", ".join(contact)))
    return lines
