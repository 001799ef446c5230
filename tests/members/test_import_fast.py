"""The import's fast paths give exactly what the reference code gives.

- check_rows(fast=True) (lean converters, _fast_parse_id, _fast_clean) against
  check_rows(fast=False) (services.clean_record for every row) on a table of good and bad rows:
  same errors (codes and Chinese messages), warnings and clean values;
- the PostgreSQL writer _copy_members (one streamed COPY per table) against _insert_members
  (the batch-by-batch writer): same members, events and audit events;
- the import's encrypt / keyed hash against dangjian.core.crypto.
"""

import datetime
import json

import pytest
from django.db import transaction
from django.utils.translation import override

from dangjian.core import crypto
from dangjian.core.models import AuditEvent
from dangjian.members import importing
from dangjian.members.models import Member, StandingEvent
from tests.idnumbers import make_id

pytestmark = pytest.mark.django_db

HEADERS = [
    "序号",
    "姓名",
    "性别",
    "民族",
    "公民身份号码",
    "出生日期",
    "学历",
    "人员类别",
    "入党日期",
    "转正日期",
    "手机号码",
    "家庭住址",
    "参加工作时间",
]
D = datetime.date
_SEQ = iter(range(1, 10_000))


def nid(born="1985-03-12", sex=1):
    """A fresh valid ID number (each row its own, so no row is a duplicate of another)."""
    return make_id(born, sex, seq=next(_SEQ))


def xid():
    """A fresh valid ID number ending in X."""
    return next(n for n in iter(lambda: nid("1979-05-05"), None) if n.endswith("X"))


ID = nid()
ID_F = nid("1990-11-02", 2)
ID_X = xid()


def old15(number):
    return number[:6] + number[8:17]


def base(**changes):
    row = {
        "序号": 1,
        "姓名": "张三",
        "性别": "男",
        "民族": "汉族",
        "公民身份号码": nid(),
        "出生日期": "1985.03.12",
        "学历": "本科",
        "人员类别": "正式党员",
        "入党日期": "2010-07-01",
        "转正日期": "2011年7月1日",
        "手机号码": "13900000001",
        "家庭住址": "城关镇1号",
        "参加工作时间": None,
    }
    row.update(changes)
    return [row[h] for h in HEADERS]


ROWS = [
    # good rows, in the spellings calamine hands over
    base(公民身份号码=ID),
    base(出生日期=D(1985, 3, 12), 入党日期=D(2010, 7, 1), 转正日期=D(2011, 7, 1)),
    base(出生日期=datetime.datetime(1985, 3, 12), 入党日期=20100701.0, 转正日期=20110701),
    base(出生日期=31118.0, 入党日期="2010/7/1", 转正日期="2011-07-01 00:00:00"),
    base(姓名="张 三", 性别=1, 民族="汉", 手机号码=13900000001.0),
    base(姓名="买买提·艾力", 民族="维吾尔族", 学历="大学本科"),
    base(姓名="\u3000李四\u3000", 性别="\ufeff", 民族=" ", 学历=None),
    base(公民身份号码=ID_F, 性别="女", 出生日期="1990年11月2日"),
    base(公民身份号码=ID_X, 出生日期="1979.05.05"),
    base(公民身份号码=xid().lower(), 出生日期="1979.05.05"),
    base(公民身份号码=" ".join([(n := nid())[:6], n[6:14], n[14:]])),
    base(公民身份号码="'" + nid()),
    base(公民身份号码=nid().translate(str.maketrans("0123456789", "０１２３４５６７８９"))),
    base(公民身份号码=old15(nid()), 出生日期=None),
    base(公民身份号码=float(old15(nid()))),
    base(出生日期=None, 性别=None),  # taken from the ID number
    base(人员类别=None),  # inferred: full
    base(人员类别=None, 转正日期=None),  # inferred: probationary
    base(人员类别="预备党员", 转正日期=""),
    base(出生日期="1985/03", 参加工作时间="2005.09"),  # month only: the day from the ID
    base(手机号码="+86 139-0000-0001"),
    base(手机号码="139 0000 0001", 家庭住址="  城关镇\t2号 "),
    base(人员类别="full", 参加工作时间="２００５．０９．０１"),
    base(入党日期="2010 年 7 月 1 日"),
    base(家庭住址="路" * 255),
    # bad rows
    base(姓名=None),
    base(姓名="长" * 65),
    base(姓名="  "),
    base(家庭住址="城关镇\x01 2号"),  # a control character other than tab or line break
    base(公民身份号码=None),
    base(公民身份号码=(n := nid())[:-1] + ("0" if n[-1] != "0" else "1")),
    base(公民身份号码=nid()[:17]),
    base(公民身份号码="99" + nid()[2:]),
    base(公民身份号码=(n := nid())[:6] + "19851312" + n[14:]),
    base(公民身份号码=1.10105194912310e17),
    base(公民身份号码="1.10105E+17"),
    base(公民身份号码=nid()[:15] + "000"),
    base(公民身份号码="ABCDEFGHIJKLMNOPQR"),
    base(性别="未知"),
    base(性别="女"),  # disagrees with the ID number
    base(民族="火星族"),
    base(学历="幼儿园"),
    base(出生日期="1986.03.12"),  # disagrees with the ID number
    base(出生日期="2019-02-30"),
    base(出生日期="1850-01-01"),
    base(出生日期="not a date"),
    base(出生日期=True),
    base(入党日期=None),
    base(入党日期="2099-01-01", 转正日期=None, 人员类别="预备党员"),
    base(入党日期="1995-01-01"),  # too young
    base(转正日期="2009-01-01"),  # before joining
    base(转正日期=None),  # full member without the date
    base(人员类别="预备党员"),  # probationary with a date of becoming full
    base(人员类别="群众"),
    base(手机号码="12345"),
    base(手机号码="2390000000１"),
    base(家庭住址="路" * 256),
    base(参加工作时间="2999.01.01"),
    base(姓名=None, 公民身份号码=None, 入党日期=None, 性别="?"),
    base(序号=99, 公民身份号码=ID),  # the same ID number as the first row
]


