"""The API's namespaces, in the order the document lists them."""

from __future__ import annotations

from gridpatrol.api import sites

ALL = (sites.blp,)
