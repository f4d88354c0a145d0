"""Our issue categories as GeoReport services, and what a request of each takes (its attributes).

A service is a category (`core.categories.Category`: its code is the service_code), named in the reader's
language, described by the site's time limits (处置时限) for it. Every service takes the same two attributes, as the
quick report form (随手拍) does: `severity` (一般, 较大, 重大; minor when not given) and `level`, the floor of the
site's map the point is on (0 when not given).
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from gridpatrol.core.categories import Category
from gridpatrol.grids import services as grids
from gridpatrol.grids.models import Site
from gridpatrol.issues import services as issues
from gridpatrol.issues.labels import issue_labels
from gridpatrol.issues.models import Severity

# The quick report form's range of levels (issues/forms.py ReportForm.level).
LOWEST_LEVEL, HIGHEST_LEVEL = -9, 99

KEYWORDS = {
    Category.WATER_POWER: _l("water leak, no water, power cut, lighting, socket"),
    Category.EQUIPMENT: _l("lift, air conditioning, doors and windows, furniture, equipment"),
    Category.ASSETS: _l("wall, ceiling, floor, roof, building works"),
    Category.FIRE_SAFETY: _l("extinguisher, hydrant, emergency exit, smoke detector"),
    Category.SANITATION: _l("litter, toilet, smell, pests"),
    Category.SECURITY: _l("access control, camera, lock, stranger"),
    Category.GREENING: _l("trees, lawn, flower beds, watering"),
}
GROUP = _l("Report a problem")  # 随手拍: every service is filed as a quick report


def service_codes() -> set[str]:
    return {category.value for category in Category}


def services(session: Session, site: Site) -> list[dict[str, Any]]:
    labels = issue_labels()
    return [{"service_code": category.value, "service_name": labels.category[category.value],
             "description": _time_limits(session, site, category), "metadata": True, "type": "realtime",
             "keywords": str(KEYWORDS[category]), "group": str(GROUP)} for category in Category]


def definition(session: Session, site: Site, code: str) -> dict[str, Any]:
    labels = issue_labels()
    levels = ", ".join(str(level) for level in grids.site_levels(session, site)) or "0"
    return {"service_code": code, "attributes": [
        {"variable": True, "code": "severity", "datatype": "singlevaluelist", "required": False,
         "datatype_description": _("Minor when not given."), "order": 1,
         "description": _("How serious the problem is."),
         "values": [{"key": severity.value, "name": labels.severity[severity.value]} for severity in Severity]},
        {"variable": True, "code": "level", "datatype": "number", "required": False,
         "datatype_description": _("A whole number from %(low)d to %(high)d; 0 when not given.", low=LOWEST_LEVEL,
                                   high=HIGHEST_LEVEL),
         "order": 2,
         "description": _("The level of the site's map the problem is on: 0 outdoors, 1 and up the floors, -1 and "
                          "down the basements. Levels at this site: %(levels)s.", levels=levels),
         "values": []},
    ]}


def _time_limits(session: Session, site: Site, category: Category) -> str:
    spans = {}
    for severity in Severity:
        amount, unit = issues.time_limit(session, site, category.value, severity.value)
        spans[severity.value] = (_("%(n)d working hour(s)", n=amount) if unit == "hours"
                                 else _("%(n)d working day(s)", n=amount))
    return _("Time limit once dispatched: minor %(minor)s, major %(major)s, critical %(critical)s.", **spans)
