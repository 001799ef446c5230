"""Spreadsheet import of yearly dues bases: preview every row, commit all or none, the template
that round-trips, broken files, and the pages tried by the three people."""

import csv
import io
import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from dangjian.core.errors import NotFound, ValidationFailed
from dangjian.dues import bases_import, services
from dangjian.dues.models import DuesBase
from tests.conftest import DUES_TODAY
from tests.idnumbers import make_id

pytestmark = pytest.mark.django_db

YEAR = DUES_TODAY.year
HEADER = ["姓名", "身份证号", "类别", "基数", "月交纳额", "核定金额", "原因"]
SUN_ID = make_id("1988-08-08", 1, seq=77)


def csv_file(rows, header=HEADER, encoding="utf-8", name="bases.csv"):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return SimpleUploadedFile(name, out.getvalue().encode(encoding), content_type="text/csv")


@pytest.fixture
def sun(roster, tree, make_member):
    return make_member(
        tree["branch_a"], "孙八", birth="1988-08-08", joined_on="2010-07-01", id_number=SUN_ID
    )


GOOD = [
    ["张三", "", "在职", "3000", "", "", ""],
    ["王五", "", "离退休", "5000.01", "", "40", "家庭困难，支部核定"],
    ["孙八", SUN_ID, "农民", "", "0.50", "", ""],
    ["李四", "", "学生", "", "", "", ""],
    ["", "", "", "", "", "", ""],
]


def preview(actor, org, file, year=YEAR):
    return bases_import.preview(actor=actor, org=org, year=year, file=file)


def test_good_file_preview_then_commit(roster, sun, people, tree):
    alice = people["alice"]
    checked = preview(alice, tree["branch_a"], csv_file(GOOD, encoding="gb18030"))
    assert checked.ok, [(r.line, r.errors) for r in checked.rows]
    got = {r.member_name: (r.category, r.amount, r.change) for r in checked.rows}
    assert got == {
        "张三": ("in_service", Decimal("15.00"), "new"),
        "王五": ("retired", Decimal("40.00"), "new"),
        "孙八": ("farmer", Decimal("0.50"), "new"),
        "李四": ("student", Decimal("0.20"), "new"),
    }
    wang = next(r for r in checked.rows if r.member_name == "王五")
    assert any("50.00" in w for w in wang.warnings)  # set by hand, the rules say 50.00
    assert not DuesBase.objects.exists()  # a preview saves nothing

    changed = bases_import.commit(
        actor=alice, org=tree["branch_a"], year=YEAR, payload=checked.payload()
    )
    assert changed == 4
    bases = {b.member.name: b for b in DuesBase.objects.select_related("member")}
    assert bases["张三"].amount == Decimal("15.00")
    assert bases["王五"].computed == Decimal("50.00")
    assert bases["王五"].override == Decimal("40.00")
    assert bases["王五"].override_reason == "家庭困难，支部核定"
    assert bases["孙八"].base == Decimal("0.50") and bases["孙八"].category == "farmer"
    assert bases["李四"].amount == Decimal("0.20")

    again = preview(alice, tree["branch_a"], csv_file(GOOD))
    assert {r.change for r in again.rows} == {"same"}


def test_bad_rows_are_reported_and_nothing_is_saved(roster, sun, people, tree):
    alice = people["alice"]
    rows = [
        ["张三", "", "在职", "3000", "", "", ""],  # 2: good
        ["不存在", "", "在职", "3000", "", "", ""],  # 3: unknown member
        ["赵六", "", "在职", "3000", "", "", ""],  # 4: in branch B: not found here
        ["王五", "", "干部", "3000", "", "", ""],  # 5: bad category
        ["孙八", "", "农民", "", "1.50", "", ""],  # 6: farmer out of range
        ["张三", "", "在职", "3000", "", "", ""],  # 7: twice
        ["李四", "", "在职", "80000", "", "", ""],  # 8: 1,600 a month: a warning only
        ["王五", "", "", "3000", "", "", ""],  # 9: no category (and 王五 again)
        ["", "110101199003077574", "在职", "3000", "", "", ""],  # 10: invalid ID number
        ["", "", "离退休", "abc", "", "", ""],  # 11: bad amount, no member
    ]
    checked = preview(alice, tree["branch_a"], csv_file(rows))
    errors = {r.line: r.errors for r in checked.rows}
    assert errors[2] == []
    assert errors[3] and "不存在" in errors[3][0]
    assert errors[4]
    assert errors[5] and "干部" in errors[5][0]
    assert errors[6] and any("0.2" in e for e in errors[6])
    assert errors[7] and "2" in errors[7][0]
    assert errors[8] == []
    assert any("1000" in w for w in next(r for r in checked.rows if r.line == 8).warnings)
    assert errors[9]
    assert errors[10]
    assert len(errors[11]) >= 2
    assert not checked.ok
    with pytest.raises(ValidationFailed):
        bases_import.remember({}, checked)
    assert not DuesBase.objects.exists()


