"""Member import: reading messy rosters, checking rows, writing all or nothing, the command."""

import datetime
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import Workbook, load_workbook

from dangjian.core import crypto, selectors
from dangjian.core.errors import Conflict
from dangjian.core.models import AuditEvent
from dangjian.members import importing
from dangjian.members.models import Member, StandingEvent
from tests.idnumbers import make_id
from tests.members.import_files import (
    HEADERS,
    fake_encrypted_xlsx,
    good_row,
    tiny_png,
    write_csv,
    write_xlsx,
)

pytestmark = pytest.mark.django_db


def check(path, actor, org, *, update=False, mapping=None):
    table = importing.read_table(Path(path).read_bytes(), Path(path).name)
    mapping = mapping or importing.suggest_mapping(table.headers)
    return table, importing.check_rows(table, mapping, actor=actor, organization=org, update=update)


def codes_by_line(checked):
    return {r.line: sorted({p.code for p in r.errors}) for r in checked.rows if r.errors}


def hashed(number):
    return crypto.keyed_hash(number)


# Reading and tolerant values ------------------------------------------------------------------


def test_messy_xlsx_every_tolerance_imports(tmp_path, people, tree):
    oscar, a = people["oscar"], tree["branch_a"]
    ids = {n: make_id("1985-03-12", 1, seq=n) for n in range(1, 13)}
    rows = [
        # a Excel date serial (float), datetime objects, dotted date
        [
            1,
            "张 一",
            "男",
            "汉",
            ids[1],
            31118.0,
            "大学本科",
            "正式党员",
            datetime.datetime(2010, 7, 1),
            "2011.07.01",
            13900000001,
            "",
        ],
        [
            2,
            "王二",
            1,
            "回族",
            " ".join(ids[2][i : i + 6] for i in (0, 6, 12)),
            "1985年3月12日",
            "大专",
            "正式",
            "2010年7月1日",
            "2011-7-1",
            "139 0000 0002",
            "",
        ],
        # full-width digits in the ID; months only; numbers that are dates
        [
            3,
            "李三",
            "1",
            "汉族",
            ids[3].translate(str.maketrans("0123456789", "０１２３４５６７８９")),
            "1985/03",
            "研究生",
            "预备",
            20250701,
            "",
            "",
            "",
        ],
        [4, "赵四", "男", "汉", ids[4], "198503", "本科", "预备党员", "202507", "", "", ""],
        [
            5,
            "钱五",
            "男",
            "蒙古",
            ids[5],
            datetime.date(1985, 3, 12),
            "高中",
            "正式党员",
            "20100701",
            "2011/07/01",
            "",
            "",
        ],
    ]
    # a female ID, sex written as 2; a lower-case x check character is accepted
    female = make_id("1990-01-02", 2, seq=7)
    rows.append(
        [6, "孙六", 2, "汉族", female.lower(), "", "硕士", "", "2012-01-01", "2013-01-01", "", ""]
    )
    path = write_xlsx(tmp_path / "messy.xlsx", rows, blank_every=2)
    table, checked = check(path, oscar, a)
    assert table.header_line == 3  # a merged title and a blank line above
    assert len(table.rows) == 6  # blank rows skipped, the notes below not read
    assert table.notes and "填表说明" in table.notes[0]
    assert checked.ok, [(r.line, [str(p) for p in r.errors]) for r in checked.error_rows]

    outcome = importing.import_rows(checked.rows, actor=oscar)
    assert outcome.created == 6
    one = Member.objects.get(id_number_hash=hashed(ids[1]))
    assert one.name == "张一" and one.name_initials == "zy"
    assert one.birth_date == datetime.date(1985, 3, 12)
    assert one.joined_on == datetime.date(2010, 7, 1) and one.full_on == datetime.date(2011, 7, 1)
    assert one.education == "21" and one.ethnicity == "01" and one.category == "full"
    assert crypto.decrypt(one.phone_encrypted) == "13900000001"
    two = Member.objects.get(id_number_hash=hashed(ids[2]))
    assert two.ethnicity == "03" and two.education == "31" and two.sex == "1"
    assert crypto.decrypt(two.phone_encrypted) == "13900000002"
    three = Member.objects.get(id_number_hash=hashed(ids[3]))
    assert three.category == "probationary" and three.joined_on == datetime.date(2025, 7, 1)
    assert three.full_on is None and three.education == "14"
    four = Member.objects.get(id_number_hash=hashed(ids[4]))
    assert four.joined_on == datetime.date(2025, 7, 1)  # "202507": first of the month
    five = Member.objects.get(id_number_hash=hashed(ids[5]))
    assert five.ethnicity == "02" and five.full_on == datetime.date(2011, 7, 1)
    six = Member.objects.get(id_number_hash=hashed(female))
    assert six.sex == "2" and six.birth_date == datetime.date(1990, 1, 2)
    assert six.category == "full"  # no category: from the date of becoming full
    assert crypto.decrypt(six.id_number_encrypted) == female  # x normalised to X
    assert all(m.organization_id == a.pk and m.org_path == a.path for m in Member.objects.all())
    # the timeline and the audit log, one event per member
    assert StandingEvent.objects.filter(kind="admitted", organization=a).count() == 6
    assert StandingEvent.objects.filter(kind="became_full").count() == 4
    events = AuditEvent.objects.filter(action="member.create", object_type="members.member")
    assert events.count() == 6 and events.values("request_id").distinct().count() == 1
    after = events.get(object_id=str(one.pk)).after
    assert after["id_number"] == crypto.mask_id_number(ids[1]) and after["name"] == "张一"
    # warnings: birth date and sex taken from the ID number where missing
    warned = {r.line: {p.code for p in r.warnings} for r in checked.rows}
    assert "from_id_number" in warned[table.rows[5][0]]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030"])
