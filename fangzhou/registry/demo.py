"""A realistic demo community (or a whole subdistrict), built only through the real services.

``demo_seed`` generates, deterministically from a seed, communities like those of the source
article: residential compounds of six-storey walk-ups and 11–18 storey towers, a commercial plaza,
grids, households of one to five people with a plausible age structure, valid resident ID numbers,
mobile numbers, resident types and special-care flags. Everything is written the way a committee
would write it: ``community_create``, ``compound_upsert``, one ``roster_import`` per community
(an in-memory sheet with the usual Chinese headers), ``site_plan_apply`` and ``user_upsert``.

Running it again changes nothing: the same seed yields the same roster, so the import reports
every row unchanged. Only the demo accounts' passwords are new on every run (they are returned).

Sizes:

- ``small``: one community, 2 compounds, 10 buildings, about 600 residents (for tests);
- ``default``: 华新居民区 — 4 compounds and a plaza, 4 grids, 60 buildings, ~2,500 households,
  ~6,500 residents;
- ``large``: 华新街道 — 30 communities, ~160,000 residents (the first one is the default one).
"""

from __future__ import annotations

import datetime as dt
import math
import random
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TextIO

from fangzhou.accounts.models import Role, User
from fangzhou.accounts.services import account_create, user_upsert
from fangzhou.lib.importing import ImportReport
from fangzhou.lib.sheets import Sheet
from fangzhou.registry.models import Building, Community, Compound, Grid, Household, Resident
from fangzhou.registry.roster.normalize import (
    ID_TYPE_LABELS,
    RESIDENT_TYPE_LABELS,
    SPECIAL_LABELS,
    SPECIAL_ORDER,
    Cell,
    PhoneError,
    id_check_digit,
    parse_phone,
)
from fangzhou.registry.services import (
    PlacedBuilding,
    community_create,
    compound_upsert,
    roster_import,
    site_plan_apply,
)

__all__ = ["SIZES", "DemoAccount", "DemoError", "DemoResult", "demo_seed"]

SIZES = ("small", "default", "large")


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


SUBDISTRICT = "华新街道"
# Ages are those of spring 2022, when the source article's lockdown happened. Fixed, so that the
# roster is the same on every run and a second run changes nothing.
REFERENCE_DATE = dt.date(2022, 4, 1)
HEADER = list(_words("小区 楼号 室号 姓名 证件类型 证件号码 性别 出生日期 手机号 人员类型 特殊人群 备注 网格"))
GRID_NAMES = ("第一网格", "第二网格", "第三网格", "第四网格", "第五网格", "第六网格", "第七网格", "第八网格")
# ID numbers: the first two digits of the 3-digit sequence are split between communities (slot),
# so that two communities (even from different sizes or runs on the same database) never draw the
# same number.
_SLOTS = 40
_SMALL_SLOT = 39


class DemoError(RuntimeError):
    pass


DemoAccount = tuple[str, str, str, str]  # (username, role, password, scope)


@dataclass
class DemoResult:
    size: str
    seed: int
    subdistrict: str
    communities: list[str]
    compounds: int = 0
    grids: int = 0
    buildings: int = 0
    households: int = 0
    residents: int = 0
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    placed: int = 0
    accounts: list[DemoAccount] = field(default_factory=list)
    reports: dict[str, ImportReport] = field(default_factory=dict)
    seconds: float = 0.0


# --- names ------------------------------------------------------------------------------------

# Common surnames with rough weights (per mille), leaning to Shanghai (沈, 陆, 顾, 钱, 朱 and 徐 are
# more common there than nationally).
_SURNAMES = tuple(
    (name, float(weight))
    for name, weight in re.findall(
        r"(\D+?)([\d.]+)\s*",
        "张60 王58 陈52 李48 徐30 朱28 周26 吴26 沈22 陆20 刘20 黄18 杨18 顾16 钱12 孙12 胡11 赵11 金10 施9 "
        "蒋9 姚8 唐8 许8 曹8 郑8 汪7 俞7 马7 何7 高7 林7 孔4 邱5 范6 潘6 戴6 宋6 叶6 严6 倪5 蔡6 袁5 丁5 "
        "邵5 毛5 龚5 谢5 韩4 冯4 程4 彭4 曾3 罗4 梁4 郭5 方5 任3 卢3 姜3 杜3 夏4 陶4 薛3 秦3 魏3 吕3 董3 "
        "余3 翁3 瞿2 盛2 凌2 贾2 苏3 葛2 储2 费2 庄2 杭1 欧阳0.6 司马0.2 诸葛0.2 上官0.2 司徒0.2",
    )
)
_SURNAME_LIST = [s for s, _ in _SURNAMES]
_SURNAME_CUM = [sum(w for _, w in _SURNAMES[: i + 1]) for i in range(len(_SURNAMES))]

