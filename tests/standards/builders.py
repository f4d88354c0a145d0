"""Checklist standards for tests, made through the services."""

from __future__ import annotations

import copy

from gridpatrol.core.transaction import job_transaction
from gridpatrol.standards import services

ITEMS = [
    {"category": "water_power", "text": "配电箱门关闭上锁", "weight": 3, "photo_on_fail": True},
    {"category": "water_power", "text": "水龙头无滴漏", "weight": 2},
    {"category": "fire_safety", "text": "灭火器压力指针在绿区", "weight": 5, "critical": True, "allow_na": False},
    {"category": "sanitation", "text": "卫生间无积水无异味", "weight": 1},
]


def document(code: str = "T1", name: str = "测试标准", items=None, **extra) -> dict:
    data = {"format": services.EXPORT_FORMAT, "code": code, "name": name, "description": "用于测试",
            "items": copy.deepcopy(ITEMS if items is None else items)}
    data.update(extra)
    return data


def make_template(app, code: str = "T1", *, publish: bool = True, items=None) -> int:
    """A template whose version 1 holds `items` (default ITEMS), published unless publish=False."""
    with app.app_context(), job_transaction() as session:
        template = services.create_template(session, code, f"标准 {code}", None)
        draft = template.draft
        for values in copy.deepcopy(ITEMS if items is None else items):
            services.add_item(session, draft, **values)
        if publish:
            services.publish(session, draft)
        return template.id
