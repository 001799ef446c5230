"""Standard code tables as data (no Django import): sex, ethnic group, education, job category.

Each table maps the standard code to its Chinese name. Forms, imports, exports and charts read
these tables; `lookup(table, text)` turns what people write in spreadsheets ("汉", "汉族", "01",
"大学", "本科") into the code.
"""

import re

# GB/T 2261.1-2003
SEX = {"1": "男", "2": "女"}

# GB 3304-1991: the 56 ethnic groups (97 unrecognised, 98 foreign origin kept for completeness).
ETHNICITY = {
    "01": "汉族",
    "02": "蒙古族",
    "03": "回族",
    "04": "藏族",
    "05": "维吾尔族",
    "06": "苗族",
    "07": "彝族",
    "08": "壮族",
    "09": "布依族",
    "10": "朝鲜族",
    "11": "满族",
    "12": "侗族",
    "13": "瑶族",
    "14": "白族",
    "15": "土家族",
    "16": "哈尼族",
    "17": "哈萨克族",
    "18": "傣族",
    "19": "黎族",
    "20": "傈僳族",
    "21": "佤族",
    "22": "畲族",
    "23": "高山族",
    "24": "拉祜族",
    "25": "水族",
    "26": "东乡族",
    "27": "纳西族",
    "28": "景颇族",
    "29": "柯尔克孜族",
    "30": "土族",
    "31": "达斡尔族",
    "32": "仫佬族",
    "33": "羌族",
    "34": "布朗族",
    "35": "撒拉族",
    "36": "毛南族",
    "37": "仡佬族",
    "38": "锡伯族",
    "39": "阿昌族",
    "40": "普米族",
    "41": "塔吉克族",
    "42": "怒族",
    "43": "乌孜别克族",
    "44": "俄罗斯族",
    "45": "鄂温克族",
    "46": "德昂族",
    "47": "保安族",
    "48": "裕固族",
    "49": "京族",
    "50": "塔塔尔族",
    "51": "独龙族",
    "52": "鄂伦春族",
    "53": "赫哲族",
    "54": "门巴族",
    "55": "珞巴族",
    "56": "基诺族",
    "97": "其他未识别民族",
    "98": "外国血统中国籍人士",
}
HAN = "01"

# GB/T 4658-2006, the levels members are recorded at.
EDUCATION = {
    "11": "博士研究生",
    "14": "硕士研究生",
    "21": "大学本科",
    "31": "大学专科",
    "41": "中等专科",
    "44": "职业高中",
    "47": "技工学校",
    "61": "普通高中",
    "71": "初中",
    "81": "小学",
    "90": "其他",
}
# Words people write for the levels, in addition to the names above.
EDUCATION_SYNONYMS = {
    "博士": "11",
    "博士研究生毕业": "11",
    "研究生": "14",
    "硕士": "14",
    "硕士研究生毕业": "14",
    "本科": "21",
    "大学": "21",
    "大学本科毕业": "21",
    "大本": "21",
    "专科": "31",
    "大专": "31",
    "大学专科毕业": "31",
    "中专": "41",
    "中等专业学校": "41",
    "中等职业教育": "41",
    "职高": "44",
    "技校": "47",
    "高中": "61",
    "高中毕业": "61",
    "初中毕业": "71",
    "初级中学": "71",
    "小学毕业": "81",
    "文盲": "90",
}

# Job category of the Party's internal statistics (党内统计 工作岗位), top level.
JOB_CATEGORY = {
    "01": "工人",
    "02": "农牧渔民",
    "03": "企事业单位管理人员",
    "04": "专业技术人员",
    "05": "党政机关工作人员",
    "06": "学生",
    "07": "军人、武警",
    "08": "离退休人员",
    "09": "其他职业人员",
    "10": "无职业",
}
JOB_SYNONYMS = {
    "农民": "02",
    "牧民": "02",
    "渔民": "02",
    "管理人员": "03",
    "企业管理人员": "03",
    "专技人员": "04",
    "机关干部": "05",
    "公务员": "05",
    "在校学生": "06",
    "军人": "07",
    "离退休": "08",
    "退休": "08",
    "离休": "08",
    "退休人员": "08",
    "其他": "09",
    "无业": "10",
}

TABLES = {
    "sex": SEX,
    "ethnicity": ETHNICITY,
    "education": EDUCATION,
    "job_category": JOB_CATEGORY,
}
_SYNONYMS = {
    "sex": {"男性": "1", "女性": "2", "m": "1", "f": "2", "male": "1", "female": "2"},
    "ethnicity": {},
    "education": EDUCATION_SYNONYMS,
    "job_category": JOB_SYNONYMS,
}


def choices(table: str) -> list[tuple[str, str]]:
    return list(TABLES[table].items())


def name_of(table: str, code: str) -> str:
    return TABLES[table].get(code or "", "")


def _index(table: str) -> dict[str, str]:
    index = {}
    for code, name in TABLES[table].items():
        index[code] = code
        index[name] = code
        if table == "ethnicity" and name.endswith("族") and len(name) >= 2:
            index[name[:-1]] = code  # 汉 -> 01, 蒙古 -> 02
        if table == "job_category":
            index[name.replace("、", "")] = code
    if table == "ethnicity":
        index["1"] = HAN  # a leading zero lost in a spreadsheet
    for word, code in _SYNONYMS[table].items():
        index[word.lower()] = code
    return index


_INDEXES = {table: _index(table) for table in TABLES}


def lookup(table: str, text) -> str | None:
    """The code for a name, a synonym or a code as written; None when unknown."""
    if text is None:
        return None
    if isinstance(text, float) and text.is_integer():
        text = int(text)
    value = re.sub(r"\s+", "", str(text)).lower()
    if not value:
        return None
    index = _INDEXES[table]
    if value in index:
        return index[value]
    if value.isdigit() and len(value) == 1:
        return index.get("0" + value)
    return None