# Given-name characters by generation (birth year), male and female.
_GIVEN: dict[str, tuple[str, str]] = {
    "old": (  # born before 1960
        "国建华明德荣根宝福金林生海富兴发忠文志伟永康庆雪祥荣仁炳鑫锦达",
        "秀英桂芳珍娣凤兰玉美丽华琴娥梅菊雅素月萍敏宝杏惠彩芬翠",
    ),
    "mid": (  # 1960–1984
        "伟强军勇杰斌磊涛明峰海刚东晓志俊鹏华平辉亮毅斌卫忠敏健波青",
        "敏静丽燕芳艳萍红霞玲琳雯晓佳颖华蓉洁慧莉娟琴婷倩红梅虹",
    ),
    "young": (  # 1985–2004
        "浩宇鑫磊晨杰俊天文博家豪逸飞峰超凯睿哲思远成辰昊扬帆旭",
        "婷雪倩佳怡欣诗琪梦瑶雨思晓雯洁颖悦嘉慧蕾璐菲琳月莹冰",
    ),
    "child": (  # 2005 and later
        "子轩梓豪宇一鸣沐辰奕皓铭泽俊熙墨睿诚瑞霖昊阳安彦博泽宸",
        "梓涵欣妍一诺语桐可馨萱雨诗若汐思彤沫依芮乐瑶晴安歆悦",
    ),
}
# Whole given names that a generation liked, used now and then instead of composing one.
_CLASSIC: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "old": (
        ("建国", "国强", "根宝", "金龙", "福根", "国庆", "建华", "伟民", "振华", "阿毛"),
        ("秀英", "桂英", "凤英", "美华", "丽华", "玉珍", "月娥", "宝娣", "杏娣", "素珍"),
    ),
    "mid": (
        ("卫东", "建军", "晓东", "志强", "海波", "伟", "军", "勇"),
        ("晓燕", "丽萍", "海燕", "春燕", "敏", "静", "丽", "红"),
    ),
    "young": (
        ("俊杰", "天宇", "浩然", "子豪", "文博", "家豪", "逸飞", "磊"),
        ("婷婷", "佳怡", "欣怡", "诗琪", "梦瑶", "雨欣", "思琪", "晓雯"),
    ),
    "child": (
        ("子轩", "梓豪", "浩宇", "宇轩", "一鸣", "沐辰", "奕辰", "皓轩"),
        ("梓涵", "欣妍", "一诺", "语桐", "可馨", "梓萱", "雨桐", "诗涵"),
    ),
}
# Uyghur and Kazakh names are written with the middle dot between given name and father's name.
_DOT_NAMES_M = ("艾力", "买买提", "阿不都", "努尔", "吐尔逊", "艾克拜尔", "热合曼", "叶尔兰")
_DOT_NAMES_F = ("阿依古丽", "古丽娜", "米热古丽", "帕提古丽", "热依拉", "阿娜尔")
_DOT_FATHERS = ("买买提", "吐尔逊", "艾买提", "阿不力孜", "依明", "沙吾提", "努尔兰")
_MINORITY_REGIONS = ("650102", "650103", "652801", "654002")
_FOREIGNERS: tuple[tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...] = tuple(
    (country, tuple(surnames.split()), tuple(males.split()), tuple(females.split()))
    for country, surnames, males, females in (
        ("US", "Smith Johnson Miller Brown Davis", "John David Michael", "Sarah Emily Anna"),
        ("JP", "Tanaka Suzuki Sato Takahashi", "Hiroshi Kenji Takeshi", "Yuki Aiko Haruka"),
        ("KR", "Kim Park Lee Choi", "Minjun Jihoon Seojun", "Jiyeon Soyeon Minji"),
        ("DE", "Schmidt Fischer Weber Wagner", "Lukas Jonas Felix", "Lena Laura Julia"),
        ("FR", "Martin Bernard Dubois Moreau", "Pierre Louis Hugo", "Camille Chloe Lea"),
    )
)

# --- places of registration ------------------------------------------------------------------

_SHANGHAI = _words("310101 310104 310105 310106 310107 310109 310110 310112 310113 310115")
_OLD_SHANGHAI = ("310102", "310103", "310108")  # districts merged away; their old numbers stay valid
# Where tenants and new Shanghainese come from (region code: weight): Anhui, Jiangsu, Henan, Zhejiang...
_PROVINCES = tuple(
    (code, float(weight))
    for code, weight in (
        entry.split(":")
        for entry in _words(
            "320102:3 320503:3 320382:3 321283:3 320902:2 330106:3 330302:2 340104:3 341202:4 342401:4 "
            "340822:3 341221:3 360102:2 362201:2 370102:2 371302:2 410105:3 411502:3 412702:3 420106:3 "
            "421002:2 430105:2 431002:2 510107:3 511302:2 500103:2 350102:1 230103:1 220102:1 610113:1 "
            "450102:1 520102:1 140105:1 130102:1 110105:1"
        )
    )
)
_PROVINCE_LIST = [c for c, _ in _PROVINCES]
_PROVINCE_CUM = [sum(w for _, w in _PROVINCES[: i + 1]) for i in range(len(_PROVINCES))]
_MOBILE_PREFIXES = _words(
    "130 131 132 133 135 136 137 138 139 150 151 152 153 155 156 157 158 159 166 176 177 178 180 181 182 "
    "183 185 186 187 188 189 191 198 199"
)
_HOSPITALS = _words("同仁医院 华山医院 中山医院 第六人民医院 仁济医院 瑞金医院 光华医院 新华医院")


# --- the plan of a community -------------------------------------------------------------------


@dataclass(frozen=True)
class _BuildingSpec:
    number: str
    kind: str  # "walkup", "tower", "plaza"
    floors: int
    per_floor: int


@dataclass(frozen=True)
class _CompoundSpec:
    name: str
    kind: str
    buildings: tuple[_BuildingSpec, ...]
    columns: int
    short_name: str = ""  # what the residents call it ("一村"); the search understands it