def table_of(rows):
    return importing.Table(
        format="xlsx",
        headers=list(HEADERS),
        header_line=1,
        rows=[(n, list(cells)) for n, cells in enumerate(rows, 2)],
    )


def outcome(checked):
    return [
        (
            r.line,
            [p.as_dict() for p in r.errors],
            [p.as_dict() for p in r.warnings],
            r.data if not r.errors else None,
            r.id_hash,
            r.organization.pk if r.organization else None,
        )
        for r in checked.rows
    ]


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_fast_check_finds_what_clean_record_finds(people, tree, language, monkeypatch):
    oscar, branch = people["oscar"], tree["branch_a"]
    table = table_of(ROWS)
    mapping = importing.suggest_mapping(table.headers)
    today = datetime.date(2026, 6, 1)
    answers = []
    fast_clean = importing._fast_clean

    def spy(*args):
        clean = fast_clean(*args)
        answers.append(clean is not None)
        return clean

    with override(language):
        monkeypatch.setattr(importing, "_fast_clean", spy)
        fast = importing.check_rows(table, mapping, actor=oscar, organization=branch, today=today)
        monkeypatch.undo()
        slow = importing.check_rows(
            table, mapping, actor=oscar, organization=branch, today=today, fast=False
        )
    assert outcome(fast) == outcome(slow)
    good = [r for r in fast.rows if not r.errors]
    bad = [r for r in fast.rows if r.errors]
    assert len(good) >= 20 and len(bad) >= 30  # the table does test both sides
    # the fast path answered for the good rows and handed some rows to clean_record
    assert answers.count(True) == len(good) and answers.count(False) >= 5
    if language == "zh-hans":
        messages = {p.message for r in bad for p in r.errors}
        assert any("身份" in m or "号码" in m for m in messages), messages


def test_fast_check_with_organisation_column_and_recorded_members(people, tree):
    oscar, branch = people["oscar"], tree["branch_a"]
    headers = [*HEADERS, "党组织编码"]
    rows = [
        [*base(), ""],
        [*base(公民身份号码=ID_F, 性别="女", 出生日期="1990.11.02"), branch.code],
        [*base(公民身份号码=xid(), 出生日期="1979.05.05"), "NOPE"],
        [*base(公民身份号码=make_id("1970-01-01", 1, seq=9), 出生日期=None), tree["town"].code],
    ]
    table = importing.Table(
        format="xlsx",
        headers=headers,
        header_line=1,
        rows=[(n, cells) for n, cells in enumerate(rows, 2)],
    )
    mapping = importing.suggest_mapping(headers)
    first = importing.check_rows(table, mapping, actor=oscar, organization=branch)
    importing.import_rows([first.rows[0]], actor=oscar)  # now ID is recorded
    for organization in (branch, None):
        fast = importing.check_rows(table, mapping, actor=oscar, organization=organization)
        slow = importing.check_rows(
            table, mapping, actor=oscar, organization=organization, fast=False
        )
        assert outcome(fast) == outcome(slow)


