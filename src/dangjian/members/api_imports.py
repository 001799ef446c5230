"""Member import in the API: /api/v1/member-imports. Upload a roster, read and change its column
mapping and the rows' problems, commit (a background job), follow the job."""

import uuid

from django.utils.translation import get_language
from ninja import Field, File, Form, Router, Schema, Status
from ninja.files import UploadedFile

from dangjian.core.api import Error
from dangjian.core.errors import ValidationFailed

from . import importing

router = Router(tags=["member import"])
READ_ERRORS = {401: Error, 404: Error, 422: Error}
ERRORS = {400: Error, 401: Error, 403: Error, 404: Error, 409: Error, 422: Error}


class ProblemOut(Schema):
    column: str = Field(description="the column as headed in the file")
    field: str = Field(description="the column key (see mapping)")
    code: str
    message: str


class RowProblems(Schema):
    line: int = Field(description="line in the sheet (1-based)")
    name: str
    action: str = Field(description="create or update")
    errors: list[ProblemOut]
    warnings: list[ProblemOut]


class SummaryOut(Schema):
    rows: int = 0
    valid: int = 0
    error_rows: int = 0
    warning_rows: int = 0
    creates: int = 0
    updates: int = 0
    error_codes: dict[str, int] = {}
    notes: list[str] = []
    problems: list[RowProblems] = Field([], description="rows with problems (the first 500)")


class ColumnOut(Schema):
    key: str
    header: str


class ImportOut(Schema):
    id: uuid.UUID
    organization_id: int
    original_name: str
    file_format: str
    header_line: int
    headers: list[str] = Field(description="the header row, one entry per source column")
    mapping: list[str] = Field(description="column key per source column; '' = ignored")
    columns: list[ColumnOut] = Field(description="the keys a source column may be mapped to")
    update: bool
    status: str
    row_count: int
    summary: SummaryOut | None = None
    job_id: uuid.UUID | None = None


class PreviewIn(Schema):
    mapping: list[str] | None = Field(None, description="one key per source column; '' = ignore")
    update: bool | None = None


class StatusOut(Schema):
    id: uuid.UUID
    status: str
    job_id: uuid.UUID | None
    job_status: str | None
    done: int
    total: int
    created: int
    updated: int
    message: str


def _out(imp) -> ImportOut:
    return ImportOut(
        id=imp.pk,
        organization_id=imp.organization_id,
        original_name=imp.original_name,
        file_format=imp.file_format,
        header_line=imp.header_line,
        headers=imp.headers,
        mapping=imp.mapping,
        columns=[ColumnOut(key=c.key, header=c.header) for c in importing.IMPORTABLE],
        update=imp.update,
        status=imp.status,
        row_count=imp.row_count,
        summary=SummaryOut(**imp.summary) if imp.summary else None,
        job_id=imp.job_id,
    )


@router.post(
    "",
    response={201: ImportOut, **ERRORS},
    summary="Upload a roster (.xlsx, .xls, .ods, .csv)",
)
def upload_roster(request, file: File[UploadedFile], org_id: Form[int], update: Form[bool] = False):
    org = importing.target_organization(request.user, org_id)
    if file.size > importing.MAX_BYTES:
        raise importing.BadFile("file too large", code="too_large")
    imp = importing.upload(
        actor=request.user,
        organization=org,
        data=file.read(),
        name=file.name or "",
        update=update,
    )
    return Status(201, _out(imp))


@router.get(
    "/{import_id}",
    response={200: ImportOut, **READ_ERRORS},
    summary="An import: columns, mapping and the rows' problems",
)
def get_import(request, import_id: uuid.UUID):
    return _out(importing.get_import(request.user, import_id))


@router.post(
    "/{import_id}/preview",
    response={200: ImportOut, **ERRORS},
    summary="Set the column mapping and check every row (nothing is written)",
)
def preview_import(request, import_id: uuid.UUID, payload: PreviewIn):
    imp = importing.get_import(request.user, import_id)
    importing.preview(imp, actor=request.user, mapping=payload.mapping, update=payload.update)
    return _out(imp)


@router.post(
    "/{import_id}/commit",
    response={202: StatusOut, **ERRORS},
    summary="Import all rows or none (a background job)",
)
def commit_import(request, import_id: uuid.UUID):
    imp = importing.get_import(request.user, import_id)
    if imp.status == "uploaded":
        importing.preview(imp, actor=request.user)
    if imp.summary.get("error_rows"):
        raise ValidationFailed(
            f"{imp.summary['error_rows']} rows have errors; nothing was imported.",
            code="rows_invalid",
            field="file",
        )
    importing.commit(imp, actor=request.user, language=get_language())
    return Status(202, _status(imp))


def _status(imp) -> StatusOut:
    job = imp.job
    if job is not None:
        job.refresh_from_db()
    return StatusOut(
        id=imp.pk,
        status=imp.status,
        job_id=job.pk if job else None,
        job_status=job.status if job else None,
        done=job.done if job else 0,
        total=job.total if job else 0,
        created=imp.created_count,
        updated=imp.updated_count,
        message=job.message if job else "",
    )


@router.get(
    "/{import_id}/status",
    response={200: StatusOut, **READ_ERRORS},
    summary="Progress of the import job",
)
def import_status(request, import_id: uuid.UUID):
    imp = importing.get_import(request.user, import_id)
    imp.refresh_from_db()
    return _status(imp)