@dataclass(frozen=True)
class _CommunitySpec:
    code: str
    name: str
    slot: int
    district: str  # the Shanghai district most of its registered residents belong to
    compounds: tuple[_CompoundSpec, ...]
    grids: int


_SIZE = {  # walk-up, tower, plaza: footprint width x depth (m), spacing between neighbours (m)
    "walkup": (40.0, 12.0, 12.0, 20.0),
    "tower": (25.0, 20.0, 22.0, 30.0),
    "plaza": (60.0, 36.0, 20.0, 20.0),
}
_MARGIN = 15.0
_ROAD = 25.0  # the road between two compounds
_PLAN_WIDTH = 700.0  # start a new row of compounds beyond this


def _walkups(
    rng: random.Random, start: int, count: int, per_floor: Sequence[int] = (4, 6, 6, 8)
) -> list[_BuildingSpec]:
    return [
        _BuildingSpec(str(start + i), "walkup", rng.choice((6, 6, 6, 6, 5, 7)), rng.choice(per_floor))
        for i in range(count)
    ]


def _towers(rng: random.Random, start: int, count: int) -> list[_BuildingSpec]:
    return [
        _BuildingSpec(str(start + i), "tower", rng.choice((11, 12, 14, 16, 18)), rng.choice((4, 6, 6)))
        for i in range(count)
    ]


def _small_spec() -> _CommunitySpec:
    rng = random.Random("spec:small")
    return _CommunitySpec(
        code="HXDEMO",
        name="华新示范居民区",
        slot=_SMALL_SLOT,
        district="310105",
        compounds=(
            _CompoundSpec("华新一村", "residential", tuple(_walkups(rng, 1, 6, (4,))), 3, "一村"),
            _CompoundSpec("华新二村", "residential", tuple(_walkups(rng, 1, 4, (4,))), 2, "二村"),
        ),
        grids=2,
    )


def _default_spec() -> _CommunitySpec:
    rng = random.Random("spec:HX01")
    return _CommunitySpec(
        code="HX01",
        name="华新居民区",
        slot=0,
        district="310105",
        compounds=(
            _CompoundSpec("华新一村", "residential", tuple(_walkups(rng, 1, 18)), 4, "一村"),
            _CompoundSpec("华新二村", "residential", tuple(_walkups(rng, 1, 16)), 4, "二村"),
            _CompoundSpec("华新苑", "residential", tuple(_walkups(rng, 1, 14) + _towers(rng, 15, 2)), 4),
            _CompoundSpec("锦绣华庭", "residential", tuple(_towers(rng, 1, 8)), 4, "锦绣"),
            _CompoundSpec(
                "华新商业广场",
                "plaza",
                (_BuildingSpec("1", "plaza", 4, 1), _BuildingSpec("2", "plaza", 3, 1)),
                2,
            ),
        ),
        grids=4,
    )


_COMMUNITY_NAMES = _words(
    "新泾 仙霞 虹桥 天山 古北 程家桥 北新泾 金钟 威宁 茅台 遵义 水城 剑河 安顺 玉屏 哈密 番禺 华阳 延安 愚园 "
    "定西 武夷 新华 周家桥 虹旭 绿园 清池 紫云 荣华 黄金城 中山 长风"
)
_COMPOUND_SUFFIXES = _words("一村 二村 三村 新村 花园 公寓 苑 小区 大楼 雅苑 家园 四村")


def _random_spec(index: int, target: int) -> _CommunitySpec:
    """A community of about ``target`` residents: 1–4 compounds, sometimes a plaza."""
    base = _COMMUNITY_NAMES[(index - 1) % len(_COMMUNITY_NAMES)]
    code = f"HX{index + 1:02d}"
    rng = random.Random(f"spec:{code}")
    tower_share = rng.choice((0.0, 0.1, 0.2, 0.35, 0.5))
    flats_needed = target / 2.7 / 0.95
    n_compounds = rng.choice((1, 2, 2, 3, 3, 4))
    suffixes = rng.sample(_COMPOUND_SUFFIXES, n_compounds)
    buckets: list[list[_BuildingSpec]] = [[] for _ in range(n_compounds)]
    flats = 0
    i = 0
    while flats < flats_needed:
        bucket = buckets[i % n_compounds]
        if rng.random() < tower_share:
            spec = _towers(rng, len(bucket) + 1, 1)[0]
        else:
            spec = _walkups(rng, len(bucket) + 1, 1)[0]
        bucket.append(spec)
        flats += spec.floors * spec.per_floor
        i += 1
    compounds = [
        _CompoundSpec(f"{base}{suffix}", "residential", tuple(bucket), rng.choice((3, 4, 5)))
        for suffix, bucket in zip(suffixes, buckets, strict=True)
    ]
    if rng.random() < 0.3:
        plaza = _BuildingSpec("1", "plaza", rng.choice((3, 4, 5)), 1)
        compounds.append(_CompoundSpec(f"{base}商业广场", "plaza", (plaza,), 1))
    return _CommunitySpec(
        code=code,
        name=f"{base}居民区",
        slot=index,
        district=rng.choice(_SHANGHAI),
        compounds=tuple(compounds),
        grids=max(2, min(6, round(target / 1600))),
    )


def _specs(size: str, seed: int, scale: float = 1.0) -> list[_CommunitySpec]:
    if size == "small":
        return [_small_spec()]
    if size == "default":
        return [_default_spec()]
    rng = random.Random(f"sizes:{seed}")
    targets = [rng.randint(3500, 7000) for _ in range(29)]
    factor = scale * (160_000 - 6_400) / sum(targets)
    return [_default_spec()] + [_random_spec(i, round(t * factor)) for i, t in enumerate(targets, start=1)]


