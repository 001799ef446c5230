"""Roster export (花名册) to xlsx: columns, values, masking per role, the audit event of an
export with full values, formula injection, the job through the real worker, the command, the
API, and bad input. Every page is tried by alice (inside), oscar (above) and bob (sibling)."""

import io
import json
import uuid

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from openpyxl import load_workbook

from dangjian.core import crypto, jobs
from dangjian.core import services as core_services
from dangjian.core.errors import Forbidden, NotFound, ValidationFailed
from dangjian.core.models import AuditEvent, Job, JobStatus
from dangjian.members import exporting
from dangjian.members.columns import BY_KEY, COLUMNS, DEFAULT_KEYS
from dangjian.members.selectors import MemberFilter

pytestmark = pytest.mark.django_db

API = "/api/v1/member-exports"


def workbook_rows(data: bytes) -> list[tuple]:
    sheet = load_workbook(io.BytesIO(data)).active
    return list(sheet.iter_rows(values_only=True))


def run_job(job: Job) -> Job:
    assert jobs.execute(str(job.pk)) is True
    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.message
    return job


def job_rows(job: Job) -> list[tuple]:
    with job.result.open("rb") as fh:
        return workbook_rows(fh.read())


def export_file(user, params=None, keys=None, full=False) -> list[tuple]:
    export = exporting.prepare(user, params or {}, keys, full)
    handle = io.BytesIO()
    exporting.write_xlsx(export, handle)
    return workbook_rows(handle.getvalue())


def by_name(rows, headers=None) -> dict[str, dict]:
    headers = headers or rows[0]
    return {r[0]: dict(zip(headers, r, strict=True)) for r in rows[1:]}


def token_client(user):
    from django.test import Client

    _token, secret = core_services.create_api_token(actor=user, name="t", days=1)
    return Client(headers={"Authorization": f"Bearer {secret}"})


@pytest.fixture
def viewers(people, tree, admin, make_user):
    """carol: committee member of A; dave: auditor of A (neither may see full values)."""
    carol = make_user("carol")
    dave = make_user("dave")
    core_services.assign_role(
        actor=admin, user=carol, org=tree["branch_a"], role="committee_member"
    )
    core_services.assign_role(actor=admin, user=dave, org=tree["branch_a"], role="auditor")
    return {"carol": carol, "dave": dave}


# Content -------------------------------------------------------------------------------------


def test_default_columns_values_and_text_cells(people, roster, tree):
    rows = export_file(people["alice"], {"org": tree["branch_a"].pk})
    keys = [*DEFAULT_KEYS]
    keys.insert(keys.index("organization") + 1, "organization_code")
    assert list(rows[0]) == [BY_KEY[k].header for k in keys]
    found = by_name(rows)
    assert set(found) == {"张三", "李四", "王五"}
    zhang, li, wang = found["张三"], found["李四"], found["王五"]
    assert zhang["性别"] == "男" and li["性别"] == "女"
    assert zhang["民族"] == "汉族" and wang["民族"] == "回族"
    assert zhang["人员类别"] == "正式党员" and li["人员类别"] == "预备党员"
    assert zhang["出生日期"] == "1985-03-12"  # text, not a date serial
    assert zhang["入党日期"] == "2005-07-01" and zhang["转正日期"] == "2006-07-01"
    assert li["转正日期"] is None and li["学历"] is None
    assert zhang["所在党支部"] == "东街社区党支部" and zhang["党组织编码"] == "B01"
    # masked by default, even for a secretary
    id_number = crypto.decrypt(roster["zhang"].id_number_encrypted)
    assert zhang["公民身份号码"] == crypto.mask_id_number(id_number) != id_number
    assert zhang["手机号码"] == "139****1111"
    assert li["手机号码"] is None
    # dates, ID and phone numbers are text cells that a spreadsheet keeps as typed
    sheet = load_workbook(io.BytesIO(_raw(people["alice"], tree))).active
    header = [c.value for c in sheet[1]]
    for name in ("出生日期", "公民身份号码", "入党日期", "党组织编码"):
        cell = sheet.cell(row=2, column=header.index(name) + 1)
        assert cell.data_type == "s" and cell.number_format == "@", name


def _raw(user, tree) -> bytes:
    handle = io.BytesIO()
    exporting.write_xlsx(exporting.prepare(user, {"org": tree["branch_a"].pk}), handle)
    return handle.getvalue()


