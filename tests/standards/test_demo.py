"""The demo checklist standards: valid files, loaded through the import service."""

import json
from collections import Counter

import pytest

from gridpatrol.core.categories import Category
from gridpatrol.core.transaction import job_transaction
from gridpatrol.demo import services as demo
from gridpatrol.extensions import db
from gridpatrol.standards import demo as standards_demo
from gridpatrol.standards import services

FILES = {path.name: path for path in standards_demo.demo_files()}


def _parsed(name):
    return services.parse_import(FILES[name].read_bytes())


def test_every_demo_file_parses_and_uses_explicit_unique_codes():
    assert set(FILES) == {"daily.json", "safety_sweep.json", "cross_check.json"}
    for name in FILES:
        parsed = _parsed(name)
        codes = [item["code"] for item in parsed.items]
        assert all(codes) and len(set(codes)) == len(codes), name
        for item in parsed.items:
            assert 1 <= item["weight"] <= 5, (name, item["code"])
            prefix = services.CODE_PREFIXES[Category(item["category"])]
            assert item["code"].startswith(prefix + "-"), (name, item["code"])


def test_daily_standard_covers_every_category_with_at_least_40_items():
    parsed = _parsed("daily.json")
    assert parsed.name == "日常巡查标准" and len(parsed.items) >= 40
    by_category = Counter(item["category"] for item in parsed.items)
    assert set(by_category) == {c.value for c in Category}
    assert min(by_category.values()) >= 5
    critical = [i for i in parsed.items if i["critical"]]
    assert critical and all(i["weight"] >= 3 for i in critical)
    assert sum(i["photo_on_fail"] for i in parsed.items) >= 20
    assert any(not i["allow_na"] for i in parsed.items) and any(i["allow_na"] for i in parsed.items)
    texts = " ".join(i["text"] for i in parsed.items)
    for phrase in ("配电箱", "消防栓", "灭火器", "疏散通道", "安全出口", "卫生间", "电梯", "应急电话"):
        assert phrase in texts


def test_special_standards_have_their_focus():
    sweep = _parsed("safety_sweep.json")
    assert sweep.name == "安全大排查专项标准" and 12 <= len(sweep.items) <= 20
    focus = sum(i["category"] in ("fire_safety", "water_power", "security") for i in sweep.items)
    assert focus >= len(sweep.items) * 0.75
    cross = _parsed("cross_check.json")
    assert cross.name == "互检标准" and 10 <= len(cross.items) <= 15


def test_loader_imports_and_publishes_every_demo_standard(app):
    assert "standards" in [name for name, _ in demo.LOADERS]
    with app.app_context(), job_transaction() as session:
        standards_demo.load_standards(session)
    with app.app_context():
        templates = {t.code: t for t in services.list_templates(db.session)}
        assert set(templates) == {"RCXC", "AQPC", "HJ"}
        for template in templates.values():
            assert template.published is not None and template.published.number == 1 and template.draft is None
        daily = templates["RCXC"].published
        assert len(daily.items) >= 40
        assert {c.value for c, _ in services.category_counts(daily)} == {c.value for c in Category}
        # Exported again, each file round-trips exactly (apart from the version number the export adds).
        for name, path in FILES.items():
            original = json.loads(path.read_text(encoding="utf-8"))
            exported = services.export_template(templates[original["code"]])
            exported.pop("version")
            assert exported == original, name


@pytest.mark.parametrize("name", sorted(FILES))
def test_demo_files_are_written_as_the_export_writes_them(name):
    data = json.loads(FILES[name].read_text(encoding="utf-8"))
    assert list(data) == ["format", "code", "name", "description", "items"]
    assert all(list(item) == list(services.ITEM_FIELDS) for item in data["items"])
