"""Generate the demo compound: 东湖区行政中心 (site code DHXZ), a fictional district administrative centre.

The plan below is written in local metres (x east, y north) around the origin ORIGIN (lon 120.150, lat 30.280,
WGS84); the compound wall is 600 m × 450 m with the two southern corners cut where it meets the street
junctions. Layout, north to south:

    north strip   职工食堂 and its yard (NW), the north service gate, staff car park with the e-bike shed,
                  the utility building 综合设备用房 (配电房 + 水泵房) against the north wall (NE)
    ring road     内部道路 around the middle band, with a west and an east branch road
    middle band   west: 西辅楼 in its garden, staff sports ground, west car park
                  centre: 北广场, 主楼 (3 floors + basement plant level) flanked by lawns, 南广场 with the flag
                  platform, the underground car park (level -1) below it, the central lawns along the avenue
                  east: 东辅楼 in its garden, forecourt, 会议中心 with its car park
    south strip   main gate on the axis, gate house, visitor car park, green belt

Grids on level 0 (outdoor ground) together with the level-1 grids of the buildings (their footprints) tile the
compound; the only gap is the flag platform (DELIBERATE_GAPS). Upper floors and basements use the footprint of
their building. Every vertex of every polygon is inserted into every segment it lies on ("noding"), so that
neighbours share edges with identical vertex coordinates after conversion to lon/lat and rounding.

Grid codes A01…A49 follow the urban-management numbering rule: rows of ROW_HEIGHT_M from the north wall,
north rows first, west to east within a row; the grids of one building stay together at the building's
position and are ordered by floor (basement first), then north→south and west→east on the floor
(see `grid_order`).

Run `python -m gridpatrol.demo.data.build_compound` to validate and (re)write the data files next to this
script; `--check` fails if they are out of date; `--svg FILE` also draws level 0 for a visual check.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon, box, shape
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient
from shapely.ops import unary_union

from gridpatrol.core.geometry import LocalProjection

DATA_DIR = Path(__file__).resolve().parent
ORIGIN = (120.150, 30.280)
DECIMALS = 7  # ≈ 1 cm
ROW_HEIGHT_M = 75.0
OVERLAP_TOLERANCE_M2 = 0.01
CHECKPOINT_MIN_CLEARANCE_M = 0.5
MAX_GAP_TOTAL_M2 = 50.0

SITE = {"code": "DHXZ", "name": "东湖区行政中心", "timezone": "Asia/Shanghai"}

# The compound wall, metres. South-west and south-east corners are cut by 15 m (street junctions).
BOUNDARY_M = [(-285, -225), (285, -225), (300, -210), (300, 225), (-300, 225), (-300, -210)]

# Categories (gridpatrol.core.categories.Category values).
WP, EQ, AS, FS, SA, SE, GR = ("water_power", "equipment", "assets", "fire_safety", "sanitation", "security",
                              "greening")
CATEGORIES = (WP, EQ, AS, FS, SA, SE, GR)

# ---------------------------------------------------------------------------------------------- people
# (username, display name, department). wangge01 / 李建国 is the demo grid-leader login of gridpatrol.demo.
PEOPLE = [
    ("wangge01", "李建国", "物业管理科"),
    ("zhaolei", "赵磊", "物业管理科"),
    ("huwenbin", "胡文斌", "物业管理科"),
    ("fengtao", "冯涛", "物业管理科"),
    ("zhangwei", "张伟", "办公室"),
    ("huangli", "黄丽", "办公室"),
    ("liangchen", "梁晨", "办公室"),
    ("yuanjie", "袁洁", "办公室"),
    ("wangfang", "王芳", "财务科"),
    ("sunli", "孙莉", "财务科"),
    ("caolin", "曹琳", "财务科"),
    ("liuyang", "刘洋", "资产管理科"),
    ("luoyan", "罗艳", "资产管理科"),
    ("tianyu", "田雨", "资产管理科"),
    ("zhoujie", "周杰", "基建科"),
    ("gaofeng", "高峰", "基建科"),
    ("pengfei", "彭飞", "基建科"),
    ("yangming", "杨明", "安全保卫科"),
    ("guojun", "郭军", "安全保卫科"),
    ("tangbin", "唐斌", "安全保卫科"),
    ("dongliang", "董亮", "安全保卫科"),
    ("chenjing", "陈静", "会务科"),
    ("zhuxiaoyan", "朱晓燕", "会务科"),
    ("zengmin", "曾敏", "会务科"),
    ("xuhui", "徐辉", "膳食科"),
    ("songjiahui", "宋佳慧", "膳食科"),
    ("caiyun", "蔡云", "膳食科"),
    ("mahaitao", "马海涛", "车辆管理科"),
    ("xieyu", "谢宇", "车辆管理科"),
    ("jiangtao", "蒋涛", "车辆管理科"),
    ("linna", "林娜", "信息中心"),
    ("xiaoning", "肖宁", "信息中心"),
    ("heping", "何平", "综合科"),
    ("hanxue", "韩雪", "综合科"),
    ("wuqiang", "吴强", "后勤服务中心维修班"),
    ("zhengkai", "郑凯", "后勤服务中心维修班"),
    ("dengchao", "邓超", "后勤服务中心维修班"),
    ("panwei", "潘伟", "后勤服务中心维修班"),
]


def phone_of(index: int) -> str:
    return f"1385710{3000 + 17 * index:04d}"


# ------------------------------------------------------------------------------------------ buildings
# Footprints, metres: (west, south, east, north).
BUILDINGS = {
    "主楼": (-60, 40, 60, 80),
    "西辅楼": (-200, 0, -150, 90),
    "东辅楼": (150, 0, 200, 90),
    "会议中心": (130, -140, 210, -60),
    "职工食堂": (-210, 150, -130, 200),
    "综合设备用房": (160, 195, 210, 225),
    "门卫室": (14, -216, 28, -206),
}
# The underground car park has no building above ground: it lies under the northern part of 南广场 and stops
# short of the flag platform (the importer counts footprints of every level as cover, basements included).
GARAGE = (-80, -20, 80, 40)
# Parts of the compound deliberately left out of every grid: (name, box in metres, reason).
DELIBERATE_GAPS = [
    ("旗台", (-3, -33, 3, -27), "升旗台由办公室直接管理、升旗仪式专用，不划入网格"),
]


def rect(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    return box(x0, y0, x1, y1)


def footprint(building: str) -> Polygon:
    return rect(*BUILDINGS[building])


BOUNDARY = Polygon(BOUNDARY_M)


def ground(*parts: Sequence[float], minus: Iterable[BaseGeometry] = ()) -> BaseGeometry:
    """An outdoor area: the union of boxes, clipped to the wall, minus buildings/other grids."""
    geom = unary_union([rect(*p) for p in parts]).intersection(BOUNDARY)
    for hole in minus:
        geom = geom.difference(hole)
    return geom


# ---------------------------------------------------------------------------------------------- grids
@dataclass
class GridSpec:
    name: str
    level: int
    building: str | None
    geometry: BaseGeometry  # metres
    leader: str
    deputy: str | None
    categories: tuple[str, ...]
    description: str
    checkpoints: list[tuple[str, float, float]] = field(default_factory=list)  # (name, x m, y m)


def G(name, level, building, geometry, leader, deputy, categories, description, checkpoints=()):
    return GridSpec(name, level, building, geometry, leader, deputy, tuple(categories), description,
                    list(checkpoints))


def floor(building: str, x0=None, y0=None, x1=None, y1=None) -> Polygon:
    """A part of a building's footprint (whole footprint by default)."""
    bx0, by0, bx1, by1 = BUILDINGS[building]
    return rect(bx0 if x0 is None else x0, by0 if y0 is None else y0,
                bx1 if x1 is None else x1, by1 if y1 is None else y1)