def test_chosen_columns_in_the_chosen_order_and_every_column(people, roster, tree):
    rows = export_file(people["oscar"], {"org": tree["branch_a"].pk}, "joined_on,name,sex")
    assert rows[0] == ("入党日期", "姓名", "性别")
    assert ("2005-07-01", "张三", "男") in rows
    every = [c.key for c in COLUMNS]
    rows = export_file(people["oscar"], {}, every)
    assert list(rows[0]) == [c.header for c in COLUMNS]
    assert len(rows) == 1 + 5
    wang = by_name(rows)["王五"]
    assert wang["党籍状态"] == "正常" and wang["党员状态"] == "正常"
    assert wang["是否失联"] == "否" and wang["是否流动党员"] == "否"
    assert wang["所在党支部"] == "东街社区党支部" and wang["党组织编码"] == "B01"


def test_filters_apply(people, roster, tree):
    rows = export_file(people["oscar"], {"org": tree["town"].pk, "category": "probationary"})
    assert [r[0] for r in rows[1:]] == ["李四"]
    rows = export_file(people["oscar"], {"org": tree["town"].pk, "sex": "2"})
    assert {r[0] for r in rows[1:]} == {"李四", "赵六"}
    rows = export_file(people["oscar"], {"ethnicity": "minority"})
    assert [r[0] for r in rows[1:]] == ["王五"]
    rows = export_file(people["oscar"], {"q": "zs"}, "name")  # pinyin initials
    assert rows[1:] == [("张三",)]


def test_export_rows_helper_gives_the_cell_values(people, roster, tree):
    f = MemberFilter(org=tree["branch_a"].pk)
    rows = list(exporting.export_rows(people["alice"], f, ["name", "id_number", "phone"], True))
    full = {r[0]: r for r in rows}
    assert full["张三"][1] == crypto.decrypt(roster["zhang"].id_number_encrypted)
    assert full["张三"][2] == "13900001111"
    masked = list(exporting.export_rows(people["alice"], f, ["name", "id_number"], False))
    assert all("*" in r[1] for r in masked)


# Who sees what -------------------------------------------------------------------------------


def test_bob_never_sees_branch_a(people, roster, tree):
    rows = export_file(people["bob"], {})
    assert {r[0] for r in rows[1:]} == {"赵六", "钱七"}
    with pytest.raises(NotFound):
        exporting.prepare(people["bob"], {"org": tree["branch_a"].pk})
    rows = export_file(people["oscar"], {})
    assert {r[0] for r in rows[1:]} == {"张三", "李四", "王五", "赵六", "钱七"}


def test_full_values_for_a_secretary_with_an_audit_event(people, roster, tree):
    alice = people["alice"]
    params = {"org": str(tree["branch_a"].pk), "category": "full"}
    rows = export_file(alice, params, "name,id_number,phone", full=True)
    found = {r[0]: r for r in rows[1:]}
    assert found["张三"][1] == crypto.decrypt(roster["zhang"].id_number_encrypted)
    assert found["张三"][2] == "13900001111"
    event = AuditEvent.objects.get(action="member.export_full")
    assert event.user == alice
    assert event.org_path == tree["branch_a"].path
    assert event.after["rows"] == 2
    assert event.after["filters"] == params
    assert event.after["columns"] == ["name", "id_number", "phone"]
    # a masked export writes no such event
    export_file(alice, params, "name,id_number")
    assert AuditEvent.objects.filter(action="member.export_full").count() == 1


@pytest.mark.parametrize("who", ["carol", "dave"])
def test_no_full_values_without_the_permission(people, roster, tree, viewers, who):
    user = viewers[who]
    with pytest.raises(Forbidden) as caught:
        exporting.prepare(user, {"org": tree["branch_a"].pk}, None, True)
    assert caught.value.field == "full"
    rows = export_file(user, {"org": tree["branch_a"].pk}, "name,id_number,phone")
    assert all("*" in r[1] for r in rows[1:])
    assert "139****1111" in {r[2] for r in rows[1:]}
    assert not AuditEvent.objects.filter(action="member.export_full").exists()


def test_full_values_only_where_the_user_may_see_them(people, roster, tree, admin):
    # oscar holds org_admin at the town: full values for A and B. A committee member above B
    # who is secretary of A gets full values for A and masked ones for B.
    erin = people["alice"]
    core_services.assign_role(actor=admin, user=erin, org=tree["town"], role="committee_member")
    from dangjian.core import selectors

    selectors.forget_roles(erin)
    rows = export_file(erin, {}, "name,id_number", full=True)
    found = {r[0]: r[1] for r in rows[1:]}
    assert "*" not in found["张三"] and "*" in found["赵六"]


# Formula injection ---------------------------------------------------------------------------


