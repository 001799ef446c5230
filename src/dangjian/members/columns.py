"""The columns of a roster (花名册): one list shared by export, import, the list page's column
chooser and the API. The Chinese header is what exports write and what imports recognise first;
`synonyms` are other headers found in real spreadsheets.

kind: text, date, code:<table> (see core.codes), choice (category/standing/status), secret
(ID and phone: masked unless the user may see full values), org (organisation code and name).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    kind: str = "text"
    synonyms: tuple[str, ...] = ()
    importable: bool = True
    default: bool = False  # shown in the list and exported when no columns are chosen


COLUMNS = [
    Column("name", "姓名", synonyms=("名字", "党员姓名", "姓 名"), default=True),
    Column("sex", "性别", "code:sex", default=True),
    Column("ethnicity", "民族", "code:ethnicity", default=True),
    Column(
        "id_number",
        "公民身份号码",
        "secret",
        synonyms=("身份证号", "身份证号码", "身份证", "证件号码", "身份号码"),
        default=True,
    ),
    Column(
        "birth_date", "出生日期", "date", synonyms=("出生年月", "生日", "出生时间"), default=True
    ),
    Column(
        "education",
        "学历",
        "code:education",
        synonyms=("文化程度", "最高学历", "全日制学历"),
        default=True,
    ),
    Column("degree", "学位"),
    Column("school", "毕业院校及专业", synonyms=("毕业院校", "毕业学校", "院校及专业")),
    Column("native_place", "籍贯"),
    Column("work_started_on", "参加工作时间", "date", synonyms=("参加工作日期",)),
    Column(
        "job_category",
        "工作岗位",
        "code:job_category",
        synonyms=("岗位", "职业", "工作岗位类别"),
    ),
    Column("work_unit", "工作单位及职务", synonyms=("工作单位", "单位及职务", "单位")),
    Column("title", "专业技术职务", synonyms=("职称", "专业技术职称")),
    Column("party_post", "党内职务", synonyms=("党内职务名称",)),
    Column(
        "category",
        "人员类别",
        "choice",
        synonyms=("党员类别", "类别", "正式/预备"),
        default=True,
    ),
    Column(
        "joined_on",
        "入党日期",
        "date",
        synonyms=("入党时间", "加入党组织日期", "加入党组织时间", "接收预备党员日期"),
        default=True,
    ),
    Column(
        "full_on",
        "转正日期",
        "date",
        synonyms=("转正时间", "转为正式党员日期", "转为正式党员时间"),
        default=True,
    ),
    Column(
        "phone",
        "手机号码",
        "secret",
        synonyms=("手机", "手机号", "联系电话", "电话号码", "移动电话"),
        default=True,
    ),
    Column("telephone", "固定电话", synonyms=("座机", "办公电话")),
    Column("home_address", "家庭住址", synonyms=("家庭地址", "现居住地", "住址", "居住地址")),
    Column(
        "organization",
        "所在党支部",
        "org",
        synonyms=("所在支部", "党支部", "支部", "所在党组织", "组织名称", "党组织"),
        default=True,
    ),
    Column(
        "organization_code",
        "党组织编码",
        "org",
        synonyms=("组织编码", "支部编码", "党组织代码"),
    ),
    Column("standing", "党籍状态", "choice", importable=False),
    Column("status", "党员状态", "choice", importable=False),
    Column("out_of_contact", "是否失联", "bool", importable=False),
    Column("mobile", "是否流动党员", "bool", importable=False),
    Column("mobile_destination", "外出流向", importable=False),
    Column("note", "备注"),
]
BY_KEY = {c.key: c for c in COLUMNS}
DEFAULT_KEYS = [c.key for c in COLUMNS if c.default]