# --- people ------------------------------------------------------------------------------------


@dataclass
class _Person:
    name: str
    sex: str  # "M" / "F"
    born: dt.date
    id_type: str = "resident_id"
    id_number: str = ""
    phone: str = ""
    resident_type: str = ""
    special: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)


class _Generator:
    """Deterministic people for one run; ID numbers and phones unique across the run."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.ids: set[str] = set()
        self.phones: set[str] = set()
        self.documents: set[str] = set()

    # names
    def surname(self, rng: random.Random) -> str:
        pick = rng.random() * _SURNAME_CUM[-1]
        lo, hi = 0, len(_SURNAME_CUM) - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if _SURNAME_CUM[mid] < pick:
                lo = mid + 1
            else:
                hi = mid
        return str(_SURNAME_LIST[lo])

    def given(self, rng: random.Random, sex: str, born: dt.date) -> str:
        era = "old" if born.year < 1960 else "mid" if born.year < 1985 else "young" if born.year < 2005 else "child"
        male = sex == "M"
        if rng.random() < 0.25:
            return rng.choice(_CLASSIC[era][0 if male else 1])
        chars = _GIVEN[era][0 if male else 1]
        one = 0.35 if era == "mid" else 0.12
        if rng.random() < one:
            return rng.choice(chars)
        return rng.choice(chars) + rng.choice(chars)

    # documents
    def resident_id(self, rng: random.Random, region: str, born: dt.date, sex: str, slot: int) -> tuple[str, dt.date]:
        """A free ID number, and the birth date it carries (moved a day or two if that date is full)."""
        stations = range(slot, 100, _SLOTS)
        digits = (1, 3, 5, 7, 9) if sex == "M" else (0, 2, 4, 6, 8)
        for attempt in range(200):
            day = born - dt.timedelta(days=attempt // 20)
            order = rng.choice(stations) * 10 + rng.choice(digits)
            body = f"{region}{day:%Y%m%d}{order:03d}"
            number = body + id_check_digit(body)
            if number not in self.ids:
                self.ids.add(number)
                return number, day
        raise DemoError(f"no free ID number for {region} {born}")  # pragma: no cover

    def document(self, rng: random.Random, make: str) -> str:
        while True:
            number = make + "".join(rng.choice("0123456789") for _ in range(8))
            if number not in self.documents:
                self.documents.add(number)
                return number

    def phone(self, rng: random.Random) -> str:
        for _ in range(50):
            number = rng.choice(_MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
            if number not in self.phones:
                self.phones.add(number)
                return number
        return number  # pragma: no cover - unique-ish is enough


def _born(rng: random.Random, age: int) -> dt.date:
    age = max(0, min(age, 100))
    day = REFERENCE_DATE - dt.timedelta(days=int(age * 365.25) + rng.randrange(365))
    return max(day, dt.date(1921, 1, 1))


def _age(born: dt.date) -> int:
    years = REFERENCE_DATE.year - born.year
    return years - ((REFERENCE_DATE.month, REFERENCE_DATE.day) < (born.month, born.day))


def _pick(rng: random.Random, weighted: Sequence[tuple[str, float]]) -> str:
    total = sum(w for _, w in weighted)
    point = rng.random() * total
    for value, weight in weighted:
        point -= weight
        if point < 0:
            return value
    return weighted[-1][0]


# Household shapes: (kind, weight) for walk-ups (older, more elderly) and towers (younger).
_SHAPES_WALKUP = (
    *(("elderly_alone", 7.0), ("single", 7.0), ("elderly_couple", 15.0), ("young_couple", 6.0)),
    *(("family1", 18.0), ("family2", 4.0), ("three_gen", 15.0), ("parent_child", 6.0), ("tenants", 20.0)),
)
_SHAPES_TOWER = (
    *(("elderly_alone", 2.5), ("single", 8.0), ("elderly_couple", 7.0), ("young_couple", 13.0)),
    *(("family1", 26.0), ("family2", 8.0), ("three_gen", 15.0), ("parent_child", 4.0), ("tenants", 15.0)),
    *(("foreign", 1.5), ("hk_tw", 0.8)),
)


class _Household:
    def __init__(self, gen: _Generator, rng: random.Random, spec: _CommunitySpec, shape: str) -> None:
        self.gen, self.rng, self.spec = gen, rng, spec
        self.shape = shape
        rt = "tenant" if shape == "tenants" else "registered"
        if shape != "tenants" and rng.random() < (0.08 if shape.startswith("elderly") else 0.25):
            rt = "permanent"
        self.resident_type = rt
        local = rt == "registered"
        self.region = self._region(local)
        self.members: list[_Person] = []
        getattr(self, "_" + shape)()
        for person in self.members:
            if not person.resident_type:
                person.resident_type = self.resident_type

    def _region(self, local: bool) -> str:
        rng = self.rng
        if local:
            pool = rng.random()
            if pool < 0.55:
                return self.spec.district
            if pool < 0.65:
                return rng.choice(_OLD_SHANGHAI)
            return rng.choice(_SHANGHAI)
        if rng.random() < 0.1:
            return rng.choice(_SHANGHAI)
        point = rng.random() * _PROVINCE_CUM[-1]
        for code, cum in zip(_PROVINCE_LIST, _PROVINCE_CUM, strict=True):
            if point < cum:
                return code
        return _PROVINCE_LIST[-1]  # pragma: no cover

    def person(self, sex: str, age: int, surname: str | None = None, region: str | None = None) -> _Person:
        rng = self.rng
        born = _born(rng, age)
        surname = surname or self.gen.surname(rng)
        name = surname + self.gen.given(rng, sex, born)
        region = region or (self.region if rng.random() < 0.85 else self._region(self.resident_type == "registered"))
        number, born = self.gen.resident_id(rng, region, born, sex, self.spec.slot)
        person = _Person(name=name, sex=sex, born=born, id_number=number)
        age = _age(born)
        has_phone = age >= 16 or (age >= 12 and rng.random() < 0.6)
        if age >= 85 and rng.random() < 0.3:
            has_phone = False
        if has_phone:
            person.phone = self.gen.phone(rng)
        if age >= 75:
            # Many of the oldest have only the flat's landline, written the way offices write it.
            # A separate generator, so every other draw of the demo stays what it was.
            home = random.Random(f"landline:{number}")
            if home.random() < (0.6 if not has_phone else 0.2):
                person.phone = _valid_phone(
                    home, home.choice(("021-{a} {b}", "{a}{b}", "(021){a}{b}", "021-{a}{b}")), "56"
                )
        self.members.append(person)
        return person

    def couple(self, age: int) -> tuple[_Person, _Person]:
        husband = self.person("M", age)
        wife_age = max(20, age - max(-3, min(8, round(self.rng.gauss(2, 2.5)))))
        wife = self.person("F", wife_age)
        return husband, wife

    def child(self, father: _Person | None, mother: _Person, age: int) -> _Person:
        sex = self.rng.choice("MF")
        surname = None
        if father is not None:
            surname = _surname_of(father.name) if self.rng.random() < 0.93 else _surname_of(mother.name)
        elif self.rng.random() < 0.5:
            surname = _surname_of(mother.name)
        return self.person(sex, age, surname=surname, region=mother.id_number[:6])

    # shapes
    def _elderly_alone(self) -> None:
        sex = "F" if self.rng.random() < 0.68 else "M"
        person = self.person(sex, self.rng.randint(66, 95))
        person.special.add("elderly_alone")
        person.notes.append(
            self.rng.choice(("子女在外区", "子女在国外", "无子女", "子女在外地", "老伴已故，子女每周探望"))
        )

    def _single(self) -> None:
        self.person(self.rng.choice("MF"), self.rng.randint(22, 58))

    def _elderly_couple(self) -> None:
        self.couple(self.rng.randint(62, 88))

    def _young_couple(self) -> None:
        self.couple(self.rng.randint(24, 38))

    def _family1(self) -> None:
        husband, wife = self.couple(self.rng.randint(28, 55))
        self.child(husband, wife, max(0, _age(wife.born) - self.rng.randint(24, 36)))

    def _family2(self) -> None:
        husband, wife = self.couple(self.rng.randint(32, 48))
        first = max(0, _age(wife.born) - self.rng.randint(24, 32))
        self.child(husband, wife, first)
        self.child(husband, wife, max(0, first - self.rng.randint(2, 8)))

    def _three_gen(self) -> None:
        husband, wife = self.couple(self.rng.randint(30, 45))
        self.child(husband, wife, max(0, _age(wife.born) - self.rng.randint(24, 34)))
        if self.rng.random() < 0.45:
            self.child(husband, wife, self.rng.randint(0, 6))
        paternal = self.rng.random() < 0.6
        parent = husband if paternal else wife
        elder_age = _age(parent.born) + self.rng.randint(24, 32)
        if self.rng.random() < 0.55 and len(self.members) <= 3:
            self.person("M", elder_age, surname=_surname_of(parent.name) if paternal else None)
            self.person("F", elder_age - self.rng.randint(0, 4))
        else:
            sex = "F" if self.rng.random() < 0.7 else "M"
            self.person(sex, elder_age, surname=_surname_of(parent.name) if sex == "M" and paternal else None)

    def _parent_child(self) -> None:
        sex = "F" if self.rng.random() < 0.7 else "M"
        elder = self.person(sex, self.rng.randint(70, 92))
        child_sex = self.rng.choice("MF")
        surname = _surname_of(elder.name) if sex == "M" or self.rng.random() < 0.3 else None
        self.person(child_sex, _age(elder.born) - self.rng.randint(24, 34), surname=surname)

    def _tenants(self) -> None:
        if self.rng.random() < 0.45:  # a young couple renting, sometimes with a child
            husband, wife = self.couple(self.rng.randint(23, 40))
            if self.rng.random() < 0.3:
                self.child(husband, wife, self.rng.randint(0, 8))
            return
        for _ in range(self.rng.choice((1, 2, 2, 3, 3, 4))):  # flat-sharers
            self.person(self.rng.choice("MF"), self.rng.randint(20, 38), region=self._region(False))

    def _foreign(self) -> None:
        rng = self.rng
        country, surnames, males, females = rng.choice(_FOREIGNERS)
        surname = rng.choice(surnames)
        count = rng.choice((1, 2, 2, 3))
        self.resident_type = "permanent" if rng.random() < 0.5 else "tenant"
        ages = [rng.randint(28, 55)]
        if count >= 2:
            ages.append(max(22, ages[0] - rng.randint(0, 5)))
        if count >= 3:
            ages.append(rng.randint(2, 14))
        for i, age in enumerate(ages):
            sex = "M" if i == 0 else "F" if i == 1 else rng.choice("MF")
            given = rng.choice(males if sex == "M" else females)
            order = f"{given} {surname}" if country not in {"JP", "KR"} else f"{surname} {given}"
            born = _born(rng, age)
            person = _Person(name=order, sex=sex, born=born, id_type="passport")
            person.id_number = self.gen.document(rng, _passport_prefix(rng, country))
            if age >= 16:
                person.phone = self.gen.phone(rng)
            self.members.append(person)

    def _hk_tw(self) -> None:
        rng = self.rng
        kind = rng.choice(("hk_macao", "hk_macao", "taiwan"))
        self.resident_type = "permanent"
        husband, wife = self.couple(rng.randint(30, 60))
        for person in (husband, wife):
            self.gen.ids.discard(person.id_number)
            person.id_type = kind
            person.id_number = self.gen.document(rng, rng.choice("HM") if kind == "hk_macao" else "")
            if kind == "taiwan" and len(person.id_number) != 8:  # pragma: no cover
                raise DemoError("taiwan permit number")
            away = random.Random(f"hk-mo:{person.id_number}")
            if kind == "hk_macao" and person.phone and away.random() < 0.5:
                code = "+852" if person.id_number.startswith("H") else "+853"
                person.phone = _valid_phone(away, code + " {a} {b}", "6")


def _valid_phone(rng: random.Random, style: str, first: str) -> str:
    """A landline or Hong Kong/Macao number in ``style`` ({a} {b}: its two halves of 4 digits) that
    the roster's phone check accepts."""
    for _ in range(50):
        digits = f"{rng.choice(first)}{rng.randrange(10**7):07d}"
        written = style.format(a=digits[:4], b=digits[4:])
        try:
            parse_phone(written)
        except PhoneError:
            continue
        return written
    raise DemoError("no valid phone number drawn")  # pragma: no cover