def test_member_outside_the_organisation_by_number_or_id(roster, people, tree, make_member):
    zhao = roster["zhao"]  # branch B
    outside_id = make_id("1977-07-07", 2, seq=55)
    make_member(tree["branch_b"], "周九", birth="1977-07-07", sex=2, id_number=outside_id)
    rows = [[zhao.pk, "赵六", "", "在职", "3000"], ["", "周九", outside_id, "在职", "3000"]]
    checked = preview(
        people["alice"],
        tree["branch_a"],
        csv_file(rows, header=["编号", "姓名", "身份证号", "类别", "基数"]),
    )
    assert all(r.errors and "东街" in r.errors[0] for r in checked.rows)


def test_an_import_does_not_tell_who_is_a_member_elsewhere(roster, people, tree, make_member):
    """A number or ID number of a member of another branch gets the very message of one that
    belongs to nobody: importing must not probe for members outside the scope."""
    outside_id = make_id("1977-07-07", 2, seq=55)
    make_member(tree["branch_b"], "周九", birth="1977-07-07", sex=2, id_number=outside_id)
    nobody_id = make_id("1977-07-07", 2, seq=56)
    highest = max(m.pk for m in roster.values())
    rows = [
        ["", "", outside_id, "在职", "3000"],  # 2: someone's in branch B
        ["", "", nobody_id, "在职", "3000"],  # 3: nobody's
        [roster["zhao"].pk, "", "", "在职", "3000"],  # 4: a member of branch B
        [highest + 1000, "", "", "在职", "3000"],  # 5: no member at all
    ]
    checked = preview(
        people["alice"],
        tree["branch_a"],
        csv_file(rows, header=["编号", "姓名", "身份证号", "类别", "基数"]),
    )
    errors = {r.line: r.errors for r in checked.rows}
    assert errors[2] == errors[3] and len(errors[2]) == 1
    named = errors[4][0].replace(str(roster["zhao"].pk), "N")
    assert named == errors[5][0].replace(str(highest + 1000), "N")
    assert all(r.member_id is None for r in checked.rows)


def test_a_huge_number_in_a_cell_is_a_row_error(roster, people, tree):
    rows = [
        ["张三", "", "在职", "1e30", "", "", ""],
        ["王五", "", "在职", "3000", "", "1E+40", "x"],
    ]
    checked = preview(people["alice"], tree["branch_a"], csv_file(rows))
    errors = {r.line: r.errors for r in checked.rows}
    assert errors[2] and errors[3]
    assert not checked.ok


def test_commit_is_all_or_nothing(roster, people, tree):
    """A row the service refuses at commit (here: a member of another branch slipped into the
    kept rows) saves nothing, the good rows neither."""
    alice = people["alice"]
    checked = preview(alice, tree["branch_a"], csv_file(GOOD[:1]))
    payload = checked.payload()
    payload["rows"].append(
        {
            "line": 9,
            "member": roster["zhao"].pk,
            "category": "in_service",
            "base": "3000",
            "override": None,
            "override_reason": "",
        }
    )
    with pytest.raises(bases_import.ImportRowErrors) as caught:
        bases_import.commit(actor=alice, org=tree["branch_a"], year=YEAR, payload=payload)
    assert list(caught.value.lines) == [9]
    assert not DuesBase.objects.exists()