FLAG = rect(*DELIBERATE_GAPS[0][1])

GRIDS: list[GridSpec] = [
    # --- north strip --------------------------------------------------------------------------------
    G("食堂后勤院", 0, None, ground((-300, 128, -100, 225), minus=[footprint("职工食堂")]),
      "caiyun", "xuhui", (SA, FS, SE, WP),
      "食堂周边后勤院落，含燃气调压箱、餐厨垃圾及垃圾分类收集点。",
      [("燃气调压箱", -122, 170), ("垃圾分类收集点", -115, 212), ("西北角围墙", -280, 215)]),
    G("职工食堂1层餐厅", 1, "职工食堂", floor("职工食堂", x1=-160), "songjiahui", "caiyun", (SA, WP, EQ, AS, FS),
      "职工就餐大厅及售饭窗口。", [("餐厅入口", -185, 155), ("消防栓箱", -205, 190)]),
    G("职工食堂1层后厨", 1, "职工食堂", floor("职工食堂", x0=-160), "xuhui", "songjiahui", (FS, WP, EQ, SA),
      "后厨操作间、冷库及燃气灶具区域。", [("燃气总阀", -135, 195), ("冷库门口", -150, 160)]),
    G("职工食堂2层餐厅及包厢", 2, "职工食堂", floor("职工食堂"), "songjiahui", "caiyun", (SA, WP, EQ, AS, FS),
      "二层自助餐厅和接待包厢。", [("包厢走廊", -140, 185), ("二层配电箱", -200, 160)]),
    G("内部道路（北环路）", 0, None, ground((-270, 120, 270, 128), (-100, 128, -92, 225)),
      "zhoujie", "guojun", (SE, SA, AS, EQ),
      "北环路及北门后勤通道，含路灯、窨井盖和减速带。", [("北门岗", -96, 220), ("北环路中段", 0, 124)]),
    G("职工停车场", 0, None, ground((-92, 128, 92, 225), minus=[rect(60, 170, 92, 225)]),
      "mahaitao", "xieyu", (SE, SA, AS, FS),
      "主楼北侧职工地面停车场。", [("停车场入口", -80, 132), ("东北角监控杆", 80, 140)]),
    G("电动车棚", 0, None, ground((60, 170, 92, 225)), "tangbin", "mahaitao", (FS, WP, SE),
      "电动自行车集中停放和充电棚。", [("充电桩区", 76, 200), ("灭火器箱", 76, 180)]),
    G("配电房", 1, "综合设备用房", floor("综合设备用房", x1=185), "wuqiang", "dengchao", (WP, EQ, FS),
      "10kV高低压配电室及变压器室。",
      [("高压配电柜", 165, 210), ("低压配电柜", 180, 210), ("变压器室门口", 172, 222)]),
    G("水泵房", 1, "综合设备用房", floor("综合设备用房", x0=185), "dengchao", "panwei", (WP, EQ, FS),
      "生活水泵、消防水泵及消防水箱。", [("生活水泵", 190, 205), ("消防水泵", 205, 205), ("消防水箱", 198, 220)]),
    G("东北角绿地", 0, None, ground((92, 128, 300, 225), minus=[footprint("综合设备用房")]),
      "fengtao", "zhengkai", (GR, SA, WP),
      "东北角绿地和苗圃，环绕综合设备用房。", [("苗圃", 250, 180), ("喷灌阀门井", 130, 150)]),
    # --- middle band: north of the main tower -------------------------------------------------------
    G("北广场", 0, None, ground((-92, 80, 92, 120)), "zhaolei", "yuanjie", (SA, AS, SE, EQ),
      "主楼北侧广场及北门入口。", [("主楼北门", 0, 84), ("北广场东侧", 70, 100)]),
    # --- middle band: tower row ---------------------------------------------------------------------
    G("西花园", 0, None, ground((-262, -20, -100, 120), minus=[footprint("西辅楼")]),
      "huwenbin", "luoyan", (GR, SA, WP),
      "环绕西辅楼的庭院绿地和景观亭。", [("景观亭", -235, 60), ("西辅楼南门外", -175, -10)]),
    G("西辅楼1层", 1, "西辅楼", floor("西辅楼"), "wangfang", "sunli", (WP, EQ, AS, FS, SA),
      "西辅楼一层办事大厅及财务科。", [("一层大厅", -175, 10), ("一层配电间", -190, 80)]),
    G("西辅楼2层", 2, "西辅楼", floor("西辅楼"), "sunli", "caolin", (WP, EQ, AS, FS, SA),
      "西辅楼二层办公室。", [("二层楼梯间", -175, 45), ("二层茶水间", -160, 80)]),
    G("西辅楼3层", 3, "西辅楼", floor("西辅楼"), "caolin", "wangfang", (WP, EQ, AS, FS, SA),
      "西辅楼三层办公室及档案室。", [("档案室", -190, 20), ("三层会议室", -160, 70)]),
    G("主楼两侧绿地", 0, None, ground((-92, 40, -60, 80), (60, 40, 92, 80)), "huwenbin", "zhaolei", (GR, SA),
      "主楼东西两侧的两块绿地。", [("西侧绿地", -76, 60), ("东侧绿地", 76, 60)]),
    G("主楼负一层设备区", -1, "主楼", floor("主楼"), "zhengkai", "wuqiang", (WP, EQ, FS),
      "中央空调机房、弱电机房和柴油发电机房。",
      [("中央空调机房", -40, 60), ("弱电机房", 40, 60), ("柴油发电机房", 0, 75)]),
    G("主楼1层西区", 1, "主楼", floor("主楼", x1=-20), "huangli", "liangchen", (WP, EQ, AS, FS, SA),
      "主楼一层西区接待室和办公室。", [("西侧楼梯口", -55, 60), ("来访接待室", -40, 45)]),
    G("主楼1层大厅", 1, "主楼", floor("主楼", x0=-20, x1=20), "wangge01", "yangming", (SE, FS, EQ, SA),
      "主楼门厅、服务台和电梯厅。", [("服务台", 0, 50), ("电梯厅", 0, 72)]),
    G("主楼1层东区", 1, "主楼", floor("主楼", x0=20), "liangchen", "huangli", (FS, SE, WP, EQ, SA),
      "主楼一层东区及消防控制室。", [("消防控制室", 40, 45), ("东侧楼梯口", 55, 60)]),
    G("主楼2层西区", 2, "主楼", floor("主楼", x1=0), "zhangwei", "yuanjie", (WP, EQ, AS, FS, SA),
      "主楼二层西区办公室。", [("西侧楼梯口", -55, 60), ("二层卫生间", -30, 75)]),
    G("主楼2层东区", 2, "主楼", floor("主楼", x0=0), "yuanjie", "zhangwei", (WP, EQ, AS, FS, SA),
      "主楼二层东区办公室。", [("东侧楼梯口", 55, 60), ("二层茶水间", 30, 75)]),
    G("主楼3层西区", 3, "主楼", floor("主楼", x1=0), "linna", "xiaoning", (WP, EQ, AS, FS, SA),
      "主楼三层西区办公室和会议室。", [("西侧楼梯口", -55, 60), ("三层会议室", -30, 45)]),
    G("主楼3层东区", 3, "主楼", floor("主楼", x0=0), "xiaoning", "linna", (WP, EQ, AS, FS),
      "主楼三层东区及信息中心机房。", [("信息中心机房", 30, 60), ("东侧楼梯口", 55, 60), ("UPS电源室", 45, 75)]),
    G("东辅楼1层", 1, "东辅楼", floor("东辅楼"), "liuyang", "tianyu", (WP, EQ, AS, FS, SA),
      "东辅楼一层办公室及资产仓库。", [("一层大厅", 175, 10), ("一层配电间", 160, 80)]),
    G("东辅楼2层", 2, "东辅楼", floor("东辅楼"), "tianyu", "luoyan", (WP, EQ, AS, FS, SA),
      "东辅楼二层办公室。", [("二层楼梯间", 175, 45), ("二层茶水间", 190, 80)]),
    G("东辅楼3层", 3, "东辅楼", floor("东辅楼"), "luoyan", "heping", (WP, EQ, AS, FS, SA),
      "东辅楼三层办公室及活动室。", [("三层活动室", 160, 20), ("三层会议室", 190, 70)]),
    G("东花园", 0, None, ground((100, -20, 262, 120), minus=[footprint("东辅楼")]),
      "wangge01", "fengtao", (GR, SA, WP),
      "环绕东辅楼的庭院绿地和景观亭。", [("景观亭", 235, 60), ("东辅楼南门外", 175, -10)]),
    # --- middle band: long north-south strips and the south half ------------------------------------
    G("西侧绿化带", 0, None, ground((-300, -180, -270, 128)), "fengtao", None, (GR, SA, SE),
      "沿西围墙的防护绿化带。", [("西围墙中段", -285, -50), ("西围墙北段", -285, 100)]),
    G("内部道路（西环路）", 0, None, ground((-270, -172, -262, 120)), "gaofeng", None, (SE, SA, AS),
      "西环路，含路灯和雨水井。", [("西环路中段", -266, 0)]),
    G("职工健身场", 0, None, ground((-262, -90, -100, -20)), "heping", "hanxue", (EQ, AS, SA, SE),
      "篮球场、网球场及健身器材区。", [("篮球场", -200, -55), ("健身器材区", -120, -55)]),
    G("内部道路（西支路）", 0, None, ground((-100, -172, -92, 120)), "gaofeng", "dongliang", (SE, SA, AS),
      "连接南北环路的西侧支路。", [("西支路南段", -96, -100), ("西支路北段", -96, 50)]),
    G("南广场", 0, None, ground((-92, -60, 92, 40), minus=[FLAG]), "zhaolei", "guojun", (SA, AS, SE, EQ),
      "主楼正前方广场，环绕升旗台，含地库出入口。",
      [("主楼南门", 0, 35), ("旗台南侧", 0, -40), ("地库出入口", 80, -30)]),
    G("地下车库B1西区", -1, "地下车库", rect(GARAGE[0], GARAGE[1], 0, GARAGE[3]), "jiangtao", "xieyu",
      (FS, EQ, WP, SE, SA), "南广场下方地下车库西半区。", [("排水泵坑", -70, -15), ("西区消防栓", -40, 10)]),
    G("地下车库B1东区", -1, "地下车库", rect(0, GARAGE[1], GARAGE[2], GARAGE[3]), "xieyu", "jiangtao",
      (FS, EQ, WP, SE, SA), "南广场下方地下车库东半区及出入口坡道。",
      [("坡道出入口", 70, -15), ("排烟风机房", 40, 30)]),
    G("内部道路（东支路）", 0, None, ground((92, -172, 100, 120)), "pengfei", "dongliang", (SE, SA, AS),
      "连接南北环路的东侧支路。", [("东支路南段", 96, -100), ("东支路北段", 96, 50)]),
    G("会议中心前庭", 0, None, ground((100, -60, 262, -20)), "zengmin", "chenjing", (SA, AS, SE, GR),
      "会议中心北入口前的庭院和落客区。", [("会议中心北入口", 170, -55), ("落客区", 120, -40)]),
    G("内部道路（东环路）", 0, None, ground((262, -172, 270, 120)), "pengfei", None, (SE, SA, AS),
      "东环路，含路灯和雨水井。", [("东环路中段", 266, 0)]),
    G("东侧绿化带", 0, None, ground((270, -180, 300, 128)), "hanxue", None, (GR, SA, SE),
      "沿东围墙的防护绿化带。", [("东围墙中段", 285, -50), ("东围墙北段", 285, 100)]),
    G("会议中心1层门厅及贵宾室", 1, "会议中心", floor("会议中心", y0=-90), "chenjing", "zhuxiaoyan",
      (SE, FS, EQ, SA), "会议中心门厅、签到处和贵宾室。", [("贵宾室", 140, -75), ("门厅服务台", 170, -65)]),
    G("会议中心1层大会堂", 1, "会议中心", floor("会议中心", y1=-90), "zhuxiaoyan", "zengmin",
      (EQ, FS, AS, WP, SA), "可容纳600人的大会堂及舞台。",
      [("舞台控制室", 170, -135), ("音响室", 140, -100), ("东侧安全出口", 205, -115)]),
    G("会议中心2层会议室区", 2, "会议中心", floor("会议中心"), "chenjing", "zengmin", (EQ, FS, AS, SA),
      "二层中小会议室和同声传译室。", [("会议室走廊", 170, -100), ("二层配电间", 200, -70)]),
    G("西停车场", 0, None, ground((-262, -172, -100, -90)), "mahaitao", "jiangtao", (SE, SA, AS, FS),
      "西侧公务车及职工地面停车场。", [("入口道闸", -105, -130), ("充电桩", -250, -160)]),
    G("中轴两侧绿地", 0, None, ground((-92, -172, -10, -60), (10, -172, 92, -60)), "panwei", "huwenbin",
      (GR, SA, WP), "中轴大道两侧的两块景观草坪。", [("西侧喷灌", -50, -120), ("东侧景观石", 50, -120)]),
    G("东停车场", 0, None, ground((100, -172, 262, -60), minus=[footprint("会议中心")]), "jiangtao", "tangbin",
      (SE, SA, AS, FS), "环绕会议中心的会议及访客停车场。",
      [("西侧车位", 115, -100), ("东侧车位", 236, -100), ("南侧车位", 170, -160)]),
    # --- south strip --------------------------------------------------------------------------------
    G("内部道路（南环路及中轴大道）", 0, None, ground((-270, -180, 270, -172), (-10, -225, 10, -180), (-10, -172, 10, -60)),
      "guojun", "gaofeng", (SE, SA, AS, EQ),
      "南大门、中轴大道和南环路。", [("南大门", 0, -220), ("中轴大道中段", 0, -120), ("南环路东段", 200, -176)]),
    G("访客停车场", 0, None, ground((-300, -225, -10, -180)), "dongliang", "tangbin", (SE, SA, AS),
      "南大门西侧访客地面停车场。", [("收费道闸", -20, -200), ("西端车位", -250, -200)]),
    G("南大门东侧绿化带", 0, None, ground((10, -225, 300, -180), minus=[footprint("门卫室")]),
      "yangming", "dongliang", (GR, SA, SE), "南大门东侧绿化带，环绕门卫室。",
      [("东南角绿地", 280, -190), ("宣传栏", 150, -200)]),
    G("南大门门卫室", 1, "门卫室", floor("门卫室"), "yangming", "guojun", (SE, FS, EQ),
      "南大门门卫值班室和监控室。", [("值班台", 18, -211), ("监控屏", 25, -209)]),
]


