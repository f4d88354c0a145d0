"""The seasons of a compound's problems: how often things fail, by category and month, and what people write.

Pure data and arithmetic (no database), so the model can be read and tuned in one place:

* 水电 (water_power) and 资产基建 (assets): the flood season (汛期, June to September) brings leaks, seepage, blocked
  drains and overloaded circuits (air conditioning);
* 消防安全 (fire_safety): winter (November to February) brings heaters, dry air and the Spring Festival checks;
* 绿化 (greening): spring growth and the typhoon months; 环境卫生 (sanitation) a little more in summer (insects,
  smells); 设备设施 (equipment) a little more in summer (air conditioning, lifts under load); 安全保卫 (security)
  steady, higher around the long holidays.
"""

from __future__ import annotations

import datetime as dt

from gridpatrol.core.categories import Category

# Multiplier of the base failure rate, by category and month (1 = January).
_SEASON: dict[str, dict[int, float]] = {
    Category.WATER_POWER.value: {6: 2.6, 7: 3.0, 8: 2.8, 9: 2.2, 5: 1.3, 10: 1.1},
    Category.ASSETS.value: {6: 2.4, 7: 2.8, 8: 2.6, 9: 2.0, 5: 1.2},
    Category.FIRE_SAFETY.value: {11: 1.8, 12: 2.4, 1: 2.6, 2: 2.2, 3: 1.2},
    Category.GREENING.value: {3: 1.6, 4: 1.8, 5: 1.4, 7: 1.4, 8: 1.5, 9: 1.3},
    Category.SANITATION.value: {6: 1.3, 7: 1.4, 8: 1.4},
    Category.EQUIPMENT.value: {6: 1.3, 7: 1.5, 8: 1.5, 1: 1.2},
    Category.SECURITY.value: {1: 1.3, 2: 1.4, 10: 1.3},
}


def season(category: str, day: dt.date) -> float:
    """How much more (or less) often things of `category` go wrong in the month of `day`."""
    return _SEASON.get(category, {}).get(day.month, 1.0)


FLOOD_SEASON = (6, 7, 8, 9)
WINTER = (11, 12, 1, 2)

# --- what people write ---------------------------------------------------------------------------------
# Notes on a failed checklist item (the item's text is the title; the note says what was seen).
FINDING_NOTES: dict[str, tuple[str, ...]] = {
    Category.WATER_POWER.value: ("现场发现，已拍照", "东侧一处，需维修班组处理", "雨后发现渗漏", "已临时关闭阀门，待维修",
                                 "指示灯异常，已告知值班电工", "杂物已要求清理，需复查"),
    Category.EQUIPMENT.value: ("运行时有异响", "已张贴暂停使用提示", "报修电话已打，待上门", "部分功能失灵",
                               "冷凝水滴到地面，已放接水盆"),
    Category.ASSETS.value: ("墙角有渗水痕迹", "雨后天花板水渍扩大", "松动明显，已设警示", "破损约 30 公分",
                            "台账与实物不符，待核对", "雨水口被落叶堵塞"),
    Category.FIRE_SAFETY.value: ("压力不足，需更换", "通道内堆放纸箱", "指示灯不亮", "防火门被楔子顶住常开",
                                 "发现取暖器在用，已劝止", "电动车楼道充电，已劝离"),
    Category.SANITATION.value: ("保洁未到位", "有异味，需疏通", "垃圾桶满溢", "墙面有小广告，已撕除部分"),
    Category.SECURITY.value: ("摄像头画面模糊", "登记不全", "下班后窗户未关", "车辆占用消防通道"),
    Category.GREENING.value: ("有断枝悬挂", "草坪局部枯黄", "喷灌头损坏漏水", "绿植枯萎"),
}

# Quick reports (随手拍): what staff see and report, mostly repairs. "{place}" is the grid's name.
QUICK_REPORTS: dict[str, tuple[str, ...]] = {
    Category.WATER_POWER.value: ("{place}卫生间水龙头关不紧，一直滴水", "{place}走廊灯不亮", "{place}茶水间水池下水管漏水",
                                 "{place}插座面板松动，有焦味", "{place}感应冲水失灵", "{place}地漏返水"),
    Category.EQUIPMENT.value: ("{place}空调不制冷", "{place}门锁坏了关不上", "{place}电梯按钮不亮",
                               "{place}投影仪打不开", "{place}窗户把手脱落", "{place}开水器不出水"),
    Category.ASSETS.value: ("{place}天花板渗水", "{place}墙皮脱落", "{place}地砖松动翘起", "{place}椅子腿断了",
                            "{place}窨井盖松动，踩上去响"),
    Category.FIRE_SAFETY.value: ("{place}安全出口指示灯不亮", "{place}楼梯间堆了纸箱", "{place}灭火器过期了",
                                 "{place}防火门关不严"),
    Category.SANITATION.value: ("{place}垃圾桶满了没人清", "{place}卫生间有异味", "{place}有蟑螂"),
    Category.SECURITY.value: ("{place}监控摄像头歪了", "{place}道闸抬不起来"),
    Category.GREENING.value: ("{place}树枝快断了，挂在路上方", "{place}绿化带喷头坏了，一直冒水"),
}
# Relative frequency of quick reports by category: mostly repairs (water and power, equipment, assets).
QUICK_REPORT_WEIGHTS: dict[str, float] = {
    Category.WATER_POWER.value: 0.30, Category.EQUIPMENT.value: 0.27, Category.ASSETS.value: 0.18,
    Category.FIRE_SAFETY.value: 0.08, Category.SANITATION.value: 0.09, Category.SECURITY.value: 0.04,
    Category.GREENING.value: 0.04,
}
# Reports that are not the centre's to fix (rejected as not ours), or turn out to be nothing (invalid).
NOT_OURS = ("{place}外面市政路灯不亮", "{place}门口共享单车乱停", "{place}对面工地夜间施工噪音")
REJECT_NOTES = {
    "invalid": ("现场核实无此问题", "已恢复正常，无需处理", "属正常使用现象，已向报告人解释"),
    "not_ours": ("属市政设施，已转告城管部门", "不属于本中心管理范围，已告知报告人联系属地街道"),
    "duplicate": ("同一问题已在处理中",),
}
FIX_NOTES: dict[str, tuple[str, ...]] = {
    Category.WATER_POWER.value: ("已更换阀芯", "已更换灯管", "已重新紧固接线并测试", "已更换密封圈，试水无渗漏"),
    Category.EQUIPMENT.value: ("已维修调试，运行正常", "已更换锁芯", "已清洗滤网并补充冷媒", "已更换配件"),
    Category.ASSETS.value: ("已修补并刷漆", "已重新铺贴", "已加固", "已疏通并清理"),
    Category.FIRE_SAFETY.value: ("已更换灭火器", "已清理通道", "已更换应急灯电池", "已调整闭门器"),
    Category.SANITATION.value: ("已清理", "已疏通下水并消杀", "已安排加密保洁"),
    Category.SECURITY.value: ("已调整摄像头角度", "已维修道闸", "已加强值守"),
    Category.GREENING.value: ("已修剪清除断枝", "已更换喷头", "已补种"),
}
REWORK_NOTES = ("复查仍有渗漏，请重新处理", "问题依旧，未彻底修复", "现场未清理干净", "只做了临时处理，需彻底修复")
STUCK_NOTES = ("需采购配件，等待到货", "需报批维修预算", "需厂家派工程师")
