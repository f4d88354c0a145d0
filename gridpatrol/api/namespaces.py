"""The API's namespaces, in the order the document lists them."""

from __future__ import annotations

from gridpatrol.api import dashboard, points, sites

ALL = (sites.blp, points.blp, dashboard.blp)
