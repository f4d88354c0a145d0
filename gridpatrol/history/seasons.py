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
# What a leader writes on a failed checklist item: the fault seen, which becomes the title (the item's
# text is the standard it fails, shown on the issue page as 对照标准). By "<standard code>/<item code>" of the
# demo's standards (gridpatrol/demo/data/standards); an item not listed gets one of its category's notes.
FINDING_NOTES: dict[str, tuple[str, ...]] = {
    # 日常巡查标准 (RCXC)
    "RCXC/SD-01": ("配电箱门未上锁", "配电箱箱门锈蚀，警示标识脱落"),
    "RCXC/SD-02": ("配电箱内有焦糊味，空开发烫", "配电箱指示灯不亮"),
    "RCXC/SD-03": ("配电箱前堆放纸箱和拖把", "配电柜前停放手推车，无法开门"),
    "RCXC/SD-04": ("办公室私拉插线板串接", "插座面板松动，有烧黑痕迹"),
    "RCXC/SD-05": ("走廊两盏灯不亮", "白天会议室无人，灯全开着"),
    "RCXC/SD-06": ("卫生间水龙头关不严，持续滴水", "管道井内给水管接头渗水", "雨后地下室排水管渗水"),
    "RCXC/SD-07": ("男卫生间感应冲水失灵", "洗手池龙头损坏，节水标识缺失"),
    "RCXC/SD-08": ("下班后办公室空调未关", "下班后饮水机、电脑未关"),
    "RCXC/SD-09": ("电表读数异常跳变，已告知值班电工", "水表表箱盖板破损"),
    "RCXC/SD-10": ("强电井门未上锁，井内堆放杂物", "弱电井内有积水"),
    "RCXC/SB-01": ("电梯运行有异响、抖动", "电梯平层不准，高出约 3 公分", "电梯楼层按钮不亮"),
    "RCXC/SB-02": ("电梯五方对讲不通", "电梯轿厢应急照明不亮"),
    "RCXC/SB-03": ("电梯年检合格证过期未更换", "电梯轿厢内未张贴使用标志"),
    "RCXC/SB-04": ("办公室门锁损坏，关不上", "窗户玻璃开裂", "窗户执手脱落"),
    "RCXC/SB-05": ("空调室内机漏水，滴到地面", "空调运行有异响，不制冷", "冷凝水管脱落滴水"),
    "RCXC/SB-06": ("会议室投影仪无法开机", "会议室话筒无声"),
    "RCXC/SB-07": ("门禁刷卡无反应", "道闸抬杆卡顿"),
    "RCXC/SB-08": ("开水器不出热水", "饮水机滤芯超期未换"),
    "RCXC/SB-09": ("无障碍卫生间呼叫按钮失灵", "无障碍坡道扶手松动"),
    "RCXC/ZC-01": ("天花板有渗水痕迹，约半平方米", "墙角霉斑，墙皮空鼓", "雨后天花板水渍扩大"),
    "RCXC/ZC-02": ("楼梯踏步防滑条脱落", "地砖松动翘起"),
    "RCXC/ZC-03": ("空调外机支架锈蚀松动", "雨棚边缘有破损，存在坠落风险"),
    "RCXC/ZC-04": ("楼梯扶手松动", "护窗栏杆固定螺丝缺失"),
    "RCXC/ZC-05": ("窨井盖松动，踩上去有响声", "沟盖板缺失一块"),
    "RCXC/ZC-06": ("固定资产标签缺失，与台账不符", "走廊堆放报废桌椅"),
    "RCXC/ZC-07": ("办公椅椅腿断裂", "文件柜柜门脱落"),
    "RCXC/ZC-08": ("维修现场围挡缺失，无警示标识", "施工完工后建筑垃圾未清运"),
    "RCXC/ZC-09": ("天台雨水口被落叶堵塞", "屋面积水未排"),
    "RCXC/XF-01": ("灭火器压力不足，指针在红区", "灭火器已过有效期", "灭火器铅封脱落"),
    "RCXC/XF-02": ("灭火器被纸箱遮挡", "灭火器少一具，与配置图不符"),
    "RCXC/XF-03": ("消防栓箱内水带缺失", "消防栓箱前堆放杂物，箱门打不开"),
    "RCXC/XF-04": ("楼梯间堆放纸箱", "疏散通道门被锁闭"),
    "RCXC/XF-05": ("安全出口指示灯不亮", "疏散指示标志损坏"),
    "RCXC/XF-06": ("应急照明灯按测试按钮不亮", "应急灯电池失效"),
    "RCXC/XF-07": ("防火门被楔子顶住常开", "防火门闭门器损坏"),
    "RCXC/XF-08": ("烟感探测器被装修防尘罩罩住", "烟感指示灯不闪"),
    "RCXC/XF-09": ("办公室使用电热毯", "发现取暖器在用，已劝止"),
    "RCXC/XF-10": ("楼梯间有烟头", "禁烟标识脱落"),
    "RCXC/XF-11": ("燃气报警器故障灯亮", "燃气阀门处有异味"),
    "RCXC/XF-12": ("电动车推入楼道充电，已劝离", "车棚外有飞线充电"),
    "RCXC/WS-01": ("走廊地面有积水和污渍", "地面有垃圾未清扫"),
    "RCXC/WS-02": ("卫生间有异味，地面积水", "卫生间厕纸、洗手液缺"),
    "RCXC/WS-03": ("垃圾桶满溢", "垃圾未分类投放，标识脱落"),
    "RCXC/WS-04": ("楼梯扶手、窗台积尘", "消防箱表面积灰"),
    "RCXC/WS-05": ("墙面有小广告，已撕除部分", "电梯厅乱张贴通知"),
    "RCXC/WS-06": ("茶水间水池堵塞", "茶水间有食物残渣未清理"),
    "RCXC/WS-07": ("茶水间发现蟑螂", "地下室发现鼠迹，挡鼠板缺失"),
    "RCXC/AB-01": ("监控摄像头画面模糊", "摄像头被广告牌遮挡", "摄像头角度偏移，拍不到出入口"),
    "RCXC/AB-02": ("外来车辆未登记进入", "门卫岗无人值守"),
    "RCXC/AB-03": ("档案室门未上锁", "财务室窗户未关"),
    "RCXC/AB-04": ("下班后窗户未关", "下班后会议室仍有无关人员"),
    "RCXC/AB-05": ("巡更点标识脱落，无法扫码", "巡更点二维码污损"),
    "RCXC/AB-06": ("停车场有无人认领的包裹，已报保卫科",),
    "RCXC/AB-07": ("车辆占用消防车通道", "车辆乱停，堵住出入口"),
    "RCXC/LH-01": ("绿地内有垃圾", "绿地黄土裸露"),
    "RCXC/LH-02": ("树木有断枝悬挂在路上方", "一棵行道树倾斜，有倒伏风险"),
    "RCXC/LH-03": ("绿篱未修剪，遮挡路灯", "草坪局部枯黄，有虫害"),
    "RCXC/LH-04": ("花坛侧石破损", "树池盖板缺失"),
    "RCXC/LH-05": ("喷灌头损坏漏水", "浇水软管接头漏水"),
    "RCXC/LH-06": ("室内绿植枯萎", "绿植托盘积水，滋生蚊虫"),
    # 网格互检标准 (HJ)
    "HJ/SD-01": ("配电箱未上锁，箱前堆放杂物",),
    "HJ/SD-02": ("茶水间水管接头滴水", "卫生间水龙头关不严"),
    "HJ/SB-01": ("电梯运行有异响", "门禁刷卡无反应"),
    "HJ/ZC-01": ("走廊天花板渗水", "楼梯间墙面空鼓脱落"),
    "HJ/ZC-02": ("网格公示牌电话号码已变更未更新", "网格公示牌缺失"),
    "HJ/XF-01": ("灭火器压力不足", "灭火器过期，摆放处被遮挡"),
    "HJ/XF-02": ("疏散通道堆放纸箱", "安全出口指示灯不亮"),
    "HJ/XF-03": ("防火门常开未关", "防火门闭门器损坏"),
    "HJ/WS-01": ("卫生间有异味", "茶水间地面脏乱"),
    "HJ/WS-02": ("垃圾桶满溢，未分类投放",),
    "HJ/AB-01": ("档案室门未上锁", "监控摄像头被遮挡"),
    "HJ/LH-01": ("绿化带有断枝", "绿化带内有垃圾"),
    # 安全大排查标准 (AQPC)
    "AQPC/XF-01": ("喷淋末端试水压力不足", "灭火器维保记录缺失两个月", "火灾报警主机有故障点未处理"),
    "AQPC/XF-02": ("消防控制室夜班单人值班", "值班记录缺少交接签字"),
    "AQPC/XF-03": ("地下车库安全出口被锁闭", "疏散通道堆放装修材料"),
    "AQPC/XF-04": ("防火卷帘联动测试未下降到底", "防火门顺序器失灵"),
    "AQPC/XF-05": ("消防车通道被车辆占用", "消防车通道设置了地锁"),
    "AQPC/XF-06": ("库房物品紧贴灯具堆放", "库房存放油漆等易燃物品"),
    "AQPC/XF-07": ("燃气报警切断装置测试不动作", "燃气管道接口有轻微泄漏"),
    "AQPC/SD-01": ("配电室母排过热，测温 75 度", "配电室接地线松脱"),
    "AQPC/SD-02": ("漏电保护器按试验按钮不跳闸", "办公室超负荷使用电器"),
    "AQPC/SD-03": ("配电室挡鼠板缺失", "绝缘手套过期未检测"),
    "AQPC/SD-04": ("应急发电机启动失败", "UPS 电池容量不足"),
    "AQPC/SB-01": ("电梯维保记录缺签字", "电梯年检合格证过期"),
    "AQPC/AB-01": ("档案室红外报警未联网", "信息机房门禁故障"),
    "AQPC/AB-02": ("东门出入口监控有盲区", "监控录像只保存 15 天"),
    "AQPC/AB-03": ("北侧围墙护栏有缺口", "大门电动门故障"),
    "AQPC/ZC-01": ("化粪池井盖未锁闭", "有限空间警示标识缺失"),
}
# For an item none of the above names: a fault of its category.
CATEGORY_FINDING_NOTES: dict[str, tuple[str, ...]] = {
    Category.WATER_POWER.value: ("水管接头渗漏", "灯具不亮", "插座面板松动"),
    Category.EQUIPMENT.value: ("设备运行有异响", "设备部分功能失灵", "空调漏水"),
    Category.ASSETS.value: ("墙面渗水", "地面破损", "设施松动，已设警示"),
    Category.FIRE_SAFETY.value: ("灭火器压力不足", "通道内堆放纸箱", "指示灯不亮"),
    Category.SANITATION.value: ("保洁未到位", "有异味，需疏通", "垃圾桶满溢"),
    Category.SECURITY.value: ("摄像头画面模糊", "登记不全", "下班后窗户未关"),
    Category.GREENING.value: ("有断枝悬挂", "草坪局部枯黄", "绿植枯萎"),
}
WITHOUT_NOTE = 0.1  # share of failed items a leader marks with a photo but no words (titled by the item's name)


def finding_note(rng, standard: str, item_code: str, category: str) -> str | None:
    """What the leader writes on a failed item (None: nothing), drawn with `rng` (one or two draws)."""
    if rng.random() < WITHOUT_NOTE:
        return None
    return rng.choice(FINDING_NOTES.get(f"{standard}/{item_code}") or CATEGORY_FINDING_NOTES[category])


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
EXTENSION_REASONS = ("配件已下单，厂家供货周期约两周", "需厂家派工程师上门，已预约", "专用配件缺货，正在调货")
EXTENSION_REFUSALS = ("请先用临时措施处置，按原期限完成", "可从备品库调用，不同意延期")
DEFER_REASONS = ("维修费用超出日常维修额度，需报批专项预算", "需列入下季度维修计划，等待预算批复")
