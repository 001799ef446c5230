"""Demo and benchmark data: a county's organisation tree, its members and a few demo logins.

Two halves:

- `generate(...)` is pure: from (members, orgs, seed, today) it builds a `Plan` of plain
  dataclasses (the tree with treebeard paths already computed, the members with plain ID and
  phone numbers). The same arguments give the same plan, byte for byte: one `random.Random`
  drives everything and nothing depends on set or dict iteration order.
- `seed(...)` writes a plan with `bulk_create` in one transaction (no query per row), encrypts the
  personal fields, then creates the demo accounts through the ordinary services and, with them,
  the organisations' life: terms and office-holders (in bulk), and through the services an
  election awaiting approval, transfers under way, a letter, mobile members and a member out of
  contact (so every list of the committees and transfers pages has something to show).

Used by `manage.py seed` (and `dangjian seed`, `make run`) and by bench/seed.py.
"""

from __future__ import annotations

import abc
import bisect
import datetime
import itertools
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from . import workdays
from .idnumber import check_char
from .models import OrgKind, UnitType

DEFAULT_MEMBERS = 6000
DEFAULT_ORGS = 420  # gives about 300 branches
DEMO_PASSWORD = "dangjian-demo"
COUNTY = "青山县"
AREA_CODE = "0538"
STEPLEN = 4
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

Progress = Callable[[str, int, int], None]  # (stage, completed, total)


class SeedError(Exception):
    """Seeding cannot go ahead; the message says why."""


# --------------------------------------------------------------------------------------------
# Reference data
# --------------------------------------------------------------------------------------------

# fmt: off
# Surnames with their approximate share of the population (per cent, 2020 census order).
SURNAMES: tuple[tuple[str, float], ...] = (
    ("王", 7.12), ("李", 7.00), ("张", 6.74), ("刘", 5.10), ("陈", 4.61), ("杨", 3.22),
    ("黄", 2.45), ("赵", 2.19), ("吴", 2.08), ("周", 2.00), ("徐", 1.45), ("孙", 1.38),
    ("马", 1.29), ("朱", 1.28), ("胡", 1.16), ("郭", 1.15), ("何", 1.06), ("林", 1.01),
    ("高", 1.00), ("罗", 0.95), ("郑", 0.86), ("梁", 0.84), ("谢", 0.76), ("宋", 0.65),
    ("唐", 0.64), ("许", 0.62), ("韩", 0.60), ("冯", 0.58), ("邓", 0.57), ("曹", 0.56),
    ("彭", 0.55), ("曾", 0.54), ("肖", 0.53), ("田", 0.52), ("董", 0.51), ("袁", 0.50),
    ("潘", 0.49), ("于", 0.48), ("蒋", 0.47), ("蔡", 0.46), ("余", 0.45), ("杜", 0.44),
    ("叶", 0.43), ("程", 0.42), ("苏", 0.41), ("魏", 0.40), ("吕", 0.39), ("丁", 0.38),
    ("任", 0.37), ("沈", 0.36), ("姚", 0.35), ("卢", 0.34), ("姜", 0.33), ("崔", 0.32),
    ("钟", 0.31), ("谭", 0.30), ("陆", 0.29), ("汪", 0.28), ("范", 0.27), ("金", 0.26),
    ("石", 0.25), ("廖", 0.24), ("贾", 0.23), ("夏", 0.22), ("韦", 0.21), ("付", 0.20),
    ("方", 0.19), ("白", 0.18), ("邹", 0.17), ("孟", 0.16), ("熊", 0.15), ("秦", 0.15),
    ("邱", 0.14), ("江", 0.14), ("尹", 0.13), ("薛", 0.13), ("闫", 0.12), ("段", 0.12),
    ("雷", 0.11), ("侯", 0.11), ("龙", 0.10), ("史", 0.10), ("陶", 0.09), ("黎", 0.09),
    ("贺", 0.09), ("顾", 0.08), ("毛", 0.08), ("郝", 0.08), ("龚", 0.07), ("邵", 0.07),
    ("万", 0.07), ("钱", 0.07), ("严", 0.06), ("覃", 0.06), ("武", 0.06), ("戴", 0.06),
    ("莫", 0.05), ("孔", 0.05), ("向", 0.05), ("汤", 0.05), ("单", 0.02), ("欧阳", 0.02),
    ("司马", 0.005), ("诸葛", 0.005),
)
# Surnames whose reading differs from the common reading of the character.
SURNAME_INITIALS = {"曾": "z", "单": "s", "覃": "q", "区": "o", "仇": "q", "解": "x", "查": "z",
                    "朴": "p", "乐": "y", "欧阳": "oy", "司马": "sm", "诸葛": "zg"}

MALE_CHARS = "伟强磊军勇杰涛明超辉刚斌波鹏飞宇浩俊峰林建国志海东晨鑫亮成龙华平凯彬勋毅刚正豪博庆松涌"
FEMALE_CHARS = "芳娜敏静丽艳娟霞燕玲婷雪慧红梅琳萍颖洁琴云莉兰凤倩欣悦晶丹英秀桂萌瑶璐佳怡"
SHARED_CHARS = "文晓小春秋嘉思子雨一立永金玉振秀德光宏家利荣新明天安海红建晨怡丽"

# GB 3304 ethnicity codes with rough weights (Han about 92 per cent).
ETHNICITIES = (("01", 92.0), ("03", 1.5), ("11", 1.2), ("08", 1.0), ("06", 0.8), ("02", 0.7),
               ("07", 0.6), ("05", 0.5), ("15", 0.5), ("12", 0.4), ("04", 0.3), ("09", 0.3),
               ("10", 0.2))
# GB/T 4658 education codes: 11 doctorate, 14 master, 21 university, 31 college, 41 secondary
# specialised, 61 senior high school, 71 junior high school, 81 primary school.
EDUCATION_YOUNG = (("11", 1.0), ("14", 8.0), ("21", 45.0), ("31", 25.0), ("41", 8.0),
                   ("61", 8.0), ("71", 5.0))
EDUCATION_MIDDLE = (("11", 0.5), ("14", 4.0), ("21", 30.0), ("31", 25.0), ("41", 12.0),
                    ("61", 14.0), ("71", 12.0), ("81", 2.5))
EDUCATION_OLD = (("14", 0.5), ("21", 8.0), ("31", 12.0), ("41", 14.0), ("61", 22.0),
                 ("71", 28.0), ("81", 15.5))

# Real county-level region codes (GB/T 2260): most members are local, some from elsewhere.
LOCAL_REGIONS = ("370923", "370923", "370923", "370921", "370902", "370911", "370982", "370983")
OTHER_REGIONS = ("110101", "110105", "120101", "130102", "140105", "150102", "210102", "220102",
                 "230102", "310101", "320102", "330102", "340102", "350102", "360102", "370102",
                 "370211", "410102", "420102", "430102", "440103", "450102", "460105", "500101",
                 "510104", "520102", "530102", "540102", "610102", "620102", "630102", "640104",
                 "650102")
MOBILE_PREFIXES = ("130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150",
                   "151", "152", "153", "155", "156", "157", "158", "159", "166", "173", "176",
                   "177", "180", "181", "182", "183", "185", "186", "187", "188", "189", "191",
                   "198", "199")