def test_commit_checks_the_permission_again(roster, people, tree):
    checked = preview(people["alice"], tree["branch_a"], csv_file(GOOD[:1]))
    with pytest.raises(NotFound):
        bases_import.commit(
            actor=people["bob"], org=tree["branch_a"], year=YEAR, payload=checked.payload()
        )
    assert not DuesBase.objects.exists()


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty_file"),
        (b"PK\x03\x04 not a workbook at all", "unreadable"),
        (b"\x00\x01\x02\x03", "wrong_format"),
        ("姓名,基数\n张三,3000\n".encode(), "missing_column"),
        ("类别,基数\n在职,3000\n".encode(), "missing_column"),
        ("姓名,类别\n".encode(), "no_rows"),
        (b"\xff\xfe\xfa\xfb,\x81\n", "wrong_encoding"),
    ],
)
def test_broken_files_give_a_clear_message(roster, people, tree, data, code):
    with pytest.raises(ValidationFailed) as caught:
        preview(people["alice"], tree["branch_a"], SimpleUploadedFile("x.csv", data))
    assert caught.value.field == "file"
    assert caught.value.code == code
    assert str(caught.value.message)


def test_names_shared_by_two_members_need_the_number(roster, people, tree, make_member):
    make_member(tree["branch_a"], "张三", birth="1970-02-02")
    checked = preview(people["alice"], tree["branch_a"], csv_file(GOOD[:1]))
    assert checked.rows[0].errors and "编号" in checked.rows[0].errors[0]