def test_csv_in_either_encoding_with_org_column(tmp_path, people, tree, encoding):
    headers = ["姓名", "公民身份号码", "入党日期", "转正日期", "所在党支部", "党组织编码"]
    rows = [
        ["甲", make_id("1980-01-01", 1, seq=1), "2005-07-01", "2006-07-01", "东街社区党支部", ""],
        ["乙", make_id("1980-01-01", 1, seq=2), "2005-07-01", "2006-07-01", "", "b02"],
        ["丙", make_id("1980-01-01", 1, seq=3), "2005-07-01", "2006-07-01", "", ""],
    ]
    path = write_csv(tmp_path / "r.csv", rows, headers, encoding=encoding, delimiter="\t")
    table, checked = check(path, people["oscar"], tree["branch_a"])
    assert table.format == "csv" and checked.ok
    assert [r.organization.code for r in checked.rows] == ["B01", "B02", "B01"]


def test_id_numbers_that_lost_digits_are_reported_never_accepted(tmp_path, people, tree):
    number = make_id("1985-03-12", 1, seq=5)
    rows = [good_row(1), good_row(2), good_row(3)]
    rows[0][4] = int(number)  # Excel keeps 15 significant digits: stored as 3.70923198501011e+17
    rows[1][4] = "3.70923198501011E+17"  # a CSV saved by Excel
    rows[2][4] = number[:15] + "000"  # digits lost and padded with zeros
    table, checked = check(write_xlsx(tmp_path / "f.xlsx", rows), people["oscar"], tree["branch_a"])
    found = codes_by_line(checked)
    assert list(found.values()) == [["id_precision_lost"]] * 3
    message = str(checked.rows[0].errors[0])
    assert message.startswith("身份证号：") and "e+17" in message


# Checks per kind ------------------------------------------------------------------------------


def test_preview_lists_each_kind_of_error(tmp_path, people, tree, roster):
    oscar = people["oscar"]
    zhao_id = crypto.decrypt(roster["zhao"].id_number_encrypted)  # recorded in branch B
    bad = [good_row(n) for n in range(1, 14)]
    bad[0][4] = bad[0][4][:17] + ("0" if bad[0][4][17] != "0" else "1")  # check character
    bad[2][4] = bad[1][4]  # twice in the file
    bad[3][4] = zhao_id
    bad[3][5] = ""
    bad[4][4] = make_id("2000-01-01", 1, seq=5)
    bad[4][5] = "2000-01-01"
    bad[4][8] = "2015-07-01"  # joined at 15
    bad[4][9] = "2016-07-01"
    bad[5][9] = "2009-07-01"  # full before joining
    bad[6][5] = "1986-03-12"  # birth date disagrees with the ID
    bad[7][2] = "女"  # sex disagrees with the ID
    bad[8][8] = "2019年13月1日"  # not a real date
    bad[9][3] = "火星族"  # no such ethnic group
    bad[10][7] = "党员"  # no such category
    bad[11][1] = ""  # no name
    table, checked = check(
        write_xlsx(tmp_path / "bad.xlsx", bad, title=None), oscar, tree["branch_a"]
    )
    lines = [line for line, _cells in table.rows]
    found = codes_by_line(checked)
    expected = [
        ["invalid_id_number"],
        None,  # first occurrence is fine
        ["duplicate_in_file"],
        ["recorded_elsewhere"],
        ["too_young"],
        ["full_before_joining"],
        ["birth_date_mismatch"],
        ["sex_mismatch"],
        ["invalid_date"],
        ["unknown_code"],
        ["unknown_category"],
        ["required"],
        None,
    ]
    assert [found.get(line) for line in lines] == expected
    by_line = {r.line: r for r in checked.rows}
    assert str(by_line[lines[2]].errors[0]).startswith("身份证号：") and str(lines[1]) in str(
        by_line[lines[2]].errors[0]
    )
    assert str(by_line[lines[4]].errors[0]).startswith("入党时间：")
    assert str(by_line[lines[8]].errors[0]).startswith("入党时间：")
    assert str(by_line[lines[11]].errors[0]).startswith("姓名：")
    summary = checked.summary()
    assert summary["error_rows"] == 11 and summary["valid"] == 2
    with pytest.raises(importing.ValidationFailed):
        importing.import_rows(checked.rows, actor=oscar)