def _passport_prefix(rng: random.Random, country: str) -> str:
    # Country-flavoured prefixes; the generator appends 8 digits (valid for the passport check, 5-17 A-Z0-9).
    if country == "US":
        return str(rng.randint(1, 9))
    if country == "JP":
        return rng.choice(("TK", "TR", "MZ"))
    if country == "KR":
        return "M"
    if country == "DE":
        return "C"
    return f"{rng.randint(10, 99)}{rng.choice('ABCDEFGH')}{rng.choice('KLMNPR')}"


def _surname_of(name: str) -> str:
    return name[:2] if name[:2] in {"欧阳", "司马", "诸葛", "上官", "司徒"} else name[:1]


def _minority(gen: _Generator, rng: random.Random, spec: _CommunitySpec, person: _Person) -> None:
    """Rewrite a tenant as a Uyghur or Kazakh resident: a dotted name and a Xinjiang ID number."""
    given = rng.choice(_DOT_NAMES_M if person.sex == "M" else _DOT_NAMES_F)
    person.name = f"{given}·{rng.choice(_DOT_FATHERS)}"
    gen.ids.discard(person.id_number)
    person.id_number, person.born = gen.resident_id(
        rng, rng.choice(_MINORITY_REGIONS), person.born, person.sex, spec.slot
    )