def test_formula_injection_is_neutralised_and_undone_on_import(people, tree, make_member):
    make_member(
        tree["branch_a"],
        "孙八",
        note='=HYPERLINK("http://x","y")',
        work_unit="+1+2",
        party_post="@SUM(A1)",
        home_address="'quoted",
        school="-3",
    )
    raw = io.BytesIO()
    export = exporting.prepare(
        people["alice"],
        {"org": tree["branch_a"].pk},
        "name,note,work_unit,party_post,home_address,school",
    )
    exporting.write_xlsx(export, raw)
    sheet = load_workbook(io.BytesIO(raw.getvalue())).active
    row = [c for c in sheet[2]]
    assert [c.data_type for c in row] == ["s"] * 6  # no formula anywhere
    values = [c.value for c in row]
    assert values == [
        "孙八",
        '\'=HYPERLINK("http://x","y")',
        "'+1+2",
        "'@SUM(A1)",
        "''quoted",
        "'-3",
    ]
    assert [exporting.import_text(v) for v in values] == [
        "孙八",
        '=HYPERLINK("http://x","y")',
        "+1+2",
        "@SUM(A1)",
        "'quoted",
        "-3",
    ]


# Bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "keys", "field", "code"),
    [
        ({}, "name,shoe_size", "columns", "unknown_column"),
        ({"age_min": "old"}, None, "age_min", "invalid_filter"),
        ({"joined_from": "2020-13-01"}, None, "joined_from", "invalid_filter"),
        ({"org": "abc"}, None, "org", "invalid_filter"),
        ({"sort": "salary"}, None, "sort", "invalid_filter"),
        ({"mobile": "perhaps"}, None, "mobile", "invalid_filter"),
    ],
)
def test_bad_input_names_the_field(people, params, keys, field, code):
    with pytest.raises(ValidationFailed) as caught:
        exporting.prepare(people["alice"], params, keys)
    assert caught.value.field == field and caught.value.code == code


def test_unknown_organisation_is_not_found(people, tree):
    with pytest.raises(NotFound):
        exporting.prepare(people["alice"], {"org": tree["town"].pk})
    with pytest.raises(NotFound):
        exporting.prepare(people["alice"], {"org": 999999})


# Pages ---------------------------------------------------------------------------------------


def test_export_page_for_three_people(people, roster, tree, client_for):
    url = reverse("members:export") + f"?org={tree['branch_a'].pk}"
    for name in ("alice", "oscar"):
        page = client_for(people[name]).get(url)
        assert page.status_code == 200, name
        html = page.content.decode()
        assert 'name="columns" value="id_number"' in html
        assert 'name="full"' in html  # both may see full values of A
    assert client_for(people["bob"]).get(url).status_code == 404
    assert client_for(people["bob"]).post(url, {"columns": ["name"]}).status_code == 404
    assert not Job.objects.exists()


def test_export_page_starts_the_job(people, roster, tree, client_for):
    alice = client_for(people["alice"])
    url = reverse("members:export") + f"?org={tree['branch_a'].pk}&category=full"
    response = alice.post(url, {"columns": ["name", "sex", "phone"], "full": "1"})
    job = Job.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("core:job_detail", args=[job.pk])
    assert job.kind == "member_export" and job.user == people["alice"]
    assert job.params["columns"] == ["name", "sex", "phone"] and job.params["full"] is True
    run_job(job)
    assert job.total == 2 and job.done == 2
    rows = job_rows(job)
    assert rows[0] == ("姓名", "性别", "手机号码")
    assert ("张三", "男", "13900001111") in rows
    assert AuditEvent.objects.filter(action="member.export_full", object_id=str(job.pk)).count()
    download = alice.get(reverse("core:job_download", args=[job.pk]))
    assert download.status_code == 200


def test_export_page_bad_input_is_a_clear_400(people, roster, tree, client_for, viewers):
    alice = client_for(people["alice"])
    url = reverse("members:export")
    page = alice.post(url, {"columns": ["name", "nope"]})
    assert page.status_code == 400 and b"nope" in page.content
    page = alice.get(url + "?age_min=x")
    assert page.status_code == 400 and b"age_min" in page.content
    carol = client_for(viewers["carol"])
    page = carol.get(url)
    assert page.status_code == 200 and b'name="full"' not in page.content
    page = carol.post(url, {"columns": ["name"], "full": "1"})
    assert page.status_code == 403 and b"export-error" in page.content
    assert not Job.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_export_runs_in_the_real_worker(people, roster, tree, client_for):
    oscar = client_for(people["oscar"])
    response = oscar.post(reverse("members:export") + f"?org={tree['town'].pk}", {})
    job = Job.objects.get()
    assert response.status_code == 302
    call_command("db_worker", batch=True, reload=False, startup_delay=False, verbosity=0)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.message
    rows = job_rows(job)
    assert len(rows) == 6 and job.result_name.startswith("members-T01-")