# ---------------------------------------------------------------------------------------------- noding
def _polygons(geom: BaseGeometry) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [geom]
    if isinstance(geom, MultiPolygon):
        return list(geom.geoms)
    raise ValueError(f"not polygonal: {geom.geom_type}")


def _rings(geom: BaseGeometry) -> Iterable[list[tuple[float, float]]]:
    for poly in _polygons(geom):
        yield list(poly.exterior.coords)
        for interior in poly.interiors:
            yield list(interior.coords)


def _node_ring(ring: list[tuple[float, float]], vertices: np.ndarray) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for (ax, ay), (bx, by) in zip(ring[:-1], ring[1:]):
        out.append((ax, ay))
        dx, dy = bx - ax, by - ay
        length2 = dx * dx + dy * dy
        vx, vy = vertices[:, 0] - ax, vertices[:, 1] - ay
        cross = vx * dy - vy * dx
        t = (vx * dx + vy * dy) / length2
        on = (np.abs(cross) <= 1e-9 * math.sqrt(length2)) & (t > 1e-12) & (t < 1 - 1e-12)
        for i in np.argsort(t[on], kind="stable"):
            out.append(tuple(vertices[on][i]))
    out.append(out[0])
    return out


def node(geom: BaseGeometry, vertices: np.ndarray) -> BaseGeometry:
    """Insert every vertex lying on a segment of `geom` into that segment."""
    polys = []
    for poly in _polygons(geom):
        shell = _node_ring(list(poly.exterior.coords), vertices)
        holes = [_node_ring(list(r.coords), vertices) for r in poly.interiors]
        polys.append(Polygon(shell, holes))
    return polys[0] if isinstance(geom, Polygon) else MultiPolygon(polys)