def _care(rng: random.Random, person: _Person) -> None:
    """Special-care flags at about the rates of an old Shanghai community."""
    if person.id_type != "resident_id":
        return
    age = _age(person.born)
    if age >= 75:
        mobility, disabled = 0.16, 0.025
    elif age >= 60:
        mobility, disabled = 0.045, 0.015
    else:
        mobility, disabled = 0.002, 0.006
    if rng.random() < mobility:
        person.special.add("limited_mobility")
        person.notes.append(rng.choice(("需上门采样", "行走需助行器", "轮椅", "腿脚不便，无电梯")))
        if age >= 80 and rng.random() < 0.15:
            person.special.add("bedridden")
            person.notes.append("长期卧床")
    if rng.random() < disabled:
        person.special.add("disabled")
        person.notes.append(rng.choice(("肢体残疾", "视力残疾", "听力残疾", "智力残疾", "精神残疾")))
    if age >= 35 and rng.random() < 0.002:
        person.special.add("dialysis")
        days = rng.choice(("一、三、五", "二、四、六"))
        person.notes.append(f"每周{days}血透（{rng.choice(_HOSPITALS)}）")
    if age >= 30 and rng.random() < 0.003:
        person.special.add("chemotherapy")
        person.notes.append(f"化疗中，每三周一次（{rng.choice(_HOSPITALS)}）")
    if person.sex == "F" and 22 <= age <= 40 and rng.random() < 0.022:
        person.special.add("pregnant")
        due = REFERENCE_DATE + dt.timedelta(days=rng.randint(7, 270))
        person.notes.append(f"预产期 {due:%Y-%m-%d}（{rng.choice(_HOSPITALS)}）")
    if age >= 55 and rng.random() < 0.04:
        person.special.add("chronic")
        person.notes.append(rng.choice(("高血压", "糖尿病", "冠心病", "慢阻肺")))


# --- rosters and plans -------------------------------------------------------------------------


