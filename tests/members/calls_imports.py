"""Calls of the member import API for the OpenAPI guard (tests/core/test_openapi.py), in the
shape of its CALLS: (method, path) -> function(ctx) giving path/query/body; each succeeds for
oscar, org admin of the township.

The upload is multipart/form-data: its entry gives "form" and "files" instead of "body"; the
guard has to post those as multipart (Django test client: client.post(url, {**form, **files})).
"""

import io

from tests.members.import_files import good_row, write_xlsx

API = "/api/v1"


def roster_bytes(rows=None) -> bytes:
    buffer = io.BytesIO()
    write_xlsx(buffer, rows or [good_row(n) for n in range(901, 904)])
    return buffer.getvalue()


def _import(ctx):
    """An uploaded roster of oscar's, into branch A."""
    if "member_import" not in ctx:
        from dangjian.members import importing

        ctx["member_import"] = importing.upload(
            actor=ctx["people"]["oscar"],
            organization=ctx["tree"]["branch_a"],
            data=roster_bytes(),
            name="roster.xlsx",
        )
    return ctx["member_import"]


def _upload_file(ctx):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("roster.xlsx", roster_bytes([good_row(n) for n in range(911, 913)]))


IMPORT_CALLS = {
    ("post", f"{API}/member-imports"): lambda ctx: {
        "form": {"org_id": ctx["tree"]["branch_a"].pk, "update": "false"},
        "files": {"file": _upload_file(ctx)},
    },
    ("get", f"{API}/member-imports/{{import_id}}"): lambda ctx: {
        "path": {"import_id": str(_import(ctx).pk)}
    },
    ("post", f"{API}/member-imports/{{import_id}}/preview"): lambda ctx: {
        "path": {"import_id": str(_import(ctx).pk)},
        "body": {"mapping": list(_import(ctx).mapping), "update": False},
    },
    ("post", f"{API}/member-imports/{{import_id}}/commit"): lambda ctx: {
        "path": {"import_id": str(_import(ctx).pk)}
    },
    ("get", f"{API}/member-imports/{{import_id}}/status"): lambda ctx: {
        "path": {"import_id": str(_import(ctx).pk)}
    },
}