def test_organisation_column_is_resolved_within_the_scope(tmp_path, people, tree):
    headers = ["姓名", "身份证号", "入党日期", "转正日期", "所在党支部"]
    rows = [
        ["甲", make_id("1980-01-01", 1, seq=1), "2005-07-01", "2006-07-01", "西街社区党支部"],
        ["乙", make_id("1980-01-01", 1, seq=2), "2005-07-01", "2006-07-01", "河口镇党委"],
        ["丙", make_id("1980-01-01", 1, seq=3), "2005-07-01", "2006-07-01", "城关镇党委"],
    ]
    path = write_xlsx(tmp_path / "o.xlsx", rows, headers, title=None, notes=False)
    _t, checked = check(path, people["alice"], tree["branch_a"])
    # alice's scope is branch A: branch B and the other town are unknown to her
    assert [sorted({p.code for p in r.errors}) for r in checked.rows] == [
        ["unknown_organization"],
        ["unknown_organization"],
        ["unknown_organization"],
    ]
    _t, checked = check(path, people["oscar"], tree["branch_a"])
    assert [sorted({p.code for p in r.errors}) for r in checked.rows] == [
        [],
        ["unknown_organization"],  # the other town is outside oscar's township
        ["not_a_branch"],
    ]


# All or nothing -------------------------------------------------------------------------------


def test_an_error_in_row_9999_of_10000_writes_nothing(tmp_path, people, tree):
    oscar = people["oscar"]
    rows = [good_row(n) for n in range(1, 10_001)]
    rows[9_998][8] = "not a date"
    _t, checked = check(
        write_xlsx(tmp_path / "big.xlsx", rows, notes=False), oscar, tree["branch_a"]
    )
    assert len(checked.rows) == 10_000 and len(checked.error_rows) == 1
    before = (Member.objects.count(), StandingEvent.objects.count(), AuditEvent.objects.count())
    with pytest.raises(importing.ValidationFailed):
        importing.import_rows(checked.rows, actor=oscar)
    # a failure during the write (the last row's ID recorded meanwhile) rolls everything back
    rows[9_998][8] = "2000-07-01"
    _t, checked = check(
        write_xlsx(tmp_path / "big2.xlsx", rows, notes=False), oscar, tree["branch_a"]
    )
    assert checked.ok
    last = checked.rows[-1].data
    Member.objects.create(
        organization=tree["branch_b"],
        org_path=tree["branch_b"].path,
        name="x",
        sex="1",
        birth_date=last["birth_date"],
        joined_on=last["joined_on"],
        category="full",
        id_number_encrypted="v1:x",
        id_number_hash=checked.rows[-1].id_hash,
    )
    before = (Member.objects.count(), StandingEvent.objects.count(), AuditEvent.objects.count())
    with pytest.raises(Conflict) as caught:
        importing.import_rows(checked.rows, actor=oscar)
    assert caught.value.code == "duplicate_id_number"
    after = (Member.objects.count(), StandingEvent.objects.count(), AuditEvent.objects.count())
    assert after == before