PLACE_FIRST = "东西南北大小新青白黄石柳杨马龙凤金桃梨花山河泉沙清安平永兴和福庆长高双三古太"
PLACE_SECOND = "山河庄桥店集屯岭坡湖泉沟口堡寨营城埠林塘洼园坊楼台港"
COMMUNITY_NAMES = ("东街", "西街", "南街", "北街", "幸福", "和平", "建设路", "人民路", "文化路",
                   "新华", "朝阳", "光明", "龙湖", "阳光", "花园", "锦绣", "滨河", "振兴", "育才",
                   "胜利", "友谊", "长青", "泰和", "康居")
COUNTY_DEPARTMENTS = (
    "县委办公室", "县政府办公室", "县委组织部", "县委宣传部", "县委统战部", "县委政法委员会",
    "县纪委监委机关", "县人大常委会机关", "县政协机关", "县发展和改革局", "县财政局",
    "县人力资源和社会保障局", "县自然资源和规划局", "县住房和城乡建设局", "县交通运输局",
    "县水利局", "县农业农村局", "县商务局", "县文化和旅游局", "县退役军人事务局", "县应急管理局",
    "县审计局", "县市场监督管理局", "县统计局", "县医疗保障局", "县民政局", "县司法局",
    "县生态环境局", "县科学技术局", "县工业和信息化局", "县林业局", "县城市管理局",
    "县行政审批服务局", "县档案馆", "县融媒体中心", "县总工会", "团县委", "县妇女联合会",
    "县科学技术协会", "县工商业联合会",
)
SCHOOLS = ("县第一中学", "县第二中学", "县第三中学", "县实验中学", "县职业教育中心", "县实验小学",
           "县第二实验小学", "县特殊教育学校", "县实验幼儿园", "县教育和体育局机关")
HEALTH_UNITS = ("县人民医院", "县中医医院", "县妇幼保健院", "县疾病预防控制中心",
                "县卫生健康局机关", "县急救中心", "县精神卫生中心")
POLICE_UNITS = ("县公安局机关", "县公安局交通警察大队", "县公安局刑事侦查大队",
                "县公安局治安管理大队", "县看守所")
BRAND_FIRST = "华鲁恒瑞鑫泰宏盛金永隆昌丰源福康通达宇信远新天"
BRAND_SECOND = "鑫泰通达丰源盛昌宇华诚安利恒顺兴发嘉"
INDUSTRIES = ("机械", "纺织", "化工", "食品", "建材", "物流", "电子", "新材料", "农业科技", "能源",
              "医药", "服装", "包装", "汽车配件", "环保科技", "商贸")
SOCIAL_UNITS = ("县律师协会", "县个体劳动者协会", "县物流行业协会", "县餐饮行业协会",
                "县志愿者协会", "县会计师事务所行业协会", "县民办教育协会", "县建筑业协会")
STATE_ENTERPRISES = ("县城市建设投资集团有限公司", "县农村商业银行股份有限公司",
                     "县供水有限公司", "县交通发展集团有限公司", "县国有资产运营有限公司",
                     "县粮食储备有限公司")
CHINESE_ORDINALS = "一二三四五六七八九十"
# fmt: on