def test_a_job_checks_the_roles_again_when_it_runs(people, roster, tree, admin):
    job = exporting.start_export(
        actor=people["alice"], params={"org": tree["branch_a"].pk}, keys=["name"], full=True
    )
    assignment = people["alice"].role_assignments.get()
    core_services.revoke_role(actor=admin, assignment=assignment)
    jobs.execute(str(job.pk))
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert not AuditEvent.objects.filter(action="member.export_full").exists()


# Command -------------------------------------------------------------------------------------


def test_command_exports_masked_and_full(people, roster, tree, tmp_path):
    out = tmp_path / "a.xlsx"
    stdout = io.StringIO()
    call_command("export_members", "--org", "b01", "--out", str(out), stdout=stdout)
    assert "3 members" in stdout.getvalue()
    rows = workbook_rows(out.read_bytes())
    assert {r[0] for r in rows[1:]} == {"张三", "李四", "王五"}
    assert all("*" in r[rows[0].index("公民身份号码")] for r in rows[1:])

    call_command(
        "export_members",
        "--org=T01",
        "--columns=name,phone",
        "--filter=sex=2",
        "--full",
        "--user=oscar",
        f"--out={out}",
        stdout=io.StringIO(),
    )
    rows = workbook_rows(out.read_bytes())
    assert rows[0] == ("姓名", "手机号码") and {r[0] for r in rows[1:]} == {"李四", "赵六"}
    assert AuditEvent.objects.get(action="member.export_full").user == people["oscar"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--org=B01", "--full"], "--full needs --user"),
        (["--org=B01", "--full", "--user=carol"], "--full"),
        (["--org=B01", "--user=bob"], "no organisation"),
        (["--org=NOPE"], "no organisation"),
        (["--org=B01", "--columns=name,zzz"], "--columns"),
        (["--org=B01", "--filter=age_min=x"], "age_min"),
        (["--org=B01", "--filter=colour=red"], "KEY=VALUE"),
        (["--org=B01", "--user=nobody"], "no active account"),
    ],
)
def test_command_refuses_bad_input(people, roster, tree, viewers, tmp_path, args, message):
    out = tmp_path / "x.xlsx"
    with pytest.raises(CommandError) as caught:
        call_command("export_members", *args, f"--out={out}")
    assert message in str(caught.value)
    assert not out.exists()


def test_command_needs_an_xlsx_file(people, tmp_path):
    with pytest.raises(CommandError, match="xlsx"):
        call_command("export_members", "--org=B01", f"--out={tmp_path / 'x.csv'}")


# API -----------------------------------------------------------------------------------------


def test_api_starts_an_export_and_reports_its_status(people, roster, tree):
    oscar = token_client(people["oscar"])
    body = {"columns": ["name", "id_number"], "filters": {"org": tree["branch_b"].pk}, "full": True}
    response = oscar.post(API, json.dumps(body), content_type="application/json")
    assert response.status_code == 201, response.content
    job_id = response.json()["id"]
    job = Job.objects.get(pk=job_id)
    run_job(job)
    status = oscar.get(f"{API}/{job_id}").json()
    assert status["status"] == "done" and status["percent"] == 100
    assert status["download_path"] == reverse("core:job_download", args=[job.pk])
    rows = job_rows(job)
    assert {r[0] for r in rows[1:]} == {"赵六", "钱七"}
    assert all("*" not in r[1] for r in rows[1:])
    # nobody else sees the job
    alice = token_client(people["alice"])
    assert alice.get(f"{API}/{job_id}").status_code == 404
    assert alice.get(f"{API}/{uuid.uuid4()}").status_code == 404


@pytest.mark.parametrize(
    ("who", "body", "status", "code", "field"),
    [
        ("bob", {"filters": {"org": "A"}}, 404, "not_found", None),
        ("alice", {"columns": ["name", "height"]}, 400, "unknown_column", "columns"),
        ("alice", {"filters": {"age_max": "many"}}, 400, "invalid_filter", "filters.age_max"),
        ("alice", {"filters": {"colour": "red"}}, 400, "unknown_filter", "filters.colour"),
        ("carol", {"full": True}, 403, "full_values_not_allowed", "full"),
        ("alice", {"columns": "name"}, 422, "invalid", "columns"),
    ],
)
def test_api_bad_input(people, roster, tree, viewers, who, body, status, code, field):
    user = viewers.get(who) or people[who]
    if body.get("filters", {}).get("org") == "A":
        body = {"filters": {"org": tree["branch_a"].pk}}
    response = token_client(user).post(API, json.dumps(body), content_type="application/json")
    assert response.status_code == status, response.content
    answer = response.json()
    assert answer["code"] == code
    assert answer.get("field") == field
    assert not Job.objects.exists()