# ---------------------------------------------------------------------------------------------- output
def to_lonlat(geom_m: BaseGeometry, projection: LocalProjection) -> BaseGeometry:
    geom = shapely.transform(projection.to_degrees(geom_m), lambda c: np.round(c, DECIMALS))
    if isinstance(geom, Polygon):
        return orient(geom, 1.0)
    return MultiPolygon([orient(p, 1.0) for p in geom.geoms])


def geojson_geometry(geom: BaseGeometry) -> dict:
    def ring(coords):
        return [[round(x, DECIMALS), round(y, DECIMALS)] for x, y in coords]

    def poly(p: Polygon):
        return [ring(p.exterior.coords)] + [ring(r.coords) for r in p.interiors]

    if isinstance(geom, Polygon):
        return {"type": "Polygon", "coordinates": poly(geom)}
    return {"type": "MultiPolygon", "coordinates": [poly(p) for p in geom.geoms]}


def grid_order(features: Sequence[dict], projection: LocalProjection | None = None) -> list[int]:
    """Indices of `features` (GeoJSON dicts with properties level/building/name) in code order.

    Anchor: the representative point of the grid, or for a building's grids the representative point of
    the union of all that building's grids. Row: whole ROW_HEIGHT_M bands south of the northernmost anchor
    edge of the compound (the maximum y of all grids). Key: (row, anchor x west→east, group, level, grid y
    north→south, grid x west→east, name), coordinates in metres rounded to 0.1 m (1 m for y); the group
    (building name, or the grid's own name outdoors) only keeps a building's grids together on a tie.
    """
    geoms = [shape(f["geometry"]) for f in features]
    projection = projection or LocalProjection(*ORIGIN)
    metres = [projection.to_metres(g) for g in geoms]
    north = max(g.bounds[3] for g in metres)
    by_building: dict[str, list[BaseGeometry]] = {}
    for f, g in zip(features, metres):
        if f["properties"]["building"]:
            by_building.setdefault(f["properties"]["building"], []).append(g)
    building_anchor = {b: unary_union(gs).representative_point() for b, gs in by_building.items()}

    def key(i: int):
        props = features[i]["properties"]
        own = metres[i].representative_point()
        anchor = building_anchor[props["building"]] if props["building"] else own
        row = int((north - anchor.y) // ROW_HEIGHT_M)
        group = props["building"] or props["name"]
        return (row, round(anchor.x, 1), group, props["level"], -round(own.y), round(own.x, 1), props["name"])

    return sorted(range(len(features)), key=key)


@dataclass
class Built:
    site: dict
    compound: dict
    people: list[dict]
    checkpoints: list[dict]
    gaps: list[dict]


def build() -> Built:
    projection = LocalProjection(*ORIGIN)
    # Node every geometry (in metres) against every vertex of the plan, the wall included.
    all_geoms = [BOUNDARY] + [g.geometry for g in GRIDS]
    vertices = np.unique(np.array([pt for geom in all_geoms for r in _rings(geom) for pt in r], dtype=float),
                         axis=0)
    boundary_deg = to_lonlat(node(BOUNDARY, vertices), projection)
    features = []
    for spec in GRIDS:
        geom_deg = to_lonlat(node(spec.geometry, vertices), projection)
        features.append({
            "type": "Feature",
            "properties": {
                "code": None, "name": spec.name, "level": spec.level, "building": spec.building,
                "leader": spec.leader, "deputy": spec.deputy, "categories": list(spec.categories),
                "description": spec.description,
            },
            "geometry": geojson_geometry(geom_deg),
        })
    order = grid_order(features, projection)
    ordered_specs, ordered_features = [], []
    for n, i in enumerate(order, start=1):
        features[i]["properties"]["code"] = f"A{n:02d}"
        ordered_specs.append(GRIDS[i])
        ordered_features.append(features[i])

    checkpoints = []
    for spec, feature in zip(ordered_specs, ordered_features):
        code = feature["properties"]["code"]
        for k, (name, x, y) in enumerate(spec.checkpoints, start=1):
            pt = projection.to_degrees(Point(x, y))
            checkpoints.append({"grid": code, "code": f"{code}-{k:02d}", "name": name,
                                "lon": round(pt.x, DECIMALS), "lat": round(pt.y, DECIMALS)})

    people = [{"username": u, "display_name": d, "phone": phone_of(i), "department": dep}
              for i, (u, d, dep) in enumerate(PEOPLE)]
    site = dict(SITE, boundary=geojson_geometry(boundary_deg))
    compound = {"type": "FeatureCollection", "features": ordered_features}
    gaps = [{"name": n, "area_m2": rect(*b).area, "reason": r} for n, b, r in DELIBERATE_GAPS]
    built = Built(site, compound, people, checkpoints, gaps)
    validate(built, projection)
    return built


# ------------------------------------------------------------------------------------------ validation
class PlanError(ValueError):
    pass


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise PlanError(message)


def validate(built: Built, projection: LocalProjection) -> None:
    feats = built.compound["features"]
    _check(len(feats) == 49, f"expected 49 grids, got {len(feats)}")
    codes = [f["properties"]["code"] for f in feats]
    _check(codes == [f"A{i:02d}" for i in range(1, 50)], "codes must be A01…A49 in order")
    names = [f["properties"]["name"] for f in feats]
    _check(len(set(names)) == len(names), "grid names must be unique")
    usernames = [p["username"] for p in built.people]
    _check(len(set(usernames)) == len(usernames), "usernames must be unique")
    boundary = projection.to_metres(shape(built.site["boundary"]))
    _check(boundary.is_valid, "boundary invalid")
    geoms = {}
    for f in feats:
        p = f["properties"]
        g = shape(f["geometry"])
        _check(g.is_valid and g.geom_type in ("Polygon", "MultiPolygon"), f"{p['code']}: invalid geometry")
        _check(p["leader"] in usernames, f"{p['code']}: unknown leader {p['leader']}")
        _check(p["deputy"] is None or (p["deputy"] in usernames and p["deputy"] != p["leader"]),
               f"{p['code']}: bad deputy")
        _check(set(p["categories"]) <= set(CATEGORIES) and p["categories"], f"{p['code']}: bad categories")
        _check((p["level"] == 0) == (p["building"] is None), f"{p['code']}: level 0 is outdoor, others in a building")
        geoms[p["code"]] = projection.to_metres(g)
        _check(geoms[p["code"]].difference(boundary).area < 1.0, f"{p['code']}: outside the compound wall")
    # No overlaps on a level; level 0 and the footprints (level 1) tile the ground without overlap either.
    by_level: dict[object, list[str]] = {}
    for f in feats:
        p = f["properties"]
        by_level.setdefault(p["level"], []).append(p["code"])
        if p["level"] in (0, 1):
            by_level.setdefault("ground", []).append(p["code"])
    for level, level_codes in by_level.items():
        tree = shapely.STRtree([geoms[c] for c in level_codes])
        for i, j in zip(*tree.query([geoms[c] for c in level_codes], predicate="intersects")):
            if i < j:
                a, b = level_codes[i], level_codes[j]
                area = geoms[a].intersection(geoms[b]).area
                _check(area <= OVERLAP_TOLERANCE_M2, f"level {level}: {a} and {b} overlap by {area:.3f} m²")
    # Upper floors and basements within the footprint (union of level-1 grids) of their building.
    footprints: dict[str, list[BaseGeometry]] = {}
    for f in feats:
        if f["properties"]["level"] == 1:
            footprints.setdefault(f["properties"]["building"], []).append(geoms[f["properties"]["code"]])
    for f in feats:
        p = f["properties"]
        if p["level"] not in (0, 1) and p["building"] in footprints:
            outside = geoms[p["code"]].difference(unary_union(footprints[p["building"]])).area
            _check(outside <= OVERLAP_TOLERANCE_M2, f"{p['code']}: {outside:.3f} m² outside {p['building']}")
    # Coverage: the only gaps are the deliberate ones, whether the cover is level 0 plus the footprints
    # (level 1) or, as the importer counts it, every grid of every level.
    expected = sum(g["area_m2"] for g in built.gaps)
    for cover_codes in (by_level["ground"], list(geoms)):
        cover = unary_union([geoms[c] for c in cover_codes])
        gaps = [g for g in _polygons_of(boundary.difference(cover)) if g.area > OVERLAP_TOLERANCE_M2]
        total = sum(g.area for g in gaps)
        _check(abs(total - expected) < 1.0 and total < MAX_GAP_TOTAL_M2,
               f"gaps {total:.2f} m² ≠ deliberate {expected:.2f} m²")
    # Checkpoints strictly inside, with clearance.
    for cp in built.checkpoints:
        g = geoms[cp["grid"]]
        pt = projection.to_metres(Point(cp["lon"], cp["lat"]))
        _check(g.contains(pt) and g.boundary.distance(pt) >= CHECKPOINT_MIN_CLEARANCE_M,
               f"checkpoint {cp['code']} not well inside {cp['grid']}")
    _check(len(built.checkpoints) >= 60, "at least 60 checkpoints")
    leaders = [f["properties"]["leader"] for f in feats]
    roles = set(leaders) | {f["properties"]["deputy"] for f in feats} - {None}
    _check(roles == set(usernames), f"people without a grid: {set(usernames) - roles}")


def _polygons_of(geom: BaseGeometry) -> list[Polygon]:
    if geom.is_empty:
        return []
    if isinstance(geom, Polygon):
        return [geom]
    return [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon)] + [
        p for g in getattr(geom, "geoms", []) if isinstance(g, MultiPolygon) for p in g.geoms]