def chinese_number(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 23 → 二十三, 105 → 105 (plain digits beyond 99)."""
    if n <= 10:
        return CHINESE_ORDINALS[n - 1]
    if n < 20:
        return "十" + CHINESE_ORDINALS[n - 11]
    if n < 100:
        tens, ones = divmod(n, 10)
        return CHINESE_ORDINALS[tens - 1] + "十" + (CHINESE_ORDINALS[ones - 1] if ones else "")
    return str(n)


# --------------------------------------------------------------------------------------------
# The plan
# --------------------------------------------------------------------------------------------


@dataclass
class OrgSpec:
    code: str
    name: str
    short_name: str
    kind: str
    unit_type: str
    established_on: datetime.date
    contact_person: str
    contact_phone: str
    display_order: int
    path: str = ""
    depth: int = 0
    numchild: int = 0
    # Not stored: helps naming and sizing.
    label: str = ""  # township / unit committee / ... (for the summary)
    children: list[OrgSpec] = field(default_factory=list, repr=False)
    size: int = 0  # members (branches only)


@dataclass
class MemberSpec:
    org_index: int  # index into Plan.orgs
    name: str
    name_initials: str
    sex: str
    ethnicity: str
    birth_date: datetime.date
    id_number: str
    phone: str
    education: str
    category: str
    joined_on: datetime.date
    full_on: datetime.date | None
    job_category: str = ""


# Job categories by age band, with weights (党内统计 工作岗位; see core.codes.JOB_CATEGORY).
JOBS = {
    "young": (("01", 14), ("02", 20), ("03", 14), ("04", 22), ("05", 10), ("06", 8), ("09", 12)),
    "middle": (("01", 16), ("02", 30), ("03", 14), ("04", 16), ("05", 12), ("09", 12)),
    "old": (("02", 20), ("08", 70), ("09", 10)),
}


def _job_for(band: str, id_number: str) -> str:
    """A job category from the age band, chosen by the ID number so the random stream (and so
    every other seeded value) stays as it was."""
    pick = int(id_number[14:17]) % 100
    for code, weight in JOBS[band]:
        if pick < weight:
            return code
        pick -= weight
    return JOBS[band][-1][0]


@dataclass
class Plan:
    orgs: list[OrgSpec]  # in path order (depth first)
    members: list[MemberSpec]

    @property
    def root(self) -> OrgSpec:
        return self.orgs[0]


@dataclass
class DemoAccount:
    username: str
    display_name: str
    description: str
    role: str
    org_name: str


@dataclass
class SeedResult:
    orgs_by_kind: dict[str, int]
    members: int
    org_seconds: float
    member_seconds: float
    account_seconds: float
    accounts: list[DemoAccount]
    root_id: int
    seed: int
    # The organisations' life (with the demo accounts only): what was made, and how long it took.
    life: dict[str, int] = field(default_factory=dict)
    life_seconds: float = 0.0

    @property
    def orgs(self) -> int:
        return sum(self.orgs_by_kind.values())

    @property
    def seconds(self) -> float:
        return self.org_seconds + self.member_seconds + self.account_seconds + self.life_seconds

    def rates(self) -> dict[str, float]:
        def rate(rows, secs):
            return rows / secs if secs > 0 else 0.0

        return {
            "organisations": rate(self.orgs, self.org_seconds),
            "members": rate(self.members, self.member_seconds),
            "total": rate(self.orgs + self.members, self.org_seconds + self.member_seconds),
        }


def step(n: int) -> str:
    """The treebeard path step of the n-th child (1-based): 1 → '0001', 36 → '0010'."""
    digits = ""
    while n:
        n, rem = divmod(n, len(ALPHABET))
        digits = ALPHABET[rem] + digits
    if len(digits) > STEPLEN:
        raise SeedError("too many children under one organisation")
    return digits.rjust(STEPLEN, "0")


def add_years(day: datetime.date, years: int) -> datetime.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a common year: the next day counts
        return datetime.date(day.year + years, 3, 1)


def _weighted(pairs):
    values = [v for v, _ in pairs]
    cum = list(itertools.accumulate(w for _, w in pairs))
    return values, cum


class _Generator:
    def __init__(self, seed: int, today: datetime.date):
        self.rng = random.Random(seed)
        self.today = today
        self.surnames, self.surname_cum = _weighted(SURNAMES)
        self.ethnicities, self.ethnicity_cum = _weighted(ETHNICITIES)
        self.education = {
            k: _weighted(v)
            for k, v in (
                ("young", EDUCATION_YOUNG),
                ("middle", EDUCATION_MIDDLE),
                ("old", EDUCATION_OLD),
            )
        }
        self.counters: Counter = Counter()
        self.code_width = 4
        self.used_id17: set[str] = set()
        self.used_phones: set[str] = set()
        self.initials_cache: dict[str, str] = {}
        self.place_pool = [a + b for a in PLACE_FIRST for b in PLACE_SECOND if a != b]
        self.rng.shuffle(self.place_pool)
        self.place_next = 0
        self.brand_pool = [a + b for a in BRAND_FIRST for b in BRAND_SECOND if a != b]
        self.rng.shuffle(self.brand_pool)
        self.brand_next = 0

    # ---- small helpers ----------------------------------------------------------------------

    def pick(self, values, cum):
        return values[bisect.bisect_right(cum, self.rng.random() * cum[-1])]

    def place(self) -> str:
        """A two-character place name not used before (青石, 柳河 ...)."""
        if self.place_next < len(self.place_pool):
            name = self.place_pool[self.place_next]
        else:
            base = self.place_pool[self.place_next % len(self.place_pool)]
            name = base + chinese_number(self.place_next // len(self.place_pool) + 1)
        self.place_next += 1
        return name

    def brand(self) -> str:
        if self.brand_next < len(self.brand_pool):
            name = self.brand_pool[self.brand_next]
        else:
            base = self.brand_pool[self.brand_next % len(self.brand_pool)]
            name = base + chinese_number(self.brand_next // len(self.brand_pool) + 1)
        self.brand_next += 1
        return name

    def code(self, kind: str) -> str:
        prefix = {
            "committee": "C",
            "general_branch": "Z",
            "branch": "B",
            "joint_branch": "L",
            "group": "G",
        }[kind]
        self.counters[kind] += 1
        return f"{prefix}{self.counters[kind]:0{self.code_width}d}"

    def date_between(self, start: datetime.date, end: datetime.date) -> datetime.date:
        # One draw whatever the range, so the dates (which depend on today) do not shift the
        # random stream: the same seed gives the same tree and names on any day.
        fraction = self.rng.random()
        if end <= start:
            return start
        return start + datetime.timedelta(days=int(fraction * ((end - start).days + 1)))

    def office_phone(self) -> str:
        return f"{AREA_CODE}-{self.rng.randint(6, 8)}{self.rng.randint(0, 999999):06d}"

    def person_name(self, sex: str) -> str:
        surname = self.pick(self.surnames, self.surname_cum)
        own = MALE_CHARS if sex == "1" else FEMALE_CHARS
        if self.rng.random() < 0.25:
            given = self.rng.choice(own)
        else:
            first = self.rng.choice(own + SHARED_CHARS)
            second = self.rng.choice(own)
            if second == first:
                second = self.rng.choice(own)
            given = first + second
        return surname + given

    def initials(self, name: str) -> str:
        """Pinyin initials, lower case: 张三 → zs, 曾国藩 → zgf (surname readings fixed)."""
        surname = name[:2] if name[:2] in SURNAME_INITIALS else name[:1]
        head = SURNAME_INITIALS.get(surname) or self.char_initial(surname)
        return head + "".join(self.char_initial(c) for c in name[len(surname) :])

    def char_initial(self, text: str) -> str:
        # Cached per character: the pools are small, and pypinyin is the slow part otherwise.
        cached = self.initials_cache.get(text)
        if cached is None:
            from pypinyin import Style, lazy_pinyin

            cached = "".join(lazy_pinyin(text, style=Style.FIRST_LETTER)).lower()
            self.initials_cache[text] = cached
        return cached

    def new_org(self, kind, name, short_name, unit_type, parent: OrgSpec | None, label=""):
        if parent is None:
            established = self.date_between(datetime.date(1949, 10, 1), datetime.date(1958, 12, 31))
        else:
            latest = self.today - datetime.timedelta(days=400)
            start = parent.established_on + datetime.timedelta(days=30)
            if kind == OrgKind.COMMITTEE:
                latest = min(latest, datetime.date(2005, 12, 31))
            elif kind == OrgKind.GENERAL_BRANCH:
                latest = min(latest, datetime.date(2015, 12, 31))
            established = self.date_between(start, max(start, latest))
        org = OrgSpec(
            code=self.code(kind),
            name=name,
            short_name=short_name,
            kind=str(kind),
            unit_type=str(unit_type),
            established_on=established,
            contact_person=""
            if kind == OrgKind.GROUP
            else self.person_name("1" if self.rng.random() < 0.7 else "2"),
            contact_phone="" if kind == OrgKind.GROUP else self.office_phone(),
            display_order=(len(parent.children) + 1) * 10 if parent else 10,
            label=label,
        )
        if parent is not None:
            parent.children.append(org)
        return org

    # ---- the tree ---------------------------------------------------------------------------

    def tree(self, total: int) -> OrgSpec:
        if total < 3:
            raise SeedError("--orgs must be at least 3 (a county committee, a committee, a branch)")
        groups = round(total * 0.14)
        general = round(total * 0.06)
        committees = max(1, round(total * 0.083))
        branches = total - 1 - committees - general - groups
        # Small trees: fewer layers so every container still has branches.
        while branches < committees + 2 * general and general:
            general -= 1
            branches += 1
        while branches < committees and committees > 1:
            committees -= 1
            branches += 1
        while branches < 1 and groups:
            groups -= 1
            branches += 1
        self.code_width = max(4, len(str(max(branches, groups, committees + 1))))

        root = self.new_org(
            OrgKind.COMMITTEE,
            f"中共{COUNTY}委员会",
            "县委",
            UnitType.GOVERNMENT,
            None,
            label="county",
        )
        towns_n = max(1, round(committees * 0.55)) if committees > 1 else 1
        units_n = committees - towns_n

        containers: list[tuple[OrgSpec, _Namer, float]] = []
        for i in range(towns_n):
            if i == 0:
                town = "城关镇"
            else:
                town = self.place() + ("镇" if self.rng.random() < 0.7 else "乡")
            org = self.new_org(
                OrgKind.COMMITTEE,
                f"{town}党委",
                f"{town}党委",
                UnitType.GOVERNMENT,
                root,
                label="township",
            )
            containers.append((org, _TownNamer(self, town), self.rng.uniform(1.0, 2.5)))
        for i in range(units_n):
            org, namer = self.unit_committee(i, root)
            containers.append((org, namer, self.rng.uniform(0.5, 1.8)))

        # General branches stand under committees, chosen by weight.
        weights = list(itertools.accumulate(w for _c, _n, w in containers))
        gb_list: list[tuple[OrgSpec, _Namer]] = []
        for _ in range(general):
            parent, namer, _w = containers[
                bisect.bisect_right(weights, self.rng.random() * weights[-1])
            ]
            base, unit_type = namer.unit()
            org = self.new_org(
                OrgKind.GENERAL_BRANCH,
                f"{base}党总支",
                _short(base, parent) + "党总支",
                unit_type,
                parent,
                label="general branch",
            )
            gb_list.append((org, _SubNamer(base, unit_type, parent)))

        # Branches: each committee gets one, each general branch 2 to 5, the rest by weight.
        slots: list[tuple[OrgSpec, _Namer]] = []
        for org, namer, _w in containers:
            slots.append((org, namer))
        remaining = branches - len(containers)
        for org, namer in gb_list:
            n = min(remaining, self.rng.randint(2, 5))
            slots.extend([(org, namer)] * n)
            remaining -= n
        for _ in range(max(0, remaining)):
            org, namer, _w = containers[
                bisect.bisect_right(weights, self.rng.random() * weights[-1])
            ]
            slots.append((org, namer))
        # Keep the children of one parent together, parents in creation order.
        order = {
            id(org): i for i, org in enumerate([c[0] for c in containers] + [g[0] for g in gb_list])
        }
        slots.sort(key=lambda s: order[id(s[0])])  # stable: deterministic
        if not containers:  # pragma: no cover - committees >= 1 always
            slots = [(root, _TownNamer(self, "城关镇"))] * branches
        branch_list: list[OrgSpec] = []
        for parent, namer in slots:
            joint = self.rng.random() < 0.07
            if joint:
                name, short, unit_type = namer.joint()
                org = self.new_org(
                    OrgKind.JOINT_BRANCH, name, short, unit_type, parent, label="joint branch"
                )
            else:
                name, short, unit_type = namer.branch()
                org = self.new_org(OrgKind.BRANCH, name, short, unit_type, parent, label="branch")
            org.size = round(
                self.rng.triangular(8, 30, 14) if joint else self.rng.triangular(10, 50, 22)
            )
            branch_list.append(org)

        # Party groups under the larger branches, 2 to 4 each.
        big = sorted(branch_list, key=lambda b: -b.size)  # stable sort keeps tree order on ties
        left = groups
        rounds = 0
        while left > 0 and big:
            for branch in big:
                if left <= 0:
                    break
                n = min(left, self.rng.randint(2, 4) if rounds == 0 else 1)
                for _ in range(n):
                    k = len(branch.children) + 1
                    self.new_org(
                        OrgKind.GROUP,
                        f"{branch.name}第{chinese_number(k)}党小组",
                        f"第{chinese_number(k)}党小组",
                        branch.unit_type,
                        branch,
                        label="group",
                    )
                left -= n
            rounds += 1
        return root

    def unit_committee(self, i: int, root: OrgSpec) -> tuple[OrgSpec, _Namer]:
        fixed = [
            (
                "县直机关工作委员会",
                "县直机关工委",
                UnitType.GOVERNMENT,
                _ListNamer(
                    self, COUNTY_DEPARTMENTS, UnitType.GOVERNMENT, "机关", "县{place}事务服务中心"
                ),
            ),
            (
                "县教育和体育局党委",
                "县教体局党委",
                UnitType.SCHOOL,
                _ListNamer(self, SCHOOLS, UnitType.SCHOOL, "", "县{place}小学"),
            ),
            (
                "县非公有制经济组织和社会组织党委",
                "县两新工委",
                UnitType.OTHER,
                _EnterpriseNamer(self, "", social=True),
            ),
            (
                "县卫生健康系统党委",
                "县卫健系统党委",
                UnitType.PUBLIC_INSTITUTION,
                _ListNamer(
                    self, HEALTH_UNITS, UnitType.PUBLIC_INSTITUTION, "", "县{place}社区卫生服务中心"
                ),
            ),
            (
                "县经济开发区党工委",
                "开发区党工委",
                UnitType.GOVERNMENT,
                _EnterpriseNamer(self, "县经济开发区", social=False),
            ),
            (
                "县公安局党委",
                "县公安局党委",
                UnitType.GOVERNMENT,
                _ListNamer(self, POLICE_UNITS, UnitType.GOVERNMENT, "", "县公安局{place}派出所"),
            ),
        ]
        if i < len(fixed):
            name, short, unit_type, namer = fixed[i]
        else:
            j = i - len(fixed)
            if j < len(STATE_ENTERPRISES):
                company = COUNTY + STATE_ENTERPRISES[j][1:]
                unit_type = UnitType.STATE_ENTERPRISE
            else:
                company = f"{COUNTY}{self.brand()}{self.rng.choice(INDUSTRIES)}集团有限公司"
                unit_type = UnitType.ENTERPRISE
            name, short = f"{company}党委", f"县{company[len(COUNTY) :]}党委"
            namer = _CompanyNamer(self, company, unit_type)
        full = name.replace("县", COUNTY, 1) if name.startswith("县") else name
        org = self.new_org(OrgKind.COMMITTEE, full, short, unit_type, root, label="unit committee")
        return org, namer

    # ---- members ----------------------------------------------------------------------------

    def member(self, org_index: int) -> MemberSpec:
        rng = self.rng
        today = self.today
        sex = "1" if rng.random() < 0.7 else "2"
        probationary = rng.random() < 0.08
        age = (
            round(rng.triangular(18, 40, 24)) if probationary else round(rng.triangular(20, 90, 46))
        )
        birth = add_years(today, -age) - datetime.timedelta(days=rng.randint(0, 364))
        adult = add_years(birth, 18)
        if probationary:
            joined = max(adult, today - datetime.timedelta(days=rng.randint(0, 364)))
            full_on = None
        else:
            latest = today - datetime.timedelta(days=366)
            join_age = 18 + min(int(rng.expovariate(1 / 8)), 45)
            joined = add_years(birth, join_age) + datetime.timedelta(days=rng.randint(0, 300))
            joined = min(max(joined, adult), latest)
            full_on = add_years(joined, 1)
        # ID number: region, birth date, sequence whose last digit's parity gives the sex.
        while True:
            region = rng.choice(LOCAL_REGIONS) if rng.random() < 0.85 else rng.choice(OTHER_REGIONS)
            seq = rng.randint(0, 99) * 10 + rng.choice(
                (1, 3, 5, 7, 9) if sex == "1" else (0, 2, 4, 6, 8)
            )
            first17 = f"{region}{birth:%Y%m%d}{seq:03d}"
            if first17 not in self.used_id17:
                self.used_id17.add(first17)
                break
        id_number = first17 + check_char(first17)
        phone = ""
        if rng.random() < 0.85:
            while True:
                phone = rng.choice(MOBILE_PREFIXES) + f"{rng.randint(0, 99999999):08d}"
                if phone not in self.used_phones:
                    self.used_phones.add(phone)
                    break
        name = self.person_name(sex)
        band = "young" if age < 40 else ("middle" if age < 60 else "old")
        ethnicity = self.pick(self.ethnicities, self.ethnicity_cum)
        education = self.pick(*self.education[band])
        return MemberSpec(
            org_index=org_index,
            name=name,
            name_initials=self.initials(name),
            sex=sex,
            ethnicity=ethnicity,
            birth_date=birth,
            id_number=id_number,
            phone=phone,
            education=education,
            category="probationary" if probationary else "full",
            joined_on=joined,
            full_on=full_on,
            job_category=_job_for(band, id_number),
        )


def _short(base: str, parent: OrgSpec) -> str:
    """The name without its parent's prefix: 城关镇东街社区 under 城关镇党委 → 东街社区."""
    prefix = parent.name.removesuffix("党委")
    if base.startswith(prefix) and len(base) > len(prefix):
        return base[len(prefix) :]
    return base


class _Namer(abc.ABC):
    """Names the units (villages, schools, companies ...) under one committee."""

    def __init__(self, gen: _Generator):
        self.gen = gen
        self.used: set[str] = set()
        self.joint_n = 0

    def fresh(self, base: str) -> str:
        name, n = base, 2
        while name in self.used:
            name = f"{base}{chinese_number(n)}"
            n += 1
        self.used.add(name)
        return name

    @abc.abstractmethod
    def unit(self) -> tuple[str, str]:
        """The next unit's base name and unit type; each kind of namer draws its own."""

    def branch(self) -> tuple[str, str, str]:
        base, unit_type = self.unit()
        return f"{base}党支部", f"{self.short(base)}党支部", unit_type

    def joint(self) -> tuple[str, str, str]:
        self.joint_n += 1
        base = self.joint_base()
        return f"{base}联合党支部", f"{self.short(base)}联合党支部", self.joint_type()

    def joint_base(self) -> str:
        return self.fresh(f"{self.prefix()}第{chinese_number(self.joint_n)}")

    def joint_type(self) -> str:
        return UnitType.OTHER

    def prefix(self) -> str:
        return ""

    def short(self, base: str) -> str:
        return base.removeprefix(self.prefix()) or base


class _TownNamer(_Namer):
    def __init__(self, gen, town):
        super().__init__(gen)
        self.town = town
        self.organ_done = False

    def prefix(self):
        return self.town

    def unit(self):
        gen = self.gen
        if not self.organ_done:
            self.organ_done = True
            return self.fresh(f"{self.town}机关"), UnitType.GOVERNMENT
        r = gen.rng.random()
        if r < 0.6:
            return self.fresh(f"{self.town}{gen.place()}村"), UnitType.VILLAGE
        if r < 0.8:
            return (
                self.fresh(f"{self.town}{gen.rng.choice(COMMUNITY_NAMES)}社区"),
                UnitType.COMMUNITY,
            )
        if r < 0.9:
            school = gen.rng.choice(("中心小学", "初级中学", "中心幼儿园"))
            return self.fresh(f"{self.town}{school}"), UnitType.SCHOOL
        return self.fresh(
            f"{self.town}{gen.rng.choice(('卫生院', '农业综合服务中心', '文化站'))}"
        ), UnitType.PUBLIC_INSTITUTION

    def joint_base(self):
        kind = self.gen.rng.choice(("非公企业", "个体工商户", "社会组织", "片区"))
        if kind == "片区":
            return self.fresh(f"{self.town}{self.gen.place()}片区")
        return self.fresh(f"{self.town}{kind}")

    def joint_type(self):
        return UnitType.ENTERPRISE


class _ListNamer(_Namer):
    def __init__(self, gen, units, unit_type, suffix, overflow):
        super().__init__(gen)
        self.units = list(units)
        self.unit_type = unit_type
        self.suffix = suffix
        self.overflow = overflow  # once the list is used up: a template with {place}
        self.next = 0

    def unit(self):
        if self.next < len(self.units):
            base = self.units[self.next]
            if self.suffix and not base.endswith(self.suffix) and not base.startswith("团"):
                base += self.suffix
        else:
            base = self.overflow.format(place=self.gen.place())
        self.next += 1
        return self.fresh(COUNTY + base[1:] if base.startswith("县") else base), self.unit_type

    def short(self, base):
        return "县" + base[len(COUNTY) :] if base.startswith(COUNTY) else base

    def joint_base(self):
        return self.fresh(
            f"{COUNTY}{'直属单位' if self.unit_type == UnitType.GOVERNMENT else '基层单位'}"
            f"第{chinese_number(self.joint_n)}"
        )

    def joint_type(self):
        return self.unit_type


class _EnterpriseNamer(_Namer):
    def __init__(self, gen, place, *, social):
        super().__init__(gen)
        self.place = place
        self.social = social
        self.social_next = 0

    def unit(self):
        gen = self.gen
        if self.social and gen.rng.random() < 0.25:
            base = SOCIAL_UNITS[self.social_next % len(SOCIAL_UNITS)]
            self.social_next += 1
            return self.fresh(COUNTY + base[1:]), UnitType.SOCIAL_ORGANISATION
        return (
            self.fresh(f"{gen.brand()}{gen.rng.choice(INDUSTRIES)}有限公司"),
            UnitType.ENTERPRISE,
        )

    def joint_base(self):
        where = COUNTY + (
            self.place[1:]
            if self.place
            else self.gen.rng.choice(("商贸城", "物流园", "电商产业园", "创业园", "商业街"))
        )
        return self.fresh(f"{where}第{chinese_number(self.joint_n)}")

    def joint_type(self):
        return UnitType.ENTERPRISE

    def short(self, base):
        return "县" + base[len(COUNTY) :] if base.startswith(COUNTY) else base


class _CompanyNamer(_Namer):
    PARTS = (
        "机关",
        "生产车间",
        "销售分公司",
        "营业部",
        "第一分公司",
        "第二分公司",
        "技术中心",
        "后勤服务中心",
        "离退休",
        "运营部",
        "财务部",
        "工程部",
    )

    def __init__(self, gen, company, unit_type):
        super().__init__(gen)
        self.company = company
        self.unit_type = unit_type
        self.next = 0

    def prefix(self):
        return self.company

    def unit(self):
        part = self.PARTS[self.next % len(self.PARTS)]
        if self.next >= len(self.PARTS):
            part = f"{part}第{chinese_number(self.next // len(self.PARTS) + 1)}"
        self.next += 1
        return self.fresh(self.company + part), self.unit_type

    def joint_type(self):
        return self.unit_type


class _SubNamer(_Namer):
    """Branches under a general branch: 城关镇东街社区第一党支部 ..."""

    def __init__(self, base, unit_type, committee):
        self.base = base
        self.unit_type = unit_type
        self.n = 0
        self.committee = committee
        self.used = set()
        self.joint_n = 0

    def prefix(self):
        return self.base

    def unit(self):
        self.n += 1
        return f"{self.base}第{chinese_number(self.n)}", self.unit_type

    def joint_base(self):
        self.n += 1
        return f"{self.base}第{chinese_number(self.n)}"

    def joint_type(self):
        return self.unit_type


def _assign_paths(root: OrgSpec) -> list[OrgSpec]:
    """Treebeard MP_Node fields (path, depth, numchild) in depth-first order."""
    ordered: list[OrgSpec] = []
    root.path, root.depth = step(1), 1
    stack = [root]
    while stack:
        org = stack.pop()
        ordered.append(org)
        org.numchild = len(org.children)
        for i, child in enumerate(org.children, start=1):
            child.path = org.path + step(i)
            child.depth = org.depth + 1
        stack.extend(reversed(org.children))
    return ordered


def _distribute(total: int, weights: list[int]) -> list[int]:
    """Split `total` in proportion to `weights` (largest remainder), deterministic."""
    wsum = sum(weights)
    if wsum == 0:
        return [0] * len(weights)
    exact = [total * w / wsum for w in weights]
    sizes = [int(x) for x in exact]
    rest = total - sum(sizes)
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(exact[i] - sizes[i]), i))
    for i in by_remainder[:rest]:
        sizes[i] += 1
    return sizes