def test_a_row_landing_outside_the_scope_rolls_back(tmp_path, people, tree):
    alice = people["alice"]
    _t, checked = check(
        write_xlsx(tmp_path / "s.xlsx", [good_row(1), good_row(2)]), alice, tree["branch_a"]
    )
    assert checked.ok
    checked.rows[1].organization = tree["branch_b"]  # tampered after the check
    with pytest.raises(importing.ScopeMismatch):
        importing.import_rows(checked.rows, actor=alice)
    assert not Member.objects.exists() and not StandingEvent.objects.exists()


def test_commit_queries_do_not_grow_with_rows(tmp_path, people, tree):
    oscar = people["oscar"]
    counts = []
    for n, offset in ((100, 0), (1000, 1000)):
        rows = [good_row(offset + i) for i in range(1, n + 1)]
        _t, checked = check(write_xlsx(tmp_path / f"q{n}.xlsx", rows), oscar, tree["branch_a"])
        assert checked.ok
        selectors.forget_roles(oscar)
        with CaptureQueriesContext(connection) as queries:
            importing.import_rows(checked.rows, actor=oscar)
        counts.append(len(queries))
    assert Member.objects.count() == 1100
    assert counts[0] == counts[1], counts


# Broken files ---------------------------------------------------------------------------------


def _bad(path, code):
    with pytest.raises(importing.BadFile) as caught:
        importing.read_table(Path(path).read_bytes(), Path(path).name)
    assert caught.value.code == code, caught.value.message
    assert caught.value.message
    return caught.value


def test_broken_files_are_refused_with_a_clear_message(tmp_path):
    (tmp_path / "empty.xlsx").write_bytes(b"")
    _bad(tmp_path / "empty.xlsx", "empty_file")
    (tmp_path / "blank.csv").write_text("\n\n , \n", encoding="utf-8")
    _bad(tmp_path / "blank.csv", "empty_file")
    _bad(tiny_png(tmp_path / "photo.xlsx"), "wrong_format")
    (tmp_path / "junk.xlsx").write_bytes(b"PK\x03\x04" + b"\x00garbage" * 50)
    _bad(tmp_path / "junk.xlsx", "unreadable")
    _bad(fake_encrypted_xlsx(tmp_path / "locked.xlsx"), "password_protected")
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(f"c{i}" for i in range(100_000)) + "\n1,2\n", encoding="utf-8")
    _bad(wide, "too_many_columns")
    book = Workbook()
    book.active.append(["姓名"] + [f"c{i}" for i in range(16_383)])  # the widest an xlsx gets
    book.save(tmp_path / "wide.xlsx")
    _bad(tmp_path / "wide.xlsx", "too_many_columns")
    write_xlsx(tmp_path / "nothing.xlsx", [[1, 2, 3]], ["甲", "乙", "丙"], title=None)
    error = _bad(tmp_path / "nothing.xlsx", "no_known_columns")
    assert "姓名" in error.message
    write_xlsx(tmp_path / "header-only.xlsx", [], notes=False)
    _bad(tmp_path / "header-only.xlsx", "no_rows")
    (tmp_path / "latin.csv").write_bytes("姓名,身份证号\n".encode("utf-16"))
    _bad(tmp_path / "latin.csv", "wrong_format")


def test_mapping_must_name_the_needed_columns_once(tmp_path):
    table = importing.read_table(
        write_xlsx(tmp_path / "m.xlsx", [good_row(1)]).read_bytes(), "m.xlsx"
    )
    mapping = importing.suggest_mapping(table.headers)
    assert mapping[:5] == ["", "name", "sex", "ethnicity", "id_number"]
    with pytest.raises(importing.BadMapping) as caught:
        importing.check_mapping(table.headers, ["name"] * 2)
    assert caught.value.code == "duplicate_column"
    with pytest.raises(importing.BadMapping) as caught:
        importing.check_mapping(table.headers, ["", "name"])
    assert caught.value.code == "missing_column" and "公民身份号码" in caught.value.message
    with pytest.raises(importing.BadMapping):
        importing.check_mapping(table.headers, ["", "name", "", "", "id_number", "status"])


# Update ---------------------------------------------------------------------------------------