def test_fast_converters_equal_convert():
    values = [
        "1985.03.12",
        "1985年3月12日",
        "1985-3-1",
        "1985/02/30",
        "1899.12.31",
        "0985.01.01",
        "١٩٨٥-03-12",
        D(1985, 3, 12),
        datetime.datetime(1985, 3, 12, 8, 30),
        19850312,
        19850312.0,
        31118.0,
        "正式党员",
        "预备",
        "FULL",
        " 正式 ",
        "男",
        1,
        1.0,
        True,
        "汉",
        "  城关镇 ",
        "x" * 300,
        ID,
        ID_X,
        ID_X.lower(),
        "1.1E+17",
        1.1e17,
        123,
    ]
    for key in importing.IMPORTABLE_KEYS:
        convert = importing._cell_converter(key)
        for value in values:
            try:
                expected = ("ok", importing._convert(key, value))
            except importing.CellError as exc:
                expected = ("error", exc.code, exc.message)
            try:
                found = ("ok", convert(value))
            except importing.CellError as exc:
                found = ("error", exc.code, exc.message)
            assert found == expected, (key, value)
            assert type(found[-1]) is type(expected[-1]), (key, value)


def test_is_blank_matches_the_pattern():
    for cell in ["", " ", "\u3000", "\ufeff", " \ufeff\u3000", "\ufeffa", "a", " a ", "\xa0"]:
        assert importing._is_blank(cell) == (not importing._SPACES.sub("", cell)), repr(cell)
    assert importing._is_blank(None) and not importing._is_blank(0)


def test_secrets_match_crypto():
    encrypt, keyed_hash = importing._secrets()
    for value in [ID, "13900000001", "", "中文"]:
        assert keyed_hash(value) == crypto.keyed_hash(value)
        assert crypto.decrypt(encrypt(value)) == value
        assert encrypt(value).startswith(crypto.VERSION + ":")


def test_json_value_is_json_dumps():
    for value in [None, True, False, 0, 12, "汉族", 'a"b\\c\n\t', "", D(2020, 1, 2), 1.5]:
        expected = json.dumps(
            value.isoformat() if isinstance(value, D) else value, ensure_ascii=False
        )
        assert importing._json_value(value) == expected


def snapshot(ids):
    members = []
    for m in Member.objects.filter(pk__in=ids).order_by("pk").values():
        m = dict(m)
        m["id_number"] = crypto.decrypt(m.pop("id_number_encrypted"))
        phone = m.pop("phone_encrypted")
        m["phone"] = crypto.decrypt(phone) if phone else ""
        for key in ("id", "created_at", "updated_at"):
            m.pop(key)
        members.append(m)
    events = list(
        StandingEvent.objects.filter(member_id__in=ids)
        .order_by("member_id", "kind")
        .values_list("kind", "occurred_on", "organization_id", "detail", "reference")
    )
    audits = []
    created = AuditEvent.objects.filter(action="member.create", object_id__in=[str(i) for i in ids])
    for a in created.order_by("pk"):
        audits.append(
            (a.user_id, a.user_label, a.request_id, a.object_type, a.object_label, a.org_path)
            + (a.before, a.after, getattr(a, "subject", None) == f"members.member:{a.object_id}")
        )
    return members, events, audits


@pytest.mark.postgres  # the COPY writer is PostgreSQL only
def test_copy_writer_writes_what_the_batch_writer_writes(people, tree):
    oscar, branch = people["oscar"], tree["branch_a"]
    good = [r for r in ROWS[:25]]
    seen, rows = set(), []
    for cells in good:
        table = table_of([cells])
        checked = importing.check_rows(
            table, importing.suggest_mapping(HEADERS), actor=oscar, organization=branch
        )
        row = checked.rows[0]
        if row.ok and row.id_hash not in seen:
            seen.add(row.id_hash)
            rows.append(row)
    assert len(rows) >= 5
    found = {}
    for writer in ("_copy_members", "_insert_members"):
        sid = transaction.savepoint()
        func = getattr(importing, writer)
        if writer == "_copy_members":
            ids = func(rows, oscar, None, len(rows))
        else:
            ids = func(rows, oscar, None, len(rows), 2)
        found[writer] = snapshot(ids)
        transaction.savepoint_rollback(sid)
    assert found["_copy_members"] == found["_insert_members"]
    assert found["_copy_members"][0] and found["_copy_members"][2]
    if importing._AUDIT_SUBJECT:  # each audit event names its member as its subject
        assert all(a[-1] for a in found["_copy_members"][2])


def test_a_leading_apostrophe_is_not_data_on_either_path():
    from dangjian.members import importing

    for value in ("'=1+2", "''quoted", "plain"):
        assert importing._cell_converter("title")(value) == importing._convert("title", value)
    assert importing._convert("title", "'=1+2") == "=1+2"
    assert importing._convert("title", "''quoted") == "'quoted"