def generate(
    *,
    members: int = DEFAULT_MEMBERS,
    orgs: int = DEFAULT_ORGS,
    seed: int = 1,
    today: datetime.date | None = None,
    progress: Progress | None = None,
) -> Plan:
    """The whole data set in memory. Same arguments, same plan."""
    if members < 0:
        raise SeedError("--members cannot be negative")
    if today is None:
        from django.utils import timezone

        today = timezone.localdate()
    gen = _Generator(seed, today)
    ordered = _assign_paths(gen.tree(orgs))
    branches = [
        (i, o) for i, o in enumerate(ordered) if o.kind in (OrgKind.BRANCH, OrgKind.JOINT_BRANCH)
    ]
    sizes = _distribute(members, [o.size for _i, o in branches])
    specs: list[MemberSpec] = []
    report_every = max(1, members // 100)
    for (index, org), size in zip(branches, sizes, strict=True):
        org.size = size
        for _ in range(size):
            specs.append(gen.member(index))
            if progress and len(specs) % report_every == 0:
                progress("generate", len(specs), members)
    if progress:
        progress("generate", len(specs), members)
    return Plan(orgs=ordered, members=specs)


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------

DEMO_USERNAMES = ("admin", "county", "town", "secretary_a", "secretary_b", "member_a", "auditor")


def check_empty(demo_accounts: bool = True) -> None:
    from django.contrib.auth import get_user_model

    from .models import Organization

    if Organization.objects.exists():
        raise SeedError(
            "The database already holds organisations; seeding would mix demo data with them. "
            "Seed into a fresh database (or delete the organisations first)."
        )
    if demo_accounts:
        taken = sorted(
            get_user_model()
            .objects.filter(username__in=DEMO_USERNAMES)
            .values_list("username", flat=True)
        )
        if taken:
            raise SeedError(
                f"Demo login names already taken: {', '.join(taken)}. "
                "Use --no-demo-accounts or remove those accounts."
            )


def seed(
    *,
    members: int = DEFAULT_MEMBERS,
    orgs: int = DEFAULT_ORGS,
    seed: int = 1,
    demo_accounts: bool = True,
    progress: Progress | None = None,
    batch_size: int = 5000,
    today: datetime.date | None = None,
) -> SeedResult:
    """Generate and write the data set in one transaction. Refuses a database that already
    holds organisations (SeedError)."""
    from django.db import transaction

    from dangjian.members.models import Member, StandingEvent

    from .crypto import encrypt, keyed_hash
    from .models import Organization

    check_empty(demo_accounts)
    plan = generate(members=members, orgs=orgs, seed=seed, today=today, progress=progress)

    with transaction.atomic():
        check_empty(demo_accounts)  # again, inside the transaction
        t0 = time.perf_counter()
        rows = [
            Organization(
                path=o.path,
                depth=o.depth,
                numchild=o.numchild,
                code=o.code,
                name=o.name,
                short_name=o.short_name,
                kind=o.kind,
                unit_type=o.unit_type,
                established_on=o.established_on,
                contact_person=o.contact_person,
                contact_phone=o.contact_phone,
                display_order=o.display_order,
            )
            for o in plan.orgs
        ]
        for start in range(0, len(rows), batch_size):
            Organization.objects.bulk_create(rows[start : start + batch_size])
            if progress:
                progress("organisations", min(start + batch_size, len(rows)), len(rows))
        ids = dict(Organization.objects.values_list("path", "id"))
        org_ids = [ids[o.path] for o in plan.orgs]
        t1 = time.perf_counter()

        total = len(plan.members)
        for start in range(0, total, batch_size):
            batch = []
            for m in plan.members[start : start + batch_size]:
                index = m.org_index
                batch.append(
                    Member(
                        organization_id=org_ids[index],
                        org_path=plan.orgs[index].path,
                        name=m.name,
                        name_initials=m.name_initials,
                        sex=m.sex,
                        ethnicity=m.ethnicity,
                        birth_date=m.birth_date,
                        id_number_encrypted=encrypt(m.id_number),
                        id_number_hash=keyed_hash(m.id_number),
                        phone_encrypted=encrypt(m.phone) if m.phone else "",
                        phone_hash=keyed_hash(m.phone) if m.phone else "",
                        education=m.education,
                        category=m.category,
                        joined_on=m.joined_on,
                        full_on=m.full_on,
                        job_category=m.job_category,
                    )
                )
            Member.objects.bulk_create(batch, batch_size=batch_size)
            events = []
            for row in batch:
                events.append(
                    StandingEvent(
                        member_id=row.pk,
                        kind="admitted",
                        occurred_on=row.joined_on,
                        organization_id=row.organization_id,
                    )
                )
                if row.full_on:
                    events.append(
                        StandingEvent(member_id=row.pk, kind="became_full", occurred_on=row.full_on)
                    )
            StandingEvent.objects.bulk_create(events, batch_size=batch_size)
            if progress:
                progress("members", min(start + batch_size, total), total)
        t2 = time.perf_counter()

        accounts = _demo_accounts(plan, ids) if demo_accounts else []
        t3 = time.perf_counter()
        life = _demo_life(plan, ids, seed=seed) if demo_accounts else {}
        workdays.load_defaults()  # the official holidays of 2026 (an editable default)
        t4 = time.perf_counter()

    return SeedResult(
        orgs_by_kind=dict(sorted(Counter(o.kind for o in plan.orgs).items())),
        members=total,
        org_seconds=t1 - t0,
        member_seconds=t2 - t1,
        account_seconds=t3 - t2,
        accounts=accounts,
        root_id=ids[plan.root.path],
        seed=seed,
        life=life,
        life_seconds=t4 - t3,
    )


def _demo_places(plan: Plan) -> tuple[OrgSpec, OrgSpec, OrgSpec, OrgSpec]:
    """(root, town, branch A, branch B): where the demo accounts work."""
    root = plan.root
    town = next((o for o in root.children if o.label == "township"), root.children[0])
    # Two sibling branches under the township committee (or, failing that, anywhere).
    candidates = [
        town,
        *[o for o in plan.orgs if o.kind in (OrgKind.COMMITTEE, OrgKind.GENERAL_BRANCH)],
    ]
    for parent in candidates:
        kids = [c for c in parent.children if c.kind in (OrgKind.BRANCH, OrgKind.JOINT_BRANCH)]
        if len(kids) >= 2:
            return root, town, kids[0], kids[1]
    kids = [o for o in plan.orgs if o.kind in (OrgKind.BRANCH, OrgKind.JOINT_BRANCH)]
    return root, town, kids[0], kids[min(1, len(kids) - 1)]


def _demo_accounts(plan: Plan, ids: dict[str, int]) -> list[DemoAccount]:
    from dangjian.members.models import Member

    from . import services
    from .models import Organization

    root, town, branch_a, branch_b = _demo_places(plan)
    orgs = {
        o.pk: o
        for o in Organization.objects.filter(
            pk__in=[ids[p.path] for p in (root, town, branch_a, branch_b)]
        )
    }

    def org(spec):
        return orgs[ids[spec.path]]

    admin = services.create_user(
        actor=None,
        username="admin",
        password=DEMO_PASSWORD,
        display_name="系统管理员",
        is_superuser=True,
        validate=False,
    )
    result = [
        DemoAccount("admin", "系统管理员", "system administrator (superuser)", "superuser", "—")
    ]
    people = [
        ("county", f"{COUNTY}委组织部", "administrator of the county committee", "org_admin", root),
        (
            "town",
            f"{town.short_name.removesuffix('党委')}组织委员",
            "administrator of a township committee",
            "org_admin",
            town,
        ),
        (
            "secretary_a",
            f"{branch_a.short_name}书记",
            "secretary of branch A",
            "secretary",
            branch_a,
        ),
        (
            "secretary_b",
            f"{branch_b.short_name}书记",
            "secretary of branch B (sibling of A)",
            "secretary",
            branch_b,
        ),
        ("member_a", "", "member of branch A, linked to a member record", "member", branch_a),
        ("auditor", "县委巡察办审计员", "auditor of the whole county", "auditor", root),
    ]
    for username, display, description, role, spec in people:
        member = None
        if username == "member_a":
            member = Member.objects.filter(organization_id=ids[spec.path]).order_by("id").first()
            display = member.name if member else "党员"
        user = services.create_user(
            actor=None,
            username=username,
            password=DEMO_PASSWORD,
            display_name=display,
            validate=False,
        )
        services.assign_role(actor=admin, user=user, org=org(spec), role=role)
        if member is not None:
            Member.objects.filter(pk=member.pk).update(user=user)
        result.append(DemoAccount(username, display, description, role, spec.name))
    return result


# --------------------------------------------------------------------------------------------
# The organisations' life (demo only)
# --------------------------------------------------------------------------------------------

BRANCH_POSTS = ("secretary", "organisation", "publicity", "discipline", "member")
COMMITTEE_POSTS = ("secretary", "deputy", "organisation", "publicity", "discipline", "member")
DUE_SOON_SHARE = 0.06  # of the terms: re-election due within the lead time
NO_SECRETARY_SHARE = 0.12  # of the branches: nobody in office (a shape warning to look at)


@dataclass
class _Person:
    pk: int
    org_id: int
    name: str
    full_on: datetime.date | None


def _demo_life(plan: Plan, ids: dict[str, int], *, seed: int) -> dict[str, int]:
    """Terms for every organisation (a few due soon, one overdue) and office-holders for most,
    written in bulk; then, as the demo accounts and through the services (so the audit log
    shows them): an election at branch A awaiting the township's approval, transfers between A
    and B under way, an introduction letter, a mobile member away, a guest from elsewhere, and a
    member out of contact for eight months. Same seed, same choices."""
    from django.conf import settings
    from django.utils import timezone

    from dangjian.committees.models import OfficeHolder, Term
    from dangjian.members.models import Member

    from . import rules
    from .models import User

    rng = random.Random(f"life-{seed}")
    today = timezone.localdate()  # the services refuse dates after the real today
    lead = settings.REELECTION_LEAD_DAYS
    root, town, branch_a, branch_b = _demo_places(plan)
    people: dict[int, list[_Person]] = {}
    for pk, org_id, name, full_on in (
        Member.objects.filter(category="full", status="active")
        .order_by("pk")
        .values_list("pk", "organization_id", "name", "full_on")
    ):
        people.setdefault(org_id, []).append(_Person(pk, org_id, name, full_on))
    by_path = {o.path: o for o in plan.orgs}
    # A few full members of each subtree, for the committees above the branches.
    pools: dict[str, list[_Person]] = {}
    for spec in plan.orgs:
        if spec.kind in (OrgKind.BRANCH, OrgKind.JOINT_BRANCH):
            for person in people.get(ids[spec.path], [])[1:4]:
                for end in range(STEPLEN, len(spec.path), STEPLEN):
                    pool = pools.setdefault(spec.path[:end], [])
                    if len(pool) < len(COMMITTEE_POSTS) + 1:
                        pool.append(person)
    # One branch overdue, under the township if it can be (old enough to have had a term).
    old_enough = rules.add_years(today - datetime.timedelta(days=30), -5)
    overdue = next(
        (
            o
            for o in [*town.children, *plan.orgs]
            if o.kind == OrgKind.BRANCH
            and o not in (branch_a, branch_b)
            and o.established_on <= old_enough
        ),
        None,
    )

    terms: list[tuple[OrgSpec, Term]] = []
    for spec in plan.orgs:
        if spec.kind == OrgKind.GROUP:
            continue
        years = rules.term_years(spec.kind, spec.unit_type, today)
        elected = None
        if spec is overdue:
            elected = rules.add_years(today - datetime.timedelta(days=30), -years)
        elif spec is branch_a or rng.random() < DUE_SOON_SHARE:
            elected = rules.add_years(today + datetime.timedelta(days=rng.randint(20, 80)), -years)
        if elected is None or elected < spec.established_on:
            latest = today - datetime.timedelta(days=30)
            earliest = max(
                spec.established_on, today - datetime.timedelta(days=years * 365 - lead - 30)
            )
            span = max(0, (latest - earliest).days)
            elected = min(latest, earliest + datetime.timedelta(days=int(rng.random() * span)))
        full_here = len(people.get(ids[spec.path], []))
        branch = spec.kind in (OrgKind.BRANCH, OrgKind.JOINT_BRANCH)
        form = "secretary" if branch and full_here < rules.COMMITTEE_FROM_FULL else "committee"
        ends_on = rules.term_end(spec.kind, spec.unit_type, elected)
        terms.append(
            (
                spec,
                Term(
                    organization_id=ids[spec.path],
                    form=form,
                    elected_on=elected,
                    term_years=rules.term_years(spec.kind, spec.unit_type, elected),
                    rule_version=rules.term_rule(elected).version,
                    ends_on=ends_on,
                    due_on=ends_on,
                ),
            )
        )
    Term.objects.bulk_create([t for _s, t in terms], batch_size=1000)

    holders: list[OfficeHolder] = []
    group_leaders: dict[str, int] = {}
    for spec, term in terms:
        branch = spec.kind in (OrgKind.BRANCH, OrgKind.JOINT_BRANCH)
        if branch:
            demo = spec in (branch_a, branch_b)
            if not demo and rng.random() < NO_SECRETARY_SHARE:
                continue
            chosen = [p for p in people.get(term.organization_id, []) if p.full_on]
            if term.form == "secretary":
                posts = ("secretary", "deputy") if rng.random() < 0.3 else ("secretary",)
            else:
                posts = BRANCH_POSTS[: 3 if len(chosen) < 15 else 5]
        else:
            chosen = pools.get(spec.path, [])
            posts = COMMITTEE_POSTS[: 5 if spec.kind == OrgKind.GENERAL_BRANCH else 6]
        for person, post in zip(chosen, posts, strict=False):
            holders.append(
                OfficeHolder(
                    organization_id=term.organization_id,
                    term=term,
                    member_id=person.pk,
                    person_name=person.name,
                    position=post,
                    started_on=max(term.elected_on, person.full_on or term.elected_on),
                )
            )
    for spec in plan.orgs:  # each Party group led by a member of its branch
        if spec.kind != OrgKind.GROUP:
            continue
        parent = by_path[spec.path[:-STEPLEN]]
        n = group_leaders.get(parent.path, 0)
        branch_people = people.get(ids[parent.path], [])
        if n + 1 < len(branch_people):
            group_leaders[parent.path] = n + 1
            person = branch_people[n + 1]
            holders.append(
                OfficeHolder(
                    organization_id=ids[spec.path],
                    member_id=person.pk,
                    person_name=person.name,
                    position="group_leader",
                    started_on=max(spec.established_on, person.full_on or spec.established_on),
                )
            )
    OfficeHolder.objects.bulk_create(holders, batch_size=1000)
    life = {"terms": len(terms), "office_holders": len(holders)}

    users = {u.username: u for u in User.objects.filter(username__in=DEMO_USERNAMES)}
    a_id, b_id = ids[branch_a.path], ids[branch_b.path]
    if a_id == b_id:
        return life
    busy = set(
        OfficeHolder.objects.filter(organization_id__in=[a_id, b_id]).values_list(
            "member_id", flat=True
        )
    ) | set(
        Member.objects.filter(user__isnull=False).values_list("pk", flat=True)
    )  # office-holders and the member_a login stay put
    life.update(_demo_events(users, a_id, b_id, people, busy, today, rng))
    from dangjian.dues.demo import seed_dues

    life.update(seed_dues(users, a_id, b_id, today, seed=seed))
    from dangjian.feedback.demo import seed_feedback

    life.update(seed_feedback(users, a_id, b_id, today, seed=seed))
    from dangjian.meetings.demo import seed_meetings

    life.update(seed_meetings(users, a_id, b_id, today, seed=seed))
    return life


def _demo_events(users, a_id, b_id, people, busy, today, rng) -> dict[str, int]:
    """The demo accounts at work, through the services."""
    from dangjian.committees import services as committees
    from dangjian.members import services as members
    from dangjian.members.models import Member
    from dangjian.transfers import services as transfers

    from .models import Organization
    from .rules import add_months

    a = Organization.objects.get(pk=a_id)
    b = Organization.objects.get(pk=b_id)
    secretary_a, secretary_b = users["secretary_a"], users["secretary_b"]
    done = dict.fromkeys(
        ("elections", "transfers", "letters", "mobile_out", "mobile_in", "out_of_contact"), 0
    )
    in_a = [p for p in people.get(a_id, []) if p.full_on]
    free_a = [p for p in in_a if p.pk not in busy]
    free_b = [p for p in people.get(b_id, []) if p.full_on and p.pk not in busy]

    # Branch A held its re-election a week ago; the township has yet to approve it.
    held_on = today - datetime.timedelta(days=7)
    eligible = [p for p in in_a if p.full_on < held_on]
    voters = len(eligible)
    chosen = [p for p in eligible if p.pk not in {q.pk for q in free_a[:3]}][:4]
    records = Member.objects.in_bulk([p.pk for p in chosen])
    candidates = [records[p.pk] for p in chosen]
    if voters >= 7 and len(candidates) == 4:
        present = voters - (1 if voters >= 10 else 0)
        data = {
            "kind": "general",
            "form": "committee",
            "held_on": held_on,
            "seats": 3,
            "voters_expected": voters,
            "voters_present": present,
            "candidates": [
                {"member": m, "votes": v, "position": post}
                for m, v, post in zip(
                    candidates,
                    (present, present - 1, present - 2, 2),
                    ("secretary", "organisation", "publicity", "member"),
                    strict=True,
                )
            ],
        }
        committees.record_election(actor=secretary_a, org=a, data=data)
        done["elections"] = 1
    elif candidates:
        data = {
            "kind": "general",
            "form": "secretary",
            "held_on": held_on,
            "seats": 1,
            "voters_expected": voters,
            "voters_present": voters,
            "candidates": [{"member": candidates[0], "votes": voters}],
        }
        committees.record_election(actor=secretary_a, org=a, data=data)
        done["elections"] = 1

    # Transfers under way both ways between A and B, and a letter out of the platform.
    if free_a:
        m = Member.objects.get(pk=free_a[0].pk)
        transfers.start_transfer(
            actor=secretary_a, member=m, to_org=b, on=today - datetime.timedelta(days=3),
            reason="工作单位变动",
        )  # fmt: skip
        done["transfers"] += 1
    if free_b:
        m = Member.objects.get(pk=free_b[0].pk)
        transfers.start_transfer(
            actor=secretary_b, member=m, to_org=a, on=today - datetime.timedelta(days=2),
            reason="居住地变动",
        )  # fmt: skip
        done["transfers"] += 1
    if len(free_a) > 1:
        m = Member.objects.get(pk=free_a[1].pk)
        transfers.issue_letter(
            actor=secretary_a,
            member=m,
            counterpart="中共广州市天河区委组织部",
            addressee="中共广州市天河区石牌街道工作委员会",
            on=today - datetime.timedelta(days=5),
            reason="随配偶迁居外省",
        )
        done["letters"] = 1
    # A member of A away for a few months, and a member of elsewhere taking part in A's life.
    if len(free_a) > 2:
        since = today - datetime.timedelta(days=20)
        transfers.register_mobile_out(
            actor=secretary_a,
            member=Member.objects.get(pk=free_a[2].pk),
            destination="广东省深圳市南山区",
            since=since,
            expected_return=since + datetime.timedelta(days=120),
            card_number=f"LD{today.year}{rng.randint(1, 9999):04d}",
            note="务工",
        )
        done["mobile_out"] = 1
    since = today - datetime.timedelta(days=15)
    names = {p.name for p in [*people.get(a_id, []), *people.get(b_id, [])]}
    namer = _Generator(rng.randint(1, 10**6), today)
    guest = namer.person_name("1")
    while guest in names:  # nobody to mistake the guest for
        guest = namer.person_name("1")
    transfers.register_mobile_in(
        actor=secretary_a,
        host_org=a,
        person_name=guest,
        home_text="河北省保定市某县某村党支部",
        since=since,
        expected_return=since + datetime.timedelta(days=90),
        card_number=f"LD{today.year}{rng.randint(1, 9999):04d}",
    )
    done["mobile_in"] = 1
    # A member of B nobody has reached for eight months: flagged for suspension, not acted on.
    lost_on = add_months(today, -8)
    lost = [p for p in free_b[1:] if p.full_on < lost_on]
    if lost:
        members.record_event(
            actor=secretary_b,
            member=Member.objects.get(pk=lost[0].pk),
            kind="lost_contact",
            on=lost_on,
            detail="电话停机，多次上门未见本人",
        )
        done["out_of_contact"] = 1
    return done