def _grid_of(spec: _CommunitySpec) -> dict[tuple[str, str], str]:
    """Grids are contiguous runs of buildings with about the same number of flats."""
    buildings = [(c.name, b) for c in spec.compounds for b in c.buildings]
    total = sum(b.floors * b.per_floor for _, b in buildings)
    share = total / spec.grids
    result: dict[tuple[str, str], str] = {}
    running = 0.0
    for compound, building in buildings:
        index = min(spec.grids - 1, int(running / share))
        result[(compound, building.number)] = GRID_NAMES[index]
        running += building.floors * building.per_floor
    return result


def _layout(
    rng: random.Random, spec: _CommunitySpec
) -> tuple[dict[tuple[str, str], tuple[float, ...]], dict[str, tuple[float, float]]]:
    """Compounds side by side (west to east, then a new row to the south), separated by roads;
    buildings in rows inside each, walk-ups first, then towers. Metres, y grows southwards."""
    places: dict[tuple[str, str], tuple[float, ...]] = {}
    origins: dict[str, tuple[float, float]] = {}
    left = band_top = band_height = 0.0
    for compound in spec.compounds:
        widest = max(_SIZE[b.kind][0] + _SIZE[b.kind][2] for b in compound.buildings)
        span = 2 * _MARGIN + compound.columns * widest
        if left > 0 and left + span > _PLAN_WIDTH:
            left, band_top, band_height = 0.0, band_top + band_height + _ROAD, 0.0
        origins[compound.name] = (left, band_top)
        top = band_top + _MARGIN
        for kind in ("walkup", "tower", "plaza"):
            group = [b for b in compound.buildings if b.kind == kind]
            if not group:
                continue
            width, depth, gap_x, gap_y = _SIZE[kind]
            for i, building in enumerate(group):
                row, col = divmod(i, compound.columns)
                x = left + _MARGIN + col * (width + gap_x) + width / 2 + rng.uniform(-1.5, 1.5)
                y = top + row * (depth + gap_y) + depth / 2 + rng.uniform(-1.0, 1.0)
                places[(compound.name, building.number)] = (round(x, 1), round(y, 1), width, depth, building.floors)
            top += math.ceil(len(group) / compound.columns) * (depth + gap_y)
        band_height = max(band_height, top + _MARGIN - band_top)
        left += span + _ROAD
    return places, origins


def _roster(gen: _Generator, spec: _CommunitySpec, seed: int) -> list[list[Cell]]:
    """The community's roster rows, in the order a committee would list them."""
    rng = random.Random(f"{seed}:{spec.code}")
    grids = _grid_of(spec)
    rows: list[list[Cell]] = []
    for compound in spec.compounds:
        for building in compound.buildings:
            grid = grids[(compound.name, building.number)]
            if building.kind == "plaza":
                # Shop staff who stayed in their shops through the lockdown.
                holder = _Household(gen, rng, spec, "single")
                holder.members[0].notes.append("商铺员工，封控期间留守店内")
                holder.members[0].resident_type = "other"
                _rows(
                    rows,
                    compound.name,
                    building.number,
                    f"{rng.randint(1, 3)}0{rng.randint(1, 9)}",
                    grid,
                    holder,
                )
                continue
            shapes = _SHAPES_TOWER if building.kind == "tower" else _SHAPES_WALKUP
            for floor in range(1, building.floors + 1):
                for flat in range(1, building.per_floor + 1):
                    if rng.random() < 0.05:  # empty, or the owners abroad
                        continue
                    shape = _pick(rng, shapes)
                    household = _Household(gen, rng, spec, shape)
                    if shape == "tenants" and rng.random() < 0.04:
                        _minority(gen, rng, spec, household.members[0])
                    _rows(rows, compound.name, building.number, f"{floor}{flat:02d}", grid, household)
    return rows


def _rows(out: list[list[Cell]], compound: str, building: str, room: str, grid: str, household: _Household) -> None:
    for person in household.members:
        _care(household.rng, person)
        special = "、".join(SPECIAL_LABELS[c] for c in SPECIAL_ORDER if c in person.special)
        out.append(
            [
                compound,
                f"{building}号楼",
                room,
                person.name,
                ID_TYPE_LABELS[person.id_type],
                person.id_number,
                "男" if person.sex == "M" else "女",
                person.born,
                person.phone,
                RESIDENT_TYPE_LABELS[person.resident_type],
                special,
                "；".join(person.notes),
                grid,
            ]
        )


# --- accounts ----------------------------------------------------------------------------------


