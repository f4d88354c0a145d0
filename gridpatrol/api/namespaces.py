"""The API's namespaces, in the order the document lists them."""

from __future__ import annotations

from gridpatrol.api import dashboard, issues, patrols, points, sites

ALL = (sites.blp, patrols.blp, issues.blp, points.blp, dashboard.blp)