def test_template_round_trips(roster, sun, people, tree, client_for):
    from openpyxl import load_workbook

    alice = people["alice"]
    services.declare_base(
        actor=alice, member=roster["zhang"], year=YEAR, category="in_service", base="3000"
    )
    services.declare_base(
        actor=alice,
        member=roster["wang"],
        year=YEAR,
        category="retired",
        base="4000",
        override="30",
        override_reason="支部核定",
    )
    services.declare_base(actor=alice, member=sun, year=YEAR, category="farmer", base="0.8")
    answer = client_for(alice).get(reverse("dues:bases_template", args=[tree["branch_a"].pk, YEAR]))
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("application/vnd.openxmlformats")
    data = answer.content

    book = load_workbook(io.BytesIO(data))
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["编号", "姓名", "身份证号"]
    ids = [row[2] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert SUN_ID not in ids and any("*" in (i or "") for i in ids)  # masked

    checked = preview(alice, tree["branch_a"], SimpleUploadedFile("t.xlsx", data))
    assert checked.ok, [(r.line, r.errors) for r in checked.rows]
    assert checked.skipped == 1  # 李四 has no base yet
    assert {r.member_name: r.change for r in checked.rows} == {
        "张三": "same",
        "王五": "same",
        "孙八": "same",
    }
    assert (
        bases_import.commit(actor=alice, org=tree["branch_a"], year=YEAR, payload=checked.payload())
        == 0
    )

    # Changed in the spreadsheet: 张三's base, 李四's category filled in.
    for row in sheet.iter_rows(min_row=2):
        if row[1].value == "张三":
            row[5].value = 6000
        if row[1].value == "李四":
            row[4].value = "学生"
    handle = io.BytesIO()
    book.save(handle)
    checked = preview(alice, tree["branch_a"], SimpleUploadedFile("t.xlsx", handle.getvalue()))
    assert checked.ok, [(r.line, r.errors) for r in checked.rows]
    assert {r.member_name: r.change for r in checked.rows}["张三"] == "changed"
    assert (
        bases_import.commit(actor=alice, org=tree["branch_a"], year=YEAR, payload=checked.payload())
        == 2
    )
    assert DuesBase.objects.get(member=roster["zhang"], year=YEAR).amount == Decimal("90.00")
    assert DuesBase.objects.get(member=roster["li"], year=YEAR).category == "student"
    assert DuesBase.objects.get(member=roster["wang"], year=YEAR).override == Decimal("30.00")


def test_template_without_the_number_column_refuses_masked_ids(roster, people, tree):
    from openpyxl import Workbook, load_workbook

    alice = people["alice"]
    services.declare_base(
        actor=alice, member=roster["zhang"], year=YEAR, category="in_service", base="3000"
    )
    _name, data = bases_import.template(actor=alice, org=tree["branch_a"], year=YEAR)
    source = load_workbook(io.BytesIO(data)).worksheets[0]
    book = Workbook()
    sheet = book.active
    for row in source.iter_rows(values_only=True):
        sheet.append(list(row[2:]))  # no 编号, no 姓名: only the masked ID is left
    handle = io.BytesIO()
    book.save(handle)
    checked = preview(alice, tree["branch_a"], SimpleUploadedFile("t.xlsx", handle.getvalue()))
    assert checked.rows and all(r.errors for r in checked.rows)
    assert "编号" in checked.rows[0].errors[0]


def test_last_years_bases_are_the_starting_point_of_the_template(roster, people, tree):
    from openpyxl import load_workbook

    alice = people["alice"]
    services.declare_base(
        actor=alice, member=roster["zhang"], year=YEAR - 1, category="in_service", base="3000"
    )
    _name, data = bases_import.template(actor=alice, org=tree["branch_a"], year=YEAR)
    rows = list(load_workbook(io.BytesIO(data)).worksheets[0].iter_rows(values_only=True))
    zhang = next(r for r in rows if r[1] == "张三")
    assert zhang[4] == "在职" and zhang[5] == 3000
    assert str(YEAR - 1) in zhang[9]


# Pages -----------------------------------------------------------------------------------------


def test_pages_upload_preview_commit(roster, sun, people, tree, client_for):
    c = client_for(people["alice"])
    url = reverse("dues:bases_import", args=[tree["branch_a"].pk, YEAR])
    page = c.get(url)
    assert page.status_code == 200 and 'data-testid="import-upload"' in page.text
    answer = c.post(url, {"action": "preview", "file": csv_file(GOOD)})
    assert answer.status_code == 200
    assert 'data-testid="commit-form"' in answer.text
    token = re.search(r'name="token" value="([0-9a-f]+)"', answer.text).group(1)
    assert not DuesBase.objects.exists()
    answer = c.post(url, {"action": "commit", "token": token})
    assert answer.status_code == 302
    assert DuesBase.objects.filter(year=YEAR).count() == 4
    # The token is used up: a second commit (double click) is refused without saving.
    answer = c.post(url, {"action": "commit", "token": token})
    assert answer.status_code == 400 and 'data-code="preview_expired"' in answer.text


def test_pages_errors_and_broken_files(roster, people, tree, client_for):
    c = client_for(people["alice"])
    url = reverse("dues:bases_import", args=[tree["branch_a"].pk, YEAR])
    answer = c.post(url, {"action": "preview", "file": csv_file([["不存在", "", "在职", "3000"]])})
    assert answer.status_code == 200
    assert 'data-testid="preview-errors"' in answer.text
    assert 'data-testid="commit-form"' not in answer.text
    answer = c.post(
        url, {"action": "preview", "file": SimpleUploadedFile("x.xlsx", b"PK\x03\x04x")}
    )
    assert answer.status_code == 400 and 'data-code="unreadable"' in answer.text
    answer = c.post(url, {"action": "commit", "token": "forged"})
    assert answer.status_code == 400 and 'data-code="preview_expired"' in answer.text
    assert not DuesBase.objects.exists()


def test_three_people_scope(roster, people, tree, client_for):
    urls = [
        reverse("dues:bases_import", args=[tree["branch_a"].pk, YEAR]),
        reverse("dues:bases_template", args=[tree["branch_a"].pk, YEAR]),
    ]
    for who in ("alice", "oscar"):
        c = client_for(people[who])
        for url in urls:
            assert c.get(url).status_code == 200, (who, url)
    bob = client_for(people["bob"])
    for url in urls:
        assert bob.get(url).status_code == 404, url
    answer = bob.post(urls[0], {"action": "preview", "file": csv_file(GOOD[:1])})
    assert answer.status_code == 404
    assert not DuesBase.objects.exists()
