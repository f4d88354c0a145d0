"""Notifications sit above the domains: only this package writes Notification rows, and no domain imports it.
Every kind renders, in both languages, for a row whose parameters are missing too (old or partial rows)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask_babel import force_locale

from gridpatrol.notifications import kinds

PACKAGE = Path(__file__).resolve().parents[2] / "gridpatrol"
DOMAINS = ("grids", "standards", "workdays", "patrols", "issues", "points", "accounts", "core")


def _sources(*parts):
    return [p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] in parts]


def test_only_notifications_writes_notification_rows():
    writers = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
               if p.relative_to(PACKAGE).parts[0] != "notifications"
               and re.search(r"\bNotification\(|Notification\.__table__", p.read_text(encoding="utf-8"))]
    assert writers == []


def test_no_domain_imports_notifications():
    importers = [str(p.relative_to(PACKAGE)) for p in _sources(*DOMAINS)
                 if "gridpatrol.notifications" in p.read_text(encoding="utf-8")]
    assert importers == []


@pytest.mark.parametrize("locale", ["zh", "en"])
def test_every_kind_renders_with_or_without_parameters(app, locale):
    full = {"id": 7, "title": "漏水", "grid": "A01", "code": "A01", "name": "一号楼", "note": "仍在滴水",
            "deadline": "2026-11-20T09:30:00+00:00", "reason": "invalid", "rule": "patrol_missed",
            "month": "2026-11", "outcome": "overturned", "text": "旧消息", "link": "/old"}
    with app.test_request_context("/"), force_locale(locale):
        build = kinds.url_builder()
        for name in kinds.KINDS:
            for params in (full, {}):
                shown = kinds.render(name, params, kinds.Context(7, "Asia/Shanghai", "TEST"), build)
                assert isinstance(shown.text, str)
                if params and name != "legacy":
                    assert shown.url and "TEST" in shown.url
        assert kinds.render("issue_due", full, kinds.Context(7, "Asia/Shanghai", "TEST"), build).text.endswith(
            "2026-11-20 17:30。" if locale == "zh" else "2026-11-20 17:30.")
        assert kinds.render("no_such_kind", {}, kinds.Context(None, "UTC"), build).url is None
