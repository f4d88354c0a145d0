"""Responsibility categories (定责任): shared by grids, checklist templates and issues."""

from __future__ import annotations

import enum

from flask_babel import lazy_gettext as _l


class Category(str, enum.Enum):
    WATER_POWER = "water_power"  # 水电
    EQUIPMENT = "equipment"  # 设备设施
    ASSETS = "assets"  # 资产基建
    FIRE_SAFETY = "fire_safety"  # 消防安全
    SANITATION = "sanitation"  # 环境卫生
    SECURITY = "security"  # 安全保卫
    GREENING = "greening"  # 绿化

    @property
    def label(self) -> str:
        return str(CATEGORY_LABELS[self])


CATEGORY_LABELS = {
    Category.WATER_POWER: _l("Water and power"),
    Category.EQUIPMENT: _l("Equipment and facilities"),
    Category.ASSETS: _l("Assets and construction"),
    Category.FIRE_SAFETY: _l("Fire safety"),
    Category.SANITATION: _l("Sanitation"),
    Category.SECURITY: _l("Security"),
    Category.GREENING: _l("Greening"),
}