def test_update_changes_only_the_given_columns_and_is_audited(tmp_path, people, tree, roster):
    zhang, wang = roster["zhang"], roster["wang"]
    before = {f: getattr(zhang, f) for f in ("name", "education", "birth_date", "joined_on")}
    rows = [
        [crypto.decrypt(zhang.id_number_encrypted), "13700000001", "东街1号", "2030-01-01"],
        [crypto.decrypt(wang.id_number_encrypted), "", "东街3号", ""],
    ]
    path = write_xlsx(
        tmp_path / "u.xlsx",
        rows,
        ["身份证号", "手机", "家庭住址", "入党日期"],
        title=None,
        notes=False,
    )
    call_command(
        "import_members", str(path), "--org", "B01", "--update", "--user", "oscar", "--no-progress"
    )
    zhang.refresh_from_db()
    wang.refresh_from_db()
    assert crypto.decrypt(zhang.phone_encrypted) == "13700000001"
    assert zhang.home_address == "东街1号" and wang.home_address == "东街3号"
    assert {f: getattr(zhang, f) for f in before} == before  # joined_on not touched
    assert wang.phone_encrypted == ""  # a blank cell changes nothing
    events = AuditEvent.objects.filter(action="member.update", object_type="members.member")
    assert events.count() == 2 and set(events.values_list("user_label", flat=True)) == {"oscar"}
    change = events.get(object_id=str(zhang.pk))
    assert set(change.after) == {"phone", "home_address"}
    assert change.before["phone"] == crypto.mask_phone("13900001111")
    assert Member.objects.count() == 5


def test_update_refuses_members_outside_the_scope(tmp_path, people, tree, roster):
    zhao = crypto.decrypt(roster["zhao"].id_number_encrypted)  # branch B
    path = write_xlsx(
        tmp_path / "u.xlsx", [[zhao, "西街9号"]], ["身份证号", "家庭住址"], title=None, notes=False
    )
    _t, checked = check(path, people["alice"], tree["branch_a"], update=True)
    assert codes_by_line(checked) == {1 + 1: ["recorded_elsewhere"]}


# The command ----------------------------------------------------------------------------------


def test_command_dry_run_report_and_import(tmp_path, people, tree, capsys):
    rows = [good_row(n) for n in range(1, 6)]
    rows[2][1] = "@SUM(1)"  # text that a spreadsheet would run
    rows[3][8] = "昨天"
    path = write_xlsx(tmp_path / "c.xlsx", rows)
    report = tmp_path / "report.xlsx"
    with pytest.raises(CommandError, match=r"\b1\b"):
        call_command(
            "import_members", str(path), "--org", "b01", "--report", str(report), "--no-progress"
        )
    assert not Member.objects.exists()
    sheet = load_workbook(report).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][: len(HEADERS)] == tuple(HEADERS)
    bad = [v for v in values[1:] if v[-2]]
    assert len(bad) == 1 and "入党时间" in bad[0][-2]
    assert any(v[1] == "'@SUM(1)" for v in values[1:])  # no formula in the report
    rows[3][8] = "2010-07-01"
    path = write_xlsx(tmp_path / "c.xlsx", rows)
    call_command("import_members", str(path), "--org", "B01", "--dry-run", "--no-progress")
    assert not Member.objects.exists()
    call_command("import_members", str(path), "--org", "B01", "--no-progress")
    assert Member.objects.filter(organization=tree["branch_a"]).count() == 5
    assert "5 created" in capsys.readouterr().out
    with pytest.raises(CommandError, match="no such organisation"):
        call_command("import_members", str(path), "--org", "B01", "--user", "bob")
    with pytest.raises(CommandError, match="^x.xlsx: "):
        call_command("import_members", str(tiny_png(tmp_path / "x.xlsx")), "--org", "B01")


def test_dangjian_import_members_help():
    exe = Path(sys.executable).parent / "dangjian"
    result = subprocess.run(
        [str(exe), "import-members", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    for word in ("--org", "--update", "--dry-run", "--report", ".xlsx"):
        assert word in result.stdout


def test_a_second_commit_of_the_same_import_starts_nothing(people, tree, tmp_path):
    """Two requests holding the same previewed import (a double click): one job only."""
    from dangjian.core.errors import ValidationFailed
    from dangjian.core.models import Job
    from dangjian.members import importing
    from dangjian.members.models_import import MemberImport
    from tests.members.import_files import good_row, write_xlsx

    path = write_xlsx(tmp_path / "r.xlsx", [good_row(1)])
    imp = importing.upload(
        actor=people["alice"], organization=tree["branch_a"], data=path.read_bytes(), name="r.xlsx"
    )
    importing.preview(imp, actor=people["alice"])
    first = MemberImport.objects.get(pk=imp.pk)
    second = MemberImport.objects.get(pk=imp.pk)  # loaded before the first commit
    importing.commit(first, actor=people["alice"])
    with pytest.raises(ValidationFailed):
        importing.commit(second, actor=people["alice"])
    assert Job.objects.filter(kind="member_import").count() == 1
