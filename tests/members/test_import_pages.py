"""Member import through the pages and the API, as alice (branch A), oscar (the township above)
and bob (sibling branch B)."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from dangjian.core import jobs, services
from dangjian.core.models import Job
from dangjian.members.models import Member, MemberImport
from tests.members.calls_imports import IMPORT_CALLS, roster_bytes
from tests.members.import_files import good_row, tiny_png

pytestmark = pytest.mark.django_db


def upload(client, org, data, name="roster.xlsx", update=False):
    payload = {"organization": org.pk, "file": SimpleUploadedFile(name, data)}
    if update:
        payload["update"] = "on"
    return client.post(reverse("members:import_upload"), payload)


def run_job(imp):
    imp.refresh_from_db()
    assert imp.job is not None
    assert jobs.execute(str(imp.job.pk))
    imp.job.refresh_from_db()
    imp.refresh_from_db()
    return imp.job


def test_alice_imports_into_her_branch_through_the_pages(people, tree, client_for):
    alice = client_for(people["alice"])
    page = alice.get(reverse("members:import_upload"))
    assert page.status_code == 200 and "东街社区党支部" in page.content.decode()
    assert "西街社区党支部" not in page.content.decode()  # B is not hers
    response = upload(alice, tree["branch_a"], roster_bytes([good_row(n) for n in range(1, 4)]))
    imp = MemberImport.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("members:import_mapping", args=[imp.pk])
    page = alice.get(response.url).content.decode()
    assert 'name="col4"' in page and 'value="id_number" selected' in page

    mapping = {f"col{i}": key for i, key in enumerate(imp.mapping)}
    response = alice.post(reverse("members:import_mapping", args=[imp.pk]), mapping)
    assert response.url == reverse("members:import_preview", args=[imp.pk])
    page = alice.get(response.url).content.decode()
    assert 'data-count="rows">3<' in page and "import-commit" in page

    response = alice.post(reverse("members:import_commit", args=[imp.pk]))
    assert response.url == reverse("members:import_status", args=[imp.pk])
    assert not Member.objects.exists()  # the job has not run yet
    job = run_job(imp)
    assert job.status == "done", job.message
    assert Member.objects.filter(organization=tree["branch_a"]).count() == 3
    assert imp.created_count == 3 and imp.status == "done"
    page = alice.get(reverse("members:import_status", args=[imp.pk])).content.decode()
    assert "job-download" in page and f"?org={tree['branch_a'].pk}" in page
    # a second commit of the same file is refused
    alice.post(reverse("members:import_commit", args=[imp.pk]))
    assert Job.objects.filter(kind="member_import").count() == 1


def test_preview_with_errors_cannot_be_committed(people, tree, client_for, tmp_path):
    oscar = client_for(people["oscar"])
    rows = [good_row(n) for n in range(1, 4)]
    rows[1][8] = "2019年13月1日"
    upload(oscar, tree["branch_a"], roster_bytes(rows))
    imp = MemberImport.objects.get()
    page = oscar.get(reverse("members:import_preview", args=[imp.pk])).content.decode()
    assert 'data-count="errors">1<' in page and 'data-code="invalid_date"' in page
    assert "入党时间：" in page and "import-commit" not in page
    response = oscar.post(reverse("members:import_commit", args=[imp.pk]))
    assert response.status_code == 302 and not Job.objects.exists()
    report = oscar.get(reverse("members:import_report", args=[imp.pk]))
    sheet = load_workbook(io.BytesIO(report.content)).active
    lines = list(sheet.iter_rows(values_only=True))
    assert len(lines) == 4 and "入党时间" in lines[2][-2]


def test_a_wrong_mapping_is_explained(people, tree, client_for):
    alice = client_for(people["alice"])
    upload(alice, tree["branch_a"], roster_bytes())
    imp = MemberImport.objects.get()
    mapping = {f"col{i}": key for i, key in enumerate(imp.mapping)}
    mapping["col4"] = ""  # the ID number column ignored
    response = alice.post(reverse("members:import_mapping", args=[imp.pk]), mapping)
    assert response.status_code == 400
    assert "公民身份号码" in response.content.decode()
    mapping["col4"] = "id_number"
    mapping["col5"] = "id_number"
    response = alice.post(reverse("members:import_mapping", args=[imp.pk]), mapping)
    assert response.status_code == 400


@pytest.mark.parametrize(
    "name,data,text",
    [
        ("empty.xlsx", b"", "empty_file"),
        ("photo.xlsx", None, "wrong_format"),
        ("junk.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "unreadable"),
    ],
)
def test_bad_files_through_the_page(people, tree, client_for, tmp_path, name, data, text):
    if data is None:
        data = tiny_png(tmp_path / name).read_bytes()
    response = upload(client_for(people["alice"]), tree["branch_a"], data, name)
    assert response.status_code == 400 and f'data-code="{text}"' in response.content.decode()
    assert not MemberImport.objects.exists()


def test_bob_sees_nothing_of_alices_import_and_cannot_import_into_a(people, tree, client_for):
    upload(client_for(people["alice"]), tree["branch_a"], roster_bytes())
    imp = MemberImport.objects.get()
    bob = client_for(people["bob"])
    for name in ("import_mapping", "import_preview", "import_report", "import_status"):
        assert bob.get(reverse(f"members:{name}", args=[imp.pk])).status_code == 404, name
    assert bob.post(reverse("members:import_commit", args=[imp.pk])).status_code == 404
    # oscar is above A, but the import is alice's own
    oscar = client_for(people["oscar"])
    assert oscar.get(reverse("members:import_preview", args=[imp.pk])).status_code == 404
    response = upload(bob, tree["branch_a"], roster_bytes())
    assert response.status_code == 400
    assert MemberImport.objects.count() == 1 and not Member.objects.exists()
    # alice loses her role: her own import is gone for her too
    from dangjian.core.models import RoleAssignment

    services.revoke_role(
        actor=people["oscar"],
        assignment=RoleAssignment.objects.get(user=people["alice"]),
    )
    alice = client_for(people["alice"])
    assert alice.get(reverse("members:import_preview", args=[imp.pk])).status_code == 404


# API ------------------------------------------------------------------------------------------


def api_client(user):
    _token, secret = services.create_api_token(actor=user, name="t", days=1)
    return Client(headers={"Authorization": f"Bearer {secret}"})


def test_api_flow_as_oscar(people, tree, tmp_path):
    oscar = api_client(people["oscar"])
    rows = [good_row(n) for n in range(1, 4)]
    rows[0][4] = "12345"
    response = oscar.post(
        "/api/v1/member-imports",
        {"org_id": tree["branch_a"].pk, "file": SimpleUploadedFile("r.xlsx", roster_bytes(rows))},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    import_id = body["id"]
    assert body["mapping"][4] == "id_number" and body["headers"][4] == "身份证号"
    response = oscar.post(
        f"/api/v1/member-imports/{import_id}/preview", {}, content_type="application/json"
    )
    summary = response.json()["summary"]
    assert summary["error_rows"] == 1 and summary["error_codes"] == {"invalid_id_number": 1}
    problem = summary["problems"][0]["errors"][0]
    assert problem["column"] == "身份证号" and problem["field"] == "id_number"
    response = oscar.post(f"/api/v1/member-imports/{import_id}/commit")
    assert response.status_code == 400 and response.json()["code"] == "rows_invalid"

    mapping = body["mapping"]
    mapping[1] = ""
    response = oscar.post(
        f"/api/v1/member-imports/{import_id}/preview",
        {"mapping": mapping},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json() == {
        "code": "missing_column",
        "message": response.json()["message"],
        "field": "mapping",
    }

    response = oscar.post(
        "/api/v1/member-imports",
        {"org_id": tree["branch_a"].pk, "file": SimpleUploadedFile("ok.xlsx", roster_bytes())},
    )
    good_id = response.json()["id"]
    response = oscar.post(f"/api/v1/member-imports/{good_id}/commit")
    assert response.status_code == 202 and response.json()["job_status"] == "queued"
    run_job(MemberImport.objects.get(pk=good_id))
    status = oscar.get(f"/api/v1/member-imports/{good_id}/status").json()
    assert status["job_status"] == "done" and status["created"] == 3
    assert Member.objects.count() == 3


def test_api_bad_file_and_scope(people, tree, tmp_path):
    alice = api_client(people["alice"])
    response = alice.post(
        "/api/v1/member-imports",
        {"org_id": tree["branch_a"].pk, "file": SimpleUploadedFile("x.xlsx", b"hello\x00")},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "wrong_format" and response.json()["field"] == "file"
    response = alice.post(
        "/api/v1/member-imports",
        {"org_id": tree["branch_a"].pk, "file": SimpleUploadedFile("x.xlsx", roster_bytes())},
    )
    import_id = response.json()["id"]
    bob = api_client(people["bob"])
    for url in (
        f"/api/v1/member-imports/{import_id}",
        f"/api/v1/member-imports/{import_id}/status",
    ):
        assert bob.get(url).status_code == 404
    for url in ("preview", "commit"):
        response = bob.post(
            f"/api/v1/member-imports/{import_id}/{url}", {}, content_type="application/json"
        )
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    response = bob.post(
        "/api/v1/member-imports",
        {"org_id": tree["branch_a"].pk, "file": SimpleUploadedFile("x.xlsx", roster_bytes())},
    )
    assert response.status_code == 404
    assert bob.get("/api/v1/member-imports/not-a-uuid").status_code == 422


def test_import_calls_succeed_for_oscar(people, tree, admin):
    """Each entry of IMPORT_CALLS answers 2xx for oscar (what the OpenAPI guard will check)."""
    import json

    client = api_client(people["oscar"])
    ctx = {"tree": tree, "admin": admin, "people": people}
    for (method, path), call in IMPORT_CALLS.items():
        args = call(ctx)
        url = path
        for name, value in args.get("path", {}).items():
            url = url.replace("{" + name + "}", str(value))
        if "files" in args:
            response = client.post(url, {**args["form"], **args["files"]})
        elif method == "get":
            response = client.get(url, args.get("query", {}))
        else:
            response = client.post(
                url, json.dumps(args.get("body") or {}), content_type="application/json"
            )
        assert 200 <= response.status_code < 300, (method, path, response.content)