# ------------------------------------------------------------------------------------------ writing
def _dump(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(", ", ": "))


def render_files(built: Built) -> dict[str, str]:
    feature_lines = ",\n".join("  " + _dump(f) for f in built.compound["features"])
    return {
        "site.json": "{\n" + ",\n".join(f"  {json.dumps(k)}: {_dump(v)}" for k, v in built.site.items()) + "\n}\n",
        "compound.geojson": '{"type": "FeatureCollection", "features": [\n' + feature_lines + "\n]}\n",
        "people.json": "[\n" + ",\n".join("  " + _dump(p) for p in built.people) + "\n]\n",
        "checkpoints.json": "[\n" + ",\n".join("  " + _dump(c) for c in built.checkpoints) + "\n]\n",
    }


FILL = {"greening": "#b7e1a1", "park": "#d9d9d9", "road": "#f4f1e8", "square": "#f3e2b3", "building": "#9db8d9"}


def render_svg(built: Built, scale: float = 1.6) -> str:
    """Level 0 plus building footprints (level 1), with codes: a quick visual check of the plan."""
    projection = LocalProjection(*ORIGIN)
    boundary = projection.to_metres(shape(built.site["boundary"]))
    x0, y0, x1, y1 = boundary.bounds
    pad = 20
    w, h = (x1 - x0 + 2 * pad) * scale, (y1 - y0 + 2 * pad) * scale

    def pts(coords):
        return " ".join(f"{(x - x0 + pad) * scale:.1f},{(y1 - y + pad) * scale:.1f}" for x, y in coords)

    def path(geom):
        d = []
        for poly in _polygons(geom):
            for r in [poly.exterior, *poly.interiors]:
                d.append("M" + pts(r.coords) + "Z")
        return " ".join(d)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0f}" height="{h + 40:.0f}" '
           f'font-family="Noto Sans CJK SC, Noto Serif CJK SC, sans-serif">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="10" y="{h + 28:.0f}" font-size="16">{SITE["name"]}（{SITE["code"]}）地面层（level 0）及建筑首层网格</text>']
    labels = []
    for f in built.compound["features"]:
        p = f["properties"]
        if p["level"] not in (0, 1):
            continue
        g = projection.to_metres(shape(f["geometry"]))
        if p["level"] == 1:
            fill = FILL["building"]
        elif GR in p["categories"]:
            fill = FILL["greening"]
        elif "停车" in p["name"] or "车棚" in p["name"]:
            fill = FILL["park"]
        elif "道路" in p["name"]:
            fill = FILL["road"]
        else:
            fill = FILL["square"]
        out.append(f'<path d="{path(g)}" fill="{fill}" fill-rule="evenodd" stroke="#555" stroke-width="0.8"/>')
        rp = g.representative_point()
        bx0, by0, bx1, by1 = g.bounds
        tx, ty = (rp.x - x0 + pad) * scale, (y1 - rp.y + pad) * scale
        labels.append(f'<text x="{tx:.1f}" y="{ty:.1f}" font-size="10" font-weight="bold" '
                      f'text-anchor="middle">{p["code"]}</text>')
        if min(bx1 - bx0, by1 - by0) >= 25 and g.area >= 3000:
            labels.append(f'<text x="{tx:.1f}" y="{ty + 11:.1f}" font-size="8" text-anchor="middle">'
                          f'{p["name"]}</text>')
    out.append(f'<path d="{path(boundary)}" fill="none" stroke="#b00" stroke-width="2"/>')
    out += labels
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the data files are out of date")
    parser.add_argument("--svg", type=Path, help="also write an SVG of level 0 to this path")
    args = parser.parse_args(argv)
    built = build()
    files = render_files(built)
    if args.check:
        stale = [name for name, text in files.items()
                 if not (DATA_DIR / name).exists() or (DATA_DIR / name).read_text(encoding="utf-8") != text]
        if stale:
            print("out of date: " + ", ".join(stale), file=sys.stderr)
            return 1
    else:
        for name, text in files.items():
            (DATA_DIR / name).write_text(text, encoding="utf-8")
    if args.svg:
        args.svg.write_text(render_svg(built), encoding="utf-8")
    gap_total = sum(g["area_m2"] for g in built.gaps)
    print(f"{len(built.compound['features'])} grids, {len(built.people)} people, "
          f"{len(built.checkpoints)} checkpoints; deliberate gaps {gap_total:.1f} m²")
    return 0


if __name__ == "__main__":
    sys.exit(main())