def _accounts(community: Community, stdout: TextIO | None) -> list[DemoAccount]:
    """One account per role, scoped to the first community; a new random password on every run."""
    grid = Grid.objects.filter(community=community, name=GRID_NAMES[0]).first()
    grids = [grid] if grid else []
    buildings = list(Building.objects.filter(community=community, grid=grid).order_by("compound_id", "sort_key")[:2])
    subdistrict = community.subdistrict
    here = community.name
    plan: list[tuple[str, Role, str, str]] = [
        ("admin", Role.ADMIN, "系统管理员", "全部 / everything"),
        ("subdistrict", Role.SUBDISTRICT_OFFICER, "周建明", subdistrict.name),
        ("secretary", Role.SECRETARY, "沈丽华", here),
        ("socialworker", Role.SOCIAL_WORKER, "顾晓燕", here),
        ("gridleader", Role.GRID_LEADER, "陆建华", f"{here} {grid.name if grid else ''}"),
        ("leader", Role.BUILDING_LEADER, "王志刚", f"{here} " + "、".join(str(b) for b in buildings)),
        ("property", Role.PROPERTY_MANAGER, "钱国栋（物业）", f"{here}（楼栋、道口、分区 / places and zones）"),
    ]
    accounts: list[DemoAccount] = []
    for username, role, display, description in plan:
        password = secrets.token_urlsafe(12)
        user_upsert(
            username=username,
            password=password,
            role=role,
            display_name=display,
            subdistrict=subdistrict if role == Role.SUBDISTRICT_OFFICER else None,
            community=community if role not in {Role.ADMIN, Role.SUBDISTRICT_OFFICER} else None,
            grids=grids if role == Role.GRID_LEADER else (),
            buildings=buildings if role == Role.BUILDING_LEADER else (),
        )
        accounts.append((username, role.value, password, description))
    # The owners' committee is a contact entry on the accounts page: it never signs in. Made once:
    # a second demo seeded into the same database (bench/demo_scale.py) keeps the first one's.
    if not User.objects.filter(username="owners").exists():
        account_create(
            actor=None,
            username="owners",
            role=Role.OWNERS_COMMITTEE,
            community=community,
            display_name="孙美玲（业委会主任）",
        )
    _say(stdout, f"{len(accounts)} accounts: " + ", ".join(a[0] for a in accounts) + " (new passwords)")
    return accounts


# --- the seed ----------------------------------------------------------------------------------


def _say(stdout: TextIO | None, line: str) -> None:
    if stdout is not None:
        stdout.write(line + "\n")
        stdout.flush()


def _site_plan(community: Community, spec: _CommunitySpec, seed: int) -> int:
    places, origins = _layout(random.Random(f"{seed}:{spec.code}:plan"), spec)
    compounds = {c.name: c.pk for c in Compound.objects.filter(community=community)}
    placed = [
        PlacedBuilding(
            building_id=building_id,
            x=places[key][0],
            y=places[key][1],
            width=places[key][2],
            depth=places[key][3],
            floors=int(places[key][4]),
            footprint=[],
        )
        for building_id, compound_name, number in Building.objects.filter(community=community).values_list(
            "pk", "compound__name", "number"
        )
        if (key := (compound_name, number)) in places
    ]
    return site_plan_apply(
        community=community,
        buildings=placed,
        compounds={compounds[name]: origin for name, origin in origins.items() if name in compounds},
    )


def demo_seed(
    *,
    size: str = "default",
    seed: int = 2022,
    stdout: TextIO | None = None,
    scale: float = 1.0,
    beside_only: bool = False,
) -> DemoResult:
    """Create (or bring back) the demo community or subdistrict; idempotent for a given seed.

    For the large demo (benchmarks): ``scale`` sizes the 29 communities beside the first (0.1:
    about a tenth of their residents each), and ``beside_only`` seeds only those 29, neither the
    first community nor the accounts, to put a subdistrict around a demo already seeded (the
    small or the default one; their ID numbers never collide).

    Each step is a service with its own transaction: a run that fails half-way is finished by the next."""
    if size not in SIZES:
        raise DemoError(f"unknown size {size!r}; choose one of {', '.join(SIZES)}")
    if (scale != 1.0 or beside_only) and size != "large":
        raise DemoError("scale and beside_only are for the large demo")
    started = time.perf_counter()
    specs = _specs(size, seed, scale)[1 if beside_only else 0 :]
    gen = _Generator(seed)
    result = DemoResult(size=size, seed=seed, subdistrict=SUBDISTRICT, communities=[s.code for s in specs])
    communities: list[Community] = []
    for spec in specs:
        community = community_create(code=spec.code, name=spec.name, subdistrict_name=SUBDISTRICT)
        communities.append(community)
        for compound in spec.compounds:
            compound_upsert(
                community=community, name=compound.name, kind=compound.kind, short_name=compound.short_name or None
            )
        rows = _roster(gen, spec, seed)
        header: list[Cell] = list(HEADER)
        sheet = Sheet([(1, header)] + [(i, row) for i, row in enumerate(rows, start=2)])
        report = roster_import(
            community=community,
            actor=None,
            sheet=sheet,
            filename=f"demo-{spec.code}.xlsx",
            today=REFERENCE_DATE,
        )
        result.reports[spec.code] = report
        result.rows += len(rows)
        result.created += report.created
        result.updated += report.updated
        result.unchanged += report.unchanged
        result.rejected += len(report.rejected)
        result.placed += _site_plan(community, spec, seed)
        _say(
            stdout,
            f"{spec.code} {spec.name}: {len(rows)} residents — created {report.created}, "
            f"updated {report.updated}, unchanged {report.unchanged}, rejected {len(report.rejected)}",
        )
        for rejection in report.rejected[:5]:
            _say(stdout, f"  row {rejection.row} {rejection.column}: {rejection.reason}")
    if not beside_only:
        result.accounts = _accounts(communities[0], stdout)
    ids = [c.pk for c in communities]
    result.compounds = Compound.objects.filter(community_id__in=ids).count()
    result.grids = Grid.objects.filter(community_id__in=ids).count()
    result.buildings = Building.objects.filter(community_id__in=ids).count()
    result.households = Household.objects.filter(building__community_id__in=ids).count()
    result.residents = Resident.objects.filter(community_id__in=ids).count()
    result.seconds = time.perf_counter() - started
    _say(
        stdout,
        f"done in {result.seconds:.1f}s: {len(ids)} communities, {result.compounds} compounds, "
        f"{result.buildings} buildings, {result.households} households, {result.residents} residents",
    )
    return result
